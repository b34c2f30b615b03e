#!/usr/bin/env bash
# install-deps.sh - install the Debian packages milter-delegate needs.
#
# usage: contrib/install-deps.sh        (run by "make deps")
#
# Installs, on Debian 12, what is missing of: the build dependencies, the
# packaging tools (make deb), the real peers the integration tests run (Postfix, clamd, clamsmtpd,
# clamav-milter, spampd + SpamAssassin, miltertest, swaks) and the tools the
# test scripts use.
# Silent and exit 0 when everything is there. As root it installs only what
# is missing, without questions: Postfix is preseeded with "No
# configuration", freshclam with manual updates, and no service is started
# (the tests start their own instances; nothing downloads signatures). Any
# daemon the packages start anyway is stopped again. Not as root, it prints
# the command to run and exits 1.

set -euo pipefail

build_packages=(gcc make pkg-config clang libclang-rt-14-dev libmilter-dev
	libcurl4-openssl-dev libjansson-dev libcmocka-dev libmicrohttpd-dev)
# make deb: debhelper, dpkg-buildpackage (dpkg-dev) and lintian; 083 checks
# the installed units with systemd-analyze verify (systemd, man-db).
package_packages=(debhelper dpkg-dev lintian systemd man-db)
peer_packages=(postfix clamav-daemon clamsmtp clamav-milter spampd spamassassin
	miltertest swaks)
# ps (t/lib/peers.sh, t/run-tests.sh); timeout, base64, od, md5sum: coreutils;
# jq writes the benchmark results (bench/); prometheus for promtool, which
# checks the /metrics output (t/integration/08[4-6]-*; its own server is
# never started).
tool_packages=(procps coreutils iproute2 jq prometheus)

# Daemons the packages could start; none may keep running after install.
# spamassassin's postinst imports the sa-update key with gpg, which leaves a
# gpg-agent running.
daemons=(freshclam clamd clamav-milter clamsmtpd master spampd spamd gpg-agent prometheus)

# installed PACKAGE - true if PACKAGE is installed.
installed() {
	[[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]
}

# missing_packages - print the packages that are not installed, one a line.
missing_packages() {
	local pkg
	for pkg in "${build_packages[@]}" "${package_packages[@]}" "${peer_packages[@]}" \
		   "${tool_packages[@]}"; do
		installed "$pkg" || echo "$pkg"
	done
}

# daemon_pids - print "PID NAME" for each running process named in $daemons.
daemon_pids() {
	local comm name pid d
	for comm in /proc/[0-9]*/comm; do
		pid=${comm#/proc/}
		pid=${pid%/comm}
		{ read -r name <"$comm"; } 2>/dev/null || continue
		for d in "${daemons[@]}"; do
			[[ $name == "$d" ]] && echo "$pid $name"
		done
	done
	return 0
}

# preseed PACKAGE... - answer the install-time questions of these packages
# (and of clamav-freshclam, which clamav-daemon pulls in).
preseed() {
	local pkg
	for pkg in "$@"; do
		case $pkg in
		postfix)
			echo "postfix postfix/main_mailer_type select No configuration" ;;
		clamav-daemon|clamsmtp|clamav-milter)
			installed clamav-freshclam ||
			echo "clamav-freshclam clamav-freshclam/autoupdate_freshclam select manual" ;;
		esac
	done | sort -u | debconf-set-selections
}

# stop_new_daemons BEFORE - stop the daemons that are not in BEFORE (a list
# from daemon_pids) and wait up to 10 s for each to exit.
stop_new_daemons() {
	local before=$1 pid name tries
	while read -r pid name; do
		grep -qx "$pid $name" <<<"$before" && continue
		echo "install-deps: stopping $name (pid $pid), started by its package"
		kill -TERM "$pid" 2>/dev/null || continue
		tries=100
		while kill -0 "$pid" 2>/dev/null && (( tries-- > 0 )); do
			sleep 0.1
		done
	done < <(daemon_pids)
}

# Sendmail conflicts with Postfix as a package: the tests run a private copy
# unpacked from Debian's packages (no-op once it is there).
"$(dirname "$0")/fetch-sendmail.sh"

missing=$(missing_packages)
[[ -z $missing ]] && exit 0
# shellcheck disable=SC2086  # one word per package
set -- $missing

apt_install=(apt-get install -y -q --no-install-recommends
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

if (( EUID != 0 )); then
	echo "install-deps: missing packages: $*" >&2
	echo "install-deps: as root, run: apt-get update && ${apt_install[*]} $*" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
before=$(daemon_pids)
preseed "$@"

# Keep maintainer scripts from starting services while we install
# (invoke-rc.d asks policy-rc.d; 101 means "not allowed").
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\n# installed by milter-delegate install-deps.sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi

echo "install-deps: installing $*"
apt-get update -q
"${apt_install[@]}" "$@" </dev/null
stop_new_daemons "$before"

missing=$(missing_packages)
if [[ -n $missing ]]; then
	echo "install-deps: still missing: ${missing//$'\n'/ }" >&2
	exit 1
fi
