#!/bin/bash
# SPDX-License-Identifier: MIT
# lifecycle.sh IMPL_A IMPL_B: what changes while a tunnel runs: persistent keepalive, removing and
# re-adding a peer, new private keys, a new listen port, preshared keys (matching and not), an
# endpoint that roams to another address, and a daemon killed and started again.
#
#	  host a (IMPL_A)                                   host b (IMPL_B)
#	  wg0 192.0.2.1/24 2001:db8:2::1/64                  wg0 192.0.2.2/24 2001:db8:2::2/64
#	  veth0 198.51.100.1/24 ---------------------------- veth0 198.51.100.2/24
#	        2001:db8:1::1/64    UDP 10001 <-> 10002           2001:db8:1::2/64
#	  veth1 203.0.113.1/24 ----------------------------- veth1 (down; B roams here with
#	                                                           203.0.113.2/24, and back)

. "$(dirname "$0")/cases.sh"
netns_init "$@"
two_hosts

setup() {
	two_hosts_up
	link_add a veth1 b veth1
	hx b ip link set veth1 down
	addr_add a veth1 203.0.113.1/24
	ping_ok a 192.0.2.2
}

# B's peer A is re-created with persistent-keepalive 1: with no traffic at all, B must handshake
# and then send a 32-byte keepalive every second; turned off, they stop.
keepalive() {
	peer_set b a remove
	peer_set b a allowed-ips 192.0.2.1/32,2001:db8:2::1/128 endpoint 198.51.100.1:10001 \
		persistent-keepalive 1
	wait_for 5 "a handshake started by B's persistent keepalive (no traffic)" \
		test_handshake_done b a
	local v rx0 rx1 tx0 tx1
	v=$(peer_field b a keepalive)
	[ "$v" = 1 ] || fail "B shows persistent keepalive '$v', want 1"
	sleep 0.5
	rx0=$(peer_field a b rx) tx0=$(peer_field b a tx)
	sleep 3.5
	rx1=$(peer_field a b rx) tx1=$(peer_field b a tx)
	say "idle 3.5 s with keepalive 1: A rx from B +$((rx1 - rx0)), B tx +$((tx1 - tx0))"
	[ $((rx1 - rx0)) -ge 64 ] || fail "A received $((rx1 - rx0)) bytes from B in 3.5 s, want >= 64"
	[ $((tx1 - tx0)) -ge 64 ] || fail "B sent $((tx1 - tx0)) bytes in 3.5 s, want >= 64"
	peer_set b a persistent-keepalive off
	v=$(peer_field b a keepalive)
	[ "$v" = off ] || fail "B shows persistent keepalive '$v' after off"
	sleep 1.2
	rx0=$(peer_field a b rx)
	sleep 2.5
	rx1=$(peer_field a b rx)
	say "idle 2.5 s with keepalive off: A rx from B +$((rx1 - rx0))"
	[ $((rx1 - rx0)) -le 32 ] || fail "A still received $((rx1 - rx0)) bytes from B with keepalive off"
	ping_all a 192.0.2.2 2
}

test_handshake_done() { [ "$(peer_field "$1" "$2" handshake)" != 0 ]; }

remove_readd() {
	peer_set a b remove
	has_peer a b && fail "B still listed on A after remove"
	[ -z "$(wgh a show wg0 peers)" ] || fail "A lists peers after removing its only one"
	ping_none a 192.0.2.2
	ping_none b 192.0.2.1
	peer_add_default a b endpoint4
	has_peer a b || fail "B not listed on A after adding it again"
	ping_all a 192.0.2.2 3
	ping_all b 192.0.2.1 3
}

# new_key HOST: a new key for HOST (files updated); prints the old public key.
new_key() {
	cat "$STATE/$1.pub"
	(umask 077 && wg genkey >"$STATE/$1.key")
	wg pubkey <"$STATE/$1.key" >"$STATE/$1.pub"
}

private_keys() {
	local old v
	old=$(new_key a)
	wgh a set wg0 private-key "$STATE/a.key" || fail "wg set private-key on A"
	v=$(wgh a show wg0 public-key)
	[ "$v" = "$(pub a)" ] || fail "A's public key is '$v' after the change, want $(pub a)"
	# B still expects A's old key: the sessions made with it must be gone, and no new one made.
	ping_none a 192.0.2.2
	wgh b set wg0 peer "$old" remove || fail "removing A's old key on B"
	peer_add_default b a endpoint4
	# B's new peer starts its own handshake at once (A would wait REKEY_TIMEOUT, 5 s, after the
	# initiation B rejected).
	ping_ok b 192.0.2.1
	ping_all a 192.0.2.2 3
	old=$(new_key b)
	wgh b set wg0 private-key "$STATE/b.key" || fail "wg set private-key on B"
	ping_none b 192.0.2.1
	wgh a set wg0 peer "$old" remove || fail "removing B's old key on A"
	peer_add_default a b endpoint4
	ping_ok a 192.0.2.2
	ping_all b 192.0.2.1 3
	ping_all a 2001:db8:2::2 3
}

listen_port() {
	local v
	wgh a set wg0 listen-port 10011 || fail "wg set listen-port"
	v=$(wgh a show wg0 listen-port)
	[ "$v" = 10011 ] || fail "A's listen port is '$v', want 10011"
	hx a ss -Huln >"$STATE/ss.txt"
	grep -q ':10011 ' "$STATE/ss.txt" || fail "nothing listens on UDP 10011 on A: $(cat "$STATE/ss.txt")"
	grep -q ':10001 ' "$STATE/ss.txt" && fail "A still listens on UDP 10001: $(cat "$STATE/ss.txt")"
	ping_all a 192.0.2.2 3
	v=$(peer_field b a endpoint)
	say "B's endpoint for A: $v"
	[ "$v" = 198.51.100.1:10011 ] || fail "B's endpoint for A is '$v', want 198.51.100.1:10011"
	ping_all b 192.0.2.1 3
	wgh a set wg0 listen-port 10001 || fail "wg set listen-port back"
	ping_all a 192.0.2.2 2
	v=$(peer_field b a endpoint)
	[ "$v" = 198.51.100.1:10001 ] || fail "B's endpoint for A is '$v', want 198.51.100.1:10001"
}

# B's peer is re-created each time so that B must make a new handshake.
readd_b_with_psk() {
	peer_set b a remove
	peer_set b a allowed-ips 192.0.2.1/32,2001:db8:2::1/128 endpoint 198.51.100.1:10001 \
		preshared-key "$1"
}

preshared_keys() {
	(umask 077 && wg genpsk >"$STATE/psk1" && wg genpsk >"$STATE/psk2")
	# A's existing peer gets the key: the next handshake (started by B) must use it.
	peer_set a b preshared-key "$STATE/psk1"
	readd_b_with_psk "$STATE/psk1"
	ping_ok b 192.0.2.1
	ping_all a 192.0.2.2 2
	local v
	v=$(peer_field a b psk)
	[ "$v" = "$(cat "$STATE/psk1")" ] || fail "A shows preshared key '$v', not the one set"
	# Different keys: no session.
	readd_b_with_psk "$STATE/psk2"
	ping_none b 192.0.2.1
	v=$(peer_field b a handshake)
	[ "$v" = 0 ] || fail "B completed a handshake with a mismatched preshared key"
	# The right key on B's existing peer: its handshake retries (every 5 s) now succeed.
	peer_set b a preshared-key "$STATE/psk1"
	ping_ok b 192.0.2.1 -w 15
	# No preshared key on either side again.
	peer_set a b preshared-key /dev/null
	readd_b_with_psk /dev/null
	v=$(peer_field a b psk)
	[ "$v" = "(none)" ] || fail "A shows preshared key '$v' after removing it"
	ping_ok b 192.0.2.1
	ping_all a 192.0.2.2 2
}

# B's underlay moves from veth0 (198.51.100.2) to veth1 (203.0.113.2), as a laptop going from one
# network to another: veth0 goes down, veth1 comes up, B's route to A's unchanged endpoint
# 198.51.100.1 now leaves through veth1 (via A's 203.0.113.1). This happens during a ping from B;
# A must take B's new endpoint from B's authenticated packets, and answer there.
# Why not simply a new address on veth0: wireguard-go (0.0.20220316) keeps using the source
# address it last used towards a peer and drops it only when sending fails with EINVAL or when the
# route to the peer changes interface; with the address deleted, sends fail with ENETUNREACH for
# good. A change of link is what both implementations must handle.
roaming() {
	ping_all a 192.0.2.2 2
	hx b timeout 20 ping -n -i 0.2 -w 6 192.0.2.1 >"$STATE/roam-ping.txt" 2>&1 &
	local bg=$! v
	trap roam_restore EXIT	# put b back even when the case fails
	sleep 1.5
	hx b ip link set veth0 down
	hx b ip link set veth1 up
	addr_add b veth1 203.0.113.2/24
	hx b ip route add 198.51.100.0/24 via 203.0.113.1 dev veth1
	say "B moved from veth0 198.51.100.2 to veth1 203.0.113.2 during a ping from B"
	wait_for 6 "A's endpoint for B to become 203.0.113.2:10002" \
		test_endpoint a b 203.0.113.2:10002
	wait "$bg" || true
	v=$(grep -c 'bytes from' "$STATE/roam-ping.txt" || true)
	say "ping from B across the move: $v replies ($(grep transmitted "$STATE/roam-ping.txt"))"
	[ "$v" -ge 15 ] || fail "only $v replies to B's ping across the move"
	ping_all a 192.0.2.2 3
	ping_all a 2001:db8:2::2 3
	# And back.
	roam_restore
	ping_ok b 192.0.2.1
	wait_for 5 "A's endpoint for B to become 198.51.100.2:10002 again" \
		test_endpoint a b 198.51.100.2:10002
	ping_all a 192.0.2.2 2
}

roam_restore() {
	trap - EXIT
	hx b ip route del 198.51.100.0/24 via 203.0.113.1 dev veth1 2>/dev/null || true
	hx b ip link set veth0 up || true
	hx b ip link set veth1 down || true
	hx b ip -6 addr replace 2001:db8:1::2/64 dev veth0 nodad || true
}

test_endpoint() { [ "$(peer_field "$1" "$2" endpoint)" = "$3" ]; }

# wait_ping HOST DST SECONDS: replies resume within SECONDS; says after how long.
wait_ping() {
	local t0=$SECONDS
	hx "$1" timeout $(($3 + 5)) ping -n -q -c 1 -i 0.5 -w "$3" "$2" >"$STATE/ping.out" 2>&1 ||
		fail "no reply from $2 to $1 within $3 s: $(tr '\n' ' ' <"$STATE/ping.out")"
	say "$1 -> $2: replies after $((SECONDS - t0)) s"
}

# B dies without a word (SIGKILL). A still holds a session B has forgotten; A's data goes
# unanswered, so A starts a new handshake after KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (15 s).
restart_b() {
	ping_all a 192.0.2.2 2
	daemon_stop b wg0 KILL
	wait_for 5 "B's wg0 to disappear with its daemon" not_link b wg0
	wg_up b
	peer_add_default b a endpoint4
	wait_ping a 192.0.2.2 30
	ping_all b 192.0.2.1 3
	ping_all a 2001:db8:2::2 3
}

# A stops (SIGTERM) and starts again; the restarted side sends first and handshakes at once.
restart_a() {
	daemon_stop a wg0 TERM
	wait_for 5 "A's wg0 to disappear with its daemon" not_link a wg0
	hx a test -e /var/run/wireguard/wg0.sock && fail "A's socket is still there after SIGTERM"
	wg_up a
	peer_add_default a b endpoint4
	wait_ping a 192.0.2.2 8
	ping_all b 192.0.2.1 3
}

run_gate "setup: two hosts, tunnel up" setup 30
run_case "persistent keepalive: handshake with no traffic, 1/s while idle, stops when off" \
	keepalive 40
run_case "removing a peer stops its traffic; adding it again restores it" remove_readd 40
run_case "new private keys on both sides: old sessions end, traffic after peers updated" \
	private_keys 40
run_case "new listen port: bound, reported, the peer follows; and back" listen_port 40
run_case "preshared keys: matching works, mismatched gives no session, fixing it recovers" \
	preshared_keys 60
run_case "B killed and restarted: A's traffic resumes after its next handshake (<= 30 s)" \
	restart_b 60
run_case "A stopped and restarted, sending first: traffic resumes at once" restart_a 40
run_case "roaming: B moves to another link and address during a ping, A follows" roaming 40
netns_finish
