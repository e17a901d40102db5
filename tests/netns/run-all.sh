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
#	NETNS_JOBS=3				run up to 3 pairings at once
#	NETNS_VERBOSE=1				print every case's output, not only failures'
#	NETNS_KEEP_LOGS=DIR			keep the state (logs, configs) of failed scripts in DIR

set -u
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
SCRIPTS=${NETNS_SCRIPTS:-"basic traffic routing lifecycle uapi wgquick up privilege flood"}
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

# run_pair A B NAME: every script for one pairing; prints its cases, and last "result P F".
run_pair() {
	local a=$1 b=$2 name=$3 s rc p f t_pair=$SECONDS passed=0 failed=0 out
	trap 'interrupted=1' INT TERM	# let the running script clean up, then stop
	out=$(mktemp /tmp/braid-netns-run.XXXXXX)
	echo "=== pairing $name (a: $a, b: $b)"
	for s in $SCRIPTS; do
		# The script has its own watchdog; this outer limit only catches a script stuck in its
		# cleanup. --foreground keeps the script in our process group, so that ^C reaches it
		# and its trap removes what it made.
		timeout --foreground -k 10 "$((SCRIPT_LIMIT + 30))" env SCRIPT_TIMEOUT="$SCRIPT_LIMIT" \
			"$here/$s.sh" "$a" "$b" 2>&1 | tee -i "$out"
		rc=${PIPESTATUS[0]}
		[ -z "$interrupted" ] || break
		p=$(grep -c '^PASS ' "$out")
		f=$(grep -c '^FAIL ' "$out")
		if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
			echo "FAIL $(printf '%-9s %-26s' "$s" "$name") script exited with status $rc"
			f=1
		fi
		passed=$((passed + p))
		failed=$((failed + f))
	done
	rm -f "$out"
	[ -z "$interrupted" ] || failed=$((failed + 1))
	echo "=== pairing $name: $passed passed, $failed failed in $((SECONDS - t_pair))s"
	echo "result $passed $failed"
}

# NETNS_JOBS=N runs up to N pairings at once (each script's namespaces are its own); each
# pairing's output is printed whole when it ends. Default 1: one after another, as it happens.
JOBS=${NETNS_JOBS:-1}
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "netns: NETNS_JOBS must be a positive integer"; exit 2; }

passed=0 failed=0 interrupted=""
# Background pairings ignore SIGINT (no job control): on ^C, TERM goes to the whole process
# group, and each script's trap removes what it made.
trap 'interrupted=1; [ "$JOBS" = 1 ] || { trap "" TERM; kill -TERM 0; }' INT TERM
logs=$(mktemp -d /tmp/braid-netns-logs.XXXXXX)
trap 'rm -rf "$logs"' EXIT
t_all=$SECONDS
i=0 running=0
for pair in "${pairs[@]}"; do
	set -- $pair
	name="$(label "$1")/$(label "$2")"
	if [ -n "${NETNS_PAIRS:-}" ] && [[ " $NETNS_PAIRS " != *" $name "* ]]; then
		continue
	fi
	i=$((i + 1))
	if [ "$JOBS" = 1 ]; then
		run_pair "$1" "$2" "$name" | tee "$logs/$i" | grep -v '^result '
		[ -z "$interrupted" ] || break
		continue
	fi
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
	echo "=== pairing $name started in the background"
	run_pair "$1" "$2" "$name" >"$logs/$i" 2>&1 &
	running=$((running + 1))
done
wait
timing=""
for ((j = 1; j <= i; j++)); do
	[ -f "$logs/$j" ] || continue
	[ "$JOBS" = 1 ] || grep -v '^result ' "$logs/$j"
	read -r _ p f < <(grep '^result ' "$logs/$j" || echo "result 0 1")
	passed=$((passed + p))
	failed=$((failed + f))
	timing="$timing  $(sed -n 's/^=== pairing \([^ ]*\): .* in \([0-9]*s\)$/\1: \2/p' "$logs/$j")"
done
[ -z "$interrupted" ] || { echo "netns: interrupted"; failed=$((failed + 1)); }
echo "=== time per pairing:$timing; total $((SECONDS - t_all))s"
echo "netns: $passed passed, $failed failed"
[ "$failed" = 0 ]
