#!/usr/bin/env bash
# 081-postfix-chroot.sh - the shipped main.cf snippet (contrib/postfix-main.cf)
# and the milter's socket default layout work with Postfix's smtpd and
# cleanup chrooted, as Debian ships them, and with chroot off: the snippet
# names the socket relative to Postfix's queue directory
# (unix:milter-delegate/milter.sock), which every Postfix daemon has as its
# working directory, chrooted there or not. The milter runs as nobody with
# the default socket mode and group (0660, postfix) in a folder it creates
# (0750, nobody:postfix): Postfix (user postfix) connects, nobody else can.
# Per mode: a clean message arrives with X-Virus-Scanned, EICAR lands in
# virus_q, and a message from sendmail(1) passes non_smtpd_milters.

. "$MD_TOP/t/lib/peers.sh"
peers_init
peers_require swaks clamd clamsmtpd postfix
(( EUID == 0 )) || skip_all "needs root (-u nobody, Postfix)"

milter=$MD_BUILD/milter-delegate
policy=$PEERS_DIR/policy.json
quarantine=$PEERS_DIR/quarantine

start_clamd || bail_out "clamd did not start"
start_sink || bail_out "smtp-sink did not start"
recv_port=$(free_port)
start_clamsmtpd pass "$recv_port" || bail_out "clamsmtpd did not start"
sed -e "s|127.0.0.1:10026|127.0.0.1:$CLAMSMTPD_PORT|" -e "s|127.0.0.1:10025|127.0.0.1:$recv_port|" \
    -e "s|/var/lib/milter-delegate/quarantine|$quarantine|" \
    -e "s|/var/spool/milter-delegate|$PEERS_DIR/spool|" \
    "$MD_TOP/policies/default.json" >"$policy"
# The snippet as shipped (its settings override start_postfix's).
POSTFIX_EXTRA_MAIN_CF=$(grep -v '^[[:space:]]*#' "$MD_TOP/contrib/postfix-main.cf" | grep .)
like "$POSTFIX_EXTRA_MAIN_CF" "^smtpd_milters = unix:milter-delegate/milter.sock$" \
	"the snippet names the socket relative to the queue directory"
eicar=$(eicar_string)

# quarantined - print how many messages virus_q holds.
quarantined() {
	local files=("$quarantine"/virus_q/*.eml)
	[[ -e ${files[0]} ]] && echo "${#files[@]}" || echo 0
}

# quarantined_more N - true once virus_q holds more than N messages.
quarantined_more() {
	(( $(quarantined) > $1 ))
}

# round CHROOT - start Postfix (POSTFIX_CHROOT=CHROOT) and the milter, send, stop.
round() {
	local mode=$1 what sock out file n
	what=$([[ $mode == 1 ]] && echo "smtpd+cleanup chrooted" || echo "chroot off")
	POSTFIX_CHROOT=$mode start_postfix "" || bail_out "postfix ($what) did not start"
	sock=$POSTFIX_QUEUE/milter-delegate/milter.sock
	"$milter" -f -u nobody -c "$policy" -p "unix:$sock" >"$PEERS_DIR/milter-$mode.log" 2>&1 &
	milter_pid=$!
	peers_track "$milter_pid"
	wait_until 10 test -S "$sock" || bail_out "milter did not start: $(tail -3 "$PEERS_DIR/milter-$mode.log")"
	[[ $mode == 1 ]] && is "$(stat -c '%U:%G %a' "${sock%/*}") $(stat -c '%U:%G %a' "$sock")" \
		"nobody:postfix 750 nobody:postfix 660" "the socket folder and socket: nobody's, group postfix"

	out=$(swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --from a@example.com --to b@example.net \
		--h-Subject "clean-$mode" --timeout 60 2>&1)
	like "$out" "<- +250 .*queued as" "$what: a clean message is accepted"
	file=$(sink_wait_for "Subject: clean-$mode" 20)
	check "$what: ... and delivered with X-Virus-Scanned" \
		grep -q "^X-Virus-Scanned: ClamAV using ClamSMTP" "${file:-/nonexistent}"

	n=$(quarantined)
	swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --from a@example.com --to b@example.net \
		--h-Subject "eicar-$mode" --attach - --timeout 60 <<<"$eicar" >/dev/null 2>&1
	wait_until 20 quarantined_more "$n"
	check "$what: EICAR lands in virus_q" quarantined_more "$n"

	printf 'Subject: sendmail-%s\n\nSubmitted with sendmail(1).\n' "$mode" |
		sendmail -C "$POSTFIX_DIR" -f a@example.com b@example.net 2>/dev/null
	file=$(sink_wait_for "Subject: sendmail-$mode" 30)
	check "$what: a message from sendmail(1) goes through non_smtpd_milters" \
		grep -q "^X-Virus-Scanned: ClamAV using ClamSMTP" "${file:-/nonexistent}"
	grep -q "connect to Milter service" "$POSTFIX_LOG" &&
		diag "$(grep "connect to Milter service" "$POSTFIX_LOG" | tail -2)"

	stop_pid "$milter_pid"
	check "$what: after SIGTERM nothing is left in the socket folder" \
		test -z "$(ls -A "${sock%/*}")"
	stop_postfix
	POSTFIX_DIR=
}

round 1
round 0

done_testing
