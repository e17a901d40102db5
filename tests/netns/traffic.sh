#!/bin/bash
# SPDX-License-Identifier: MIT
# traffic.sh IMPL_A IMPL_B: packet sizes around the MTU, 50 MB TCP transfers checked by sha256,
# UDP datagrams checked one by one.
#
#	  host a (IMPL_A)                                   host b (IMPL_B)
#	  wg0 192.0.2.1/24 2001:db8:2::1/64  mtu 1420        wg0 192.0.2.2/24 2001:db8:2::2/64
#	  veth0 198.51.100.1/24 ---------------------------- veth0 198.51.100.2/24
#	        2001:db8:1::1/64    UDP 10001 <-> 10002           2001:db8:1::2/64
#
# What the MTU cases mean. wg0 has MTU 1420, so the largest inner packets are 1420 bytes: an IPv4
# ping of 1392 payload bytes (1420 - 20 - 8), an IPv6 ping of 1372 (1420 - 40 - 8). Such a packet
# becomes a 1420 + 32 byte WireGuard message, 1472 (IPv4) or 1492 (IPv6) bytes on the underlay,
# which fits the veth's 1500: every full-size packet must cross in both directions.
# One byte more with DF set (ping -M do) is refused by the sender's own kernel before the daemon
# sees it ("message too long, mtu=1420"): this checks that the daemon created its interface with
# the MTU it was given and kept it. Without DF the sender's kernel fragments the inner packet and
# the daemon carries each fragment as its own message; the peer's kernel reassembles. So an
# 8000-byte ping must be answered too (in both families: IPv6 fragments at the source).
# Finally the underlay MTU is lowered to 1400, below what full-size messages need: the outer UDP
# datagrams must then be fragmented by the sending kernel (WireGuard must not set DF on them, or
# full-size packets would vanish), so 1420-byte inner packets still cross.

. "$(dirname "$0")/cases.sh"
netns_init "$@"
two_hosts

setup() {
	two_hosts_up
	ping_ok a 192.0.2.2
	head -c 50M /dev/urandom >"$STATE/data-a"
	head -c 50M /dev/urandom >"$STATE/data-b"
}

mtu_full() {
	ping_all a 192.0.2.2 3 -Mdo -s 1392
	ping_all b 192.0.2.1 3 -Mdo -s 1392
	ping_all a 2001:db8:2::2 3 -Mdo -s 1372
	ping_all b 2001:db8:2::1 3 -Mdo -s 1372
	# Every size near the top, each one crossing as a single packet.
	local s
	for s in 1380 1385 1388 1389 1390 1391; do
		ping_all a 192.0.2.2 1 -Mdo -s "$s"
	done
}

mtu_over() {
	local out
	out=$(hx a timeout 10 ping -n -c 1 -W 1 -Mdo -s 1393 192.0.2.2 2>&1) &&
		fail "ping -Mdo -s 1393 was answered: the interface MTU is not 1420"
	say "IPv4 -Mdo -s 1393: $(echo "$out" | grep -m1 -i 'too long' || echo "$out" | tail -n 1)"
	echo "$out" | grep -q "mtu=$WG_MTU" || fail "ping -Mdo -s 1393 did not report mtu=$WG_MTU: $out"
	out=$(hx a timeout 10 ping -n -c 1 -W 1 -Mdo -s 1373 2001:db8:2::2 2>&1) &&
		fail "ping -Mdo -s 1373 (IPv6) was answered: the interface MTU is not 1420"
	ping_all a 192.0.2.2 2 -Mdont -s 1393
	ping_all b 192.0.2.1 2 -Mdont -s 1393
	ping_all a 192.0.2.2 2 -Mdont -s 8000
	ping_all b 192.0.2.1 2 -Mdont -s 8000
	ping_all a 2001:db8:2::2 2 -s 1373
	ping_all a 2001:db8:2::2 2 -s 8000
	ping_all b 2001:db8:2::1 2 -s 8000
}

mtu_underlay() {
	hx a ip link set veth0 mtu 1400
	hx b ip link set veth0 mtu 1400
	ping_all a 192.0.2.2 3 -Mdo -s 1392
	ping_all b 192.0.2.1 3 -Mdo -s 1392
	ping_all a 2001:db8:2::2 3 -Mdo -s 1372
	peer_add_default a b endpoint6
	peer_add_default b a endpoint6
	ping_all a 192.0.2.2 3 -Mdo -s 1392
	ping_all b 2001:db8:2::1 3 -Mdo -s 1372
	peer_add_default a b endpoint4
	peer_add_default b a endpoint4
	hx a ip link set veth0 mtu 1500
	hx b ip link set veth0 mtu 1500
	ping_all a 192.0.2.2 2 -Mdo -s 1392
}

tcp_v4() {
	tcp_transfer a b 192.0.2.2 "$STATE/data-a" 5001
	tcp_transfer b a 192.0.2.1 "$STATE/data-b" 5002
}

tcp_v6() {
	tcp_transfer a b 2001:db8:2::2 "$STATE/data-a" 5003
	tcp_transfer b a 2001:db8:2::1 "$STATE/data-b" 5004
}

udp() {
	udp_exchange a b 192.0.2.2 6001 500 1392
	udp_exchange b a 192.0.2.1 6002 500 1392
	udp_exchange a b 2001:db8:2::2 6003 500 1372
	udp_exchange b a 2001:db8:2::1 6004 500 1372
}

run_gate "setup: two hosts, tunnel up, 2 x 50 MB of random data" setup 40
run_case "full-size packets (1420 bytes inner) cross both ways, IPv4 and IPv6" mtu_full 40
run_case "over the MTU: refused with DF, fragmented inner packets cross without" mtu_over 40
run_case "underlay MTU 1400 < needed: outer datagrams fragmented, full-size inner still cross" \
	mtu_underlay 40
run_case "TCP 50 MB each way over IPv4 inner, sha256 matches" tcp_v4 150
run_case "TCP 50 MB each way over IPv6 inner, sha256 matches" tcp_v6 150
run_case "UDP 500 datagrams (sizes up to the MTU) each way, IPv4 and IPv6 inner" udp 60
netns_finish
