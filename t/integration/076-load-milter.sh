#!/usr/bin/env bash
# 076-load-milter.sh - milter-delegate under load from Postfix: 200
# concurrent SMTP sessions (smtp-source) for MD_LOAD_SECONDS (60), so
# Postfix opens up to 200 milter connections at once, each message
# delegated (to t/tools/slow_filter with no delay: our receiver and client
# pools under load, without clamd's own ceiling) and then delivered to
# smtp-sink. No crash; every message sent is delivered; resident memory
# flat after warm-up; no descriptor left behind; the spool empty. The
# filter connections kept between messages are closed 2 s after the load
# (delegator.idle), those slow_filter keeps to our receiver after 5 s
# (receiver_idle), so the count at the end holds no idle connection.

. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/load.sh"
peers_init
peers_require smtp-source postfix

sessions=200
milter=$MD_BUILD/milter-delegate
policy=$PEERS_DIR/policy.json
log=$PEERS_DIR/milter.log
spool=$PEERS_DIR/spool
mkdir -p "$spool" "$PEERS_DIR/quarantine"

start_sink || bail_out "smtp-sink did not start"
recv_port=$(free_port)
start_slow_filter 0 "$recv_port" || bail_out "slow_filter did not start"
filter_port=$SLOW_FILTER_PORT
cat >"$policy" <<JSON
{
  "settings": { "spool_dir": "$spool", "quarantine_dir": "$PEERS_DIR/quarantine" },
  "services": { "filter": { "type": "smtp",
      "delegator": { "address": "127.0.0.1:$filter_port", "timeout": "60s", "idle": "2s" },
      "receiver": "127.0.0.1:$recv_port", "receiver_idle": "5s" } },
  "stages": { "eom": [ { "name": "scan", "then": { "action": "delegate", "service": "filter",
      "rules": [ { "name": "infected", "if": { "header": "X-Virus-Infected" }, "then": "discard" } ] } } ] }
}
JSON
milter_port=$(free_port)
"$milter" -f -c "$policy" -p "inet:$milter_port@127.0.0.1" >"$log" 2>&1 &
milter_pid=$!
peers_track "$milter_pid"
wait_port 127.0.0.1 "$milter_port" 10 || bail_out "milter did not start: $(tail -3 "$log")"
POSTFIX_EXTRA_MAIN_CF="default_process_limit = 250" \
	start_postfix "inet:127.0.0.1:$milter_port" || bail_out "postfix did not start"

load_run milter "$milter_pid" "$sessions" "$POSTFIX_PORT" \
	bash -c "postqueue -c '$POSTFIX_DIR' -p | grep -q 'Mail queue is empty'"
# filter_connections - established connections from us to the filter.
filter_connections() {
	ss -Htn state established "( dport = :$filter_port )" | wc -l
}
wait_until 10 test "$(filter_connections)" -eq 0
check "the connections kept to the filter are closed once idle for delegator.idle ($(filter_connections) open)" \
	test "$(filter_connections)" -eq 0
check "every message was delegated" \
	test "$(grep -c 'passed on: accepted' "$SLOW_FILTER_LOG")" -eq "$LOAD_TOTAL"
check "no spool file left" test -z "$(ls -A "$spool")"
check "no error in the milter's log" bash -c "! grep -E ' (error|warning):' '$log'"
# A clean exit after SIGTERM; on the sanitizer build LeakSanitizer runs at
# exit and makes the status non-zero if anything leaked.
kill -TERM "$milter_pid"
wait "$milter_pid"
is "$?" 0 "SIGTERM after the load: the milter exits 0 (no leak on the ASan build)"

done_testing
