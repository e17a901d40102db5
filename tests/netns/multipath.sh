#!/bin/bash
# SPDX-License-Identifier: MIT
# multipath.sh BRAID IMPL_B: a client with two uplinks (braid, host a) and a server (IMPL_B: braid
# or wireguard-go, host b) behind a router r (lib.sh's multipath topology):
#
#	a cA 198.51.100.2/25   2001:db8:1:1::2/64 -- rA  r
#	a cB 198.51.100.130/25 2001:db8:1:2::2/64 -- rB  r  rS 203.0.113.1/24 -- sS 203.0.113.2/24  b
#	a wg0 192.0.2.1/24 2001:db8:2::1/64                        b wg0 192.0.2.2/24 2001:db8:2::2/64
#
# a's peer b has the endpoint 203.0.113.2:10002 and the paths cA and cB (prio 1), set with
# `braid set`; b learns a from its packets. Cases, each with traffic both ways (a UDP stream of
# 1000 datagrams a second with a sequence number in each, and TCP paced at 20 Mbit/s whose sha256
# must match across the switch):
#   - failover: A carries the traffic, B is standby, the far end's kind is found (braid: yes,
#     wireguard-go: no, after its HELLOs went unanswered);
#   - A goes away three ways (mp_down: admin down, carrier loss, silent black-hole): traffic moves
#     to B and goes on; A comes back: traffic returns to A, losing nothing;
#   - an uplink that appears later: B's interface deleted, then made again: its path is down,
#     then up;
#   - redundant, 5% random loss on each uplink, independently (nft numgen in r): what a sends
#     arrives with well under 5% lost (braid server: both ways);
#   - learned paths on a braid server: both of a's addresses, the one in use active;
#   - NAT on B (r masquerades it): failover to B works through it;
#   - IPv6 underlays: the same failover with the endpoint [2001:db8:3::2]:10002;
#   - off: WireGuard's behaviour, the standby uplink carries nothing, the server shows no path;
#   - aggregate: 40 Mbit/s 5 ms and 20 Mbit/s 15 ms +-2 ms (tbf, and the link emulator in r), a
#     TCP transfer whose sha256 must match while A goes down under it and comes back; both
#     uplinks carry a share, and the server reorders (braid_reorder), holding what A brings
#     for B's extra delay (even_us), and the client reorders what the server sends. Against
#     wireguard-go, aggregate is failover and says so (braid_peer_multipath=no), the transfer
#     intact.
# The bounds here are generous (a loaded CI machine); bench/failover.sh measures the gaps.

. "$(dirname "$0")/cases.sh"
netns_init "$@"
is_braid a || { echo "$T: host a must be braid (the client with uplinks)"; netns_finish; }
mp_hosts 2
BRAID=$IMPL_A
LINKEM=${LINKEM:-$(dirname "$BRAID")/tools/linkem}
SERVER4=203.0.113.2:10002
SERVER6=[2001:db8:3::2]:10002

# braid_cmd HOST ARGS: the braid binary's client commands (set, show) in the host.
braid_cmd() {
	local h=$1
	shift
	hx "$h" timeout 10 "$BRAID" "$@"
}

mp_set() { braid_cmd a set wg0 peer "$(pub b)" "$@" || fail "braid set $*"; }

# path_line HOST SLOT: the SLOT-th braid_path line (0-based) of the host's only peer, from get.
path_line() {
	printf 'get=1\n\n' | hx "$1" timeout 5 "$PY" "$NETTOOL" uapi /var/run/wireguard/wg0.sock |
		grep '^braid_path=' | sed -n "$(($2 + 1))p"
}

path_state() { path_line "$1" "$2" | sed -n 's/.*,state=\([a-z]*\).*/\1/p'; }

state_is() { [ "$(path_state "$1" "$2")" = "$3" ]; }
state_is_not() { ! state_is "$@"; }

# wait_state HOST SLOT STATE SECONDS; on a time-out, the host's paths as its get shows them.
wait_state() {
	local end=$(($(date +%s%N) + $4 * 1000000000)) slot
	until state_is "$1" "$2" "$3"; do
		if [ "$(date +%s%N)" -ge "$end" ]; then
			for slot in 0 1; do
				say "$1: $(path_line "$1" "$slot")"
			done
			fail "path $2 of $1 is $(path_state "$1" "$2"), not $3, after $4 s"
		fi
		sleep 0.1
	done
}

far_kind_is() { [ "$(far_kind)" = "$1" ]; }

far_kind() {
	printf 'get=1\n\n' | hx a timeout 5 "$PY" "$NETTOOL" uapi /var/run/wireguard/wg0.sock |
		sed -n 's/^braid_peer_multipath=//p'
}

setup() {
	mp_topology
	wg_up a
	wg_up b
	peer_set a b allowed-ips 192.0.2.2/32,2001:db8:2::2/128 endpoint "$SERVER4"
	peer_set b a allowed-ips 192.0.2.1/32,2001:db8:2::1/128
	mp_set multipath failover path cA path cB,prio=1
	ping_ok a 192.0.2.2
	ping_all b 192.0.2.1 3
}

# Each case starts from the same place, whatever the last one left: both uplinks up, no emulator,
# no rate limit, no loss, no NAT, the IPv4 endpoint, failover over fresh paths (a path's flap
# history, and so its hold-down, goes with it), A carrying the traffic.
baseline() {
	local l
	for l in A B; do
		mp_emulate_stop "$l"
		mp_rate "$l" both off
		mp_up "$l"
		nft_loss "$l" off
		mp_nat "$l" off
	done
	peer_set a b endpoint "$SERVER4"
	mp_set multipath failover replace-paths
	mp_set replace-paths path cA path cB,prio=1
	ping_ok a 192.0.2.2
	wait_state a 0 active 10
	wait_state a 1 standby 10
}

failover_steady() {
	local want=yes
	is_braid b || want=no
	wait_for 8 "a to find out what b is (braid_peer_multipath=$want)" far_kind_is "$want"
	ping_all a 192.0.2.2 10
	wait_state a 0 active 3
	wait_state a 1 standby 3
	say "a: $(path_line a 0)"
	say "a: $(path_line a 1)"
	say "far end is braid: $(far_kind)"
}

# Background traffic both ways while something happens: a UDP stream each way (1000/s, for
# SECONDS) and TCP a -> b paced at 20 Mbit/s. traffic_check reads the results.
traffic_start() {
	local secs=$1
	reap a b	# what a failed case left listening
	rm -f "$STATE"/st.* "$STATE"/tcp.*
	hx b timeout $((secs + 15)) "$PY" "$NETTOOL" stream-recv 192.0.2.2 7001 $((secs + 10)) \
		"$STATE/st.up.ready" >"$STATE/st.up" 2>&1 &
	hx a timeout $((secs + 15)) "$PY" "$NETTOOL" stream-recv 192.0.2.1 7002 $((secs + 10)) \
		"$STATE/st.down.ready" >"$STATE/st.down" 2>&1 &
	hx b timeout $((secs + 15)) "$PY" "$NETTOOL" tcp-recv-timed 192.0.2.2 7003 \
		"$STATE/tcp.ready" >"$STATE/tcp.recv" 2>&1 &
	wait_for 5 "the receivers" test -e "$STATE/st.up.ready" -a -e "$STATE/st.down.ready" \
		-a -e "$STATE/tcp.ready"
	hx a timeout $((secs + 10)) "$PY" "$NETTOOL" stream-send 192.0.2.2 7001 1000 "$secs" \
		>/dev/null 2>&1 &
	hx b timeout $((secs + 10)) "$PY" "$NETTOOL" stream-send 192.0.2.1 7002 1000 "$secs" \
		>/dev/null 2>&1 &
	hx a timeout $((secs + 10)) "$PY" "$NETTOOL" tcp-send-paced 192.0.2.2 7003 "$secs" 20 \
		>"$STATE/tcp.send" 2>&1 &
}

# traffic_check MAX_GAP_MS [MAX_LOSS_PERMILLE]: both streams' longest gap at most MAX_GAP_MS (and
# their loss at most MAX_LOSS_PERMILLE, default no limit), TCP's sha256 as sent.
traffic_check() {
	local dir gap lost sent got want
	wait
	for dir in up down; do
		say "stream $dir: $(cat "$STATE/st.$dir")"
		gap=$(sed -n 's/.*gap_ms=\([0-9]*\).*/\1/p' "$STATE/st.$dir")
		lost=$(sed -n 's/.*lost=\([0-9]*\).*/\1/p' "$STATE/st.$dir")
		sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' "$STATE/st.$dir")
		[ -n "$gap" ] && [ "$sent" -gt 1000 ] || fail "stream $dir: $(cat "$STATE/st.$dir")"
		[ "$gap" -le "$1" ] || fail "stream $dir: a gap of $gap ms (at most $1)"
		[ -z "${2:-}" ] || [ $((lost * 1000)) -le $((sent * $2)) ] ||
			fail "stream $dir: $lost of $sent lost (at most $2 per mille)"
	done
	want=$(sed -n 's/.*sha256=\([0-9a-f]*\).*/\1/p' "$STATE/tcp.send")
	got=$(sed -n 's/.*sha256=\([0-9a-f]*\).*/\1/p' "$STATE/tcp.recv")
	say "TCP: $(cat "$STATE/tcp.recv")"
	[ -n "$want" ] && [ "$want" = "$got" ] || fail "TCP sha256: sent $want, received $got"
}

# switch KIND: A goes away (KIND) under traffic and comes back; traffic moves to B and back.
switch() {
	baseline
	traffic_start 10
	sleep 2
	mp_down A "$1"
	wait_state a 0 down 3
	wait_state a 1 active 1
	sleep 2
	mp_up A
	# A braid server answers probes every 0.5 s, a stock one initiations every second; then the
	# up-delay (2 s).
	wait_state a 0 active 10
	traffic_check 1000
	say "a after failback: $(path_line a 0)"
}

admin_down() { switch admin; }
carrier_loss() { switch carrier; }
blackhole() { switch blackhole; }

# A failback loses nothing. A is black-holed under traffic (a stock server is noticed silent
# only while it has something to answer), then, with B carrying fresh traffic, A comes back.
failback_lossless() {
	baseline
	traffic_start 3
	sleep 1
	mp_down A blackhole
	wait_state a 0 down 3
	wait
	traffic_start 10
	sleep 1
	mp_up A
	wait_state a 0 active 8
	# Nothing should be lost; the bounds leave room for a loaded machine (bench/failover.sh
	# measures).
	traffic_check 250 10
}

late_uplink() {
	baseline
	hx a ip link del cB || fail "deleting cB"
	wait_state a 1 down 3
	link_add a cB r rB
	mp_addrs B
	mp_routes B
	wait_for 3 "path B to come back" state_is_not a 1 down
	say "a, B made again: $(path_line a 1)"
	wait_state a 1 standby 6
	ping_all a 192.0.2.2 5
}

# nft_loss UPLINK PERCENT|off: r drops PERCENT of what it forwards from or to the uplink, at random.
nft_loss() {
	hx r nft delete table inet "mploss$1" 2>/dev/null || true
	[ "$2" = off ] || nft_table r "inet mploss$1" forward \
		"type filter hook forward priority -5" \
		"iifname \"r$1\" numgen random mod 100 < $2 drop" \
		"oifname \"r$1\" numgen random mod 100 < $2 drop" || fail "loss on uplink $1"
}

redundant() {
	baseline
	mp_set multipath redundant
	ping_all a 192.0.2.2 5
	nft_loss A 5
	nft_loss B 5
	traffic_start 10
	if is_braid b; then
		traffic_check 2000 15
	else
		# A stock server sends by one path only: its direction keeps the uplink's 5%.
		wait
		say "stream up: $(cat "$STATE/st.up")"
		say "stream down (stock server, one path): $(cat "$STATE/st.down")"
		local lost sent
		lost=$(sed -n 's/.*lost=\([0-9]*\).*/\1/p' "$STATE/st.up")
		sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' "$STATE/st.up")
		[ $((lost * 1000)) -le $((sent * 15)) ] || fail "up: $lost of $sent lost"
	fi
	nft_loss A off
	nft_loss B off
}

learned_paths() {
	is_braid b || { say "wireguard-go keeps one endpoint: nothing to check"; return 0; }
	ping_all a 192.0.2.2 5
	local lines
	lines=$(printf 'get=1\n\n' | hx b timeout 5 "$PY" "$NETTOOL" uapi \
		/var/run/wireguard/wg0.sock | grep '^braid_path=')
	say "b: $lines"
	grep -q "remote=198.51.100.2:10001,state=active" <<<"$lines" || fail "b: no active path to A"
	grep -q "remote=198.51.100.130:10001" <<<"$lines" || fail "b: no path to B"
}

nat_on_b() {
	baseline
	mp_nat B on
	mp_down A admin
	wait_state a 0 down 3
	ping_all a 192.0.2.2 10
	ping_all b 192.0.2.1 10
	say "b sees a at $(peer_field b a endpoint) (NAT on B)"
	[[ "$(peer_field b a endpoint)" == 203.0.113.1:* ]] ||
		fail "b's endpoint for a is not r's NAT address"
	mp_up A
	wait_state a 0 active 10
	mp_nat B off
}

ipv6_underlay() {
	baseline
	peer_set a b endpoint "$SERVER6"
	mp_set replace-paths path cA path cB,prio=1
	ping_all a 2001:db8:2::2 5
	wait_state a 0 active 3
	say "a: $(path_line a 0)"
	path_line a 0 | grep -q 'remote=\[2001:db8:3::2\]:10002' || fail "path A is not IPv6"
	traffic_start 6
	sleep 2
	mp_down A admin
	wait_state a 0 down 3
	traffic_check 1000
	mp_up A
	wait_state a 0 active 10
}

# What a sends to b's WireGuard port on uplink B (neighbour discovery is not the tunnel's).
standby_sent() {
	hx a nft list table inet mpoff | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p'
}

mode_off() {
	baseline
	mp_set multipath off
	local sent
	sleep 1
	hx a nft delete table inet mpoff 2>/dev/null || true
	nft_table a "inet mpoff" out "type filter hook output priority 0" \
		'oifname "cB" udp dport 10002 counter' || fail "a counter on cB"
	ping_all a 192.0.2.2 20
	ping_all b 192.0.2.1 20
	sent=$(standby_sent)
	hx a nft delete table inet mpoff
	say "a sent $sent datagrams to b by cB while off"
	[ "$sent" = 0 ] || fail "the standby uplink carried $sent of the tunnel's datagrams"
	[ "$(peer_field b a endpoint)" = 198.51.100.2:10001 ] || fail "b's endpoint: $(peer_field b a endpoint)"
}

# path_bytes HOST SLOT FIELD: a counter of the SLOT-th path (tx_bytes, rx_bytes).
path_bytes() { path_line "$1" "$2" | sed -n "s/.*,$3=\([0-9]*\).*/\1/p"; }

aggregate_tcp() {
	local sent got tx0 tx1 reorder even send recv
	baseline
	mp_rate A both 40mbit
	mp_rate B both 20mbit
	mp_emulate A "$LINKEM" emAu:delay=5 emAd:delay=5 || fail "link emulator on A"
	mp_emulate B "$LINKEM" emBu:delay=15,jitter=2 emBd:delay=15,jitter=2 ||
		fail "link emulator on B"
	mp_set multipath aggregate
	ping_all a 192.0.2.2 5
	if is_braid b; then
		wait_for 5 "a to aggregate" far_kind_is yes
	else
		wait_for 8 "a to find b stock" far_kind_is no
	fi
	reap a b
	head -c 24000000 /dev/urandom >"$STATE/agg.in"
	hx b timeout 60 "$PY" "$NETTOOL" tcp-recv 192.0.2.2 7010 "$STATE/agg.out" \
		"$STATE/agg.ready" >/dev/null 2>&1 &
	recv=$!
	wait_for 5 "the receiver" test -e "$STATE/agg.ready"
	hx a timeout 60 "$PY" "$NETTOOL" tcp-send 192.0.2.2 7010 "$STATE/agg.in" &
	send=$!
	sleep 1.5
	mp_down A admin
	sleep 2
	mp_up A
	# Not a bare wait: the link emulators run in the background too.
	wait "$send" && wait "$recv" || fail "the transfer did not finish"
	sent=$(sha256sum <"$STATE/agg.in") got=$(sha256sum <"$STATE/agg.out")
	say "TCP through A down and back: $(stat -c %s "$STATE/agg.out") bytes"
	[ "$sent" = "$got" ] || fail "sha256: sent ${sent%% *}, received ${got%% *}"
	tx0=$(path_bytes a 0 tx_bytes) tx1=$(path_bytes a 1 tx_bytes)
	say "a: $(path_line a 0)"
	say "a: $(path_line a 1)"
	if is_braid b; then
		reorder=$(printf 'get=1\n\n' | hx b timeout 5 "$PY" "$NETTOOL" uapi \
			/var/run/wireguard/wg0.sock | sed -n 's/^braid_reorder=//p')
		say "b reorders: $reorder"
		[ "$tx0" -gt 2000000 ] && [ "$tx1" -gt 2000000 ] ||
			fail "both uplinks should carry a share: A $tx0, B $tx1 bytes"
		[[ "$reorder" == *released=[1-9]* ]] || fail "b released nothing from reordering"
		# B's delay floor is about 8 ms above A's (13 ms against 5): b holds what A brings so.
		even=$(sed -n 's/.*even_us=\([0-9]*\).*/\1/p' <<<"$reorder")
		[ "${even:-0}" -ge 5000 ] && [ "$even" -le 15000 ] ||
			fail "b should hold what A brings about 8 ms for B's: even_us=${even:-none}"
		# b has no mode of its own: it aggregates as a does, so a reorders what b sends.
		printf 'get=1\n\n' | hx a timeout 5 "$PY" "$NETTOOL" uapi /var/run/wireguard/wg0.sock |
			grep -q '^braid_reorder=' || fail "a keeps no reorder buffer for what b sends"
	else
		[ "$(far_kind)" = no ] || fail "b is not known as stock"
	fi
	mp_emulate_stop A
	mp_emulate_stop B
	mp_rate A both off
	mp_rate B both off
}

run_gate "setup: client with 2 uplinks, router, server; failover on cA, cB" setup 40
run_case "failover: A active, B standby, the far end's kind known" failover_steady 30
run_case "failback to A loses nothing" failback_lossless 40
run_case "A admin down under traffic: moves to B and back, TCP intact" admin_down 60
run_case "A loses carrier under traffic: moves to B and back, TCP intact" carrier_loss 60
run_case "A black-holed silently under traffic: moves to B and back, TCP intact" blackhole 60
run_case "an uplink that appears later comes up" late_uplink 30
run_case "redundant: 5% loss on each uplink leaves little" redundant 40
run_case "learned paths on the server" learned_paths 20
run_case "NAT on uplink B: failover through it" nat_on_b 60
run_case "IPv6 underlays: failover" ipv6_underlay 40
run_case "off: WireGuard's behaviour, nothing on the standby uplink" mode_off 40
run_case "aggregate: TCP over 40 + 20 Mbit/s, A down and back, sha256 intact" aggregate_tcp 90
netns_finish
