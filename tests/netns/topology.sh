#!/bin/bash
# SPDX-License-Identifier: MIT
# topology.sh [IMPL_A IMPL_B]: a self-test of lib.sh's multipath topology (mp_*), before any test
# builds on it. No WireGuard: the implementations, when given (run-all.sh gives them), only label
# the lines. A client a with uplinks A and B, a router r, a server b (drawing in lib.sh):
#
#	a cA 198.51.100.2/25   2001:db8:1:1::2/64 -- rA 198.51.100.1/25   2001:db8:1:1::1/64  r
#	a cB 198.51.100.130/25 2001:db8:1:2::2/64 -- rB 198.51.100.129/25 2001:db8:1:2::1/64  r
#	r rS 203.0.113.1/24 2001:db8:3::1/64 ---------- sS 203.0.113.2/24 2001:db8:3::2/64 b
#
# Cases:
#   - both uplinks reach b from their own addresses, IPv4 and IPv6;
#   - what a sends from an uplink's address leaves by that uplink (a's interface counters: at
#     least the 20 pings on it, under 5 packets on the other), and without a source address by A
#     (the lowest metric);
#   - rates: tbf 40 Mbit/s on A and 20 Mbit/s on B, both ways: iperf3 TCP (4 s) from and to each
#     uplink's address gets 88-100% of the rate (TCP over IPv4 carries at most 95.6% of an
#     Ethernet frame: 1448 of 1514 bytes);
#   - each way of taking A down (mp_down: admin, carrier, blackhole) shows on the links as it
#     should (a's cA DOWN; NO-CARRIER; both ends up), stops every reply to A's addresses and none
#     to B's, and mp_up brings A back (its routes too). What cB sent meanwhile is printed: with A
#     admin down, IPv4 from A's address leaves by B (notes/multipath.md §4.1), and gets no reply;
#   - NAT on B: b sees B's pings from r's addresses on rS, A's from A's own; off again: from B's;
#   - Linux MPTCP (mptcpize iperf3, 5 s, A 40 and B 20 Mbit/s): a second subflow joins and both
#     uplinks carry at least 10% of the bytes;
#   - the link emulator, only when LINKEM (default build/tools/linkem) is an executable: A steered
#     through it with 20 ms up and 10 ms down: ping from A's addresses 30-60 ms, from B's under
#     10 ms; the same with NAT on A; under 10 ms again once it is stopped.
# Environment: LINKEM.

. "$(dirname "$0")/cases.sh"
if [ $# -ge 2 ]; then
	netns_init "$@"
else
	[ $# = 0 ] || { echo "usage: $0 [IMPL_A IMPL_B]" >&2; exit 2; }
	PAIR=kernel
	netns_begin "the multipath topology, no tunnel"
fi
for tool in iperf3 tc; do
	command -v "$tool" >/dev/null || { echo "$T: missing tool: $tool" >&2; exit 2; }
done
ROOT=$(cd "$NETNS_DIR/../.." && pwd)
LINKEM=${LINKEM:-$ROOT/build/tools/linkem}
mp_hosts 2

setup() {
	mp_topology
	local l
	for l in A B; do
		ping_ok a "$(mp_gw "$l")"
	done
}

reach() {
	local l f
	for l in A B; do
		for f in 4 6; do
			ping_all a "$(mp_server "$f")" 5 -I "$(mp_addr "$l" "$f")"
			say "uplink $l: $(mp_addr "$l" "$f") -> $(mp_server "$f"): 5 of 5 replies"
		done
	done
}

tx_packets() { link_stat a "c$1" tx packets; }

# sent_by FROM... : ping b 20 times (with these ping options) and say what each uplink sent;
# sets SENT_A and SENT_B.
sent_by() {
	local f=$1 a0 b0
	shift
	a0=$(tx_packets A) b0=$(tx_packets B)
	ping_all a "$(mp_server "$f")" 20 "$@"
	SENT_A=$(($(tx_packets A) - a0)) SENT_B=$(($(tx_packets B) - b0))
	say "IPv$f ping ${*:-(no source)}: cA sent $SENT_A packets, cB $SENT_B"
}

per_source() {
	local f
	for f in 4 6; do
		sent_by "$f" -I "$(mp_addr A "$f")"
		[ "$SENT_A" -ge 20 ] && [ "$SENT_B" -lt 5 ] || fail "A's address did not leave by cA"
		sent_by "$f" -I "$(mp_addr B "$f")"
		[ "$SENT_B" -ge 20 ] && [ "$SENT_A" -lt 5 ] || fail "B's address did not leave by cB"
		sent_by "$f"
		[ "$SENT_A" -ge 20 ] && [ "$SENT_B" -lt 5 ] || fail "the default route is not A's"
	done
}

# within GOT RATE LO HI: LO <= GOT / RATE <= HI.
within() {
	awk -v g="$1" -v r="$2" -v lo="$3" -v hi="$4" 'BEGIN { exit !(g >= lo * r && g <= hi * r) }'
}

rates() {
	trap 'rc=$?; set +e; reap a r b; exit $rc' EXIT
	local l rate up down
	mp_rate A both 40mbit
	mp_rate B both 20mbit
	for l in A B; do
		rate=40
		[ "$l" = A ] || rate=20
		up=$(iperf_mbit a b "$(mp_server)" 4 -B "$(mp_addr "$l")")
		down=$(iperf_mbit a b "$(mp_server)" 4 -B "$(mp_addr "$l")" -R)
		say "uplink $l at $rate Mbit/s: TCP a -> b $up Mbit/s, b -> a $down Mbit/s"
		within "$up" "$rate" 0.88 1.0 || fail "a -> b on $l: $up Mbit/s for a rate of $rate"
		within "$down" "$rate" 0.88 1.0 || fail "b -> a on $l: $down Mbit/s for a rate of $rate"
	done
	mp_rate A both off
	mp_rate B both off
}

# outage KIND: A down that way; no reply to A's addresses, every one to B's; A back.
outage() {
	local kind=$1 f b0 ca ra
	mp_down A "$kind"
	ca=$(hx a ip -br link show dev cA) ra=$(hx r ip -br link show dev rA)
	say "after mp_down A $kind: a: $(echo $ca) | r: $(echo $ra)"
	case "$kind" in
	admin) [ "$(echo "$ca" | awk '{ print $2 }')" = DOWN ] || fail "cA is not down" ;;
	carrier) [[ $ca == *NO-CARRIER* ]] || fail "cA has its carrier" ;;
	blackhole) [[ $ca == *LOWER_UP* && $ra == *LOWER_UP* ]] || fail "a link went down" ;;
	esac
	for f in 4 6; do
		b0=$(tx_packets B)
		ping_none a "$(mp_server "$f")" -I "$(mp_addr A "$f")"
		say "IPv$f from A's address: no reply ($(grep -m 1 'transmitted\|ping:' \
			"$STATE/ping.out")); cB sent $(($(tx_packets B) - b0)) packets meanwhile"
		ping_all a "$(mp_server "$f")" 10 -I "$(mp_addr B "$f")"
		say "IPv$f from B's address: 10 of 10 replies"
	done
	mp_up A
	for f in 4 6; do
		hx a ip -"$f" route show table 101 | grep -q '^default via' ||
			fail "no IPv$f default route in table 101 after mp_up"
		answered "$(mp_addr A "$f")" "$(mp_server "$f")"
	done
}

# answered FROM DST: after mp_up, a ping a second from a's address FROM until one is answered
# (10 s at most): neighbour discovery may fail the first ones.
answered() {
	local i first=""
	for ((i = 1; i <= 10; i++)); do
		if hx a timeout 3 ping -n -c 1 -W 1 -I "$1" "$2" >"$STATE/ping.out" 2>&1; then
			say "after mp_up: $1 -> $2 answered at try $i${first:+ (try 1: $first)}"
			return 0
		fi
		[ -n "$first" ] || first=$(grep -m 1 'From\|ping:\|transmitted' "$STATE/ping.out")
		sleep 1
	done
	fail "no reply from $1 to $2 in 10 tries after mp_up: $first"
}

admin() { outage admin; }
carrier() { outage carrier; }
blackhole() { outage blackhole; }

# pings_seen NAME DST [ping options]: what b's counter NAME counted during 10 pings from a.
pings_seen() {
	local name=$1 dst=$2 c0
	shift 2
	c0=$(counter_get b "$name")
	ping_all a "$dst" 10 "$@"
	echo $(($(counter_get b "$name") - c0))
}

nat() {
	local f n
	counter_add b r4 ip saddr 203.0.113.1 icmp type echo-request
	counter_add b r6 ip6 saddr 2001:db8:3::1 icmpv6 type echo-request
	counter_add b a4 ip saddr "$(mp_addr A)" icmp type echo-request
	counter_add b a6 ip6 saddr "$(mp_addr A 6)" icmpv6 type echo-request
	counter_add b b4 ip saddr "$(mp_addr B)" icmp type echo-request
	counter_add b b6 ip6 saddr "$(mp_addr B 6)" icmpv6 type echo-request
	mp_nat B on
	for f in 4 6; do
		n=$(pings_seen "r$f" "$(mp_server "$f")" -I "$(mp_addr B "$f")")
		say "NAT on B, IPv$f: b saw $n of 10 pings from B come from r"
		[ "$n" = 10 ] && [ "$(counter_get b "b$f")" = 0 ] || fail "B's source not rewritten"
		n=$(pings_seen "a$f" "$(mp_server "$f")" -I "$(mp_addr A "$f")")
		say "NAT on B, IPv$f: b saw $n of 10 pings from A come from A's address"
		[ "$n" = 10 ] || fail "A's pings were rewritten"
	done
	mp_nat B off
	for f in 4 6; do
		n=$(pings_seen "b$f" "$(mp_server "$f")" -I "$(mp_addr B "$f")")
		say "NAT off, IPv$f: b saw $n of 10 pings from B's own address"
		[ "$n" = 10 ] || fail "B's source still rewritten"
	done
}

mptcp() {
	trap 'rc=$?; set +e; reap a r b; hx a ip mptcp endpoint flush; exit $rc' EXIT
	command -v mptcpize >/dev/null || fail "no mptcpize (apt-get install mptcpize)"
	local a0 b0 j0 c0 ab bb j c mbit
	mp_rate A both 40mbit
	mp_rate B both 20mbit
	mp_mptcp
	a0=$(link_stat a cA tx bytes) b0=$(link_stat a cB tx bytes)
	j0=$(kernel_stat a MPTcpExt:MPJoinSynAckRx) c0=$(kernel_stat a MPTcpExt:MPCapableSYNACKRX)
	mbit=$(IPERF_WRAP="mptcpize run" iperf_mbit a b "$(mp_server)" 5)
	ab=$(($(link_stat a cA tx bytes) - a0)) bb=$(($(link_stat a cB tx bytes) - b0))
	j=$(($(kernel_stat a MPTcpExt:MPJoinSynAckRx) - j0))
	c=$(($(kernel_stat a MPTcpExt:MPCapableSYNACKRX) - c0))
	say "mptcpize iperf3 a -> b: $mbit Mbit/s; cA sent $ab bytes, cB $bb;" \
		"MP_CAPABLE SYN-ACKs $c, MP_JOIN SYN-ACKs $j"
	[ "$c" -ge 1 ] || fail "the connection was not MPTCP"
	[ "$j" -ge 1 ] || fail "no second subflow joined"
	[ $((ab * 10)) -ge $((ab + bb)) ] && [ $((bb * 10)) -ge $((ab + bb)) ] ||
		fail "an uplink carried under 10% of the bytes"
	mp_rate A both off
	mp_rate B both off
}

# rtt_avg FROM_ADDR: the average RTT to b of 10 pings from that address, ms.
rtt_avg() {
	local dst=203.0.113.2
	case "$1" in *:*) dst=2001:db8:3::2 ;; esac
	hx a timeout 15 ping -n -q -c 10 -i 0.1 -W 2 -I "$1" "$dst" >"$STATE/ping.out" 2>&1 ||
		fail "ping from $1: $(tr '\n' ' ' <"$STATE/ping.out")"
	sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1|p' "$STATE/ping.out"
}

# rtts LO HI [NOTE]: A's RTT (both families) within [LO, HI] ms, B's under 10 ms.
rtts() {
	local f r
	for f in 4 6; do
		r=$(rtt_avg "$(mp_addr A "$f")")
		say "IPv$f RTT from A's address: $r ms${3:+ ($3)}"
		within "$r" 1 "$1" "$2" || fail "A's RTT $r ms is not within [$1, $2] ms"
		r=$(rtt_avg "$(mp_addr B "$f")")
		say "IPv$f RTT from B's address: $r ms"
		within "$r" 1 0 10 || fail "B's RTT $r ms"
	done
}

emulator() {
	trap 'rc=$?; set +e; mp_nat A off; mp_emulate_stop A; exit $rc' EXIT
	mp_emulate A "$LINKEM" emAup:delay=20 emAdn:delay=10
	rtts 30 60 "20 ms up, 10 ms down"
	counter_add b em4 ip saddr 203.0.113.1 icmp type echo-request
	mp_nat A on
	rtts 30 60 "with NAT on A"
	[ "$(counter_get b em4)" -ge 10 ] || fail "b saw no ping from r: NAT did not apply"
	mp_nat A off
	mp_emulate_stop A
	rtts 0 10 "emulator stopped"
}

run_gate "setup: client a with uplinks A and B, router r, server b" setup 30
run_case "both uplinks reach b from their own addresses, IPv4 and IPv6" reach
run_case "sending from an uplink's address leaves by that uplink; no source: A" per_source
run_case "tbf 40/20 Mbit/s both ways: iperf3 TCP gets 88-100% of the rate" rates 90
run_case "A admin down: A silent, B unaffected; mp_up restores A and its routes" admin
run_case "A carrier lost (router side down): A silent, B unaffected; back" carrier
run_case "A black-holed in the router, links up: A silent, B unaffected; back" blackhole
run_case "NAT on B: b sees B's traffic from r's address, A's unchanged; off again" nat
run_case "Linux MPTCP over both uplinks: a joined subflow, both carry bytes" mptcp
if [ -x "$LINKEM" ]; then
	run_case "link emulator on A: 20 ms up, 10 ms down, B untouched; with NAT; removed" emulator
else
	echo "$T: no link emulator at $LINKEM: its case is not run"
fi
netns_finish
