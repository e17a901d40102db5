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

set -u
export LC_ALL=C
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

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

case "$IMPL" in */*) ;; *) IMPL=$(command -v "$IMPL" || echo "$IMPL") ;; esac
[ -x "$IMPL" ] || { echo "demo: '$IMPL' is not an executable (build it with make)" >&2; exit 1; }
IMPL=$(cd "$(dirname "$IMPL")" && echo "$(pwd)/$(basename "$IMPL")")
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it makes network namespaces)" >&2; exit 1; }
for tool in ip wg nsenter unshare timeout ping iperf3; do
	command -v "$tool" >/dev/null || { echo "demo: missing $tool (make deps)" >&2; exit 1; }
done

STATE=$(mktemp -d /tmp/braid-demo.XXXXXX)
NS_PREFIX="braid-demo-$$"
declare -A HOLDER DAEMON

cleanup() {
	local rc=$? h pid
	trap - EXIT INT TERM
	[ -n "${WATCHDOG:-}" ] && kill -- "-$WATCHDOG" 2>/dev/null
	for h in alice bob; do
		for pid in ${DAEMON[$h]:-}; do kill "$pid" 2>/dev/null; done
	done
	for i in $(seq 30); do	# the daemons remove their sockets and interfaces
		alive=""
		for h in alice bob; do
			for pid in ${DAEMON[$h]:-}; do kill -0 "$pid" 2>/dev/null && alive=1; done
		done
		[ -z "$alive" ] && break
		sleep 0.1
	done
	for h in alice bob; do
		for pid in $(ip netns pids "$NS_PREFIX-$h" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
		ip netns del "$NS_PREFIX-$h" 2>/dev/null
	done
	rm -rf "$STATE"
	[ "$rc" = 0 ] && printf '\nRemoved both namespaces, the daemons and their files.\n'
	exit "$rc"
}
trap cleanup EXIT
trap 'die "interrupted, or over the 180 s time limit"' INT TERM
set -m	# the watchdog gets a process group of its own, so that it can be ended whole
( sleep 180; kill -TERM $$ ) >/dev/null 2>&1 </dev/null &
WATCHDOG=$!
set +m
disown "$WATCHDOG"

# on HOST CMD...: run in HOST's network and mount namespaces.
on() {
	local h=$1
	shift
	nsenter -t "${HOLDER[$h]}" -m -n -- "$@"
}

printf '%sbraid demo%s: a WireGuard tunnel between two network namespaces\n' "$B" "$N"
printf 'implementation: %s\n' "$IMPL"

section "1. Two hosts joined by a virtual cable"
for h in alice bob; do
	ip netns add "$NS_PREFIX-$h" || die "ip netns add"
	mkdir -p /run/wireguard
	ip netns exec "$NS_PREFIX-$h" unshare -m --propagation private sh -c '
		mount -t tmpfs -o mode=0755,size=1m braid-demo /run/wireguard || exit 1
		: >"$1"; exec sleep 300' holder "$STATE/$h.ready" >/dev/null 2>&1 </dev/null &
	HOLDER[$h]=$!
	disown "$!"
	for i in $(seq 50); do [ -e "$STATE/$h.ready" ] && break; sleep 0.1; done
	[ -e "$STATE/$h.ready" ] || die "could not make $h's mount namespace"
	on "$h" ip link set lo up
done
ip link add name veth0 netns "$NS_PREFIX-alice" type veth peer name veth0 netns "$NS_PREFIX-bob" ||
	die "could not make the veth pair"
n=1
for h in alice bob; do
	on "$h" ip addr add "198.51.100.$n/24" dev veth0
	on "$h" ip -6 addr add "2001:db8:1::$n/64" dev veth0 nodad
	on "$h" ip link set veth0 up
	printf '  %-6s veth0 198.51.100.%s/24, 2001:db8:1::%s/64  (namespace %s)\n' "$h" "$n" "$n" \
		"$NS_PREFIX-$h"
	n=$((n + 1))
done

section "2. Start $(basename "$IMPL") on each host"
for h in alice bob; do
	run "$h" "WG_PROCESS_FOREGROUND=1 LOG_LEVEL=verbose $(basename "$IMPL") wg0 &"
	WG_PROCESS_FOREGROUND=1 LOG_LEVEL=verbose \
		nsenter -t "${HOLDER[$h]}" -m -n -- "$IMPL" wg0 >"$STATE/$h.log" 2>&1 </dev/null &
	DAEMON[$h]=$!
	disown "$!"
done
for h in alice bob; do
	for i in $(seq 50); do on "$h" test -S /var/run/wireguard/wg0.sock && break; sleep 0.1; done
	on "$h" timeout 3 wg show wg0 >/dev/null 2>&1 || die "$h's daemon did not open its UAPI socket"
	printf '  %-6s daemon pid %s, UAPI socket /var/run/wireguard/wg0.sock ready\n' "$h" "${DAEMON[$h]}"
done

section "3. Keys"
for h in alice bob; do
	(umask 077 && wg genkey >"$STATE/$h.key")
	wg pubkey <"$STATE/$h.key" >"$STATE/$h.pub"
	printf '  %-6s public key %s\n' "$h" "$(cat "$STATE/$h.pub")"
done

section "4. Configure with wg set and ip"
conf() { # HOST N PORT PEER PEER_N PEER_PORT
	local h=$1 n=$2 port=$3 p=$4 pn=$5 pport=$6
	run "$h" "wg set wg0 private-key $h.key listen-port $port peer ${p}'s-key" \
		"allowed-ips 192.0.2.$pn/32,2001:db8:2::$pn/128 endpoint 198.51.100.$pn:$pport"
	on "$h" timeout 10 wg set wg0 private-key "$STATE/$h.key" listen-port "$port" \
		peer "$(cat "$STATE/$p.pub")" allowed-ips "192.0.2.$pn/32,2001:db8:2::$pn/128" \
		endpoint "198.51.100.$pn:$pport" || die "wg set on $h failed"
	run "$h" "ip addr add 192.0.2.$n/24 dev wg0; ip addr add 2001:db8:2::$n/64 dev wg0;" \
		"ip link set wg0 up"
	on "$h" ip addr add "192.0.2.$n/24" dev wg0 &&
		on "$h" ip -6 addr add "2001:db8:2::$n/64" dev wg0 nodad &&
		on "$h" ip link set wg0 mtu 1420 up || die "ip on $h failed"
}
conf alice 1 51820 bob 2 51821
conf bob 2 51821 alice 1 51820

section "5. Handshake"
run alice "ping -c 1 192.0.2.2   (the first packet makes alice start the handshake)"
on alice timeout 15 ping -n -q -c 1 -w 10 192.0.2.2 >/dev/null 2>&1 || die "no reply through the tunnel"
now=$(date +%s)
for h in alice bob; do
	hs=$(on "$h" timeout 10 wg show wg0 latest-handshakes | cut -f 2)
	[ -n "$hs" ] && [ "$hs" != 0 ] || die "$h shows no handshake"
	printf '  %-6s latest handshake: %s (%s s ago)\n' "$h" "$(date -d "@$hs" +%T)" "$((now - hs))"
done
HANDSHAKE="${G}done${N}"

section "6. Ping through the tunnel"
pingstat() { # HOST DST: prints "loss avg-rtt"
	local out
	out=$(on "$1" timeout 15 ping -n -q -c 5 -i 0.2 -W 2 "$2" 2>&1) || die "ping $2 from $1: $out"
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
on bob timeout $((IPERF_SECONDS * 2 + 30)) iperf3 -s -B 192.0.2.2 -p 5201 >/dev/null 2>&1 &
IPERF_SERVER=$!
sleep 0.5
iperf() { # extra iperf3 flags; prints the receiver's rate in Gbit/s
	local out
	out=$(on alice timeout $((IPERF_SECONDS + 20)) iperf3 -c 192.0.2.2 -p 5201 -t "$IPERF_SECONDS" \
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
on alice timeout 10 wg show wg0 | sed 's/^/  /'

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
