#!/usr/bin/env bash
# 084-metrics-milter.sh - the milter's /metrics and JSON log with the real
# programs: a private Postfix, milter-delegate with -M and -F json, the
# antivirus policy plus a reject and a tempfail rule, clamsmtpd + clamd.
# A known mix (2 clean, 1 EICAR, 1 rule reject, 1 rule tempfail, 1 with
# clamsmtpd down) moves each counter by exactly what was sent; reloads (one
# done, one refused) and the generation too. promtool accepts the output;
# a malformed, an oversized, a POST and an unknown-path request get 4xx and
# the milter keeps serving; every log line parses with jq and the
# per-message ones carry the documented fields. Copies sent to the receiver
# by hand (no id, a malformed one, an unknown one, a replayed one, a late
# one) move the receiver's counters by one each. A non-loopback -M is
# refused without -A, and a taken port stops the start with the reason.

. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/metrics.sh"
peers_init
peers_require swaks clamd clamsmtpd postfix
metrics_require

milter=$MD_BUILD/milter-delegate
policy=$PEERS_DIR/policy.json
log=$PEERS_DIR/milter.log
quarantine=$PEERS_DIR/quarantine
mkdir -p "$PEERS_DIR/spool" "$quarantine"

start_clamd || bail_out "clamd did not start"
start_sink || bail_out "smtp-sink did not start"
recv_port=$(free_port)
start_clamsmtpd pass "$recv_port" || bail_out "clamsmtpd did not start"

# The default policy on this test's ports and folders, with two rules first.
jq --arg c "127.0.0.1:$CLAMSMTPD_PORT" --arg r "127.0.0.1:$recv_port" \
   --arg q "$quarantine" --arg s "$PEERS_DIR/spool" '
	.services.clamsmtpd.delegator.address = $c | .services.clamsmtpd.receiver = $r |
	.settings.quarantine_dir = $q | .settings.spool_dir = $s |
	.stages.eom = [
	  { "name": "refuse marked", "if": { "header": { "name": "Subject", "value": "refuse-me" } },
	    "then": { "action": "reject", "code": 550, "status": "5.7.1", "text": "Refused by rule" } },
	  { "name": "defer marked", "if": { "header": { "name": "Subject", "value": "defer-me" } },
	    "then": { "action": "tempfail", "code": 451, "status": "4.7.1", "text": "Deferred by rule" } }
	] + .stages.eom' "$MD_TOP/policies/default.json" >"$policy"
"$milter" -t -c "$policy" >/dev/null || bail_out "test policy does not load"

# 1. Start-up refusals: non-loopback without -A (-t and start), a taken port.
out=$("$milter" -t -c "$policy" -M 192.0.2.1:9188 2>&1)
rc=$?
check "-t refuses a non-loopback -M without -A (status $rc)" test "$rc" -eq 1
like "$out" "metrics address \(-M\) 192\.0\.2\.1:9188: not a loopback address" "... and says why"
check "-t accepts it with -A" "$milter" -t -c "$policy" -M 192.0.2.1:9188 -A
out=$(timeout 20 "$milter" -f -c "$policy" -p "inet:$(free_port)@127.0.0.1" -M "0.0.0.0:$(free_port)" 2>&1)
rc=$?
check "the milter does not start on 0.0.0.0 without -A (status $rc)" test "$rc" -eq 1
like "$out" "not a loopback address" "... with the reason"
out=$(timeout 20 "$milter" -c "$policy" -p "inet:$(free_port)@127.0.0.1" -M "127.0.0.1:$CLAMSMTPD_PORT" 2>&1)
rc=$?
check "a taken metrics port stops the start, also in the background (status $rc)" test "$rc" -eq 1
like "$out" "Address already in use" "... and the starting command prints why"

# 2. The milter with metrics and JSON logs, behind Postfix.
metrics_port=$(free_port)
milter_port=$(free_port)
"$milter" -f -F json -l debug -c "$policy" -p "inet:$milter_port@127.0.0.1" -M "$metrics_port" >"$log" 2>&1 &
milter_pid=$!
peers_track "$milter_pid"
wait_port 127.0.0.1 "$milter_port" 10 || bail_out "milter did not start: $(tail -3 "$log")"
wait_port 127.0.0.1 "$metrics_port" 10 || bail_out "metrics listener did not start: $(tail -3 "$log")"
start_postfix "inet:127.0.0.1:$milter_port" || bail_out "postfix did not start"

# send SUBJECT BODY - one message through Postfix; prints swaks' transcript.
send() {
	swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --from sender@example.com \
		--to rcpt@example.net --h-Subject "$1" --body "$2" --timeout 60 2>&1
}

metrics_scrape "$metrics_port" >"$PEERS_DIR/before.txt" || bail_out "no metrics before the mix"
like "$(metrics_value "$PEERS_DIR/before.txt" 'milter_delegate_policy_generation')" "^1$" \
	"the first policy is generation 1"
like "$(send clean-1 "Hello")" "<- +250 .*queued as" "clean 1 accepted"
like "$(send clean-2 "Hello again")" "<- +250 .*queued as" "clean 2 accepted"
like "$(send eicar "$(eicar_string)")" "<- +250 " "EICAR accepted (quarantined, discarded)"
like "$(send refuse-me "x")" "<\*\* +550 5.7.1 Refused by rule" "the reject rule refuses"
like "$(send defer-me "x")" "<\*\* +451 4.7.1 Deferred by rule" "the tempfail rule defers"
stop_pid "$CLAMSMTPD_PID"
like "$(send filter-down "x")" "<\*\* +451 4.7.1 Content filter unavailable" "filter down: 451"
metrics_scrape "$metrics_port" >"$PEERS_DIR/after.txt" || bail_out "no metrics after the mix"

# delta SERIES WANT DESC - SERIES moved by exactly WANT between the two scrapes.
delta() {
	local b a
	b=$(metrics_value "$PEERS_DIR/before.txt" "$1")
	a=$(metrics_value "$PEERS_DIR/after.txt" "$1")
	is "$(( ${a:-0} - ${b:-0} ))" "$2" "$3 ($1)"
}
m=milter_delegate
delta "$m"'_messages_total{verdict="accept",stage="eom"}' 2 "2 accepted"
delta "$m"'_messages_total{verdict="quarantine",stage="eom"}' 1 "1 quarantined"
delta "$m"'_messages_total{verdict="reject",stage="eom"}' 1 "1 rejected"
delta "$m"'_messages_total{verdict="tempfail",stage="eom"}' 2 "2 tempfailed (rule, filter down)"
delta "$m"'_messages_total{verdict="discard",stage="eom"}' 0 "none discarded by a rule"
delta "$m"'_rule_hits_total{rule="refuse marked"}' 1 "reject rule hit once"
delta "$m"'_rule_hits_total{rule="defer marked"}' 1 "tempfail rule hit once"
delta "$m"'_rule_hits_total{rule="check email for virus"}' 4 "the delegating rule ran 4 times"
delta "$m"'_rule_hits_total{rule="virus found"}' 1 "virus found once"
delta "$m"'_delegations_total{service="clamsmtpd",outcome="copy"}' 3 "3 copies back"
delta "$m"'_delegations_total{service="clamsmtpd",outcome="error"}' 1 "1 delegation error"
delta "$m"'_delegations_total{service="clamsmtpd",outcome="timeout"}' 0 "no timeout"
delta "$m"'_delegation_duration_seconds_count{service="clamsmtpd"}' 4 "4 latencies observed"
delta "$m"'_quarantine_writes_total' 1 "1 quarantine write"
delta "$m"'_quarantine_failures_total' 0 "no quarantine failure"
delta "$m"'_fail_safe_total' 0 "no fail-safe verdict"
delta "$m"'_receiver_refusals_total{reason="unknown"}' 0 "no receiver refusal"
is "$(metrics_value "$PEERS_DIR/after.txt" "$m"'_delegations_waiting')" 0 "nothing waits now"
is "$(metrics_value "$PEERS_DIR/after.txt" "$m"'_messages_spooling')" 0 "nothing is spooled now"
metrics_promtool "$PEERS_DIR/after.txt" "promtool check metrics accepts the output"

# 3. Copies to the receiver by hand: each refusal reason, a late copy.
# to_receiver ID_FIELD - one message to the receiver (ID_FIELD "": none); prints swaks' transcript.
to_receiver() {
	swaks --server 127.0.0.1 --port "$recv_port" --from filter@example.com --to rcpt@example.net \
		${1:+--header "$1"} --timeout 20 2>&1
}
ids=$(jq -r '.message | select(test("delegation id=")) | capture("id=(?<id>[0-9a-f]+)").id' "$log")
first_id=$(head -1 <<<"$ids") last_id=$(tail -1 <<<"$ids")
check "the debug log names the delegations' ids" test -n "$first_id" -a "$first_id" != "$last_id"
like "$(to_receiver "")" "<\*\* +550 5.7.1" "a copy without an id: 550"
like "$(to_receiver "X-Delegate-Id: not-an-id")" "<\*\* +550 5.7.1" "a malformed id: 550"
like "$(to_receiver "X-Delegate-Id: 0123456789abcdef0123456789abcdef")" "<\*\* +550 5.7.1" \
	"an unknown id: 550"
like "$(to_receiver "X-Delegate-Id: $first_id")" "<\*\* +550 5.7.1" "a replayed id: 550"
like "$(to_receiver "X-Delegate-Id: $last_id")" "<- +250 2.0.0 Ok: late copy dropped" \
	"the id of the delegation that failed: a late copy, dropped"
metrics_scrape "$metrics_port" >"$PEERS_DIR/receiver.txt"
for reason in no_id malformed unknown replayed; do
	is "$(metrics_value "$PEERS_DIR/receiver.txt" "$m"'_receiver_refusals_total{reason="'$reason'"}')" 1 \
		"1 receiver refusal: $reason"
done
is "$(metrics_value "$PEERS_DIR/receiver.txt" "$m"'_late_copies_dropped_total')" 1 "1 late copy dropped"

# 4. Reloads: one done, one refused.
kill -HUP "$milter_pid"
wait_until 5 grep -q "policy reloaded" "$log"
cp "$policy" "$PEERS_DIR/good.json"
echo '{ "stages": { "eom": [ { "then": "no such action" } ] } }' >"$policy"
kill -HUP "$milter_pid"
wait_until 5 grep -q "reload of .* refused" "$log"
metrics_scrape "$metrics_port" >"$PEERS_DIR/reload.txt"
is "$(metrics_value "$PEERS_DIR/reload.txt" "$m"'_reloads_total{result="done"}')" 1 "1 reload done"
is "$(metrics_value "$PEERS_DIR/reload.txt" "$m"'_reloads_total{result="refused"}')" 1 "1 reload refused"
is "$(metrics_value "$PEERS_DIR/reload.txt" "$m"'_policy_generation')" 2 "generation 2"

# 5. Hostile requests: 4xx, and the milter still serves.
metrics_http_checks "$metrics_port"
check "the milter is still running" kill -0 "$milter_pid"
metrics_scrape "$metrics_port" >/dev/null
check "... and /metrics still answers" test $? -eq 0

# 6. The JSON log: every line an object; per-message lines with their fields.
kill -TERM "$milter_pid"
wait_until 10 pid_gone "$milter_pid"
metrics_json_log_checks "$log" 6 "queue_id client from rcpts size delegation_ms rules verdict reply quarantine_id"
qid=$(jq -r 'select(.verdict == "discard") | .quarantine_id' "$log" | head -1)
check "the quarantined message's line names its quarantine id, which exists" \
	test -n "$qid" -a -f "$quarantine/virus_q/$qid.eml"

done_testing
