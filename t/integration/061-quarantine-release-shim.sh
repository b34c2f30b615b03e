#!/usr/bin/env bash
# 061-quarantine-release-shim.sh - milter-delegate-quarantine for
# delegate-shim: the shim with the default antivirus policy (the real
# clamsmtpd + clamd) plus a rule that quarantines a known subject, its next
# hop an smtp-sink. A quarantined message released through the shim's next
# hop (--shim-config) reaches the sink exactly once with its original
# envelope; with the next hop down it stays, exit 1; two releases at once
# deliver once; a shim.json with a Maildir next hop delivers into it; a
# release with a one-time token through the shim itself.
set -u
. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/shim.sh"
. "$MD_TOP/t/lib/quarantine.sh"
peers_init
peers_require swaks clamd clamsmtpd jq

tool=$MD_BUILD/milter-delegate-quarantine
quarantine=$PEERS_DIR/quarantine
spool=$PEERS_DIR/spool
policy=$PEERS_DIR/policy.json
mkdir -p "$spool"
receiver_port=$(free_port) || bail_out "no free port"
start_clamd || bail_out "clamd did not start"
start_clamsmtpd pass "$receiver_port" || bail_out "clamsmtpd did not start"
start_sink || bail_out "smtp-sink did not start"
quarantine_policy "$policy" "$receiver_port" "$quarantine" "$spool"
shim_write_config "$PEERS_DIR/shim.json" "{ \"smtp\": \"127.0.0.1:$SINK_PORT\", \"timeout\": \"10s\" }"
start_shim "$policy" "$PEERS_DIR/shim.json" || bail_out "delegate-shim did not start"

q() { "$tool" -c "$policy" "$@"; }

# quarantine NAME - a message that the rule quarantines, through the shim; prints its id.
quarantine() { quarantine_send "$SHIM_PORT" "$1"; }

id=$(quarantine one) || bail_out "nothing quarantined: $(tail -5 "$SHIM_LOG")"
ok "the message with the known subject is quarantined ($id)"
is "$(sink_count)" 0 "it was not delivered"
like "$(cat "$SHIM_LOG")" "quarantine=$id" "the shim's per-message log line names the quarantine id"
like "$(q list | grep "^$id")" "quarantined$" "list before: quarantined"

out=$(q release --shim-config "$PEERS_DIR/shim.json" "$id" 2>&1)
is "$?" 0 "release through the shim's next hop exits 0"
like "$out" "released to shim smtp 127.0.0.1:$SINK_PORT for 2 recipients" "... and says where"
if msg=$(sink_wait_for "quarantine-me one" 10); then
	ok "the released message reaches the next hop"
	quarantine_check_envelope "$msg"
else
	not_ok "the released message reaches the next hop" "$out"
fi
is "$(sink_count)" 1 "exactly once"
like "$(q list | grep "^$id")" "released$" "list after: released"
is "$(q list --json | jq -r --arg id "$id" '.[] | select(.id == $id) | .released[0].to')" \
	"shim smtp 127.0.0.1:$SINK_PORT" "list --json says where it went"

# A one-time token: released into the shim itself, not quarantined again.
id3=$(quarantine three) || bail_out "the third message was not quarantined"
n=$(ls "$quarantine"/subject_q/*.json | wc -l)
out=$(q release --token --to "127.0.0.1:$SHIM_PORT" "$id3" 2>&1)
is "$?" 0 "release --token into the shim exits 0"
if msg=$(sink_wait_for "quarantine-me three" 10); then
	ok "the shim delivers the message released with a token"
	is "$(ls "$quarantine"/subject_q/*.json | wc -l)" "$n" "... not quarantined again"
	like "$(cat "$SHIM_LOG")" "quarantine skipped: a release with a live token" "the shim says why"
else
	not_ok "the shim delivers the message released with a token" "$out" "$(tail -3 "$SHIM_LOG")"
fi

# The next hop down.
id2=$(quarantine two) || bail_out "the second message was not quarantined"
stop_pid "$SINK_PID"
out=$(q release --shim-config "$PEERS_DIR/shim.json" "$id2" 2>&1)
is "$?" 1 "release with the next hop down exits 1"
like "$out" "$id2 not released, it stays in the quarantine: shim smtp" "... and says why"
like "$(q list | grep "^$id2")" "quarantined$" "... and it stays quarantined"

# Two releases at once, the next hop back: one delivery.
sink_clear
start_sink || bail_out "smtp-sink did not start again"
shim_write_config "$PEERS_DIR/shim2.json" "{ \"smtp\": \"127.0.0.1:$SINK_PORT\", \"timeout\": \"10s\" }"
q release --shim-config "$PEERS_DIR/shim2.json" "$id2" >"$PEERS_DIR/r1.out" 2>&1 &
r1=$!
q release --shim-config "$PEERS_DIR/shim2.json" "$id2" >"$PEERS_DIR/r2.out" 2>&1 &
r2=$!
wait "$r1"; s1=$?
wait "$r2"; s2=$?
is "$((s1 + s2))" 1 "of two concurrent releases one succeeds, one fails"
sink_wait_for "quarantine-me two" 10 >/dev/null
sleep 1
is "$(sink_count)" 1 "the message was delivered once"

# A shim whose next hop is a Maildir.
shim_write_config "$PEERS_DIR/shim-maildir.json" "{ \"maildir\": \"$PEERS_DIR/Maildir\" }"
out=$(q release --force --shim-config "$PEERS_DIR/shim-maildir.json" "$id2" 2>&1)
is "$?" 0 "release --force into the shim's Maildir exits 0"
msg=$(maildir_find "$PEERS_DIR/Maildir" "quarantine-me two")
if [[ -n $msg ]]; then
	ok "the message is in the Maildir"
	like "$(cat "$msg")" "^Return-Path: <sender@example.com>" "with its sender as Return-Path"
else
	not_ok "the message is in the Maildir" "$out"
fi

done_testing
