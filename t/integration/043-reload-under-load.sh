#!/usr/bin/env bash
# 043-reload-under-load.sh - a reload never tempfails mail in flight. While
# Postfix takes 1,000 messages through the milter, the policy file is
# swapped every 20 ms between two policies that negotiate different stages,
# and the milter gets a SIGHUP each time:
#
#   A  only a mail rule: the MTA is told to skip rcpt, headers and body;
#   B  header and eom rules (an add_header, and a quarantine rule that never
#      matches, so the message is kept as it arrives, as an antivirus policy
#      keeps it): the MTA must send everything.
#
# A connection negotiated under A but evaluated under B has no headers and
# no body at end of message, and B's fail-safe tempfails it (issue 10,
# defect 5). Checked: not one 4xx (Postfix's log, smtp-source's output),
# all 1,000 messages at the sink, and both policies in force (each message
# logged by exactly one of A's and B's log rules; B's header on exactly B's
# messages). Many short SMTP sessions (2 messages each, 10 at a time, each
# on a fresh milter connection) and tiny messages give the reloads about 500
# negotiate/connect gaps to fall into: before the fix 5 to 40 messages a run
# were tempfailed. Takes ~20 s.

. "$MD_TOP/t/lib/peers.sh"
peers_init
peers_require smtp-source postfix

milter=$MD_BUILD/milter-delegate
policy=$PEERS_DIR/policy.json
log=$PEERS_DIR/milter.log
source_out=$PEERS_DIR/source.out
total=1000 sessions=10 per_session=2
mkdir -p "$PEERS_DIR/spool" "$PEERS_DIR/quarantine"

cat >"$PEERS_DIR/policy-a.json" <<JSON
{
  "settings": { "spool_dir": "$PEERS_DIR/spool", "quarantine_dir": "$PEERS_DIR/quarantine" },
  "stages": { "mail": [ { "name": "policy-a", "then": { "action": "log", "message": "policy A" } } ] }
}
JSON
cat >"$PEERS_DIR/policy-b.json" <<JSON
{
  "settings": { "spool_dir": "$PEERS_DIR/spool", "quarantine_dir": "$PEERS_DIR/quarantine" },
  "stages": {
    "headers": [ { "name": "policy-b-headers", "if": { "header": "X-Never-Sent" }, "then": "reject" } ],
    "eom": [
      { "name": "never held", "if": { "header": "X-Never-Sent" },
        "then": { "action": "quarantine", "folder": "never", "reason": "not sent by this test" } },
      { "name": "policy-b", "then": [ { "action": "add_header", "name": "X-Policy", "value": "B" },
                                      { "action": "log", "message": "policy B" } ] }
    ]
  }
}
JSON
for p in a b; do
	"$milter" -t -c "$PEERS_DIR/policy-$p.json" >/dev/null || bail_out "policy $p does not load"
done
cp "$PEERS_DIR/policy-a.json" "$policy"

start_sink || bail_out "smtp-sink did not start"
milter_port=$(free_port)
"$milter" -f -c "$policy" -p "inet:$milter_port@127.0.0.1" >"$log" 2>&1 &
milter_pid=$!
peers_track "$milter_pid"
wait_port 127.0.0.1 "$milter_port" 10 || bail_out "milter did not start: $(tail -3 "$log")"
start_postfix "inet:127.0.0.1:$milter_port" || bail_out "postfix did not start"

# send_all SECONDS - $total messages in rounds of one smtp-source run:
# $sessions sessions at once, $per_session messages each over one
# connection (-d), 64-byte bodies; stops early when SECONDS have passed.
# smtp-source's output (with -A it goes on past a refusal, and says so) is
# appended to $source_out. Prints the number of messages sent.
send_all() {
	local end=$(( $(date +%s) + $1 )) sent=0 round=$((sessions * per_session))
	: >"$source_out"
	while (( sent < total )) && (( $(date +%s) < end )); do
		smtp-source -A -d -s "$sessions" -m "$round" -l 64 -f a@example.com -t b@example.net \
			"127.0.0.1:$POSTFIX_PORT" >>"$source_out" 2>&1
		sent=$((sent + round))
	done
	echo "$sent"
}

start=$(date +%s)
# Every 20 ms the other policy goes in place and the milter gets a SIGHUP
# (t/tools/reload_storm: no fork per round, so the pace holds under load).
"$MD_BUILD/t/reload_storm" "$milter_pid" 20 100 "$policy" \
	"$PEERS_DIR/policy-b.json" "$PEERS_DIR/policy-a.json" >"$PEERS_DIR/reloads" 2>&1 &
storm_pid=$!
peers_track "$storm_pid"
sent=$(send_all 60)
stop_pid "$storm_pid"
reloads=$(cat "$PEERS_DIR/reloads")
took=$(( $(date +%s) - start ))
diag "$sent messages sent in ${took} s with $reloads SIGHUPs"
refusal='(^|[^0-9])4[0-9][0-9][ -]'     # "end of data rejected: 451 4.7.1 ..."
refused=$(grep -cE "$refusal" "$source_out")
wait_until 30 bash -c "postqueue -c '$POSTFIX_DIR' -p | grep -q 'Mail queue is empty'"
sink_wait $((sent - refused)) 30

is "$sent" "$total" "all $total messages were sent within the time limit"
# "milter-reject: END-OF-MESSAGE from ...: 4.7.1 Try again later", or
# "reject: RCPT from ...: 450 4.1.1 ...".
tempfail='reject: .*: (4[0-9][0-9] )?4\.[0-9]+\.[0-9]+ '
deferred=$(grep -cE "$tempfail" "$POSTFIX_LOG")
is "$deferred" 0 "Postfix logged no 4xx reply"
[[ $deferred == 0 ]] || diag "$(grep -E "$tempfail" "$POSTFIX_LOG" | head -3)"
is "$refused" 0 "smtp-source saw no 4xx reply"
[[ $refused == 0 ]] || diag "$(grep -E "$refusal" "$source_out" | head -3)"
is "$(sink_count)" "$total" "every message reached the sink"
applied=$(grep -c 'policy reloaded' "$log")
check "the test sent a SIGHUP every ~20 ms ($reloads in ${took} s)" test "$reloads" -ge $((took * 25))
check "the milter reloaded the policy many times ($applied times)" test "$applied" -ge 100
with_a=$(grep -c 'rule=policy-a stage=mail policy A' "$log")
with_b=$(grep -c 'rule=policy-b stage=eom policy B' "$log")
check "policy A evaluated some messages ($with_a)" test "$with_a" -gt 0
check "policy B evaluated some messages ($with_b)" test "$with_b" -gt 0
tagged=$(grep -l '^X-Policy: B' "$SINK_DIR"/msg.* 2>/dev/null | wc -l)
is "$tagged" "$with_b" "B's header is on every message B evaluated, and only those"
is "$((with_a + with_b))" "$total" "each message was evaluated by exactly one policy"
check "no fail-safe verdict in the milter's log" bash -c "! grep -qE 'fail-safe|verdict=tempfail' '$log'"
check "the milter is still running" kill -0 "$milter_pid"
# A clean exit after SIGTERM; on the sanitizer build LeakSanitizer runs at
# exit and makes the status non-zero if a policy reference was lost.
kill -TERM "$milter_pid"
wait "$milter_pid"
is "$?" 0 "SIGTERM after the reloads: the milter exits 0 (no leak on the ASan build)"

done_testing
