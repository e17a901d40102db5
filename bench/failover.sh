#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/failover.sh: how long a tunnel stays dark when one of the client's two uplinks fails, and
# what it costs when nothing fails; braid's multipath beside braid without it, braid against
# wireguard-go, and Linux MPTCP on the same links.
#
#	bench/failover.sh BRAID [WIREGUARD_GO [LINKEM]]	(root; not part of `make check`)
#
# WIREGUARD_GO defaults to /usr/bin/wireguard-go, LINKEM to build/tools/linkem. The testbed is
# lib.sh's multipath topology (tests/netns/multipath.sh runs the same one), with the links of
# /work/shared/notes/multipath.md §7.5 made by the link emulator in r (mp_emulate), both ways:
# uplink A 40 Mbit/s and 10 ms one way, uplink B 20 Mbit/s and 30 +- 5 ms.
#
#	  host a (client)                 host r (router, linkem)             host b (server)
#	  cA 198.51.100.2/25   ---------- rA  A: 10 ms, 40 Mbit/s
#	  cB 198.51.100.130/25 ---------- rB  B: 30 +- 5 ms, 20 Mbit/s
#	                                      rS 203.0.113.1/24 ----------- sS 203.0.113.2/24
#	  wg0 192.0.2.1/24 (braid, port 10001)                 wg0 192.0.2.2/24 (port 10002)
#
# Configurations (columns of the table), each started afresh in every round:
#	braid         braid on both ends; a's peer b: multipath failover, path cA, path cB,prio=1
#	wireguard-go  the same client, WIREGUARD_GO as the server
#	off           braid on both ends, no multipath: one endpoint, as plain WireGuard has it
#	mptcp         no tunnel: one MPTCP connection a -> b's 203.0.113.2 per direction, its first
#	              subflow over A, a second over B (lib.sh's mp_mptcp: an endpoint on cB)
#	mptcp-backup  the same with B a backup subflow (`ip mptcp endpoint ... subflow backup`)
#
# Scenarios (rows), all with traffic both ways at once, a -> b and b -> a:
#	admin, carrier, blackhole
#		A goes away (lib.sh's mp_down: a's cA down; r's rA down, so a sees no carrier; r drops
#		A's packets silently) under a stream of 1000 UDP datagrams a second through the tunnel
#		(nettool.py stream-send, 200 bytes, numbered), and comes back (mp_up). Measured: the
#		longest run of lost datagrams once A failed ("gap", in ms at 1000/s) and the datagrams
#		lost then; from mp_up, the time until a shows path cA active again and what was lost
#		from mp_up on ("failback"). A stays down BENCH_DOWN_SECONDS; with multipath off,
#		BENCH_OFF_WINDOW (nothing moves the tunnel: a gap that reaches mp_up is shown as "none
#		in N s", no recovery while A was down); MPTCP, BENCH_MPTCP_WINDOW. For MPTCP the
#		stream is a 16-byte record every ms over the connection (nettool.py tick-connect,
#		tick-listen) and the gap is the longest time without arrivals at the receiver: TCP
#		loses nothing, it stalls. Every run of the braid configurations starts from fresh paths
#		(replace-paths: no hold-down left by an earlier flap).
#	redundant
#		braid in multipath redundant, 5% random loss on each uplink independently (nft numgen in
#		r, both ways, as multipath.sh does), BENCH_RED_PPS datagrams a second each way for
#		BENCH_RED_SECONDS: the loss and the one-way delay (p50, p99) against the links' 10 and
#		30 ms. A wireguard-go server sends by one path: its direction b -> a keeps an uplink's
#		5%. With multipath off the tunnel has A alone and its 5%. The loss is also pooled over
#		all rounds (the target, 0.5% at most, is over 100,000 datagrams or more).
#	idle
#		failover, nothing sent for BENCH_IDLE_SECONDS: the WireGuard datagrams a sent and
#		received on each uplink (nft counters in a), and every packet on a's cA and cB (link
#		counters: ARP and neighbour discovery too), per second.
# Each cell of the table is the median over the rounds and, in parentheses, the worst. The issue's
# targets: a gap of 50 ms or less on a link event, 300 ms on a black-hole (600 ms against
# wireguard-go), failback within 3 s losing nothing, redundant loss 0.5% or less with the faster
# path's delay, 1 probe a second or less per path when idle. This script reports; it asserts
# nothing, and fails only when a measurement could not be made (then the table has a gap and the
# error is in FAILOVER_OUT).
#
# Environment:
#	BENCH_ROUNDS=3			rounds (every configuration and scenario once per round)
#	BENCH_CONFIGS="braid wireguard-go off mptcp mptcp-backup"	in round 1's order; each
#					round starts one further on
#	BENCH_SCENARIOS="admin carrier blackhole redundant idle"
#	BENCH_DOWN_SECONDS=3		A's outage, multipath (braid, wireguard-go)
#	BENCH_FAILBACK_LIMIT=6		how long a may take to show A active again after mp_up
#					(then "none in 6 s", and the run goes on)
#	BENCH_OFF_WINDOW=10		A's outage with multipath off
#	BENCH_MPTCP_WINDOW=4		A's outage, MPTCP
#	BENCH_RED_PPS=2000 BENCH_RED_SECONDS=17	redundant: datagrams a second each way, seconds
#	BENCH_IDLE_SECONDS=30		idle
#	FAILOVER_OUT=build/bench/failover.tsv	every sample: round, configuration, scenario,
#					metric, value (tab-separated, with a header line)
#	FAILOVER_LOGS=DIR		keep the daemons' and the emulator's logs there
#	BENCH_TIMEOUT			the watchdog, seconds (default: twice the expected time)
#
# The hosts, daemons and cleanup are lib.sh's (this script sources it alone): every command that
# can block is under `timeout`, the watchdog (SCRIPT_TIMEOUT) ends the run, the EXIT trap ends
# what the script started and deletes its namespaces. Only documentation addresses are used and no
# route leads out of the namespaces.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
. "$REPO/tests/netns/lib.sh"
T=bench
TABLE="$BENCH_DIR/failover_table.py"

[ $# -ge 1 ] && [ $# -le 3 ] || usage
case "$1" in -h | --help) usage ;; esac

BRAID=$(impl_path "$1") || exit 2
WGGO=$(impl_path "${2:-/usr/bin/wireguard-go}") || exit 2
LINKEM=$(impl_path "${3:-$REPO/build/tools/linkem}") || exit 2
ROUNDS=${BENCH_ROUNDS:-3}
CONFIGS=${BENCH_CONFIGS:-braid wireguard-go off mptcp mptcp-backup}
SCENARIOS=${BENCH_SCENARIOS:-admin carrier blackhole redundant idle}
DOWN_S=${BENCH_DOWN_SECONDS:-3}
FB_LIMIT=${BENCH_FAILBACK_LIMIT:-6}
OFF_WINDOW=${BENCH_OFF_WINDOW:-10}
MPTCP_WINDOW=${BENCH_MPTCP_WINDOW:-4}
RED_PPS=${BENCH_RED_PPS:-2000}
RED_S=${BENCH_RED_SECONDS:-17}
IDLE_S=${BENCH_IDLE_SECONDS:-30}
OUT=${FAILOVER_OUT:-$REPO/build/bench/failover.tsv}
case "$OUT" in /*) ;; *) OUT="$(pwd)/$OUT" ;; esac
LOGS=${FAILOVER_LOGS:-}
PPS=1000		# the failover streams
PRE=1.5			# seconds of traffic before A fails
SERVER4=203.0.113.2:10002

for v in ROUNDS DOWN_S FB_LIMIT OFF_WINDOW MPTCP_WINDOW RED_PPS RED_S IDLE_S; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench: $v must be a positive integer" >&2; exit 2; }
done
for c in $CONFIGS; do
	case "$c" in braid | wireguard-go | off | mptcp | mptcp-backup) ;;
	*) echo "bench: unknown configuration '$c'" >&2; exit 2 ;;
	esac
done
for s in $SCENARIOS; do
	case "$s" in admin | carrier | blackhole | redundant | idle) ;;
	*) echo "bench: unknown scenario '$s'" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network and mount namespaces)" >&2; exit 2; }
for tool in ip wg nft nsenter unshare timeout sysctl; do
	command -v "$tool" >/dev/null || { echo "bench: missing tool: $tool" >&2; exit 2; }
done

set -- $CONFIGS
NCONF=$#
CONF=("$@")

# applies CONFIG SCENARIO: whether the scenario is measured for the configuration.
applies() {
	case "$1:$2" in
	mptcp*:redundant | mptcp*:idle | off:idle) return 1 ;;
	esac
	return 0
}

# The expected seconds of one scenario in one configuration (measured on a 2-CPU machine), for the
# watchdog and the forecast.
expected_of() {
	case "$1:$2" in
	braid:idle | wireguard-go:idle) echo $((IDLE_S + 6)) ;;
	off:redundant | braid:redundant | wireguard-go:redundant) echo $((RED_S + 7)) ;;
	off:*) echo $((OFF_WINDOW + 9)) ;;
	mptcp*) echo $((MPTCP_WINDOW + 7)) ;;
	*) echo $((DOWN_S + 11)) ;;
	esac
}

EXPECTED=20
for c in $CONFIGS; do
	EXPECTED=$((EXPECTED + 4))
	for s in $SCENARIOS; do
		applies "$c" "$s" && EXPECTED=$((EXPECTED + $(expected_of "$c" "$s")))
	done
done
EXPECTED=$((EXPECTED * ROUNDS + 15))
TIMEOUT=${BENCH_TIMEOUT:-$((EXPECTED * 2 + 120))}
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_TIMEOUT must be a positive integer" >&2; exit 2; }
export SCRIPT_TIMEOUT=$TIMEOUT

mkdir -p "$(dirname "$OUT")" || exit 1
T0=$(date +%s)
harness_init "bench-failover.$$" "bfo-$$"
SAMPLES="$STATE/samples.tsv"
printf 'round\tconfig\tscenario\tmetric\tvalue\n' >"$SAMPLES"
# Others rebuild the tree while this runs: use copies taken now.
mkdir -p "$STATE/bin"
cp "$BRAID" "$STATE/bin/braid" && cp "$LINKEM" "$STATE/bin/linkem" || exit 1
BRAID_RUN="$STATE/bin/braid" LINKEM_RUN="$STATE/bin/linkem"

# --- errors and signals -----------------------------------------------------------------------

# lib.sh's helpers end their shell with fail: here a scenario's subshell, with its error noted.
fail() {
	err "$*"
	exit 1
}

on_stop() {
	err "stopped by SIG$1 after $(($(date +%s) - T0)) s (the watchdog sends TERM after ${TIMEOUT} s)"
	[ -s "$SAMPLES" ] && finish "stopped by SIG$1 in round ${ROUND:-?}"
}

# sample METRIC VALUE: one measurement of the current round, configuration and scenario.
sample() { printf '%s\t%s\t%s\t%s\t%s\n' "$ROUND" "$CUR" "$SCEN" "$1" "$2" >>"$SAMPLES"; }

now() { date +%s.%N; }

# sleep_until EPOCH: sleep until that wall-clock time (at once when it has passed).
sleep_until() {
	local s
	s=$(awk -v t="$1" -v n="$(now)" 'BEGIN { d = t - n; printf "%.3f", (d > 0 ? d : 0) }')
	sleep "$s"
}

# --- the testbed ------------------------------------------------------------------------------

testbed() {
	mp_topology
	mp_emulate A "$LINKEM_RUN" emAup:delay=10,rate=40 emAdn:delay=10,rate=40 &&
		mp_emulate B "$LINKEM_RUN" emBup:delay=30,jitter=5,rate=20 \
			emBdn:delay=30,jitter=5,rate=20 || fail "the link emulator"
	# The WireGuard datagrams a sends and receives on each uplink (b listens on 10002).
	printf '%s\n' "table inet bfoidle {" \
		"chain out {" "type filter hook output priority 0; policy accept" \
		"oifname \"cA\" udp dport 10002 counter comment \"txA\"" \
		"oifname \"cB\" udp dport 10002 counter comment \"txB\"" "}" \
		"chain in {" "type filter hook prerouting priority -300; policy accept" \
		"iifname \"cA\" udp sport 10002 counter comment \"rxA\"" \
		"iifname \"cB\" udp sport 10002 counter comment \"rxB\"" "}" "}" |
		hx a nft -f - || fail "the counters in a"
}

# idle_counter NAME: packets of one of a's counters above.
idle_counter() {
	hx a nft list table inet bfoidle | awk -v n="\"$1\"" '{
		for (i = 1; i <= NF; i++) if ($i == "comment" && $(i + 1) == n)
			for (j = 1; j < i; j++) if ($j == "packets") print $(j + 1) }'
}

# nft_loss UPLINK PERCENT|off: r drops PERCENT of what it forwards from or to the uplink, at random.
nft_loss() {
	hx r nft delete table inet "bfoloss$1" 2>/dev/null || true
	[ "$2" = off ] || nft_table r "inet bfoloss$1" forward \
		"type filter hook forward priority -5" \
		"iifname \"r$1\" numgen random mod 100 < $2 drop" \
		"oifname \"r$1\" numgen random mod 100 < $2 drop" || fail "loss on uplink $1"
}

# links_clean: both uplinks up, no loss.
links_clean() {
	local l
	for l in A B; do
		mp_up "$l"
		nft_loss "$l" off
	done
}

# --- configurations ---------------------------------------------------------------------------

braid_set() { hx a timeout 10 "$BRAID_RUN" set wg0 peer "$(pub b)" "$@" || fail "braid set $*"; }

uapi_a() { printf 'get=1\n\n' | hx a timeout 5 "$PY" "$NETTOOL" uapi /var/run/wireguard/wg0.sock; }

far_kind_is() { [ "$(uapi_a | sed -n 's/^braid_peer_multipath=//p')" = "$1" ]; }

# path_wait NAME STATE SECONDS: wait until a shows the path in that state; print when (epoch).
path_wait() {
	hx a timeout $(($3 + 5)) "$PY" "$NETTOOL" path-wait /var/run/wireguard/wg0.sock "$1" "$2" \
		"$3" | sed -n 's/^at=//p' | grep . || fail "path $1 of a is not $2 after $3 s"
}

# config_up CONFIG: its daemons (or MPTCP) on fresh links; a tunnel answering pings.
config_up() {
	links_clean
	case "$1" in
	mptcp) mp_mptcp; return ;;
	mptcp-backup) mp_mptcp backup; return ;;
	esac
	wg_up a "$BRAID_RUN"
	if [ "$1" = wireguard-go ]; then wg_up b "$WGGO"; else wg_up b "$BRAID_RUN"; fi
	peer_set a b allowed-ips 192.0.2.2/32 endpoint "$SERVER4"
	peer_set b a allowed-ips 192.0.2.1/32
	[ "$1" = off ] || braid_set multipath failover path cA path cB,prio=1
	ping_ok a 192.0.2.2
	ping_ok b 192.0.2.1
	case "$1" in
	braid) wait_for 8 "a to find b is braid" far_kind_is yes ;;
	wireguard-go) wait_for 8 "a to find b is not braid" far_kind_is no ;;
	esac
}

config_down() {
	reap a b
	daemon_kill a
	daemon_kill b
	hx a ip mptcp endpoint flush 2>/dev/null || true
}

# baseline: what a braid configuration's runs start from: both uplinks up, no loss, failover over
# fresh paths (a path's flap history goes with it), A carrying the traffic, B standby.
baseline() {
	links_clean
	[ "$CUR" = off ] && { ping_ok a 192.0.2.2; return; }
	braid_set multipath failover replace-paths
	braid_set replace-paths path cA path cB,prio=1
	ping_ok a 192.0.2.2
	path_wait cA active 10 >/dev/null
	path_wait cB standby 10 >/dev/null
}

# --- traffic ----------------------------------------------------------------------------------

# bg HOST COMMAND...: run a command in the host in the background, $! being the command itself
# (nsenter does not fork), so that a TERM reaches it.
bg() {
	local h=$1
	shift
	nsenter -t "$(holder_of "$h")" -m -n -- "$@" &
}

# streams_start PPS SECONDS [QUIET]: a UDP stream each way through the tunnel, a -> b ("ab") and
# b -> a ("ba"); each receiver writes its result to $STATE/st.DIR and its loss runs to
# $STATE/st.DIR.runs, and gives up after QUIET seconds (default 3) without a datagram.
streams_start() {
	local pps=$1 secs=$2 quiet=${3:-3}
	reap a b
	rm -f "$STATE"/st.*
	bg b timeout $((secs + 30)) "$PY" "$NETTOOL" stream-recv 192.0.2.2 7001 $((secs + 20)) \
		"$STATE/st.ab.ready" "$pps" "$STATE/st.ab.runs" "$quiet" >"$STATE/st.ab" 2>&1
	RECV_AB=$!
	bg a timeout $((secs + 30)) "$PY" "$NETTOOL" stream-recv 192.0.2.1 7002 $((secs + 20)) \
		"$STATE/st.ba.ready" "$pps" "$STATE/st.ba.runs" "$quiet" >"$STATE/st.ba" 2>&1
	RECV_BA=$!
	wait_for 5 "the stream receivers" test -e "$STATE/st.ab.ready" -a -e "$STATE/st.ba.ready"
	bg a timeout $((secs + 10)) "$PY" "$NETTOOL" stream-send 192.0.2.2 7001 "$pps" "$secs" \
		>/dev/null 2>&1
	SEND_AB=$!
	bg b timeout $((secs + 10)) "$PY" "$NETTOOL" stream-send 192.0.2.1 7002 "$pps" "$secs" \
		>/dev/null 2>&1
	SEND_BA=$!
}

# streams_end: the senders told to finish (they send their end marks), the receivers' results in.
streams_end() {
	kill -TERM "$SEND_AB" "$SEND_BA" 2>/dev/null
	wait "$SEND_AB" "$SEND_BA" "$RECV_AB" "$RECV_BA" 2>/dev/null
	local d
	for d in ab ba; do
		grep -q '^sent=' "$STATE/st.$d" || fail "stream $d: $(head -c 300 "$STATE/st.$d")"
	done
}

# field FILE NAME: NAME=VALUE from a result line.
field() { sed -n "s/.*\\b$2=\\([-0-9.]*\\).*/\\1/p" "$1" | head -n 1; }

# ticks_start SECONDS: one MPTCP connection from a to b for each direction, a record every ms;
# receivers' results in $STATE/tk.DIR, their stalls in $STATE/tk.DIR.stalls.
ticks_start() {
	local secs=$1
	reap a b
	rm -f "$STATE"/tk.*
	bg b timeout $((secs + 40)) "$PY" "$NETTOOL" tick-listen 203.0.113.2 7101 recv "$secs" \
		"$STATE/tk.ab.ready" mptcp "$STATE/tk.ab.stalls" >"$STATE/tk.ab" 2>&1
	RECV_AB=$!
	bg b timeout $((secs + 40)) "$PY" "$NETTOOL" tick-listen 203.0.113.2 7102 send "$secs" \
		"$STATE/tk.ba.ready" mptcp >/dev/null 2>&1
	SEND_BA=$!
	wait_for 5 "the MPTCP listeners" test -e "$STATE/tk.ab.ready" -a -e "$STATE/tk.ba.ready"
	bg a timeout $((secs + 40)) "$PY" "$NETTOOL" tick-connect 203.0.113.2 7101 send "$secs" \
		mptcp >/dev/null 2>&1
	SEND_AB=$!
	bg a timeout $((secs + 40)) "$PY" "$NETTOOL" tick-connect 203.0.113.2 7102 recv "$secs" \
		mptcp "$STATE/tk.ba.stalls" >"$STATE/tk.ba" 2>&1
	RECV_BA=$!
}

ticks_end() {
	kill -TERM "$SEND_AB" "$SEND_BA" 2>/dev/null
	wait "$SEND_AB" "$SEND_BA" "$RECV_AB" "$RECV_BA" 2>/dev/null
	local d
	for d in ab ba; do
		grep -q '^records=' "$STATE/tk.$d" && [ -s "$STATE/tk.$d.stalls" ] ||
			fail "MPTCP $d: $(head -c 300 "$STATE/tk.$d")"
	done
}

# cut_runs FILE UNIT DOWN UP: a receiver's runs of loss ("MS COUNT", UNIT ms each) or stalls ("MS
# GAP_MS", UNIT 0) after its "t0 EPOCH" line, cut at A's failure (DOWN, epoch; from 200 ms before)
# and return (UP). Prints "gap lost capped fb_gap fb_lost pre_lost": the longest run from DOWN on
# and what it lost before UP; capped 1 when a run lasted until UP (no recovery while A was down);
# from UP on, the longest run and the loss; before DOWN, the loss. Lengths in ms.
cut_runs() {
	awk -v unit="$2" -v down="$3" -v up="$4" '
		$1 == "t0" { d = (down - $2) * 1000 - 200; u = (up - $2) * 1000; next }
		{
			s = $1; len = unit ? $2 * unit : $2; e = s + len; n = unit ? $2 : 0
			if (s < d) { pre += n; next }
			if (s < u) {
				l = (e < u ? e : u) - s
				if (l > gap) gap = l
				lost += unit ? l / unit : 0
				if (e >= u) { capped = 1; s = u; len = e - u } else next
			}
			if (len > fb_gap) fb_gap = len
			fb_lost += unit ? len / unit : 0
		}
		END { printf "%.0f %.0f %d %.0f %.0f %.0f\n", gap, lost, capped, fb_gap, fb_lost, pre }
	' "$1"
}

# --- scenarios --------------------------------------------------------------------------------

# watch STATE LIMIT: a poller in a, waiting up to LIMIT seconds for a to show path cA in STATE;
# its pid in WATCH, what it saw in $STATE/watch. Started ahead of the event it times.
watch() {
	rm -f "$STATE/watch"
	bg a timeout $(($2 + 5)) "$PY" "$NETTOOL" path-wait /var/run/wireguard/wg0.sock cA "$1" \
		"$2" >"$STATE/watch" 2>&1
	WATCH=$!
	WATCH_LIMIT=$2
}

# watched NAME SINCE: once the poller ended, the sample NAME: the milliseconds from SINCE (epoch)
# to what it saw, or LIMIT (and NAME_capped 1) when it saw nothing.
watched() {
	local at ms capped=0
	wait "$WATCH"
	at=$(sed -n 's/^at=//p' "$STATE/watch")
	if [ -n "$at" ]; then
		ms=$(awk -v a="$at" -v b="$2" 'BEGIN { printf "%.0f", (a - b) * 1000 }')
	else
		grep -q 'path-wait: .* after' "$STATE/watch" || fail "$(cat "$STATE/watch")"
		say "$(cat "$STATE/watch")"
		ms=$((WATCH_LIMIT * 1000)) capped=1
	fi
	sample "$1" "$ms"
	sample "${1}_capped" "$capped"
}

# outage KIND: A fails (KIND) under the UDP streams and comes back; a braid configuration times
# a's view of path A: down, then (from mp_up) active again. Multipath off keeps A down for
# OFF_WINDOW, then 3 s more to see what comes back.
outage() {
	local kind=$1 down up hold=1 d g lost capped fbg fbl pre
	baseline
	streams_start "$PPS" 120 60
	[ "$CUR" = off ] || watch down 5
	sleep "$PRE"
	down=$(now)
	mp_down A "$kind"
	if [ "$CUR" = off ]; then
		hold=3
		sleep_until "$(awk -v t="$down" -v w="$OFF_WINDOW" 'BEGIN { printf "%.6f", t + w }')"
	else
		watched detect_ms "$down"
		watch active "$FB_LIMIT"
		sleep_until "$(awk -v t="$down" -v w="$DOWN_S" 'BEGIN { printf "%.6f", t + w }')"
	fi
	up=$(now)
	mp_up A
	[ "$CUR" = off ] || watched failback_ms "$up"
	sample window_ms "$(awk -v a="$up" -v b="$down" 'BEGIN { printf "%.0f", (a - b) * 1000 }')"
	sleep "$hold"
	streams_end
	for d in ab ba; do
		read -r g lost capped fbg fbl pre < <(cut_runs "$STATE/st.$d.runs" $((1000 / PPS)) "$down" "$up")
		sample "gap_$d" "$g"
		sample "lost_$d" "$lost"
		sample "capped_$d" "$capped"
		sample "fb_gap_$d" "$fbg"
		sample "fb_lost_$d" "$fbl"
		sample "pre_lost_$d" "$pre"
		sample "sent_$d" "$(field "$STATE/st.$d" sent)"
		say "$d: gap $g ms, $lost lost$([ "$capped" = 1 ] && echo " (no recovery while A was down)");" \
			"from mp_up: gap $fbg ms, $fbl lost; $(cat "$STATE/st.$d")"
	done
	[ "$CUR" = off ] && ping_ok a 192.0.2.2
	return 0
}

# joins_since J0 N: a has had N more MPTCP subflows joined (SYN-ACKs with MP_JOIN) since J0.
joins_since() { [ "$(kernel_stat a MPTcpExt:MPJoinSynAckRx)" -ge $(($1 + $2)) ]; }

# mptcp_outage KIND: the same with MPTCP: A fails under a record a ms each way, for MPTCP_WINDOW.
mptcp_outage() {
	local kind=$1 j0 down up d g lost capped fbg fbl pre
	links_clean
	j0=$(kernel_stat a MPTcpExt:MPJoinSynAckRx)
	ticks_start 120
	wait_for 5 "both connections' second subflows" joins_since "$j0" 2
	sleep "$PRE"
	down=$(now)
	mp_down A "$kind"
	sleep_until "$(awk -v t="$down" -v w="$MPTCP_WINDOW" 'BEGIN { printf "%.6f", t + w }')"
	up=$(now)
	mp_up A
	sample window_ms "$(awk -v a="$up" -v b="$down" 'BEGIN { printf "%.0f", (a - b) * 1000 }')"
	sleep 2
	ticks_end
	for d in ab ba; do
		read -r g lost capped fbg fbl pre < <(cut_runs "$STATE/tk.$d.stalls" 0 "$down" "$up")
		sample "gap_$d" "$g"
		sample "capped_$d" "$capped"
		sample "fb_gap_$d" "$fbg"
		sample "pre_gap_$d" "$pre"
		say "$d: stall $g ms$([ "$capped" = 1 ] && echo " (no recovery while A was down)");" \
			"from mp_up: $fbg ms; $(cat "$STATE/tk.$d")"
	done
}

redundant() {
	local d
	baseline
	if [ "$CUR" != off ]; then
		braid_set multipath redundant
		ping_all a 192.0.2.2 5
	fi
	nft_loss A 5
	nft_loss B 5
	streams_start "$RED_PPS" "$RED_S"
	wait "$SEND_AB" "$SEND_BA" "$RECV_AB" "$RECV_BA" 2>/dev/null
	nft_loss A off
	nft_loss B off
	for d in ab ba; do
		grep -q '^sent=' "$STATE/st.$d" || fail "stream $d: $(head -c 300 "$STATE/st.$d")"
		sample "sent_$d" "$(field "$STATE/st.$d" sent)"
		sample "lost_$d" "$(field "$STATE/st.$d" lost)"
		sample "p50_$d" "$(field "$STATE/st.$d" p50_ms)"
		sample "p99_$d" "$(field "$STATE/st.$d" p99_ms)"
		say "$d: $(cat "$STATE/st.$d")"
	done
}

idle() {
	local l k t0 t1 c0 c1 secs
	baseline
	sleep 2
	declare -A v0
	for l in A B; do
		v0[tx$l]=$(idle_counter "tx$l") v0[rx$l]=$(idle_counter "rx$l")
		v0[lt$l]=$(link_stat a "c$l" tx packets) v0[lr$l]=$(link_stat a "c$l" rx packets)
	done
	t0=$(now)
	sleep "$IDLE_S"
	t1=$(now)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
	for l in A B; do
		for k in tx rx; do
			c1=$(idle_counter "$k$l")
			sample "${k}_$l" "$(awk -v n=$((c1 - ${v0[$k$l]})) -v s="$secs" \
				'BEGIN { printf "%.2f", n / s }')"
		done
		c0=$((v0[lt$l] + v0[lr$l]))
		c1=$(($(link_stat a "c$l" tx packets) + $(link_stat a "c$l" rx packets)))
		sample "link_$l" "$(awk -v n=$((c1 - c0)) -v s="$secs" 'BEGIN { printf "%.2f", n / s }')"
	done
	say "per second: $(awk -F'\t' -v r="$ROUND" -v c="$CUR" '$1 == r && $2 == c && $3 == "idle" {
		printf "%s %s  ", $4, $5 }' "$SAMPLES")"
}

# scenario NAME: one scenario of the current configuration, in a subshell (fail ends it); false
# when it failed, with the error among the samples.
scenario() {
	SCEN=$1
	local t=$(date +%s) rc
	echo "-- round $ROUND/$ROUNDS, $CUR: $SCEN ($(($(date +%s) - T0)) s)"
	case "$CUR:$SCEN" in
	mptcp*) (mptcp_outage "$SCEN") ;;
	*:admin | *:carrier | *:blackhole) (outage "$SCEN") ;;
	*) ("$SCEN") ;;
	esac
	rc=$?
	if [ "$rc" != 0 ]; then
		sample error "$(head -c 200 "$STATE/last-error" 2>/dev/null | tr '\n\t' '  ')"
		rm -f "$STATE/last-error"
	fi
	sample seconds $(($(date +%s) - t))
	return "$rc"
}

# --- the run ----------------------------------------------------------------------------------

finish() {
	local note=${1:-complete}
	cp "$SAMPLES" "$OUT"
	[ -z "$LOGS" ] || { mkdir -p "$LOGS" && cp "$STATE"/*.log "$LOGS"/ 2>/dev/null; }
	echo
	timeout 60 "$PY" "$TABLE" "$SAMPLES" "$ROUNDS" || return 1
	echo "($note; $(($(date +%s) - T0)) s; samples in $OUT)"
	echo "reproduce: $REPRO"
}

REPRO="BENCH_ROUNDS=$ROUNDS BENCH_CONFIGS='$CONFIGS' BENCH_SCENARIOS='$SCENARIOS' \
BENCH_DOWN_SECONDS=$DOWN_S BENCH_FAILBACK_LIMIT=$FB_LIMIT BENCH_OFF_WINDOW=$OFF_WINDOW BENCH_MPTCP_WINDOW=$MPTCP_WINDOW \
BENCH_RED_PPS=$RED_PPS BENCH_RED_SECONDS=$RED_S BENCH_IDLE_SECONDS=$IDLE_S \
$BENCH_DIR/failover.sh $BRAID $WGGO $LINKEM"

echo "== failover benchmark: $ROUNDS round(s) of $CONFIGS; $SCENARIOS"
echo "machine: $(nproc) CPUs, Linux $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "braid: $BRAID (copied; tree $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "wireguard-go: $WGGO ($("$WGGO" --version 2>/dev/null | head -n 1))"
echo "expected about $((EXPECTED / 60)) min $((EXPECTED % 60)) s; watchdog ${TIMEOUT} s"

FAILED=0
mp_hosts 2
(testbed) || exit 1
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	for ((k = 0; k < NCONF; k++)); do
		CUR=${CONF[$(((ROUND - 1 + k) % NCONF))]}
		SCEN=setup
		echo "== round $ROUND/$ROUNDS: $CUR (load $(cut -d' ' -f1 /proc/loadavg))"
		if ! (config_up "$CUR"); then
			sample error "$(head -c 200 "$STATE/last-error" 2>/dev/null | tr '\n\t' '  ')"
			FAILED=$((FAILED + 1))
			config_down
			continue
		fi
		for s in $SCENARIOS; do
			applies "$CUR" "$s" || continue
			scenario "$s" && continue
			FAILED=$((FAILED + 1))
			# Whatever the failure left behind goes with the daemons.
			config_down
			(config_up "$CUR") || break
		done
		config_down
	done
done
finish || exit 1
# A measurement that could not be made fails the run, after the table.
[ "$FAILED" = 0 ]
