#!/usr/bin/env bash
# 042-postfix-slow-filter.sh - a content filter slower than Postfix's
# milter_content_timeout: milter-delegate keeps Postfix waiting with milter
# progress notifications, so the message goes through; a filter slower than
# the service's own timeout gives on_timeout (4xx, the client keeps its
# copy), and the copy that comes back later is acknowledged and dropped.
# The filter is t/tools/slow_filter (our SMTP server + client, which passes
# the message on after a delay, as clamsmtpd does).

. "$MD_TOP/t/lib/peers.sh"
peers_init
peers_require swaks postfix

milter=$MD_BUILD/milter-delegate
policy=$PEERS_DIR/policy.json
log=$PEERS_DIR/milter.log
mkdir -p "$PEERS_DIR/spool" "$PEERS_DIR/quarantine"

start_sink || bail_out "smtp-sink did not start"
recv_port=$(free_port)
start_slow_filter 8000 "$recv_port" || bail_out "slow_filter did not start"
slow_port=$SLOW_FILTER_PORT
start_slow_filter 4000 "$recv_port" || bail_out "slow_filter did not start"
late_port=$SLOW_FILTER_PORT late_log=$SLOW_FILTER_LOG

cat >"$policy" <<JSON
{
  "settings": { "spool_dir": "$PEERS_DIR/spool", "quarantine_dir": "$PEERS_DIR/quarantine" },
  "services": {
    "slow": { "type": "smtp", "delegator": { "address": "127.0.0.1:$slow_port", "timeout": "60s" },
              "receiver": "127.0.0.1:$recv_port" },
    "late": { "type": "smtp", "delegator": { "address": "127.0.0.1:$late_port", "timeout": "2s" },
              "receiver": "127.0.0.1:$recv_port" }
  },
  "stages": { "eom": [
    { "name": "slow scan", "if": { "header": { "name": "X-Service", "value": "slow" } },
      "then": { "action": "delegate", "service": "slow" } },
    { "name": "late scan", "if": { "header": { "name": "X-Service", "value": "late" } },
      "then": { "action": "delegate", "service": "late" } }
  ] }
}
JSON
"$milter" -t -c "$policy" >/dev/null || bail_out "the test policy does not load"
milter_port=$(free_port)
"$milter" -f -l debug -c "$policy" -p "inet:$milter_port@127.0.0.1" >"$log" 2>&1 &
peers_track $!
wait_port 127.0.0.1 "$milter_port" 10 || bail_out "milter did not start: $(tail -3 "$log")"
POSTFIX_EXTRA_MAIN_CF="milter_content_timeout = 5s" start_postfix "inet:127.0.0.1:$milter_port" ||
	bail_out "postfix did not start"

# send SERVICE SUBJECT - one message through Postfix; prints swaks' transcript.
send() {
	swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --from a@example.com --to b@example.net \
		--h-X-Service "$1" --h-Subject "$2" --body "slow filter test" --timeout 90 2>&1
}

start=$(date +%s)
out=$(send slow slow-1)
took=$(( $(date +%s) - start ))
like "$out" "<- +250 .*queued as" "a filter slower than milter_content_timeout (5 s): accepted"
check "... after the filter's 8 s (took ${took} s)" test "$took" -ge 8
check "... and delivered to the sink" test -n "$(sink_wait_for "Subject: slow-1" 20)"
unlike "$(cat "$POSTFIX_LOG")" "milter.*timeout|can't read SMFIC" "Postfix saw no milter timeout"

out=$(send late late-1)
like "$out" "<\*\* +451 4\.7\.1" "a filter slower than the service timeout: 451 4.7.1 (on_timeout)"
check "the log says the delegation timed out" grep -q "result=timeout" "$log"
wait_until 10 grep -q "arrived after its transaction gave up" "$log"
check "the late copy is acknowledged and dropped" grep -q "arrived after its transaction gave up" "$log"
check "the late filter got 250 for its copy" grep -q "passed on: accepted" "$late_log"
sleep 1
check "the late message was not delivered" test -z "$(sink_find late-1)"
check "no spool file is left behind" test -z "$(ls -A "$PEERS_DIR/spool")"

done_testing
