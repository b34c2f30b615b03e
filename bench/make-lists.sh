#!/usr/bin/env bash
# bench/make-lists.sh - write the list files of bench row 2L / 6L (issue 15):
# N networks, N sender domains and N recipients, none of which matches the
# benchmark's mail (client 127.0.0.1, bench@example.com -> rcpt@example.net),
# so every list is searched in full for every message, as a linear scan would.
#
# usage: bench/make-lists.sh DIR [N]   (N defaults to 10000)
# Writes DIR/nets.txt, DIR/domains.txt and DIR/recipients.txt (mode 644).
# Deterministic: the same N gives the same files.

dir=${1:?usage: $0 DIR [N]}
n=${2:-10000}
mkdir -p "$dir" || exit 1

# Networks: 4/5 IPv4 (/24s that do not touch, a /16 and a host every 10th),
# 1/5 IPv6 /64; little merges, so the set keeps about one range per entry.
awk -v n="$n" 'BEGIN {
	print "# bench: blocked networks (none holds 127.0.0.1)"
	for (i = 0; i < n; i++) {
		a = 11 + int(i / 32768) % 100; b = int(i / 128) % 256; c = (i % 128) * 2
		if (i % 5 == 4)
			printf "2001:db8:%x:%x::/64\n", int(i / 65536), i % 65536
		else if (i % 10 == 3)
			printf "%d.%d.0.0/16\n", a + 100, b
		else if (i % 10 == 7)
			printf "%d.%d.%d.9\n", a, b, c
		else
			printf "%d.%d.%d.0/24\n", a, b, c
	}
}' >"$dir/nets.txt"

# Sender domains: half exact ("d1.example.com"), half subdomains (".d2.example.com").
awk -v n="$n" 'BEGIN {
	print "# bench: blocked sender domains (example.com itself is not one)"
	for (i = 0; i < n; i++)
		printf "%sd%05d.spam%d.example.com\n", i % 2 ? "." : "", i, i % 7
}' >"$dir/domains.txt"

# Recipients: addresses at example.net other than rcpt@.
awk -v n="$n" 'BEGIN {
	print "# bench: role recipients (rcpt@example.net is not one)"
	for (i = 0; i < n; i++)
		printf "user%05d@example.net\n", i
}' >"$dir/recipients.txt"
chmod 644 "$dir"/nets.txt "$dir"/domains.txt "$dir"/recipients.txt
