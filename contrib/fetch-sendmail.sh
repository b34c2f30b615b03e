#!/usr/bin/env bash
# fetch-sendmail.sh - put a private, unpacked copy of Sendmail where the
# integration tests look for it (t/lib/sendmail.sh).
#
# usage: contrib/fetch-sendmail.sh [TREE]
#
# TREE defaults to $MD_SENDMAIL_TREE, else /var/cache/milter-delegate/sendmail.
#
# Debian's sendmail-bin conflicts with postfix (both are MTAs), so it is never
# installed: "apt-get download" fetches sendmail-bin and sendmail-cf (plus the
# libraries they need and m4, when those are not installed) from Debian's
# repository, and "dpkg -x" unpacks them into TREE. Nothing outside TREE is
# changed; no service is started. The tests run TREE/usr/libexec/sendmail/sendmail
# with LD_LIBRARY_PATH=TREE/usr/lib/ARCH-linux-gnu (so the set-group-id bit
# of the unpacked binaries is cleared: the loader ignores LD_LIBRARY_PATH for
# set-id programs) and build their sendmail.cf with m4 from TREE/usr/share/sendmail/cf.
#
# Silent and exit 0 when TREE is already complete (TREE/.complete). Not as
# root, it prints the command to run and exits 1.

set -euo pipefail

tree=${1:-${MD_SENDMAIL_TREE:-/var/cache/milter-delegate/sendmail}}
tree=${tree%/}

[[ -f $tree/.complete ]] && exit 0

if (( EUID != 0 )); then
	echo "fetch-sendmail: no Sendmail in $tree" >&2
	echo "fetch-sendmail: as root, run: $0${1:+ $1}" >&2
	exit 1
fi

# Packages unpacked when not installed: what sendmail-bin links against (its
# Depends), and m4 to build a .cf from sendmail-cf's macros. sendmail-base
# (Debian's /etc/mail scripts) is not needed.
deps=(libdb5.3 libldap-2.5-0 liblockfile1 libnsl2 libsasl2-2 libssl3 libwrap0)

# installed PACKAGE - true if PACKAGE is installed.
installed() {
	[[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]
}

packages=(sendmail-bin sendmail-cf)
for pkg in "${deps[@]}"; do
	installed "$pkg" || packages+=("$pkg")
done
command -v m4 >/dev/null 2>&1 || packages+=(m4)

mkdir -p "$(dirname "$tree")"
work=$(mktemp -d "$tree.new.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/debs" "$work/root"

# download - fetch the .deb files into $work/debs (as root, without apt's
# _apt sandbox user, who could not write there).
download() {
	(cd "$work/debs" && apt-get download -q -o APT::Sandbox::User=root "${packages[@]}")
}

echo "fetch-sendmail: downloading ${packages[*]}"
if ! download >"$work/download.log" 2>&1; then
	# No package lists yet (a fresh machine): update them once and retry.
	apt-get update -q >"$work/update.log" 2>&1 || true
	if ! download >"$work/download.log" 2>&1; then
		cat "$work/download.log" >&2
		echo "fetch-sendmail: apt-get download failed" >&2
		exit 1
	fi
fi

for deb in "$work"/debs/*.deb; do
	dpkg -x "$deb" "$work/root"
done
mv "$work/debs" "$work/root/debs"

bin=$work/root/usr/libexec/sendmail/sendmail
dirs=("$work"/root/usr/lib/*-linux-gnu)
libdirs=$(IFS=:; echo "${dirs[*]}")
for f in "$bin" "$work/root/usr/share/sendmail/cf/m4/cf.m4"; do
	if [[ ! -f $f ]]; then
		echo "fetch-sendmail: the packages did not contain ${f#"$work/root"}" >&2
		exit 1
	fi
done
# LD_LIBRARY_PATH must apply: no set-group-id bit (Debian ships it g+s mail).
chmod -R g-s,u-s "$work/root/usr/libexec/sendmail" "$work/root/usr/sbin"

missing=$(LD_LIBRARY_PATH=$libdirs ldd "$bin" 2>&1 | grep 'not found' || true)
if [[ -n $missing ]]; then
	echo "fetch-sendmail: sendmail needs libraries that are neither installed nor fetched:" >&2
	echo "$missing" >&2
	exit 1
fi
version=$(dpkg-deb -f "$work"/root/debs/sendmail-bin_*.deb Version)
echo "$version" >"$work/root/.complete"

rm -rf "$tree"
mv "$work/root" "$tree"
echo "fetch-sendmail: Sendmail $version unpacked in $tree"
