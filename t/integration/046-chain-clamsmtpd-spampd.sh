#!/usr/bin/env bash
# 046-chain-clamsmtpd-spampd.sh - two delegations in one eom stage (issue
# 10): the real clamsmtpd + clamd first, then the real spampd (SpamAssassin,
# report_safe at its default), both returning their copies to one receiver.
# Through a private Postfix + milter-delegate, then through delegate-shim,
# with the same policy: a clean message is delivered with both filters'
# fields imported (X-Virus-Scanned, X-Spam-Status); EICAR lands in virus_q
# and never reaches spampd; GTUBE lands in spam_q. spampd repackages spam as
# a new message with the original (and its X-Delegate-Id) attached, so the
# GTUBE checks hold only once the receiver correlates such a copy.
#
# Then the same with "deliver": "copy" on spampd's delegate: the delivered
# message is spampd's copy (spam tagged, not quarantined, delivered as
# spampd's report with the original attached). MD_TEST_DELIVER_COPY=0
# skips that part.
set -u
. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/shim.sh"
peers_init
peers_require swaks clamd clamsmtpd spampd postfix

MD_TEST_DELIVER_COPY=${MD_TEST_DELIVER_COPY:-1}

milter=$MD_BUILD/milter-delegate
quarantine=$PEERS_DIR/quarantine
spool=$PEERS_DIR/spool
maildir=$PEERS_DIR/Maildir
milter_log=$PEERS_DIR/milter.log
mkdir -p "$spool" "$quarantine"
gtube='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
eicar=$(eicar_string)

# One receiver for both services: clamsmtpd and spampd both relay to it.
recv_port=$(free_port) || bail_out "no free port"
start_clamd || bail_out "clamd did not start"
start_sink || bail_out "smtp-sink did not start"
start_clamsmtpd pass "$recv_port" || bail_out "clamsmtpd did not start"
started=$(date +%s%N)
start_spampd "$recv_port" || bail_out "spampd did not start"
diag "spampd loaded its rules in $(( ($(date +%s%N) - started) / 1000000 )) ms"

# write_policy FILE [copy] - the chain policy; with "copy", spampd's delegate
# delivers its copy and spam is tagged and delivered instead of quarantined.
write_policy() {
	local deliver='"import_headers": ["X-Spam-*"],' spam_then='{ "action": "quarantine", "folder": "spam_q", "reason": "spampd found spam" }'
	if [[ ${2:-} == copy ]]; then
		deliver='"deliver": "copy",'     # the copy has spampd's fields: nothing to import
		spam_then='{ "action": "add_header", "name": "X-Spam-Verdict", "value": "tagged" }'
	fi
	cat >"$1" <<-EOF
	{ "comment": "046: clamsmtpd then spampd, one receiver",
	  "version": 1,
	  "settings": { "quarantine_dir": "$quarantine", "spool_dir": "$spool" },
	  "services": {
	    "clamsmtpd": { "type": "smtp", "receiver": "127.0.0.1:$recv_port",
	                   "delegator": { "address": "127.0.0.1:$CLAMSMTPD_PORT", "timeout": "30s" } },
	    "spampd": { "type": "smtp", "receiver": "127.0.0.1:$recv_port",
	                "delegator": { "address": "127.0.0.1:$SPAMPD_PORT", "timeout": "60s" } }
	  },
	  "stages": { "eom": [
	    { "name": "check for virus",
	      "then": { "action": "delegate", "service": "clamsmtpd", "import_headers": ["X-Virus-Scanned"],
	                "on_error": { "action": "tempfail", "text": "Virus scanner failed" },
	                "rules": [ { "name": "virus found", "if": { "header": "X-Virus-Infected" },
	                             "then": { "action": "quarantine", "folder": "virus_q",
	                                       "reason": "clamsmtpd found a virus" } } ] } },
	    { "name": "check for spam",
	      "then": { "action": "delegate", "service": "spampd", $deliver
	                "on_error": { "action": "tempfail", "text": "Spam filter failed" },
	                "rules": [ { "name": "spam found",
	                             "if": { "header": { "name": "X-Spam-Flag", "value": "YES" } },
	                             "then": $spam_then } ] } }
	  ] }
	}
	EOF
}
write_policy "$PEERS_DIR/policy.json"
"$milter" -t -c "$PEERS_DIR/policy.json" >/dev/null || bail_out "the test policy does not load"

# ---- the two front ends: front_start, front_send, front_delivered, front_stop

front=
milter_port=$(free_port) || bail_out "no free port"

# front_start milter|shim POLICY - run that front end with POLICY.
front_start() {
	front=$1
	case $front in
	milter)
		"$milter" -f -l debug -c "$2" -p "inet:$milter_port@127.0.0.1" >>"$milter_log" 2>&1 &
		milter_pid=$!
		peers_track "$milter_pid"
		wait_started "$milter_pid" 10 port_listening "$milter_port" || return 1
		[[ -n ${POSTFIX_PID:-} ]] || start_postfix "inet:127.0.0.1:$milter_port"
		;;
	shim)
		shim_write_config "$PEERS_DIR/shim.json" "{ \"maildir\": \"$maildir\" }" &&
			start_shim "$2" "$PEERS_DIR/shim.json"
		;;
	esac
}

# front_stop - stop the front end (Postfix stays for the next milter run).
front_stop() {
	case $front in
	milter) stop_pid "$milter_pid" ;;
	shim)   stop_pid "$SHIM_PID" ;;
	esac
}

# front_log - the running front end's log file.
front_log() {
	case $front in
	milter) echo "$milter_log" ;;
	shim)   echo "$SHIM_LOG" ;;
	esac
}

# front_send SUBJECT BODY - send one message; print the reply to the final
# dot of DATA ("250 2.0.0 Ok: queued as ..."), or swaks' last line.
front_send() {
	local port=$POSTFIX_PORT out reply
	[[ $front == shim ]] && port=$SHIM_PORT
	out=$(swaks --server "127.0.0.1:$port" --from sender@example.com --to rcpt@example.net \
		--h-Subject "$1" --body "$2" --timeout 60 2>&1)
	reply=$(sed -n '/^ *-> \.$/{n;s/^<[-*~]* *//p;q}' <<<"$out")
	echo "${reply:-$(tail -n 1 <<<"$out")}"
}

# front_delivered SUBJECT [SECONDS] - wait for the delivered message; print its path.
front_delivered() {
	case $front in
	milter) sink_wait_for "Subject: $1" "${2:-20}" ;;
	shim)   wait_until "${2:-20}" maildir_has "$maildir" "Subject: $1" &&
			maildir_find "$maildir" "Subject: $1" | head -n 1 ;;
	esac
}

# quarantined FOLDER SUBJECT - print the .eml in FOLDER holding SUBJECT.
quarantined() {
	local files=("$quarantine/$1"/*.eml)
	[[ -e ${files[0]} ]] && grep -lF -- "Subject: $2" "${files[@]}" | head -n 1
}

# refusals - the front end's log lines that explain a failed spampd delegation.
refusals() {
	grep -E "receiver: refused|delegate=spampd|Spam filter failed" "$(front_log)" | tail -n 6
}

# ---- the checks -------------------------------------------------------------

# check_clean - a clean message passes both filters and carries both fields.
check_clean() {
	local subject="clean via $front" out file hdr
	out=$(front_send "$subject" "Hello, this is a clean message.")
	like "$out" "^250 " "$front: a clean message is accepted"
	file=$(front_delivered "$subject")
	if [[ -z $file ]]; then
		not_ok "$front: it is delivered" "$(tail -n 5 "$(front_log)")"
		return
	fi
	ok "$front: it is delivered"
	hdr=$(msg_headers "$file")
	is "$(grep -c '^X-Virus-Scanned: ClamAV using ClamSMTP' <<<"$hdr")" 1 \
		"$front: ... with clamsmtpd's X-Virus-Scanned, once"
	is "$(grep -c '^X-Spam-Status: No, ' <<<"$hdr")" 1 "$front: ... with spampd's X-Spam-Status: No, once"
	like "$hdr" '^X-Spam-Checker-Version: SpamAssassin' "$front: ... and X-Spam-Checker-Version"
	unlike "$hdr" '^X-Delegate-Id' "$front: ... without the correlation header"
}

# check_eicar - EICAR stops at clamsmtpd: virus_q, not delivered.
check_eicar() {
	local subject="eicar via $front" out file
	out=$(front_send "$subject" "$eicar")
	like "$out" "^250 " "$front: EICAR is accepted (then discarded)"
	wait_until 5 quarantined virus_q "$subject" >/dev/null
	file=$(quarantined virus_q "$subject")
	if [[ -n $file ]]; then
		ok "$front: EICAR is in virus_q"
		# The .eml is what would have been delivered; the metadata lists
		# what clamsmtpd added.
		check "$front: ... with X-Virus-Infected in its metadata" \
			grep -q '"X-Virus-Infected": ' "${file%.eml}.json"
		check "$front: ... and no spampd field (it never reached spampd)" \
			bash -c "! grep -q '^X-Spam-' '$file'"
	else
		not_ok "$front: EICAR is in virus_q" "$(ls -lR "$quarantine")" "$(tail -n 5 "$(front_log)")"
	fi
	check "$front: EICAR is not delivered" test -z "$(front_delivered "$subject" 1)"
}

# check_gtube - GTUBE passes clamsmtpd, spampd repackages it: spam_q.
check_gtube() {
	local subject="gtube via $front" out file
	out=$(front_send "$subject" "$gtube")
	like "$out" "^250 " "$front: GTUBE is accepted (then discarded)"
	wait_until 5 quarantined spam_q "$subject" >/dev/null
	file=$(quarantined spam_q "$subject")
	if [[ -n $file ]]; then
		ok "$front: GTUBE is in spam_q"
		check "$front: ... as spampd's copy with X-Spam-Flag: YES" grep -q '^X-Spam-Flag: YES' "$file"
	else
		not_ok "$front: GTUBE is in spam_q" "$(refusals)"
	fi
	check "$front: GTUBE is not delivered" test -z "$(front_delivered "$subject" 1)"
}

# run_chain FRONT - the chain policy through one front end.
run_chain() {
	local started c
	front_start "$1" "$PEERS_DIR/policy.json" || bail_out "$1 did not start"
	for c in check_clean check_eicar check_gtube; do
		started=$(date +%s%N)
		"$c"
		diag "$c via $1: $(( ($(date +%s%N) - started) / 1000000 )) ms"
	done
	front_stop
}

# ---- "deliver": "copy" -------------------------------------------------------
# With "deliver": "copy" on spampd's delegate the delivered message is
# spampd's copy as spampd wrote it, not the original plus imported fields.

# copy_clean - a clean message: spampd's copy, fields in spampd's places.
copy_clean() {
	local subject="copy clean via $front" file hdr
	front_send "$subject" "Hello, this is a clean message." >/dev/null
	file=$(front_delivered "$subject")
	if [[ -z $file ]]; then
		not_ok "$front: deliver copy: a clean message is delivered" "$(tail -n 5 "$(front_log)")"
		return
	fi
	ok "$front: deliver copy: a clean message is delivered"
	hdr=$(msg_headers "$file")
	is "$(grep -c '^X-Spam-Status: No, ' <<<"$hdr")" 1 "$front: deliver copy: ... with X-Spam-Status once"
	is "$(grep -c '^X-Virus-Scanned: ' <<<"$hdr")" 1 "$front: deliver copy: ... and X-Virus-Scanned once"
	# spampd puts its fields on top and folds X-Spam-Status; an import appends them unfolded.
	is "$(grep -m1 -oE '^(X-Spam-Checker-Version|Subject):' <<<"$hdr")" "X-Spam-Checker-Version:" \
		"$front: deliver copy: ... spampd's fields above Subject, where spampd put them"
	like "$hdr" $'^[ \t]+autolearn=' "$front: deliver copy: ... X-Spam-Status folded as spampd wrote it"
	unlike "$hdr" '^X-Delegate-Id' "$front: deliver copy: ... without the correlation header"
}

# copy_gtube - GTUBE (tagged, not quarantined): spampd's report is delivered.
copy_gtube() {
	local subject="copy gtube via $front" out file hdr
	out=$(front_send "$subject" "$gtube")
	like "$out" "^250 " "$front: deliver copy: GTUBE is accepted"
	file=$(front_delivered "$subject")
	if [[ -z $file ]]; then
		not_ok "$front: deliver copy: GTUBE is delivered" "$(refusals)"
		return
	fi
	ok "$front: deliver copy: GTUBE is delivered"
	hdr=$(msg_headers "$file")
	like "$hdr" '^X-Spam-Verdict: tagged' "$front: deliver copy: ... tagged by the follow-up rule"
	like "$hdr" '^Content-Type: multipart/mixed' "$front: deliver copy: ... as spampd's new message"
	check "$front: deliver copy: ... with the original attached" grep -q '^Content-Type: message/rfc822' "$file"
	unlike "$hdr" '^X-Delegate-Id' "$front: deliver copy: ... without the correlation header"
	check "$front: deliver copy: ... not even in the attached original" \
		bash -c "! grep -qi '^X-Delegate-Id' '$file'"
}

# check_deliver_copy FRONT - the chain with "deliver": "copy" on spampd's delegate.
check_deliver_copy() {
	local policy=$PEERS_DIR/policy-copy.json
	write_policy "$policy" copy
	if ! "$milter" -t -c "$policy" >/dev/null 2>&1; then
		not_ok "$1: a policy with \"deliver\": \"copy\" loads" "$("$milter" -t -c "$policy" 2>&1)"
		return
	fi
	front_start "$1" "$policy" || bail_out "$1 did not start"
	copy_clean
	copy_gtube
	front_stop
}

# ---- main -------------------------------------------------------------------

run_chain milter
run_chain shim
if [[ $MD_TEST_DELIVER_COPY == 1 ]]; then
	check_deliver_copy milter
	check_deliver_copy shim
else
	skip "the delivered message is the delegate's copy (\"deliver\": \"copy\")" \
		"MD_TEST_DELIVER_COPY=0"
fi
done_testing
