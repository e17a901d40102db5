#!/bin/bash
# SPDX-License-Identifier: MIT
# uapi.sh IMPL_A IMPL_B: the daemon contract around /var/run/wireguard/IFNAME.sock, checked on
# both hosts so that each implementation of the pair is exercised: malformed requests, idle and
# slow clients, socket permissions, a stale socket, a second daemon for a busy name, SIGTERM, and
# `ip link del` ending the daemon.
#
#	  host a (IMPL_A)                                   host b (IMPL_B)
#	  wg0 192.0.2.1/24 2001:db8:2::1/64                  wg0 192.0.2.2/24 2001:db8:2::2/64
#	  veth0 198.51.100.1/24 ---------------------------- veth0 198.51.100.2/24
#	        2001:db8:1::1/64    UDP 10001 <-> 10002           2001:db8:1::2/64
#
# Malformed `set` requests must be answered "errno=N" with N != 0 (wireguard-go answers -22 or
# -71); an unknown operation or binary garbage may be answered errno != 0 or by closing the
# connection (wireguard-go closes), never errno=0. Afterwards the configuration is unchanged (a
# throwaway peer that a half-valid request created is removed first) and the tunnel works.
# A client that sends half a request and waits must not block other clients: checked on braid
# hosts only, because wireguard-go 0.0.20220316 holds its configuration lock while it reads a set
# request (a `wg show` waits for the slow client), a limitation braid's design rules out.

. "$(dirname "$0")/cases.sh"
netns_init "$@"
two_hosts

SOCK=/var/run/wireguard/wg0.sock
JUNK_HEX=0000000000000000000000000000000000000000000000000000000000000001
JUNK_B64=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=

setup() {
	two_hosts_up
	ping_ok a 192.0.2.2
}

# uapi HOST FILE [eof]: send FILE's bytes to HOST's wg0 socket, print the reply.
uapi() {
	hx "$1" timeout 10 "$PY" "$NETTOOL" uapi "$SOCK" 3 ${3:-} <"$2"
}

reply_errno() { sed -n 's/^errno=//p' | head -n 1; }

malformed() {
	local h=$1 before after i reply e
	local -a bad=(
		'set=1\nlisten_port=notanumber\n\n'
		'set=1\nlisten_port=70000\n\n'
		'set=1\nprivate_key=zz\n\n'
		'set=1\nprivate_key=0123\n\n'
		'set=1\nfwmark=abc\n\n'
		'set=1\nbogus_key=1\n\n'
		'set=1\nnoequals\n\n'
		'set=1\nreplace_peers=maybe\n\n'
		'set=1\nendpoint=198.51.100.200:5\n\n'
		'set=1\npublic_key=ggg\n\n'
		"set=1\npublic_key=$JUNK_HEX\nallowed_ip=192.0.2.300/32\n\n"
		"set=1\npublic_key=$JUNK_HEX\nallowed_ip=192.0.2.0/33\n\n"
		"set=1\npublic_key=$JUNK_HEX\nendpoint=nonsense\n\n"
		"set=1\npublic_key=$JUNK_HEX\nendpoint=198.51.100.200\n\n"
		"set=1\npublic_key=$JUNK_HEX\npersistent_keepalive_interval=-1\n\n"
		"set=1\npublic_key=$JUNK_HEX\nprotocol_version=2\n\n"
		'get=1\nx\n\n'
	)
	local -a odd=(
		'get=2\n\n'
		'garbage\n\n'
		'\n\n'
	)
	before=$(wgh "$h" showconf wg0) || fail "wg showconf on $h"
	for i in "${!bad[@]}"; do
		printf "${bad[$i]}" >"$STATE/req"
		reply=$(uapi "$h" "$STATE/req" 2>&1) || true
		e=$(echo "$reply" | reply_errno)
		say "$(printf '%-60s' "${bad[$i]:0:60}") -> errno=${e:-none}"
		[ -n "$e" ] && [ "$e" != 0 ] ||
			fail "request ${bad[$i]}: reply '$reply', want errno=<non-zero>"
		daemon_alive "$h" || fail "daemon on $h died after ${bad[$i]}"
	done
	for i in "${!odd[@]}"; do
		printf "${odd[$i]}" >"$STATE/req"
		reply=$(uapi "$h" "$STATE/req" 2>&1) || true
		e=$(echo "$reply" | reply_errno)
		say "$(printf '%-60s' "${odd[$i]}") -> errno=${e:-none (closed)}"
		[ "$e" != 0 ] || fail "request ${odd[$i]} answered errno=0"
		daemon_alive "$h" || fail "daemon on $h died after ${odd[$i]}"
	done
	head -c 8192 /dev/urandom >"$STATE/req"
	reply=$(uapi "$h" "$STATE/req" eof 2>&1) || true
	e=$(echo "$reply" | reply_errno)
	say "8 KB of random bytes -> errno=${e:-none (closed)}"
	[ "$e" != 0 ] || fail "random bytes answered errno=0"
	{ printf 'set=1\nlisten_port='; head -c 1048576 /dev/zero | tr '\0' 7; printf '\n\n'; } \
		>"$STATE/req"
	reply=$(uapi "$h" "$STATE/req" 2>&1) || true
	e=$(echo "$reply" | reply_errno)
	say "a 1 MB line -> errno=${e:-none (closed)}"
	[ "$e" != 0 ] || fail "a 1 MB listen_port answered errno=0"
	printf 'get=1\n' >"$STATE/req"
	uapi "$h" "$STATE/req" eof >/dev/null 2>&1 || true
	daemon_alive "$h" || fail "daemon on $h died on malformed input"
	wgh "$h" set wg0 peer "$JUNK_B64" remove || fail "wg set on $h after malformed input"
	after=$(wgh "$h" showconf wg0) || fail "wg showconf on $h after malformed input"
	[ "$before" = "$after" ] ||
		fail "configuration of $h changed: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"
	ping_all a 192.0.2.2 3
	ping_all b 192.0.2.1 3
}

malformed_a() { malformed a; }
malformed_b() { malformed b; }

idle_clients() {
	local h pids="" i
	for h in a b; do
		for i in 1 2 3; do
			hx "$h" timeout 20 "$PY" "$NETTOOL" uapi-idle "$SOCK" 6 >/dev/null 2>&1 &
			pids="$pids $!"
		done
	done
	sleep 0.5
	for h in a b; do
		hx "$h" timeout 3 wg show wg0 >/dev/null || fail "wg show on $h stalled behind idle clients"
		hx "$h" timeout 3 wg set wg0 listen-port "$((10000 + $(host_num "$h")))" ||
			fail "wg set on $h stalled behind idle clients"
	done
	ping_all a 192.0.2.2 3
	for h in a b; do
		if [ "$(impl_label "$(impl_of "$h")")" = wireguard-go ]; then
			say "host $h: slow-client check skipped (wireguard-go serializes set requests)"
			continue
		fi
		hx "$h" timeout 20 "$PY" "$NETTOOL" uapi-idle "$SOCK" 6 'set=1\nlisten_po' \
			>/dev/null 2>&1 &
		pids="$pids $!"
		sleep 0.3
		hx "$h" timeout 3 wg show wg0 >/dev/null ||
			fail "wg show on $h stalled behind a client that sent half a request"
		say "host $h: wg show answered while a client sat on half a set request"
	done
	ping_all b 192.0.2.1 3
	for i in $pids; do kill "$i" 2>/dev/null; done
	wait
	for h in a b; do daemon_alive "$h" || fail "daemon on $h died"; done
}

socket_life() {
	local h mode
	for h in a b; do
		mode=$(hx "$h" stat -c %a "$SOCK")
		say "host $h: $SOCK mode $mode"
		[ $((8#$mode & 8#077)) = 0 ] || fail "$SOCK on $h is mode $mode: group/others may connect"
		# A stale socket file (no listener) is replaced.
		hx "$h" "$PY" "$NETTOOL" unix-stale /var/run/wireguard/wg1.sock
		hx "$h" test -S /var/run/wireguard/wg1.sock || fail "could not make a stale socket"
		daemon_start "$h" wg1
		hx "$h" ip link show wg1 >/dev/null || fail "no wg1 on $h"
		# A second daemon for a name in use fails, and leaves the first one working.
		if WG_PROCESS_FOREGROUND=1 hx "$h" timeout 5 "$(impl_of "$h")" wg1 \
			>>"$STATE/$h.log" 2>&1 </dev/null; then
			fail "a second daemon for wg1 on $h succeeded"
		fi
		hx "$h" timeout 3 wg show wg1 >/dev/null || fail "first wg1 daemon on $h no longer answers"
		daemon_stop "$h" wg1 TERM
		wait_for 3 "wg1's socket on $h to be removed after SIGTERM" \
			hx "$h" test ! -e /var/run/wireguard/wg1.sock
		wait_for 3 "wg1 on $h to disappear after SIGTERM" not_link "$h" wg1
	done
	ping_all a 192.0.2.2 2
}

link_del() {
	local h pid
	for h in a b; do
		pid=$(daemon_pid "$h" wg0)
		hx "$h" ip link del wg0 || fail "ip link del wg0 on $h"
		wait_for 5 "the daemon on $h to exit after ip link del wg0" not_running "$pid"
		wait_for 2 "the socket on $h to be removed" hx "$h" test ! -e "$SOCK"
		rm -f "$STATE/$h.wg0.pid"
		say "host $h: daemon $pid exited, socket removed"
	done
}

run_gate "setup: two hosts, tunnel up" setup 30
run_case "malformed UAPI requests to A: errno != 0, config unchanged, tunnel fine" malformed_a 60
run_case "malformed UAPI requests to B: errno != 0, config unchanged, tunnel fine" malformed_b 60
run_case "idle UAPI clients stall neither wg nor the tunnel" idle_clients 40
run_case "socket mode 0700-ish; stale socket replaced; busy name refused; SIGTERM cleans up" \
	socket_life 40
run_case "ip link del wg0 ends the daemon and removes its socket" link_del 30
netns_finish
