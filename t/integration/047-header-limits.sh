#!/usr/bin/env bash
# 047-header-limits.sh - one header limit for the whole product: messages
# with a 10 KB header line, a 100 KB folded header field (60 KB through
# Postfix, see below) and a header block of 5,000 fields are delegated to the real clamsmtpd + clamd and delivered
# whole, through a private Postfix with the milter and through the shim;
# a header past the limit (10,001 fields) is refused where it comes in with
# 552 5.3.4, never tempfailed after a delegation.
set -u
. "$MD_TOP/t/lib/peers.sh"
. "$MD_TOP/t/lib/shim.sh"
peers_init
peers_require swaks clamd clamsmtpd postfix

milter=$MD_BUILD/milter-delegate
quarantine=$PEERS_DIR/quarantine
log=$PEERS_DIR/milter.log
maildir=$PEERS_DIR/Maildir
mkdir -p "$PEERS_DIR/spool" "$quarantine"

start_clamd || bail_out "clamd did not start"
start_sink || bail_out "smtp-sink did not start"
# make_policy FILE - the default policy with its own clamsmtpd and receiver
# (the milter and the shim each need one receiver port).
make_policy() {
	local recv_port
	recv_port=$(free_port)
	start_clamsmtpd pass "$recv_port" || bail_out "clamsmtpd did not start"
	sed -e "s|127.0.0.1:10026|127.0.0.1:$CLAMSMTPD_PORT|" \
	    -e "s|127.0.0.1:10025|127.0.0.1:$recv_port|" \
	    -e "s|/var/lib/milter-delegate/quarantine|$quarantine|" \
	    -e "s|/var/spool/milter-delegate|$PEERS_DIR/spool|" \
	    "$MD_TOP/policies/default.json" >"$1"
}
make_policy "$PEERS_DIR/policy.json"
make_policy "$PEERS_DIR/shim-policy.json"

# The test messages (CRLF line ends), each with its Subject.
python3 - "$PEERS_DIR" <<'PY'
import sys
d = sys.argv[1]
def write(name, fields):
    head = "From: a@example.org\r\nTo: b@example.net\r\nSubject: %s\r\n" % name
    with open("%s/%s.eml" % (d, name), "w") as f:
        f.write(head + "".join(fields) + "\r\nbody of %s\r\n" % name)
write("long-line", ["X-Long: " + "a" * 10240 + "\r\n"])
write("folded-100k", ["X-Folded: start\r\n" + "".join("\t%04d %s\r\n" % (i, "f" * 90) for i in range(1000))])
write("folded-60k", ["X-Folded: start\r\n" + "".join("\t%04d %s\r\n" % (i, "f" * 90) for i in range(600))])
write("fields-5000", ["X-Field-%d: value %d\r\n" % (i, i) for i in range(5000)])
write("fields-10001", ["X-Field-%d: v\r\n" % i for i in range(10001)])
PY

milter_port=$(free_port)
"$milter" -f -c "$PEERS_DIR/policy.json" -p "inet:$milter_port@127.0.0.1" >"$log" 2>&1 &
peers_track "$!"
wait_port 127.0.0.1 "$milter_port" 10 || bail_out "milter did not start: $(tail -3 "$log")"
start_postfix "inet:127.0.0.1:$milter_port" || bail_out "postfix did not start"
shim_write_config "$PEERS_DIR/shim.json" "{ \"maildir\": \"$maildir\" }" '{ "max_message_size": "50M" }'
start_shim "$PEERS_DIR/shim-policy.json" "$PEERS_DIR/shim.json" || bail_out "delegate-shim did not start"

# send PORT NAME - one test message; swaks' transcript on stdout.
send() {
	swaks --server 127.0.0.1 --port "$1" --from a@example.org --to b@example.net \
		--data "@$PEERS_DIR/$2.eml" --timeout 120 2>&1
}

# check_delivered WHERE FILE NAME - FILE is the delivered NAME, header whole and scanned.
check_delivered() {
	local where=$1 file=$2 name=$3
	if [[ -z $file ]]; then
		not_ok "$where: $name is delivered" "$(tail -3 "$log")" "$(tail -3 "$SHIM_LOG" 2>/dev/null)"
		return
	fi
	ok "$where: $name is delivered"
	check "$where: $name carries X-Virus-Scanned" grep -q '^X-Virus-Scanned: ClamAV' "$file"
	# Postfix itself breaks lines past its line_length_limit (2048) and
	# moves what is past its header_size_limit into the body: the milter
	# only adds fields, so through Postfix the text is checked, not its shape.
	case $name in
	long-line)   like "$(tr -d ' \t\r\n' <"$file")" "X-Long:a{10240}" "$where: all of the 10 KB line is there" ;;
	folded-100k) is "$(grep -cE "[0-9]{4} f{90}" "$file")" 1000 "$where: all 1,000 folded lines are there" ;;
	folded-60k)  is "$(grep -cE "[0-9]{4} f{90}" "$file")" 600 "$where: all 600 folded lines are there" ;;
	fields-5000) is "$(grep -c '^X-Field-' "$file")" 5000 "$where: all 5,000 fields are there" ;;
	esac
	if [[ $where == shim ]]; then
		case $name in
		long-line)   check "$where: the 10 KB line is one line" grep -qE "^X-Long: a{10240}$" "$file" ;;
		folded-100k) is "$(sed '/^$/q' "$file" | grep -cE "^"$'\t'"[0-9]{4} f{90}")" 1000 "$where: all in the header" ;;
		esac
	fi
}

# Through Postfix + milter a folded field of 60 KB arrives whole. One of
# 100 KB is accepted, scanned and delivered too, but shortened by Postfix
# itself: whenever any milter is configured, cleanup(8) lowers
# header_size_limit to 60,000 bytes per field (KLUDGE_HEADER_LIMIT in
# cleanup_message.c) and drops the rest of the field before any milter sees
# it (README, Troubleshooting). What must hold for us: it is not refused,
# not tempfailed, and what Postfix kept is delivered in order.
for name in long-line folded-60k fields-5000; do
	out=$(send "$POSTFIX_PORT" "$name")
	like "$out" '<- +250 .*queued as' "milter: $name is accepted by Postfix"
	check_delivered milter "$(sink_wait_for "Subject: $name" 60)" "$name"
done
out=$(send "$POSTFIX_PORT" folded-100k)
like "$out" '<- +250 .*queued as' "milter: folded-100k is accepted by Postfix"
file=$(sink_wait_for "Subject: folded-100k" 60)
if [[ -n $file ]]; then
	ok "milter: folded-100k is delivered"
	check "milter: folded-100k carries X-Virus-Scanned" grep -q '^X-Virus-Scanned: ClamAV' "$file"
	kept=$(grep -oE "[0-9]{4} f{90}" "$file" | cut -c1-4)
	count=$(grep -c . <<<"$kept")
	is "$(seq -f %04g 0 $((count - 1)))" "$kept" \
		"milter: the $count folded lines Postfix kept of 1,000 arrive in order"
	check "milter: Postfix keeps at least 60 KB of the field ($count lines)" test "$count" -ge 600
else
	not_ok "milter: folded-100k is delivered" "$(tail -3 "$log")"
fi
for name in long-line folded-100k fields-5000; do
	out=$(send "$SHIM_PORT" "$name")
	like "$out" '<- +250 2\.0\.0 Ok: queued as' "shim: $name is accepted"
	check_delivered shim "$(maildir_find "$maildir" "Subject: $name")" "$name"
done
unlike "$(cat "$log" "$SHIM_LOG")" 'result=error|unusable copy' "no returned copy was refused"

out=$(send "$SHIM_PORT" fields-10001)
like "$out" '<\*\* +552 5\.3\.4' "shim: a header of 10,001 fields is refused with 552 5.3.4"
out=$(send "$POSTFIX_PORT" fields-10001)
like "$out" '<\*\* +552 5\.3\.4' "milter: a header of 10,001 fields is refused with 552 5.3.4"
done_testing
