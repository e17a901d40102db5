# SPDX-License-Identifier: MIT
# cases.sh: the case runner of braid's namespace test scripts, on top of the harness of lib.sh
# (which it sources). Sourced by the test scripts, never run.
#
# A test script takes the implementation of each host as arguments (a binary with wireguard-go's
# command-line contract: build/braid or /usr/bin/wireguard-go):
#
#	tests/netns/basic.sh IMPL_A IMPL_B [IMPL_C]	(IMPL_C defaults to IMPL_B)
#
# Cases. A script is a list of `run_case "description" function [seconds]`. Each case runs in a
# subshell under `set -e` in a process group of its own, with its output captured and a time limit;
# state that must outlive a case (daemon pids) lives in files under $STATE. A case prints one line:
#
#	PASS basic     braid/wireguard-go   handshake initiated by A  (0.4s)
#
# and, when it fails, its own output, `wg show` and `ip addr` of every host and what each daemon
# logged while the case ran. run-all.sh counts these lines. A case given as a "gate" (run_gate)
# stops the script when it fails: the cases after it are reported as failed without being run, so
# a daemon that cannot make a tunnel at all costs seconds, not the sum of every case's time limit.
# NETNS_CASES=REGEX runs only the cases whose function name matches, and the gates (development).

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CASE_TIMEOUT=${CASE_TIMEOUT:-60}	# default limit of one case, seconds

# --- script life -----------------------------------------------------------------------------

# netns_init IMPL_A IMPL_B [IMPL_C]: check the arguments, then netns_begin.
netns_init() {
	T=$(basename "$0" .sh)
	if [ $# -lt 2 ] || [ $# -gt 3 ]; then
		echo "usage: $0 IMPL_A IMPL_B [IMPL_C]  (IMPL: build/braid or /usr/bin/wireguard-go)" >&2
		exit 2
	fi
	IMPL_A=$(impl_path "$1") || exit 2
	IMPL_B=$(impl_path "$2") || exit 2
	IMPL_C=$(impl_path "${3:-$2}") || exit 2
	PAIR="$(impl_label "$IMPL_A")/$(impl_label "$IMPL_B")"
	[ "$IMPL_C" = "$IMPL_B" ] || PAIR="$PAIR/$(impl_label "$IMPL_C")"
	netns_begin "A=$IMPL_A B=$IMPL_B$([ "$IMPL_C" = "$IMPL_B" ] || echo " C=$IMPL_C")"
}

# netns_begin HEADER: check root and tools, make $STATE, arm the traps and watchdog (lib.sh), print
# "SCRIPT: HEADER (state DIR)". $T and $PAIR (the label of every case line) are set.
netns_begin() {
	T=$(basename "$0" .sh)
	if [ "$(id -u)" != 0 ]; then
		echo "$T: needs root (network and mount namespaces)" >&2
		exit 2
	fi
	local tool
	for tool in ip wg nsenter unshare timeout ping nft ss sha256sum; do
		command -v "$tool" >/dev/null || { echo "$T: missing tool: $tool" >&2; exit 2; }
	done
	N_PASS=0 N_FAIL=0 GATE_CLOSED="" CASE_PID="" WD_PID="" T0=$SECONDS
	harness_init "netns.$T.$$" "bt-$T-$$"
	echo "$T: $1 (state $STATE)"
}

# netns_finish: print the script's tally and exit with its status.
netns_finish() {
	echo "== $T $PAIR: $N_PASS of $((N_PASS + N_FAIL)) cases passed in $((SECONDS - T0))s"
	[ "$N_FAIL" = 0 ]
	exit $?
}

on_stop() {
	echo "FAIL $(printf '%-9s %-26s' "$T" "$PAIR") script stopped by SIG$1 after $((SECONDS - T0))s" \
		"(its watchdog sends TERM after ${SCRIPT_TIMEOUT}s)"
	kill_group "$CASE_PID"
	CASE_PID=""
}

on_cleanup() {
	kill_group "$CASE_PID"
	stop_watchdog "${WD_PID:-}"
}

# --- cases -----------------------------------------------------------------------------------

# run_case DESCRIPTION FUNCTION [SECONDS]
run_case() {
	_run_case "" "$@"
}

# run_gate DESCRIPTION FUNCTION [SECONDS]: a case the rest of the script depends on.
run_gate() {
	_run_case gate "$@"
}

_run_case() {
	local gate=$1 desc=$2 fn=$3 limit=${4:-$CASE_TIMEOUT} start rc line
	line="$(printf '%-9s %-26s' "$T" "$PAIR") $desc"
	[ -n "$gate" ] || [ -z "${NETNS_CASES:-}" ] || [[ $fn =~ $NETNS_CASES ]] || return 0
	if [ -n "$GATE_CLOSED" ]; then
		echo "FAIL $line  (not run: '$GATE_CLOSED' failed)"
		N_FAIL=$((N_FAIL + 1))
		return 0
	fi
	log_marks
	start=$(date +%s.%N)
	rm -f "$STATE/case.timeout"
	set -m
	( set +m; trap - EXIT INT TERM HUP; set -e; [ -z "${NETNS_TRACE:-}" ] || set -x; "$fn" ) \
		>"$STATE/case.out" 2>&1 </dev/null &
	CASE_PID=$!
	( sleep "$limit"; : >"$STATE/case.timeout"; kill_group "$CASE_PID" ) >/dev/null 2>&1 </dev/null &
	WD_PID=$!
	set +m
	wait "$CASE_PID" 2>/dev/null
	rc=$?
	stop_watchdog "$WD_PID"
	# After a time-out, finish what the watchdog began: the case's leader is gone, its children
	# may not be.
	[ -e "$STATE/case.timeout" ] && kill_group "$CASE_PID"
	WD_PID="" CASE_PID=""
	local took
	took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	if [ "$rc" = 0 ]; then
		echo "PASS $line  (${took}s)"
		[ -z "${NETNS_VERBOSE:-}" ] || cut -c 1-1000 "$STATE/case.out" | sed 's/^/    /'
		N_PASS=$((N_PASS + 1))
		return 0
	fi
	N_FAIL=$((N_FAIL + 1))
	if [ -e "$STATE/case.timeout" ]; then
		echo "FAIL $line  (timed out after ${limit}s)"
	else
		echo "FAIL $line  (${took}s)"
	fi
	[ -n "$gate" ] && GATE_CLOSED=$desc
	dump_failure
	return 0
}

# The sizes of the log files when a case starts, so a failure prints only what the case caused.
log_marks() {
	local f
	for f in "$STATE"/*.log; do
		[ -e "$f" ] || continue
		stat -c %s "$f" >"$f.mark"
	done
}

dump_failure() {
	local h f from
	{
		echo "--- case output:"
		cut -c 1-1000 "$STATE/case.out" | sed 's/^/    /'
		for h in $HOSTS; do
			echo "--- host $h: wg show"
			hx "$h" timeout 5 wg show all 2>&1 | sed 's/^/    /'
			echo "--- host $h: ip -br addr"
			hx "$h" ip -br addr 2>&1 | sed 's/^/    /'
		done
		for f in "$STATE"/*.log; do
			[ -e "$f" ] || continue
			from=0
			[ -e "$f.mark" ] && from=$(cat "$f.mark")
			echo "--- $(basename "$f") while the case ran (last 120 lines):"
			tail -c +"$((from + 1))" "$f" | tail -n 120 | cut -c 1-300 | sed 's/^/    /'
		done
		echo "---"
	} 2>&1
}

# errtrap: in a case, name the command that failed when `set -e` ends it without a message.
errtrap() {
	set -E
	trap 'echo "  error: status $? from: $BASH_COMMAND (line $LINENO, ${FUNCNAME[*]})" >&2' ERR
}
