#!/usr/bin/env bash
# 050-shim-smtp.sh - delegate-shim as an SMTP server delivering into a
# Maildir: verdicts of every kind, header edits, the SMTP protocol's errors
# and limits, pipelining, many parallel sessions, a client that vanishes in
# the middle of DATA, SIGHUP reload and SIGTERM.
set -u
. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/shim.sh"
peers_init
peers_require swaks smtp-source

maildir=$PEERS_DIR/Maildir
quarantine=$PEERS_DIR/quarantine
spool=$PEERS_DIR/spool
mkdir -p "$spool"
cat >"$PEERS_DIR/policy.json" <<EOF
{ "version": 1,
  "settings": { "quarantine_dir": "$quarantine", "spool_dir": "$spool" },
  "stages": {
    "mail": [ { "name": "blocked sender", "if": { "sender": "spammer@example.com" },
                "then": { "action": "reject", "code": 550, "status": "5.7.1", "text": "Sender blocked" } } ],
    "rcpt": [ { "name": "retired", "if": { "recipient": "old@example.net" },
                "then": { "action": "reject", "code": 550, "status": "5.1.1", "text": "Mailbox retired" } } ],
    "eom": [
      { "name": "tag", "then": [ { "action": "add_header", "name": "X-Shim-Tag", "value": "seen" },
                                 { "action": "remove_header", "name": "X-Internal" } ] },
      { "name": "hold it", "if": { "header": "X-Hold" },
        "then": { "action": "quarantine", "then": "hold", "reason": "asked to" } },
      { "name": "drop it", "if": { "header": "X-Drop" }, "then": "discard" },
      { "name": "refuse it", "if": { "header": "X-Refuse" },
        "then": { "action": "reject", "code": 554, "status": "5.7.0", "text": "Refused by policy" } }
    ] } }
EOF
shim_write_config "$PEERS_DIR/shim.json" "{ \"maildir\": \"$maildir\" }" \
	'{ "max_message_size": "64k", "max_recipients": 3 }'
start_shim "$PEERS_DIR/policy.json" "$PEERS_DIR/shim.json" || bail_out "delegate-shim did not start"

out=$("$MD_BUILD/delegate-shim" -t -c "$PEERS_DIR/policy.json" -C "$PEERS_DIR/shim.json" 2>&1)
like "$out" "shim.json: OK: listen 127.0.0.1:$SHIM_PORT, next hop maildir" "-t checks both files"

# swaks_to ARGS... - swaks to the shim, transcript on stdout.
swaks_to() {
	swaks --server "127.0.0.1:$SHIM_PORT" --from a@example.org --timeout 20 "$@" 2>&1
}

out=$(swaks_to --to b@example.net --header "X-Internal: secret" --header "Subject: clean one")
like "$out" '^<-  250 2\.0\.0 Ok: queued as [0-9A-F]+' "a clean message is accepted"
msg=$(maildir_find "$maildir" "Subject: clean one")
if [[ -n $msg ]]; then
	ok "it is in the Maildir's new/"
	hdr=$(msg_headers "$msg")
	like "$hdr" '^Received: from .* \(unknown \[127\.0\.0\.1\]\)' "it has the shim's Received field"
	like "$hdr" '^X-Shim-Tag: seen$' "add_header is applied"
	unlike "$hdr" 'X-Internal' "remove_header is applied"
	like "$hdr" '^Return-Path: <a@example.org>$' "Return-Path carries the sender"
	unlike "$(cat "$msg")" $'\r' "Maildir files have LF line ends"
else
	not_ok "it is in the Maildir's new/" "$(ls -R "$maildir")"
fi

out=$(swaks_to --to b@example.net,old@example.net --header "Subject: two rcpts")
like "$out" '^<\*\* 550 5\.1\.1 Mailbox retired' "a per-recipient reject refuses that recipient"
like "$out" '^<-  250 2\.0\.0 Ok: queued' "and the message goes to the others"
msg=$(maildir_find "$maildir" "Subject: two rcpts")
like "$(cat "$msg" 2>/dev/null)" 'for <b@example.net>' "delivered for the accepted recipient only"

out=$(swaks_to --from spammer@example.com --to b@example.net)
like "$out" '^<\*\* 550 5\.7\.1 Sender blocked' "a reject at MAIL refuses the sender"

n=$(maildir_count "$maildir")
out=$(swaks_to --to b@example.net --header "X-Drop: yes")
like "$out" '^<-  250 2\.0\.0 Ok' "discard answers 250"
out=$(swaks_to --to b@example.net --header "X-Refuse: yes")
like "$out" '^<\*\* 554 5\.7\.0 Refused by policy' "an eom reject gives the policy's reply"
out=$(swaks_to --to b@example.net --header "X-Hold: yes" --header "Subject: hold me")
like "$out" '^<-  250 2\.0\.0 Ok: held as' "hold answers 250"
check "a held message is kept in the hold folder" grep -rqF "Subject: hold me" "$quarantine/hold"
is "$(maildir_count "$maildir")" "$n" "discarded, refused and held messages are not delivered"

head -c 100000 /dev/zero | tr '\0' 'x' | fold -w 76 >"$PEERS_DIR/big.txt"
out=$(swaks_to --to b@example.net --body @"$PEERS_DIR/big.txt")
like "$out" '^<\*\* 552 5\.3\.4' "a message over max_message_size gets 552"
out=$(smtp_talk "$SHIM_PORT" "EHLO c" "MAIL FROM:<a@example.org> SIZE=900000" QUIT)
like "$out" '^552 ' "MAIL with SIZE= over the limit gets 552"
is "$(maildir_count "$maildir")" "$n" "oversize messages are not delivered"

out=$(smtp_talk "$SHIM_PORT" "EHLO client.test" "FOO bar" "MAIL FROM:bogus" \
	"RCPT TO:<b@example.net>" "MAIL FROM:<a@example.org>" "DATA" QUIT)
like "$out" '^250[- ]PIPELINING' "EHLO offers PIPELINING"
like "$out" '^250[- ]SIZE 65536' "EHLO offers SIZE with the limit"
like "$out" '^500 ' "an unknown command gets 500"
like "$out" '^501 ' "a malformed MAIL gets 501"
like "$out" '^503 ' "RCPT before MAIL gets 503"
like "$out" '^554 5\.5\.1' "DATA without a recipient is refused"

out=$(smtp_talk "$SHIM_PORT" "HELO c" "MAIL FROM:<a@example.org>" "RCPT TO:<1@example.net>" \
	"RCPT TO:<2@example.net>" "RCPT TO:<3@example.net>" "RCPT TO:<4@example.net>" QUIT)
like "$out" '^452 ' "recipients beyond max_recipients get 452"

out=$(swaks_to --to b@example.net --pipeline --header "Subject: pipelined")
like "$out" '^<-  250 2\.0\.0 Ok: queued' "a pipelined session is accepted"
check "the pipelined message is delivered" maildir_has "$maildir" "Subject: pipelined"

# A client that goes away in the middle of DATA: nothing delivered, no spool left.
n=$(maildir_count "$maildir")
(
	exec 3<>"/dev/tcp/127.0.0.1/$SHIM_PORT"
	printf 'HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n' >&3
	sleep 0.3
	printf 'Subject: vanishing\r\n\r\nhalf a body\r\n' >&3
	sleep 0.3
)
wait_until 5 grep -q "message abandoned" "$SHIM_LOG"
check "the shim notices the client left mid-DATA" grep -q "message abandoned" "$SHIM_LOG"
is "$(maildir_count "$maildir")" "$n" "nothing is delivered from an abandoned DATA"
is "$(files_in "$spool")" 0 "no spool file is left behind"

# SMTP smuggling (CVE-2023-51764): a bare <LF>.<LF> (or <LF>.<CR><LF>) inside
# DATA neither ends the message nor lets a second message with another
# sender through; by default the whole message is refused and logged.
declare -A fake_ends=([LF.LF]='\n.\n' [LF.CRLF]='\n.\r\n' [CRLF.LF]='\r\n.\n')
for name in "${!fake_ends[@]}"; do
	fake_end=${fake_ends[$name]}
	n=$(maildir_count "$maildir")
	out=$(
		exec 3<>"/dev/tcp/127.0.0.1/$SHIM_PORT"
		printf 'HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n' >&3
		sleep 0.3
		printf "Subject: carrier\r\n\r\nbody${fake_end}MAIL FROM:<evil@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: smuggled\r\n\r\nforged\r\n.\r\nQUIT\r\n" >&3
		timeout 5 cat <&3
	)
	like "$out" '^550 5\.5\.2 Error: bare <LF> received' "smuggling with <$name>: the message is refused with 550 5.5.2"
	unlike "$out" 'queued' "smuggling with <$name>: no message is accepted"
	is "$(maildir_count "$maildir")" "$n" "smuggling with <$name>: nothing is delivered"
done
check "the shim logs the bare <LF>" grep -q "bare <LF> received" "$SHIM_LOG"
unlike "$(cat "$maildir"/new/* 2>/dev/null)" 'smuggled|evil@' "no smuggled message reached the Maildir"

rm -f "$maildir"/new/*
smtp-source -s 20 -m 200 -f a@example.org -t b@example.net "127.0.0.1:$SHIM_PORT" \
	>"$PEERS_DIR/source.log" 2>&1
is "$?" 0 "smtp-source: 200 messages over 20 parallel sessions"
wait_until 10 test "$(maildir_count "$maildir")" -ge 200
is "$(maildir_count "$maildir")" 200 "all 200 are delivered"
is "$(files_in "$spool")" 0 "and the spool is empty afterwards"

# SIGHUP: a new policy that refuses every sender applies to the next message.
sed -i 's/"sender": "spammer@example.com"/"sender": { "domain": "example.org" }/' "$PEERS_DIR/policy.json"
kill -HUP "$SHIM_PID"
wait_until 5 grep -q "SIGHUP" "$SHIM_LOG"
sleep 0.2
out=$(swaks_to --to b@example.net)
like "$out" '^<\*\* 550 5\.7\.1 Sender blocked' "SIGHUP reloads the policy"
echo '{ broken' >"$PEERS_DIR/policy.json"
kill -HUP "$SHIM_PID"
sleep 0.3
out=$(swaks_to --to b@example.net)
like "$out" '^<\*\* 550 5\.7\.1 Sender blocked' "a broken policy is refused and the old one kept"

kill -TERM "$SHIM_PID"
wait "$SHIM_PID"
is "$?" 0 "SIGTERM: the shim exits 0"
done_testing
