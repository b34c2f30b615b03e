# shim.sh - start delegate-shim for integration tests, and talk SMTP to it.
#
# Source after peers.sh (bash only), once peers_init has run:
#
#     . "$MD_TOP/t/lib/peers.sh"
#     . "$MD_TOP/t/lib/shim.sh"
#     peers_init
#     shim_write_config "$PEERS_DIR/shim.json" '{"maildir": "'"$PEERS_DIR/Maildir"'"}'
#     start_shim "$PEERS_DIR/policy.json" "$PEERS_DIR/shim.json" || bail_out "no shim"
#
# start_shim records the shim's PID with peers_track, so peers_cleanup stops
# it by PID like every other peer. Its log (stderr, level debug) is $SHIM_LOG.

SHIM_PORT=
SHIM_PID=
SHIM_LOG=

# shim_write_config FILE NEXT_HOP_JSON [LIMITS_JSON] - a shim.json on a free
# port (sets SHIM_PORT).
shim_write_config() {
	SHIM_PORT=$(free_port) || return 1
	cat >"$1" <<-EOF
		{
		  "listen": "127.0.0.1:$SHIM_PORT",
		  "hostname": "shim.md-test.invalid",
		  "next_hop": $2,
		  "limits": ${3:-{\}}
		}
	EOF
}

# start_shim POLICY CONFIG [ARGS...] - run delegate-shim (with ARGS) in the
# foreground (background job) and wait until it listens on $SHIM_PORT. Sets
# SHIM_PID and SHIM_LOG.
start_shim() {
	SHIM_LOG=$PEERS_DIR/shim.log
	"$MD_BUILD/delegate-shim" -f -l debug -c "$1" -C "$2" "${@:3}" </dev/null >>"$SHIM_LOG" 2>&1 &
	SHIM_PID=$!
	peers_track "$SHIM_PID"
	if ! wait_started "$SHIM_PID" 10 port_listening "$SHIM_PORT"; then
		echo "# delegate-shim did not listen on port $SHIM_PORT"
		peers_log_tail "$SHIM_LOG"
		return 1
	fi
}

# maildir_count DIR - how many messages DIR/new holds.
maildir_count() {
	local files=("$1"/new/*)
	[[ -e ${files[0]} ]] || { echo 0; return; }
	echo "${#files[@]}"
}

# maildir_find DIR FIXED-STRING - the messages of DIR/new containing the string.
maildir_find() {
	local files=("$1"/new/*)
	[[ -e ${files[0]} ]] || return 1
	grep -lF -- "$2" "${files[@]}"
}

# files_in DIR - how many regular files DIR (recursively) holds.
files_in() {
	find "$1" -type f 2>/dev/null | wc -l
}

# smtp_talk PORT LINE... - send each LINE (CRLF added) and print the reply
# the shim sent to it; a LINE written "=TEXT" sends TEXT without waiting for
# a reply (message text after DATA). Ends after QUIT or when the shim closes.
smtp_talk() {
	local port=$1 line
	shift
	(
		exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
		smtp_reply <&3
		for line in "$@"; do
			if [[ $line == =* ]]; then
				printf '%s\r\n' "${line#=}" >&3
				continue
			fi
			printf '%s\r\n' "$line" >&3
			[[ $line == QUIT ]] && { smtp_reply <&3; exit 0; }
			smtp_reply <&3 || exit 0
		done
	)
}

# smtp_reply - read one (possibly multi-line) reply from stdin and print it.
smtp_reply() {
	local reply
	while IFS= read -r -t 10 reply; do
		reply=${reply%$'\r'}
		echo "$reply"
		[[ ${reply:3:1} == "-" ]] || return 0
	done
	return 1
}

# maildir_has DIR FIXED-STRING - true if a message in DIR/new contains the string.
maildir_has() {
	maildir_find "$1" "$2" >/dev/null
}
