#!/bin/bash
# SPDX-License-Identifier: MIT
# check.sh BUILD_DIR: the namespace tests of `make check`, in seven groups (most of their time
# is waiting: keepalives, rekey intervals, flood durations), each printed whole when all are done:
#
#   main    every behaviour script but flood.sh (run-all.sh's list) for braid/braid,
#           braid/wireguard-go and wireguard-go/braid, with BUILD_DIR/braid (its privilege.sh uses
#           BUILD_DIR/hooks/braid), the pairings in parallel
#   flood   flood.sh for the same three pairings, one after another, once main, asan and tsan
#           are done: a flood wants the CPU it measures, and on a small machine two floods, or
#           a flood beside 50 MB transfers, starve the victim
#   badnet  bad networks and rekeying under load, braid/braid and braid/wireguard-go in
#           parallel, with a braid whose protocol timers run 40 times faster for rekey.sh
#           (BUILD_DIR/fast/braid)
#   asan    every script but privilege.sh and flood.sh with braid built under ASan+UBSan
#           (BUILD_DIR/san/braid; the sanitizer runtimes make system calls of their own, so the
#           sandbox is off, and their memory and CPU are not what flood.sh bounds),
#           braid/braid and braid/wireguard-go in parallel
#   asanbox privilege.sh with the same ASan+UBSan braid inside its real sandbox (the filter
#           allows the two calls ASan's runtime makes; LeakSanitizer, which ptraces the process
#           at exit, is off)
#   tsan    basic.sh and traffic.sh, braid/braid, with braid built under ThreadSanitizer
#           (BUILD_DIR/tsan/braid, sandbox off; TSAN_OPTIONS=halt_on_error=1, so a data race ends
#           the daemon and fails the case): the crypto workers under real traffic
#   multipath  after the floods, alone (its cases measure gaps of a 1000 packet/s stream and
#           rates through tbf): linkem.sh (the link emulator's self-test, one count), then
#           topology.sh and multipath.sh for braid/braid and braid/wireguard-go in parallel
#
# Every script makes its own namespaces. Ends with "netns: N passed, M failed" over all groups;
# exits non-zero on any failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
logs=$(mktemp -d /tmp/braid-netns-check.XXXXXX)
trap 'rm -rf "$logs"' EXIT
trap 'trap "" TERM; kill -TERM 0; wait; exit 130' INT TERM

t0=$SECONDS
scripts="basic traffic routing lifecycle uapi wgquick up"
NETNS_JOBS=3 NETNS_SCRIPTS="$scripts privilege" BRAID_HOOKS="$build/hooks/braid" \
	"$here/run-all.sh" "$build/braid" >"$logs/main" 2>&1 &
busy=$!
NETNS_JOBS=2 NETNS_SCRIPTS="badnet rekey" NETNS_PAIRS="braid/braid braid/wireguard-go" \
	RELAY="$build/tools/relay" BRAID_FAST="$build/fast/braid" \
	"$here/run-all.sh" "$build/braid" >"$logs/badnet" 2>&1 &
NETNS_JOBS=2 NETNS_SCRIPTS="$scripts" NETNS_PAIRS="braid/braid braid/wireguard-go" \
	BRAID_SANDBOX=0 "$here/run-all.sh" "$build/san/braid" >"$logs/asan" 2>&1 &
busy="$busy $!"
ASAN_OPTIONS=detect_leaks=0 NETNS_SCRIPTS=privilege NETNS_PAIRS="braid/braid" \
	BRAID_HOOKS="$build/hooks/braid" "$here/run-all.sh" "$build/san/braid" >"$logs/asanbox" 2>&1 &
busy="$busy $!"
NETNS_SCRIPTS="basic traffic" NETNS_PAIRS="braid/braid" BRAID_SANDBOX=0 \
	TSAN_OPTIONS=halt_on_error=1 "$here/run-all.sh" "$build/tsan/braid" >"$logs/tsan" 2>&1 &
busy="$busy $!"
# The floods wait for the CPU-hungry groups: a victim starved of CPU by other tests drops
# datagrams at its socket, a legitimate handshake among them, and the case measures the machine.
# What still runs beside them (rekey.sh at 40 Mbit/s) is light.
wait $busy
NETNS_SCRIPTS=flood "$here/run-all.sh" "$build/braid" >"$logs/flood" 2>&1
wait
multipath_group() {
	local rc
	"$here/linkem.sh" "$build"
	rc=$?
	NETNS_JOBS=2 NETNS_SCRIPTS="topology multipath" NETNS_PAIRS="braid/braid braid/wireguard-go" \
		LINKEM="$build/tools/linkem" "$here/run-all.sh" "$build/braid" |
		awk -v rc="$rc" '/^netns: / { print "netns: " $2 + (rc == 0) " passed, " \
			$4 + (rc != 0) " failed"; next } { print }'
}
multipath_group >"$logs/multipath" 2>&1

passed=0 failed=0
for g in main flood badnet asan asanbox tsan multipath; do
	echo "######## group $g"
	cat "$logs/$g"
	p="" f=""
	read -r p f < <(sed -n 's/^netns: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$logs/$g")
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1}))
done
echo "=== namespace tests: $((SECONDS - t0))s"
echo "netns: $passed passed, $failed failed"
[ "$failed" = 0 ]
