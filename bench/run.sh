#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/run.sh: braid against wireguard-go against the bare link, in network namespaces.
#
#	bench/run.sh BRAID [WIREGUARD_GO]	(root; WIREGUARD_GO defaults to /usr/bin/wireguard-go)
#
#	  host a                                             host b
#	  wg0 192.0.2.1/24 2001:db8:2::1/64                  wg0 192.0.2.2/24 2001:db8:2::2/64
#	  veth0 198.51.100.1/24 ---------------------------- veth0 198.51.100.2/24
#	        2001:db8:1::1/64    UDP 10001 <-> 10002            2001:db8:1::2/64
#
# Three configurations, measured in interleaved rounds (the order rotates each round, so no
# configuration always runs first, or always right after another's teardown):
#	veth          iperf3 and ping straight over veth0: the ceiling, no tunnel
#	wireguard-go  both hosts run WIREGUARD_GO, traffic through wg0 (MTU 1420)
#	braid         both hosts run BRAID, traffic through wg0 (MTU 1420)
#	braid-1t      the same with BRAID_THREADS=0: all crypto on the event loop's thread (not in
#	              the default CONFIGS; add it to see what the crypto workers bring)
#	braid-ref     another braid binary, BENCH_BRAID_REF (not in the default CONFIGS): an older
#	              build, to see what a change did to the single-path data plane in the same run
# The namespaces, the veth pair and the keys are made once and kept for the whole run: they are
# the same for every configuration. Daemons are started fresh for every configuration in every
# round and stopped after it (their wg0 goes with them): rounds are independent samples, and a
# daemon that degrades over time or crashes spoils one sample, not the rest.
#
# Per round and configuration: iperf3 TCP 1 stream and 4 streams, A->B and B->A; the largest UDP
# rate A->B with under 1% loss (a short search); ping RTT idle and during the 1-stream A->B
# transfer; the CPU time (utime+stime) both daemons used during each TCP transfer, per gigabit.
# Prints a table of medians over rounds and writes every sample to BENCH_OUT (JSON).
#
# Environment:
#	BENCH_ROUNDS=3		rounds
#	BENCH_SECONDS=10	duration of each TCP test (3 is a quick run; at least 3)
#	BENCH_UDP_SECONDS	duration of each UDP search step (default 3, 2 when BENCH_SECONDS < 10)
#	BENCH_UDP_STEPS=6	UDP steps: one unthrottled probe, then a binary search
#	BENCH_PING_COUNT=20	pings per RTT measurement (0.1 s apart)
#	BENCH_CONFIGS="braid wireguard-go veth"	which configurations, in round 1's order
#	BENCH_FAMILY=4		4 or 6: the address family of the underlay and of the measured traffic
#	BENCH_BRAID_REF		the braid-ref configuration's binary
#	BENCH_OUT=build/bench/results.json	(raw iperf3 and ping output go to its directory, raw/)
#	BENCH_PROFILE=1		after the rounds, perf record -g both braid daemons during a 1-stream
#				A->B transfer into build/bench/perf.data and print the top symbols
#	BENCH_TIMEOUT		global watchdog in seconds (default: twice the expected run time)
#
# The hosts, daemons and cleanup are the namespace harness of the tests (tests/netns/lib.sh):
# every command that can block is under `timeout`; a watchdog ends the whole run; the EXIT trap
# kills the processes this script started (by recorded PID, then whatever is left inside its own
# namespaces) and deletes the namespaces. Only documentation addresses are used and no route
# leads out of the namespaces.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
. "$REPO/tests/netns/lib.sh"
T=bench
REPORT="$BENCH_DIR/report.py"

[ $# -ge 1 ] && [ $# -le 2 ] || usage
case "$1" in -h | --help) usage ;; esac

BRAID=$(impl_path "$1") || exit 2
WGGO=$(impl_path "${2:-/usr/bin/wireguard-go}") || exit 2
ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECONDS:-10}
if [ "$SECS" -lt 10 ] 2>/dev/null; then U=${BENCH_UDP_SECONDS:-2}; else U=${BENCH_UDP_SECONDS:-3}; fi
UDP_STEPS=${BENCH_UDP_STEPS:-6}
PING_COUNT=${BENCH_PING_COUNT:-20}
CONFIGS=${BENCH_CONFIGS:-braid wireguard-go veth}
FAMILY=${BENCH_FAMILY:-4}
PROFILE=${BENCH_PROFILE:-0}
OUT=${BENCH_OUT:-$REPO/build/bench/results.json}
case "$OUT" in /*) ;; *) OUT="$(pwd)/$OUT" ;; esac
PORT=5201
PAYLOAD=1300		# UDP payload: 1300 + 8 + 40 (IPv6) fits the tunnel MTU of 1420 (WG_MTU)
DAEMON_LOG_LEVEL=error

for v in ROUNDS SECS U UDP_STEPS PING_COUNT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench: $v must be a positive integer" >&2; exit 2; }
done
[ "$SECS" -ge 3 ] || { echo "bench: BENCH_SECONDS must be at least 3" >&2; exit 2; }
case "$FAMILY" in 4 | 6) ;; *) echo "bench: BENCH_FAMILY is 4 or 6" >&2; exit 2 ;; esac
for c in $CONFIGS; do
	case "$c" in braid | braid-1t | wireguard-go | veth) ;;
	braid-ref) [ -x "${BENCH_BRAID_REF:-}" ] ||
		{ echo "bench: braid-ref needs BENCH_BRAID_REF, a braid binary" >&2; exit 2; } ;;
	*) echo "bench: unknown configuration '$c' (braid, braid-1t, braid-ref, wireguard-go," \
		"veth)" >&2
		exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network and mount namespaces)" >&2; exit 2; }
for tool in ip wg iperf3 ping nsenter unshare timeout ss sha256sum getconf; do
	command -v "$tool" >/dev/null || { echo "bench: missing tool: $tool" >&2; exit 2; }
done
if [ "$PROFILE" = 1 ] && ! command -v perf >/dev/null; then
	echo "bench: BENCH_PROFILE=1 needs perf (Debian package linux-perf)" >&2
	exit 2
fi

CLK_TCK=$(getconf CLK_TCK)
set -- $CONFIGS
NCONF=$#
CONF=("$@")

# The expected time of one configuration in one round (measured: 63 s by default), to size the
# watchdog.
per_conf=$((4 * (SECS + 1) + UDP_STEPS * (U + 1) + PING_COUNT / 10 + 4))
EXPECTED=$((per_conf * NCONF * ROUNDS + 10))
[ "$PROFILE" = 1 ] && EXPECTED=$((EXPECTED + SECS + 30))
TIMEOUT=${BENCH_TIMEOUT:-$((EXPECTED * 2 + 120))}
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_TIMEOUT must be a positive integer" >&2; exit 2; }

RAW="$(dirname "$OUT")/raw"
mkdir -p "$RAW" || exit 1
rm -f "$RAW"/*.json "$RAW"/*.txt "$RAW"/*.err
T0=$(date +%s)
SCRIPT_TIMEOUT=$TIMEOUT
harness_init "bench.$$" "bench-$$"
RESULTS="$STATE/results.jsonl"
# Others rebuild build/braid while we run: every round uses this copy, taken once.
mkdir -p "$STATE/bin" && cp "$BRAID" "$STATE/bin/braid" || exit 1
BRAID_RUN="$STATE/bin/braid"
if [ -n "${BENCH_BRAID_REF:-}" ]; then
	mkdir -p "$STATE/ref" && cp "$BENCH_BRAID_REF" "$STATE/ref/braid" || exit 1
fi
: >"$RESULTS"

# --- errors and signals -----------------------------------------------------------------------

# lib.sh's helpers end their shell with fail: here the message is also the round's error.
fail() {
	err "$*"
	exit 1
}

on_stop() {
	err "stopped by SIG$1 after $(($(date +%s) - T0)) s (the watchdog sends TERM after ${TIMEOUT} s)"
	if [ -s "$RESULTS" ] && [ -n "${MODEL+set}" ]; then
		echo "== partial results (stopped in round ${ROUND:-?}, ${CUR:-?}):"
		finish "stopped by SIG$1 in round ${ROUND:-?}" || true
	fi
}

# --- the underlay -----------------------------------------------------------------------------

# link_up: lib.sh's two hosts on veth0, IPv4 and IPv6.
link_up() {
	local h f
	two_hosts_link
	for h in a b; do
		# 4 MB socket buffers for iperf3's UDP test (see udp_search), set inside our namespaces
		# only: the entry shows in a network namespace only where the kernel keeps it per
		# namespace (Linux 6.16 and later); older kernels share the host's value.
		if hx "$h" test -w /proc/sys/net/core/rmem_max; then
			for f in rmem_max wmem_max; do
				[ "$(hx "$h" cat /proc/sys/net/core/$f)" -ge 4194304 ] ||
					echo 4194304 | hx "$h" tee /proc/sys/net/core/$f >/dev/null
			done
		fi
	done
	RMEM_MAX=$(hx a cat /proc/sys/net/core/rmem_max 2>/dev/null)
}

underlay_addr() { # HOST
	local n
	n=$(host_num "$1")
	if [ "$FAMILY" = 6 ]; then echo "2001:db8:1::$n"; else echo "198.51.100.$n"; fi
}

tunnel_addr() { # HOST
	local n
	n=$(host_num "$1")
	if [ "$FAMILY" = 6 ]; then echo "2001:db8:2::$n"; else echo "192.0.2.$n"; fi
}

# --- daemons and configurations ---------------------------------------------------------------

# tunnel_up IMPL: fresh daemons on both hosts (lib.sh's wg_up: key, port 10000+N, wg0 addresses,
# MTU), each peer with the other's endpoint on the underlay of BENCH_FAMILY; the handshake done, so
# that no measurement includes it. DAEMON_ENV (BRAID_THREADS=0 for braid-1t) reaches the daemons.
# Runs in a subshell (config_up): the helpers end it with fail, which records the error.
tunnel_up() {
	wg_up a "$1"
	wg_up b "$1"
	peer_add_default a b "endpoint$FAMILY"
	peer_add_default b a "endpoint$FAMILY"
	ping_ok a "$(tunnel_addr b)"
	ping_ok b "$(tunnel_addr a)"
}

config_up() { # CONFIG
	case "$1" in
	veth) hx a timeout 10 ping -n -q -c 1 -w 5 "$(underlay_addr b)" >/dev/null 2>&1 ||
		{ err "no ping over veth0"; return 1; } ;;
	braid-1t) (DAEMON_ENV=BRAID_THREADS=0 tunnel_up "$BRAID_RUN") ;;
	braid) (tunnel_up "$BRAID_RUN") ;;
	braid-ref) (tunnel_up "$STATE/ref/braid") ;;
	wireguard-go) (tunnel_up "$WGGO") ;;
	esac
}

config_down() {
	daemon_kill a
	daemon_kill b
}

dst_of() { # CONFIG: B's address for the measured traffic
	case "$1" in veth) underlay_addr b ;; *) tunnel_addr b ;; esac
}

# daemon_ticks: utime+stime of both daemons, in clock ticks (all threads, live and exited).
daemon_ticks() {
	local h pid line fields sum=0
	[ "$CUR" = veth ] && { echo 0; return 0; }
	for h in a b; do
		pid=$(daemon_pid "$h")
		read -r line 2>/dev/null <"/proc/$pid/stat" || { err "daemon on $h is gone"; return 1; }
		read -r -a fields <<<"${line##*) }"	# fields[0] is field 3 (state): utime is 14
		[ "${fields[0]}" != Z ] || { err "daemon on $h is gone"; return 1; }
		sum=$((sum + fields[11] + fields[12]))
	done
	echo "$sum"
}

# --- measurements -----------------------------------------------------------------------------

record() { "$PY" "$REPORT" record "$RESULTS" round="$ROUND" config="$CUR" load1="$LOAD1" "$@"; }

# tcp_test NAME [iperf3 options]: one TCP transfer a -> b (or b -> a with -R); the daemons' CPU
# over it. With PING_LOAD=1, ping b from a while it runs (ping_load).
tcp_test() {
	local name=$1 f c0 c1 cpid rc gbps bytes secs icpu retr dcpu dpg ipg extra=""
	shift
	f="$RAW/r$ROUND-$CUR-$name"
	iperf_server "$PORT" $((SECS + 30)) || return 1
	c0=$(daemon_ticks) || return 1
	hx a timeout -k 2 "$((SECS + 20))" iperf3 -c "$DST" -p "$PORT" -t "$SECS" -J \
		--connect-timeout 5000 "$@" >"$f.json" 2>"$f.err" </dev/null &
	cpid=$!
	remember client "$cpid"
	if [ "${PING_LOAD:-0}" = 1 ]; then
		sleep 1
		hx a timeout $((PING_COUNT / 5 + 10)) ping -n -c "$PING_COUNT" -i 0.1 -W 2 "$DST" \
			>"$f.ping.txt" 2>&1 </dev/null
	fi
	wait "$cpid"
	rc=$?
	forget client
	c1=$(daemon_ticks) || return 1
	iperf_server_done
	[ "$rc" = 0 ] || { err "iperf3 $name failed ($rc): $(head -c 300 "$f.json" "$f.err")"; return 1; }
	read -r gbps bytes secs icpu retr < <("$PY" "$REPORT" tcp "$f.json") ||
		{ err "iperf3 $name: unreadable result"; return 1; }
	dcpu=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }')
	# Gigabits of payload the receiver got; CPU seconds per gigabit.
	read -r dpg ipg < <(awk -v b="$bytes" -v d="$dcpu" -v i="$icpu" 'BEGIN {
		g = b * 8 / 1e9; if (g <= 0) g = 1e-9; printf "%.5f %.5f\n", d / g, i / g }')
	if [ "$CUR" = veth ]; then
		record test="$name" gbps="$gbps" bytes="$bytes" seconds="$secs" retransmits="$retr" \
			iperf_cpu_s="$icpu" iperf_cpu_s_per_gbit="$ipg"
		extra="iperf3 CPU $ipg s/Gbit"
	else
		record test="$name" gbps="$gbps" bytes="$bytes" seconds="$secs" retransmits="$retr" \
			iperf_cpu_s="$icpu" iperf_cpu_s_per_gbit="$ipg" daemon_cpu_s="$dcpu" \
			daemon_cpu_s_per_gbit="$dpg"
		extra="daemons $dcpu s CPU = $dpg s/Gbit"
	fi
	printf '    %-8s %7.3f Gbit/s  %6s retransmits  %s\n' "$name" "$gbps" "$retr" "$extra"
	if [ "${PING_LOAD:-0}" = 1 ]; then
		ping_record ping_load "$f.ping.txt" || return 1
	fi
}

ping_record() { # TEST FILE
	local ms n
	read -r ms n < <("$PY" "$REPORT" ping "$2" 2>/dev/null) ||
		{ err "$1: no replies: $(tail -n 2 "$2" | tr '\n' ' ')"; return 1; }
	record test="$1" ms="$ms" received="$n" sent="$PING_COUNT"
	printf '    %-8s %7.3f ms median, %s of %s replies\n' "$1" "$ms" "$n" "$PING_COUNT"
}

ping_idle() {
	local f="$RAW/r$ROUND-$CUR-ping_idle.txt"
	hx a timeout $((PING_COUNT / 5 + 10)) ping -n -c "$PING_COUNT" -i 0.1 -W 2 "$DST" \
		>"$f" 2>&1 </dev/null
	ping_record ping_idle "$f"
}

# udp_step RATE: one UDP test a -> b at RATE bit/s (0: as fast as iperf3 can); prints
# "RECEIVED_BPS LOSS_PERCENT SENT_BPS".
udp_step() {
	local rate=$1 f
	f="$RAW/r$ROUND-$CUR-udp-$rate"
	iperf_server "$PORT" $((U + 30)) || return 1
	hx a timeout -k 2 "$((U + 20))" iperf3 -c "$DST" -p "$PORT" -u -b "$rate" -l "$PAYLOAD" -w 4M \
		-t "$U" -J --connect-timeout 5000 >"$f.json" 2>"$f.err" </dev/null
	local rc=$?
	iperf_server_done
	[ "$rc" = 0 ] ||
		{ err "iperf3 UDP at $rate failed ($rc): $(head -c 300 "$f.json" "$f.err")"; return 1; }
	"$PY" "$REPORT" udp "$f.json"
}

# udp_search: the largest rate with under 1% loss. Step 1 sends unthrottled: if under 1% is lost,
# the sender is the limit and that is the answer. Otherwise what arrived then (R) is the first
# guess and each further step halves the interval [best passing rate, lowest failing rate], which
# starts as [0, R] or, once R passes, [R, 1.5 R]. Reports the most that arrived in a passing step.
# Both iperf3 sockets get 4 MB buffers (-w; net.core.rmem_max is 4 MB on Debian and per network
# namespace), so that the measure is the tunnel, not a 208 KB receive queue that a 2-CPU machine
# overflows whenever iperf3 waits a few milliseconds for a CPU. The daemons' own sockets are left
# as each daemon sets them.
udp_search() {
	local recv loss sent lo=0 hi cand i best=0 best_rate=0 steps="" pass sb=false
	read -r recv loss sent < <(udp_step 0) || return 1
	steps="[0,$recv,$loss]"
	if awk -v l="$loss" 'BEGIN { exit !(l < 1) }'; then
		best=$recv best_rate=0 sb=true
	else
		# What arrives under overload is close to the capacity: search up to 1.5 times that
		# (no more than was sent) once it passes.
		hi=$((recv * 3 / 2))
		[ "$hi" -le "$sent" ] || hi=$sent
		cand=$recv
		for ((i = 2; i <= UDP_STEPS; i++)); do
			read -r recv loss sent < <(udp_step "$cand") || return 1
			steps="$steps,[$cand,$recv,$loss]"
			if awk -v l="$loss" 'BEGIN { exit !(l < 1) }'; then
				lo=$cand
				# A sender short of CPU may deliver less than it was asked to: keep the
				# most that arrived at any passing step.
				[ "$recv" -le "$best" ] || best=$recv best_rate=$cand
			else
				hi=$cand
			fi
			cand=$(((lo + hi) / 2))
		done
	fi
	local gbps
	gbps=$(awk -v b="$best" 'BEGIN { printf "%.6f", b / 1e9 }')
	record test=udp gbps="$gbps" rate_bps="$best_rate" sender_bound="$sb" steps="[$steps]"
	printf '    %-8s %7.3f Gbit/s at under 1%% loss%s  (steps: rate,received,loss%%: %s)\n' \
		udp "$gbps" "$([ "$sb" = true ] && echo ", sender-bound")$([ "$best" = 0 ] &&
		echo " (no step passed: raise BENCH_UDP_STEPS)")" "$steps"
}

measure() { # the tests of one configuration in one round
	PING_LOAD=0
	ping_idle || return 1
	PING_LOAD=1 tcp_test tcp1_ab || return 1
	tcp_test tcp1_ba -R || return 1
	tcp_test tcp4_ab -P 4 || return 1
	tcp_test tcp4_ba -P 4 -R || return 1
	udp_search || return 1
}

# --- profile ----------------------------------------------------------------------------------

profile() {
	local data="$(dirname "$OUT")/perf.data" ev=cpu-clock ppid f="$RAW/profile"
	# Hardware counters are often missing in VMs: cycles only where `perf stat` counts them.
	perf stat -e instructions true 2>&1 | grep -q "not supported" || ev=cycles
	CUR=braid ROUND=profile
	DST=$(dst_of braid)
	echo "== profile: perf record -e $ev -g of both braid daemons, TCP 1 stream A->B, ${SECS} s"
	config_up braid || { config_down; return 1; }
	iperf_server "$PORT" $((SECS + 30)) || { config_down; return 1; }
	hx a timeout -k 2 "$((SECS + 20))" iperf3 -c "$DST" -p "$PORT" -t "$SECS" -J \
		--connect-timeout 5000 >"$f.json" 2>"$f.err" </dev/null &
	local cpid=$!
	remember client "$cpid"
	sleep 0.5
	timeout -k 2 "$((SECS + 10))" perf record -q -e "$ev" -g -o "$data" \
		-p "$(daemon_pid a),$(daemon_pid b)" -- sleep "$((SECS - 1))" >"$f.perf.err" 2>&1 &
	ppid=$!
	remember perf "$ppid"
	wait "$ppid"
	forget perf
	wait "$cpid"
	forget client
	iperf_server_done
	config_down
	"$PY" "$REPORT" tcp "$f.json" | awk '{ printf "  %.3f Gbit/s while recording\n", $1 }'
	echo "  $data; top entries (perf report --stdio --no-children --sort comm,dso,sym):"
	timeout 60 perf report -i "$data" --stdio --no-children --sort comm,dso,sym \
		--percent-limit 1 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 40 |
		sed 's/^/    /'
	echo "  call graphs: perf report -i $data -g  (build with CFLAGS='-O2 -g -fno-omit-frame-pointer'"
	echo "  for complete stacks)"
}

# finish [NOTE]: the metadata, the table of medians and BENCH_OUT.
finish() {
	local configs_json
	ELAPSED=$(($(date +%s) - T0))
	configs_json=$(printf '"%s",' $CONFIGS)
	rm -f "$STATE/meta.json"
	"$PY" "$REPORT" record "$STATE/meta.json" rounds="$ROUNDS" rounds_done="$ROUNDS_DONE" \
		seconds="$SECS" udp_seconds="$U" udp_steps="$UDP_STEPS" ping_count="$PING_COUNT" \
		family="$FAMILY" udp_payload="$PAYLOAD" tunnel_mtu="$WG_MTU" rmem_max="${RMEM_MAX:-}" \
		configs="[${configs_json%,}]" braid="$BRAID" wireguard_go="$WGGO" \
		braid_sha256="$(sha256sum <"$BRAID_RUN" | cut -d' ' -f1)" \
		git_head="$(git -C "$REPO" rev-parse HEAD 2>/dev/null)" \
		wireguard_go_version="$("$WGGO" --version 2>/dev/null | head -n 1)" \
		iperf3_version="$(iperf3 --version | head -n 1)" \
		nproc="$(nproc)" cpu_model="$MODEL" kernel="$(uname -r)" \
		date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" elapsed_s="$ELAPSED" reproduce="$REPRO" \
		note="${1:-complete}" || return 1
	timeout 60 "$PY" "$REPORT" summary "$RESULTS" "$STATE/meta.json" "$OUT" || return 1
	echo "machine: $(nproc) CPUs, $MODEL, Linux $(uname -r)"
	echo "reproduce: $REPRO"
}

# --- the run ----------------------------------------------------------------------------------

machine() {
	local model
	model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	echo "machine: $(nproc) CPUs, ${model:-unknown CPU}, Linux $(uname -r)," \
		"load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "braid: $BRAID (copied; sha256 $(sha256sum <"$BRAID_RUN" | cut -c1-16)," \
		"tree $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))"
	echo "wireguard-go: $WGGO ($("$WGGO" --version 2>/dev/null | head -n 1))"
	echo "iperf3: $(iperf3 --version | head -n 1)"
	MODEL=$model
}

REPRO="BENCH_ROUNDS=$ROUNDS BENCH_SECONDS=$SECS BENCH_UDP_SECONDS=$U BENCH_UDP_STEPS=$UDP_STEPS \
BENCH_PING_COUNT=$PING_COUNT BENCH_CONFIGS='$CONFIGS' BENCH_FAMILY=$FAMILY \
$([ "$PROFILE" = 1 ] && echo 'BENCH_PROFILE=1 ')$BENCH_DIR/run.sh $BRAID $WGGO"

echo "== braid benchmark: $ROUNDS round(s) of: $CONFIGS (IPv$FAMILY, TCP ${SECS} s, UDP ${U} s x $UDP_STEPS)"
machine
echo "reproduce: $REPRO"
echo "expected about $((EXPECTED / 60)) min $((EXPECTED % 60)) s; watchdog ${TIMEOUT} s"

ROUNDS_DONE=0 FAILED=0
host_add a
host_add b
link_up

for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	for ((k = 0; k < NCONF; k++)); do
		CUR=${CONF[$(((ROUND - 1 + k) % NCONF))]}
		DST=$(dst_of "$CUR")
		sleep 1	# let the previous teardown settle
		LOAD1=$(cut -d' ' -f1 /proc/loadavg)
		echo "== round $ROUND/$ROUNDS: $CUR  (load $LOAD1, $(($(date +%s) - T0)) s)"
		if ! config_up "$CUR" || ! measure; then
			record test=error \
				message="$(head -c 200 "$STATE/last-error" 2>/dev/null | tr '\n' ' ')"
			rm -f "$STATE/last-error"
			err "round $ROUND $CUR failed; its samples are incomplete"
			FAILED=$((FAILED + 1))
		fi
		config_down
	done
	ROUNDS_DONE=$ROUND
done

if [ "$PROFILE" = 1 ]; then
	profile || err "profile failed"
fi

finish || exit 1
[ "$PROFILE" = 1 ] && [ -e "$(dirname "$OUT")/perf.data" ] && echo "profile: $(dirname "$OUT")/perf.data"
echo "== done in $((ELAPSED / 60)) min $((ELAPSED % 60)) s"
# A configuration that failed in some round makes the run fail, after the table.
[ "$FAILED" = 0 ]
