#!/usr/bin/env bash
# 057-delegation-pool-netns.sh - the pool test of issue 14 on network
# namespaces: three filter hosts, each a namespace of its own with its
# clamsmtpd, linked to the host by a veth pair with addresses that exist
# only inside this test (10.214.N.1 on the host, 10.214.N.2 inside). Steady
# load through Postfix + milter-delegate; the link to host 1 is cut
# (ip link set ... down) in the middle of the run and brought back later.
# Every message is delivered or tempfailed, none is lost, none arrives
# twice; the survivors carry the load; host 1 is used again once it is back.
# The namespaces and links are removed at the end, also on failure.
# (The hosts share one clamd, reached through its unix socket: a scanner
# per host adds memory, not coverage.) Needs root and ip(8).

. "$MD_TOP/t/lib/peers.sh"
peers_init
peers_require clamd clamsmtpd postfix ip
[[ $(id -u) == 0 ]] || skip_all "needs root (network namespaces)"

tag=md14$$
net_cleanup() {
	local status=$? i
	for i in 0 1 2; do
		ip link del "${tag}h$i" 2>/dev/null
		ip netns del "${tag}n$i" 2>/dev/null
	done
	return "$status"
}
trap 'net_cleanup; peers_cleanup' EXIT
ip netns add "${tag}n0" 2>/dev/null || skip_all "cannot create network namespaces here"
ip netns del "${tag}n0"

milter=$MD_BUILD/milter-delegate
load=$MD_BUILD/bench/smtp-load
[[ -x $load ]] || {
	mkdir -p "${load%/*}"
	cc -O2 -std=gnu11 -pthread -o "$load" "$MD_TOP/bench/smtp-load.c" || bail_out "cannot build smtp-load"
}
policy=$PEERS_DIR/policy.json
log=$PEERS_DIR/milter.log
sock_dir=$PEERS_DIR/sock
mkdir -p "$PEERS_DIR/spool" "$PEERS_DIR/quarantine" "$sock_dir"
chown postfix "$PEERS_DIR/spool" "$PEERS_DIR/quarantine" "$sock_dir"

start_clamd || bail_out "clamd did not start"
start_sink || bail_out "smtp-sink did not start"
recv=$(free_port)
members=()
for i in 0 1 2; do
	ns=${tag}n$i host=10.214.$i.1 inside=10.214.$i.2
	ip netns add "$ns" || bail_out "ip netns add $ns"
	ip link add "${tag}h$i" type veth peer name "${tag}v$i" || bail_out "ip link add"
	ip link set "${tag}v$i" netns "$ns"
	ip addr add "$host/24" dev "${tag}h$i"
	ip link set "${tag}h$i" up
	ip -n "$ns" addr add "$inside/24" dev "${tag}v$i"
	ip -n "$ns" link set "${tag}v$i" up
	ip -n "$ns" link set lo up
	dir=$PEERS_DIR/filter$i
	mkdir -p "$dir/tmp"
	cat >"$dir/clamsmtpd.conf" <<-EOF
		OutAddress: $host:$recv
		Listen: $inside:10026
		ClamAddress: $CLAMD_SOCKET
		Header: X-Virus-Scanned: ClamAV using ClamSMTP
		TempDirectory: $dir/tmp
		Action: pass
		MaxConnections: 32
		TimeOut: 30
		PidFile: $dir/clamsmtpd.pid
	EOF
	ip netns exec "$ns" clamsmtpd -d 3 -f "$dir/clamsmtpd.conf" </dev/null >"$dir/clamsmtpd.log" 2>&1 &
	peers_track $!
	members+=("\"$inside:10026\"")
done

cat >"$policy" <<EOF
{ "settings": { "spool_dir": "$PEERS_DIR/spool", "quarantine_dir": "$PEERS_DIR/quarantine" },
  "services": {
    "pool": { "type": "smtp", "receiver": "0.0.0.0:$recv", "receiver_public": true,
      "receiver_allow": ["10.214.0.0/16"],
      "delegator": { "address": [$(IFS=,; echo "${members[*]}")], "balance": "round_robin",
                     "health_interval": "1s", "backoff_max": "2s", "timeout": "15s" } } },
  "stages": { "eom": [
    { "name": "scan", "then": { "action": "delegate", "service": "pool", "import_headers": ["X-Virus-Scanned"] } } ] } }
EOF
"$milter" -t -c "$policy" >/dev/null || bail_out "the test policy does not load: $("$milter" -t -c "$policy" 2>&1)"
"$milter" -f -l debug -u postfix -c "$policy" -p "unix:$sock_dir/milter.sock" >"$log" 2>&1 &
peers_track $!
wait_until 10 test -S "$sock_dir/milter.sock" || bail_out "milter did not start: $(tail -3 "$log")"
start_postfix "unix:$sock_dir/milter.sock" || bail_out "postfix did not start"
# Each filter host greets once it reached our receiver: all three up?
for i in 0 1 2; do
	wait_until 10 bash -c "exec 3<>/dev/tcp/10.214.$i.2/10026 && read -t 3 l <&3 && [[ \$l == 220* ]]" ||
		bail_out "filter host $i does not greet"
done

n=300
"$load" -s 4 -m "$n" -l 2000 -o "$PEERS_DIR/lat.txt" "127.0.0.1:$POSTFIX_PORT" >"$PEERS_DIR/load.log" 2>&1 &
load_pid=$!
peers_track "$load_pid"
wait_until 60 sink_has 60 || bail_out "the load did not start ($(sink_count) delivered)"
ip link set "${tag}h1" down
cut_at=$(sink_count)
wait_until 90 sink_has $((cut_at + 90))
check "the survivors carried the load while host 1 was cut off ($(( $(sink_count) - cut_at )) delivered)" \
	test "$(sink_count)" -ge $((cut_at + 90))
ip link set "${tag}h1" up
wait_until 120 pid_gone "$load_pid"
ok_count=$(awk '$4 >= 200 && $4 < 300' "$PEERS_DIR/lat.txt" | wc -l)
temp_count=$(awk '$4 >= 400 && $4 < 500' "$PEERS_DIR/lat.txt" | wc -l)
wait_until 30 sink_has "$ok_count"
is "$((ok_count + temp_count))" "$n" "every message was accepted ($ok_count) or tempfailed ($temp_count)"
seqs=$(grep -h '^X-Bench-Seq:' "$SINK_DIR"/msg.* | sort)
is "$(wc -l <<<"$seqs")" "$ok_count" "every accepted message reached the sink"
is "$(uniq -d <<<"$seqs" | wc -l)" 0 "none arrived twice"
like "$(cat "$log")" "member 10.214.1.2:10026 is down" "the cut host was marked down"
check "... and came back once its link was up" \
	wait_until 15 grep -q "member 10.214.1.2:10026 is up again" "$log"
up_line=$(grep -n "member 10.214.1.2:10026 is up again" "$log" | tail -1 | cut -d: -f1)
"$load" -s 2 -m 30 -l 2000 "127.0.0.1:$POSTFIX_PORT" >"$PEERS_DIR/load2.log" 2>&1
used=$(tail -n +"${up_line:-999999}" "$log" | grep -c "result=copy .*member=10.214.1.2:10026$")
check "... and was used again ($used of the next 30)" test "$used" -ge 5
unlike "$(cat "$log")" "receiver: refused a connection" "the filter hosts are inside receiver_allow"

done_testing
