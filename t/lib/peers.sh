# peers.sh - start and stop the real mail peers for integration tests.
#
# Integration tests source this file (bash only):
#
#     . "$MD_TOP/t/lib/peers.sh"
#     peers_init
#     start_clamd && start_sink && start_clamsmtpd pass "$SINK_PORT" ||
#         bail_out "peers did not start"
#     ...
#     done_testing
#
# It starts clamd (with a one-signature database that detects EICAR, so no
# download is ever needed), clamsmtpd, smtp-sink and a private Postfix, all on
# loopback ports and under one temporary directory ($PEERS_DIR). Every process
# is started in the background, recorded by PID and stopped by PID when the
# script exits for any reason (EXIT, INT, TERM): nothing is left running and
# the temporary directory is removed (set PEERS_KEEP=1 to keep it).
#
# The start_* functions set global variables (ports, PIDs, paths), so call
# them directly, never inside $(...). Each returns non-zero and prints a
# "# ..." diagnostic with the tail of the peer's log when the peer does not
# come up. Daemons write their output to log files under $PEERS_DIR, never to
# the test's stdout, so that a test runner reading that stdout is not held open.
#
# The TAP helpers at the end print "ok - ...", "not ok - ..." and
# "ok - ... # SKIP reason" lines; done_testing exits non-zero if any failed.

PEERS_DIR=
PEERS_PIDS=()
PEERS_MOUNTS=()
PEERS_TESTS=0
PEERS_FAILED=0

# peers_init - make $PEERS_DIR and install the clean-up traps.
# $TMPDIR (default /tmp) must be reachable by the users "nobody" and
# "postfix": smtp-sink and the Postfix daemons drop privileges.
peers_init() {
	PEERS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/md-peers.XXXXXX") || exit 1
	# Daemons that drop privileges (smtp-sink, Postfix) must reach their files.
	chmod 755 "$PEERS_DIR"
	trap peers_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# peers_cleanup - stop every recorded process and remove $PEERS_DIR (EXIT trap).
peers_cleanup() {
	local status=$? pid dir
	trap - EXIT INT TERM
	[[ -n ${POSTFIX_DIR:-} ]] && stop_postfix
	for pid in "${PEERS_PIDS[@]}"; do
		stop_pid "$pid"
	done
	for dir in "${PEERS_MOUNTS[@]}"; do
		umount "$dir" 2>/dev/null
	done
	if [[ -n $PEERS_DIR && -d $PEERS_DIR ]]; then
		if [[ ${PEERS_KEEP:-0} == 1 ]]; then
			echo "# kept $PEERS_DIR"
		else
			rm -rf "$PEERS_DIR"
		fi
	fi
	exit "$status"
}

# peers_track_mount DIR - record a file system mounted on DIR for peers_cleanup.
peers_track_mount() {
	PEERS_MOUNTS+=("$1")
}

# peers_track PID - record a background process for peers_cleanup.
peers_track() {
	PEERS_PIDS+=("$1")
}

# stop_pid PID [SECONDS] - SIGTERM, wait (default 5 s), then SIGKILL; reap it.
# Only a child of this shell is signalled: bash reaps exited background jobs
# by itself, so a recorded PID may since belong to somebody else.
stop_pid() {
	local pid=$1 tries=$(( ${2:-5} * 20 )) p kept=()
	for p in "${PEERS_PIDS[@]}"; do
		[[ $p == "$pid" ]] || kept+=("$p")
	done
	PEERS_PIDS=("${kept[@]}")
	if [[ $(ps -o ppid= -p "$pid" 2>/dev/null) -ne $BASHPID ]]; then
		wait "$pid" 2>/dev/null
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null
	# A child of this shell stays a zombie (and "alive") until reaped.
	while ! pid_gone "$pid" && (( tries-- > 0 )); do
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# peers_require CMD... - skip the whole script (exit 0) unless all CMDs exist.
peers_require() {
	local cmd missing=()
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
	done
	(( ${#missing[@]} == 0 )) && return 0
	skip_all "missing ${missing[*]} (run: make deps)"
}

# peers_log_tail FILE - print the end of a peer's log as TAP diagnostics.
peers_log_tail() {
	[[ -f $1 ]] && tail -n 15 "$1" | sed 's/^/#   /'
	return 0
}

# port_listening PORT - true if some socket listens on TCP PORT (IPv4 or 6).
# It reads /proc/net/tcp*, so it never connects to the peer.
port_listening() {
	local hex
	printf -v hex ':%04X ' "$1"
	# Field 2 is local address:port, field 4 the state (0A = LISTEN).
	awk -v p="$hex" '$4 == "0A" && index($2 " ", p) { found = 1 } END { exit !found }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# port_in_use PORT - true if TCP PORT appears in any state, or was handed out.
port_in_use() {
	local hex
	printf -v hex ':%04X ' "$1"
	awk -v p="$hex" 'index($2 " ", p) || index($3 " ", p) { found = 1 } END { exit !found }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null && return 0
	[[ -n $PEERS_DIR && -f $PEERS_DIR/ports ]] && grep -qx "$1" "$PEERS_DIR/ports"
}

# free_port - print a free loopback TCP port, never the same twice per test.
# Ports come from 20000-32767, below Linux's ephemeral range, so that the
# kernel does not hand them to outgoing connections meanwhile.
free_port() {
	local port tries=200
	while (( tries-- > 0 )); do
		port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12768 ))
		port_in_use "$port" && continue
		[[ -n $PEERS_DIR ]] && echo "$port" >>"$PEERS_DIR/ports"
		echo "$port"
		return 0
	done
	echo "# free_port: no free port found" >&2
	return 1
}

# wait_port HOST PORT [SECONDS] - wait (default 10 s) until PORT listens.
# HOST is documentation only: every peer here listens on 127.0.0.1.
wait_port() {
	local tries=$(( ${3:-10} * 20 ))
	until port_listening "$2"; do
		(( tries-- > 0 )) || return 1
		sleep 0.05
	done
}

# wait_until SECONDS CMD... - poll CMD every 50 ms until it succeeds.
wait_until() {
	local tries=$(( $1 * 20 ))
	shift
	until "$@"; do
		(( tries-- > 0 )) || return 1
		sleep 0.05
	done
}

# wait_started PID SECONDS CMD... - wait until CMD succeeds, giving up early
# if process PID has exited.
wait_started() {
	local pid=$1 tries=$(( $2 * 20 ))
	shift 2
	until "$@"; do
		(( tries-- > 0 )) && ! pid_gone "$pid" || return 1
		sleep 0.05
	done
}

# eicar_string - print the 68-byte EICAR test string (no newline).
# Kept in two halves so that virus scanners do not flag this file.
eicar_string() {
	local head='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR'
	local tail='-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
	printf '%s%s' "$head" "$tail"
}

# clamd_ping - true if clamd answers zPING with PONG on $CLAMD_PORT.
clamd_ping() {
	local reply
	reply=$(
		exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$CLAMD_PORT" || exit 1
		printf 'zPING\0' >&3
		read -r -d '' -t 2 reply <&3
		printf '%s' "$reply"
	)
	[[ $reply == PONG ]]
}

# start_clamd - start clamd with a database that detects only EICAR.
# Sets CLAMD_SOCKET (unix socket, for clamsmtpd and clamav-milter),
# CLAMD_PORT (TCP on 127.0.0.1), CLAMD_PID and CLAMD_LOG. Virus names are
# reported as "MD.Test.EICAR.UNOFFICIAL". Lines in $CLAMD_EXTRA_CONF are
# added to clamd.conf ("StreamMaxLength 20K").
start_clamd() {
	local dir=$PEERS_DIR/${CLAMD_NAME:-clamd} eicar md5 hex
	mkdir -p "$dir/db" "$dir/tmp"
	eicar=$(eicar_string)
	md5=$(printf '%s' "$eicar" | md5sum)
	hex=$(printf '%s' "$eicar" | od -An -tx1 | tr -d ' \n')
	# The hash catches the file and a base64 MIME part; the body pattern
	# catches EICAR inline in a message.
	echo "${md5%% *}:${#eicar}:MD.Test.EICAR" >"$dir/db/md-test.hdb"
	echo "MD.Test.EICAR:0:*:$hex" >"$dir/db/md-test.ndb"
	CLAMD_SOCKET=$dir/clamd.sock
	CLAMD_PORT=$(free_port) || return 1
	CLAMD_LOG=$dir/clamd.log
	cat >"$dir/clamd.conf" <<-EOF
		Foreground yes
		User root
		LocalSocket $CLAMD_SOCKET
		TCPSocket $CLAMD_PORT
		TCPAddr 127.0.0.1
		DatabaseDirectory $dir/db
		TemporaryDirectory $dir/tmp
		PidFile $dir/clamd.pid
		LogFile $CLAMD_LOG
		LogTime yes
		ScanMail yes
		SelfCheck 0
		Bytecode no
		${CLAMD_EXTRA_CONF:-}
	EOF
	clamd -c "$dir/clamd.conf" </dev/null >"$dir/clamd.out" 2>&1 &
	CLAMD_PID=$!
	peers_track "$CLAMD_PID"
	if ! wait_started "$CLAMD_PID" 20 clamd_ping; then
		echo "# clamd did not answer PING on port $CLAMD_PORT"
		peers_log_tail "$dir/clamd.out"
		return 1
	fi
}

# stop_clamd - stop clamd (to test what its clients do without it).
stop_clamd() {
	stop_pid "$CLAMD_PID"
}

# start_clamsmtpd ACTION OUTPORT [PORT] - start clamsmtpd (Action pass|drop|bounce)
# relaying to 127.0.0.1:OUTPORT and scanning with $CLAMD_SOCKET.
# Sets CLAMSMTPD_PORT, CLAMSMTPD_PID and CLAMSMTPD_LOG; every call starts
# another instance, so several actions can run side by side. PORT (default:
# a free one) is where it listens. CLAMSMTPD_MAX_CONNECTIONS (16) and
# CLAMSMTPD_TIMEOUT (30 s) set its limits.
start_clamsmtpd() {
	local action=$1 outport=$2 dir
	dir=$(mktemp -d "$PEERS_DIR/clamsmtpd.XXXX") || return 1
	mkdir "$dir/tmp"
	CLAMSMTPD_PORT=${3:-$(free_port)} || return 1
	CLAMSMTPD_LOG=$dir/clamsmtpd.log
	# clamd reads the spooled message by path: both run as root here.
	cat >"$dir/clamsmtpd.conf" <<-EOF
		OutAddress: 127.0.0.1:$outport
		Listen: 127.0.0.1:$CLAMSMTPD_PORT
		ClamAddress: $CLAMD_SOCKET
		Header: X-Virus-Scanned: ClamAV using ClamSMTP
		TempDirectory: $dir/tmp
		Action: $action
		MaxConnections: ${CLAMSMTPD_MAX_CONNECTIONS:-16}
		TimeOut: ${CLAMSMTPD_TIMEOUT:-30}
		PidFile: $dir/clamsmtpd.pid
	EOF
	# -d keeps it in the foreground and logs to stderr.
	clamsmtpd -d 3 -f "$dir/clamsmtpd.conf" </dev/null >"$CLAMSMTPD_LOG" 2>&1 &
	CLAMSMTPD_PID=$!
	peers_track "$CLAMSMTPD_PID"
	if ! wait_started "$CLAMSMTPD_PID" 10 port_listening "$CLAMSMTPD_PORT"; then
		echo "# clamsmtpd ($action) did not listen on port $CLAMSMTPD_PORT"
		peers_log_tail "$CLAMSMTPD_LOG"
		return 1
	fi
}

# start_spampd OUTPORT [PORT] - start spampd 2.53 (SpamAssassin as an SMTP
# filter) relaying to 127.0.0.1:OUTPORT. With --tagall every message comes
# out with X-Spam-Status and X-Spam-Checker-Version, spam also with
# X-Spam-Flag: YES. report_safe stays at SpamAssassin's default (1): spam
# comes out as a new message with the original attached as message/rfc822.
# It runs offline: --local-only and a --saconfig file turn off network
# tests, DNS and Bayes (which would learn into /var/cache/spampd, shared by
# every run). It loads its rules before it listens: seconds when the
# machine is idle, 20 s and more when it is busy (SPAMPD_START_TIMEOUT,
# default 90 s). Sets SPAMPD_PORT (PORT or a free one), SPAMPD_PID and
# SPAMPD_LOG (its stderr: spampd logs only to syslog, which does not run
# here, so this holds little more than its complaints about that).
start_spampd() {
	local outport=$1 dir
	dir=$(mktemp -d "$PEERS_DIR/spampd.XXXX") || return 1
	SPAMPD_PORT=${2:-$(free_port)} || return 1
	SPAMPD_LOG=$dir/spampd.log
	# A test-environment setting, not a verdict tuning: no network here.
	cat >"$dir/sa.cf" <<-EOF
		dns_available no
		skip_rbl_checks 1
		use_bayes 0
		bayes_auto_learn 0
	EOF
	# --logsock=inet: with the default (unix) it dies when no syslog runs.
	# No --homedir: spampd does not untaint it and SpamAssassin dies.
	spampd --nodetach --host="127.0.0.1:$SPAMPD_PORT" --relayhost="127.0.0.1:$outport" \
		--children=2 --local-only --tagall --saconfig="$dir/sa.cf" \
		--logsock=inet --pid="$dir/spampd.pid" --user=root --group=root \
		</dev/null >"$SPAMPD_LOG" 2>&1 &
	SPAMPD_PID=$!
	peers_track "$SPAMPD_PID"
	if ! wait_started "$SPAMPD_PID" "${SPAMPD_START_TIMEOUT:-90}" port_listening "$SPAMPD_PORT"; then
		echo "# spampd did not listen on port $SPAMPD_PORT"
		peers_log_tail "$SPAMPD_LOG"
		return 1
	fi
}

# start_slow_filter DELAY_MS OUTPORT [PORT] - start our test filter
# (t/tools/slow_filter, built in $MD_BUILD/t): it takes each message, waits
# DELAY_MS, passes it on to 127.0.0.1:OUTPORT as clamsmtpd does, and only
# then answers. Sets SLOW_FILTER_PORT (PORT or a free one), SLOW_FILTER_PID
# and SLOW_FILTER_LOG.
start_slow_filter() {
	SLOW_FILTER_PORT=${3:-$(free_port)} || return 1
	SLOW_FILTER_LOG=$(mktemp "$PEERS_DIR/slow-filter.XXXX.log") || return 1
	"$MD_BUILD/t/slow_filter" "$SLOW_FILTER_PORT" "$2" "$1" </dev/null >"$SLOW_FILTER_LOG" 2>&1 &
	SLOW_FILTER_PID=$!
	peers_track "$SLOW_FILTER_PID"
	if ! wait_started "$SLOW_FILTER_PID" 10 port_listening "$SLOW_FILTER_PORT"; then
		echo "# slow_filter did not listen on port $SLOW_FILTER_PORT"
		peers_log_tail "$SLOW_FILTER_LOG"
		return 1
	fi
}

# start_sink [OPTION...] - start smtp-sink, which accepts everything and
# dumps each message (with X-Client-Addr/X-Mail-Args/X-Rcpt-Args lines and its
# own Received header first) to a file $SINK_DIR/msg.HEX. OPTIONs go to
# smtp-sink as they are: "-f . -B '554 5.7.1 No'" refuses every message for
# good, "-r RCPT" every recipient for now, "-q ." hangs up after the data.
# Sets SINK_PORT, SINK_PID, SINK_DIR and SINK_LOG.
start_sink() {
	SINK_DIR=$PEERS_DIR/sink
	SINK_LOG=$PEERS_DIR/sink.log
	mkdir -p "$SINK_DIR"
	chown nobody "$SINK_DIR"     # smtp-sink -u nobody writes the dumps
	SINK_PORT=$(free_port) || return 1
	smtp-sink -u nobody -4 -c -d "$SINK_DIR/msg." "$@" "127.0.0.1:$SINK_PORT" 256 \
		</dev/null >"$SINK_LOG" 2>&1 &
	SINK_PID=$!
	peers_track "$SINK_PID"
	if ! wait_started "$SINK_PID" 10 port_listening "$SINK_PORT"; then
		echo "# smtp-sink did not listen on port $SINK_PORT"
		peers_log_tail "$SINK_LOG"
		return 1
	fi
}

# sink_count - print how many messages the sink has received.
sink_count() {
	local files=("$SINK_DIR"/msg.*)
	[[ -e ${files[0]} ]] || { echo 0; return; }
	echo "${#files[@]}"
}

# sink_clear - forget the messages received so far.
sink_clear() {
	rm -f "$SINK_DIR"/msg.*
}

# sink_wait N [SECONDS] - wait (default 10 s) until the sink holds N messages
# and the newest is complete.
sink_wait() {
	wait_until "${2:-10}" sink_has "$1" || return 1
	file_settle "$(sink_last)"
}

# file_settle FILE - wait until FILE stops growing (smtp-sink writes a
# message as it arrives).
file_settle() {
	local size=-1
	while [[ $size != $(stat -c %s "$1") ]]; do
		size=$(stat -c %s "$1")
		sleep 0.1
	done
}

# sink_has N - true if the sink holds at least N messages.
sink_has() {
	(( $(sink_count) >= $1 ))
}

# sink_last - print the path of the newest message in the sink.
sink_last() {
	ls -t "$SINK_DIR"/msg.* 2>/dev/null | head -n 1
}

# sink_find FIXED-STRING - print the sink's messages that contain the string.
sink_find() {
	local files=("$SINK_DIR"/msg.*)
	[[ -e ${files[0]} ]] || return 1
	grep -lF -- "$1" "${files[@]}"
}

# sink_wait_for FIXED-STRING [SECONDS] - wait (default 10 s) for a message
# containing the string; print its path.
sink_wait_for() {
	local file
	wait_until "${2:-10}" sink_find "$1" >/dev/null || return 1
	file=$(sink_find "$1" | head -n 1)
	file_settle "$file"
	echo "$file"
}

# msg_headers FILE - print the header section of a message (folded lines
# are left as they are; the first blank line ends it).
msg_headers() {
	sed -e 's/\r$//' -e '/^$/q' "$1" | sed '/^$/d'
}

# start_postfix [MILTERS] - start a private Postfix that relays all mail to
# the sink ($SINK_PORT must be set), with smtpd_milters=MILTERS if given.
# Sets POSTFIX_DIR (config dir, for postfix/postqueue/postcat -c), POSTFIX_PORT
# (its smtpd on 127.0.0.1; POSTFIX_FIXED_PORT picks it), POSTFIX_QUEUE,
# POSTFIX_LOG and POSTFIX_PID. Lines in $POSTFIX_EXTRA_MAIN_CF are appended
# to main.cf (e.g. "milter_content_timeout = 5s"), those in
# $POSTFIX_EXTRA_MASTER_CF to master.cf (another smtpd, say). POSTFIX_CHROOT=1 runs smtpd
# and cleanup chrooted in the queue directory, as Debian's stock master.cf
# does (postfix_chroot_files sets the chroot up).
start_postfix() {
	local milters=${1:-} top=$PEERS_DIR/postfix
	mkdir -p "$top/etc" "$top/queue" "$top/data"
	chown postfix "$top/data"
	POSTFIX_DIR=$top/etc            # absolute: "postfix -c" needs it
	POSTFIX_QUEUE=$top/queue
	POSTFIX_LOG=$top/maillog
	POSTFIX_PORT=${POSTFIX_FIXED_PORT:-$(free_port)} || return 1
	postfix_main_cf "$milters" >"$POSTFIX_DIR/main.cf"
	postfix_master_cf >"$POSTFIX_DIR/master.cf"
	[[ ${POSTFIX_CHROOT:-0} == 1 ]] && postfix_chroot_files "$POSTFIX_QUEUE"
	# "postfix check" creates the queue directories with their owners.
	if ! postfix -c "$POSTFIX_DIR" check >"$top/check.log" 2>&1; then
		echo "# postfix check failed"
		peers_log_tail "$top/check.log"
		return 1
	fi
	postfix -c "$POSTFIX_DIR" start-fg </dev/null >"$top/start.log" 2>&1 &
	POSTFIX_PID=$!
	peers_track "$POSTFIX_PID"
	if ! wait_started "$POSTFIX_PID" 20 port_listening "$POSTFIX_PORT"; then
		echo "# postfix did not listen on port $POSTFIX_PORT"
		peers_log_tail "$top/start.log"
		peers_log_tail "$POSTFIX_LOG"
		return 1
	fi
}

# postfix_main_cf MILTERS - print main.cf for start_postfix.
postfix_main_cf() {
	cat <<-EOF
		compatibility_level = 3.6
		queue_directory = $POSTFIX_QUEUE
		data_directory = $PEERS_DIR/postfix/data
		mail_owner = postfix
		setgid_group = postdrop
		myhostname = mx.md-test.invalid
		mydomain = md-test.invalid
		myorigin = \$myhostname
		inet_interfaces = loopback-only
		inet_protocols = ipv4
		mydestination =
		local_recipient_maps =
		alias_maps =
		alias_database =
		relayhost = [127.0.0.1]:$SINK_PORT
		smtp_dns_support_level = disabled
		mynetworks = 127.0.0.0/8
		smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
		smtpd_tls_security_level = none
		smtp_tls_security_level = none
		smtpd_milters = $1
		milter_default_action = tempfail
		in_flow_delay = 0
		smtpd_error_sleep_time = 0
		maillog_file = $POSTFIX_LOG
		maillog_file_prefixes = $PEERS_DIR
		biff = no
		append_dot_mydomain = no
	EOF
	[[ -z ${POSTFIX_EXTRA_MAIN_CF:-} ]] || printf '%s\n' "$POSTFIX_EXTRA_MAIN_CF"
}

# postfix_chroot_files QUEUE - copy into the queue directory what chrooted
# Postfix daemons read from /etc, as Debian's postfix start-up does
# (/usr/lib/postfix/configure-instance.sh).
postfix_chroot_files() {
	local file
	for file in etc/localtime etc/services etc/resolv.conf etc/hosts etc/host.conf \
		    etc/nsswitch.conf; do
		mkdir -p "$1/${file%/*}"
		[[ -f /$file ]] && cp -L "/$file" "$1/$file" && chmod a+rX "$1/$file"
	done
	return 0
}

# postfix_master_cf - print master.cf for start_postfix: nothing chrooted
# (with POSTFIX_CHROOT=1: smtpd and cleanup), logging through postlogd,
# smtpd only on 127.0.0.1:$POSTFIX_PORT; then $POSTFIX_EXTRA_MASTER_CF.
postfix_master_cf() {
	local c=n
	[[ ${POSTFIX_CHROOT:-0} == 1 ]] && c=y
	cat <<-EOF
		127.0.0.1:$POSTFIX_PORT inet n - $c - - smtpd
		pickup     unix n - n 60   1 pickup
		cleanup    unix n - $c -    0 cleanup
		qmgr       unix n - n 300  1 qmgr
		rewrite    unix - - n -    - trivial-rewrite
		bounce     unix - - n -    0 bounce
		defer      unix - - n -    0 bounce
		trace      unix - - n -    0 bounce
		verify     unix - - n -    1 verify
		flush      unix n - n 1000? 0 flush
		proxymap   unix - - n -    - proxymap
		proxywrite unix - - n -    1 proxymap
		smtp       unix - - n -    - smtp
		relay      unix - - n -    - smtp
		showq      unix n - n -    - showq
		error      unix - - n -    - error
		retry      unix - - n -    - error
		discard    unix - - n -    - discard
		local      unix - n n -    - local
		anvil      unix - - n -    1 anvil
		scache     unix - - n -    1 scache
		postlog    unix-dgram n - n - 1 postlogd
	EOF
	[[ -z ${POSTFIX_EXTRA_MASTER_CF:-} ]] || printf '%s\n' "$POSTFIX_EXTRA_MASTER_CF"
}

# stop_postfix - stop the private Postfix and wait until its master and all
# its daemons have exited.
stop_postfix() {
	local master children='' pid
	[[ -n ${POSTFIX_PID:-} ]] || return 0
	master=$(sed 1q "$POSTFIX_QUEUE/pid/master.pid" 2>/dev/null | tr -d ' ')
	[[ -n $master ]] && children=$(ps -o pid= --ppid "$master")
	postfix -c "$POSTFIX_DIR" stop >/dev/null 2>&1
	stop_pid "$POSTFIX_PID" 10
	POSTFIX_PID=
	for pid in $children; do
		wait_until 5 pid_gone "$pid"
	done
}

# pid_gone PID - true if PID no longer runs (a zombie counts as gone).
pid_gone() {
	local stat
	stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
	[[ $stat == Z* ]]
}

# ---- TAP helpers -------------------------------------------------------

# ok DESC - report a passing check.
ok() {
	PEERS_TESTS=$((PEERS_TESTS + 1))
	echo "ok - $1"
}

# not_ok DESC [DIAG...] - report a failing check, with diagnostic lines.
not_ok() {
	PEERS_TESTS=$((PEERS_TESTS + 1))
	PEERS_FAILED=$((PEERS_FAILED + 1))
	echo "not ok - $1"
	shift
	local line
	for line in "$@"; do
		diag "$line"
	done
}

# skip DESC REASON - report a check that was not run.
skip() {
	PEERS_TESTS=$((PEERS_TESTS + 1))
	echo "ok - $1 # SKIP $2"
}

# diag TEXT - print TEXT (possibly several lines) as TAP comments.
diag() {
	printf '%s\n' "$1" | sed 's/^/# /'
}

# check DESC CMD... - ok if CMD succeeds, not ok otherwise.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc" "command failed: $*"; fi
}

# is GOT WANT DESC - ok if GOT equals WANT.
is() {
	if [[ $1 == "$2" ]]; then
		ok "$3"
	else
		not_ok "$3" "got:      '$1'" "expected: '$2'"
	fi
}

# like GOT ERE DESC - ok if some line of GOT matches the extended regex ERE.
like() {
	if grep -qE -- "$2" <<<"$1"; then
		ok "$3"
	else
		not_ok "$3" "no line matches /$2/ in:" "$1"
	fi
}

# unlike GOT ERE DESC - ok if no line of GOT matches ERE.
unlike() {
	if ! grep -qE -- "$2" <<<"$1"; then
		ok "$3"
	else
		not_ok "$3" "a line matches /$2/ in:" "$1"
	fi
}

# bail_out REASON - report a failure that stops the script, and exit 1.
bail_out() {
	not_ok "$1"
	exit 1
}

# skip_all REASON - skip the whole script and exit 0.
skip_all() {
	echo "ok - ${0##*/} # SKIP $1"
	exit 0
}

# done_testing - print the tally and exit non-zero if a check failed or
# none ran.
done_testing() {
	echo "# $PEERS_TESTS checks, $PEERS_FAILED failed"
	(( PEERS_TESTS > 0 && PEERS_FAILED == 0 ))
	exit
}
