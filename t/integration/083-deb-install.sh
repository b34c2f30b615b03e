#!/usr/bin/env bash
# 083-deb-install.sh - the Debian package on this machine (issue 11): build
# it (make deb's script, lintian without errors), dpkg -i, then run the
# INSTALLED milter exactly as its systemd unit starts it (the unit's
# ExecStart, as root; it drops to milter-delegate) with the installed
# policy, against a private Postfix whose smtpd and cleanup run chrooted
# like Debian's, using the installed main.cf snippet, with clamsmtpd and
# clamd on the policy's ports (10026, 10025): a clean message is delivered
# with X-Virus-Scanned, EICAR lands in virus_q, a message from sendmail(1)
# goes through non_smtpd_milters, and SIGTERM leaves the socket folder
# empty. Then dpkg --purge, and what is left: nothing of the package; the
# system user stays (Debian leaves system users), and this test removes it
# if it created it. The private Postfix's queue directory is not
# /var/spool/postfix, so the installed socket folder is bind-mounted into
# it at the same relative place. Purge and clean-up run even on failure.

. "$MD_TOP/t/lib/peers.sh"
peers_init
(( EUID == 0 )) || skip_all "needs root (dpkg -i)"
# The package is built from the source with its own flags, whatever
# MD_BUILD holds: the sanitizer round would test the same package again.
[[ $MD_BUILD != *asan* ]] || skip_all "the package does not depend on the build under test (run with the plain build)"
peers_require dpkg-buildpackage dh lintian swaks clamd clamsmtpd postfix sendmail systemd-analyze
if dpkg-query -W -f='${db:Status-Abbrev}' milter-delegate 2>/dev/null | grep -q '^.i'; then
	skip_all "milter-delegate is installed on this machine: not touching it"
fi
for port in 10025 10026; do
	port_listening "$port" && skip_all "port $port (the installed policy's) is in use"
done
[[ -d /var/spool/postfix ]] || skip_all "no /var/spool/postfix (postfix package)"

had_user=$(getent passwd milter-delegate >/dev/null && echo yes)
had_group=$(getent group milter-delegate >/dev/null && echo yes)
installed=

# deb_cleanup - purge the package and remove the user we created, then the
# usual clean-up (EXIT trap, also on failure).
deb_cleanup() {
	local status=$?
	[[ -n ${milter_pid:-} ]] && stop_pid "$milter_pid"
	[[ -n ${POSTFIX_DIR:-} ]] && stop_postfix && POSTFIX_DIR=
	[[ -n ${mnt:-} ]] && umount "$mnt" 2>/dev/null
	[[ -n $installed ]] && dpkg --purge milter-delegate >/dev/null 2>&1
	[[ -z $had_user ]] && getent passwd milter-delegate >/dev/null && deluser --system --quiet milter-delegate 2>/dev/null
	[[ -z $had_group ]] && getent group milter-delegate >/dev/null && delgroup --system --quiet milter-delegate
	(exit "$status")
	peers_cleanup
}
trap deb_cleanup EXIT

# 1. Build and install.
if "$MD_TOP/contrib/build-deb.sh" "$PEERS_DIR/deb" >"$PEERS_DIR/build-deb.out" 2>&1; then
	ok "make deb's script builds the package, lintian reports no error"
else
	bail_out "the package did not build: $(tail -5 "$PEERS_DIR/build-deb.out")"
fi
diag "lintian: $(grep -E '^[EW]:' "$PEERS_DIR/deb/lintian.txt" | tr '\n' ' ')"
deb=$(ls "$PEERS_DIR"/deb/milter-delegate_*.deb | head -1)
installed=yes
dpkg -i "$deb" >"$PEERS_DIR/dpkg.out" 2>&1 || bail_out "dpkg -i failed: $(tail -5 "$PEERS_DIR/dpkg.out")"
ok "dpkg -i installs it"
is "$(dpkg-query -W -f='${Conffiles}' milter-delegate | awk '{print $1}' | tr '\n' ' ')" \
	"/etc/milter-delegate/policy.json /etc/milter-delegate/shim.json " \
	"policy.json and shim.json are conffiles"
check "postinst created the system user milter-delegate" bash -c "getent passwd milter-delegate >/dev/null"
is "$(stat -c '%n %U:%G %a' /var/spool/milter-delegate /var/lib/milter-delegate/quarantine \
	/var/spool/postfix/milter-delegate | tr '\n' ';')" \
	"/var/spool/milter-delegate milter-delegate:milter-delegate 700;/var/lib/milter-delegate/quarantine milter-delegate:milter-delegate 700;/var/spool/postfix/milter-delegate milter-delegate:postfix 750;" \
	"... and the spool, quarantine and socket folders"
check "the man pages are installed" test -f /usr/share/man/man8/milter-delegate.8.gz -a \
	-f /usr/share/man/man8/delegate-shim.8.gz -a -f /usr/share/man/man5/milter-delegate.policy.5.gz
# systemd-analyze verify: the installed units parse, every directive is
# known to Debian's systemd, their programs and man pages exist (no
# systemd runs as PID 1 here, so the units cannot be started for real).
for unit in milter-delegate delegate-shim; do
	out=$(systemd-analyze verify "/lib/systemd/system/$unit.service" 2>&1)
	is "$?:$out" "0:" "systemd-analyze verify accepts the installed $unit.service"
done
out=$(/usr/sbin/milter-delegate -t -u milter-delegate 2>&1)
is "$?" 0 "the installed milter-delegate -t -u milter-delegate passes with the installed policy"

# 2. The peers: clamd, clamsmtpd on the installed policy's ports, a sink,
# a chrooted private Postfix with the installed snippet.
start_clamd || bail_out "clamd did not start"
start_sink || bail_out "smtp-sink did not start"
start_clamsmtpd pass 10025 10026 || bail_out "clamsmtpd did not start on 10026"
POSTFIX_EXTRA_MAIN_CF=$(zcat -f /usr/share/doc/milter-delegate/examples/postfix-main.cf* |
	grep -v '^[[:space:]]*#' | grep .)
mnt=$PEERS_DIR/postfix/queue/milter-delegate
mkdir -p "$mnt"
mount --bind /var/spool/postfix/milter-delegate "$mnt" || bail_out "cannot bind-mount the socket folder"
peers_track_mount "$mnt"
POSTFIX_CHROOT=1 start_postfix "" || bail_out "the chrooted postfix did not start"
check "the private Postfix runs smtpd and cleanup chrooted" \
	test "$(awk '$1 ~ /smtpd$|^cleanup$/ { print $5 }' "$POSTFIX_DIR/master.cf" | sort -u)" = y

# 3. The installed milter, started as its unit starts it.
cmd=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/milter-delegate.service)
like "$cmd" "^/usr/sbin/milter-delegate .* -u milter-delegate" "the unit runs /usr/sbin/milter-delegate -u milter-delegate"
# shellcheck disable=SC2086  # the unit's command line, split as systemd does (no quotes in it)
$cmd >"$PEERS_DIR/milter.out" 2>&1 &
milter_pid=$!
peers_track "$milter_pid"
sock=/var/spool/postfix/milter-delegate/milter.sock
wait_until 10 test -S "$sock" || bail_out "the installed milter did not start: $(tail -3 "$PEERS_DIR/milter.out")"
# uid_is UID - does the milter run as UID (it drops root once the socket is open)?
uid_is() { [[ $(awk '/^Uid:/ { print $2 }' "/proc/$milter_pid/status" 2>/dev/null) == "$1" ]]; }
wait_until 5 uid_is "$(id -u milter-delegate)"
is "$(awk '/^Uid:/ { print $2 }' "/proc/$milter_pid/status") $(stat -c '%U:%G %a' "$sock")" \
	"$(id -u milter-delegate) milter-delegate:postfix 660" \
	"it runs as milter-delegate; the socket is milter-delegate:postfix 0660"

out=$(swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --from a@example.com --to b@example.net \
	--h-Subject deb-clean --timeout 60 2>&1)
like "$out" "<- +250 .*queued as" "a clean message is accepted by the chrooted smtpd"
file=$(sink_wait_for "Subject: deb-clean" 20)
check "... and delivered with X-Virus-Scanned" grep -q "^X-Virus-Scanned: ClamAV using ClamSMTP" "${file:-/nonexistent}"
swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --from a@example.com --to b@example.net \
	--h-Subject deb-eicar --attach - --timeout 60 <<<"$(eicar_string)" >/dev/null 2>&1
wait_until 20 bash -c 'ls /var/lib/milter-delegate/quarantine/virus_q/*.eml >/dev/null 2>&1'
check "EICAR lands in /var/lib/milter-delegate/quarantine/virus_q" \
	bash -c 'ls /var/lib/milter-delegate/quarantine/virus_q/*.eml >/dev/null 2>&1'
printf 'Subject: deb-sendmail\n\nSubmitted with sendmail(1).\n' |
	sendmail -C "$POSTFIX_DIR" -f a@example.com b@example.net 2>/dev/null
file=$(sink_wait_for "Subject: deb-sendmail" 30)
check "a message from sendmail(1) goes through non_smtpd_milters (chrooted cleanup)" \
	grep -q "^X-Virus-Scanned: ClamAV using ClamSMTP" "${file:-/nonexistent}"
grep -q "connect to Milter service" "$POSTFIX_LOG" && diag "$(grep "connect to Milter" "$POSTFIX_LOG" | tail -2)"

stop_pid "$milter_pid"
milter_pid=
is "$(ls -A /var/spool/postfix/milter-delegate)" "" "after SIGTERM the socket folder is empty"
stop_postfix
POSTFIX_DIR=
umount "$mnt" && mnt=

# 4. Purge, and what is left.
dpkg --purge milter-delegate >"$PEERS_DIR/purge.out" 2>&1
is "$?" 0 "dpkg --purge removes it"
installed=
left=$(ls -d /etc/milter-delegate /var/spool/milter-delegate /var/lib/milter-delegate \
	/var/spool/postfix/milter-delegate /usr/sbin/milter-delegate /usr/sbin/delegate-shim \
	/lib/systemd/system/milter-delegate.service 2>/dev/null)
is "$left" "" "nothing of the package is left (configuration, folders, programs, units)"
check "the system user stays after purge, as Debian leaves system users" bash -c "getent passwd milter-delegate >/dev/null"
if [[ -z $had_user ]]; then
	deluser --system --quiet milter-delegate 2>/dev/null
	[[ -z $had_group ]] && getent group milter-delegate >/dev/null && delgroup --system --quiet milter-delegate
	check "... and this test removed the user and group it created" \
		bash -c '! getent passwd milter-delegate && ! getent group milter-delegate'
fi

done_testing
