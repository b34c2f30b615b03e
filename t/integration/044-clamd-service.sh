#!/usr/bin/env bash
# 044-clamd-service.sh - the "clamd" service type against the real clamd
# (one-signature EICAR database), driven by miltertest: over the unix socket
# with FILDES (the default there), over the unix socket with INSTREAM, and
# over TCP with INSTREAM. For each: a clean message is accepted with
# X-Virus-Scanned imported and the follow-up run; EICAR inline and as a
# base64 attachment reach the reference follow-up rule as X-Virus-Infected
# with clamd's signature name and are quarantined. A stream over clamd's
# StreamMaxLength is on_error ("size limit exceeded"); clamd stalled (SIGSTOP:
# it accepts, never answers) is on_timeout after the service timeout, not a
# hang; clamd stopped is on_error at once.

. "$MD_TOP/t/lib/peers.sh"
peers_init
peers_require miltertest clamd

milter=$MD_BUILD/milter-delegate
scripts=$MD_TOP/t/integration/clamd
sock=$PEERS_DIR/milter.sock
policy=$PEERS_DIR/policy.json
log=$PEERS_DIR/milter.log
mkdir -p "$PEERS_DIR/spool" "$PEERS_DIR/quarantine"

# StreamMaxLength applies to INSTREAM; FILDES reads the file (MaxFileSize).
CLAMD_EXTRA_CONF="StreamMaxLength 20K" start_clamd || bail_out "clamd did not start"

# rule NAME - the eom rule delegating to service NAME when X-Service is NAME.
rule() {
	cat <<-RULE
	{ "name": "scan ($1)", "if": { "header": { "name": "X-Service", "value": "$1" } },
	  "then": { "action": "delegate", "service": "$1", "import_headers": ["X-Virus-Scanned"],
	    "on_error": { "action": "tempfail", "code": 451, "status": "4.7.1", "text": "Scanner failed" },
	    "on_timeout": { "action": "tempfail", "code": 451, "status": "4.7.1", "text": "Scanner timed out" },
	    "rules": [
	      { "name": "virus found", "if": { "header": "X-Virus-Infected" },
	        "then": { "action": "quarantine", "folder": "virus_q", "reason": "virus",
	                  "then": "reject", "code": 554, "status": "5.7.1", "text": "Virus found" } },
	      { "name": "clean", "then": { "action": "add_header", "name": "X-Scan-Result", "value": "clean" } } ] } }
	RULE
}
cat >"$policy" <<EOF
{ "settings": { "spool_dir": "$PEERS_DIR/spool", "quarantine_dir": "$PEERS_DIR/quarantine" },
  "services": {
    "unix":     { "type": "clamd", "delegator": { "address": "unix:$CLAMD_SOCKET", "timeout": "3s", "health_interval": "1s" } },
    "instream": { "type": "clamd", "delegator": { "address": "$CLAMD_SOCKET", "timeout": "3s", "stream": "instream", "health_interval": "1s" } },
    "tcp":      { "type": "clamd", "delegator": { "address": "127.0.0.1:$CLAMD_PORT", "timeout": "3s", "health_interval": "1s" } } },
  "stages": { "eom": [ $(rule unix), $(rule instream), $(rule tcp) ] } }
EOF
"$milter" -t -c "$policy" >/dev/null || bail_out "the test policy does not load: $("$milter" -t -c "$policy" 2>&1)"
"$milter" -f -l debug -c "$policy" -p "unix:$sock" >"$log" 2>&1 &
milter_pid=$!
peers_track "$milter_pid"
wait_until 10 test -S "$sock" || bail_out "milter did not start: $(tail -3 "$log")"

# expect_mt DESC [NAME=VALUE...] - one TAP line from scan.lua.
expect_mt() {
	local desc=$1 out defs=() d
	shift
	for d in "$@"; do defs+=(-D "$d"); done
	out=$(miltertest -D sock="unix:$sock" -D dir="$scripts" -D eicar="$(eicar_string)" \
		"${defs[@]}" -s "$scripts/scan.lua" 2>&1)
	if [[ $out == ok ]]; then ok "$desc"; else not_ok "$desc" "$out" "$(tail -5 "$log")"; fi
}

b64=$(eicar_string | base64 -w0)
mime=$'This is a MIME message.\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n'
mime+=$'--b1\r\nContent-Type: application/octet-stream; name=eicar.com\r\n'
mime+=$'Content-Transfer-Encoding: base64\r\n\r\n'"$b64"$'\r\n--b1--\r\n'
virus=(code=554 ecode=5.7.1 reply="Virus found")

for svc in unix instream tcp; do
	expect_mt "$svc: a clean message is accepted, X-Virus-Scanned imported" service=$svc body="clean"$'\r\n'
	expect_mt "$svc: inline EICAR is quarantined by the follow-up rule" service=$svc body=eicar "${virus[@]}"
	expect_mt "$svc: EICAR as a base64 attachment too" service=$svc body="$mime" boundary=b1 "${virus[@]}"
done
check "the log names the mode of each: FILDES on the unix socket" grep -Eq "clamd service=unix .*mode=FILDES" "$log"
check "... INSTREAM when asked, and over TCP" grep -Eq "clamd service=tcp .*mode=INSTREAM" "$log"
check "the quarantine metadata carries clamd's signature name" \
	grep -lq '"X-Virus-Infected": "MD.Test.EICAR.UNOFFICIAL"' "$PEERS_DIR"/quarantine/virus_q/*.json

# 30 KB: over StreamMaxLength (20K) for INSTREAM.
for svc in instream tcp; do
	expect_mt "$svc: a message over StreamMaxLength is on_error" service=$svc \
		body="$(printf '%076d' 0)"$'\r\n' times=400 code=451 ecode=4.7.1 reply="Scanner failed"
done
check "... with clamd's reason in the log" grep -q "size limit exceeded" "$log"

kill -STOP "$CLAMD_PID"
start=$(date +%s%N)
expect_mt "clamd stalled (accepts, never answers): on_timeout" service=tcp body=hello \
	code=451 ecode=4.7.1 reply="Scanner timed out"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "... after the 3 s service timeout, not a hang (took ${ms} ms)" test "$ms" -ge 2900 -a "$ms" -lt 15000
kill -CONT "$CLAMD_PID"
# A probe that fell into the stall marked the member down; the next one (1 s) brings it back.
sleep 2.5
expect_mt "clamd answers again after the stall" service=unix body="clean"$'\r\n'

stop_clamd
for svc in unix tcp; do
	start=$(date +%s%N)
	expect_mt "$svc: clamd stopped is on_error" service=$svc body=hello code=451 ecode=4.7.1 reply="Scanner failed"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	check "... at once (${ms} ms)" test "$ms" -lt 2500
done
check "the log says why (connect ... refused / no such file)" \
	grep -Eq "(result=error|is down).*connect .*(refused|No such file)" "$log"
check "no spool file is left behind" test -z "$(ls -A "$PEERS_DIR/spool")"

done_testing
