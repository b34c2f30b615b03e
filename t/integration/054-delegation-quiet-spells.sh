#!/usr/bin/env bash
# 054-delegation-quiet-spells.sh - the first message after a quiet spell is
# accepted first time (issue 14's connection-reuse defect). The chain is
# milter -> clamsmtpd -> our receiver; clamsmtpd holds a connection to the
# receiver for each of ours. The receiver drops an idle delegate after
# receiver_idle; before the fix the delegate client kept its idle connection
# for libcurl's 118 s, so after a spell between receiver_idle and 118 s the
# next MAIL FROM got the receiver's "421 4.4.2 timeout exceeded" relayed by
# clamsmtpd, and the message was tempfailed. Now the client never reuses a
# connection idle longer than delegator.idle (< receiver_idle).
#
# The issue's figures are quiet spells of 30, 65, 90 and 130 s with
# clamsmtpd at TimeOut 180 and 60, the receiver at 60 s and the client's idle
# limit at 30 s (the defaults). make check runs the same ratios scaled down
# ten times (spells 3, 6.5, 9, 13 s; TimeOut 18 and 6; receiver_idle 6 s;
# idle 3 s), all through one milter, both clamsmtpd instances side by side.
# MD_LONG_TESTS=1 runs the real figures (about 5.5 minutes).

. "$MD_TOP/t/lib/peers.sh"
peers_init
peers_require miltertest clamd clamsmtpd

if [[ ${MD_LONG_TESTS:-0} == 1 ]]; then
	spells=(30 65 90 130) timeouts=(180 60) idle=30s receiver_idle=60s
else
	spells=(3 6.5 9 13) timeouts=(18 6) idle=3s receiver_idle=6s
fi

milter=$MD_BUILD/milter-delegate
scripts=$MD_TOP/t/integration/delegation
sock=$PEERS_DIR/milter.sock
policy=$PEERS_DIR/policy.json
log=$PEERS_DIR/milter.log
mkdir -p "$PEERS_DIR/spool" "$PEERS_DIR/quarantine"

start_clamd || bail_out "clamd did not start"
recv_port=$(free_port)
ports=()
for t in "${timeouts[@]}"; do
	CLAMSMTPD_TIMEOUT=$t start_clamsmtpd pass "$recv_port" || bail_out "clamsmtpd (TimeOut $t) did not start"
	ports+=("$CLAMSMTPD_PORT")
done

# service NAME PORT - an smtp service through the clamsmtpd on PORT.
service() {
	printf '"%s": { "type": "smtp", "receiver": "127.0.0.1:%s", "receiver_idle": "%s",
	  "delegator": { "address": "127.0.0.1:%s", "timeout": "30s", "idle": "%s" } }' \
		"$1" "$recv_port" "$receiver_idle" "$2" "$idle"
}
# rule NAME - scan with service NAME when X-Service is NAME.
rule() {
	printf '{ "name": "scan %s", "if": { "header": { "name": "X-Service", "value": "%s" } },
	  "then": { "action": "delegate", "service": "%s", "import_headers": ["X-Virus-Scanned"],
	    "rules": [ { "name": "clean", "then": { "action": "add_header", "name": "X-Scan-Result", "value": "clean" } } ] } }' \
		"$1" "$1" "$1"
}
cat >"$policy" <<EOF
{ "settings": { "spool_dir": "$PEERS_DIR/spool", "quarantine_dir": "$PEERS_DIR/quarantine" },
  "services": { $(service t${timeouts[0]} "${ports[0]}"), $(service t${timeouts[1]} "${ports[1]}") },
  "stages": { "eom": [ $(rule t${timeouts[0]}), $(rule t${timeouts[1]}) ] } }
EOF
"$milter" -t -c "$policy" >/dev/null || bail_out "the test policy does not load: $("$milter" -t -c "$policy" 2>&1)"
"$milter" -f -l debug -c "$policy" -p "unix:$sock" >"$log" 2>&1 &
peers_track $!
wait_until 10 test -S "$sock" || bail_out "milter did not start: $(tail -3 "$log")"

# send SERVICE DESC - one clean message through SERVICE, accepted first time.
send() {
	local out
	out=$(miltertest -D sock="unix:$sock" -D dir="$scripts" -D service="$1" \
		-s "$scripts/clean.lua" 2>&1)
	if [[ $out == ok ]]; then ok "$2"; else not_ok "$2" "$out" "$(grep -E 'result=|421' "$log" | tail -4)"; fi
}

for t in "${timeouts[@]}"; do
	send "t$t" "clamsmtpd TimeOut $t: the first message is accepted"
done
for spell in "${spells[@]}"; do
	sleep "$spell"
	for t in "${timeouts[@]}"; do
		send "t$t" "clamsmtpd TimeOut $t: after a quiet spell of ${spell} s, accepted first time"
	done
done
unlike "$(cat "$log")" "result=(error|timeout|missing)" "no delegation failed (no 421 relayed from the receiver)"
reused=$(grep -c "send=accepted .*reused=1" "$log")
check "the spell shorter than the idle limit reused its connections (${reused} reused)" test "$reused" -ge 2
check "... and the longer ones connected anew: nothing stale was used, no retry was needed" \
	bash -c "! grep -q 'retried=1' '$log'"

done_testing
