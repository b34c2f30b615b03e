#!/usr/bin/env bash
# 052-shim-antivirus.sh - delegate-shim with the default antivirus policy
# and the real clamsmtpd + clamd: a clean message is delivered to the
# Maildir with clamsmtpd's X-Virus-Scanned field (once), the EICAR test
# file is quarantined to virus_q and not delivered, and with clamsmtpd
# down the client gets the policy's tempfail.
set -u
. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/shim.sh"
peers_init
peers_require swaks clamd clamsmtpd

maildir=$PEERS_DIR/Maildir
quarantine=$PEERS_DIR/quarantine
spool=$PEERS_DIR/spool
mkdir -p "$spool"
receiver_port=$(free_port) || bail_out "no free port"
start_clamd || bail_out "clamd did not start"
start_clamsmtpd pass "$receiver_port" || bail_out "clamsmtpd did not start"
# The default policy as shipped, with its folders and ports moved here.
sed -e "s|/var/lib/milter-delegate/quarantine|$quarantine|" \
    -e "s|/var/spool/milter-delegate|$spool|" \
    -e "s|127.0.0.1:10026|127.0.0.1:$CLAMSMTPD_PORT|" \
    -e "s|127.0.0.1:10025|127.0.0.1:$receiver_port|" \
    "$MD_TOP/policies/default.json" >"$PEERS_DIR/policy.json"
shim_write_config "$PEERS_DIR/shim.json" "{ \"maildir\": \"$maildir\" }"
start_shim "$PEERS_DIR/policy.json" "$PEERS_DIR/shim.json" || bail_out "delegate-shim did not start"

out=$(swaks --server "127.0.0.1:$SHIM_PORT" --from a@example.org --to b@example.net \
	--header "Subject: clean through clamsmtpd" 2>&1)
like "$out" '^<-  250 2\.0\.0 Ok: queued as' "a clean message is accepted"
msg=$(maildir_find "$maildir" "Subject: clean through clamsmtpd")
if [[ -n $msg ]]; then
	ok "it is delivered to the Maildir"
	hdr=$(msg_headers "$msg")
	like "$hdr" '^X-Virus-Scanned: ClamAV using ClamSMTP' "with clamsmtpd's X-Virus-Scanned field"
	is "$(grep -c '^X-Virus-Scanned:' <<<"$hdr")" 1 "exactly once"
	unlike "$hdr" '^X-Delegate-Id' "without the correlation header"
else
	not_ok "it is delivered to the Maildir" "$(tail -5 "$SHIM_LOG")"
fi

n=$(maildir_count "$maildir")
eicar_string >"$PEERS_DIR/eicar.com"
out=$(swaks --server "127.0.0.1:$SHIM_PORT" --from a@example.org --to b@example.net \
	--header "Subject: eicar inside" --attach @"$PEERS_DIR/eicar.com" 2>&1)
like "$out" '^<-  250 2\.0\.0 Ok' "the EICAR message is accepted (and discarded)"
is "$(maildir_count "$maildir")" "$n" "it is not delivered"
if grep -rlqF "Subject: eicar inside" "$quarantine/virus_q" 2>/dev/null; then
	ok "it is in the virus_q quarantine folder"
	check "with its metadata" test -n "$(ls "$quarantine"/virus_q/*.json 2>/dev/null)"
else
	not_ok "it is in the virus_q quarantine folder" "$(tail -5 "$SHIM_LOG")"
fi
like "$(cat "$SHIM_LOG")" 'rules="eom:check email for virus=delegate\(clamsmtpd,copy\) eom:virus found=discard"' \
	"the log line names the rules that decided"

stop_pid "$CLAMSMTPD_PID"
out=$(swaks --server "127.0.0.1:$SHIM_PORT" --from a@example.org --to b@example.net 2>&1)
like "$out" '^<\*\* 4[0-9][0-9] ' "clamsmtpd down: the client gets a 4xx"
is "$(files_in "$spool")" 0 "nothing is left in the spool"
done_testing
