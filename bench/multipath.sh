#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/multipath.sh: braid's multipath aggregation against each uplink alone and against Linux
# MPTCP, side by side in one run on the same emulated links (issue #11, notes/multipath.md §7.5).
#
#	bench/multipath.sh BRAID LINKEM		(root; LINKEM: build/tools/linkem)
#
#	 host a (client)            host r (router)                            host b (server)
#	 cA 198.51.100.2/25   -tbf- rA - linkem aUp/aDn (delay, jitter) -+
#	 cB 198.51.100.130/25 -tbf- rB - linkem bUp/bDn (delay, jitter) -+- rS -- sS 203.0.113.2
#	 wg0 192.0.2.1/24                                                   wg0 192.0.2.2/24
#
# The topology is lib.sh's multipath one (mp_topology), made once. Each uplink is limited by a
# tbf at its sending ends (mp_rate: a's cX upstream, r's rX downstream) and, when the pair asks
# for delay or jitter, sent through a link emulator in r (mp_emulate, one linkem per uplink,
# under `chrt -f 10` as tests/tools/README advises for benchmarks). A link pair is
#	NAME=RATE_A[@DELAY_A[~JITTER_A]]+RATE_B[@DELAY_B[~JITTER_B]]
# in Mbit/s and one-way milliseconds, each applied in both directions; the default pairs:
#	equal=40@10+40@10	40 + 40 Mbit/s, 10 ms each way on both
#	skew=40@10+20@30~5	40 Mbit/s 10 ms + 20 Mbit/s 30 +-5 ms (20 ms of delay difference)
#	fast=400+200		400 + 200 Mbit/s, tbf only (no emulator): what aggregation
#				costs in CPU at higher rates, without linkem's CPU in the way
# Configurations, each measured on every pair, in interleaved rounds (the order of configurations
# rotates each round, so none always runs first on a freshly made link pair):
#	A		braid, a's peer with one path: `multipath failover path cA` (link A alone;
#			B is left up but braid never sends on it)
#	B		the same with `path cB`
#	aggregate	`multipath aggregate path cA path cB`; b follows (no multipath setting)
#	aggregate-flow	`multipath aggregate-flow path cA path cB`, in the 4-flow test only
#	aggregate-ref	as aggregate, with the braid binary BENCH_BRAID_REF at both ends (only
#			when that is set; then it is among the default configurations): a
#			change to aggregation against the build before it, in the same run
#	mptcp		no tunnel: `mptcpize run iperf3` at both ends, between a's and b's
#			underlay addresses (198.51.100.2 -> 203.0.113.2); a's path manager has
#			cB's address as a subflow endpoint, limits of 2 subflows (lib.sh's
#			mp_mptcp); TCP tests only
# Tests (iperf3, a is the client): tcp1_ab one TCP flow a->b, tcp1_ba the same b->a (-R), tcp4_ab
# four flows a->b (-P 4), udp_ab UDP a->b at a fixed offered rate above the pair's sum (1300-byte
# datagrams, MULTIPATH_UDP_OVER % of RATE_A + RATE_B): the rate delivered and the loss (1 -
# received / sent bytes: iperf3 3.12 counts the omitted seconds' losses in its own). Every
# braid test gets fresh daemons (about 1 s to set up), so that its reorder statistics and rates
# are its own: `get` on both ends 0.5 s before its end gives braid_path (rate_bps, owd_us,
# tx_bytes: the sender's rates are printed), after it the receiver's braid_reorder (hold p99
# against its bound; bound_us is the bound at that moment). Also per test: bytes per uplink on a
# (nft counters: braid's UDP, MPTCP's TCP, the rest; the split), both daemons' utime+stime
# (/proc) per gigabit carried (intervals iperf3 omitted included: CPU and bytes over the same
# span), and for MPTCP the joins (MPJoinSynAckRx).
# Tunnel overhead: inner TCP over WireGuard carries at most 1368 of 1494 bytes a frame (91.6% of
# a tbf rate), TCP directly (MPTCP) about 1428 of 1514 (94.3%).
#
# Prints one table per pair (medians over rounds) with the issue's targets against the figures:
# aggregate TCP 1 flow >= 90% of A + B alone at equal delay (80% with a delay difference) and >=
# MPTCP; reorder hold p99 within its bound; aggregate CPU per gigabit <= 1.2x link A alone. A
# benchmark reports; it asserts nothing. Every sample goes to MULTIPATH_OUT (JSON).
#
# Environment:
#	BENCH_ROUNDS=2			rounds
#	MULTIPATH_SECONDS=5		measured seconds of each test
#	MULTIPATH_OMIT=1		seconds iperf3 runs first and leaves out (slow start, the
#					scheduler's first rates, MPTCP's join)
#	MULTIPATH_PAIRS="equal=40@10+40@10 skew=40@10+20@30~5 fast=400+200"
#	MULTIPATH_CONFIGS="A B aggregate aggregate-flow mptcp"	in round 1's order
#					(aggregate-ref after aggregate when BENCH_BRAID_REF is set)
#	BENCH_BRAID_REF			a reference braid binary for aggregate-ref
#	MULTIPATH_TESTS="tcp1_ab tcp1_ba tcp4_ab udp_ab"	(aggregate-flow: tcp4_ab only)
#	MULTIPATH_UDP_OVER=125		UDP offered rate, % of the pair's sum
#	MULTIPATH_TRACE=0		1: the sender's get every 0.5 s in aggregate tests (rates
#					and delays per path over time, into the JSON; costs some
#					CPU beside the measurement)
#	MULTIPATH_LOG_LEVEL=error	the daemons' LOG_LEVEL (their logs go to raw-multipath/)
#	MULTIPATH_OUT=build/bench/multipath.json	(iperf3 output and get dumps in
#					raw-multipath/ beside it)
#	BENCH_TIMEOUT			global watchdog in seconds (default: 1.5 x the
#					expected time + 120)
#
# As bench/run.sh: every command that can block is under `timeout`; the EXIT trap of lib.sh kills
# what this script started and deletes its namespaces. Only documentation addresses; no route
# leads out of the namespaces.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
. "$REPO/tests/netns/lib.sh"
T=bench-multipath
REPORT="$BENCH_DIR/multipath_report.py"

[ $# = 2 ] || usage
case "$1" in -h | --help) usage ;; esac

BRAID=$(impl_path "$1") || exit 2
LINKEM=$(impl_path "$2") || exit 2
ROUNDS=${BENCH_ROUNDS:-2}
SECS=${MULTIPATH_SECONDS:-5}
OMIT=${MULTIPATH_OMIT:-1}
PAIRS=${MULTIPATH_PAIRS:-equal=40@10+40@10 skew=40@10+20@30~5 fast=400+200}
REF=${BENCH_BRAID_REF:+$(impl_path "$BENCH_BRAID_REF")} || exit 2
CONFIGS=${MULTIPATH_CONFIGS:-A B aggregate ${REF:+aggregate-ref }aggregate-flow mptcp}
TESTS=${MULTIPATH_TESTS:-tcp1_ab tcp1_ba tcp4_ab udp_ab}
UDP_OVER=${MULTIPATH_UDP_OVER:-125}
TRACE=${MULTIPATH_TRACE:-0}
DAEMON_LOG_LEVEL=${MULTIPATH_LOG_LEVEL:-error}
OUT=${MULTIPATH_OUT:-$REPO/build/bench/multipath.json}
case "$OUT" in /*) ;; *) OUT="$(pwd)/$OUT" ;; esac
PORT=5201
PAYLOAD=1300
SERVER=203.0.113.2

die() { echo "$T: $*" >&2; exit 2; }

for v in ROUNDS SECS UDP_OVER; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done
[[ $OMIT =~ ^[0-9]+$ ]] || die "MULTIPATH_OMIT must be an integer"
case "$TRACE" in 0 | 1) ;; *) die "MULTIPATH_TRACE is 0 or 1" ;; esac
for c in $CONFIGS; do
	case "$c" in A | B | aggregate | aggregate-flow | mptcp) ;;
	aggregate-ref) [ -n "$REF" ] || die "aggregate-ref needs BENCH_BRAID_REF" ;;
	*) die "unknown configuration '$c' (A, B, aggregate, aggregate-ref, aggregate-flow, mptcp)" ;;
	esac
done
for t in $TESTS; do
	case "$t" in tcp1_ab | tcp1_ba | tcp4_ab | udp_ab) ;;
	*) die "unknown test '$t' (tcp1_ab, tcp1_ba, tcp4_ab, udp_ab)" ;;
	esac
done
[ "$(id -u)" = 0 ] || die "needs root (network and mount namespaces)"
for tool in ip tc nft wg iperf3 mptcpize chrt nsenter unshare timeout ss sha256sum getconf; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done

# The pairs: P_NAME[i], P_RATE_A[i], P_DELAY_A[i], P_JITTER_A[i], and the same for B.
P_NAME=() P_RATE_A=() P_DELAY_A=() P_JITTER_A=() P_RATE_B=() P_DELAY_B=() P_JITTER_B=()
link_re='([1-9][0-9]*)(@([0-9]+(\.[0-9]+)?)(~([0-9]+(\.[0-9]+)?))?)?'
for p in $PAIRS; do
	[[ $p =~ ^([A-Za-z0-9_-]+)=$link_re\+$link_re$ ]] ||
		die "link pair '$p' is not NAME=RATE[@DELAY[~JITTER]]+RATE[@DELAY[~JITTER]]"
	P_NAME+=("${BASH_REMATCH[1]}")
	P_RATE_A+=("${BASH_REMATCH[2]}") P_DELAY_A+=("${BASH_REMATCH[4]:-0}")
	P_JITTER_A+=("${BASH_REMATCH[7]:-0}")
	P_RATE_B+=("${BASH_REMATCH[9]}") P_DELAY_B+=("${BASH_REMATCH[11]:-0}")
	P_JITTER_B+=("${BASH_REMATCH[14]:-0}")
done
[ ${#P_NAME[@]} -gt 0 ] || die "no link pair"

set -- $CONFIGS
NCONF=$#
CONF=("$@")
CLK_TCK=$(getconf CLK_TCK)

# tests_of CONFIG: the tests a configuration runs.
tests_of() {
	local t
	for t in $TESTS; do
		case "$1:$t" in
		aggregate-flow:tcp4_ab | A:* | B:* | aggregate:* | aggregate-ref:*) echo "$t" ;;
		mptcp:tcp*) echo "$t" ;;
		esac
	done
}

# The expected time, to size the watchdog (measured: 12 min by default): an iperf3 run its
# seconds and 1 more, a braid test's daemons 2 s more, a pair's links 4 s.
EXPECTED=20
for ((i = 0; i < ${#P_NAME[@]}; i++)); do
	for c in $CONFIGS; do
		for t in $(tests_of "$c"); do
			EXPECTED=$((EXPECTED + ROUNDS * (SECS + OMIT + 1)))
			[ "$c" = mptcp ] || EXPECTED=$((EXPECTED + ROUNDS * 2))
		done
	done
	EXPECTED=$((EXPECTED + ROUNDS * 4))
done
TIMEOUT=${BENCH_TIMEOUT:-$((EXPECTED * 3 / 2 + 120))}
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "BENCH_TIMEOUT must be a positive integer"

RAW="$(dirname "$OUT")/raw-multipath"
mkdir -p "$RAW" || exit 1
rm -f "$RAW"/*.json "$RAW"/*.txt "$RAW"/*.err "$RAW"/*.log
T0=$(date +%s)
SCRIPT_TIMEOUT=$TIMEOUT
harness_init "mpbench.$$" "mpb-$$"
RESULTS="$STATE/results.jsonl"
: >"$RESULTS"
# Others rebuild build/braid while we run: every test uses this copy, taken once.
mkdir -p "$STATE/bin" && cp "$BRAID" "$STATE/bin/braid" || exit 1
BRAID_RUN="$STATE/bin/braid"
if [ -n "$REF" ]; then
	cp "$REF" "$STATE/bin/braid-ref" || exit 1
fi
# linkem at real-time priority; exec keeps mp_emulate's pid the emulator's.
printf '#!/bin/sh\nexec chrt -f 10 %s "$@"\n' "$LINKEM" >"$STATE/bin/linkem" &&
	chmod +x "$STATE/bin/linkem" || exit 1
LINKEM_RUN="$STATE/bin/linkem"

# --- errors and signals -----------------------------------------------------------------------

# lib.sh's helpers end their shell with fail: here the message is also the test's error.
fail() {
	err "$*"
	exit 1
}

keep_logs() {
	local h
	for h in a b r; do
		[ -f "$STATE/$h.log" ] && cp "$STATE/$h.log" "$RAW/daemon-$h.log"
	done
	return 0
}

on_stop() {
	err "stopped by SIG$1 after $(($(date +%s) - T0)) s" \
		"(the watchdog sends TERM after ${TIMEOUT} s)"
	keep_logs
	if [ -s "$RESULTS" ]; then
		echo "== partial results (stopped in round ${ROUND:-?}, ${PAIR:-?} ${CUR:-?}):"
		finish "stopped by SIG$1 in round ${ROUND:-?}" || true
	fi
}

# --- links ------------------------------------------------------------------------------------

# emu_rules DELAY JITTER: linkem's rules for one direction ("" when there is nothing to emulate).
emu_rules() {
	local r=""
	[ "$1" = 0 ] || r="delay=$1"
	[ "$2" = 0 ] || r="${r:+$r,}jitter=$2"
	echo "$r"
}

# pair_links I: the tbf rates of pair I on both uplinks, its delays through a linkem per uplink.
pair_links() {
	local i=$1 l d j rules low
	mp_rate A both "${P_RATE_A[i]}mbit"
	mp_rate B both "${P_RATE_B[i]}mbit"
	for l in A B; do
		if [ "$l" = A ]; then d=${P_DELAY_A[i]} j=${P_JITTER_A[i]}; else
			d=${P_DELAY_B[i]} j=${P_JITTER_B[i]}; fi
		rules=$(emu_rules "$d" "$j")
		low=$(tr AB ab <<<"$l")
		if [ -n "$rules" ]; then
			mp_emulate "$l" "$LINKEM_RUN" "${low}Up:$rules" "${low}Dn:$rules" ||
				fail "link emulator on uplink $l"
		else
			mp_emulate_stop "$l"
		fi
	done
}

# linkem_stats I: the emulators' counters (tun_dropped: the emulator, not the link, dropped;
# late_avg_us: its timing error) into the results, and a line when they matter.
linkem_stats() {
	local l pid f
	for l in A B; do
		pid=$(cat "$STATE/r.linkem$l.pid" 2>/dev/null) || continue
		f="$STATE/linkem.$l.stats"
		rm -f "$f"
		kill -USR1 "$pid" 2>/dev/null || continue
		(wait_for 3 "linkem $l's statistics" test -s "$f") || continue
		"$PY" "$REPORT" linkem "$RESULTS" "$f" round="$ROUND" pair="$PAIR" uplink="$l"
	done
}

pair_desc() { # I
	local i=$1
	printf 'A %s Mbit/s%s, B %s Mbit/s%s' "${P_RATE_A[i]}" \
		"$(link_desc "${P_DELAY_A[i]}" "${P_JITTER_A[i]}")" "${P_RATE_B[i]}" \
		"$(link_desc "${P_DELAY_B[i]}" "${P_JITTER_B[i]}")"
}

link_desc() { # DELAY JITTER
	[ "$1" = 0 ] && [ "$2" = 0 ] && return 0
	printf ' %s' "$1"
	[ "$2" = 0 ] || printf '+-%s' "$2"
	printf ' ms'
}

# --- braid ------------------------------------------------------------------------------------

getu() { # HOST: braid's lines of `get`
	printf 'get=1\n\n' | hx "$1" timeout 5 "$PY" "$NETTOOL" uapi /var/run/wireguard/wg0.sock |
		grep '^braid_'
}

# ready CONFIG: a knows b is braid and no path of its is down or probing; for aggregate, b has
# its reorder buffer (it saw a's mode).
ready() {
	local ga gb
	ga=$(getu a) || return 1
	grep -q '^braid_peer_multipath=yes' <<<"$ga" || return 1
	! grep '^braid_path=' <<<"$ga" | grep -qv 'state=\(active\|standby\)' || return 1
	[[ $1 == aggregate || $1 == aggregate-ref ]] || return 0
	gb=$(getu b) || return 1
	grep -q '^braid_reorder=' <<<"$gb"
}

# braid_up CONFIG: fresh daemons on a and b, a's peer b at b's underlay address with the
# configuration's paths and mode, b's peer a with no endpoint (b learns a's paths); both ping.
# Runs in a subshell: the helpers end it with fail.
braid_up() {
	local spec bin=$BRAID_RUN
	case "$1" in
	A) spec="failover path cA" ;;
	B) spec="failover path cB" ;;
	aggregate) spec="aggregate path cA path cB" ;;
	aggregate-ref) spec="aggregate path cA path cB" bin=$STATE/bin/braid-ref ;;
	aggregate-flow) spec="aggregate-flow path cA path cB" ;;
	esac
	wg_up a "$bin" 192.0.2.1/24
	wg_up b "$bin" 192.0.2.2/24
	peer_set a b allowed-ips 192.0.2.2/32 endpoint "$SERVER:10002"
	peer_set b a allowed-ips 192.0.2.1/32
	hx a timeout 10 "$bin" set wg0 peer "$(pub b)" multipath $spec ||
		fail "braid set multipath $spec"
	ping_ok a 192.0.2.2
	ping_ok b 192.0.2.1
	wait_for 10 "a's paths ($spec) to be up" ready "$1"
}

braid_down() {
	daemon_kill a
	daemon_kill b
}

# daemon_ticks: utime+stime of a's daemon and b's, in clock ticks (all threads, live and exited).
daemon_ticks() {
	local h pid
	for h in a b; do
		pid=$(daemon_pid "$h")
		proc_running "$pid" || { err "daemon on $h is gone"; return 1; }
		cpu_ticks "$pid"
	done | paste -sd ' '
}

# snapshot FILE_PREFIX: both ends' get 0.5 s before the test's end, while the data flows (the
# rates after it are those of paths gone idle), into FILE_PREFIX-a.txt and -b.txt.
snapshot() {
	sleep "$((OMIT + SECS - 1)).5"
	getu a >"$1-a.txt" 2>/dev/null
	getu b >"$1-b.txt" 2>/dev/null
}

# trace_paths FILE: the sender's get every 0.5 s, each dump after a "t=SECONDS" line, until killed.
trace_paths() {
	local t0
	t0=$(date +%s%N)
	while :; do
		echo "t=$((($(date +%s%N) - t0) / 1000000))"
		getu a
		sleep 0.5
	done >"$1" 2>/dev/null
}

# --- a test -----------------------------------------------------------------------------------

# uplink_counters: nft counters in a of the bytes each uplink carries each way, by kind: braid's
# (UDP port 10001), iperf3's TCP to port 5201 (MPTCP's subflows), anything (the whole link).
uplink_counters() {
	local l dir rules_out=() rules_in=()
	for l in A B; do
		rules_out+=("oifname \"c$l\" udp sport 10001 counter comment \"braid_c${l}_tx\""
			"oifname \"c$l\" tcp dport $PORT counter comment \"tcp_c${l}_tx\""
			"oifname \"c$l\" counter comment \"all_c${l}_tx\"")
		rules_in+=("iifname \"c$l\" udp dport 10001 counter comment \"braid_c${l}_rx\""
			"iifname \"c$l\" tcp sport $PORT counter comment \"tcp_c${l}_rx\""
			"iifname \"c$l\" counter comment \"all_c${l}_rx\"")
	done
	nft_table a "inet mpbout" out "type filter hook postrouting priority 0" \
		"${rules_out[@]}" &&
		nft_table a "inet mpbin" in "type filter hook prerouting priority 0" \
			"${rules_in[@]}" || fail "nft counters on a"
}

# uplink_bytes: the counters of uplink_counters, "NAME=BYTES" words.
uplink_bytes() {
	hx a nft list ruleset | awk '{ for (i = 1; i < NF; i++) {
		if ($i == "bytes") b = $(i + 1)
		if ($i == "comment") { c = $(i + 1); gsub(/"/, "", c); printf "%s=%s ", c, b } } }'
}

# iperf_args TEST: iperf3's client options for a test on the current pair.
iperf_args() {
	local sum=$((P_RATE_A[PI] + P_RATE_B[PI]))
	case "$1" in
	tcp1_ab) ;;
	tcp1_ba) echo -R ;;
	tcp4_ab) echo -P 4 ;;
	udp_ab) echo "-u -b $((sum * UDP_OVER / 100))M -l $PAYLOAD -w 4M" ;;
	esac
}

# run_test TEST: one iperf3 test of configuration CUR on pair PI, with fresh daemons for braid.
run_test() {
	local test=$1 f wrap="" dst=192.0.2.2 c0="0 0" c1="0 0" b0 b1 j0=0 j1=0 rc tpid="" spid=""
	local cpid
	f="$RAW/r$ROUND-$PAIR-$CUR-$test"
	if [ "$CUR" = mptcp ]; then
		wrap="mptcpize run" dst=$SERVER
	else
		(braid_up "$CUR") || return 1
	fi
	iperf_server "$PORT" $((SECS + OMIT + 40)) $wrap || return 1
	[ "$CUR" = mptcp ] && j0=$(kernel_stat a MPTcpExt:MPJoinSynAckRx)
	[ "$CUR" = mptcp ] || c0=$(daemon_ticks) || return 1
	b0=$(uplink_bytes)
	hx a timeout -k 2 "$((SECS + OMIT + 25))" $wrap iperf3 -c "$dst" -p "$PORT" -t "$SECS" \
		-O "$OMIT" -J --connect-timeout 5000 $(iperf_args "$test") >"$f.json" 2>"$f.err" \
		</dev/null &
	cpid=$!
	remember client "$cpid"
	if [ "$CUR" != mptcp ]; then
		snapshot "$f.mid" &
		spid=$!
		remember snapshot "$spid"
	fi
	if [ "$TRACE" = 1 ] && [[ $CUR == aggregate* ]]; then
		trace_paths "$f.trace.txt" &
		tpid=$!
		remember trace "$tpid"
	fi
	wait "$cpid"
	rc=$?
	forget client
	[ -z "$tpid" ] || { kill_pid "$tpid" 1; forget trace; }
	[ -z "$spid" ] || { kill_pid "$spid" 1; forget snapshot; }
	b1=$(uplink_bytes)
	[ "$CUR" = mptcp ] || c1=$(daemon_ticks) || return 1
	[ "$CUR" = mptcp ] && j1=$(kernel_stat a MPTcpExt:MPJoinSynAckRx)
	iperf_server_done
	if [ "$CUR" != mptcp ]; then
		getu a >"$f.get-a.txt"
		getu b >"$f.get-b.txt"
		braid_down
	fi
	if [ "$rc" != 0 ]; then
		err "iperf3 $test failed ($rc): $(head -c 300 "$f.json" "$f.err")"
		return 1
	fi
	read -r -a c0 <<<"$c0"
	read -r -a c1 <<<"$c1"
	"$PY" "$REPORT" sample "$RESULTS" round="$ROUND" pair="$PAIR" config="$CUR" test="$test" \
		load1="$LOAD1" iperf="$f.json" get_a="$f.get-a.txt" get_b="$f.get-b.txt" \
		mid_a="$f.mid-a.txt" mid_b="$f.mid-b.txt" trace="$f.trace.txt" \
		ticks_a=$((c1[0] - c0[0])) ticks_b=$((c1[1] - c0[1])) clk_tck="$CLK_TCK" \
		bytes_before="$b0" bytes_after="$b1" mptcp_joins=$((j1 - j0)) ||
		{ err "$test: unreadable result"; return 1; }
}

# run_config: the tests of configuration CUR on pair PI; a failed test is recorded, the rest go on.
run_config() {
	local t
	for t in $(tests_of "$CUR"); do
		LOAD1=$(cut -d' ' -f1 /proc/loadavg)
		if ! run_test "$t"; then
			"$PY" "$REPORT" record "$RESULTS" round="$ROUND" pair="$PAIR" \
				config="$CUR" test="$t" error="$(head -c 300 "$STATE/last-error" \
				2>/dev/null | tr '\n' ' ')"
			rm -f "$STATE/last-error"
			err "round $ROUND $PAIR $CUR $t failed; its sample is missing"
			FAILED=$((FAILED + 1))
			braid_down
			reap a b
		fi
	done
}

# --- the run ----------------------------------------------------------------------------------

# finish [NOTE]: the metadata, the tables of medians and MULTIPATH_OUT.
finish() {
	local i pairs_json=""
	ELAPSED=$(($(date +%s) - T0))
	for ((i = 0; i < ${#P_NAME[@]}; i++)); do
		pairs_json+="{\"name\":\"${P_NAME[i]}\",\"rate_a\":${P_RATE_A[i]},"
		pairs_json+="\"delay_a\":${P_DELAY_A[i]},\"jitter_a\":${P_JITTER_A[i]},"
		pairs_json+="\"rate_b\":${P_RATE_B[i]},\"delay_b\":${P_DELAY_B[i]},"
		pairs_json+="\"jitter_b\":${P_JITTER_B[i]},\"desc\":\"$(pair_desc "$i")\"},"
	done
	rm -f "$STATE/meta.json"
	"$PY" "$REPORT" record "$STATE/meta.json" rounds="$ROUNDS" rounds_done="$ROUNDS_DONE" \
		seconds="$SECS" omit="$OMIT" udp_over_percent="$UDP_OVER" udp_payload="$PAYLOAD" \
		tunnel_mtu="$WG_MTU" pairs="[${pairs_json%,}]" \
		configs="[$(printf '"%s",' $CONFIGS | sed 's/,$//')]" \
		tests="[$(printf '"%s",' $TESTS | sed 's/,$//')]" braid="$BRAID" linkem="$LINKEM" \
		braid_sha256="$(sha256sum <"$BRAID_RUN" | cut -d' ' -f1)" \
		git_head="$(git -C "$REPO" rev-parse HEAD 2>/dev/null)" \
		iperf3_version="$(iperf3 --version | head -n 1)" \
		mptcpize_version="$(dpkg-query -W -f '${Version}' mptcpize 2>/dev/null)" \
		nproc="$(nproc)" cpu_model="$MODEL" kernel="$(uname -r)" \
		date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" elapsed_s="$ELAPSED" reproduce="$REPRO" \
		note="${1:-complete}" || return 1
	timeout 60 "$PY" "$REPORT" summary "$RESULTS" "$STATE/meta.json" "$OUT" || return 1
	echo "machine: $(nproc) CPUs, $MODEL, Linux $(uname -r)"
	echo "reproduce: $REPRO"
}

MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
REPRO="BENCH_ROUNDS=$ROUNDS MULTIPATH_SECONDS=$SECS MULTIPATH_OMIT=$OMIT \
MULTIPATH_PAIRS='$PAIRS' MULTIPATH_CONFIGS='$CONFIGS' MULTIPATH_TESTS='$TESTS' \
MULTIPATH_UDP_OVER=$UDP_OVER $BENCH_DIR/multipath.sh $BRAID $LINKEM"

echo "== braid multipath benchmark: $ROUNDS round(s) of $CONFIGS on ${P_NAME[*]}" \
	"(tests: $TESTS; ${SECS} s after ${OMIT} s omitted)"
echo "machine: $(nproc) CPUs, ${MODEL:-unknown CPU}, Linux $(uname -r)," \
	"load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "braid: $BRAID (copied; sha256 $(sha256sum <"$BRAID_RUN" | cut -c1-16)," \
	"tree $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "reproduce: $REPRO"
echo "expected about $((EXPECTED / 60)) min $((EXPECTED % 60)) s; watchdog ${TIMEOUT} s"

ROUNDS_DONE=0 FAILED=0
mp_hosts 2
# The whole setup in a subshell: a helper's fail ends it, and then the run.
(
	mp_topology
	mp_mptcp
	uplink_counters
	for h in a b; do
		# 4 MB socket buffers for iperf3's UDP (-w 4M), in our namespaces only (where the
		# kernel keeps the value per namespace: Linux 6.16 and later).
		if hx "$h" test -w /proc/sys/net/core/rmem_max; then
			for f in rmem_max wmem_max; do
				[ "$(hx "$h" cat /proc/sys/net/core/$f)" -ge 4194304 ] ||
					echo 4194304 | hx "$h" tee /proc/sys/net/core/$f >/dev/null
			done
		fi
	done
) || exit 1

for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	for ((PI = 0; PI < ${#P_NAME[@]}; PI++)); do
		PAIR=${P_NAME[PI]}
		echo "== round $ROUND/$ROUNDS: $PAIR ($(pair_desc "$PI"))" \
			"(load $(cut -d' ' -f1 /proc/loadavg), $(($(date +%s) - T0)) s)"
		(pair_links "$PI") || { err "links of $PAIR failed"; exit 1; }
		sleep 1
		for ((k = 0; k < NCONF; k++)); do
			CUR=${CONF[$(((ROUND - 1 + k) % NCONF))]}
			run_config
		done
		linkem_stats
	done
	ROUNDS_DONE=$ROUND
done

keep_logs
finish || exit 1
echo "== done in $((ELAPSED / 60)) min $((ELAPSED % 60)) s"
# A test that failed in some round makes the run fail, after the tables.
[ "$FAILED" = 0 ]
