# bench/lib.sh - helpers for bench/run.sh, on top of t/lib/peers.sh.
#
# Sourced by bench/run.sh after t/lib/peers.sh (bash only). It adds what the
# test fixtures lack for benchmarking: a Postfix that takes big messages,
# restartable between scenarios with an empty queue; clamav-milter and
# milter-delegate on unix or inet sockets; a clamsmtpd with a configurable
# MaxConnections; and the measurement itself (load, wait for the sink,
# latency percentiles, peak RSS, CPU time). Every process it starts is
# recorded with peers_track, so peers.sh's EXIT trap stops it by PID.
#
# Measurement of one row (bench_measure):
#   pass 1  smtp-source (Postfix's load generator) sends BENCH_MESSAGES
#           messages; msg/s = messages delivered at the sink / (time of the
#           last delivery - time the sender started). The time of the last
#           delivery is the newest sink file's mtime (smtp-sink writes each
#           message into its own file as it arrives), so polling granularity
#           does not enter the figure.
#   pass 2  bench/smtp-load sends the same number of messages in the same
#           shape (sessions, size, connection reuse) and times each one from
#           its start (connect, or MAIL FROM on a reused connection) to the
#           reply to the final dot: the "accept latency" a sending MTA sees,
#           which includes all milter / content-filter work. It also stamps
#           X-Bench-Sent in each message; the sink file's mtime minus that
#           stamp is the "delivery latency" (through Postfix's queue too).
#           Pass 2 gives a second msg/s figure as a cross-check.

BENCH_ROWS=()          # JSON objects, one per row
SUT_PID=               # process whose RSS / CPU a row reports
SUT_NAME=

# bench_log MSG - progress on stderr (stdout carries the table).
bench_log() {
	printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

# Postfix: peers.sh's main.cf plus $BENCH_POSTFIX_EXTRA (one setting a line).
eval "peers_postfix_main_cf() $(declare -f postfix_main_cf | tail -n +2)"
postfix_main_cf() {
	peers_postfix_main_cf "$@"
	printf '%s\n' "${BENCH_POSTFIX_EXTRA:-}"
}

# bench_postfix MILTERS - (re)start the private Postfix with an empty queue.
bench_postfix() {
	[[ -n ${POSTFIX_PID:-} ]] && stop_postfix
	rm -rf "$PEERS_DIR/postfix/queue" "$PEERS_DIR/postfix/data"
	start_postfix "$1"
}

# bench_stop_sut - stop the process under test (a milter), if any.
bench_stop_sut() {
	[[ -n $SUT_PID ]] && stop_pid "$SUT_PID" 35
	SUT_PID= SUT_NAME=
}

# wait_socket SPEC PID - wait until a milter socket (unix:/path or
# inet:PORT@HOST) accepts, or PID has exited.
wait_socket() {
	local spec=$1 pid=$2
	case $spec in
	unix:*) wait_started "$pid" 15 test -S "${spec#unix:}" ;;
	inet:*) local p=${spec#inet:}; wait_started "$pid" 15 port_listening "${p%@*}" ;;
	esac
}

# postfix_spec SPEC - libmilter's spelling to Postfix's (inet:P@H -> inet:H:P).
postfix_spec() {
	case $1 in
	inet:*) local p=${1#inet:}; echo "inet:${p#*@}:${p%@*}" ;;
	*) echo "$1" ;;
	esac
}

# milter_spec KIND NAME [OWNER] - a fresh socket: unix under a directory the
# user postfix can reach (owned by OWNER, who must remove the socket at its
# stop), or inet on a free port.
milter_spec() {
	local dir=$PEERS_DIR/sock${3:+-$3}
	if [[ $1 == unix ]]; then
		mkdir -p "$dir"
		chmod 755 "$dir"
		[[ -z ${3:-} ]] || chown "$3" "$dir"
		echo "unix:$dir/$2.sock"
	else
		echo "inet:$(free_port)@127.0.0.1"
	fi
}

# start_md POLICY SPEC LOG - start milter-delegate as user postfix (as in
# production, -u); sets SUT_PID. Its spool and quarantine directories are
# the ones the policy names (already made and owned by postfix).
start_md() {
	local policy=$1 spec=$2 log=$3
	# shellcheck disable=SC2086  # MD_EXTRA_ARGS: more options, one word each (row 2m: -M PORT)
	"$MILTER" -f -c "$policy" -p "$spec" -u postfix -l info ${MD_EXTRA_ARGS:-} >"$log" 2>&1 </dev/null &
	SUT_PID=$! SUT_NAME=milter-delegate
	peers_track "$SUT_PID"
	# "ready" is logged once the socket is open and every service started.
	if ! wait_started "$SUT_PID" 15 grep -qs "milter-delegate ready on" "$log" ||
		! wait_socket "$spec" "$SUT_PID"; then
		bench_log "milter-delegate did not start on $spec: $(tail -3 "$log")"
		return 1
	fi
}

# start_clamav_milter SPEC DIR - clamav-milter on $CLAMD_SOCKET; sets SUT_PID.
# AddHeader and OnInfected as an admin would set them (X-Virus-Status on
# every message, infected mail quarantined in Postfix's hold queue).
start_clamav_milter() {
	local spec=$1 dir=$2
	mkdir -p "$dir"
	cat >"$dir/clamav-milter.conf" <<-EOF
		MilterSocket $spec
		MilterSocketMode 666
		FixStaleSocket yes
		Foreground yes
		PidFile $dir/clamav-milter.pid
		TemporaryDirectory $dir
		ClamdSocket unix:$CLAMD_SOCKET
		OnClean Accept
		OnInfected Quarantine
		OnFail Defer
		AddHeader Replace
		LogFile $dir/clamav-milter.log
		LogTime yes
		MaxFileSize 100M
	EOF
	clamav-milter -c "$dir/clamav-milter.conf" >"$dir/out.log" 2>&1 </dev/null &
	SUT_PID=$! SUT_NAME=clamav-milter
	peers_track "$SUT_PID"
	if ! wait_socket "$spec" "$SUT_PID"; then
		bench_log "clamav-milter did not start: $(tail -3 "$dir/out.log" "$dir/clamav-milter.log")"
		return 1
	fi
}

# bench_clamsmtpd OUTPORT MAXCONN - peers.sh's start_clamsmtpd (Action
# pass) with MaxConnections MAXCONN (its default of 16 is fewer than the 100
# concurrent messages of the big-message run) and a longer TimeOut. Sets
# BIG_CLAMSMTPD_PORT and BIG_CLAMSMTPD_PID; CLAMSMTPD_* keep their values.
bench_clamsmtpd() {
	local port=${CLAMSMTPD_PORT:-} pid=${CLAMSMTPD_PID:-} log=${CLAMSMTPD_LOG:-} rc=0
	CLAMSMTPD_MAX_CONNECTIONS=$2 CLAMSMTPD_TIMEOUT=300 start_clamsmtpd pass "$1" || rc=1
	BIG_CLAMSMTPD_PORT=$CLAMSMTPD_PORT BIG_CLAMSMTPD_PID=$CLAMSMTPD_PID
	CLAMSMTPD_PORT=$port CLAMSMTPD_PID=$pid CLAMSMTPD_LOG=$log
	return "$rc"
}

# proc_kb PID FIELD - a /proc/PID/status field in kB (VmHWM, VmRSS), or empty.
proc_kb() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

# proc_cpu PID - user+system CPU seconds of PID (all threads), or empty.
proc_cpu() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }    # fields after "(comm) "
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($12 + $13) / hz }' <<<"$stat"
}

# sink_mtimes [DIR] - "MTIME PATH" for every sink file.
sink_mtimes() {
	find "${1:-$SINK_DIR}" -maxdepth 1 -name 'msg.*' -printf '%T@ %p\n'
}

# sink_sent_stamps - "PATH STAMP" from each sink file's X-Bench-Sent header
# (only the header block is read).
sink_sent_stamps() {
	local files=("$SINK_DIR"/msg.*)
	[[ -e ${files[0]} ]] || return 0
	awk '/^X-Bench-Sent:/ { sub(/\r$/, "", $2); print FILENAME, $2; nextfile }
	     /^\r?$/ { nextfile }' "${files[@]}"
}

# wait_delivered N SENDER_PID - wait until the sink holds N messages, giving
# up once SENDER_PID has ended and nothing arrived for $BENCH_STALL seconds.
# Sets DELIVERED (messages at the sink) and T_LAST (newest sink file mtime).
wait_delivered() {
	local n=$1 pid=$2 count=0 last=-1 changed=$EPOCHREALTIME
	while :; do
		count=$(sink_count)
		(( count >= n )) && break
		if (( count != last )); then
			last=$count changed=$EPOCHREALTIME
		elif pid_gone "$pid" && awk -v a="$changed" -v b="$EPOCHREALTIME" \
			-v s="${BENCH_STALL:-15}" 'BEGIN { exit !(b - a > s) }'; then
			break
		fi
		# T_LAST comes from the files' times: polling faster would only
		# take CPU from the rows measured (each poll globs every sink file).
		sleep 0.25
	done
	# The newest file may still be growing: let it settle.
	(( count > 0 )) && file_settle "$(sink_last)"
	DELIVERED=$(sink_count)
	T_LAST=$(sink_mtimes | sort -n | tail -n 1 | cut -d' ' -f1)
}

# percentiles FILE - "p50 p99 max" of the numbers in FILE (nearest rank), in ms.
percentiles() {
	sort -g "$1" | awk '{ v[NR] = $1 }
		function rank(p,  r) { r = int(p * NR + 0.999999); return r < 1 ? 1 : r }
		END { if (NR == 0) { print "null null null"; exit }
		      printf "%.2f %.2f %.2f\n", v[rank(0.50)] * 1000, v[rank(0.99)] * 1000, v[NR] * 1000 }'
}

# run_sender TOOL REUSE PORT N SIZE SESSIONS LOG [LATFILE] - start a sender in
# the background; sets SENDER_PID.
run_sender() {
	local tool=$1 reuse=$2 port=$3 n=$4 size=$5 sessions=$6 log=$7 lat=${8:-}
	local d=()
	[[ $reuse == 1 ]] && d=(-d)
	if [[ $tool == smtp-source ]]; then
		smtp-source "${d[@]}" -s "$sessions" -m "$n" -l "$size" -f bench@example.com \
			-t rcpt@example.net "127.0.0.1:$port" >"$log" 2>&1 </dev/null &
	else
		"$SMTP_LOAD" "${d[@]}" -s "$sessions" -m "$n" -l "$size" -f bench@example.com \
			-t rcpt@example.net -T 900 -o "$lat" "127.0.0.1:$port" >"$log" 2>&1 </dev/null &
	fi
	SENDER_PID=$!
	peers_track "$SENDER_PID"
}

# sender_done - wait (at most $BENCH_STALL s) for the sender to end by itself,
# so that it reads its last reply and writes its latency file; then reap it.
sender_done() {
	wait_until "${BENCH_STALL:-15}" pid_gone "$SENDER_PID"
	stop_pid "$SENDER_PID" 1
}

# json_num VALUE - VALUE if it is a number, else null (for jq --argjson).
json_num() {
	[[ $1 =~ ^-?[0-9]+(\.[0-9]+)?$ ]] && echo "$1" || echo null
}

# rate N T0 T1 - N / (T1 - T0), two decimals; "null" when it cannot be known.
rate() {
	awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN {
		if (n > 0 && b > a) printf "%.1f\n", n / (b - a); else print "null" }'
}

# bench_measure ID NAME PORT REUSE CHECK_HEADER - run both passes against
# 127.0.0.1:PORT and append a row to BENCH_ROWS. CHECK_HEADER: a header every
# delivered message must carry (proof that it went through the filter), or "".
bench_measure() {
	local id=$1 name=$2 port=$3 reuse=$4 check=$5
	local n=$BENCH_MESSAGES s=$BENCH_SESSIONS size=$BENCH_SIZE dir=$PEERS_DIR/rows/$id
	local t0 src_deliv src_rate load_deliv load_rate load_summary marked=null
	local cpu0= cpu1 hwm errs status
	mkdir -p "$dir"

	# Warm-up: the MTA forks its daemons, the milter its threads.
	if (( ${BENCH_WARMUP:-100} > 0 )); then
		bench_log "$id $name: warm-up, ${BENCH_WARMUP:-100} messages"
		sink_clear
		run_sender smtp-source "$reuse" "$port" "${BENCH_WARMUP:-100}" "$size" "$s" \
			"$dir/warmup.log"
		wait_delivered "${BENCH_WARMUP:-100}" "$SENDER_PID"
		sender_done
	fi
	cpu0=$( [[ -n $SUT_PID ]] && proc_cpu "$SUT_PID")

	bench_log "$id $name: smtp-source, $n messages"
	sink_clear
	t0=$EPOCHREALTIME
	run_sender smtp-source "$reuse" "$port" "$n" "$size" "$s" "$dir/smtp-source.log"
	wait_delivered "$n" "$SENDER_PID"
	sender_done
	src_deliv=$DELIVERED
	src_rate=$(rate "$src_deliv" "$t0" "$T_LAST")
	[[ -n $check ]] && marked=$(grep -l -m1 -i "^$check:" "$SINK_DIR"/msg.* 2>/dev/null | wc -l)

	bench_log "$id $name: smtp-load, $n messages"
	sink_clear
	t0=$EPOCHREALTIME
	run_sender smtp-load "$reuse" "$port" "$n" "$size" "$s" "$dir/smtp-load.log" "$dir/lat.txt"
	wait_delivered "$n" "$SENDER_PID"
	sender_done
	load_deliv=$DELIVERED
	load_rate=$(rate "$load_deliv" "$t0" "$T_LAST")
	load_summary=$(grep '^sent=' "$dir/smtp-load.log")
	awk '$4 >= 200 && $4 < 300 { print $3 }' "$dir/lat.txt" 2>/dev/null >"$dir/accept.txt"
	read -r acc_p50 acc_p99 acc_max < <(percentiles "$dir/accept.txt")
	LC_ALL=C join <(sink_sent_stamps | LC_ALL=C sort) \
		<(sink_mtimes | awk '{ print $2, $1 }' | LC_ALL=C sort) |
		awk '{ print $3 - $2 }' >"$dir/delivery.txt"
	read -r dlv_p50 dlv_p99 dlv_max < <(percentiles "$dir/delivery.txt")

	hwm= cpu1= errs=null
	if [[ -n $SUT_PID ]]; then
		hwm=$(proc_kb "$SUT_PID" VmHWM)
		cpu1=$(proc_cpu "$SUT_PID")
	fi
	[[ -n ${SUT_LOG:-} && -f $SUT_LOG ]] &&
		errs=$(grep -ciE 'error|warn|crit|fatal|abort|panic' "$SUT_LOG")
	status=ok
	(( src_deliv < n || load_deliv < n )) &&
		status="incomplete: $src_deliv and $load_deliv of $n delivered"
	BENCH_ROWS+=("$(jq -cn --arg id "$id" --arg name "$name" --arg sut "${SUT_NAME:-}" \
		--arg status "$status" \
		--argjson messages "$n" --argjson sessions "$s" --argjson size "$size" \
		--argjson reuse "$reuse" \
		--argjson delivered "$(json_num "$src_deliv")" \
		--argjson msgs_per_s "$(json_num "$src_rate")" \
		--argjson load_delivered "$(json_num "$load_deliv")" \
		--argjson load_msgs_per_s "$(json_num "$load_rate")" \
		--arg load_summary "$load_summary" \
		--argjson accept_p50_ms "$(json_num "$acc_p50")" \
		--argjson accept_p99_ms "$(json_num "$acc_p99")" \
		--argjson accept_max_ms "$(json_num "$acc_max")" \
		--argjson delivery_p50_ms "$(json_num "$dlv_p50")" \
		--argjson delivery_p99_ms "$(json_num "$dlv_p99")" \
		--argjson peak_rss_kb "$(json_num "$hwm")" \
		--argjson cpu_s "$(json_num "$(awk -v a="$cpu0" -v b="$cpu1" \
			'BEGIN { if (b != "") printf "%.2f", b - a }')")" \
		--arg check_header "$check" --argjson marked "$(json_num "$marked")" \
		--argjson log_problems "$(json_num "$errs")" \
		'{id: $id, name: $name, status: $status, process: $sut, messages: $messages,
		  sessions: $sessions, size: $size, reuse_connections: ($reuse == 1),
		  delivered: $delivered, msgs_per_s: $msgs_per_s,
		  load_delivered: $load_delivered, load_msgs_per_s: $load_msgs_per_s,
		  load_summary: $load_summary,
		  accept_p50_ms: $accept_p50_ms, accept_p99_ms: $accept_p99_ms,
		  accept_max_ms: $accept_max_ms,
		  delivery_p50_ms: $delivery_p50_ms, delivery_p99_ms: $delivery_p99_ms,
		  peak_rss_kb: $peak_rss_kb, cpu_s: $cpu_s,
		  check_header: $check_header, delivered_with_header: $marked,
		  log_problem_lines: $log_problems}')")
	sink_clear
}

# bench_skip ID NAME STATUS - a row that did not run ("not built", ...).
bench_skip() {
	BENCH_ROWS+=("$(jq -cn --arg id "$1" --arg name "$2" --arg status "$3" \
		'{id: $id, name: $name, status: $status}')")
	bench_log "$1 $2: $3"
}

# bench_extra KEY JSON - a result outside the table (big messages).
BENCH_EXTRA='{}'
bench_extra() {
	BENCH_EXTRA=$(jq -c --arg k "$1" --argjson v "$2" '. + {($k): $v}' <<<"$BENCH_EXTRA")
}
