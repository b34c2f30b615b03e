#!/usr/bin/env bash
# bench/run.sh - benchmark milter-delegate side by side with what admins
# would pick instead (issue 6), in one run, on loopback, with the real
# programs: Postfix, smtp-source/smtp-sink, clamd, clamsmtpd, clamav-milter.
#
# usage: MD_TOP=/path/to/checkout MD_BUILD=/path/to/build bench/run.sh
#        (make bench does this after building)
#
# Rows (messages go into smtp-sink in every one):
#   0   smtp-source -> smtp-sink directly (the load generator's own ceiling)
#   1   -> Postfix -> sink, no milter                      reference for 2, 4
#   2u  -> Postfix + milter-delegate, 20 rules, no delegation, unix socket
#   2i  the same over an inet socket
#   2m  row 2u with metrics on (-M) and /metrics scraped every second;
#       2u and 2m run twice each, as 2u 2m 2m 2u, and report their means;
#       then "side by side": both milters at once behind one Postfix, the
#       ratio of their rates while both were loaded (see side_pair)
#   2L  row 2u's policy plus 10,000 networks, 10,000 sender domains and
#       10,000 recipients in list files (bench/make-lists.sh), none matching;
#       reference 2u (issue 15: lists must not slow the milter down)
#   3u  -> Postfix + milter-delegate, reference antivirus policy
#          (policies/default.json: delegate to clamsmtpd + clamd), unix
#   3i  the same over an inet socket
#   4u  -> Postfix + clamav-milter on the same clamd, unix socket
#   4i  the same over an inet socket
#   5   smtp-source -d -> clamsmtpd -> sink                reference for 3, 6b
#   6a  -> delegate-shim, 20 rules, no delegation -> sink   reference 1 (needs build/delegate-shim)
#   6L  row 6a's policy with row 2L's lists                 reference 6a
#   6b  smtp-source -d -> delegate-shim delegating to clamsmtpd -> sink   reference 5
#   2n  -> Postfix + bench/null-milter.c (libmilter, does nothing, asks for the
#          same stages as 2u): the floor of any libmilter milter   reference 1;
#          rows 2u/2i also report their ratio to it (ratio_2n)
#   7u  -> Postfix + milter-delegate, clamd service (policies/clamd.json: FILDES
#          on clamd's unix socket), unix milter socket          reference 4u
#   7i  the same over an inet milter socket                   reference 4i
#       (7u | 4u and 7i | 4i are measured side by side too: side_pair)
#   8   -> Postfix + milter-delegate, reference policy with a pool of two
#          clamsmtpd + clamd pairs (round robin)               reference 3u
#   9   -> Postfix with content_filter -> clamsmtpd -> a Postfix re-injection
#          smtpd -> sink (after-queue filtering, Debian's clamsmtp README)
#                                                              reference 6b
# and, outside the table:
#   big   BENCH_BIG_SESSIONS concurrent messages of BENCH_BIG_SIZE bytes
#         through row 3u's setup: peak RSS (VmHWM) of milter-delegate
#   huge  one BENCH_HUGE_SIZE message through rows 1, 3u and 5: its time
#
# Each row runs twice: smtp-source gives msg/s (messages counted at the
# sink / time until the last one arrived there), then bench/smtp-load sends
# the same load and times every message (accept latency: start of the
# message to the reply to its final dot; delivery latency: to its arrival at
# the sink). See bench/lib.sh for the details.
#
# Environment (defaults in brackets):
#   BENCH_MESSAGES [2000]  BENCH_SESSIONS [10]  BENCH_SIZE [4096]
#   BENCH_REUSE [0]        1: reuse connections in rows 0-4 (-d); row 5
#                          always reuses them (clamsmtpd's backlog is 5)
#   BENCH_BIG_SESSIONS [100]  BENCH_BIG_SIZE [10485760]  BENCH_HUGE_SIZE [52428800]
#   BENCH_ROWS_ONLY        space-separated row ids (and "big", "huge") to run
#   BENCH_MILTER           another milter-delegate binary to measure
#   BENCH_RESULTS [$MD_TOP/bench/results]   where <timestamp>.json goes
#   BENCH_STALL [15]       give up on a row after this long without a delivery
#   BENCH_SIDE_MESSAGES [1000]  messages to each milter per side-by-side round
#   BENCH_SIDE_ROUNDS [4]  rounds of each side-by-side pair (even: each milter
#                          behind each listener as often)
#   BENCH_CLAMD_STREAM     rows 7u/7i: the clamd service's "stream" (auto: FILDES)
#   PEERS_KEEP=1           keep the temporary directory (logs of every daemon)
#
# Nothing listens beyond 127.0.0.1; every daemon runs under one temporary
# directory and is stopped by PID on exit (peers.sh's traps). Rows whose
# binary is missing are reported as "not built" / "skipped: no shim built".

MD_TOP=${MD_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
MD_BUILD=${MD_BUILD:-$MD_TOP/build}
BENCH_MESSAGES=${BENCH_MESSAGES:-2000}
BENCH_SESSIONS=${BENCH_SESSIONS:-10}
BENCH_SIZE=${BENCH_SIZE:-4096}
BENCH_REUSE=${BENCH_REUSE:-0}
BENCH_BIG_SESSIONS=${BENCH_BIG_SESSIONS:-100}
BENCH_BIG_SIZE=${BENCH_BIG_SIZE:-10485760}
BENCH_HUGE_SIZE=${BENCH_HUGE_SIZE:-52428800}
BENCH_RESULTS=${BENCH_RESULTS:-$MD_TOP/bench/results}
MILTER=${BENCH_MILTER:-$MD_BUILD/milter-delegate}
SHIM=$MD_BUILD/delegate-shim
SMTP_LOAD=$MD_BUILD/bench/smtp-load
# Big messages: Postfix must take them; enough smtpd processes for 100.
BENCH_POSTFIX_EXTRA="message_size_limit = 209715200
default_process_limit = 200"

. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/metrics.sh"      # metrics_scrape, for row 2m
. "$MD_TOP/bench/lib.sh"

for cmd in postfix smtp-source smtp-sink clamd clamsmtpd clamav-milter jq cc; do
	command -v "$cmd" >/dev/null || { echo "bench: missing $cmd (run: make deps)" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "bench: run as root (private Postfix, setuid)" >&2; exit 1; }

NULL_MILTER=$MD_BUILD/bench/null-milter
if [[ ! -x $NULL_MILTER || $MD_TOP/bench/null-milter.c -nt $NULL_MILTER ]]; then
	mkdir -p "${NULL_MILTER%/*}"
	cc -O2 -g -std=gnu11 -Wall -Wextra -pthread -o "$NULL_MILTER" \
		"$MD_TOP/bench/null-milter.c" -lmilter || exit 1
fi
# The load client is ours: build it next to the other binaries.
if [[ ! -x $SMTP_LOAD || $MD_TOP/bench/smtp-load.c -nt $SMTP_LOAD ]]; then
	mkdir -p "${SMTP_LOAD%/*}"
	cc -O2 -g -std=gnu11 -Wall -Wextra -pthread -o "$SMTP_LOAD" \
		"$MD_TOP/bench/smtp-load.c" || exit 1
fi

peers_init
# peers.sh traps EXIT, INT and TERM; a closed terminal or output pipe
# (make bench | head) must not leave the daemons running either.
trap 'exit 129' HUP
trap 'exit 141' PIPE
started=$(date -u +%Y%m%dT%H%M%SZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
bench_start=$EPOCHREALTIME

# row_wanted ID - true unless BENCH_ROWS_ONLY leaves the row out.
row_wanted() {
	[[ -z ${BENCH_ROWS_ONLY:-} || " $BENCH_ROWS_ONLY " == *" $1 "* ]]
}

# md_dirs NAME - spool and quarantine directories for one milter run, owned
# by postfix (the milter runs with -u postfix); prints "SPOOL QUARANTINE".
md_dirs() {
	local d=$PEERS_DIR/md-$1
	mkdir -p "$d/spool" "$d/quarantine"
	chown -R postfix "$d"
	echo "$d/spool $d/quarantine"
}

# rules20_policy NAME - bench/policy-20rules.json with this run's directories.
rules20_policy() {
	local spool quar
	read -r spool quar < <(md_dirs "$1")
	sed -e "s|/var/lib/milter-delegate/quarantine|$quar|" \
	    -e "s|/var/spool/milter-delegate|$spool|" \
	    "$MD_TOP/bench/policy-20rules.json" >"$PEERS_DIR/$1.json"
	echo "$PEERS_DIR/$1.json"
}

# lists_policy NAME - rules20_policy plus row 2L's list files: the networks
# join "blocked networks", the domains "sender blocklist", the recipients
# "role accounts" (bench/make-lists.sh writes them once per run).
lists_policy() {
	local policy
	policy=$(rules20_policy "$1")
	[[ -f $PEERS_DIR/lists/nets.txt ]] || "$MD_TOP/bench/make-lists.sh" "$PEERS_DIR/lists"
	jq --arg d "$PEERS_DIR/lists" '
		def add_to($name; $item): .stages[] |= map(if .name == $name
			then .if |= with_entries(.value += [$item]) else . end);
		add_to("blocked networks"; {file: "\($d)/nets.txt"})
		| add_to("sender blocklist"; {domain: {file: "\($d)/domains.txt"}})
		| add_to("role accounts"; {file: "\($d)/recipients.txt"})' \
		"$policy" >"$policy.new" && mv "$policy.new" "$policy"
	echo "$policy"
}

# delegate_policy NAME CLAMSMTPD_PORT RECV_PORT [TIMEOUT] - policies/default.json
# (the reference antivirus policy) on this run's ports and directories.
delegate_policy() {
	local spool quar
	read -r spool quar < <(md_dirs "$1")
	sed -e "s|127.0.0.1:10026|127.0.0.1:$2|" \
	    -e "s|127.0.0.1:10025|127.0.0.1:$3|" \
	    -e "s|\"timeout\": \"60s\"|\"timeout\": \"${4:-60s}\"|" \
	    -e "s|/var/lib/milter-delegate/quarantine|$quar|" \
	    -e "s|/var/spool/milter-delegate|$spool|" \
	    "$MD_TOP/policies/default.json" >"$PEERS_DIR/$1.json"
	echo "$PEERS_DIR/$1.json"
}

# clamd_policy NAME - policies/clamd.json on this run's clamd and directories.
clamd_policy() {
	local spool quar
	read -r spool quar < <(md_dirs "$1")
	sed -e "s|unix:/run/clamav/clamd.ctl|unix:$CLAMD_SOCKET|" \
	    -e "s|/var/lib/milter-delegate/quarantine|$quar|" \
	    -e "s|/var/spool/milter-delegate|$spool|" \
	    "$MD_TOP/policies/clamd.json" >"$PEERS_DIR/$1.json"
	if [[ -n ${BENCH_CLAMD_STREAM:-} ]]; then
		jq --arg s "$BENCH_CLAMD_STREAM" '.services.clamd.delegator.stream = $s' \
			"$PEERS_DIR/$1.json" >"$PEERS_DIR/$1.json.new" && mv "$PEERS_DIR/$1.json.new" "$PEERS_DIR/$1.json"
	fi
	echo "$PEERS_DIR/$1.json"
}

# pool_policy NAME PORT1 PORT2 RECV_PORT - the reference policy delegating to
# a round-robin pool of the clamsmtpd on PORT1 and PORT2.
pool_policy() {
	local policy
	policy=$(delegate_policy "$1" "$2" "$4")
	jq --arg a "127.0.0.1:$2" --arg b "127.0.0.1:$3" \
		'.services.clamsmtpd.delegator += {address: [$a, $b], balance: "round_robin"}' \
		"$policy" >"$policy.new" && mv "$policy.new" "$policy"
	echo "$policy"
}

# null_milter_row - row 2n: Postfix + a libmilter milter that does nothing.
null_milter_row() {
	local name="Postfix + null libmilter milter, same stages as 2u (unix)" spec
	row_wanted 2n || return 0
	spec=$(milter_spec unix null-milter)
	SUT_LOG=$PEERS_DIR/rows/null-milter.log
	mkdir -p "$PEERS_DIR/rows"
	"$NULL_MILTER" "$spec" >"$SUT_LOG" 2>&1 </dev/null &
	SUT_PID=$! SUT_NAME=null-milter
	peers_track "$SUT_PID"
	chmod 666 "${spec#unix:}" 2>/dev/null
	if wait_socket "$spec" "$SUT_PID" && chmod 666 "${spec#unix:}" &&
		bench_postfix "$(postfix_spec "$spec")"; then
		bench_measure 2n "$name" "$POSTFIX_PORT" "$BENCH_REUSE" ""
	else
		bench_skip 2n "$name" "failed: null-milter or postfix did not start"
	fi
	bench_stop_sut
	SUT_LOG=
}

# after_queue_row - row 9: Postfix content_filter -> clamsmtpd -> Postfix
# re-injection smtpd on another port -> sink (as Debian's clamsmtp README).
after_queue_row() {
	local name="Postfix content_filter -> clamsmtpd + clamd -> Postfix re-injection -> sink"
	local reinject scan_port
	row_wanted 9 || return 0
	reinject=$(free_port)
	CLAMSMTPD_MAX_CONNECTIONS=64 start_clamsmtpd pass "$reinject" ||
		{ bench_skip 9 "$name" "failed: clamsmtpd"; return 0; }
	scan_port=$CLAMSMTPD_PORT
	SUT_PID=$CLAMSMTPD_PID SUT_NAME=clamsmtpd SUT_LOG=$CLAMSMTPD_LOG
	local BENCH_POSTFIX_EXTRA="$BENCH_POSTFIX_EXTRA
content_filter = scan:[127.0.0.1]:$scan_port
receive_override_options = no_address_mappings"
	local POSTFIX_EXTRA_MASTER_CF="scan       unix - - n -   16 smtp
  -o smtp_send_xforward_command=yes
127.0.0.1:$reinject inet n - n - 16 smtpd
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks
  -o smtpd_helo_restrictions= -o smtpd_client_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
  -o mynetworks_style=host -o smtpd_authorized_xforward_hosts=127.0.0.0/8"
	if bench_postfix ""; then
		bench_measure 9 "$name" "$POSTFIX_PORT" "$BENCH_REUSE" X-Virus-Scanned
	else
		bench_skip 9 "$name" "failed: postfix did not start"
	fi
	stop_postfix
	bench_stop_sut
	SUT_LOG=
}

# md_row ID NAME KIND POLICY CHECK - a Postfix + milter-delegate row.
md_row() {
	local id=$1 name=$2 kind=$3 policy=$4 check=$5 spec
	row_wanted "$id" || return 0
	[[ -x $MILTER ]] || { bench_skip "$id" "$name" "not built"; return 0; }
	spec=$(milter_spec "$kind" "md-$id" postfix)   # -u postfix removes it at stop
	SUT_LOG=$PEERS_DIR/rows/md-$id.log
	mkdir -p "$PEERS_DIR/rows"
	if ! start_md "$policy" "$spec" "$SUT_LOG"; then
		bench_skip "$id" "$name" "failed: milter did not start"
		bench_stop_sut
		return 0
	fi
	if bench_postfix "$(postfix_spec "$spec")"; then
		bench_measure "$id" "$name" "$POSTFIX_PORT" "$BENCH_REUSE" "$check"
	else
		bench_skip "$id" "$name" "failed: postfix did not start"
	fi
	bench_stop_sut
	cp "$SUT_LOG" "$PEERS_DIR/rows/$id/" 2>/dev/null
	SUT_LOG=
}

# metrics_row ID NAME KIND POLICY CHECK - md_row with -M PORT and a scrape of
# /metrics every second while the row runs (row 2m; reference: row 2u).
metrics_row() {
	local port scraper
	row_wanted "$1" || return 0
	port=$(free_port)
	( while sleep 1; do metrics_scrape "$port" >/dev/null 2>&1; done ) &
	scraper=$!
	peers_track "$scraper"
	MD_EXTRA_ARGS="-M $port" md_row "$@"
	stop_pid "$scraper"
}

# window_rates LAT_A LAT_B - "RATE_A RATE_B SECONDS": messages each sender got
# a 2xx for while both were sending (from the later first start to the
# earlier last reply), per second of that window.
window_rates() {
	awk 'FNR == 1 { f++ }
	     { end = $2 + $3
	       if (!(f in s0) || $2 < s0[f]) s0[f] = $2
	       if (end > e1[f]) e1[f] = end
	       t[f, FNR] = end; c[f, FNR] = $4; n[f] = FNR }
	     END { w0 = s0[1] > s0[2] ? s0[1] : s0[2]; w1 = e1[1] < e1[2] ? e1[1] : e1[2]
	           if (w1 <= w0) { print "null null null"; exit }
	           for (k = 1; k <= 2; k++)
	               for (i = 1; i <= n[k]; i++)
	                   if (c[k, i] >= 200 && c[k, i] < 300 && t[k, i] >= w0 && t[k, i] <= w1) m[k]++
	           printf "%.1f %.1f %.1f\n", m[1] / (w1 - w0), m[2] / (w1 - w0), w1 - w0 }' "$1" "$2"
}

# side_postfix FIRST SECOND - (re)start Postfix with milter FIRST behind its
# own listener and SECOND behind another; SIDE_PORT_A / SIDE_PORT_B: the
# listener of side_pair's milter A / B (the caller's SPEC_A).
side_postfix() {
	local second_port
	second_port=$(free_port)
	local POSTFIX_EXTRA_MASTER_CF="127.0.0.1:$second_port inet n - n - - smtpd
  -o smtpd_milters=$(postfix_spec "$2")"
	bench_postfix "$(postfix_spec "$1")" || return 1
	if [[ $1 == "$SPEC_A" ]]; then
		SIDE_PORT_A=$POSTFIX_PORT SIDE_PORT_B=$second_port
	else
		SIDE_PORT_A=$second_port SIDE_PORT_B=$POSTFIX_PORT
	fi
}

# side_start ID DIR - start row ID's milter (2u, 2m, 7u, 7i, 4u, 4i) for
# side_pair; sets SIDE_SPEC and SIDE_PID (and for 2m SIDE_SCRAPER).
side_start() {
	local id=$1 dir=$2 kind=unix
	[[ $id == *i ]] && kind=inet
	SIDE_SCRAPER=
	case $id in
	2u|7u|7i) SIDE_SPEC=$(milter_spec "$kind" "md-side-$id" postfix) ;;
	2m) SIDE_SPEC=$(milter_spec unix md-side-2m postfix) ;;
	4u|4i) SIDE_SPEC=$(milter_spec "$kind" "clamav-milter-side-$id") ;;
	esac
	case $id in
	2u) start_md "$(rules20_policy "side-$id")" "$SIDE_SPEC" "$dir/$id.log" ;;
	2m)
		local mport
		mport=$(free_port)
		MD_EXTRA_ARGS="-M $mport" start_md "$(rules20_policy side-2m)" "$SIDE_SPEC" "$dir/2m.log" || return 1
		( while sleep 1; do metrics_scrape "$mport" >/dev/null 2>&1; done ) &
		SIDE_SCRAPER=$!
		peers_track "$SIDE_SCRAPER" ;;
	7u|7i) start_md "$(clamd_policy "side-$id")" "$SIDE_SPEC" "$dir/$id.log" ;;
	4u|4i) start_clamav_milter "$SIDE_SPEC" "$dir/clamav-milter-$id" ;;
	esac || return 1
	SIDE_PID=$SUT_PID SUT_PID=
}

# side_pair A B - rows A and B at the same time, behind one Postfix: the
# check of the targets that compare two milters (2m >= 0.98 x 2u, issue 13;
# 7u >= 1.1 x 4u and 7i >= 2 x 4i, issue 14). Postfix gets two smtpd
# listeners, one with each milter, and two smtp-load senders start
# together, BENCH_SESSIONS / 2 sessions each. Both milters run on the same
# machine at the same moments, so other work and drift slow both alike:
# the ratio of their rates over the window in which both were sending
# (window_rates) does not depend on the order rows run in, as the ratio of
# two rows does. The milters change listeners every round (Postfix
# restarted), so that neither listener's place counts. BENCH_SIDE_ROUNDS
# [4] rounds of BENCH_SIDE_MESSAGES [1000] messages to each; the milters'
# CPU time is reported too.
side_pair() {
	local a=$1 b=$2 dir=$PEERS_DIR/rows/side-$1-$2 n=${BENCH_SIDE_MESSAGES:-1000}
	local half=$(( (BENCH_SESSIONS + 1) / 2 )) round rounds='[]' ra rb secs
	local SPEC_A SPEC_B pid_a pid_b scraper_a scraper_b cpu_a0 cpu_b0 cpu_a cpu_b sender_a
	row_wanted "$a" || return 0
	[[ -x $MILTER ]] || { bench_side "$a" "$b" '{"status": "not built"}'; return 0; }
	mkdir -p "$dir"
	side_start "$a" "$dir" || { bench_side "$a" "$b" "{\"status\": \"failed: $a did not start\"}"; return 0; }
	SPEC_A=$SIDE_SPEC pid_a=$SIDE_PID scraper_a=$SIDE_SCRAPER
	if ! side_start "$b" "$dir"; then
		bench_side "$a" "$b" "{\"status\": \"failed: $b did not start\"}"
		stop_pid "$pid_a" 35
		return 0
	fi
	SPEC_B=$SIDE_SPEC pid_b=$SIDE_PID scraper_b=$SIDE_SCRAPER
	for round in $(seq 0 "${BENCH_SIDE_ROUNDS:-4}"); do
		# Round 0 (warm-up) and odd rounds: A behind Postfix's first listener.
		if (( round == 0 || round > 1 )); then
			if (( round == 0 || round % 2 )); then side_postfix "$SPEC_A" "$SPEC_B"
			else side_postfix "$SPEC_B" "$SPEC_A"; fi || break
		fi
		bench_log "side by side $a | $b: $( (( round )) && echo "round $round, $n messages each" || echo warm-up)"
		sink_clear
		cpu_a0=$(proc_cpu "$pid_a") cpu_b0=$(proc_cpu "$pid_b")
		run_sender smtp-load "$BENCH_REUSE" "$SIDE_PORT_A" "$(( round ? n : 100 ))" \
			"$BENCH_SIZE" "$half" "$dir/load-a.log" "$dir/lat-a.txt"
		sender_a=$SENDER_PID
		run_sender smtp-load "$BENCH_REUSE" "$SIDE_PORT_B" "$(( round ? n : 100 ))" \
			"$BENCH_SIZE" "$half" "$dir/load-b.log" "$dir/lat-b.txt"
		wait_delivered "$(( round ? 2 * n : 200 ))" "$SENDER_PID"
		sender_done
		SENDER_PID=$sender_a sender_done
		(( round == 0 )) && continue
		cpu_a=$(awk -v x="$cpu_a0" -v y="$(proc_cpu "$pid_a")" 'BEGIN { printf "%.2f", y - x }')
		cpu_b=$(awk -v x="$cpu_b0" -v y="$(proc_cpu "$pid_b")" 'BEGIN { printf "%.2f", y - x }')
		read -r ra rb secs < <(window_rates "$dir/lat-a.txt" "$dir/lat-b.txt")
		rounds=$(jq -c --argjson a "$(json_num "$ra")" --argjson b "$(json_num "$rb")" \
			--argjson secs "$(json_num "$secs")" --argjson ca "$(json_num "$cpu_a")" \
			--argjson cb "$(json_num "$cpu_b")" \
			--arg la "$(grep '^sent=' "$dir/load-a.log")" --arg lb "$(grep '^sent=' "$dir/load-b.log")" \
			'. + [{msgs_per_s_a: $a, msgs_per_s_b: $b, window_s: $secs,
			       ratio: (if $a and $b then ($a / $b * 1000 | round / 1000) else null end),
			       cpu_s_a: $ca, cpu_s_b: $cb, load_a: $la, load_b: $lb}]' <<<"$rounds")
	done
	bench_side "$a" "$b" "$(jq -c --argjson n "$n" --argjson s "$half" '
		def total($k): map(.[$k]) | if length == 0 or any(. == null) then null else add end;
		def mean($k): total($k) as $t | if $t then ($t / length * 10 | round / 10) else null end;
		{status: (if length > 0 then "ok" else "failed: postfix did not start" end),
		 messages_each: $n, sessions_each: $s, rounds: .,
		 msgs_per_s_a: mean("msgs_per_s_a"), msgs_per_s_b: mean("msgs_per_s_b"),
		 ratio: (if total("msgs_per_s_a") and total("msgs_per_s_b")
			then (total("msgs_per_s_a") / total("msgs_per_s_b") * 1000 | round / 1000)
			else null end),
		 cpu_s_a: ((total("cpu_s_a") // 0) * 100 | round / 100),
		 cpu_s_b: ((total("cpu_s_b") // 0) * 100 | round / 100)}' <<<"$rounds")"
	stop_postfix
	[[ -n $scraper_a ]] && stop_pid "$scraper_a"
	[[ -n $scraper_b ]] && stop_pid "$scraper_b"
	stop_pid "$pid_a" 35
	stop_pid "$pid_b" 35
	sink_clear
}

# bench_side A B JSON - side_pair's result for "A|B", outside the table.
BENCH_SIDE='{}'
bench_side() {
	BENCH_SIDE=$(jq -c --arg k "$1|$2" --argjson v "$3" '. + {($k): $v}' <<<"$BENCH_SIDE")
}

# clamav_milter_row ID NAME KIND - a Postfix + clamav-milter row.
clamav_milter_row() {
	local id=$1 name=$2 kind=$3 spec dir=$PEERS_DIR/clamav-milter-$1
	row_wanted "$id" || return 0
	spec=$(milter_spec "$kind" "clamav-milter-$id")
	if ! start_clamav_milter "$spec" "$dir"; then
		bench_skip "$id" "$name" "failed: clamav-milter did not start"
		bench_stop_sut
		return 0
	fi
	SUT_LOG=$dir/clamav-milter.log
	if bench_postfix "$(postfix_spec "$spec")"; then
		bench_measure "$id" "$name" "$POSTFIX_PORT" "$BENCH_REUSE" "X-Virus-Status"
	else
		bench_skip "$id" "$name" "failed: postfix did not start"
	fi
	bench_stop_sut
	SUT_LOG=
}

# shim_rows - rows 6a and 6b, when the shim is built (-C shim.json: listen
# address, next hop = the sink).
shim_rows() {
	local id name policy port dir
	for id in 6a 6L 6b; do
		if [[ $id == 6a ]]; then
			name="smtp-source -> delegate-shim (20 rules, no delegation) -> sink"
		elif [[ $id == 6L ]]; then
			name="smtp-source -> delegate-shim (20 rules + 3 x 10,000-entry list files) -> sink"
		else
			name="smtp-source -> delegate-shim delegating to clamsmtpd -> sink"
		fi
		row_wanted "$id" || continue
		[[ -x $SHIM ]] || { bench_skip "$id" "$name" "skipped: no shim built"; continue; }
		dir=$PEERS_DIR/shim-$id
		mkdir -p "$dir"
		if [[ $id == 6a ]]; then
			policy=$(rules20_policy "shim-$id")
		elif [[ $id == 6L ]]; then
			policy=$(lists_policy "shim-$id")
		else
			policy=$(delegate_policy "shim-$id" "$CLAMSMTPD_A_PORT" "$RECV_PORT")
		fi
		mv "$policy" "$dir/policy.json"
		port=$(free_port)
		jq -n --arg l "127.0.0.1:$port" --arg n "127.0.0.1:$SINK_PORT" \
			'{listen: $l, hostname: "shim.bench.invalid", next_hop: {smtp: $n},
			  limits: {max_sessions: 200, max_message_size: "200M"}}' >"$dir/shim.json"
		SUT_LOG=$dir/shim.log
		"$SHIM" -f -c "$dir/policy.json" -C "$dir/shim.json" >"$SUT_LOG" 2>&1 </dev/null &
		SUT_PID=$! SUT_NAME=delegate-shim
		peers_track "$SUT_PID"
		if wait_started "$SUT_PID" 10 port_listening "$port"; then
			if [[ $id != 6b ]]; then
				bench_measure "$id" "$name" "$port" "$BENCH_REUSE" X-Policy-Checked
			else
				bench_measure "$id" "$name" "$port" 1 X-Virus-Scanned
			fi
		else
			bench_skip "$id" "$name" "failed: shim did not start ($(tail -1 "$SUT_LOG"))"
		fi
		bench_stop_sut
		SUT_LOG=
	done
}

# sampler PID FILE - every 0.1 s, "VmRSS_kB Threads" of PID into FILE.
start_sampler() {
	(
		while [[ -r /proc/$1/status ]]; do
			awk '$1 == "VmRSS:" { r = $2 } $1 == "Threads:" { t = $2 }
			     END { print r + 0, t + 0 }' "/proc/$1/status" 2>/dev/null
			sleep 0.1
		done
	) >"$2" &
	SAMPLER_PID=$!
	peers_track "$SAMPLER_PID"
}

# big_messages - BENCH_BIG_SESSIONS concurrent BENCH_BIG_SIZE messages through
# Postfix + milter-delegate delegating to clamsmtpd (unix socket, row 3u).
big_messages() {
	local n=$BENCH_BIG_SESSIONS dir=$PEERS_DIR/rows/big spec policy recv t0 rate
	row_wanted big || return 0
	[[ -x $MILTER ]] || { bench_extra big '{"status": "not built"}'; return 0; }
	mkdir -p "$dir"
	recv=$(free_port)
	if ! bench_clamsmtpd "$recv" $((n + 28)); then
		bench_extra big '{"status": "failed: clamsmtpd did not start"}'
		return 0
	fi
	policy=$(delegate_policy big "$BIG_CLAMSMTPD_PORT" "$recv" 600s)
	spec=$(milter_spec unix md-big postfix)
	SUT_LOG=$dir/milter.log
	start_md "$policy" "$spec" "$SUT_LOG" && bench_postfix "$(postfix_spec "$spec")" || {
		bench_extra big '{"status": "failed to start"}'
		bench_stop_sut
		return 0
	}
	local rss0
	rss0=$(proc_kb "$SUT_PID" VmHWM)
	bench_log "big: $n concurrent messages of $BENCH_BIG_SIZE bytes through Postfix + milter-delegate + clamsmtpd"
	sink_clear
	start_sampler "$SUT_PID" "$dir/samples.txt"
	t0=$EPOCHREALTIME
	run_sender smtp-load 0 "$POSTFIX_PORT" "$n" "$BENCH_BIG_SIZE" "$n" "$dir/smtp-load.log" \
		"$dir/lat.txt"
	BENCH_STALL=120 wait_delivered "$n" "$SENDER_PID"
	BENCH_STALL=60 sender_done
	rate=$(rate "$DELIVERED" "$t0" "$T_LAST")
	local hwm peak_rss peak_threads spool_peak
	hwm=$(proc_kb "$SUT_PID" VmHWM)
	stop_pid "$SAMPLER_PID" 1
	read -r peak_rss peak_threads < <(awk '$1 > r { r = $1 } $2 > t { t = $2 }
		END { print r + 0, t + 0 }' "$dir/samples.txt")
	awk '$4 >= 200 && $4 < 300 { print $3 }' "$dir/lat.txt" >"$dir/accept.txt"
	read -r acc_p50 acc_p99 acc_max < <(percentiles "$dir/accept.txt")
	bench_extra big "$(jq -cn --argjson n "$n" --argjson size "$BENCH_BIG_SIZE" \
		--argjson delivered "$(json_num "$DELIVERED")" \
		--argjson hwm "$(json_num "$hwm")" --argjson hwm0 "$(json_num "$rss0")" \
		--argjson peak_rss "$(json_num "$peak_rss")" \
		--argjson threads "$(json_num "$peak_threads")" \
		--argjson rate "$(json_num "$rate")" \
		--argjson p50 "$(json_num "$acc_p50")" --argjson max "$(json_num "$acc_max")" \
		--arg load "$(grep '^sent=' "$dir/smtp-load.log")" \
		--argjson problems "$(grep -ciE 'error|warn|crit|fatal' "$SUT_LOG")" \
		'{status: "ok", path: "Postfix + milter-delegate (reference policy, delegating to clamsmtpd + clamd, unix socket)",
		  messages: $n, concurrent: $n, size: $size, delivered: $delivered,
		  peak_rss_kb: $hwm, rss_at_start_kb: $hwm0, sampled_peak_rss_kb: $peak_rss,
		  peak_threads: $threads, msgs_per_s: $rate, accept_p50_ms: $p50,
		  accept_max_ms: $max, load_summary: $load, log_problem_lines: $problems}')"
	bench_stop_sut
	stop_pid "$BIG_CLAMSMTPD_PID"
	sink_clear
	SUT_LOG=
}

# huge_one ID PORT PATH - send one BENCH_HUGE_SIZE message to PORT and add
# its result to HUGE_JSON.
huge_one() {
	local id=$1 port=$2 dir=$PEERS_DIR/rows/huge-$1 acc dlv
	mkdir -p "$dir"
	sink_clear
	run_sender smtp-load 1 "$port" 1 "$BENCH_HUGE_SIZE" 1 "$dir/smtp-load.log" "$dir/lat.txt"
	BENCH_STALL=60 wait_delivered 1 "$SENDER_PID"
	BENCH_STALL=60 sender_done
	acc=$(awk '{ printf "%.1f", $3 * 1000 }' "$dir/lat.txt")
	dlv=$(LC_ALL=C join <(sink_sent_stamps | LC_ALL=C sort) \
		<(sink_mtimes | awk '{ print $2, $1 }' | LC_ALL=C sort) |
		awk '{ printf "%.1f", ($3 - $2) * 1000 }')
	HUGE_JSON=$(jq -c --arg id "$id" --arg path "$3" \
		--argjson delivered "$(json_num "$DELIVERED")" \
		--argjson acc "$(json_num "$acc")" --argjson dlv "$(json_num "$dlv")" \
		--argjson rss "$(json_num "$( [[ -n $SUT_PID ]] && proc_kb "$SUT_PID" VmHWM)")" \
		'. + {($id): {path: $path, delivered: $delivered, accept_ms: $acc,
		  delivery_ms: $dlv, peak_rss_kb: $rss}}' <<<"$HUGE_JSON")
	sink_clear
}

# huge_message - one BENCH_HUGE_SIZE message through rows 1, 3u and 5.
huge_message() {
	local spec policy
	row_wanted huge || return 0
	bench_log "huge: one message of $BENCH_HUGE_SIZE bytes through rows 1, 3u, 5"
	HUGE_JSON=$(jq -cn --argjson size "$BENCH_HUGE_SIZE" '{size: $size}')
	bench_postfix "" && huge_one 1 "$POSTFIX_PORT" "Postfix, no milter"
	SUT_PID=$CLAMSMTPD_B_PID
	huge_one 5 "$CLAMSMTPD_B_PORT" "clamsmtpd -> sink"
	SUT_PID=
	if [[ -x $MILTER ]]; then
		policy=$(delegate_policy huge "$CLAMSMTPD_A_PORT" "$RECV_PORT" 600s)
		spec=$(milter_spec unix md-huge postfix)
		SUT_LOG=$PEERS_DIR/rows/md-huge.log
		if start_md "$policy" "$spec" "$SUT_LOG" && bench_postfix "$(postfix_spec "$spec")"; then
			huge_one 3u "$POSTFIX_PORT" "Postfix + milter-delegate -> clamsmtpd (unix)"
		fi
		bench_stop_sut
		SUT_LOG=
	else
		HUGE_JSON=$(jq -c '. + {"3u": {status: "not built"}}' <<<"$HUGE_JSON")
	fi
	bench_extra huge "$HUGE_JSON"
}

# ---- the run -------------------------------------------------------------

start_clamd || { echo "bench: clamd did not start" >&2; exit 1; }
start_sink || { echo "bench: smtp-sink did not start" >&2; exit 1; }
mkdir -p "$PEERS_DIR/rows"
[[ -x $MILTER ]] || bench_log "no $MILTER: milter-delegate rows are reported as not built"

# Two clamsmtpd on the same clamd: A hands back to milter-delegate's
# receiver (rows 3, 6b), B relays straight to the sink (row 5).
RECV_PORT=$(free_port)
start_clamsmtpd pass "$RECV_PORT" || exit 1
CLAMSMTPD_A_PORT=$CLAMSMTPD_PORT
start_clamsmtpd pass "$SINK_PORT" || exit 1
CLAMSMTPD_B_PORT=$CLAMSMTPD_PORT CLAMSMTPD_B_PID=$CLAMSMTPD_PID

if row_wanted 0; then
	bench_measure 0 "smtp-source -> smtp-sink" "$SINK_PORT" "$BENCH_REUSE" ""
fi
if row_wanted 1; then
	if bench_postfix ""; then
		bench_measure 1 "Postfix -> sink, no milter" "$POSTFIX_PORT" "$BENCH_REUSE" ""
	else
		bench_skip 1 "Postfix -> sink, no milter" "failed: postfix did not start"
	fi
fi
# Rows 2u and 2m are compared with each other (issue 13: metrics on must
# cost under 2 %), more closely than rows run one after the other can be: a
# row that follows another is a few per cent slower. So they run as A B B A
# (2u 2m 2m 2u) and each reports the mean of its two runs (merge_runs below).
for order in 2u 2m 2m 2u; do
	if [[ $order == 2u ]]; then
		md_row 2u "Postfix + milter-delegate, 20 rules, no delegation (unix)" unix \
			"$(rules20_policy rules20-u)" X-Policy-Checked
	else
		metrics_row 2m "Postfix + milter-delegate, 20 rules, no delegation (unix), metrics on" \
			unix "$(rules20_policy rules20-m)" X-Policy-Checked
	fi
done
side_pair 2m 2u
md_row 2i "Postfix + milter-delegate, 20 rules, no delegation (inet)" inet \
	"$(rules20_policy rules20-i)" X-Policy-Checked
md_row 2L "Postfix + milter-delegate, 20 rules + 3 x 10,000-entry list files (unix)" unix \
	"$(lists_policy lists-u)" X-Policy-Checked
md_row 3u "Postfix + milter-delegate -> clamsmtpd + clamd, reference policy (unix)" unix \
	"$(delegate_policy delegate-u "$CLAMSMTPD_A_PORT" "$RECV_PORT")" X-Virus-Scanned
md_row 3i "Postfix + milter-delegate -> clamsmtpd + clamd, reference policy (inet)" inet \
	"$(delegate_policy delegate-i "$CLAMSMTPD_A_PORT" "$RECV_PORT")" X-Virus-Scanned
clamav_milter_row 4u "Postfix + clamav-milter, same clamd (unix)" unix
clamav_milter_row 4i "Postfix + clamav-milter, same clamd (inet)" inet
null_milter_row
md_row 7u "Postfix + milter-delegate, clamd service (FILDES), same clamd (unix)" unix \
	"$(clamd_policy clamd-u)" X-Virus-Scanned
md_row 7i "Postfix + milter-delegate, clamd service (FILDES), same clamd (inet)" inet \
	"$(clamd_policy clamd-i)" X-Virus-Scanned
side_pair 7u 4u
side_pair 7i 4i
if row_wanted 8; then
	# A second clamsmtpd + clamd pair, handing back to the same receiver.
	saved=("$CLAMD_SOCKET" "$CLAMD_PORT" "$CLAMD_PID" "$CLAMD_LOG")
	CLAMD_NAME=clamd2 start_clamd || exit 1
	start_clamsmtpd pass "$RECV_PORT" || exit 1
	CLAMSMTPD_C_PORT=$CLAMSMTPD_PORT
	CLAMD_SOCKET=${saved[0]} CLAMD_PORT=${saved[1]} CLAMD_PID=${saved[2]} CLAMD_LOG=${saved[3]}
	md_row 8 "Postfix + milter-delegate -> pool of 2 clamsmtpd + clamd, reference policy (unix)" unix \
		"$(pool_policy pool-u "$CLAMSMTPD_A_PORT" "$CLAMSMTPD_C_PORT" "$RECV_PORT")" X-Virus-Scanned
fi
after_queue_row
if row_wanted 5; then
	SUT_PID=$CLAMSMTPD_B_PID SUT_NAME=clamsmtpd
	bench_measure 5 "smtp-source -d -> clamsmtpd + clamd -> sink" "$CLAMSMTPD_B_PORT" 1 \
		X-Virus-Scanned
	SUT_PID= SUT_NAME=
fi
shim_rows
big_messages
huge_message
[[ -n ${POSTFIX_PID:-} ]] && stop_postfix

# ---- report --------------------------------------------------------------

rows_json=$(printf '%s\n' "${BENCH_ROWS[@]}" | jq -cs '
	# merge_runs: the runs of one row (2u, 2m run twice) as one row: the
	# mean of each figure, the largest RSS, the rate of every run under "runs".
	def mean($k): map(.[$k]) | if any(. == null) then null
		else (add / length * 10 | round / 10) end;
	def merge_runs: if length == 1 then .[0] else
		. as $runs
		| .[0] + (reduce ("msgs_per_s", "load_msgs_per_s", "accept_p50_ms",
			"accept_p99_ms", "accept_max_ms", "delivery_p50_ms", "delivery_p99_ms",
			"cpu_s") as $k ({}; . + {($k): ($runs | mean($k))}))
		+ {runs: map({msgs_per_s, load_msgs_per_s, cpu_s, status}),
		   peak_rss_kb: (map(.peak_rss_kb // 0) | max),
		   status: (if all(.status == "ok") then "ok"
			else (map(.status) | unique | join("; ")) end)} end;
	reduce .[] as $r ([]; if any(.[]; .[0].id == $r.id)
		then map(if .[0].id == $r.id then . + [$r] else . end) else . + [[$r]] end)
	| map(merge_runs) |
	def ref($id): if $id == "2L" or $id == "2m" then "2u" elif $id == "6L" then "6a"
		elif $id == "7u" then "4u" elif $id == "7i" then "4i"
		elif $id == "8" then "3u" elif $id == "9" then "6b"
		elif ($id | test("^[24]")) then "1"
		elif ($id | test("^(3|6b)")) then "5"
		elif $id == "6a" then "1" elif $id == "1" then "0" else null end;
	(map({key: .id, value: .msgs_per_s}) | from_entries) as $rate
	| map(. + {reference: ref(.id)}
		| . + {ratio: (if .reference and .msgs_per_s and $rate[.reference]
			then ((.msgs_per_s / $rate[.reference]) * 1000 | round / 1000)
			else null end)}
		| if (.id | test("^2[ui]$")) and .msgs_per_s and $rate["2n"]
			then . + {ratio_2n: ((.msgs_per_s / $rate["2n"]) * 1000 | round / 1000)}
			else . end)')
result=$(jq -n --argjson rows "$rows_json" --argjson extra "$BENCH_EXTRA" --argjson side "$BENCH_SIDE" \
	--arg started "$started" \
	--argjson seconds "$(awk -v a="$bench_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" \
	--arg host "$(uname -srm), $(nproc) CPUs" \
	--arg load_start "$load_start" --arg load_end "$(cut -d' ' -f1-3 /proc/loadavg)" \
	--arg commit "$(git -C "$MD_TOP" rev-parse --short HEAD 2>/dev/null)" \
	--arg postfix "$(postconf -dh mail_version 2>/dev/null)" \
	--arg clamd "$(clamd --version 2>/dev/null)" \
	--arg clamav_milter "$(clamav-milter --version 2>/dev/null)" \
	--arg clamsmtpd "$(clamsmtpd -v 2>&1 | head -1)" \
	--argjson messages "$BENCH_MESSAGES" --argjson sessions "$BENCH_SESSIONS" \
	--argjson size "$BENCH_SIZE" --argjson reuse "$BENCH_REUSE" \
	'{started: $started, seconds: $seconds, host: $host, commit: $commit,
	  loadavg_at_start: $load_start, loadavg_at_end: $load_end,
	  versions: {postfix: $postfix, clamd: $clamd, clamav_milter: $clamav_milter,
	             clamsmtpd: $clamsmtpd},
	  load: {messages: $messages, sessions: $sessions, size: $size,
	         reuse_connections_rows_0_to_4: ($reuse == 1)},
	  latency_note: "accept = start of the message (connect, or MAIL FROM on a reused connection) to the reply to its final dot, per message, from bench/smtp-load; delivery = X-Bench-Sent stamp to the sink file mtime",
	  rows: $rows, side_by_side: $side} + $extra')
mkdir -p "$BENCH_RESULTS"
out=$BENCH_RESULTS/$started.json
printf '%s\n' "$result" >"$out"

# The table: one line per row, then the big-message results.
jq -r '
	def n($v; $d): if $v == null then "-" else ($v * $d | round / $d | tostring) end;
	def mb($kb): if $kb == null then "-" else (($kb / 1024 * 10 | round / 10 | tostring)) end;
	(["row", "scenario", "msg/s", "msg/s(2)", "acc p50", "acc p99", "dlv p50",
	  "dlv p99", "RSS MB", "process", "ratio", "ref", "note"] | @tsv),
	(.rows[] | if .msgs_per_s == null and .load_msgs_per_s == null then [.id, .name, .status] | @tsv else
	  [.id, .name, n(.msgs_per_s; 1), n(.load_msgs_per_s; 1), n(.accept_p50_ms; 10),
	   n(.accept_p99_ms; 10), n(.delivery_p50_ms; 10), n(.delivery_p99_ms; 10),
	   mb(.peak_rss_kb), (.process // "" | if . == "" then "-" else . end),
	   n(.ratio; 1000), (.reference // "-"),
	   ((if .runs then "runs \(.runs | map(.msgs_per_s | tostring) | join("/")) " else "" end) +
	    (if .ratio_2n then "\(.ratio_2n) of 2n " else "" end) +
	    (if .status == "ok" then "" else .status end))] | @tsv end)' <<<"$result" |
	column -t -s $'\t'
echo
jq -r '
	def mb($kb): if $kb == null then "-" else (($kb / 1024 * 10 | round / 10 | tostring)) end;
	(if .big then
	  (if .big.status == "ok" then
	    "big: \(.big.concurrent) concurrent x \(.big.size) bytes via \(.big.path): peak RSS \(mb(.big.peak_rss_kb)) MB (VmHWM; \(mb(.big.rss_at_start_kb)) MB at start; \(.big.peak_threads) threads at most), \(.big.delivered)/\(.big.messages) delivered, \(.big.msgs_per_s) msg/s, accept p50 \(.big.accept_p50_ms) ms max \(.big.accept_max_ms) ms [\(.big.load_summary)]"
	   else "big: \(.big.status)" end) else empty end),
	(.side_by_side // {} | to_entries[] | (.key | split("|")) as [$a, $b] | .value |
	  if .status == "ok" then
	    "side by side \($a) | \($b) (one Postfix, both milters at once, \(.rounds | length) rounds of \(.messages_each) messages to each): \($a) \(.msgs_per_s_a) msg/s, \($b) \(.msgs_per_s_b) msg/s, \($a)/\($b) = \(.ratio) (rounds: \(.rounds | map(.ratio | tostring) | join(", "))); milter CPU \(.cpu_s_a) s vs \(.cpu_s_b) s"
	  else "side by side \($a) | \($b): \(.status)" end),
	(if .huge then
	  "huge: one message of \(.huge.size) bytes:",
	  (.huge | to_entries[] | select(.key != "size") |
	   "  row \(.key): \(.value.path // "") \(if .value.status then .value.status
	     else "accepted in \(.value.accept_ms) ms, at the sink after \(.value.delivery_ms) ms, peak RSS \(mb(.value.peak_rss_kb)) MB" end)")
	 else empty end)' <<<"$result"
echo
jq -r '"load average \(.loadavg_at_start) at the start, \(.loadavg_at_end) at the end (other work on the machine skews every row)"' <<<"$result"
echo "results: $out ($(jq -r .seconds <<<"$result") s)"
