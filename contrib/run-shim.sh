#!/usr/bin/env bash
# run-shim.sh - the default antivirus setup with delegate-shim as the SMTP
# server, on loopback, until Ctrl-C: no Postfix, mail ends up in a Maildir.
#
# Starts clamd (with a local signature database that detects the EICAR test
# file: no download), clamsmtpd with Action: pass on 127.0.0.1:10026
# relaying to the shim's receiver on 127.0.0.1:10025 (the addresses of
# policies/default.json), and delegate-shim on 127.0.0.1:2525 (RUN_PORT)
# with the default policy and shim/shim.json, delivering into a Maildir.
# Everything lives under one run directory and is stopped when you press
# Ctrl-C (or the script is killed); the directory is kept.
#
# RUN_PORT (2525), RUN_FILTER_PORT (10026) and RUN_RECEIVER_PORT (10025)
# move the three ports (the tests use free ones).

set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${MD_BUILD:-$top/build}
export MD_TOP=$top MD_BUILD=$build
. "$top/t/lib/peers.sh"
PEERS_KEEP=1
peers_init
run_port=${RUN_PORT:-2525}
filter_port=${RUN_FILTER_PORT:-10026}
receiver_port=${RUN_RECEIVER_PORT:-10025}

# Only a listener is in the way: connections of an earlier run left in
# TIME-WAIT on these ports are not (every server here sets SO_REUSEADDR).
for port in "$receiver_port" "$filter_port" "$run_port"; do
	if port_listening "$port"; then
		echo "run-shim: port $port is in use (set RUN_PORT, RUN_FILTER_PORT or" \
		     "RUN_RECEIVER_PORT to move the SMTP, clamsmtpd and receiver ports)" >&2
		exit 1
	fi
done

policy=$PEERS_DIR/policy.json
config=$PEERS_DIR/shim.json
quarantine=$PEERS_DIR/quarantine
maildir=$PEERS_DIR/Maildir
log=$PEERS_DIR/shim.log
mkdir -p "$PEERS_DIR/spool" "$quarantine"
# The shipped files, with their folders moved into the run directory.
sed -e "s|/var/lib/milter-delegate/quarantine|$quarantine|" \
    -e "s|127.0.0.1:10026|127.0.0.1:$filter_port|" \
    -e "s|127.0.0.1:10025|127.0.0.1:$receiver_port|" \
    -e "s|/var/spool/milter-delegate|$PEERS_DIR/spool|" \
    "$top/policies/default.json" >"$policy"
sed -e "s|/var/mail/delegate-shim|$maildir|" \
    -e "s|127.0.0.1:2525|127.0.0.1:$run_port|" \
    "$top/shim/shim.json" >"$config"

start_clamd || exit 1
start_clamsmtpd pass "$receiver_port" "$filter_port" || exit 1
"$build/delegate-shim" -f -c "$policy" -C "$config" </dev/null >"$log" 2>&1 &
peers_track $!
wait_port 127.0.0.1 "$run_port" 10 || { tail "$log"; exit 1; }

cat <<EOT
delegate-shim is running with policies/default.json (run directory $PEERS_DIR).

  SMTP (delegate-shim):  127.0.0.1:$run_port
  clamsmtpd 127.0.0.1:$filter_port -> receiver 127.0.0.1:$receiver_port, clamd on $CLAMD_SOCKET

Send a clean message and the EICAR test virus:

  swaks --server 127.0.0.1:$run_port --from a@example.com --to b@example.net
  swaks --server 127.0.0.1:$run_port --from a@example.com --to b@example.net \\
        --attach - <<< "\$(bash -c '. $top/t/lib/peers.sh; eicar_string')"

Delivered mail (Maildir): $maildir/new/
Quarantined (virus_q):    $quarantine/virus_q/
Log:                      $log

Press Ctrl-C to stop everything (the run directory is kept).
EOT
tail -f "$log" &
peers_track $!
wait
