#!/usr/bin/env bash
# 082-make-run-again.sh - "make run", Ctrl-C, "make run" again at once: it
# starts (issue 11). contrib/run-shim.sh (what "make run" runs) used to count
# connections of the first run left in TIME-WAIT as a listener on its ports
# and refused for a minute. Same three ports both times; one message in the
# first run leaves such connections behind.

. "$MD_TOP/t/lib/peers.sh"
peers_init
peers_require swaks clamd clamsmtpd

port=$(free_port) filter=$(free_port) receiver=$(free_port)

# run N - start run-shim.sh in its own session; sets run_pid, run_out.
run() {
	run_out=$PEERS_DIR/run-$1.out
	RUN_PORT=$port RUN_FILTER_PORT=$filter RUN_RECEIVER_PORT=$receiver MD_BUILD=$MD_BUILD \
		setsid "$MD_TOP/contrib/run-shim.sh" >"$run_out" 2>&1 &
	run_pid=$!
	peers_track "$run_pid"
	wait_until 30 grep -q "Press Ctrl-C" "$run_out"
}

# stop_run - SIGTERM (as Ctrl-C) and wait; remove its run directory.
stop_run() {
	local run_dir
	run_dir=$(sed -n 's/.*(run directory \(.*\))\.$/\1/p' "$run_out")
	kill -TERM "$run_pid"
	wait_until 20 pid_gone "$run_pid"
	[[ -n $run_dir ]] && rm -rf "$run_dir"
}

run 1 || bail_out "the first run did not start: $(tail -5 "$run_out")"
out=$(swaks --server "127.0.0.1:$port" --from a@example.com --to b@example.net --timeout 30 2>&1)
like "$out" "<- +250 " "the first run takes a message"
stop_run
check "the first run stopped" pid_gone "$run_pid"
if awk -v p="$(printf ':%04X ' "$port")" '$4 == "06" && (index($2 " ", p) || index($3 " ", p)) { f = 1 }
	END { exit !f }' /proc/net/tcp; then
	ok "connections of the first run are left in TIME-WAIT (the case at hand)"
else
	skip "connections of the first run are left in TIME-WAIT" "none this time"
fi
if run 2; then ok "the second run starts at once on the same ports"; else
	not_ok "the second run starts at once on the same ports" "$(tail -5 "$run_out")"; fi
out=$(swaks --server "127.0.0.1:$port" --from a@example.com --to b@example.net --timeout 30 2>&1)
like "$out" "<- +250 " "... and takes a message"
stop_run

done_testing
