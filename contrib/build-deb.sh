#!/usr/bin/env bash
# build-deb.sh - build the Debian package (what "make deb" runs).
#
# usage: contrib/build-deb.sh OUTDIR
#
# The top-level layout is fixed, so the packaging lives in contrib/debian/.
# This copies the source tree (the files git knows, or the whole checkout
# without build folders) to OUTDIR/milter-delegate-VERSION/, puts
# contrib/debian/ there as debian/ with the systemd units of contrib/, runs
# dpkg-buildpackage -b (no root needed: Rules-Requires-Root: no) and then
# lintian on the result. Leaves OUTDIR/milter-delegate_VERSION_ARCH.deb and
# OUTDIR/lintian.txt; exits non-zero if the build fails or lintian reports
# an error (E:).

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: $0 OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(dpkg-parsechangelog -l "$top/contrib/debian/changelog" -S Version)
src=$out/milter-delegate-${version%-*}

for tool in dpkg-buildpackage dh lintian; do
	command -v "$tool" >/dev/null ||
		{ echo "build-deb: $tool is missing (run: make deps)" >&2; exit 1; }
done

rm -rf "$src"
mkdir -p "$src"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' |
		tar --null -T - -cf -) | tar -xf - -C "$src"
else
	tar -C "$top" --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$src"
fi
rm -rf "$src/debian"
cp -r "$top/contrib/debian" "$src/debian"
cp "$top/contrib/milter-delegate.service" "$src/debian/milter-delegate.service"
cp "$top/contrib/delegate-shim.service" "$src/debian/milter-delegate.delegate-shim.service"
for unit in service timer; do
	cp "$top/contrib/milter-delegate-quarantine-expire.$unit" \
	   "$src/debian/milter-delegate.milter-delegate-quarantine-expire.$unit"
done

(cd "$src" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1 ||
	{ tail -30 "$out/build.log" >&2; echo "build-deb: dpkg-buildpackage failed (log: $out/build.log)" >&2; exit 1; }
deb=$(ls -t "$out"/milter-delegate_"$version"_*.deb | head -1)
lintian --info "$deb" >"$out/lintian.txt" 2>&1 || true
cat "$out/lintian.txt"
echo "build-deb: $deb"
! grep -q '^E:' "$out/lintian.txt"
