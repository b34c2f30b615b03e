#!/usr/bin/env bash
# 045-delegation-clamsmtpd.sh - delegation against the real clamsmtpd and
# clamd, driven by miltertest: a clean message comes back and resumes as
# clean (imported X-Virus-Scanned, follow-up header); EICAR inline and as a
# base64 attachment comes back with X-Virus-Infected and the follow-up
# quarantines it; clamsmtpd with Action: drop gives on_missing after the
# grace period, well before the timeout; clamd down gives clamsmtpd's
# "451 Local Error", which is on_error; clamsmtpd down is on_error too.
# The receiver refuses injected mail (no id, a forged id).

. "$MD_TOP/t/lib/peers.sh"
peers_init
peers_require miltertest clamd clamsmtpd

milter=$MD_BUILD/milter-delegate
scripts=$MD_TOP/t/integration/delegation
sock=$PEERS_DIR/milter.sock
policy=$PEERS_DIR/policy.json
log=$PEERS_DIR/milter.log
mkdir -p "$PEERS_DIR/spool" "$PEERS_DIR/quarantine"

start_clamd || bail_out "clamd did not start"
recv_port=$(free_port)
start_clamsmtpd pass "$recv_port" || bail_out "clamsmtpd (pass) did not start"
pass_port=$CLAMSMTPD_PORT pass_pid=$CLAMSMTPD_PID
start_clamsmtpd drop "$recv_port" || bail_out "clamsmtpd (drop) did not start"
drop_port=$CLAMSMTPD_PORT

sed -e "s|@TMP@|$PEERS_DIR|g" -e "s|@PASSPORT@|$pass_port|" -e "s|@DROPPORT@|$drop_port|" \
	-e "s|@RECVPORT@|$recv_port|" "$scripts/policy.json.in" >"$policy"
"$milter" -t -c "$policy" >/dev/null || bail_out "the test policy does not load"
"$milter" -f -l debug -c "$policy" -p "unix:$sock" >"$log" 2>&1 &
milter_pid=$!
peers_track "$milter_pid"
wait_until 10 test -S "$sock" || bail_out "milter did not start: $(tail -3 "$log")"

# mt SCRIPT [NAME=VALUE...] - run a miltertest script; prints its verdict line.
mt() {
	local script=$1 defs=() d
	shift
	for d in "$@"; do defs+=(-D "$d"); done
	miltertest -D sock="unix:$sock" -D dir="$scripts" -D eicar="$(eicar_string)" \
		"${defs[@]}" -s "$scripts/$script.lua" 2>&1
}

# expect_mt DESC SCRIPT [NAME=VALUE...] - one TAP line from a miltertest script.
expect_mt() {
	local desc=$1 out
	shift
	out=$(mt "$@")
	if [[ $out == ok ]]; then ok "$desc"; else not_ok "$desc" "$out" "$(tail -5 "$log")"; fi
}

expect_mt "a clean message comes back and resumes as clean" clean
expect_mt "inline EICAR comes back infected and the follow-up quarantines it" \
	reply service=pass body=eicar code=554 ecode=5.7.1 reply="Virus found"
# The .eml is the message as it would have been delivered; the metadata
# lists the fields clamsmtpd added.
check "... into virus_q (metadata with X-Virus-Infected)" \
	grep -lq '"X-Virus-Infected": "Virus Detected!"' "$PEERS_DIR"/quarantine/virus_q/*.json

# EICAR as a base64 MIME attachment (clamd decodes it with ScanMail).
b64=$(eicar_string | base64 -w0)
mime=$'This is a MIME message.\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n'
mime+=$'--b1\r\nContent-Type: application/octet-stream; name=eicar.com\r\n'
mime+=$'Content-Transfer-Encoding: base64\r\n\r\n'"$b64"$'\r\n--b1--\r\n'
expect_mt "EICAR as a base64 attachment is quarantined too" \
	reply service=pass body="$mime" boundary=b1 code=554 ecode=5.7.1 reply="Virus found"

start=$(date +%s%N)
expect_mt "Action: drop ends in on_missing" \
	reply service=drop body=eicar code=554 ecode=5.7.1 reply="Dropped by the filter"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "... after the 2 s grace, well before the 30 s timeout (took ${ms} ms)" test "$ms" -lt 10000
check "the log says no copy came back" grep -q "result=missing" "$log"

# Nobody can inject mail through the receiver: a copy needs a live id.
out=$(swaks --server "127.0.0.1:$recv_port" --from a@example.com --to b@example.net \
	--h-Subject injected --timeout 20 2>&1)
like "$out" "<\*\* +550 5\.7\.1 Error: not a delegated copy" "the receiver refuses a message without an id"
out=$(swaks --server "127.0.0.1:$recv_port" --from a@example.com --to b@example.net \
	--header "X-Delegate-Id: 0123456789abcdef0123456789abcdef" --timeout 20 2>&1)
like "$out" "<\*\* +550 5\.7\.1 Error: unknown delegation id" "... and one with a forged id"
check "... and logs both" test "$(grep -c 'receiver: refused' "$log")" -ge 2

stop_clamd
expect_mt "clamd down: clamsmtpd's 451 Local Error is on_error" \
	reply service=pass body=hello code=451 ecode=4.7.1 reply="Scanner failed"
check "the log carries clamsmtpd's reply" grep -q "Local Error" "$log"

stop_pid "$pass_pid"
expect_mt "clamsmtpd down is on_error" \
	reply service=pass body=hello code=451 ecode=4.7.1 reply="Scanner failed"
check "no spool file is left behind" test -z "$(ls -A "$PEERS_DIR/spool")"

done_testing
