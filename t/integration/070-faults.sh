#!/usr/bin/env bash
# 070-faults.sh - what happens when things break around the milter:
# a receiver port already taken at start, a world-writable policy, a
# quarantine folder that cannot be written and a full disk (tempfail, never
# accept), a filter killed in the middle of a delegation, and the drop of
# root privileges (-u). SIGTERM under load is 072.

. "$MD_TOP/t/lib/peers.sh"
peers_init
peers_require miltertest swaks postfix

milter=$MD_BUILD/milter-delegate
scripts=$MD_TOP/t/integration/faults
mkdir -p "$PEERS_DIR/spool"

# write_policy FILE QUARANTINE_DIR FILTER_PORT RECV_PORT - the test policy.
write_policy() {
	cat >"$1" <<-JSON
	{
	  "settings": { "spool_dir": "$PEERS_DIR/spool", "quarantine_dir": "$2" },
	  "services": { "filter": { "type": "smtp",
	      "delegator": { "address": "127.0.0.1:$3", "timeout": "20s" }, "receiver": "127.0.0.1:$4" } },
	  "stages": { "eom": [
	    { "name": "to folder", "if": { "header": { "name": "X-Case", "value": "folder" } },
	      "then": { "action": "quarantine", "folder": "q", "reason": "fault test" } },
	    { "name": "delegate", "if": { "header": { "name": "X-Case", "value": "delegate" } },
	      "then": { "action": "delegate", "service": "filter" } }
	  ] }
	}
	JSON
}

# start_milter POLICY LOG - the milter on a unix socket in $PEERS_DIR; sets milter_pid, sock.
start_milter() {
	sock=$PEERS_DIR/milter-$RANDOM.sock
	"$milter" -f -l debug -c "$1" -p "unix:$sock" >"$2" 2>&1 &
	milter_pid=$!
	peers_track "$milter_pid"
	wait_until 10 test -S "$sock"
}

# expect_reply DESC CASE CODE ECODE TEXT - a miltertest message gets that reply.
expect_reply() {
	local out
	out=$(miltertest -D sock="unix:$sock" -D dir="$scripts" -D case="$2" -D code="$3" \
		-D ecode="$4" -D reply="$5" -s "$scripts/eom_reply.lua" 2>&1)
	if [[ $out == ok ]]; then ok "$1"; else not_ok "$1" "$out"; fi
}

# 1. The receiver's port is taken: a clear error and a non-zero exit.
start_slow_filter 0 1 || bail_out "slow_filter did not start"
busy_port=$SLOW_FILTER_PORT
write_policy "$PEERS_DIR/busy.json" "$PEERS_DIR/quarantine" "$(free_port)" "$busy_port"
out=$(timeout 20 "$milter" -f -c "$PEERS_DIR/busy.json" -p "unix:$PEERS_DIR/busy.sock" 2>&1)
rc=$?
check "receiver port taken: the milter exits non-zero (status $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
like "$out" "cannot listen on 127\.0\.0\.1:$busy_port: Address already in use" \
	"... and says which address is taken"

# 2. A world-writable policy is refused.
write_policy "$PEERS_DIR/open.json" "$PEERS_DIR/quarantine" 1 "$(free_port)"
chmod 666 "$PEERS_DIR/open.json"
out=$("$milter" -t -c "$PEERS_DIR/open.json" 2>&1)
rc=$?
check "a world-writable policy is refused (status $rc)" test "$rc" -eq 1
like "$out" "refusing a world-writable policy file" "... with the reason"

# 3. A quarantine folder that cannot be written: tempfail, never accept.
# Start-up refuses such a folder (081-startup-checks), so it breaks after the start.
recv_port=$(free_port) filter_port=$(free_port)
mkdir "$PEERS_DIR/not-a-dir"
write_policy "$PEERS_DIR/q.json" "$PEERS_DIR/not-a-dir" "$filter_port" "$recv_port"
start_milter "$PEERS_DIR/q.json" "$PEERS_DIR/q.log" || bail_out "milter did not start"
rmdir "$PEERS_DIR/not-a-dir" && touch "$PEERS_DIR/not-a-dir"
expect_reply "quarantine folder unwritable: 451 4.7.1 (fail-safe)" folder 451 4.7.1 \
	"Try again later"
check "the log says why the copy could not be written" grep -q "not-a-dir" "$PEERS_DIR/q.log"

# 4. A filter killed while the message is with it: on_error, 451.
start_slow_filter 3000 "$recv_port" "$filter_port" || bail_out "slow_filter did not start"
( sleep 1; kill -KILL "$SLOW_FILTER_PID" ) &
expect_reply "filter killed mid-delegation: 451 4.7.1 (on_error)" delegate 451 4.7.1 \
	"Content filter unavailable, try again later"
check "the log names the failed delegation" grep -q "result=error" "$PEERS_DIR/q.log"
kill -TERM "$milter_pid"
wait_until 10 pid_gone "$milter_pid"

# 5. -u: root is dropped once the socket is open; the work still gets done.
nobody_uid=$(id -u nobody)
mkdir -p "$PEERS_DIR/priv/spool" "$PEERS_DIR/priv/quarantine" "$PEERS_DIR/priv/sock"
chown -R nobody "$PEERS_DIR/priv"
sed -e "s|$PEERS_DIR/spool|$PEERS_DIR/priv/spool|" -e "s|$PEERS_DIR/not-a-dir|$PEERS_DIR/priv/quarantine|" \
	"$PEERS_DIR/q.json" >"$PEERS_DIR/priv.json"
sock=$PEERS_DIR/priv/sock/milter.sock
"$milter" -f -u nobody -c "$PEERS_DIR/priv.json" -p "unix:$sock" >"$PEERS_DIR/priv.log" 2>&1 &
milter_pid=$!
peers_track "$milter_pid"
wait_until 10 test -S "$sock" || bail_out "milter -u nobody did not start: $(tail -3 "$PEERS_DIR/priv.log")"
wait_until 5 grep -q "running as user nobody" "$PEERS_DIR/priv.log"
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$milter_pid/status")
is "$uids" "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" "-u nobody: every uid of the process is nobody's"
out=$(miltertest -D sock="unix:$sock" -D dir="$scripts" -D case=folder -s "$scripts/eom_discard.lua" 2>&1)
is "$out" ok "... and it still quarantines a message"
eml=$(ls "$PEERS_DIR"/priv/quarantine/q/*.eml 2>/dev/null | head -1)
check "... into a file owned by nobody, mode 0600" \
	test -n "$eml" -a "$(stat -c '%U %a' "$eml" 2>/dev/null)" = "nobody 600"
kill -TERM "$milter_pid"
wait_until 10 pid_gone "$milter_pid"

# 6. A full disk: the spool cannot be written, tempfail (needs a tmpfs mount).
full=$PEERS_DIR/full
mkdir -p "$full"
if mount -t tmpfs -o size=64k tmpfs "$full" 2>/dev/null; then
	peers_track_mount "$full"      # unmounted even if the test stops early
	mkdir "$full/spool" "$full/quarantine"
	head -c 60000 /dev/zero >"$full/filler" 2>/dev/null
	sed -e "s|$PEERS_DIR/spool|$full/spool|" "$PEERS_DIR/q.json" |
		sed -e "s|$PEERS_DIR/not-a-dir|$full/quarantine|" >"$PEERS_DIR/full.json"
	start_milter "$PEERS_DIR/full.json" "$PEERS_DIR/full.log" || bail_out "milter did not start"
	expect_reply "disk full: 451 4.7.1 (fail-safe)" folder 451 4.7.1 \
		"Try again later"
	kill -TERM "$milter_pid"
	wait_until 10 pid_gone "$milter_pid"
	umount "$full"
else
	skip "disk full: 451 4.7.1 (fail-safe)" "cannot mount a small tmpfs here (not permitted)"
fi

done_testing
