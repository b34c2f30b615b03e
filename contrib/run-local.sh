#!/usr/bin/env bash
# run-local.sh - `make run`: the default antivirus setup on this machine,
# on loopback, until Ctrl-C.
#
# Starts clamd (with a local signature database that detects the EICAR test
# file: no download), clamsmtpd with Action: pass on 127.0.0.1:10026 relaying
# to milter-delegate's receiver on 127.0.0.1:10025 (the addresses of
# policies/default.json), milter-delegate with the default policy, and a
# private Postfix on 127.0.0.1:2525 (RUN_PORT) that uses the milter and
# delivers to a local smtp-sink which writes every message to a folder.
# Everything lives under one run directory and is stopped when you press
# Ctrl-C (or the script is killed).

set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${MD_BUILD:-$top/build}
export MD_TOP=$top
. "$top/t/lib/peers.sh"
PEERS_KEEP=1
peers_init
run_port=${RUN_PORT:-2525}

for port in 10025 10026 "$run_port"; do
	if port_listening "$port"; then
		echo "run: port $port is in use (the default policy needs 10025 and 10026;" \
		     "set RUN_PORT to move the SMTP port)" >&2
		exit 1
	fi
done

policy=$PEERS_DIR/policy.json
quarantine=$PEERS_DIR/quarantine
mkdir -p "$PEERS_DIR/spool" "$quarantine"
# The default policy as shipped, with its folders moved into the run directory.
sed -e "s|/var/lib/milter-delegate/quarantine|$quarantine|" \
    -e "s|/var/spool/milter-delegate|$PEERS_DIR/spool|" \
    "$top/policies/default.json" >"$policy"

start_clamd || exit 1
start_clamsmtpd pass 10025 10026 || exit 1
start_sink || exit 1
milter_port=$(free_port)
"$build/milter-delegate" -f -c "$policy" -p "inet:$milter_port@127.0.0.1" \
	>"$PEERS_DIR/milter.log" 2>&1 &
peers_track $!
wait_port 127.0.0.1 "$milter_port" 10 || { tail "$PEERS_DIR/milter.log"; exit 1; }
POSTFIX_FIXED_PORT=$run_port start_postfix "inet:127.0.0.1:$milter_port" || exit 1

cat <<EOT
milter-delegate is running with policies/default.json (run directory $PEERS_DIR).

  SMTP (Postfix + milter-delegate): 127.0.0.1:$POSTFIX_PORT
  clamsmtpd 127.0.0.1:10026 -> receiver 127.0.0.1:10025, clamd on $CLAMD_SOCKET

Send a clean message and the EICAR test virus:

  swaks --server 127.0.0.1:$POSTFIX_PORT --from a@example.com --to b@example.net
  swaks --server 127.0.0.1:$POSTFIX_PORT --from a@example.com --to b@example.net \\
        --attach - <<< "\$(bash -c '. $top/t/lib/peers.sh; eicar_string')"

Delivered mail:        $SINK_DIR/
Quarantined (virus_q): $quarantine/virus_q/
Logs:                  $PEERS_DIR/milter.log, $POSTFIX_LOG

Press Ctrl-C to stop everything (the run directory is kept).
EOT
tail -f "$PEERS_DIR/milter.log" &
peers_track $!
wait
