#!/bin/bash
# SPDX-License-Identifier: MIT
# basic.sh IMPL_A IMPL_B: handshakes from either side, pings over IPv4/IPv6 inner and underlay,
# and what `wg show` / `wg showconf` report.
#
#	  host a (IMPL_A)                                   host b (IMPL_B)
#	  wg0 192.0.2.1/24 2001:db8:2::1/64                  wg0 192.0.2.2/24 2001:db8:2::2/64
#	  veth0 198.51.100.1/24 ---------------------------- veth0 198.51.100.2/24
#	        2001:db8:1::1/64    UDP 10001 <-> 10002           2001:db8:1::2/64

. "$(dirname "$0")/cases.sh"
netns_init "$@"
two_hosts

setup() {
	two_hosts_link
	wg_up a
	wg_up b
}

# Only A knows where B is: A must initiate, and B learns A's endpoint from the handshake.
initiated_by_a() {
	peer_add_default a b endpoint4
	peer_add_default b a none
	[ "$(peer_field b a endpoint)" = "(none)" ] || fail "B has an endpoint for A before any packet"
	ping_ok a 192.0.2.2
	[ "$(peer_field a b handshake)" != 0 ] || fail "A shows no handshake with B"
	[ "$(peer_field b a handshake)" != 0 ] || fail "B shows no handshake with A"
	local ep
	ep=$(peer_field b a endpoint)
	say "B learned A's endpoint: $ep"
	[ "$ep" = 198.51.100.1:10001 ] || fail "B's endpoint for A is '$ep', want 198.51.100.1:10001"
}

# Fresh peers on both sides (removing a peer drops its sessions); now only B knows where A is.
initiated_by_b() {
	peer_set a b remove
	peer_set b a remove
	peer_add_default a b none
	peer_add_default b a endpoint4
	[ "$(peer_field a b handshake)" = 0 ] || fail "A shows a handshake with the re-added B"
	ping_ok b 192.0.2.1
	[ "$(peer_field a b handshake)" != 0 ] || fail "A shows no handshake with B"
	local ep
	ep=$(peer_field a b endpoint)
	say "A learned B's endpoint: $ep"
	[ "$ep" = 198.51.100.2:10002 ] || fail "A's endpoint for B is '$ep', want 198.51.100.2:10002"
	peer_add_default a b endpoint4
}

ping_v4_underlay() {
	ping_all a 192.0.2.2 5
	ping_all a 2001:db8:2::2 5
	ping_all b 192.0.2.1 5
	ping_all b 2001:db8:2::1 5
}

# A switches its endpoint for B to B's IPv6 underlay address; B must follow from A's packets.
ping_v6_underlay() {
	peer_add_default a b endpoint6
	ping_all a 192.0.2.2 5
	ping_all a 2001:db8:2::2 5
	local ep
	ep=$(peer_field b a endpoint)
	say "B's endpoint for A: $ep"
	[ "$ep" = "[2001:db8:1::1]:10001" ] || fail "B's endpoint for A is '$ep', want [2001:db8:1::1]:10001"
	ping_all b 192.0.2.1 5
	ping_all b 2001:db8:2::1 5
	# And back to the IPv4 underlay for the cases that follow.
	peer_add_default a b endpoint4
	ping_all a 192.0.2.2 2
	ep=$(peer_field b a endpoint)
	[ "$ep" = 198.51.100.1:10001 ] || fail "B's endpoint for A is '$ep' after A went back to IPv4"
}

show_fields() {
	local v now hs
	v=$(wgh a show wg0 public-key)
	[ "$v" = "$(pub a)" ] || fail "wg show public-key: '$v', want $(pub a)"
	v=$(wgh a show wg0 private-key)
	[ "$v" = "$(cat "$STATE/a.key")" ] || fail "wg show private-key differs from the key set"
	v=$(wgh a show wg0 listen-port)
	[ "$v" = 10001 ] || fail "wg show listen-port: '$v', want 10001"
	v=$(wgh a show wg0 peers)
	[ "$v" = "$(pub b)" ] || fail "wg show peers: '$v', want only $(pub b)"
	v=$(peer_field a b endpoint)
	[ "$v" = 198.51.100.2:10002 ] || fail "endpoint '$v', want 198.51.100.2:10002"
	v=$(peer_field a b allowed | tr ',' '\n' | sort | tr '\n' ' ')
	[ "$v" = "192.0.2.2/32 2001:db8:2::2/128 " ] || fail "allowed ips '$v'"
	v=$(peer_field a b keepalive)
	[ "$v" = off ] || fail "persistent keepalive '$v', want off"
	v=$(peer_field a b psk)
	[ "$v" = "(none)" ] || fail "preshared key '$v', want (none)"
	now=$(date +%s)
	hs=$(peer_field a b handshake)
	if [ "$hs" -le $((now - 180)) ] || [ "$hs" -gt $((now + 5)) ]; then
		fail "latest handshake $hs is not within the last 180 s (now $now)"
	fi

	# Five 84-byte echo requests are five 128-byte data messages (16 header + 96 padded + 16 tag).
	local tx0 rx0 arx0 tx1 rx1 arx1
	tx0=$(peer_field a b tx) rx0=$(peer_field b a rx) arx0=$(peer_field a b rx)
	ping_all a 192.0.2.2 5
	sleep 0.2
	tx1=$(peer_field a b tx) rx1=$(peer_field b a rx) arx1=$(peer_field a b rx)
	say "A tx to B +$((tx1 - tx0)), B rx from A +$((rx1 - rx0)), A rx from B +$((arx1 - arx0))"
	[ $((tx1 - tx0)) -ge 640 ] || fail "A's tx_bytes grew by $((tx1 - tx0)), want >= 640"
	[ $((rx1 - rx0)) -ge 640 ] || fail "B's rx_bytes grew by $((rx1 - rx0)), want >= 640"
	[ $((arx1 - arx0)) -ge 640 ] || fail "A's rx_bytes grew by $((arx1 - arx0)), want >= 640"
	[ $((tx1 - tx0)) -le $((640 + 4 * 148)) ] || fail "A's tx_bytes grew by $((tx1 - tx0)): too much"

	# The pretty form shows the same things.
	wgh a show wg0 >"$STATE/show.txt"
	for v in "public key: $(pub a)" "listening port: 10001" "peer: $(pub b)" \
		"endpoint: 198.51.100.2:10002" "latest handshake:" "transfer:"; do
		grep -qF "$v" "$STATE/show.txt" || fail "'wg show wg0' lacks '$v'"
	done

	wgh a showconf wg0 >"$STATE/showconf.txt"
	for v in "PrivateKey = $(cat "$STATE/a.key")" "ListenPort = 10001" "[Peer]" \
		"PublicKey = $(pub b)" "Endpoint = 198.51.100.2:10002"; do
		grep -qxF "$v" "$STATE/showconf.txt" || fail "'wg showconf wg0' lacks the line '$v'"
	done
	v=$(sed -n 's/^AllowedIPs = //p' "$STATE/showconf.txt" | tr -d ' ' | tr ',' '\n' | sort | tr '\n' ' ')
	[ "$v" = "192.0.2.2/32 2001:db8:2::2/128 " ] || fail "showconf AllowedIPs '$v'"

	wgh a set wg0 fwmark 0x1234 || fail "wg set fwmark"
	v=$(wgh a show wg0 fwmark)
	[ "$v" = 0x1234 ] || fail "wg show fwmark '$v', want 0x1234"
	grep -qxF "FwMark = 0x1234" <(wgh a showconf wg0) || fail "showconf lacks FwMark = 0x1234"
	wgh a set wg0 fwmark 0 || fail "wg set fwmark 0"
	v=$(wgh a show wg0 fwmark)
	[ "$v" = off ] || fail "wg show fwmark '$v' after fwmark 0, want off"
	ping_all a 192.0.2.2 2
}

run_gate "setup: two hosts, a daemon on each" setup 30
run_gate "handshake initiated by A, B learns A's endpoint" initiated_by_a 30
run_case "handshake initiated by B, A learns B's endpoint" initiated_by_b 30
run_case "ping IPv4 and IPv6 inner over the IPv4 underlay, both ways" ping_v4_underlay 40
run_case "ping IPv4 and IPv6 inner over the IPv6 underlay, endpoints follow" ping_v6_underlay 40
run_case "wg show/showconf: keys, port, endpoint, allowed IPs, handshake, counters, fwmark" \
	show_fields 40
netns_finish
