#!/usr/bin/env bash
# 085-metrics-shim.sh - delegate-shim's /metrics and JSON log with the real
# clamsmtpd + clamd and smtp-sink as the next hop. A known mix (2 clean, 1
# EICAR, 1 rule reject, 1 rule tempfail, 1 clean with the next hop down, 1
# with clamsmtpd down) moves each counter by exactly what was sent, the
# next hop's deliveries by outcome and their latency included; promtool
# accepts the output, hostile requests get 4xx, every log line is JSON, and
# a non-loopback -M is refused without -A.
set -u
. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/shim.sh"
. "$MD_TOP/t/lib/metrics.sh"
peers_init
peers_require swaks clamd clamsmtpd
metrics_require

quarantine=$PEERS_DIR/quarantine
spool=$PEERS_DIR/spool
mkdir -p "$spool"
receiver_port=$(free_port) || bail_out "no free port"
start_clamd || bail_out "clamd did not start"
start_clamsmtpd pass "$receiver_port" || bail_out "clamsmtpd did not start"
start_sink || bail_out "smtp-sink did not start"
jq --arg c "127.0.0.1:$CLAMSMTPD_PORT" --arg r "127.0.0.1:$receiver_port" \
   --arg q "$quarantine" --arg s "$spool" '
	.services.clamsmtpd.delegator.address = $c | .services.clamsmtpd.receiver = $r |
	.settings.quarantine_dir = $q | .settings.spool_dir = $s |
	.stages.eom = [
	  { "name": "refuse marked", "if": { "header": { "name": "Subject", "value": "refuse-me" } },
	    "then": { "action": "reject", "code": 550, "status": "5.7.1", "text": "Refused by rule" } },
	  { "name": "defer marked", "if": { "header": { "name": "Subject", "value": "defer-me" } },
	    "then": { "action": "tempfail", "code": 451, "status": "4.7.1", "text": "Deferred by rule" } }
	] + .stages.eom' "$MD_TOP/policies/default.json" >"$PEERS_DIR/policy.json"
shim_write_config "$PEERS_DIR/shim.json" "{ \"smtp\": \"127.0.0.1:$SINK_PORT\", \"timeout\": \"10s\" }"

out=$("$MD_BUILD/delegate-shim" -t -c "$PEERS_DIR/policy.json" -C "$PEERS_DIR/shim.json" \
	-M "[2001:db8::1]:9188" 2>&1)
rc=$?
check "-t refuses a non-loopback -M without -A (status $rc)" test "$rc" -eq 1
like "$out" "metrics address \(-M\) \[2001:db8::1\]:9188: not a loopback address" "... and says why"

metrics_port=$(free_port)
start_shim "$PEERS_DIR/policy.json" "$PEERS_DIR/shim.json" -F json -M "127.0.0.1:$metrics_port" ||
	bail_out "delegate-shim did not start"
wait_port 127.0.0.1 "$metrics_port" 10 || bail_out "metrics listener did not start"

# send SUBJECT [BODY] - one message to the shim; prints swaks' transcript.
send() {
	swaks --server "127.0.0.1:$SHIM_PORT" --from a@example.org --to b@example.net \
		--header "Subject: $1" --body "${2:-hello}" --timeout 60 2>&1
}
metrics_scrape "$metrics_port" >"$PEERS_DIR/before.txt" || bail_out "no metrics before the mix"
like "$(send clean-1)" '^<-  250 2\.0\.0 Ok: queued as' "clean 1 accepted"
like "$(send clean-2)" '^<-  250 2\.0\.0 Ok: queued as' "clean 2 accepted"
like "$(send eicar "$(eicar_string)")" '^<-  250 2\.0\.0 Ok' "EICAR accepted (quarantined, discarded)"
like "$(send refuse-me)" '^<\*\* 550 5\.7\.1 Refused by rule' "the reject rule refuses"
like "$(send defer-me)" '^<\*\* 451 4\.7\.1 Deferred by rule' "the tempfail rule defers"
stop_pid "$SINK_PID"
like "$(send nexthop-down)" '^<\*\* 451 4\.4\.1 Next hop unavailable' "next hop down: 451 4.4.1"
stop_pid "$CLAMSMTPD_PID"
like "$(send filter-down)" '^<\*\* 451 4\.7\.1 Content filter unavailable' "filter down: 451 4.7.1"
wait_until 5 bash -c ". '$MD_TOP/t/lib/metrics.sh'; metrics_scrape $metrics_port |
	grep -qx 'milter_delegate_connections 0'"
metrics_scrape "$metrics_port" >"$PEERS_DIR/after.txt" || bail_out "no metrics after the mix"

# delta SERIES WANT DESC - SERIES moved by exactly WANT between the two scrapes.
delta() {
	local b a
	b=$(metrics_value "$PEERS_DIR/before.txt" "$1")
	a=$(metrics_value "$PEERS_DIR/after.txt" "$1")
	is "$(( ${a:-0} - ${b:-0} ))" "$2" "$3 ($1)"
}
m=milter_delegate
delta "$m"'_messages_total{verdict="accept",stage="eom"}' 3 "3 let through by the policy"
delta "$m"'_messages_total{verdict="quarantine",stage="eom"}' 1 "1 quarantined"
delta "$m"'_messages_total{verdict="reject",stage="eom"}' 1 "1 rejected"
delta "$m"'_messages_total{verdict="tempfail",stage="eom"}' 2 "2 tempfailed (rule, filter down)"
delta "$m"'_rule_hits_total{rule="check email for virus"}' 5 "the delegating rule ran 5 times"
delta "$m"'_rule_hits_total{rule="virus found"}' 1 "virus found once"
delta "$m"'_delegations_total{service="clamsmtpd",outcome="copy"}' 4 "4 copies back"
delta "$m"'_delegations_total{service="clamsmtpd",outcome="error"}' 1 "1 delegation error"
delta "$m"'_quarantine_writes_total' 1 "1 quarantine write"
delta "$m"'_nexthop_deliveries_total{outcome="sent"}' 2 "2 delivered to the next hop"
delta "$m"'_nexthop_deliveries_total{outcome="deferred"}' 1 "1 deferred (next hop down)"
delta "$m"'_nexthop_deliveries_total{outcome="refused"}' 0 "none refused"
delta "$m"'_nexthop_duration_seconds_count' 3 "3 next-hop latencies observed"
is "$(metrics_value "$PEERS_DIR/after.txt" "$m"'_connections')" 0 "no session open now"
metrics_promtool "$PEERS_DIR/after.txt" "promtool check metrics accepts the output"

metrics_http_checks "$metrics_port"
check "the shim is still running" kill -0 "$SHIM_PID"
metrics_scrape "$metrics_port" >/dev/null
check "... and /metrics still answers" test $? -eq 0

kill -TERM "$SHIM_PID"
wait_until 10 pid_gone "$SHIM_PID"
metrics_json_log_checks "$SHIM_LOG" 7 "queue_id client from rcpts size delegation_ms rules verdict reply quarantine_id"
is "$(jq -r 'select(.status == "sent") | .nexthop' "$SHIM_LOG" | sort -u)" "smtp 127.0.0.1:$SINK_PORT" \
	"delivered lines carry the next hop"
done_testing
