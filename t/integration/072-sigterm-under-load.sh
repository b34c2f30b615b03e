#!/usr/bin/env bash
# 072-sigterm-under-load.sh - SIGTERM while Postfix streams mail through the
# milter and its delegations are in flight. Nothing may be acknowledged with
# 250 and then lost: every message the client saw accepted is delivered to
# the sink, every other one got a 4xx (the client keeps it), and the counts
# add up to what was sent. Transactions still running when the grace period
# (-G) ends are cut off; Postfix's milter_default_action tempfails them.

. "$MD_TOP/t/lib/peers.sh"
peers_init
peers_require swaks postfix

milter=$MD_BUILD/milter-delegate
policy=$PEERS_DIR/policy.json
log=$PEERS_DIR/milter.log
replies=$PEERS_DIR/replies
clients=8 per_client=12
mkdir -p "$PEERS_DIR/spool" "$PEERS_DIR/quarantine" "$replies"

start_sink || bail_out "smtp-sink did not start"
recv_port=$(free_port)
start_slow_filter 1500 "$recv_port" || bail_out "slow_filter did not start"
filter_port=$SLOW_FILTER_PORT
cat >"$policy" <<JSON
{
  "settings": { "spool_dir": "$PEERS_DIR/spool", "quarantine_dir": "$PEERS_DIR/quarantine" },
  "services": { "filter": { "type": "smtp",
      "delegator": { "address": "127.0.0.1:$filter_port", "timeout": "30s" },
      "receiver": "127.0.0.1:$recv_port" } },
  "stages": { "eom": [ { "name": "scan", "then": { "action": "delegate", "service": "filter" } } ] }
}
JSON
milter_port=$(free_port)
"$milter" -f -G 1 -c "$policy" -p "inet:$milter_port@127.0.0.1" >"$log" 2>&1 &
milter_pid=$!
peers_track "$milter_pid"
wait_port 127.0.0.1 "$milter_port" 10 || bail_out "milter did not start: $(tail -3 "$log")"
start_postfix "inet:127.0.0.1:$milter_port" || bail_out "postfix did not start"

# client N - send $per_client messages one after the other; "SUBJECT CODE" lines.
client() {
	local i subject code
	for ((i = 0; i < per_client; i++)); do
		subject=$(printf "load-%02d-%02d" "$1" "$i")
		code=$(swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --from a@example.com \
			--to b@example.net --h-Subject "$subject" --body "under load" --timeout 60 2>&1 |
			awk '$1 ~ /^<[-*]+$/ && $2 ~ /^[0-9][0-9][0-9]$/ && $2 != 221 { c = $2 } END { print c }')
		echo "$subject ${code:-none}"
	done >"$replies/$1"
}

client_pids=()
for ((n = 0; n < clients; n++)); do
	client "$n" &
	client_pids+=($!)
done
# SIGTERM once the first message is accepted (a fixed sleep was too short
# on a loaded machine): the other clients' messages are then in flight.
wait_until 60 bash -c "cat '$replies'/* 2>/dev/null | grep -q ' 250\$'"
kill -TERM "$milter_pid"
wait_until 20 pid_gone "$milter_pid"
check "the milter stopped after SIGTERM" pid_gone "$milter_pid"
wait "${client_pids[@]}"                # every client has finished (not the daemons)
cat "$replies"/* >"$PEERS_DIR/all"
sent=$(wc -l <"$PEERS_DIR/all")
accepted=$(awk '$2 == 250' "$PEERS_DIR/all" | wc -l)
deferred=$(awk '$2 ~ /^4/' "$PEERS_DIR/all" | wc -l)
is "$sent" $((clients * per_client)) "every message got a reply line"
check "some messages were accepted before the stop ($accepted)" test "$accepted" -gt 0
check "some were tempfailed after it ($deferred)" test "$deferred" -gt 0
is "$((accepted + deferred))" "$sent" "accepted + tempfailed = sent (no 5xx, no silence)"

# Postfix delivers what it accepted; wait for its queue to empty.
wait_until 30 bash -c "postqueue -c '$POSTFIX_DIR' -p | grep -q 'Mail queue is empty'"
lost=0
while read -r subject code; do
	[[ $code == 250 ]] || continue
	[[ -n $(sink_find "$subject") ]] || { lost=$((lost + 1)); echo "# lost: $subject"; }
done <"$PEERS_DIR/all"
is "$lost" 0 "every accepted message reached the sink"
delivered=$(sink_count)
is "$delivered" "$accepted" "nothing else reached the sink"
check "the milter logged its shutdown" grep -q "milter-delegate stopped" "$log"

done_testing
