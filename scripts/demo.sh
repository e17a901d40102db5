#!/bin/bash
# SPDX-License-Identifier: MIT
# demo.sh [IMPL]: braid's showcase (`make demo`, as root). Two hosts, alice and bob, each a network
# namespace joined by a veth pair; IMPL (default build/braid; any binary with wireguard-go's
# command line works) runs on each, configured with `wg`; then a handshake, pings over IPv4 and
# IPv6, iperf3 both ways and `wg show`. Everything it creates is removed when it ends.
#
#	  alice                                               bob
#	  wg0 192.0.2.1/24  2001:db8:2::1/64                  wg0 192.0.2.2/24  2001:db8:2::2/64
#	  veth0 198.51.100.1/24 ----------------------------- veth0 198.51.100.2/24
#	        2001:db8:1::1/64      UDP 51820 <-> 51821           2001:db8:1::2/64
#
# Each host also has a private mount namespace with a tmpfs on /var/run/wireguard, so the two
# daemons' wg0.sock never collide (and nothing of the machine's own /var/run/wireguard is touched).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/tests/netns/lib.sh"	# hosts, daemons and the cleanup of the namespace tests
T=demo

IMPL=${1:-build/braid}
IPERF_SECONDS=${IPERF_SECONDS:-3}

if [ -t 1 ]; then
	B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'
else
	B="" G="" R="" D="" N=""
fi

section() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
run() { printf '%s[%s] %s%s\n' "$D" "$1" "${*:2}" "$N"; }	# show a command as it is run
die() {
	printf '\n%sdemo failed: %s%s\n' "$R" "$*" "$N" >&2
	local h
	for h in alice bob; do
		[ -s "$STATE/$h.log" ] || continue
		echo "--- last lines of $h's daemon log:" >&2
		tail -n 25 "$STATE/$h.log" | cut -c 1-200 >&2
	done
	exit 1
}
fail() { die "$*"; }	# what lib.sh's helpers call when they cannot go on

path=$(impl_path "$IMPL" 2>/dev/null) ||
	{ echo "demo: '$IMPL' is not an executable (build it with make)" >&2; exit 1; }
IMPL=$path
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it makes network namespaces)" >&2; exit 1; }
for tool in ip wg nsenter unshare timeout ping iperf3; do
	command -v "$tool" >/dev/null || { echo "demo: missing $tool (make deps)" >&2; exit 1; }
done

# lib.sh's EXIT trap ends the daemons, then what is left in the namespaces, then deletes them.
on_stop() { die "interrupted, or over the $SCRIPT_TIMEOUT s time limit"; }
after_cleanup() {
	[ "$1" = 0 ] && printf '\nRemoved both namespaces, the daemons and their files.\n'
}
SCRIPT_TIMEOUT=180
harness_init demo "braid-demo-$$"

printf '%sbraid demo%s: a WireGuard tunnel between two network namespaces\n' "$B" "$N"
printf 'implementation: %s\n' "$IMPL"

section "1. Two hosts joined by a virtual cable"
host_add alice	# also makes the host's key pair (shown in step 3)
host_add bob
link_add alice veth0 bob veth0
n=1
for h in alice bob; do
	addr_add "$h" veth0 "198.51.100.$n/24"
	addr_add "$h" veth0 "2001:db8:1::$n/64"
	printf '  %-6s veth0 198.51.100.%s/24, 2001:db8:1::%s/64  (namespace %s)\n' "$h" "$n" "$n" \
		"$(ns_of "$h")"
	n=$((n + 1))
done

section "2. Start $(basename "$IMPL") on each host"
for h in alice bob; do
	run "$h" "WG_PROCESS_FOREGROUND=1 LOG_LEVEL=verbose $(basename "$IMPL") wg0 &"
	daemon_launch "$h" wg0 "$IMPL"
done
for h in alice bob; do
	daemon_wait "$h" wg0
	printf '  %-6s daemon pid %s, UAPI socket /var/run/wireguard/wg0.sock ready\n' "$h" \
		"$(daemon_pid "$h")"
done

section "3. Keys"
for h in alice bob; do
	printf '  %-6s public key %s\n' "$h" "$(pub "$h")"
done

section "4. Configure with wg set and ip"
conf() { # HOST N PORT PEER PEER_N PEER_PORT
	local h=$1 n=$2 port=$3 p=$4 pn=$5 pport=$6
	run "$h" "wg set wg0 private-key $h.key listen-port $port peer ${p}'s-key" \
		"allowed-ips 192.0.2.$pn/32,2001:db8:2::$pn/128 endpoint 198.51.100.$pn:$pport"
	hx "$h" timeout 10 wg set wg0 private-key "$STATE/$h.key" listen-port "$port" \
		peer "$(cat "$STATE/$p.pub")" allowed-ips "192.0.2.$pn/32,2001:db8:2::$pn/128" \
		endpoint "198.51.100.$pn:$pport" || die "wg set on $h failed"
	run "$h" "ip addr add 192.0.2.$n/24 dev wg0; ip addr add 2001:db8:2::$n/64 dev wg0;" \
		"ip link set wg0 up"
	hx "$h" ip addr add "192.0.2.$n/24" dev wg0 &&
		hx "$h" ip -6 addr add "2001:db8:2::$n/64" dev wg0 nodad &&
		hx "$h" ip link set wg0 mtu 1420 up || die "ip on $h failed"
}
conf alice 1 51820 bob 2 51821
conf bob 2 51821 alice 1 51820

section "5. Handshake"
run alice "ping -c 1 192.0.2.2   (the first packet makes alice start the handshake)"
hx alice timeout 15 ping -n -q -c 1 -w 10 192.0.2.2 >/dev/null 2>&1 || die "no reply through the tunnel"
now=$(date +%s)
for h in alice bob; do
	hs=$(hx "$h" timeout 10 wg show wg0 latest-handshakes | cut -f 2)
	[ -n "$hs" ] && [ "$hs" != 0 ] || die "$h shows no handshake"
	printf '  %-6s latest handshake: %s (%s s ago)\n' "$h" "$(date -d "@$hs" +%T)" "$((now - hs))"
done
HANDSHAKE="${G}done${N}"

section "6. Ping through the tunnel"
pingstat() { # HOST DST: prints "loss avg-rtt"
	local out
	out=$(hx "$1" timeout 15 ping -n -q -c 5 -i 0.2 -W 2 "$2" 2>&1) || die "ping $2 from $1: $out"
	echo "$out" | sed -n 's/.* \([0-9.]*%\) packet loss.*/\1/p' | tr '\n' ' '
	echo "$out" | sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1 ms|p'
}
PING4=$(pingstat alice 192.0.2.2)
printf '  alice -> bob   192.0.2.2       5 pings, loss/avg rtt: %s\n' "$PING4"
PING6=$(pingstat alice 2001:db8:2::2)
printf '  alice -> bob   2001:db8:2::2   5 pings, loss/avg rtt: %s\n' "$PING6"
PINGB=$(pingstat bob 192.0.2.1)
printf '  bob -> alice   192.0.2.1       5 pings, loss/avg rtt: %s\n' "$PINGB"

section "7. Throughput: iperf3, ${IPERF_SECONDS} s each way"
hx bob timeout $((IPERF_SECONDS * 2 + 30)) iperf3 -s -B 192.0.2.2 -p 5201 >/dev/null 2>&1 &
IPERF_SERVER=$!
sleep 0.5
iperf() { # extra iperf3 flags; prints the receiver's rate in Gbit/s
	local out
	out=$(hx alice timeout $((IPERF_SECONDS + 20)) iperf3 -c 192.0.2.2 -p 5201 -t "$IPERF_SECONDS" \
		-f m "$@" 2>&1) || die "iperf3 $*: $(echo "$out" | tail -n 3)"
	echo "$out" | awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec")
		printf "%.2f Gbit/s", $(i - 1) / 1000 }'
}
run alice "iperf3 -c 192.0.2.2 -t $IPERF_SECONDS"
TPUT_AB=$(iperf)
printf '  alice -> bob   %s\n' "$TPUT_AB"
run alice "iperf3 -c 192.0.2.2 -t $IPERF_SECONDS -R"
TPUT_BA=$(iperf -R)
printf '  bob -> alice   %s\n' "$TPUT_BA"
kill "$IPERF_SERVER" 2>/dev/null
wait "$IPERF_SERVER" 2>/dev/null

section "8. wg show (alice)"
hx alice timeout 10 wg show wg0 | sed 's/^/  /'

section "Summary"
printf '  %-28s %s\n' "implementation" "$(basename "$IMPL") (both hosts)"
printf '  %-28s %s\n' "handshake" "$HANDSHAKE"
printf '  %-28s %s\n' "ping IPv4 alice -> bob" "$PING4"
printf '  %-28s %s\n' "ping IPv6 alice -> bob" "$PING6"
printf '  %-28s %s\n' "ping IPv4 bob -> alice" "$PINGB"
printf '  %-28s %s\n' "TCP alice -> bob (iperf3)" "$TPUT_AB"
printf '  %-28s %s\n' "TCP bob -> alice (iperf3)" "$TPUT_BA"
printf '  %s(one run of %s s on this machine: a demonstration, not a benchmark)%s\n' "$D" \
	"$IPERF_SECONDS" "$N"
