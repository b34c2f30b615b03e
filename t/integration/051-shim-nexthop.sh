#!/usr/bin/env bash
# 051-shim-nexthop.sh - delegate-shim relaying to an SMTP next hop
# (smtp-sink): the client hears 250 only once the next hop has the message,
# with the policy's header edits applied; with the next hop down the client
# gets 451 4.4.1 (it keeps its copy) and nothing is left in the spool.
set -u
. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/shim.sh"
peers_init
peers_require swaks smtp-sink

spool=$PEERS_DIR/spool
mkdir -p "$spool"
start_sink || bail_out "smtp-sink did not start"
cat >"$PEERS_DIR/policy.json" <<EOF
{ "version": 1,
  "settings": { "quarantine_dir": "$PEERS_DIR/quarantine", "spool_dir": "$spool" },
  "stages": {
    "eom": [ { "name": "tag", "then": [
        { "action": "add_header", "name": "X-Shim-Tag", "value": "relayed" },
        { "action": "change_header", "name": "Subject", "value": "[shim] changed" } ] } ] } }
EOF
shim_write_config "$PEERS_DIR/shim.json" \
	"{ \"smtp\": \"127.0.0.1:$SINK_PORT\", \"timeout\": \"10s\" }"
start_shim "$PEERS_DIR/policy.json" "$PEERS_DIR/shim.json" || bail_out "delegate-shim did not start"

out=$(swaks --server "127.0.0.1:$SHIM_PORT" --from a@example.org --to b@example.net,c@example.net \
	--header "Subject: original" --header "X-Delegate-Id: planted" 2>&1)
like "$out" '^<-  250 2\.0\.0 Ok: queued as' "the message is accepted"
if msg=$(sink_wait_for "X-Shim-Tag: relayed" 5); then
	ok "the next hop has it"
	hdr=$(msg_headers "$msg")
	like "$hdr" '^Subject: \[shim\] changed' "change_header is applied"
	like "$hdr" 'by shim\.md-test\.invalid \(delegate-shim\) with ESMTP' "the shim's Received field goes along"
	like "$hdr" '^X-Delegate-Id: planted' "the relay adds and removes no X-Delegate-Id"
	like "$(cat "$msg")" '^X-Rcpt-Args: <c@example.net>' "every accepted recipient is in the relayed envelope"
else
	not_ok "the next hop has it" "$(tail -5 "$SHIM_LOG")"
fi

stop_pid "$SINK_PID"
out=$(swaks --server "127.0.0.1:$SHIM_PORT" --from a@example.org --to b@example.net 2>&1)
like "$out" '^<\*\* 451 4\.4\.1' "next hop down: 451 4.4.1, the client keeps its copy"
like "$(cat "$SHIM_LOG")" 'status=deferred' "the log line says deferred"
is "$(files_in "$spool")" 0 "nothing is left in the spool"
done_testing
