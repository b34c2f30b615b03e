#!/usr/bin/env bash
# 048-sendmail.sh - milter-delegate under a real Sendmail (8.17, Debian's
# sendmail-bin unpacked by contrib/fetch-sendmail.sh, never installed: it
# conflicts with postfix). A private "sendmail -bD" on a loopback port uses
# the INPUT_MAIL_FILTER line of contrib/sendmail.mc (F=T and its timeouts)
# with the socket replaced by the test's, and relays to smtp-sink. Checked:
# a rcpt reject refuses only that recipient; an eom reject gives the policy's
# code, status and text; add_header reaches the delivered message; the
# delegation to the real clamsmtpd + clamd delivers clean mail with
# X-Virus-Scanned and quarantines EICAR in virus_q; Sendmail passes the
# macros the milter asks for (its queue id is in the milter's log); a
# delegation slower than R:10s is kept alive by progress notifications; with
# the milter stopped, F=T makes Sendmail tempfail (4xx).

. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/sendmail.sh"
peers_init
peers_require swaks clamd clamsmtpd smtp-sink
sendmail_require

milter=$MD_BUILD/milter-delegate
policy=$PEERS_DIR/policy.json
log=$PEERS_DIR/milter.log
quarantine=$PEERS_DIR/quarantine
sock=$PEERS_DIR/milter.sock
mkdir -p "$PEERS_DIR/spool" "$quarantine"

start_clamd || bail_out "clamd did not start"
start_sink || bail_out "smtp-sink did not start"
recv_port=$(free_port)
start_clamsmtpd pass "$recv_port" || bail_out "clamsmtpd did not start"

# A filter slower than Sendmail's R:10s: smtp-sink waiting 12 s before its
# 354 reply to DATA (and then sending no copy back).
slow_port=$(free_port)
smtp-sink -u nobody -4 -w 12 "127.0.0.1:$slow_port" 16 </dev/null >"$PEERS_DIR/slow.log" 2>&1 &
peers_track "$!"
wait_started "$!" 10 port_listening "$slow_port" || bail_out "the slow smtp-sink did not start"

cat >"$policy" <<EOF
{
  "comment": "048-sendmail.sh: a rcpt reject, an eom reject, header edits, a filter slower than R:10s, then the antivirus delegation.",
  "settings": { "spool_dir": "$PEERS_DIR/spool", "quarantine_dir": "$quarantine" },
  "services": {
    "clamsmtpd": { "type": "smtp",
                   "delegator": { "address": "127.0.0.1:$CLAMSMTPD_PORT", "timeout": "30s" },
                   "receiver": "127.0.0.1:$recv_port" },
    "slow": { "type": "smtp",
              "delegator": { "address": "127.0.0.1:$slow_port", "timeout": "30s" },
              "receiver": "127.0.0.1:$(free_port)" }
  },
  "stages": {
    "rcpt": [
      { "name": "retired mailbox", "if": { "recipient": "old@example.com" },
        "then": { "action": "reject", "code": 550, "status": "5.1.1", "text": "Mailbox retired" } }
    ],
    "eom": [
      { "name": "reject percent", "if": { "header": "X-Test-Reject" },
        "then": { "action": "reject", "code": 554, "status": "5.7.0", "text": "Refused 100% sure" } },
      { "name": "edit", "if": { "header": "X-Test-Edit" },
        "then": [ { "action": "add_header", "name": "X-Added", "value": "yes" },
                  { "action": "remove_header", "name": "X-Remove" } ] },
      { "name": "slow filter", "if": { "header": "X-Test-Slow" },
        "then": { "action": "delegate", "service": "slow",
                  "on_missing": { "action": "reject", "code": 550, "status": "5.7.1",
                                  "text": "The slow filter sent no copy" } } },
      { "name": "check email for virus",
        "then": { "action": "delegate", "service": "clamsmtpd",
                  "import_headers": ["X-Virus-Scanned"],
                  "rules": [
                    { "name": "virus found", "if": { "header": "X-Virus-Infected" },
                      "then": { "action": "quarantine", "folder": "virus_q",
                                "reason": "clamsmtpd found a virus" } } ] } }
    ]
  }
}
EOF
"$milter" -t -c "$policy" >/dev/null || bail_out "test policy does not load"

# A unix socket (the snippet's form): Sendmail connects as root.
"$milter" -f -l debug -c "$policy" -p "unix:$sock" >"$log" 2>&1 &
milter_pid=$!
peers_track "$milter_pid"
wait_until 10 test -S "$sock" || bail_out "milter did not start: $(tail -3 "$log")"
start_sendmail "local:$sock" || bail_out "sendmail did not start"
check "the test's sendmail.cf has the snippet's flags and timeouts" \
	grep -qF "Xmilter-delegate, S=local:$sock, F=T, T=C:5m;S:10s;R:10s;E:5m" "$SENDMAIL_CF"

# send SUBJECT [swaks args...] - one message through Sendmail; prints swaks' transcript.
send() {
	local subject=$1
	shift
	swaks --server 127.0.0.1 --port "$SENDMAIL_PORT" --from sender@example.com \
		--h-Subject "$subject" --timeout 60 "$@" 2>&1
}
# queue_id TRANSCRIPT - print the id in Sendmail's "250 2.0.0 ID Message accepted".
queue_id() {
	sed -n 's/^<- *250 2\.0\.0 \([A-Za-z0-9]*\) Message accepted.*/\1/p' <<<"$1"
}
eicar=$(eicar_string)

# (a) rcpt: only the retired recipient is refused.
out=$(send rcpt-test --to one@example.net,old@example.com,two@example.net --body "three recipients")
like "$out" "<\*\* +550 5\.1\.1 <old@example\.com>\.\.\. Mailbox retired" \
	"rcpt: the policy's reject refuses old@example.com with 550 5.1.1 and its text"
like "$out" "<- +250 2\.1\.5 <one@example\.net>" "rcpt: the recipient before it is accepted"
like "$out" "<- +250 2\.1\.5 <two@example\.net>" "rcpt: the recipient after it is accepted"
like "$out" "<- +250 2\.0\.0 .*Message accepted" "rcpt: the message is accepted for the others"
id=$(queue_id "$out")
file=$(sink_wait_for "Subject: rcpt-test" 20)
if [[ -n $file ]]; then
	rcpts=$(grep '^X-Rcpt-Args:' "$file" | sed 's/^X-Rcpt-Args: //' | sort | tr '\n' ' ')
	is "$rcpts" "<one@example.net> <two@example.net> " \
		"rcpt: it is delivered to the two accepted recipients only"
	check "rcpt: ... after the delegation (X-Virus-Scanned imported)" \
		grep -q "^X-Virus-Scanned: ClamAV using ClamSMTP" "$file"
else
	not_ok "rcpt: it is delivered to the two accepted recipients only" "$(tail -5 "$log")"
fi
if [[ -n $id ]]; then
	check "Sendmail's queue id (macro i) is in the milter's log line" \
		grep -q "info: $id: client=127.0.0.1 from=<sender@example.com> rcpts=2 " "$log"
else
	not_ok "Sendmail's queue id (macro i) is in the milter's log line" "no queue id in: $out"
fi

# (b) eom reject: the policy's code, status and text ('%' intact).
sink_clear
out=$(send reject-test --to one@example.net --add-header "X-Test-Reject: 1" --body "refuse me")
like "$out" "<\*\* +554 5\.7\.0 Refused 100% sure" "eom: reject gives the policy's 554 5.7.0 and text"
sleep 0.5
check "eom: the rejected message is not delivered" test -z "$(sink_find reject-test)"

# (c) header edits reach the delivered message.
out=$(send edit-test --to one@example.net --add-header "X-Test-Edit: 1" \
	--add-header "X-Remove: secret" --body "edit me")
like "$out" "<- +250 2\.0\.0 .*Message accepted" "edit: the message is accepted"
file=$(sink_wait_for "Subject: edit-test" 20)
if [[ -n $file ]]; then
	headers=$(msg_headers "$file")
	like "$headers" "^X-Added: yes$" "edit: add_header reaches the delivered message"
	unlike "$headers" "^X-Remove:" "edit: remove_header removes the field"
	like "$headers" "^X-Virus-Scanned: ClamAV using ClamSMTP" "edit: ... together with the imported header"
else
	not_ok "edit: add_header reaches the delivered message" "$(tail -5 "$log")"
fi

# (d) delegation: clean mail delivered with X-Virus-Scanned, EICAR quarantined.
out=$(send clean-1 --to rcpt@example.net --body "Hello, this is a clean message.")
like "$out" "<- +250 2\.0\.0 .*Message accepted" "clean: the message is accepted"
file=$(sink_wait_for "Subject: clean-1" 20)
if [[ -n $file ]]; then
	ok "clean: the message is delivered to the sink"
	check "clean: it carries the imported X-Virus-Scanned header" \
		grep -q "^X-Virus-Scanned: ClamAV using ClamSMTP" "$file"
	check "clean: the correlation header does not leak into the delivered message" \
		bash -c "! grep -qi '^X-Delegate-Id' '$file'"
	check "clean: the body is intact" grep -q "Hello, this is a clean message." "$file"
else
	not_ok "clean: the message is delivered to the sink" "$(tail -5 "$log")"
fi

out=$(send eicar-inline --to rcpt@example.net --body "$eicar")
like "$out" "<- +250 2\.0\.0 .*Message accepted" "eicar: accepted by Sendmail (then discarded)"
id=$(queue_id "$out")
wait_until 10 bash -c "ls '$quarantine'/virus_q/*.json >/dev/null 2>&1"
meta=$(ls "$quarantine"/virus_q/*.json 2>/dev/null | head -1)
if [[ -n $meta ]] && grep -q '"rule": "virus found"' "$meta" && [[ -f ${meta%.json}.eml ]]; then
	ok "eicar: the message is in virus_q (.eml + .json)"
	check "eicar: the metadata names the sender" grep -q '"sender": "sender@example.com"' "$meta"
	check "eicar: the metadata has Sendmail's queue id" grep -q "\"$id\"" "$meta"
	# The .eml is what would have been delivered (the original plus the
	# imported fields); the metadata lists what clamsmtpd added.
	check "eicar: the metadata carries clamsmtpd's X-Virus-Infected" \
		grep -q '"X-Virus-Infected": "Virus Detected!"' "$meta"
else
	not_ok "eicar: the message is in virus_q (.eml + .json)" "$(ls -lR "$quarantine")" "$(tail -5 "$log")"
fi
sleep 0.5
check "eicar: the infected message is not delivered" test -z "$(sink_find eicar-inline)"
is "$(sendmail_queue_count)" 0 "nothing is left in Sendmail's queue"

# A delegation longer than R:10s: the progress notifications keep Sendmail
# waiting, so the client gets the policy's verdict, not Sendmail's timeout
# (451 4.3.2 with F=T).
start=$SECONDS
out=$(send slow-test --to rcpt@example.net --add-header "X-Test-Slow: 1" --body "take your time")
like "$out" "<\*\* +550 5\.7\.1 The slow filter sent no copy" \
	"a 12 s delegation outlives R:10s: the client gets the policy's verdict"
check "... after more than 10 s" test $((SECONDS - start)) -ge 11
check "no progress notification failed" bash -c "! grep -q 'smfi_progress failed' '$log'"

# (e) milter stopped: F=T in the snippet makes Sendmail tempfail.
kill -TERM "$milter_pid"
wait_until 10 pid_gone "$milter_pid"
sink_clear
out=$(send milter-down --to rcpt@example.net --body "hello")
like "$out" "<\*\* +451 4\.3\.2 " "milter stopped: Sendmail tempfails with 451 4.3.2 (F=T)"
unlike "$out" "Message accepted" "milter stopped: nothing is accepted unscanned"

stop_sendmail
done_testing
