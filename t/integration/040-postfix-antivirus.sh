#!/usr/bin/env bash
# 040-postfix-antivirus.sh - the reference setup end to end with the real
# programs: a private Postfix with smtpd_milters pointing at milter-delegate,
# the default policy delegating to the real clamsmtpd + clamd, delivery to
# smtp-sink. Clean mail arrives with the imported X-Virus-Scanned header;
# EICAR (inline and as a base64 attachment) lands in virus_q, then is
# discarded, held in Postfix's hold queue or rejected as the policy says;
# clamsmtpd down gives the client a 4xx; the milter down gives Postfix's
# milter_default_action (tempfail).

. "$MD_TOP/t/lib/peers.sh"
peers_init
peers_require swaks clamd clamsmtpd postfix

milter=$MD_BUILD/milter-delegate
policy=$PEERS_DIR/policy.json
log=$PEERS_DIR/milter.log
quarantine=$PEERS_DIR/quarantine
mkdir -p "$PEERS_DIR/spool" "$quarantine"

start_clamd || bail_out "clamd did not start"
start_sink || bail_out "smtp-sink did not start"
recv_port=$(free_port)
start_clamsmtpd pass "$recv_port" || bail_out "clamsmtpd did not start"

# make_policy THEN - the default policy on this test's ports and folders,
# with the quarantine's "then" set to THEN (discard, hold or reject).
make_policy() {
	sed -e "s|127.0.0.1:10026|127.0.0.1:$CLAMSMTPD_PORT|" \
	    -e "s|127.0.0.1:10025|127.0.0.1:$recv_port|" \
	    -e "s|/var/lib/milter-delegate/quarantine|$quarantine|" \
	    -e "s|/var/spool/milter-delegate|$PEERS_DIR/spool|" \
	    -e "s|\"reason\": \"clamsmtpd found a virus\"|&, \"then\": \"$1\"|" \
	    "$MD_TOP/policies/default.json" >"$policy"
}
make_policy discard
"$milter" -t -c "$policy" >/dev/null || bail_out "test policy does not load"

# An inet socket: Postfix's smtpd (user postfix) could not open a root-owned unix socket.
milter_port=$(free_port)
"$milter" -f -c "$policy" -p "inet:$milter_port@127.0.0.1" >"$log" 2>&1 &
milter_pid=$!
peers_track "$milter_pid"
wait_port 127.0.0.1 "$milter_port" 10 || bail_out "milter did not start: $(tail -3 "$log")"
start_postfix "inet:127.0.0.1:$milter_port" || bail_out "postfix did not start"

# send SUBJECT [swaks args...] - send one message through Postfix; prints swaks' transcript.
send() {
	local subject=$1
	shift
	swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --from sender@example.com \
		--to rcpt@example.net --h-Subject "$subject" --timeout 60 "$@" 2>&1
}
eicar=$(eicar_string)

out=$(send clean-1 --body "Hello, this is a clean message.")
like "$out" "<- +250 .*queued as" "a clean message is accepted"
file=$(sink_wait_for "Subject: clean-1" 20)
if [[ -n $file ]]; then
	ok "a clean message is delivered to the sink"
	check "it carries the imported X-Virus-Scanned header" \
		grep -q "^X-Virus-Scanned: ClamAV using ClamSMTP" "$file"
	check "the correlation header does not leak into the delivered message" \
		bash -c "! grep -qi '^X-Delegate-Id' '$file'"
else
	not_ok "a clean message is delivered to the sink" "$(tail -5 "$log")"
fi

sink_clear
out=$(send eicar-inline --body "$eicar")
like "$out" "<- +250 " "an infected message is accepted by Postfix (then discarded)"
wait_until 10 bash -c "ls '$quarantine'/virus_q/*.json >/dev/null 2>&1"
meta=$(ls "$quarantine"/virus_q/*.json 2>/dev/null | head -1)
if [[ -n $meta ]] && grep -q '"rule": "virus found"' "$meta" && [[ -f ${meta%.json}.eml ]]; then
	ok "the infected message is in virus_q (.eml + .json)"
	check "the metadata names the sender and the queue id" \
		grep -q '"sender": "sender@example.com"' "$meta"
	# The .eml is what would have been delivered (the original plus the
	# imported X-Virus-Scanned); the metadata lists what clamsmtpd added.
	check "the metadata carries clamsmtpd's X-Virus-Infected" \
		grep -q '"X-Virus-Infected": "Virus Detected!"' "$meta"
else
	not_ok "the infected message is in virus_q (.eml + .json)" "$(ls -lR "$quarantine")" "$(tail -5 "$log")"
fi
sleep 1
check "the infected message is not delivered" test -z "$(sink_find eicar-inline)"

attach=$PEERS_DIR/eicar.com
printf '%s' "$eicar" >"$attach"
before=$(ls "$quarantine"/virus_q/*.json | wc -l)
out=$(send eicar-attachment --body "see attachment" --attach-type application/octet-stream --attach "@$attach")
wait_until 10 test "$(ls "$quarantine"/virus_q/*.json | wc -l)" -gt "$before"
check "EICAR as a base64 attachment is quarantined too" \
	test "$(ls "$quarantine"/virus_q/*.json | wc -l)" -gt "$before"

# quarantine then hold: Postfix's hold queue.
make_policy hold
kill -HUP "$milter_pid"
wait_until 5 grep -q "policy reloaded" "$log"
out=$(send eicar-hold --body "$eicar")
like "$out" "<- +250 " "with then=hold the message is accepted"
wait_until 10 bash -c "postqueue -c '$POSTFIX_DIR' -p | grep -q '!'"
check "... and sits in Postfix's hold queue" bash -c "postqueue -c '$POSTFIX_DIR' -p | grep -q '!'"
check "Postfix logs the milter's HOLD" grep -q "milter triggers HOLD action" "$POSTFIX_LOG"

# quarantine then reject: the client sees 550.
make_policy reject
kill -HUP "$milter_pid"
wait_until 5 test "$(grep -c "policy reloaded" "$log")" -ge 2
out=$(send eicar-reject --body "$eicar")
like "$out" "<\*\* +550 5.7.1 Message refused and quarantined" "with then=reject the client gets 550 5.7.1"

# clamsmtpd down: the client keeps the message (4xx).
stop_pid "$CLAMSMTPD_PID"
out=$(send clamsmtpd-down --body "clean but the filter is down")
like "$out" "<\*\* +451 4.7.1 Content filter unavailable" "with clamsmtpd down the client gets 451 4.7.1"
check "the log names the failed delegation" grep -q "delegate=clamsmtpd result=error" "$log"

# milter down: milter_default_action = tempfail.
kill -TERM "$milter_pid"
wait_until 10 pid_gone "$milter_pid"
out=$(send milter-down --body "hello")
like "$out" "<\*\* +4[0-9][0-9] 4\.7\.1" "with the milter stopped Postfix tempfails (milter_default_action)"

done_testing
