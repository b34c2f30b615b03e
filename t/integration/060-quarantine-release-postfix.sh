#!/usr/bin/env bash
# 060-quarantine-release-postfix.sh - milter-delegate-quarantine with the
# real programs: a private Postfix with the milter, clamsmtpd and clamd
# (the default antivirus policy plus a rule that quarantines a known
# subject), and a second smtpd on a re-injection port without milters (the
# master.cf lines of the README). A quarantined message is listed, shown,
# released to the re-injection port and reaches the sink exactly once with
# its original envelope, not quarantined again; released again only with
# --force; released with the MTA down or refusing it stays, exit 1; two
# releases at once deliver once; a release through Postfix's sendmail; a
# release with a one-time token through the milter itself, and its replay.
set -u
. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/quarantine.sh"
peers_init
peers_require swaks clamd clamsmtpd postfix jq

milter=$MD_BUILD/milter-delegate
tool=$MD_BUILD/milter-delegate-quarantine
policy=$PEERS_DIR/policy.json
log=$PEERS_DIR/milter.log
quarantine=$PEERS_DIR/quarantine
mkdir -p "$PEERS_DIR/spool"

start_clamd || bail_out "clamd did not start"
start_sink || bail_out "smtp-sink did not start"
recv_port=$(free_port)
start_clamsmtpd pass "$recv_port" || bail_out "clamsmtpd did not start"
reinject_port=$(free_port)

quarantine_policy "$policy" "$recv_port" "$quarantine" "$PEERS_DIR/spool" "127.0.0.1:$reinject_port"
"$milter" -t -c "$policy" >/dev/null || bail_out "test policy does not load"

milter_port=$(free_port)
"$milter" -f -c "$policy" -p "inet:$milter_port@127.0.0.1" >"$log" 2>&1 &
milter_pid=$!
peers_track "$milter_pid"
wait_port 127.0.0.1 "$milter_port" 10 || bail_out "milter did not start: $(tail -3 "$log")"
POSTFIX_EXTRA_MASTER_CF="127.0.0.1:$reinject_port inet n - n - - smtpd
  -o smtpd_milters=
  -o receive_override_options=no_milters,no_header_body_checks,no_unknown_recipient_checks
  -o smtpd_client_restrictions=
  -o mynetworks=127.0.0.0/8
  -o smtpd_recipient_restrictions=permit_mynetworks,reject"
start_postfix "inet:127.0.0.1:$milter_port" || bail_out "postfix did not start"
wait_port 127.0.0.1 "$reinject_port" 10 || bail_out "the re-injection smtpd does not listen"

q() { "$tool" -c "$policy" "$@"; }

# quarantine NAME - a message that the rule quarantines, through Postfix; prints its id.
quarantine() { quarantine_send "$POSTFIX_PORT" "$1"; }

# sink_count_of TEXT - how many sink messages contain TEXT.
sink_count_of() {
	local n
	n=$(sink_find "$1" 2>/dev/null | wc -l)
	echo "$n"
}

id=$(quarantine one)
if [[ -n $id ]]; then
	ok "the message with the known subject is quarantined ($id)"
else
	bail_out "nothing quarantined: $(tail -5 "$log")"
fi
sleep 1
is "$(sink_count_of 'quarantine-me one')" 0 "it was not delivered"
like "$(cat "$log")" "quarantine=$id" "the milter's per-message log line names the quarantine id"
line=$(q list | grep "^$id")
like "$line" "subject_q	<sender@example.com>	rcpt1@example.net,rcpt2@example.org	[0-9]+	known subject	test subject	quarantined$" \
	"list shows it: folder, sender, recipients, size, rule, reason, status"
is "$(q list --json | jq -r --arg id "$id" '.[] | select(.id == $id) | .recipients | length')" 2 \
	"list --json parses with jq and has both recipients"
shown=$(q show "$id")
like "$shown" "^rule: known subject" "show prints the metadata"
like "$shown" "^Subject: quarantine-me one" "show prints the message's header"
unlike "$shown" "body of one" "show does not print the body"
like "$(q show --raw "$id")" "body of one" "show --raw prints the whole message"

out=$(q release "$id" 2>&1)
is "$?" 0 "release exits 0"
like "$out" "released to smtp 127.0.0.1:$reinject_port for 2 recipients: 250" "release says where it went"
if msg=$(sink_wait_for "quarantine-me one" 20); then
	ok "the released message reaches the sink"
	quarantine_check_envelope "$msg"
	like "$(cat "$msg")" "^X-Virus-Scanned: ClamAV" "the stored copy carries the imported header"
else
	not_ok "the released message reaches the sink" "$(tail -5 "$POSTFIX_LOG")"
fi
sleep 2
is "$(sink_count_of 'quarantine-me one')" 1 "exactly once"
is "$(ls "$quarantine"/subject_q/*.json | wc -l)" 1 "not quarantined again (the re-injection port has no milter)"
like "$(q list | grep "^$id")" "released$" "list after: released"
is "$(q show --json "$id" | jq -r '.released[0].to')" "smtp 127.0.0.1:$reinject_port" \
	"the metadata says where it went"
is "$(q show --json "$id" | jq -r '.released[0].by')" "root" "... and who released it"

out=$(q release "$id" 2>&1)
is "$?" 1 "a second release without --force fails"
like "$out" "was released at .* --force releases it again" "... and says why"
out=$(q release --force "$id" 2>&1)
is "$?" 0 "with --force it is released again"
wait_until 20 test "$(sink_count_of 'quarantine-me one')" -ge 2
is "$(sink_count_of 'quarantine-me one')" 2 "... once more"
is "$(q show --json "$id" | jq '.released | length')" 2 "two release records"

# The MTA down: nothing listens on the port.
id2=$(quarantine two)
dead=$(free_port)
out=$(q release --to "127.0.0.1:$dead" "$id2" 2>&1)
is "$?" 1 "release with the MTA down exits 1"
like "$out" "not released, it stays in the quarantine: smtp 127.0.0.1:$dead failed: .*connect" \
	"... and says why"
like "$(q list | grep "^$id2")" "quarantined$" "... and it stays quarantined"

# The MTA refuses: an smtp-sink that answers 554 to the data.
refuse_port=$(free_port)
mkdir -p "$PEERS_DIR/refuse" && chown nobody "$PEERS_DIR/refuse"
smtp-sink -u nobody -4 -f . -B '554 5.7.1 Not today' "127.0.0.1:$refuse_port" 16 \
	</dev/null >"$PEERS_DIR/refuse.log" 2>&1 &
peers_track $!
wait_port 127.0.0.1 "$refuse_port" 10 || bail_out "refusing smtp-sink did not start"
out=$(q release --to "127.0.0.1:$refuse_port" "$id2" 2>&1)
is "$?" 1 "release refused by the MTA exits 1"
like "$out" "not released, it stays in the quarantine: .*554 5.7.1 Not today" "... quoting the refusal"
like "$(q list | grep "^$id2")" "quarantined$" "... and it stays quarantined"

# Two releases at once: one delivery.
q release "$id2" >"$PEERS_DIR/r1.out" 2>&1 &
r1=$!
q release "$id2" >"$PEERS_DIR/r2.out" 2>&1 &
r2=$!
wait "$r1"; s1=$?
wait "$r2"; s2=$?
is "$((s1 + s2))" 1 "of two concurrent releases one succeeds, one fails"
like "$(cat "$PEERS_DIR/r1.out" "$PEERS_DIR/r2.out")" "being released or deleted by another process|was released at" \
	"the other says why"
sink_wait_for "quarantine-me two" 20 >/dev/null
sleep 2
is "$(sink_count_of 'quarantine-me two')" 1 "the message was delivered once"

# Without the re-injection port the milter sees the release and quarantines it again.
out=$(q release --force --to "127.0.0.1:$POSTFIX_PORT" "$id2" 2>&1)
is "$?" 0 "a release into the milter's own smtpd is accepted"
wait_until 20 test "$(ls "$quarantine"/subject_q/*.json | wc -l)" -ge 3
is "$(ls "$quarantine"/subject_q/*.json | wc -l)" 3 \
	"... and quarantined again: releases belong on a port without milters"

# A one-time token: released into the milter's own smtpd, not quarantined again.
id4=$(quarantine four)
n=$(ls "$quarantine"/subject_q/*.json | wc -l)
out=$(q release --token --to "127.0.0.1:$POSTFIX_PORT" "$id4" 2>&1)
is "$?" 0 "release --token into the milter's smtpd exits 0"
if msg=$(sink_wait_for "quarantine-me four" 20); then
	ok "the message released with a token reaches the sink"
	sleep 1
	is "$(ls "$quarantine"/subject_q/*.json | wc -l)" "$n" "... not quarantined again"
	like "$(cat "$log")" "quarantine skipped: a release with a live token" "the milter says why"
	is "$(q show --json "$id4" | jq 'has("release_token")')" false "the token is gone from the metadata"
	field=$(grep -m1 '^X-Milter-Delegate-Release:' "$msg" | tr -d '\r')
	like "$field" "^X-Milter-Delegate-Release: $id4 [0-9a-f]{32}$" "the message carried the release field"
	# A replay of the same field: the token is void now.
	swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --from sender@example.com \
		--to rcpt1@example.net --h-Subject "quarantine-me replay" \
		--header "$field" --timeout 60 >/dev/null 2>&1
	wait_until 20 test "$(ls "$quarantine"/subject_q/*.json | wc -l)" -gt "$n"
	is "$(ls "$quarantine"/subject_q/*.json | wc -l)" "$((n + 1))" "a replayed release field does not get through"
else
	not_ok "the message released with a token reaches the sink" "$out" "$(tail -5 "$log")"
fi

# Through Postfix's own sendmail (postdrop, pickup; no non_smtpd_milters here).
id3=$(quarantine three)
printf '#!/bin/sh\nexec /usr/sbin/sendmail -C %s "$@"\n' "$POSTFIX_DIR" >"$PEERS_DIR/sendmail"
chmod +x "$PEERS_DIR/sendmail"
out=$(q release --sendmail="$PEERS_DIR/sendmail" "$id3" 2>&1)
is "$?" 0 "release through Postfix's sendmail -G -i -f exits 0"
if msg=$(sink_wait_for "quarantine-me three" 60); then
	ok "the message released through sendmail reaches the sink"
	quarantine_check_envelope "$msg"
	like "$(cat "$msg")" "body of three" "and its body"
else
	not_ok "the message released through sendmail reaches the sink" "$out" "$(tail -5 "$POSTFIX_LOG")"
fi

out=$(q delete "$id2" 2>&1)
is "$?" 0 "delete removes a message"
check "... both its files" bash -c "! ls '$quarantine'/subject_q/$id2.* 2>/dev/null | grep -q ."

done_testing
