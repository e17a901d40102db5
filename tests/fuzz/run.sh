#!/bin/sh
# SPDX-License-Identifier: MIT
# Run each libFuzzer harness for a while, one after the other.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS RSS_MB TARGET...
#
# Each target starts from its seeds in tests/fuzz/corpus/<target>/ (read
# only) and writes new inputs to a fresh BUILD_DIR/corpus/<target>/. A crash,
# leak, timeout, sanitizer report or broken invariant leaves the input in
# BUILD_DIR/artifacts/<target>/ and fails the run; the log of each target is
# BUILD_DIR/logs/<target>.log. Extra libFuzzer flags may come in FUZZ_FLAGS.
set -u

if [ $# -lt 4 ]; then
	echo "usage: $0 BUILD_DIR SECONDS RSS_MB TARGET..." >&2
	exit 2
fi
dir=$1 seconds=$2 rss=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0

for t in "$@"; do
	bin=$dir/fuzz_$t
	corpus=$dir/corpus/$t
	artifacts=$dir/artifacts/$t
	log=$dir/logs/$t.log
	rm -rf "$corpus" "$artifacts"
	mkdir -p "$corpus" "$artifacts" "$dir/logs"
	set -- -max_total_time="$seconds" -rss_limit_mb="$rss" -timeout=30 \
		-print_final_stats=1 -artifact_prefix="$artifacts/"
	[ -f "$here/$t.dict" ] && set -- "$@" -dict="$here/$t.dict"
	echo "  FUZZ    $t for ${seconds}s"
	# shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
	if "$bin" "$@" ${FUZZ_FLAGS:-} "$corpus" "$here/corpus/$t" >"$log" 2>&1; then
		passed=$((passed + 1))
		grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' "$log" |
			sed 's/^/          /'
	else
		failed=$((failed + 1))
		echo "FAILED: fuzz_$t; log: $log" >&2
		grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_[a-z]+: |[[:space:]]+#[0-9]+ 0x)' \
			"$log" | head -40 >&2
		for a in "$artifacts"/*; do
			[ -e "$a" ] && echo "  reproduce: $bin $a" >&2
		done
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
