#!/usr/bin/env bash
# 062-quarantine-tool.sh - milter-delegate-quarantine on a quarantine made
# by hand (no daemon): bad ids, metadata that is not JSON and an .eml
# without its .json get a clear error and touch nothing; list filters and
# --json; expire removes only what is older (and --dry-run nothing);
# delete of an unknown id fails; a user who cannot read the quarantine is
# refused; release through sendmail -G -i -f gets the envelope and LF lines.
set -u
. "$MD_TOP/t/lib/peers.sh"
peers_init
peers_require jq smtp-sink

tool=$MD_BUILD/milter-delegate-quarantine
root=$PEERS_DIR/quarantine
mkdir -p "$root/virus_q" "$root/spam_q"
chmod 700 "$root" "$root/virus_q" "$root/spam_q"

# put FOLDER ID TIME RULE SENDER RCPT... - a message and its metadata, as the daemons write them.
put() {
	local folder=$1 id=$2 time=$3 rule=$4 sender=$5
	shift 5
	printf 'Subject: %s\r\nFrom: %s\r\n\r\nbody of %s\r\n' "$id" "$sender" "$id" \
		>"$root/$folder/$id.eml"
	jq -n --arg id "$id" --arg t "$time" --arg r "$rule" --arg s "$sender" --arg f "$folder" \
		'{id: $id, time: $t, queue_id: "Q", client_addr: "127.0.0.1", sender: $s,
		  recipients: $ARGS.positional, rule: $r, reason: "test", folder: $f, size: 60,
		  delegate_headers: {}}' --args "$@" >"$root/$folder/$id.json"
}
q() { "$tool" -q "$root" "$@"; }
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
old=$(date -u -d '40 days ago' +%Y-%m-%dT%H:%M:%SZ)
put virus_q 20260101T000000Z-OLD-00000001 "$old" "virus found" a@example.org b@example.net
put virus_q 20261201T000000Z-NEW-00000002 "$now" "virus found" c@example.org d@example.net e@example.net
put spam_q 20261201T000000Z-SPAM-00000003 "$now" spam x@example.com y@example.net
snapshot() { find "$root" -type f -printf '%p %s %T@\n' | sort | md5sum; }

is "$(q list | wc -l)" 3 "list: one line per message"
is "$(q list --json | jq 'length')" 3 "list --json parses with jq"
is "$(q list --json | jq -r '.[] | select(.id == "20261201T000000Z-NEW-00000002") | .recipients | join(",")')" \
	"d@example.net,e@example.net" "... with the recipients"
is "$(q list --folder spam_q | cut -f1)" 20261201T000000Z-SPAM-00000003 "--folder filters"
is "$(q list --sender C@EXAMPLE | cut -f1)" 20261201T000000Z-NEW-00000002 "--sender filters (any case)"
is "$(q list --rcpt y@ | cut -f1)" 20261201T000000Z-SPAM-00000003 "--rcpt filters"
is "$(q list --rule spam | cut -f1)" 20261201T000000Z-SPAM-00000003 "--rule filters"
is "$(q list --older-than 30d | cut -f1)" 20260101T000000Z-OLD-00000001 "--older-than filters"
is "$(q list --newer-than 1h | wc -l)" 2 "--newer-than filters"

# Bad input: a clear error, nothing touched.
before=$(snapshot)
for bad in ../virus_q/20261201T000000Z-NEW-00000002 virus_q/20261201T000000Z-NEW-00000002 \
	   .. 20261201T000000Z-NEW-00000002.json -rf ''; do
	out=$(q delete -- "$bad" 2>&1)
	is "$?" 1 "delete '$bad' fails"
	like "$out" "invalid message id" "... as an invalid id"
done
out=$(q release --to 127.0.0.1:1 ../x 2>&1)
is "$?" 1 "release of an id with .. fails"
like "$out" 'invalid message id "\.\./x"' "... as an invalid id"
is "$(snapshot)" "$before" "nothing was touched"

echo 'this is { not JSON' >"$root/spam_q/20261201T000000Z-BAD-00000004.json"
printf 'Subject: x\r\n\r\n' >"$root/spam_q/20261201T000000Z-BAD-00000004.eml"
printf 'Subject: y\r\n\r\n' >"$root/spam_q/20261201T000000Z-ORPHAN-00000005.eml"
touch -d '2 minutes ago' "$root/spam_q/20261201T000000Z-ORPHAN-00000005.eml"   # not being written
before=$(snapshot)
for cmd in show release delete; do
	out=$(q "$cmd" --to 127.0.0.1:1 20261201T000000Z-BAD-00000004 2>&1)
	is "$?" 1 "$cmd of a message whose metadata is not JSON fails"
	like "$out" "20261201T000000Z-BAD-00000004.json: not JSON \(line 1, column" "... saying so"
	out=$(q "$cmd" --to 127.0.0.1:1 20261201T000000Z-ORPHAN-00000005 2>&1)
	is "$?" 1 "$cmd of an .eml without its .json fails"
	like "$out" "20261201T000000Z-ORPHAN-00000005.eml has no metadata" "... saying so"
done
out=$(q list 2>&1 >/dev/null)
is "$?" 1 "list with a damaged message exits 1"
like "$out" "not JSON" "... naming the metadata that is not JSON"
like "$out" "ORPHAN-00000005.eml has no metadata" "... and the .eml without .json"
is "$(q list 2>/dev/null | wc -l)" 3 "... and still lists the others"
printf 'Subject: z\r\n' >"$root/spam_q/20261201T000000Z-YOUNG-00000006.eml"
unlike "$(q list 2>&1 >/dev/null)" "YOUNG" "an .eml without .json that is seconds old is being written: not reported"
rm "$root/spam_q/20261201T000000Z-YOUNG-00000006.eml"
is "$(snapshot)" "$before" "nothing was touched"

out=$(q delete 20261201T000000Z-NONE-00000009 2>&1)
is "$?" 1 "delete of an unknown id fails"
like "$out" "no message 20261201T000000Z-NONE-00000009 in the quarantine" "... clearly"

# expire: only what is older; --dry-run changes nothing.
out=$(q expire --older-than 30d --dry-run 2>/dev/null)
like "$out" "20260101T000000Z-OLD-00000001: would be expired" "expire --dry-run names the old message"
check "... and keeps it" test -f "$root/virus_q/20260101T000000Z-OLD-00000001.json"
out=$(q expire --older-than 30d 2>/dev/null)
is "$?" 0 "expire exits 0"
like "$out" "1 message expired" "expire removes one message"
check "the old message is gone" bash -c "! ls '$root'/virus_q/20260101T000000Z-OLD-* 2>/dev/null | grep -q ."
check "the newer one stays" test -f "$root/virus_q/20261201T000000Z-NEW-00000002.eml"
check "the damaged files stay" test -f "$root/spam_q/20261201T000000Z-BAD-00000004.eml"
out=$(q expire 2>&1)
is "$?" 2 "expire without --older-than is a usage error"

# Release through sendmail: a stand-in that records its arguments and input.
cat >"$PEERS_DIR/sendmail" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$PEERS_DIR/sendmail.args"
cat >"$PEERS_DIR/sendmail.in"
exit \${SENDMAIL_EXIT:-0}
EOF
chmod +x "$PEERS_DIR/sendmail"
out=$(SENDMAIL_EXIT=75 q release --sendmail="$PEERS_DIR/sendmail" 20261201T000000Z-NEW-00000002 2>&1)
is "$?" 1 "a sendmail that fails: release exits 1"
like "$out" "not released, it stays in the quarantine: sendmail .*exit status 75" "... with its exit status"
out=$(q release --sendmail="$PEERS_DIR/sendmail" 20261201T000000Z-NEW-00000002 2>&1)
is "$?" 0 "release through sendmail exits 0"
is "$(tr '\n' ' ' <"$PEERS_DIR/sendmail.args")" \
	"-G -i -f c@example.org -- d@example.net e@example.net " "sendmail -G -i -f SENDER -- RCPTS"
check "the message goes in with LF line ends" bash -c "! grep -q $'\r' '$PEERS_DIR/sendmail.in'"
like "$(cat "$PEERS_DIR/sendmail.in")" "body of 20261201T000000Z-NEW-00000002" "... whole"
like "$(q list 2>/dev/null | grep NEW-00000002)" "released$" "... and it is marked released"

out=$(q release --token --sendmail="$PEERS_DIR/sendmail" --force 20261201T000000Z-NEW-00000002 2>&1)
is "$?" 1 "--token with --sendmail is refused"
like "$out" "--token goes with SMTP releases only" "... saying why"

# A user who cannot read the quarantine is refused (the test switches to nobody: root only).
if (( EUID != 0 )); then
	skip "a user who cannot read the quarantine is refused" "needs root to run as nobody"
else
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$tool" -q "$root" list 2>&1)
	is "$?" 1 "list as a user who cannot read the quarantine exits 1"
	like "$out" "cannot read the quarantine .*: Permission denied; run this as root or as the user" \
		"... with a clear message"
	chmod 755 "$root"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$tool" -q "$root" list 2>&1)
	like "$out" "cannot read the quarantine $root/[a-z_]+: Permission denied" \
		"... also when only the folders are closed to them"
fi

done_testing
