#!/bin/bash
# SPDX-License-Identifier: MIT
# wgquick.sh IMPL_A IMPL_B: wg-quick up/down of a full-tunnel configuration on host a, with IMPL_A
# as WG_QUICK_USERSPACE_IMPLEMENTATION (this kernel has no wireguard module, so wg-quick starts
# the daemon itself, without WG_PROCESS_FOREGROUND: the daemon must daemonize once its socket is
# ready). Host b runs IMPL_B configured with `wg`.
#
#	  host a: wg-quick up wgq0.conf                     host b (IMPL_B)
#	  wgq0 192.0.2.1/32 2001:db8:2::1/128  mtu 1380      wg0 192.0.2.2/24 2001:db8:2::2/64
#	  veth0 198.51.100.1/24 ---------------------------- veth0 198.51.100.2/24
#	        2001:db8:1::1/64                                   203.0.113.2/24 (B's endpoint)
#	  default via 198.51.100.2                                 2001:db8:1::2/64
#	  default via 2001:db8:1::2
#
# a's configuration: Address, ListenPort 10001, MTU 1380, one peer with AllowedIPs = 0.0.0.0/0,
# ::/0 and Endpoint = 203.0.113.2:10002, no DNS (so resolvconf is never called). wg-quick then
# sets fwmark 51820 on the device, adds `ip rule not fwmark 51820 table 51820` and `table main
# suppress_prefixlength 0` for both families, a default route into wgq0 in table 51820, an nft
# table wg-quick-wgq0, and net.ipv4.conf.all.src_valid_mark=1 -- all inside a's namespaces.
# a reaches b's endpoint only through its default route, so the encrypted packets must carry
# the fwmark to leave by veth0 instead of looping into wgq0: the full tunnel works only if the
# daemon applies the fwmark to its socket. Anything a sends that is not to its own link goes
# through b, e.g. a ping to 203.0.113.2, and b sees it arrive on wg0.

. "$(dirname "$0")/cases.sh"
netns_init "$@"
two_hosts

CONF="$STATE/wgq0.conf"

setup() {
	two_hosts_link
	addr_add b veth0 203.0.113.2/24
	hx a ip route add default via 198.51.100.2
	hx a ip -6 route add default via 2001:db8:1::2
	wg_up b
	peer_set b a allowed-ips 192.0.2.1/32,2001:db8:2::1/128
	counter_add b via-tunnel iifname wg0 ip daddr 203.0.113.2
	cat >"$CONF" <<-EOF
		[Interface]
		PrivateKey = $(cat "$STATE/a.key")
		Address = 192.0.2.1/32, 2001:db8:2::1/128
		ListenPort = 10001
		MTU = 1380

		[Peer]
		PublicKey = $(pub b)
		Endpoint = 203.0.113.2:10002
		AllowedIPs = 0.0.0.0/0, ::/0
	EOF
	chmod 600 "$CONF"
}

# wgquick up|down: run wg-quick on host a; its output (and the daemon's) goes to a.log.
wgquick() {
	echo "--- $(date +%T.%N) host a: wg-quick $1 (WG_QUICK_USERSPACE_IMPLEMENTATION=$IMPL_A)" \
		>>"$STATE/a.log"
	WG_QUICK_USERSPACE_IMPLEMENTATION="$IMPL_A" LOG_LEVEL=verbose \
		hx a timeout 30 wg-quick "$1" "$CONF" >>"$STATE/a.log" 2>&1 </dev/null ||
		fail "wg-quick $1 failed (exit $?); see a.log"
}

# The daemon wg-quick started: the processes in a's namespace other than the holder.
daemon_pids_a() {
	local pid holder
	holder=$(holder_of a)
	for pid in $(ip netns pids "$(ns_of a)"); do
		[ "$pid" = "$holder" ] || echo "$pid"
	done
}

up() {
	wgquick up
	local v pids
	pids=$(daemon_pids_a)
	[ -n "$pids" ] || fail "no daemon left running in a's namespace after wg-quick up"
	echo "$pids" >"$STATE/wgquick.pids"
	say "daemon(s) started by wg-quick: $(echo "$pids" | tr '\n' ' ')($(cat /proc/"$(echo "$pids" |
		head -n 1)"/comm 2>/dev/null))"
	hx a test -S /var/run/wireguard/wgq0.sock || fail "no /var/run/wireguard/wgq0.sock"
	v=$(hx a ip -o link show wgq0) || fail "no wgq0 after wg-quick up"
	[[ $v == *"mtu 1380 "* ]] || fail "wgq0 has not MTU 1380: $v"
	[[ $v == *",UP"* || $v == *"<UP"* ]] || fail "wgq0 is not up: $v"
	hx a ip -o addr show dev wgq0 | grep -q 'inet 192.0.2.1/32' || fail "wgq0 lacks 192.0.2.1/32"
	hx a ip -o addr show dev wgq0 | grep -q 'inet6 2001:db8:2::1/128' ||
		fail "wgq0 lacks 2001:db8:2::1/128"
	v=$(wgh a show wgq0 fwmark)
	[ "$v" = 0xca6c ] || fail "wgq0 fwmark is '$v', want 0xca6c (51820)"
	v=$(wgh a show wgq0 listen-port)
	[ "$v" = 10001 ] || fail "wgq0 listen port is '$v', want 10001"
	v=$(wgh a show wgq0 allowed-ips | cut -f 2)
	[ "$v" = "0.0.0.0/0 ::/0" ] || [ "$v" = "::/0 0.0.0.0/0" ] || fail "allowed ips '$v'"
	for v in -4 -6; do
		hx a ip "$v" rule show | grep -q 'not from all fwmark 0xca6c lookup 51820' ||
			fail "no 'not fwmark 0xca6c lookup 51820' rule ($v)"
		hx a ip "$v" rule show | grep -q 'from all lookup main suppress_prefixlength 0' ||
			fail "no 'suppress_prefixlength 0' rule ($v)"
		hx a ip "$v" route show table 51820 | grep -q '^default dev wgq0' ||
			fail "no default route into wgq0 in table 51820 ($v)"
	done
	hx a nft list table ip wg-quick-wgq0 >/dev/null || fail "no nft table ip wg-quick-wgq0"
	hx a nft list table ip6 wg-quick-wgq0 >/dev/null || fail "no nft table ip6 wg-quick-wgq0"
	v=$(hx a sysctl -n net.ipv4.conf.all.src_valid_mark)
	[ "$v" = 1 ] || fail "src_valid_mark is '$v'"
}

full_tunnel() {
	ping_ok a 192.0.2.2
	ping_all a 192.0.2.2 3
	ping_all a 2001:db8:2::2 3
	ping_all a 192.0.2.2 2 -Mdo -s 1352	# the largest with MTU 1380
	ping_all a 203.0.113.2 3
	local n ep
	n=$(counter_get b via-tunnel)
	say "b saw $n packets for 203.0.113.2 arrive on wg0"
	[ "$n" -ge 3 ] || fail "a's ping to 203.0.113.2 did not go through the tunnel ($n packets)"
	ep=$(peer_field b a endpoint)
	say "b's endpoint for a: $ep"
	[ "$ep" = 198.51.100.1:10001 ] || fail "b's endpoint for a is '$ep', want 198.51.100.1:10001"
	[ "$(peer_field b a handshake)" != 0 ] || fail "b shows no handshake"
	ping_all b 192.0.2.1 3
}

down() {
	wgquick down
	local pid v
	hx a ip link show wgq0 >/dev/null 2>&1 && fail "wgq0 still exists after wg-quick down"
	for pid in $(cat "$STATE/wgquick.pids"); do
		wait_for 5 "daemon $pid to exit after wg-quick down" not_running "$pid"
	done
	wait_for 2 "wgq0.sock to be removed" hx a test ! -e /var/run/wireguard/wgq0.sock
	for v in -4 -6; do
		hx a ip "$v" rule show | grep -q 51820 && fail "ip $v rule for 51820 left: $(hx a ip "$v" rule)"
		hx a ip "$v" rule show | grep -q suppress_prefixlength &&
			fail "ip $v suppress_prefixlength rule left behind"
		[ -z "$(hx a ip "$v" route show table 51820 2>/dev/null)" ] ||
			fail "routes left in table 51820 ($v)"
	done
	hx a nft list tables | grep -q wg-quick && fail "nft table left: $(hx a nft list tables)"
	return 0
}

again() {
	up
	ping_ok a 192.0.2.2
	ping_all a 2001:db8:2::2 2
	down
}

run_gate "setup: b up, a's default routes via b, wgq0.conf" setup 30
run_gate "wg-quick up: daemon, wgq0 with MTU/addresses, fwmark, rules, nft, sysctl" up 40
run_case "full tunnel: b's tunnel addresses and 203.0.113.2 via the tunnel, fwmark routing" \
	full_tunnel 40
run_case "wg-quick down: wgq0, daemon, socket, rules, table 51820, nft table gone" down 40
run_case "a second wg-quick up/ping/down cycle leaves nothing behind" again 60
netns_finish
