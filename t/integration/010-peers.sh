#!/usr/bin/env bash
# 010-peers.sh - the fixtures work, and the delegate behaves as we rely on.
#
# With the real programs (swaks -> clamsmtpd -> smtp-sink, clamd with an
# EICAR-only database, a private Postfix) this records the facts about
# clamsmtpd that milter-delegate's default policy depends on: the header it
# adds to clean mail, the header it adds to infected mail with "Action: pass",
# the replies for "drop" and "bounce", and its reply when clamd is down.

set -u
MD_TOP=${MD_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$MD_TOP/t/lib/peers.sh"

peers_require clamd clamsmtpd smtp-sink swaks postfix
peers_init

start_clamd || bail_out "clamd starts with the EICAR-only database"
start_sink || bail_out "smtp-sink starts"
start_clamsmtpd pass "$SINK_PORT" || bail_out "clamsmtpd (pass) starts"
PASS_PORT=$CLAMSMTPD_PORT
start_clamsmtpd drop "$SINK_PORT" || bail_out "clamsmtpd (drop) starts"
DROP_PORT=$CLAMSMTPD_PORT
start_clamsmtpd bounce "$SINK_PORT" || bail_out "clamsmtpd (bounce) starts"
BOUNCE_PORT=$CLAMSMTPD_PORT

# write_message NAME BODY-KIND - write $PEERS_DIR/NAME.eml with Message-ID
# <NAME@md-test.invalid>; BODY-KIND is clean, eicar (inline) or attachment.
write_message() {
	local name=$1 kind=$2
	{
		printf 'From: Sender <sender@example.org>\n'
		printf 'To: rcpt@example.com\n'
		printf 'Subject: %s\n' "$name"
		printf 'Message-ID: <%s@md-test.invalid>\n' "$name"
		printf 'X-Test-Case: %s\n' "$name"
		case $kind in
		clean)
			printf '\nA clean test message.\n'
			;;
		eicar)
			printf '\n%s\n' "$(eicar_string)"
			;;
		attachment)
			printf 'MIME-Version: 1.0\n'
			printf 'Content-Type: multipart/mixed; boundary="b1"\n\n'
			printf -- '--b1\nContent-Type: text/plain\n\nSee attachment.\n\n'
			printf -- '--b1\nContent-Type: application/octet-stream; name="eicar.com"\n'
			printf 'Content-Transfer-Encoding: base64\n'
			printf 'Content-Disposition: attachment; filename="eicar.com"\n\n'
			eicar_string | base64
			printf -- '--b1--\n'
			;;
		esac
	} >"$PEERS_DIR/$name.eml"
}

# send PORT NAME - send $PEERS_DIR/NAME.eml with swaks; the transcript goes
# to $PEERS_DIR/NAME.log and into $TRANSCRIPT.
send() {
	swaks --server "127.0.0.1:$1" --helo client.md-test.invalid \
		--from sender@example.org --to rcpt@example.com \
		--timeout 30 --data "@$PEERS_DIR/$2.eml" \
		</dev/null >"$PEERS_DIR/$2.log" 2>&1
	TRANSCRIPT=$(<"$PEERS_DIR/$2.log")
}

# reply_to_dot - print the server's reply to the final dot of DATA.
reply_to_dot() {
	sed -n '/^ *-> \.$/{n;s/^<[-*~]* *//p;q}' <<<"$TRANSCRIPT"
}

# last_header FILE - print the last header field's first line.
last_header() {
	msg_headers "$1" | grep -v '^[[:space:]]' | tail -n 1
}

# (a) A clean message passes, marked as scanned, with its Message-ID intact.
write_message clean clean
send "$PASS_PORT" clean
if msg=$(sink_wait_for '<clean@md-test.invalid>' 5); then
	headers=$(msg_headers "$msg")
	if [[ $(last_header "$msg") == 'X-Virus-Scanned: ClamAV using ClamSMTP' &&
	      $(grep -ci '^Message-ID:' <<<"$headers") == 1 ]] &&
	   grep -qx 'Message-ID: <clean@md-test.invalid>' <<<"$headers"; then
		ok "clean: arrives with X-Virus-Scanned last and its own Message-ID"
	else
		not_ok "clean: arrives with X-Virus-Scanned last and its own Message-ID" "$headers"
	fi
else
	not_ok "clean: arrives with X-Virus-Scanned last and its own Message-ID" \
		"not at the sink; transcript:" "$TRANSCRIPT"
fi

# (b) With Action: pass, inline EICAR arrives marked as infected.
write_message eicar-body eicar
send "$PASS_PORT" eicar-body
if msg=$(sink_wait_for '<eicar-body@md-test.invalid>' 5); then
	headers=$(msg_headers "$msg")
	if grep -qx 'X-Virus-Infected: Virus Detected!' <<<"$headers" &&
	   ! grep -qi '^X-Virus-Scanned:' <<<"$headers"; then
		ok "pass: inline EICAR arrives with X-Virus-Infected (no X-Virus-Scanned)"
	else
		not_ok "pass: inline EICAR arrives with X-Virus-Infected (no X-Virus-Scanned)" "$headers"
	fi
else
	not_ok "pass: inline EICAR arrives with X-Virus-Infected (no X-Virus-Scanned)" \
		"not at the sink; transcript:" "$TRANSCRIPT"
fi

# (c) EICAR as a base64 MIME attachment is found too (clamd decodes MIME).
write_message eicar-attachment attachment
send "$PASS_PORT" eicar-attachment
if msg=$(sink_wait_for '<eicar-attachment@md-test.invalid>' 5); then
	like "$(msg_headers "$msg")" '^X-Virus-Infected: Virus Detected!$' \
		"pass: EICAR as a base64 attachment arrives with X-Virus-Infected"
else
	not_ok "pass: EICAR as a base64 attachment arrives with X-Virus-Infected" \
		"not at the sink; transcript:" "$TRANSCRIPT"
fi

# (d) With Action: drop the client is told 250 and nothing is delivered.
# clamsmtpd answers the dot only after relaying, so no waiting is needed.
write_message eicar-drop eicar
before=$(sink_count)
send "$DROP_PORT" eicar-drop
if [[ $(reply_to_dot) == '250 Virus Detected; Discarded Email' &&
      $(sink_count) == "$before" ]]; then
	ok "drop: client gets '250 Virus Detected; Discarded Email', sink gets nothing"
else
	not_ok "drop: client gets '250 Virus Detected; Discarded Email', sink gets nothing" \
		"reply to dot: $(reply_to_dot)" "sink: $before messages before, $(sink_count) after"
fi

# (e) With Action: bounce the client is refused with 550.
write_message eicar-bounce eicar
send "$BOUNCE_PORT" eicar-bounce
like "$(reply_to_dot)" '^550 ' "bounce: client gets 550 after the dot"

# (f) Without clamd, the client is told 451 after the final dot.
stop_clamd
write_message clamd-down clean
send "$PASS_PORT" clamd-down
like "$(reply_to_dot)" '^451 ' "clamd down: client gets 451 after the dot"

# (g) A private Postfix without milter relays to the sink.
if start_postfix; then
	write_message via-postfix clean
	send "$POSTFIX_PORT" via-postfix
	if msg=$(sink_wait_for '<via-postfix@md-test.invalid>' 15); then
		like "$(msg_headers "$msg")" 'by mx\.md-test\.invalid \(Postfix\)' \
			"postfix: relays a message to the sink"
	else
		not_ok "postfix: relays a message to the sink" "transcript:" "$TRANSCRIPT" \
			"maillog:" "$(tail -n 20 "$POSTFIX_LOG" 2>/dev/null)"
	fi
else
	not_ok "postfix: relays a message to the sink" "postfix did not start"
fi

done_testing
