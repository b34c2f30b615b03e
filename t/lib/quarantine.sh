# quarantine.sh - what the quarantine tool's integration tests (06x) share:
# the test policy and a message that it quarantines.
#
# Source after peers.sh, once clamsmtpd runs:
#
#     . "$MD_TOP/t/lib/quarantine.sh"
#     quarantine_policy "$PEERS_DIR/policy.json" "$recv_port" "$quarantine" "$spool" 127.0.0.1:10027
#     id=$(quarantine_send "$POSTFIX_PORT" one) || bail_out "not quarantined"

# quarantine_policy FILE RECEIVER_PORT QUARANTINE SPOOL [RELEASE_TO] - the
# default antivirus policy on this test's clamsmtpd ($CLAMSMTPD_PORT),
# receiver port and folders, releasing to RELEASE_TO when given, with a rule
# after the delegation that quarantines the subject "quarantine-me ..." to
# subject_q.
quarantine_policy() {
	local release=''
	[[ -z ${5:-} ]] || release=", \"release_to\": \"$5\""
	sed -e "s|127.0.0.1:10026|127.0.0.1:$CLAMSMTPD_PORT|" \
	    -e "s|127.0.0.1:10025|127.0.0.1:$2|" \
	    -e "s|/var/lib/milter-delegate/quarantine|$3|" \
	    -e "s|/var/spool/milter-delegate|$4|" \
	    -e "s|\"fail_safe\": \"tempfail\"|&$release|" \
	    "$MD_TOP/policies/default.json" |
		jq '.stages.eom += [{ "name": "known subject",
			"if": { "header": { "name": "Subject", "value": { "regex": "^quarantine-me" } } },
			"then": { "action": "quarantine", "folder": "subject_q",
				  "reason": "test subject" } }]' >"$1"
}

# quarantine_send PORT NAME - send "quarantine-me NAME" (body "body of NAME")
# from sender@example.com to rcpt1@example.net and rcpt2@example.org through
# the SMTP server on PORT, wait until subject_q holds one more message, and
# print its id. Needs $quarantine.
quarantine_send() {
	local before
	before=$(ls "$quarantine"/subject_q/*.json 2>/dev/null | wc -l)
	swaks --server 127.0.0.1 --port "$1" --from sender@example.com \
		--to rcpt1@example.net,rcpt2@example.org --h-Subject "quarantine-me $2" \
		--body "body of $2" --timeout 60 >/dev/null 2>&1
	wait_until 20 test "$(ls "$quarantine"/subject_q/*.json 2>/dev/null | wc -l)" -gt "$before" ||
		return 1
	basename "$(ls -t "$quarantine"/subject_q/*.json | head -n 1)" .json
}

# quarantine_check_envelope FILE - three checks: the sink's dump FILE has the
# envelope quarantine_send used (the sender and both recipients).
quarantine_check_envelope() {
	local text
	text=$(cat "$1")
	like "$text" "^X-Mail-Args: <sender@example.com>" "with the original sender"
	like "$text" "^X-Rcpt-Args: <rcpt1@example.net>" "with the first recipient"
	like "$text" "^X-Rcpt-Args: <rcpt2@example.org>" "with the second recipient"
}
