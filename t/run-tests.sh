#!/usr/bin/env bash
# run-tests.sh - run the unit and integration tests and tally their results.
#
# usage: t/run-tests.sh --build DIR [--build DIR2...] [unit] [integration] [fuzz]
#
#   unit         every executable DIR/t/test_* (cmocka, TAP output)
#   integration  every t/integration/*.sh in name order, with MD_TOP (the
#                repository) and MD_BUILD (DIR) in the environment
#   fuzz         every libFuzzer target in build-fuzz/ for MD_FUZZ_SECONDS
#                (default 60) each, two at a time (once, whatever the builds)
#
# Unit and integration run for each DIR in turn (the plain build, then the
# sanitizer build, say). With no suite named, unit and integration run. Each program's output is shown after it ends;
# every "ok" / "not ok" line counts, and a line with "# SKIP" counts as a
# skip. A program that exits non-zero (or times out, or crashes) without
# printing "not ok", or that prints no result at all, counts as one failure;
# so does one that leaves processes behind in its process group (they are
# killed). Each program gets MD_TEST_TIMEOUT seconds (default 300).
#
# The last line of output is always "N passed, N failed, N skipped"; the exit
# status is 1 if anything failed, 2 on a usage error.

set -u

usage() {
	echo "usage: $0 --build DIR [--build DIR...] [unit] [integration] [fuzz]" >&2
	exit 2
}

builds=()
suites=()
while (( $# )); do
	case $1 in
	--build)       (( $# >= 2 )) || usage; builds+=("$2"); shift 2 ;;
	--build=*)     builds+=("${1#--build=}"); shift ;;
	unit|integration|fuzz) suites+=("$1"); shift ;;
	*)             usage ;;
	esac
done
(( ${#builds[@]} )) || usage
(( ${#suites[@]} )) || suites=(unit integration)

top=$(cd "$(dirname "$0")/.." && pwd)
for i in "${!builds[@]}"; do
	if ! abs=$(cd "${builds[$i]}" 2>/dev/null && pwd); then
		echo "$0: no build directory ${builds[$i]} (run make first)" >&2
		echo "0 passed, 1 failed, 0 skipped"
		exit 1
	fi
	builds[$i]=$abs
done
build=
limit=${MD_TEST_TIMEOUT:-300}
log=$(mktemp "${TMPDIR:-/tmp}/md-run-tests.XXXXXX")
passed=0 failed=0 skipped=0
current=          # process group of the running program (timeout's PID)

# finish - print the tally line (always the last line) and exit.
finish() {
	rm -f "$log"
	echo "$passed passed, $failed failed, $skipped skipped"
	(( failed == 0 ))
	exit
}

# on_signal - stop the running program's process group, then finish.
on_signal() {
	[[ -n $current ]] && kill -TERM -- "-$current" 2>/dev/null && wait "$current" 2>/dev/null
	cat "$log"
	echo "# interrupted"
	failed=$((failed + 1))
	finish
}
trap on_signal INT TERM

# leftovers PGID - print the live (non-zombie) processes in process group PGID.
leftovers() {
	ps -eo pgid=,pid=,stat=,args= | awk -v g="$1" '$1 == g && $3 !~ /^Z/'
}

# run_program NAME CMD... - run one test program and add up its results.
run_program() {
	local name=$1 rc line results=0 not_ok=0 stray
	shift
	echo "# ---- $name"
	# timeout puts the program in a process group of its own, and signals
	# the whole group when time runs out.
	timeout -k 10 "$limit" "$@" </dev/null >"$log" 2>&1 &
	current=$!
	wait "$current" 2>/dev/null     # crashes are reported below, not by bash
	rc=$?
	stray=$(leftovers "$current")
	[[ -n $stray ]] && kill -KILL -- "-$current" 2>/dev/null
	current=
	cat "$log"

	while IFS= read -r line; do
		[[ $line =~ ^(not\ )?ok($|[[:space:]]) ]] || continue
		results=$((results + 1))
		shopt -s nocasematch
		if [[ $line =~ \#[[:space:]]*skip ]]; then
			skipped=$((skipped + 1))
		elif [[ $line == ok* ]]; then
			passed=$((passed + 1))
		else
			not_ok=$((not_ok + 1))
		fi
		shopt -u nocasematch
	done <"$log"
	failed=$((failed + not_ok))

	if (( rc == 124 || rc == 137 )); then
		echo "# $name: timed out after ${limit}s"
	elif (( rc > 128 )); then
		echo "# $name: killed by signal $((rc - 128))"
	elif (( rc != 0 )); then
		echo "# $name: exit status $rc"
	elif (( results == 0 )); then
		echo "# $name: printed no results"
		rc=1
	fi
	(( rc != 0 && not_ok == 0 )) && failed=$((failed + 1))
	if [[ -n $stray ]]; then
		echo "# $name: left processes running (killed):"
		sed 's/^/#   /' <<<"$stray"
		failed=$((failed + 1))
	fi
}

# run_unit - every cmocka test program in $build/t.
run_unit() {
	local prog found=0
	for prog in "$build"/t/test_*; do
		[[ -f $prog && -x $prog ]] || continue
		found=1
		CMOCKA_MESSAGE_OUTPUT=TAP run_program "${build##*/}/unit/${prog##*/}" "$prog"
	done
	(( found )) || echo "# no unit tests in $build/t"
}

# run_integration - every t/integration/*.sh, in name order.
run_integration() {
	local script found=0
	for script in "$top"/t/integration/*.sh; do
		[[ -f $script ]] || continue
		found=1
		MD_TOP=$top MD_BUILD=$build \
			run_program "${build##*/}/integration/${script##*/}" bash "$script"
	done
	(( found )) || echo "# no integration tests in $top/t/integration"
}

# run_fuzz - every fuzz target (built by make fuzz-build), two at a time.
run_fuzz() {
	local targets=() bin
	for bin in "$top"/build-fuzz/fuzz_*; do
		[[ -f $bin && -x $bin ]] && targets+=("${bin##*/}")
	done
	if (( ${#targets[@]} == 0 )); then
		echo "# no fuzz targets in $top/build-fuzz (run make fuzz-build)"
		failed=$((failed + 1))
		return
	fi
	# bash locals are seen by the functions called: run_program's time limit.
	local limit=$(( (${MD_FUZZ_SECONDS:-60} + 30) * (${#targets[@]} + 1) / 2 + 60 ))
	run_program "fuzz" "$top/t/fuzz/run-fuzz.sh" --build "$top/build-fuzz" \
		--seconds "${MD_FUZZ_SECONDS:-60}" --jobs 2 "${targets[@]}"
}

for build in "${builds[@]}"; do
	for suite in "${suites[@]}"; do
		[[ $suite == fuzz ]] || "run_$suite"
	done
done
for suite in "${suites[@]}"; do
	[[ $suite == fuzz ]] && run_fuzz
done
finish
