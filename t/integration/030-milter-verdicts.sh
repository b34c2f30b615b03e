#!/usr/bin/env bash
# 030-milter-verdicts.sh - the milter daemon driven by miltertest (OpenDKIM's
# MTA simulator): every verdict, header edits, quarantine to a folder and to
# the MTA, a delegation to a filter that is down, policy check mode, SIGHUP
# reload (a broken policy is refused, a good one applied) and SIGTERM.

. "$MD_TOP/t/lib/peers.sh"
peers_init
peers_require miltertest

milter=$MD_BUILD/milter-delegate
scripts=$MD_TOP/t/integration/milter
sock=$PEERS_DIR/milter.sock
policy=$PEERS_DIR/policy.json
log=$PEERS_DIR/milter.log

mkdir -p "$PEERS_DIR/spool" "$PEERS_DIR/quarantine"
sed -e "s|@TMP@|$PEERS_DIR|g" -e "s|@DEADPORT@|$(free_port)|" -e "s|@RECVPORT@|$(free_port)|" \
	"$scripts/verdicts.json.in" >"$policy"

# check mode
out=$("$milter" -t -c "$policy" 2>&1)
is "$?" 0 "-t accepts the test policy"
like_summary='OK: 1 service, 10 rules'
case $out in *"$like_summary"*) ok "-t prints a one-line summary" ;;
	*) not_ok "-t prints a one-line summary" "$out" ;; esac

"$milter" -f -l debug -c "$policy" -p "unix:$sock" >"$log" 2>&1 &
milter_pid=$!
peers_track "$milter_pid"
wait_until 10 test -S "$sock" || bail_out "milter did not create $sock"

# run_lua NAME - one miltertest script; its "ok" / "not ok - why" becomes a TAP line.
run_lua() {
	local name=$1 desc=$2 out
	out=$(miltertest -D sock="unix:$sock" -D dir="$scripts" -s "$scripts/$name.lua" 2>&1)
	case $out in
	ok) ok "$desc" ;;
	*) not_ok "$desc" "$out" "$(tail -5 "$log")" ;;
	esac
}

run_lua connect_reject "connect: a listed client address is rejected with the rule's reply"
run_lua helo_tempfail "helo: tempfail with the policy's 421 reply"
run_lua mail_discard "mail: discard"
run_lua mail_accept "mail: accept skips the rest"
run_lua rcpt_reject "rcpt: a reject refuses only that recipient"
run_lua eom_accept "eom: no rule decides, the message is accepted unchanged"
run_lua eom_reject "eom: reject with code, status and a text containing %"
run_lua eom_hold "eom: quarantine to the MTA hold queue"
run_lua eom_edits "eom: add, change and remove header"
run_lua eom_folder "eom: quarantine to a folder, then discard"
run_lua eom_delegate_down "eom: delegation to a filter that is down tempfails (on_error)"

eml=$(ls "$PEERS_DIR"/quarantine/test_q/*.eml 2>/dev/null | head -1)
if [[ -n $eml ]] && grep -q "hello folder" "$eml" && [[ -f ${eml%.eml}.json ]]; then
	ok "the folder copy and its metadata are written"
else
	not_ok "the folder copy and its metadata are written" "$(ls -lR "$PEERS_DIR/quarantine")"
fi
check "quarantine files are not world-readable" \
	test "$(stat -c %a "$eml" 2>/dev/null)" = 600
check "the log has one line per message with its verdict and reply" \
	grep -q 'rules="eom:reject percent=reject" verdict=reject reply=554 5.7.0 Refused 100% sure' "$log"
check "a failed delegation is logged with its reason" \
	grep -q 'delegate=down result=error delay=[0-9]*ms detail=failed at connect' "$log"
check "... and tempfails with the on_error default reply" \
	grep -q 'verdict=tempfail reply=451 4.7.1 Content filter unavailable, try again later' "$log"
check "the spool directory is empty after the messages" \
	test -z "$(ls -A "$PEERS_DIR/spool")"

# SIGHUP with a broken policy keeps the old one; with a good one, applies it.
cp "$policy" "$policy.good"
echo '{"stages": {"mail": [{"then": "bounce"}]}}' >"$policy"
kill -HUP "$milter_pid"
wait_until 5 grep -q "reload of $policy refused" "$log"
check "SIGHUP with a broken policy logs the error with line and column" \
	grep -q "$policy:1:31: stages.mail\[0\].then: unknown action \"bounce\"" "$log"
check "the milter is still running after a refused reload" kill -0 "$milter_pid"
run_lua rcpt_reject "the old policy still applies after a refused reload"
sed -e 's|"old@example.com"|"older@example.com"|' "$policy.good" >"$policy"
kill -HUP "$milter_pid"
wait_until 5 grep -q "policy reloaded" "$log"
check "SIGHUP with a good policy reloads it" grep -q "policy reloaded" "$log"
out=$(miltertest -D sock="unix:$sock" -D dir="$scripts" -s "$scripts/rcpt_reject.lua" 2>&1)
case $out in *"rcpt old: reply"*) ok "the reloaded policy applies to new connections" ;;
	*) not_ok "the reloaded policy applies to new connections" "$out" ;; esac

# SIGTERM: clean exit, socket gone.
kill -TERM "$milter_pid"
wait_until 10 pid_gone "$milter_pid"
check "SIGTERM stops the milter" pid_gone "$milter_pid"
check "the milter logs its clean stop" grep -q "milter-delegate stopped" "$log"

done_testing
