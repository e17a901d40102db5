#!/bin/bash
# SPDX-License-Identifier: MIT
# routing.sh IMPL_A IMPL_B [IMPL_C]: cryptokey routing on a hub with two peers, and the allowed-IPs
# check on what arrives (a peer cannot send from a source address it is not allowed).
#
#	                          host a (IMPL_A), the hub
#	                    wg0 192.0.2.1/24 2001:db8:2::1/64, UDP 10001
#	          vethb 198.51.100.1/24                 vethc 203.0.113.1/24
#	                  |                                      |
#	          veth0 198.51.100.2/24                 veth0 203.0.113.3/24
#	  host b (IMPL_B), UDP 10002                    host c (IMPL_C), UDP 10003
#	  wg0 192.0.2.2/24 2001:db8:2::2/64             wg0 192.0.2.3/24 2001:db8:2::3/64
#
# On a, peer b is allowed 192.0.2.2/32 and 2001:db8:2::2/128, peer c the .3 addresses. b and c
# allow a the whole tunnel prefixes, so they will send anything to a, spoofed sources included.
# nft counters in prerouting (before routing) see what each daemon writes to its wg0.

. "$(dirname "$0")/cases.sh"
netns_init "$@"
host_add a
host_add b
host_add c

setup() {
	link_add a vethb b veth0
	link_add a vethc c veth0
	addr_add a vethb 198.51.100.1/24
	addr_add b veth0 198.51.100.2/24
	addr_add a vethc 203.0.113.1/24
	addr_add c veth0 203.0.113.3/24
	wg_up a
	wg_up b
	wg_up c
	peer_set a b allowed-ips 192.0.2.2/32,2001:db8:2::2/128 endpoint 198.51.100.2:10002
	peer_set a c allowed-ips 192.0.2.3/32,2001:db8:2::3/128 endpoint 203.0.113.3:10003
	peer_set b a allowed-ips 192.0.2.0/24,2001:db8:2::/64 endpoint 198.51.100.1:10001
	peer_set c a allowed-ips 192.0.2.0/24,2001:db8:2::/64 endpoint 203.0.113.1:10001
	local h
	for h in b c; do
		counter_add "$h" to-b4 iifname wg0 ip daddr 192.0.2.2
		counter_add "$h" to-c4 iifname wg0 ip daddr 192.0.2.3
		counter_add "$h" to-b6 iifname wg0 ip6 daddr 2001:db8:2::2
		counter_add "$h" to-c6 iifname wg0 ip6 daddr 2001:db8:2::3
	done
	counter_add a from-99 iifname wg0 ip saddr 192.0.2.99
	counter_add a from-99v6 iifname wg0 ip6 saddr 2001:db8:2::99
	counter_add a from-c4 iifname wg0 ip saddr 192.0.2.3
}

crypto_routing() {
	local btx0 ctx0 btx1 ctx1
	ping_ok a 192.0.2.2
	ping_ok a 192.0.2.3
	btx0=$(peer_field a b tx) ctx0=$(peer_field a c tx)
	ping_all a 192.0.2.2 5
	ping_all a 2001:db8:2::2 5
	btx1=$(peer_field a b tx) ctx1=$(peer_field a c tx)
	say "pinging b: a's tx to b +$((btx1 - btx0)), to c +$((ctx1 - ctx0))"
	[ $((btx1 - btx0)) -ge 1280 ] || fail "a's tx to b grew by $((btx1 - btx0)) only"
	[ $((ctx1 - ctx0)) -le 64 ] || fail "a sent $((ctx1 - ctx0)) bytes to c while pinging b"
	btx0=$btx1 ctx0=$ctx1
	ping_all a 192.0.2.3 5
	ping_all a 2001:db8:2::3 5
	btx1=$(peer_field a b tx) ctx1=$(peer_field a c tx)
	say "pinging c: a's tx to b +$((btx1 - btx0)), to c +$((ctx1 - ctx0))"
	[ $((ctx1 - ctx0)) -ge 1280 ] || fail "a's tx to c grew by $((ctx1 - ctx0)) only"
	[ $((btx1 - btx0)) -le 64 ] || fail "a sent $((btx1 - btx0)) bytes to b while pinging c"
	local h name n
	for h in b c; do
		for name in to-b4 to-c4 to-b6 to-c6; do
			n=$(counter_get "$h" "$name")
			say "host $h: $name $n packets"
			case "$name" in
			to-"$h"*) [ "$n" -ge 5 ] || fail "host $h saw $n packets $name, want >= 5" ;;
			*) [ "$n" = 0 ] || fail "host $h saw $n packets $name: misrouted by a" ;;
			esac
		done
	done
}

spoofed_dropped() {
	addr_add b wg0 192.0.2.99/32
	addr_add b wg0 2001:db8:2::99/128
	# b's tx counter proves the packets were sent (whether a counts dropped ones in its rx_bytes
	# differs: wireguard-go does, the kernel does not).
	local tx0 tx1 c0 c1
	tx0=$(peer_field b a tx) c0=$(counter_get a from-c4)
	ping_none b 192.0.2.1 -I 192.0.2.99
	ping_none b 2001:db8:2::1 -I 2001:db8:2::99
	# b pretending to be c
	addr_add b wg0 192.0.2.3/32
	ping_none b 192.0.2.1 -I 192.0.2.3
	tx1=$(peer_field b a tx) c1=$(counter_get a from-c4)
	say "b sent $((tx1 - tx0)) bytes to a; a wrote" \
		"$(counter_get a from-99) + $(counter_get a from-99v6) + $((c1 - c0)) spoofed packets to wg0"
	[ $((tx1 - tx0)) -ge 1280 ] || fail "b sent only $((tx1 - tx0)) bytes to a: spoofed pings not sent?"
	[ "$(counter_get a from-99)" = 0 ] || fail "a delivered packets from 192.0.2.99 (b's allowed: .2)"
	[ "$(counter_get a from-99v6)" = 0 ] || fail "a delivered packets from 2001:db8:2::99"
	[ "$c1" = "$c0" ] || fail "a delivered packets from b with c's address 192.0.2.3 as source"
	hx b ip addr del 192.0.2.3/32 dev wg0
}

allowed_ip_moves() {
	peer_set a b allowed-ips 192.0.2.2/32,2001:db8:2::2/128,192.0.2.99/32
	ping_all b 192.0.2.1 3 -I 192.0.2.99
	local n
	n=$(counter_get a from-99)
	say "with 192.0.2.99/32 allowed for b: a wrote $n packets from it"
	[ "$n" -ge 3 ] || fail "a delivered $n packets from 192.0.2.99 after allowing it"
	# Giving the prefix to c takes it from b.
	peer_set a c allowed-ips 192.0.2.3/32,2001:db8:2::3/128,192.0.2.99/32
	peer_field a b allowed | tr ',' '\n' | grep -qxF 192.0.2.99/32 &&
		fail "192.0.2.99/32 still listed for b after giving it to c"
	peer_field a c allowed | tr ',' '\n' | grep -qxF 192.0.2.99/32 ||
		fail "192.0.2.99/32 not listed for c"
	ping_none b 192.0.2.1 -I 192.0.2.99
	ping_all a 192.0.2.2 2
	ping_all a 192.0.2.3 2
}

run_gate "setup: hub a with peers b and c" setup 40
run_gate "cryptokey routing: a's packets for b's and c's addresses reach only that peer" \
	crypto_routing 40
run_case "sources outside the sender's allowed IPs are dropped (IPv4, IPv6, another peer's)" \
	spoofed_dropped 40
run_case "allowing the source lets it through; giving the prefix to c takes it from b" \
	allowed_ip_moves 40
netns_finish
