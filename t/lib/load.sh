# load.sh - helpers for the load tests: how long to run, and what a running
# process holds (resident memory, open descriptors, threads).
#
# Source after peers.sh. MD_LOAD_SECONDS sets the load duration (default 60
# on the plain build; 20 on a sanitizer build, whose every step is several
# times slower, so that the suite stays within its time budget).

# load_seconds - how long a load phase runs.
load_seconds() {
	if [[ -n ${MD_LOAD_SECONDS:-} ]]; then
		echo "$MD_LOAD_SECONDS"
	elif [[ $MD_BUILD == *asan* ]]; then
		echo 20
	else
		echo 60
	fi
}

# rss_kb PID - resident set size in kB (0 when the process is gone).
rss_kb() {
	awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# fd_count PID - open file descriptors.
fd_count() {
	ls "/proc/$1/fd" 2>/dev/null | wc -l
}

# thread_count PID - threads.
thread_count() {
	awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# source_for SECONDS -- SMTP-SOURCE-ARGS... - run smtp-source batches until
# SECONDS have passed; prints the number of messages the batches sent. Each
# batch sends $LOAD_BATCH messages (default 1000). A batch that fails (the
# server refused or dropped a session) is reported on stderr and stops the loop.
source_for() {
	local seconds=$1 sent=0 end batch=${LOAD_BATCH:-1000}
	shift 2
	end=$(( $(date +%s) + seconds ))
	while (( $(date +%s) < end )); do
		if ! smtp-source -m "$batch" "$@" >"$PEERS_DIR/source.out" 2>&1; then
			echo "# smtp-source failed: $(tail -3 "$PEERS_DIR/source.out")" >&2
			break
		fi
		sent=$((sent + batch))
	done
	echo "$sent"
}

# check_rss_flat DESC WARM END - ok if END kB is within 10% + 4 MB of WARM
# kB. Skipped on a sanitizer build: ASan holds freed memory in quarantine on
# purpose, so its resident size grows without a leak (LeakSanitizer is what
# finds leaks there).
check_rss_flat() {
	if [[ $MD_BUILD == *asan* ]]; then
		skip "$1" "ASan's quarantine of freed memory makes RSS grow by design"
	else
		check "$1" test "$3" -le $(($2 + $2 / 10 + 4096))
	fi
}

# load_run NAME PID SESSIONS PORT [SETTLE-CMD...] - the load phases and
# their checks, for a daemon (PID, called NAME in the test lines) fed
# through 127.0.0.1:PORT into smtp-sink. The first third of load_seconds
# is warm-up (pools, allocator arenas and thread stacks reach their size);
# memory and descriptors are measured after it and again at the end.
# SETTLE-CMD, when given, must come true (up to 120 s) before the sink is
# counted (Postfix's queue draining, say). Sets LOAD_TOTAL (messages sent).
load_run() {
	local name=$1 pid=$2 sessions=$3 port=$4 seconds start warm sent took
	local warm_rss warm_fds end_rss
	shift 4
	seconds=$(load_seconds)
	start=$(date +%s)
	warm=$(LOAD_BATCH=1000 source_for $((seconds / 3)) -- -s "$sessions" -l 2048 "127.0.0.1:$port")
	sink_wait "$warm" 120
	warm_rss=$(rss_kb "$pid") warm_fds=$(fd_count "$pid")
	diag "after warm-up ($warm messages): rss ${warm_rss} kB, ${warm_fds} descriptors"
	sent=$(LOAD_BATCH=1000 source_for $((seconds - seconds / 3)) -- -s "$sessions" -l 2048 "127.0.0.1:$port")
	took=$(( $(date +%s) - start ))
	LOAD_TOTAL=$((warm + sent))
	(( $# == 0 )) || wait_until 120 "$@"
	sink_wait "$LOAD_TOTAL" 60
	end_rss=$(rss_kb "$pid")
	check "the $name is still running after ${took} s of $sessions concurrent sessions" kill -0 "$pid"
	check "it sent $LOAD_TOTAL messages" test "$sent" -gt 0 -a "$warm" -gt 0
	is "$(sink_count)" "$LOAD_TOTAL" "every message sent was delivered"
	diag "$((LOAD_TOTAL / (took > 0 ? took : 1))) messages/s; rss at the end ${end_rss} kB"
	wait_until 15 test "$(fd_count "$pid")" -le "$warm_fds"
	check_rss_flat "resident memory flat after warm-up (${warm_rss} -> ${end_rss} kB)" "$warm_rss" "$end_rss"
	check "no descriptor left open (${warm_fds} -> $(fd_count "$pid"))" \
		test "$(fd_count "$pid")" -le "$warm_fds"
}
