#!/usr/bin/env bash
# 020-policy-check.sh - `milter-delegate -t`: every shipped policy passes with
# a one-line summary; every broken policy in t/policies/bad/ is refused with
# exit status 1 and exactly the messages in its .err golden file.

. "$MD_TOP/t/lib/peers.sh"

milter=$MD_BUILD/milter-delegate
cd "$MD_TOP" || exit 1

for policy in policies/default.json policies/clamd.json policies/examples/*.json; do
	out=$("$milter" -t -c "$policy" 2>&1)
	rc=$?
	if (( rc == 0 )) && [[ $out == "$policy: OK: "* && $out != *$'\n'* ]]; then
		ok "-t accepts $policy ($out)"
	else
		not_ok "-t accepts $policy" "exit $rc" "$out"
	fi
done

for policy in t/policies/bad/*.json; do
	golden=${policy%.json}.err
	out=$("$milter" -t -c "$policy" 2>&1)
	rc=$?
	if (( rc == 1 )) && [[ $out == "$(cat "$golden")" ]]; then
		ok "-t refuses $policy with the expected messages"
	else
		not_ok "-t refuses $policy with the expected messages" "exit $rc" \
			"$(diff <(echo "$out") "$golden")"
	fi
done

out=$("$milter" -t -c /nonexistent/policy.json 2>&1)
is "$?" 1 "-t on a missing file exits 1"
like "$out" "cannot read policy: No such file or directory" "-t on a missing file says why"

out=$("$milter" --help 2>&1)
is "$?" 0 "--help exits 0"
like "$out" "SYNOPSIS" "--help prints a man-page style synopsis"
"$milter" --bogus >/dev/null 2>&1
is "$?" 2 "an unknown option exits 2"

done_testing
