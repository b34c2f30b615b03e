#!/usr/bin/env bash
# 053-shim-nexthop-refusals.sh - what a client (swaks) hears from
# delegate-shim when its SMTP next hop does not take the message: a refusal
# for good (5xx after the data, to DATA, to every recipient) is mirrored as
# that 5xx with "next hop said:"; a temporary refusal, a next hop that hangs
# up after the data, and a mix of accepted and refused recipients are
# 451 4.4.1, and with the mix nothing reaches the next hop. smtp-sink plays
# the whole-message refusals; a private Postfix with per-recipient and DATA
# restrictions plays the mix.
set -u
. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/shim.sh"
peers_init
peers_require swaks smtp-sink postfix

spool=$PEERS_DIR/spool
mkdir -p "$spool"
cat >"$PEERS_DIR/policy.json" <<EOF
{ "version": 1,
  "settings": { "quarantine_dir": "$PEERS_DIR/quarantine", "spool_dir": "$spool" },
  "stages": {} }
EOF

# shim_to PORT - (re)start the shim relaying to 127.0.0.1:PORT.
shim_to() {
	[[ -n $SHIM_PID ]] && stop_pid "$SHIM_PID"
	shim_write_config "$PEERS_DIR/shim.json" "{ \"smtp\": \"127.0.0.1:$1\", \"timeout\": \"10s\" }"
	start_shim "$PEERS_DIR/policy.json" "$PEERS_DIR/shim.json" || bail_out "delegate-shim did not start"
}

# swaks_to RCPTS - one message to the shim for RCPTS (comma-separated); the transcript.
swaks_to() {
	swaks --server "127.0.0.1:$SHIM_PORT" --from a@example.org --to "$1" --timeout 20 2>&1
}

# last_log - the shim's last per-message log line.
last_log() {
	grep 'nexthop=' "$SHIM_LOG" | tail -1
}

# sink_row DESCRIPTION REPLY-REGEX LOG-REGEX RCPTS SMTP-SINK-OPTION... - a
# sink started with the options, the shim in front of it, one message.
sink_row() {
	local what=$1 reply=$2 log=$3 rcpts=$4 out
	shift 4
	[[ -n ${SINK_PID:-} ]] && stop_pid "$SINK_PID"
	start_sink "$@" || bail_out "smtp-sink did not start"
	shim_to "$SINK_PORT"
	out=$(swaks_to "$rcpts")
	like "$out" "$reply" "$what: the client hears it"
	like "$(last_log)" "$log" "$what: the log line says so"
}

sink_row "refused for good after the data" \
	'^<\*\* 554 5\.7\.1 next hop said: Content refused by the sink' \
	'status=refused detail="refused at end of data: 554 5\.7\.1 Content refused by the sink"' \
	b@example.net -f . -B "554 5.7.1 Content refused by the sink"
sink_row "refused for good at DATA" \
	'^<\*\* 554 5\.3\.2 next hop said: No DATA today' 'status=refused' \
	b@example.net -f DATA -B "554 5.3.2 No DATA today"
sink_row "every recipient refused for good" \
	'^<\*\* 550 5\.1\.1 next hop said: No such user' \
	'status=refused detail="refused 2 of 2 recipients at RCPT TO: 550 5\.1\.1 No such user"' \
	b@example.net,c@example.net -f RCPT -B "550 5.1.1 No such user"
sink_row "refused for now after the data" \
	'^<\*\* 451 4\.4\.1 Next hop unavailable' 'status=deferred detail="refused at end of data: 452 4\.3\.1' \
	b@example.net -r . -b "452 4.3.1 Insufficient storage"
sink_row "hung up after the data" \
	'^<\*\* 451 4\.4\.1 Next hop unavailable' 'status=deferred detail="failed at end of data' \
	b@example.net -q .
is "$(files_in "$spool")" 0 "nothing is left in the spool"

# A real MTA as next hop: Postfix refuses one recipient, or DATA for one sender.
stop_pid "$SINK_PID"
start_sink || bail_out "smtp-sink did not start"
POSTFIX_EXTRA_MAIN_CF="smtpd_recipient_restrictions = check_recipient_access inline:{ { nobody@example.net = 550 5.1.1 No such user here } }, permit_mynetworks, reject
smtpd_data_restrictions = check_sender_access inline:{ data@example.org=reject }, permit"
start_postfix || bail_out "postfix did not start"
shim_to "$POSTFIX_PORT"

out=$(swaks_to b@example.net,nobody@example.net)
like "$out" '^<\*\* 451 4\.4\.1 Next hop refused some recipients, try again later; next hop said: 550 5\.1\.1 <nobody@example\.net>: Recipient address rejected: No such user here' \
	"Postfix: a mix of accepted and refused recipients is 451 for the whole message"
like "$(last_log)" 'status=deferred detail="refused 1 of 2 recipients at RCPT TO' "Postfix: the log line says deferred"
if wait_until 5 grep -q 'lost connection after RCPT' "$POSTFIX_LOG"; then
	ok "Postfix: the shim hung up before DATA"
else
	not_ok "Postfix: the shim hung up before DATA" "$(tail -5 "$POSTFIX_LOG")"
fi
unlike "$(cat "$POSTFIX_LOG")" 'qmgr.*from=<a@example\.org>' "Postfix: the message was not queued for anyone"

out=$(swaks_to nobody@example.net)
like "$out" '^<\*\* 550 5\.1\.1 next hop said: <nobody@example\.net>: Recipient address rejected: No such user here' "Postfix: its only recipient refused for good is 550"

out=$(swaks --server "127.0.0.1:$SHIM_PORT" --from data@example.org --to b@example.net --timeout 20 2>&1)
like "$out" '^<\*\* 554 5\.7\.1 next hop said: <data@example\.org>: Sender address rejected' \
	"Postfix: DATA refused for good is mirrored"
like "$(last_log)" 'status=refused detail="refused at DATA: 554 5\.7\.1' "Postfix: the log line says refused at DATA"

out=$(swaks_to b@example.net)
like "$out" '^<-  250 2\.0\.0 Ok: queued as' "Postfix: a message it takes is 250"
is "$(files_in "$spool")" 0 "nothing is left in the spool"
done_testing
