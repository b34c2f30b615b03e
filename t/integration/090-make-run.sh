#!/usr/bin/env bash
# 090-make-run.sh - the README's first command does what the README says:
# contrib/run-shim.sh (what "make run" runs) starts clamd, clamsmtpd and
# delegate-shim with the default policy; a clean message sent with swaks
# lands in the Maildir with X-Virus-Scanned, the EICAR test virus lands in
# virus_q, and stopping it (SIGTERM, as Ctrl-C) leaves nothing running.
# Free ports replace the defaults (RUN_PORT, RUN_FILTER_PORT, RUN_RECEIVER_PORT).

. "$MD_TOP/t/lib/peers.sh"
peers_init
peers_require swaks clamd clamsmtpd

out=$PEERS_DIR/run.out
port=$(free_port) filter=$(free_port) receiver=$(free_port)
RUN_PORT=$port RUN_FILTER_PORT=$filter RUN_RECEIVER_PORT=$receiver MD_BUILD=$MD_BUILD \
	setsid "$MD_TOP/contrib/run-shim.sh" >"$out" 2>&1 &
run_pid=$!
peers_track "$run_pid"
wait_until 30 grep -q "Press Ctrl-C" "$out" || bail_out "run-shim.sh did not start: $(tail -5 "$out")"
run_dir=$(sed -n 's/.*(run directory \(.*\))\.$/\1/p' "$out")
maildir=$(sed -n 's/^Delivered mail (Maildir): *//p' "$out")
quarantine=$(sed -n 's/^Quarantined (virus_q): *//p' "$out")
check "it names the run directory, the Maildir and the quarantine" \
	test -n "$run_dir" -a -n "$maildir" -a -n "$quarantine"

reply=$(swaks --server "127.0.0.1:$port" --from a@example.com --to b@example.net \
	--h-Subject run-clean --timeout 30 2>&1)
like "$reply" "<- +250 " "a clean message is accepted"
wait_until 10 bash -c "ls '$maildir'/* >/dev/null 2>&1"
file=$(ls "$maildir"/* 2>/dev/null | head -1)
check "... and delivered into the Maildir with X-Virus-Scanned" \
	grep -q "^X-Virus-Scanned: ClamAV using ClamSMTP" "$file"

eicar=$(eicar_string)
reply=$(swaks --server "127.0.0.1:$port" --from a@example.com --to b@example.net \
	--h-Subject run-eicar --attach - --timeout 30 <<<"$eicar" 2>&1)
like "$reply" "<- +250 " "the EICAR message is accepted"
wait_until 10 bash -c "ls '$quarantine'/*.eml >/dev/null 2>&1"
check "... and quarantined in virus_q" bash -c "ls '$quarantine'/*.eml >/dev/null 2>&1"
check "... and not delivered" test "$(ls "$maildir" | wc -l)" -eq 1

kill -TERM "$run_pid"
wait_until 20 pid_gone "$run_pid"
check "SIGTERM stops it" pid_gone "$run_pid"
sleep 1
check "nothing it started is left running" \
	bash -c "! ps -eo args= | grep -v grep | grep -q -- '$run_dir'"
rm -rf "$run_dir"

done_testing
