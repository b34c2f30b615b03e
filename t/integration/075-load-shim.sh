#!/usr/bin/env bash
# 075-load-shim.sh - delegate-shim under load: 500 concurrent SMTP sessions
# (smtp-source, a new connection per message) for MD_LOAD_SECONDS (60) with
# an SMTP next hop (smtp-sink). No crash; every message sent is delivered;
# resident memory flat after warm-up; no descriptor or thread left behind.
# Then slow clients: one that types a byte a second does not hold up
# others, and a silent one is timed out with 421.

. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/shim.sh"
. "$MD_TOP/t/lib/load.sh"
peers_init
peers_require smtp-source

sessions=500
spool=$PEERS_DIR/spool
mkdir -p "$spool" "$PEERS_DIR/quarantine"
cat >"$PEERS_DIR/policy.json" <<JSON
{ "settings": { "quarantine_dir": "$PEERS_DIR/quarantine", "spool_dir": "$spool" },
  "stages": {
    "rcpt": [ { "name": "retired", "if": { "recipient": "old@example.net" }, "then": "reject" } ],
    "eom": [ { "name": "tag", "then": { "action": "add_header", "name": "X-Load", "value": "yes" } } ]
  } }
JSON
start_sink || bail_out "smtp-sink did not start"
shim_write_config "$PEERS_DIR/shim.json" "{ \"smtp\": \"127.0.0.1:$SINK_PORT\" }" \
	'{ "max_sessions": 600, "command_timeout": "3s", "data_timeout": "30s" }'
start_shim "$PEERS_DIR/policy.json" "$PEERS_DIR/shim.json" || bail_out "delegate-shim did not start"

load_run shim "$SHIM_PID" "$sessions" "$SHIM_PORT"
check "no session thread left ($(thread_count "$SHIM_PID") threads)" test "$(thread_count "$SHIM_PID")" -le 4
check "no spool file left" test -z "$(ls -A "$spool")"

# A client typing one byte a second does not hold up the others.
(
	exec 3<>"/dev/tcp/127.0.0.1/$SHIM_PORT" || exit 1
	for c in E H L O ' ' s l o w; do printf '%s' "$c" >&3; sleep 1; done
) &
slow=$!
start=$(date +%s%N)
out=$(smtp_talk "$SHIM_PORT" "EHLO fast" "MAIL FROM:<a@example.org>" "RCPT TO:<b@example.net>" \
	"DATA" "=Subject: fast" "=" "=while a slow client types" "." "QUIT")
ms=$(( ($(date +%s%N) - start) / 1000000 ))
like "$out" "^250 2\.0\.0 Ok: queued" "a message goes through while a slow client types"
check "... without waiting for it (${ms} ms)" test "$ms" -lt 2000
wait "$slow" 2>/dev/null

# A silent client is timed out (command_timeout 3 s).
out=$(
	exec 3<>"/dev/tcp/127.0.0.1/$SHIM_PORT" || exit 1
	smtp_reply <&3 >/dev/null
	IFS= read -r -t 10 line <&3 && echo "$line"
)
like "$out" "^421 4\.4\.2" "an idle session is closed with 421 after the command timeout"

# A clean exit after SIGTERM; on the sanitizer build LeakSanitizer runs at
# exit and makes the status non-zero if anything leaked.
kill -TERM "$SHIM_PID"
wait "$SHIM_PID"
is "$?" 0 "SIGTERM after the load: the shim exits 0 (no leak on the ASan build)"

done_testing
