#!/usr/bin/env bash
# 055-list-files.sh - lists kept in list files ({"file": ...}), end to end
# through delegate-shim: -t checks them, their entries decide, SIGHUP
# re-reads a changed file, a reload whose file is world-writable is refused
# (the policy in use is kept), and a missing file is a located -t error.
set -u
. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/shim.sh"
peers_init
peers_require swaks

maildir=$PEERS_DIR/Maildir
lists=$PEERS_DIR/lists
mkdir -p "$PEERS_DIR/spool" "$lists"
printf '# blocked networks\n192.0.2.0/24\n2001:db8::/32\n' >"$lists/nets.txt"
printf '# blocked sender domains\nspam.example\n.spam.example\n' >"$lists/domains.txt"
printf 'retired@example.net\n\n# more to come\n<gone@example.net>\n' >"$lists/rcpts.txt"
chmod 644 "$lists"/*.txt
cat >"$PEERS_DIR/policy.json" <<EOF
{ "version": 1,
  "settings": { "quarantine_dir": "$PEERS_DIR/quarantine", "spool_dir": "$PEERS_DIR/spool" },
  "stages": {
    "connect": [ { "name": "blocked networks", "if": { "client_ip": { "file": "lists/nets.txt" } },
                   "then": { "action": "reject", "text": "Network blocked" } } ],
    "mail": [ { "name": "blocked senders",
                "if": { "sender": [{ "domain": { "file": "lists/domains.txt" } }, "boss@spam.test"] },
                "then": { "action": "reject", "code": 550, "status": "5.7.1", "text": "Sender blocked" } } ],
    "rcpt": [ { "name": "retired", "if": { "recipient": { "file": "$lists/rcpts.txt" } },
                "then": { "action": "reject", "code": 550, "status": "5.1.1", "text": "Mailbox retired" } } ]
  } }
EOF
shim_write_config "$PEERS_DIR/shim.json" "{ \"maildir\": \"$maildir\" }"

out=$("$MD_BUILD/delegate-shim" -t -c "$PEERS_DIR/policy.json" -C "$PEERS_DIR/shim.json" 2>&1)
like "$out" "policy.json: OK: .*, 3 list files \(6 entries\)" "-t reads the list files and counts their entries"

start_shim "$PEERS_DIR/policy.json" "$PEERS_DIR/shim.json" || bail_out "delegate-shim did not start"

# swaks_to FROM TO - one message to the shim, transcript on stdout.
swaks_to() {
	swaks --server "127.0.0.1:$SHIM_PORT" --from "$1" --to "$2" --timeout 20 2>&1
}

like "$(swaks_to a@example.org b@example.net)" '^<-  250 2\.0\.0 Ok: queued' \
	"a message no list names is accepted"
like "$(swaks_to a@mx.spam.example b@example.net)" '^<\*\* 550 5\.7\.1 Sender blocked' \
	"a sender under a listed domain is refused"
like "$(swaks_to a@example.org Gone@Example.NET)" '^<\*\* 550 5\.1\.1 Mailbox retired' \
	"a listed recipient is refused (equals: any case, brackets dropped)"

# reload_shim - SIGHUP, then wait until the shim logs the outcome.
reload_shim() {
	local n
	n=$(grep -c "policy reloaded\|reload of .* refused" "$SHIM_LOG")
	kill -HUP "$SHIM_PID"
	wait_until 5 test "$(grep -c "policy reloaded\|reload of .* refused" "$SHIM_LOG")" -gt "$n"
}

printf 'example.org\n' >>"$lists/domains.txt"
reload_shim
like "$(swaks_to a@example.org b@example.net)" '^<\*\* 550 5\.7\.1 Sender blocked' \
	"SIGHUP re-reads a changed list file"

printf '127.0.0.0/8\n' >>"$lists/nets.txt"
chmod o+w "$lists/nets.txt"
reload_shim
like "$(tail -5 "$SHIM_LOG")" "refusing a world-writable list file" "a world-writable list file is refused"
like "$(swaks_to a@other.test b@example.net)" '^<-  250 2\.0\.0 Ok: queued' \
	"and the policy in use is kept"
chmod o-w "$lists/nets.txt"
reload_shim
like "$(swaks_to a@other.test b@example.net)" 'Network blocked' \
	"once the file is fixed, a reload takes its networks"

rm "$lists/rcpts.txt"
out=$("$MD_BUILD/delegate-shim" -t -c "$PEERS_DIR/policy.json" -C "$PEERS_DIR/shim.json" 2>&1)
is "$?" 1 "-t fails when a list file is missing"
like "$out" 'policy.json:9:[0-9]+: stages.rcpt\[0\].if.recipient.file: cannot read list file .*/rcpts.txt: No such file or directory' \
	"and locates its \"file\" member"

kill -TERM "$SHIM_PID"
wait "$SHIM_PID"
is "$?" 0 "SIGTERM: the shim exits 0"
done_testing
