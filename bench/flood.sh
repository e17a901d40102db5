#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/flood.sh: a WireGuard responder under a handshake flood, braid and wireguard-go side by
# side.
#
#	bench/flood.sh BRAID [WIREGUARD_GO] [FLOOD]	(root; not part of `make check`)
#
# WIREGUARD_GO defaults to /usr/bin/wireguard-go, FLOOD to build/tools/flood. The topology is the
# one of tests/netns/flood.sh (flood_topology in tests/netns/lib.sh, whose hosts, daemons and
# cleanup this script uses): hosts a, c and the attacker x hang off a bridge in the victim b.
#
#	  a 198.51.100.1 (wg0 192.0.2.1)   c 198.51.100.3 (wg0 192.0.2.3)   x 198.51.100.9 (flood)
#	        +------------------------ br0 in b 198.51.100.2, wg0 192.0.2.2 ------+
#	  b routes the spoofed sources (203.0.113.0/24, 2001:db8:100::/40) to x, which drops and counts
#
# For each implementation in turn a, b and c all run it (a network of braid, then one of
# wireguard-go); a has an established session with b; c is b's peer. Then, row by row, x floods b
# with valid-mac1 initiations (tests/tools/flood) for BENCH_FLOOD_SECONDS, while:
#	c makes a fresh handshake with b (peer removed and added, then a ping), 1.5 s into the flood
#	a pings b through the established session every 50 ms
# and the row records, per second of flood:
#	sent      what the flood tool sent;  at b: what reached b's IP layer (nft in b)
#	cookies   cookie replies b sent to the spoofed sources (nft in x, by message type)
#	sockdrop  datagrams the kernel dropped for b's full UDP socket (/proc/net/snmp RcvbufErrors)
#	other     at b - cookies - sockdrop: initiations b took into its handshake path (one X25519
#	          each on braid) or dropped inside the daemon (wireguard-go drops when its handshake
#	          queue is full); braid's drop counters are not in the UAPI yet
# and over the row: b's CPU (utime+stime, % of one core), user CPU per packet at b, RSS at the end,
# c's handshake time (">N" when none within the row), and the loss of a's pings.
#
# Rows (BENCH_FLOOD_RATES, 0 = as fast as the tool goes): IPv6 from BENCH_FLOOD_SOURCES (4000)
# fixed /64s, so that no source passes 20/s at any rate and only the device-wide load shows, then
# IPv4 from 256 addresses at 20000/s, one IPv4 source at 3000/s, and IPv6 from 10000 /64s at
# 15000/s (more sources than braid's rate-limiter table holds).
#
# Environment: BENCH_FLOOD_SECONDS=14, BENCH_FLOOD_RATES="1000 2000 5000 10000 20000 40000 0",
# BENCH_FLOOD_SOURCES=4000, BENCH_FLOOD_IMPLS="braid wireguard-go",
# BENCH_FLOOD_OUT=FILE (also write the rows as tab-separated values).

set -u
SECONDS_PER_ROW=${BENCH_FLOOD_SECONDS:-14}
RATES=${BENCH_FLOOD_RATES-1000 2000 5000 10000 20000 40000 0}
SOURCES=${BENCH_FLOOD_SOURCES:-4000}
IMPLS=${BENCH_FLOOD_IMPLS:-braid wireguard-go}
OUT=${BENCH_FLOOD_OUT:-}

usage() {
	awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0" >&2
	exit 2
}

[ $# -ge 1 ] && [ $# -le 3 ] || usage
case "$1" in -h | --help) usage ;; esac
for v in SECONDS_PER_ROW SOURCES; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench: $v must be a positive integer" >&2; exit 2; }
done
[ "$SECONDS_PER_ROW" -ge 6 ] && [ "$SECONDS_PER_ROW" -le 60 ] ||
	{ echo "bench: BENCH_FLOOD_SECONDS must be 6 to 60" >&2; exit 2; }
for r in $RATES; do
	[[ $r =~ ^[0-9]+$ ]] || { echo "bench: BENCH_FLOOD_RATES: '$r' is not a rate" >&2; exit 2; }
done
NROWS=$(($(echo $RATES | wc -w) + 3))
NIMPL=$(echo $IMPLS | wc -w)
# The watchdog of lib.sh: every row, plus restarts, twice over.
export SCRIPT_TIMEOUT=$(((NROWS * (SECONDS_PER_ROW + 6) + 30) * NIMPL * 2 + 60))

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FLOOD_ARG=${3:-$BENCH_DIR/../build/tools/flood}
. "$BENCH_DIR/../tests/netns/lib.sh"
T=bench
BRAID=$(impl_path "$1") || exit 2
WGGO=$(impl_path "${2:-/usr/bin/wireguard-go}") || exit 2
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network and mount namespaces)" >&2; exit 2; }
for tool in ip wg nsenter unshare timeout ping nft getconf; do
	command -v "$tool" >/dev/null || { echo "bench: missing tool: $tool" >&2; exit 2; }
done
if [ ! -x "$FLOOD_ARG" ]; then
	echo "bench: no flood tool at $FLOOD_ARG (make build/tools/flood)" >&2
	exit 2
fi
harness_init "bench-flood.$$" "bf-$$"
echo "flood: A=$BRAID B=$WGGO (state $STATE)"
# Others rebuild the tree while this runs: use copies taken now.
mkdir -p "$STATE/bin"
cp "$BRAID" "$STATE/bin/braid" && cp "$FLOOD_ARG" "$STATE/bin/flood" || exit 1
BRAID_RUN="$STATE/bin/braid" WGGO_RUN=$WGGO FLOOD="$STATE/bin/flood"
HZ=$(getconf CLK_TCK)

host_add a
host_add b
host_add c
host_add x

# Failures end the bench (lib.sh's EXIT trap cleans up).
fail() {
	echo "bench: $*" >&2
	exit 1
}

on_stop() { echo "bench: stopped by SIG$1 (the watchdog sends TERM after ${SCRIPT_TIMEOUT}s)" >&2; }

topology() {
	flood_topology
	counter_add x cookies ip daddr 203.0.113.0/24 udp sport 10002 @th,64,32 0x03000000
	counter_add x cookies6 ip6 daddr 2001:db8:100::/40 udp sport 10002 @th,64,32 0x03000000
	counter_add b flood-in ip saddr 203.0.113.0/24 udp dport 10002
	counter_add b flood6-in ip6 saddr 2001:db8:100::/40 udp dport 10002
}

network_up() { # IMPL on a, b and c; a-b session up
	local impl=$1 h
	for h in a b c; do
		flood_wg_up "$h" "$impl" error
	done
	peer_set a b allowed-ips 192.0.2.2/32 endpoint 198.51.100.2:10002
	peer_set b a allowed-ips 192.0.2.1/32 endpoint 198.51.100.1:10001
	peer_set b c allowed-ips 192.0.2.3/32
	ping_ok a 192.0.2.2
}

network_down() {
	local h
	for h in a b c; do
		daemon_stop "$h"
	done
}

# datagrams HOST NAME HEADER_LEN: datagrams of 64-byte payload a counter saw, GSO runs included.
datagrams() { counter_datagrams "$1" "$2" "$3" 64; }

# While a row runs (BENCH_FLOOD_DEBUG=1): the victim's sockets, where it sleeps, the kernel's drops.
debug_victim() {
	echo "--- debug: $(date +%T.%N) b's UDP sockets, wchan $(cat "/proc/$1/wchan"):"
	hx b ss -uamn sport = :10002 | sed 's/^/    /'
	hx b cat /proc/net/softnet_stat |
		awk '{ print "    softnet cpu" NR - 1 ": processed 0x" $1 " dropped 0x" $2 }'
	hx b ip -s link show br0 | sed 's/^/    /'
	echo "    a's wg0 so far (rx, tx): $(hx a ip -s link show wg0 | awk 'NR == 4 || NR == 6' |
		tr -s ' ' | tr '\n' ' ')"
}

# row IMPL LABEL FAMILY PREFIX RATE [flood options...]: one flood and its measurements, appended
# to $STATE/rows.
row() {
	local impl=$1 label=$2 fam=$3 prefix=$4 rate=$5
	shift 5
	local pid dst ctr cname hdr n fpid ppid hs out sent t0 t1 secs
	local in0 in1 ck0 ck1 rb0 rb1 u0 u1 c0 c1 rss got
	pid=$(daemon_pid b)
	if [ "$fam" = 6 ]; then
		dst="[2001:db8:1::2]:10002" ctr=flood6-in cname=cookies6 hdr=48
	else
		dst=198.51.100.2:10002 ctr=flood-in cname=cookies hdr=28
	fi
	n=$((rate > 0 ? rate * SECONDS_PER_ROW : 100000000))
	sleep 2	# the previous row's load (sticky for 1 s) and queues drain
	in0=$(counter_get b "$ctr") ck0=$(datagrams x "$cname" "$hdr") rb0=$(rcvbuf_errors b)
	u0=$(user_ticks "$pid") c0=$(cpu_ticks "$pid")
	t0=$(date +%s%N)
	hx x timeout $((SECONDS_PER_ROW + 10)) "$FLOOD" -k "$(pub b)" -t "$dst" -s "$prefix" \
		-r "$rate" -d "$SECONDS_PER_ROW" -n "$n" "$@" >"$STATE/flood.out" 2>&1 &
	fpid=$!
	hx a timeout $((SECONDS_PER_ROW + 5)) ping -n -q -i 0.05 -W 1 -c $(((SECONDS_PER_ROW - 1) * 20)) \
		192.0.2.2 >"$STATE/ping.out" 2>&1 &
	ppid=$!
	sleep 1.5
	hs=$(fresh_handshake $((SECONDS_PER_ROW - 2)))
	[ "$hs" != none ] || hs=">$((SECONDS_PER_ROW - 2))"
	[ -z "${BENCH_FLOOD_DEBUG:-}" ] || debug_victim "$pid"
	wait "$fpid" || fail "flood: $(cat "$STATE/flood.out")"
	t1=$(date +%s%N)
	u1=$(user_ticks "$pid") c1=$(cpu_ticks "$pid") rss=$(rss_kb "$pid")
	wait "$ppid"
	sleep 0.5
	in1=$(counter_get b "$ctr") ck1=$(datagrams x "$cname" "$hdr") rb1=$(rcvbuf_errors b)
	out=$(cat "$STATE/flood.out")
	sent=$(echo "$out" | sed -n 's/.*sent=\([0-9]*\).*/\1/p')
	secs=$(echo "$out" | sed -n 's/.* seconds=\([0-9.]*\).*/\1/p')
	got=$(grep -o '[0-9]* received' "$STATE/ping.out" | cut -d' ' -f1)
	proc_running "$pid" || fail "$impl died during the flood ($label)"
	# impl label offered sent/s at-b/s cookies/s sockdrop/s other/s cpu% us/pkt rss hs loss%
	awk -v impl="$impl" -v label="$label" -v rate="$rate" -v sent="$sent" -v secs="$secs" \
		-v at=$((in1 - in0)) -v ck=$((ck1 - ck0)) -v rb=$((rb1 - rb0)) \
		-v u=$((u1 - u0)) -v c=$((c1 - c0)) -v hz="$HZ" -v wall=$((t1 - t0)) -v rss="$rss" \
		-v hs="$hs" -v got="${got:-0}" -v pings=$(((SECONDS_PER_ROW - 1) * 20)) 'BEGIN {
		other = at - ck - rb; if (other < 0) other = 0
		printf "%s\t%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.1f\t%.1f\t%s\t%.1f\n",
			impl, label, rate ? rate : "max", sent / secs, at / secs, ck / secs, rb / secs,
			other / secs, c / hz / (wall / 1e9) * 100, at ? u / hz * 1e6 / at : 0,
			rss / 1024, hs, 100 * (pings - got) / pings }' >>"$STATE/rows"
	tail -n 1 "$STATE/rows" | awk -F'\t' '{
		printf "bench: %s %s @%s: sent %s/s, cookies %s/s, other %s/s, legit handshake %s s\n",
			$1, $2, $3, $4, $6, $8, $12 }'
}

print_table() {
	printf '\n%-12s %-16s %8s %8s %8s %8s %8s %8s %6s %7s %7s %8s %6s\n' victim flood offered \
		sent/s "at b/s" cookie/s sockdrp/s other/s "cpu%" "us/pkt" "RSS MiB" "legit hs" "loss%"
	awk -F'\t' '{ printf "%-12s %-16s %8s %8s %8s %8s %8s %8s %6s %7s %7s %8s %6s\n",
		$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 }' "$STATE/rows"
	echo
	echo "other = at b - cookies - sockdrop: initiations taken into the handshake path (braid: one"
	echo "X25519 each) or dropped inside the daemon. us/pkt = the victim's user CPU per packet at b."
	echo "legit hs = c's fresh handshake during the flood (>N: none within N s); loss = a's pings"
	echo "through the established session. a, b and c run the victim's implementation."
}

# The whole run is one function, read before it starts: the file may change while it runs.
main() {
	local impl bin r
	: >"$STATE/rows"
	topology
	for impl in $IMPLS; do
		case "$impl" in
		braid) bin=$BRAID_RUN ;;
		wireguard-go) bin=$WGGO_RUN ;;
		*) fail "BENCH_FLOOD_IMPLS: unknown '$impl' (braid, wireguard-go)" ;;
		esac
		network_up "$bin"
		for r in $RATES; do
			row "$impl" "v6 ${SOURCES}src" 6 2001:db8:100::/40 "$r" -S "$SOURCES"
		done
		row "$impl" "v4 256src" 4 203.0.113.0/24 20000
		row "$impl" "v4 1src" 4 203.0.113.7/32 3000 -p 40000
		row "$impl" "v6 10000src" 6 2001:db8:100::/40 15000 -S 10000
		network_down
	done
	print_table
	[ -z "$OUT" ] || cp "$STATE/rows" "$OUT"
}

main; exit
