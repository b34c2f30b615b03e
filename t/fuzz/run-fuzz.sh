#!/usr/bin/env bash
# run-fuzz.sh - run the libFuzzer targets built by "make fuzz-build".
#
# usage: t/fuzz/run-fuzz.sh --build DIR --seconds N [--jobs J] TARGET...   (make fuzz)
#        t/fuzz/run-fuzz.sh --build DIR --regress TARGET...     (make fuzz-regress)
#
# --jobs J: run J targets at a time (default 1).
#
# --seconds N: fuzz each TARGET for N seconds (-max_total_time) on a working
#   corpus DIR/corpus/TARGET/, which starts as a copy of the seeds in
#   t/fuzz/corpus/TARGET/ and keeps growing from run to run; the regression
#   inputs in t/fuzz/regress/TARGET/ are read too.
# --regress: run each TARGET once over its seeds and its regression inputs
#   (-runs=0) and stop; a few seconds in all.
#
# libFuzzer writes only into the first corpus directory and the artifact
# prefix, both under DIR, so the repository is never modified. A target's
# whole output goes to DIR/logs/TARGET.log; one summary line per target is
# printed (executions, exec/s, coverage), and the log's tail on failure.
# Exit status: 0 when every target ran clean, 1 when any crashed, leaked,
# hit undefined behaviour or timed out, 2 on a usage error.

set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
build='' seconds='' regress=0 jobs=1
targets=()

# usage - print the synopsis and exit 2.
usage() {
	echo "usage: $0 --build DIR (--seconds N | --regress) TARGET..." >&2
	exit 2
}

while (( $# )); do
	case $1 in
	--build)   (( $# >= 2 )) || usage; build=$2; shift 2 ;;
	--seconds) (( $# >= 2 )) || usage; seconds=$2; shift 2 ;;
	--regress) regress=1; shift ;;
	--jobs)    (( $# >= 2 )) || usage; jobs=$2; shift 2 ;;
	-*)        usage ;;
	*)         targets+=("$1"); shift ;;
	esac
done
[[ -n $build && ${#targets[@]} -gt 0 ]] || usage
(( regress )) || [[ $seconds =~ ^[1-9][0-9]*$ ]] || usage

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# max_len TARGET - the longest input to generate: policies and header blocks
# need room (a header line may be 8192 bytes); the rest are short strings.
max_len() {
	case $1 in
	fuzz_policy_load) echo 16384 ;;
	fuzz_headers)     echo 20000 ;;
	*)                echo 4096 ;;
	esac
}

# existing_dirs DIR... - print those of DIR... that exist.
existing_dirs() {
	local d
	for d in "$@"; do
		[[ -d $d ]] && echo "$d"
	done
	return 0
}

# fuzzer_args TARGET - libFuzzer flags and corpus directories for TARGET.
fuzzer_args() {
	local t=$1 work dict=$top/t/fuzz/$1.dict
	local seeds=$top/t/fuzz/corpus/$t regress_dir=$top/t/fuzz/regress/$t

	mkdir -p "$build/artifacts/$t" || return 1
	echo "-artifact_prefix=$build/artifacts/$t/"
	echo "-timeout=10"
	echo "-print_final_stats=1"
	[[ -f $dict ]] && echo "-dict=$dict"
	if (( regress )); then
		work=$build/regress-out/$t       # written to by nobody; keeps libFuzzer off the seeds
		rm -rf "$work" && mkdir -p "$work" || return 1
		echo "-runs=0"
		echo "$work"
		existing_dirs "$seeds" "$regress_dir"
	else
		work=$build/corpus/$t
		mkdir -p "$work" || return 1
		if [[ -d $seeds ]]; then
			cp -n "$seeds"/* "$work"/ 2>/dev/null || true
		fi
		echo "-max_total_time=$seconds"
		echo "-max_len=$(max_len "$t")"
		echo "$work"
		existing_dirs "$regress_dir"
	fi
}

# summary LOG - "N runs, N exec/s, cov N, ft N, corpus N" from libFuzzer's output.
summary() {
	local runs speed cov
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$1" | tail -n 1)
	cov=$(grep -Eo '(cov|ft|corp): [0-9]+[^ ]*' "$1" | tail -n 3 | tr '\n' ' ')
	echo "${runs:-?} runs, ${speed:-?} exec/s, ${cov:-no coverage line}"
}

# run_target TARGET - run one target; false if it failed.
run_target() {
	local t=$1 bin=$build/$1 log=$build/logs/$1.log args_text args
	if [[ ! -x $bin ]]; then
		echo "not ok - $t: no $bin (run make fuzz-build)"
		return 1
	fi
	mkdir -p "$build/logs" || return 1
	if ! args_text=$(fuzzer_args "$t"); then
		echo "not ok - $t: cannot prepare $build/corpus or $build/artifacts"
		return 1
	fi
	mapfile -t args <<<"$args_text"
	if "$bin" "${args[@]}" >"$log" 2>&1; then
		echo "ok - $t: $(summary "$log")"
		return 0
	fi
	echo "not ok - $t: $(summary "$log") (log: $log)"
	tail -n 40 "$log" | sed 's/^/    /'
	find "$build/artifacts/$t" -type f -printf "    artifact: %p\n"
	return 1
}

# Targets run $jobs at a time; each one's lines are printed when it ends.
failed=0
mkdir -p "$build/results" || exit 1
pids=()
for t in "${targets[@]}"; do
	while (( $(jobs -rp | wc -l) >= jobs )); do
		wait -n
	done
	run_target "$t" >"$build/results/$t" 2>&1 &
	pids+=($!)
done
for i in "${!targets[@]}"; do
	wait "${pids[$i]}" || failed=$((failed + 1))
	cat "$build/results/${targets[$i]}"
done
echo "fuzz: ${#targets[@]} targets, $failed failed"
(( failed == 0 ))
