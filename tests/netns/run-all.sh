#!/bin/bash
# SPDX-License-Identifier: MIT
# run-all.sh BRAID: every namespace test script for each pairing of implementations (host a first):
#
#	braid/braid   braid/wireguard-go   wireguard-go/braid
#
# and, with BRAID_TEST_SELFCHECK=1, wireguard-go/wireguard-go too (the suite checking itself
# against the reference; then a missing BRAID is not an error, only the self-check runs).
# Prints one line per case and ends with "netns: N passed, M failed"; exits non-zero on failure.
#
# Environment:
#	WIREGUARD_GO=/usr/bin/wireguard-go	the reference implementation
#	NETNS_SCRIPTS="basic traffic"		run only these scripts
#	NETNS_PAIRS="braid/wireguard-go"	run only these pairings
#	NETNS_VERBOSE=1				print every case's output, not only failures'
#	NETNS_KEEP_LOGS=DIR			keep the state (logs, configs) of failed scripts in DIR

set -u
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
SCRIPTS=${NETNS_SCRIPTS:-"basic traffic routing lifecycle uapi wgquick privilege flood"}
WGGO=${WIREGUARD_GO:-/usr/bin/wireguard-go}
SCRIPT_LIMIT=${NETNS_SCRIPT_LIMIT:-300}	# seconds, per script and pairing

if [ $# -ne 1 ]; then
	echo "usage: $0 /path/to/braid   (BRAID_TEST_SELFCHECK=1: also wireguard-go/wireguard-go)" >&2
	exit 2
fi
braid=$1
case "$braid" in /*) ;; *) braid="$(pwd)/$braid" ;; esac

if [ "$(id -u)" != 0 ]; then
	echo "netns: these tests need root (network and mount namespaces)"
	echo "netns: 0 passed, 1 failed"
	exit 1
fi

pairs=()
if [ -x "$braid" ]; then
	pairs+=("$braid $braid" "$braid $WGGO" "$WGGO $braid")
elif [ "${BRAID_TEST_SELFCHECK:-}" != 1 ]; then
	echo "netns: braid binary '$braid' not found or not executable: build it first (make)," \
		"or set BRAID_TEST_SELFCHECK=1 to run wireguard-go against itself"
	echo "netns: 0 passed, 1 failed"
	exit 1
else
	echo "netns: no braid at '$braid': self-check only (wireguard-go/wireguard-go)"
fi
if [ "${BRAID_TEST_SELFCHECK:-}" = 1 ]; then
	pairs+=("$WGGO $WGGO")
fi
if [ ! -x "$WGGO" ]; then
	echo "netns: the reference $WGGO is missing (apt-get install wireguard-go)"
	echo "netns: 0 passed, 1 failed"
	exit 1
fi

label() { case "$(basename "$1")" in wireguard-go*) echo wireguard-go ;; *) basename "$1" ;; esac; }

passed=0 failed=0 interrupted=""
trap 'interrupted=1' INT TERM
out=$(mktemp /tmp/braid-netns-run.XXXXXX)
trap 'rm -f "$out"' EXIT
t_all=$SECONDS
timing=""
for pair in "${pairs[@]}"; do
	set -- $pair
	name="$(label "$1")/$(label "$2")"
	if [ -n "${NETNS_PAIRS:-}" ] && [[ " $NETNS_PAIRS " != *" $name "* ]]; then
		continue
	fi
	echo "=== pairing $name (a: $1, b: $2)"
	t_pair=$SECONDS
	for s in $SCRIPTS; do
		# The script has its own watchdog; this outer limit only catches a script stuck in its
		# cleanup. --foreground keeps the script in our process group, so that ^C reaches it
		# and its trap removes what it made.
		timeout --foreground -k 10 "$((SCRIPT_LIMIT + 30))" env SCRIPT_TIMEOUT="$SCRIPT_LIMIT" \
			"$here/$s.sh" "$1" "$2" 2>&1 | tee -i "$out"
		rc=${PIPESTATUS[0]}
		[ -z "$interrupted" ] || break 2
		p=$(grep -c '^PASS ' "$out")
		f=$(grep -c '^FAIL ' "$out")
		if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
			echo "FAIL $(printf '%-9s %-26s' "$s" "$name") script exited with status $rc"
			f=1
		fi
		passed=$((passed + p))
		failed=$((failed + f))
	done
	timing="$timing  $name: $((SECONDS - t_pair))s"
done
[ -z "$interrupted" ] || { echo "netns: interrupted"; failed=$((failed + 1)); }
echo "=== time per pairing:$timing; total $((SECONDS - t_all))s"
echo "netns: $passed passed, $failed failed"
[ "$failed" = 0 ]
