#!/usr/bin/env bash
# 080-startup-checks.sh - start-up fails loudly and stop leaves nothing
# behind (issue 11): -t reports a spool folder that cannot be created, a
# quarantine folder the -u user cannot write and a user that does not
# exist; start-up creates missing folders for the -u user; a failed start
# in the background prints its reason on stderr and exits 1; the socket
# gets mode 0660 and Postfix's group; a second instance does not steal the
# socket; after SIGTERM an idle milter is gone within a second, with its
# socket, its pid file and its receiver port; the shim does the same.

. "$MD_TOP/t/lib/peers.sh"
peers_init
(( EUID == 0 )) || skip_all "needs root (-u, chown)"
getent passwd nobody >/dev/null || skip_all "no user nobody"

milter=$MD_BUILD/milter-delegate
shim=$MD_BUILD/delegate-shim
dir=$PEERS_DIR/startup

# write_policy FILE SPOOL QUARANTINE RECV_PORT - a delegating policy.
write_policy() {
	cat >"$1" <<-JSON
	{
	  "settings": { "spool_dir": "$2", "quarantine_dir": "$3" },
	  "services": { "filter": { "type": "smtp",
	      "delegator": { "address": "127.0.0.1:1", "timeout": "5s" }, "receiver": "127.0.0.1:$4" } },
	  "stages": { "eom": [ { "name": "scan", "then": { "action": "delegate", "service": "filter" } } ] }
	}
	JSON
}

mkdir -p "$dir"
recv=$(free_port)

# -t: what start-up would trip over.
touch "$dir/a-file"
write_policy "$dir/nospool.json" "$dir/a-file/spool" "$dir/q" "$recv"
out=$("$milter" -t -c "$dir/nospool.json" 2>&1)
is "$?" 1 "-t: a spool folder that cannot be created fails"
like "$out" "spool folder \(settings.spool_dir\) $dir/a-file/spool: Not a directory" "... and names it and why"

mkdir -m 700 "$dir/rootq"
write_policy "$dir/rootq.json" "$dir/spool" "$dir/rootq" "$recv"
out=$("$milter" -t -c "$dir/rootq.json" -u nobody 2>&1)
is "$?" 1 "-t -u nobody: a quarantine folder nobody cannot write fails"
like "$out" "quarantine folder .* $dir/rootq: not writable by user nobody: Permission denied \(owner root:root, mode 0700\)" \
	"... and says who cannot write it, with owner and mode"
out=$("$shim" -t -c "$dir/rootq.json" -C "$MD_TOP/shim/shim.json" -u nobody 2>&1)
is "$?" 1 "delegate-shim -t reports it too"

out=$("$milter" -t -c "$dir/rootq.json" -u md-no-such-user 2>&1)
is "$?" 1 "-t: an unknown -u user fails"
like "$out" "unknown user md-no-such-user" "... and says so"

write_policy "$dir/ok.json" "$dir/spool" "$dir/q" "$recv"
out=$("$milter" -t -c "$dir/ok.json" -u nobody -p "unix:$dir/run/milter.sock" 2>&1)
is "$?" 0 "-t: missing folders that start-up can create pass"
check "... and -t creates nothing" test ! -e "$dir/spool" -a ! -e "$dir/q" -a ! -e "$dir/run"

# A failed start in the background: the reason on stderr, exit 1.
start_slow_filter 0 1 "$(free_port)" || bail_out "slow_filter did not start"
write_policy "$dir/busy.json" "$dir/busy-spool" "$dir/busy-q" "$SLOW_FILTER_PORT"
out=$(timeout 20 "$milter" -c "$dir/busy.json" -p "unix:$dir/busy/milter.sock" 2>&1 </dev/null)
rc=$?
is "$rc" 1 "a background start whose receiver port is taken exits 1"
like "$out" "cannot listen on 127\.0\.0\.1:$SLOW_FILTER_PORT: Address already in use" \
	"... and prints why on stderr"
out=$(timeout 20 "$shim" -c "$dir/busy.json" -C "$MD_TOP/shim/shim.json" 2>&1 </dev/null)
is "$?" 1 "delegate-shim in the background: the same"
like "$out" "Address already in use" "... with the reason on stderr"

# A good start in the background, as user nobody.
run=$dir/run
sock=$run/milter.sock
pidfile=$run/milter.pid
out=$(timeout 20 "$milter" -c "$dir/ok.json" -u nobody -p "unix:$sock" -P "$pidfile" 2>&1 </dev/null)
is "$?" 0 "a background start exits 0 once the milter is ready"
pid=$(cat "$pidfile" 2>/dev/null)
check "... its pid file names a running process" test -n "$pid" -a -d "/proc/$pid"
is "$(stat -c '%U %a' "$dir/spool" "$dir/q" 2>/dev/null | tr '\n' ' ')" "nobody 700 nobody 700 " \
	"start-up created the spool and quarantine folders, nobody's, 0700"
is "$(stat -c '%F %U %G %a' "$sock" 2>/dev/null)" "socket nobody postfix 660" \
	"the socket is nobody's, group postfix, mode 0660"
out=$(timeout 20 "$milter" -c "$dir/ok.json" -u nobody -p "unix:$sock" 2>&1 </dev/null)
is "$?" 1 "a second milter on the same socket refuses to start"
like "$out" "a running program answers on it" "... and says why"
check "... and the first one's socket is still there" test -S "$sock"

[[ -n $pid ]] || bail_out "no milter to stop"
start=$(date +%s%N)
kill -TERM "$pid"
wait_until 5 pid_gone "$pid"
ms=$(( ($(date +%s%N) - start) / 1000000 ))    # exited: a zombie counts (init reaps it)
check "an idle milter stops within a second of SIGTERM ($ms ms)" test "$ms" -lt 1000
is "$(ls -A "$run")" "" "nothing is left in the socket folder (socket, pid file)"
check "the receiver port is free again" test "$(port_listening "$recv" && echo bound)" = ""

# The shim: background start as nobody, SIGTERM, the pid file is gone.
shimrun=$dir/shimrun
mkdir -p "$shimrun" "$dir/maildir"
chown nobody "$shimrun" "$dir/maildir"
shim_port=$(free_port)
sed -e "s|127.0.0.1:2525|127.0.0.1:$shim_port|" -e "s|/var/mail/delegate-shim|$dir/maildir|" \
	"$MD_TOP/shim/shim.json" >"$dir/shim.json"
out=$(timeout 20 "$shim" -c "$dir/ok.json" -C "$dir/shim.json" -u nobody -P "$shimrun/shim.pid" 2>&1 </dev/null)
is "$?" 0 "delegate-shim starts in the background as nobody"
pid=$(cat "$shimrun/shim.pid" 2>/dev/null)
[[ -n $pid ]] || bail_out "no shim to stop: $out"
kill -TERM "$pid"
wait_until 5 pid_gone "$pid"
check "... stops at SIGTERM" pid_gone "$pid"
is "$(ls -A "$shimrun")" "" "... and removes its pid file"

done_testing
