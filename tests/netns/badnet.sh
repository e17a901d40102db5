#!/bin/bash
# SPDX-License-Identifier: MIT
# badnet.sh IMPL_A IMPL_B: 50 MB TCP transfers, both ways at once, checked by sha256, through a bad
# underlay: loss, reordering, duplication, corruption, a link outage, a small underlay MTU and a
# rate-limited path with delay. Each WireGuard peer's endpoint is the relay (tests/tools/relay.c),
# a UDP impairment relay in a middle host; a and b have no route to each other at all.
#
#	host a (IMPL_A)          host r (relay; no forwarding)             host b (IMPL_B)
#	wg0 192.0.2.1/24         ra 198.51.100.3/24  rb 203.0.113.3/24     wg0 192.0.2.2/24
#	veth0 198.51.100.1/24 -- ra 2001:db8:1::3/64 rb 2001:db8:3::3/64 -- veth0 203.0.113.2/24
#	      2001:db8:1::1/64   UDP 20001 (a side)  UDP 20002 (b side)          2001:db8:3::2/64
#	a's peer b: endpoint 198.51.100.3:20001 or [2001:db8:1::3]:20001
#	b's peer a: endpoint 203.0.113.3:20002 or [2001:db8:3::3]:20002
#
# Every case starts a fresh relay with its own impairments (seed printed; RELAY_SEED=N replays the
# relay's decisions, though not the timing of the traffic that meets them) and, besides the two
# sha256, checks the relay's bookkeeping against the receivers' rx_bytes (`wg show dump`), in each
# direction: a receiver counts whole messages it accepted (handshakes, data, keepalives; as the
# kernel and wireguard-go do, neither replays nor failed authentication), so its rx_bytes must
# grow by exactly the bytes the relay delivered intact and not as a second copy ("clean_bytes").
#   - More than that: the receiver accepted a corrupted datagram or a duplicate. One exception,
#     allowed for: a corruption inside the mac2 field of a handshake message, which is only
#     checked under load (the relay logs every corruption's offset and the message type byte).
#   - Less than that: a datagram the relay delivered cleanly was not accepted. The kernels may
#     lose datagrams after the relay's sendto(): the relay's veth towards the receiver (TX
#     dropped, e.g. while the outage takes its link down) and the receiving host (UDP/IP receive
#     errors, reassembly failures, RX dropped). When they lost none, rx_bytes must equal
#     clean_bytes; otherwise (wireguard-go's default socket buffers overflow) rx_bytes may fall
#     short by at most that many datagrams. Anything else was lost inside the daemon or wrongly
#     rejected, and fails the case. (Datagrams queued on the relay host while ARP resolves b or
#     a again after the outage could also be lost unseen: the kernel counts those only
#     machine-wide.)
# A braid receiver also prints its drop counters in `get` (braid_drop_REASON=N, non-zero ones
# only): in every case, its authentication and format drops (malformed, bad_mac1,
# bad_cookie_reply, unknown_index, decrypt_failed, handshake_failed) must have grown by at least
# the datagrams the relay corrupted (less the mac2 exception and the kernel's drops), and its
# replay drops (replay, handshake_replay, handshake_failed) by at least the duplicates: every
# corrupted datagram was dropped by authentication and counted, every duplicate by the replay
# checks. A braid without these keys gets a note instead.
#
# Transfer time: one case moves 2 x 50 MB through a single-threaded userspace relay and two
# userspace daemons on a shared 2-core machine; each case prints its time and throughput.
#
# Environment: RELAY=path (default build/tools/relay; if missing, it is compiled from
# tests/tools/relay.c into the state directory), RELAY_SEED=N, BADNET_MB=50 (size of each
# transfer).

. "$(dirname "$0")/cases.sh"
netns_init "$@"

ROOT=$(cd "$NETNS_DIR/../.." && pwd)
MB=${BADNET_MB:-50}
RELAY=${RELAY:-$ROOT/build/tools/relay}
if [ ! -x "$RELAY" ]; then
	echo "$T: no relay at $RELAY: compiling tests/tools/relay.c into $STATE"
	${CC:-cc} -std=gnu11 -O2 -Wall -D_GNU_SOURCE -o "$STATE/relay" \
		"$ROOT/tests/tools/relay.c" || { echo "$T: cannot build the relay" >&2; exit 2; }
	RELAY="$STATE/relay"
fi

host_add a
host_add r
host_add b

setup() {
	errtrap
	local h
	link_add a veth0 r ra
	link_add r rb b veth0
	# Static IPv6 addresses must survive the outage case's link down and up.
	for h in a r b; do
		hx "$h" sysctl -qw net.ipv6.conf.all.keep_addr_on_down=1
		hx "$h" sysctl -qw net.ipv6.conf.default.keep_addr_on_down=1
	done
	addr_add a veth0 198.51.100.1/24
	addr_add a veth0 2001:db8:1::1/64
	addr_add r ra 198.51.100.3/24
	addr_add r ra 2001:db8:1::3/64
	addr_add r rb 203.0.113.3/24
	addr_add r rb 2001:db8:3::3/64
	addr_add b veth0 203.0.113.2/24
	addr_add b veth0 2001:db8:3::2/64
	hx r sysctl -qw net.ipv4.ip_forward=0
	hx r sysctl -qw net.ipv6.conf.all.forwarding=0
	# The relay knows a's and b's link addresses for good: no datagram waits for (or is lost
	# in) address resolution when b's link comes back after the outage.
	neigh_permanent ra a 198.51.100.1 2001:db8:1::1
	neigh_permanent rb b 203.0.113.2 2001:db8:3::2
	wg_up a
	wg_up b
	set_endpoints 4
	relay_start 4
	ping_ok a 192.0.2.2
	ping_all b 192.0.2.1 3
	# Nothing but the relay connects a and b.
	hx a timeout 5 ping -n -c 1 -W 1 203.0.113.2 >/dev/null 2>&1 && fail "a reaches b's underlay"
	head -c "${MB}M" /dev/urandom >"$STATE/data-a"
	head -c "${MB}M" /dev/urandom >"$STATE/data-b"
}

# neigh_permanent DEV HOST ADDR...: on r, permanent neighbour entries for HOST's veth0.
neigh_permanent() {
	local dev=$1 h=$2 mac a
	shift 2
	mac=$(hx "$h" ip -br link show dev veth0 | awk '{ print $3 }')
	for a in "$@"; do
		hx r ip neigh replace "$a" lladdr "$mac" dev "$dev" nud permanent ||
			fail "neighbour $a on r"
	done
}

# set_endpoints 4|6: each peer's endpoint is the relay's address on its own link.
set_endpoints() {
	local ea=198.51.100.3:20001 eb=203.0.113.3:20002
	if [ "$1" = 6 ]; then ea="[2001:db8:1::3]:20001" eb="[2001:db8:3::3]:20002"; fi
	peer_set a b allowed-ips 192.0.2.2/32,2001:db8:2::2/128 endpoint "$ea"
	peer_set b a allowed-ips 192.0.2.1/32,2001:db8:2::1/128 endpoint "$eb"
}

# --- the relay -------------------------------------------------------------------------------

# relay_start 4|6 [RULE...]: a fresh relay (the previous one stopped) with these impairments.
relay_start() {
	local fam=$1 seed
	shift
	relay_stop
	seed=${RELAY_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
	rm -f "$STATE/relay.stats"
	stat -c %s "$STATE/r.log" >"$STATE/relay.mark"
	if [ "$fam" = 6 ]; then
		set -- "[2001:db8:1::3]:20001" "[2001:db8:1::1]:10001" \
			"[2001:db8:3::3]:20002" "[2001:db8:3::2]:10002" "$@"
	else
		set -- 198.51.100.3:20001 198.51.100.1:10001 \
			203.0.113.3:20002 203.0.113.2:10002 "$@"
	fi
	# nsenter itself (not a function around it) in the background: $! is then the relay's pid.
	nsenter -t "$(holder_of r)" -m -n -- "$RELAY" -v -s "$seed" -S "$STATE/relay.stats" "$@" \
		>>"$STATE/r.log" 2>&1 </dev/null &
	echo $! >"$STATE/r.relay.pid"
	wait_for 5 "the relay to start" test -e "$STATE/relay.stats"
	say "relay (IPv$fam underlay, seed $seed): ${*:5}"
}

relay_stop() {
	local pid
	pid=$(cat "$STATE/r.relay.pid" 2>/dev/null) || return 0
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null &&
		wait_for 5 "the relay ($pid) to exit" not_running "$pid"
	rm -f "$STATE/r.relay.pid"
}

# relay_stats: the relay's counters now, two lines "relay: ab k=v..." and "relay: ba k=v...".
relay_stats() {
	local pid
	pid=$(cat "$STATE/r.relay.pid") || fail "no relay running"
	rm -f "$STATE/relay.stats"
	kill -USR1 "$pid" || fail "the relay ($pid) is gone"
	wait_for 5 "the relay's counters" test -e "$STATE/relay.stats"
	cat "$STATE/relay.stats"
}

# stat_of STATS DIR KEY
stat_of() {
	echo "$1" | awk -v d="$2" -v k="$3" '$2 == d { for (i = 3; i <= NF; i++) {
		split($i, kv, "="); if (kv[1] == k) print kv[2] } }'
}

# mac2_corruptions DIR: "COUNT BYTES" of the datagrams this relay run corrupted only inside a
# handshake message's mac2 (initiation: 148 bytes, mac2 at 132; response: 92 bytes, mac2 at 76).
# A receiver that is not under load ignores mac2, so these may be accepted.
mac2_corruptions() {
	tail -c +"$(($(cat "$STATE/relay.mark") + 1))" "$STATE/r.log" |
		awk -v d="$1" '$2 == d && $3 == "corrupt" {
			for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			if ((v["first"] == 1 && v["len"] == 148 && v["off"] >= 132) ||
			    (v["first"] == 2 && v["len"] == 92 && v["off"] >= 76)) {
				n++
				b += v["len"]
			}
		} END { print n + 0, b + 0 }'
}

# --- counters of the hosts -------------------------------------------------------------------

# rx_lost HOST: datagrams HOST's kernel dropped on the way in (before a daemon could see them).
rx_lost() {
	local k
	k=$(kernel_stat "$1" Udp:InErrors Udp6InErrors Ip:ReasmFails Ip6ReasmFails Ip:InDiscards \
		Ip6InDiscards)
	echo $((k + $(link_dropped "$1" veth0 RX)))
}

# link_dropped HOST DEV RX|TX: the "dropped" counter of one side of a link. A veth counts as TX
# dropped what it could not hand to its peer (while b's link is down in the outage case).
link_dropped() {
	hx "$1" ip -s link show dev "$2" 2>/dev/null |
		awk -v w="$3:" '$1 == w { getline; print $4 + 0; exit }'
}

# braid_drops HOST: the braid_drop_REASON=N lines braid adds to `get` (only non-zero ones; none
# from wireguard-go).
braid_drops() {
	printf 'get=1\n\n' | hx "$1" timeout 5 "$PY" "$NETTOOL" uapi /var/run/wireguard/wg0.sock 3 |
		grep '^braid_drop_' || true
}

# drops_delta HOST REASON...: how much the sum of these braid_drop_ counters grew during the
# case; nothing when the daemon printed no braid_drop_ line at the end.
drops_delta() {
	local h=$1
	shift
	grep -q . "$STATE/snap.end.$h.drops" || return 0
	cat "$STATE/snap.start.$h.drops" "$STATE/snap.end.$h.drops" |
		awk -F= -v want=" $* " -v n="$(wc -l <"$STATE/snap.start.$h.drops")" '
			{ r = substr($1, 12) }
			index(want, " " r " ") { if (NR <= n) s -= $2; else s += $2 }
			END { print s + 0 }'
}

# snapshot NAME: rx_bytes of both sides, kernel drops on the way to each, braid's drop counters.
snapshot() {
	local h
	for h in a b; do
		peer_field "$h" "$(other "$h")" rx >"$STATE/snap.$1.$h.rx"
		braid_drops "$h" >"$STATE/snap.$1.$h.drops"
	done
	# what can be lost after the relay's sendto() on the way to a (link ra) and to b (rb)
	echo $(($(rx_lost a) + $(link_dropped r ra TX))) >"$STATE/snap.$1.a.lost"
	echo $(($(rx_lost b) + $(link_dropped r rb TX))) >"$STATE/snap.$1.b.lost"
}

snap() { cat "$STATE/snap.$1.$2.$3"; }

# --- transfers and the bookkeeping check -----------------------------------------------------

# both_ways PORT [FAMILY]: 50 MB a -> b and 50 MB b -> a at the same time, over the tunnel's IPv4
# (default) or IPv6 addresses; each sha256 must match.
both_ways() {
	local port=$1 fam=${2:-4} da=192.0.2.2 db=192.0.2.1 pa pb ra=0 rb=0 t0 dt
	[ "$fam" = 6 ] && da=2001:db8:2::2 db=2001:db8:2::1
	t0=$(date +%s%N)
	tcp_transfer a b "$da" "$STATE/data-a" "$port" &
	pa=$!
	tcp_transfer b a "$db" "$STATE/data-b" "$((port + 1))" &
	pb=$!
	wait "$pa" || ra=$?
	wait "$pb" || rb=$?
	dt=$((($(date +%s%N) - t0) / 1000000))
	[ "$ra" = 0 ] || fail "transfer a -> b failed"
	[ "$rb" = 0 ] || fail "transfer b -> a failed"
	say "2 x $MB MB in $((dt / 1000)).$((dt % 1000 / 100)) s" \
		"($((2 * MB * 8 * 1000 / (dt > 0 ? dt : 1))) Mbit/s together)"
}

# stable_end: the relay's counters and both sides' rx_bytes, read again until the relay's
# counters did not move while rx_bytes was read (a keepalive may still be on its way).
stable_end() {
	local s1 s2 i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		s1=$(relay_stats)
		snapshot end
		s2=$(relay_stats)
		if [ "$s1" = "$s2" ]; then
			echo "$s2" >"$STATE/relay.final"
			return 0
		fi
		sleep 0.5
	done
	fail "the relay never went quiet"
}

# The braid_drop_ reasons a corrupted datagram can end in: its type or length (malformed), a
# handshake's mac1 or body (bad_mac1), a cookie reply (bad_cookie_reply), its receiver index
# (unknown_index), anything else in a data message (decrypt_failed); and a duplicate: replay,
# handshake_replay (a second initiation), handshake_failed (a second response).
AUTH_DROPS="malformed bad_mac1 bad_cookie_reply unknown_index decrypt_failed handshake_failed"
DUP_DROPS="replay handshake_replay handshake_failed"

# check_books DIR RECEIVER: the receiver's rx_bytes against what the relay delivered in DIR; and,
# when the receiver is a braid printing its drop counters, those against the relay's corruptions
# and duplicates.
check_books() {
	local dir=$1 h=$2 st clean corrupted dups mac2 mac2n rx lost auth replays
	st=$(cat "$STATE/relay.final")
	clean=$(stat_of "$st" "$dir" clean_bytes)
	corrupted=$(stat_of "$st" "$dir" corrupted)
	dups=$(stat_of "$st" "$dir" duplicated)
	read -r mac2n mac2 <<<"$(mac2_corruptions "$dir")"
	rx=$(($(snap end "$h" rx) - $(snap start "$h" rx)))
	lost=$(($(snap end "$h" lost) - $(snap start "$h" lost)))
	local k line="$dir: relay"
	for k in received forwarded dropped duplicated reordered corrupted blackholed send_errors; do
		line="$line $k $(stat_of "$st" "$dir" "$k"),"
	done
	say "$line clean $clean bytes; $h rx_bytes +$rx; kernel drops on the way to $h +$lost"
	[ "$(stat_of "$st" "$dir" overflow)" = 0 ] || fail "the relay's queue overflowed ($dir)"
	[ "$rx" -le $((clean + mac2)) ] ||
		fail "$h accepted $((rx - clean)) bytes more than the relay delivered intact and" \
			"once ($dir; mac2-only corruptions: $mac2 bytes): a corrupted or" \
			"duplicated datagram got in"
	if [ "$lost" = 0 ]; then
		[ "$rx" -ge "$clean" ] ||
			fail "$h accepted $((clean - rx)) bytes fewer than the relay delivered" \
				"intact ($dir), and the kernels dropped nothing: lost or wrongly" \
				"rejected inside the daemon"
	else
		say "the kernels dropped $lost datagrams to $h: rx_bytes may fall short of clean_bytes" \
			"by $((clean - rx)) bytes"
		[ "$rx" -ge $((clean - lost * 1600)) ] ||
			fail "$h accepted $((clean - rx)) bytes fewer than delivered;" \
				"the kernels lost only $lost datagrams"
	fi
	auth=$(drops_delta "$h" $AUTH_DROPS)
	replays=$(drops_delta "$h" $DUP_DROPS)
	[ -n "$auth" ] || return 0
	say "$h braid_drop_ counters: authentication/format +$auth for $corrupted corrupted" \
		"($mac2n only in mac2); replay +$replays for $dups duplicated"
	[ "$auth" -ge $((corrupted - mac2n - lost)) ] ||
		fail "$h counted $auth authentication drops for $((corrupted - mac2n))" \
			"corrupted datagrams"
	[ "$replays" -ge $((dups - lost)) ] ||
		fail "$h counted $replays replays for $dups duplicated datagrams"
}

# impaired PORT FAMILY RULE...: the standard case: fresh relay, 2 x 50 MB, books both ways.
impaired() {
	errtrap
	local port=$1 fam=$2
	shift 2
	trap 'rc=$?; set +e; trap - ERR; reap a b; exit $rc' EXIT
	set_endpoints "$fam"
	relay_stop
	snapshot start
	relay_start "$fam" "$@"
	both_ways "$port"
	stable_end
	check_books ab b
	check_books ba a
}

loss() {
	impaired 5010 4 both:drop=5
}

reorder() {
	impaired 5020 6 both:reorder=10,reorder-pkts=3,reorder-ms=20
	local st
	st=$(cat "$STATE/relay.final")
	[ "$(stat_of "$st" ab reordered)" -gt 0 ] || fail "the relay reordered nothing"
}

duplicate() {
	impaired 5030 4 both:dup=5
	[ "$(stat_of "$(cat "$STATE/relay.final")" ab duplicated)" -gt 0 ] ||
		fail "the relay duplicated nothing"
	braid_counted
}

# braid_counted: a braid host, after duplicates or corruptions were sent to it, must show them in
# its braid_drop_ counters (check_books compared the numbers).
braid_counted() {
	local h
	for h in a b; do
		is_braid "$h" || continue
		grep -q . "$STATE/snap.end.$h.drops" ||
			fail "braid on $h prints no braid_drop_ counters in get after this case"
	done
}

corrupt() {
	impaired 5040 4 both:corrupt=1
	braid_counted
	local st
	st=$(cat "$STATE/relay.final")
	[ "$(stat_of "$st" ab corrupted)" -gt 0 ] && [ "$(stat_of "$st" ba corrupted)" -gt 0 ] ||
		fail "the relay corrupted nothing in one direction"
	# braid logs authentication failures (rate-limited): at least one must be there.
	local h
	for h in a b; do
		case "$(impl_label "$(impl_of "$h")")" in
		braid) tail -c +"$(($(cat "$STATE/$h.log.mark") + 1))" "$STATE/$h.log" |
			grep -q "failed authentication" ||
			fail "braid on $h never logged a failed authentication" ;;
		esac
	done
}

# 3 seconds without b's link in the middle of the transfers: b's veth0 goes down (b loses its
# routes, its daemon's sends fail; r's rb loses its carrier and drops what the relay sends, as
# TX dropped) and comes back up; the daemons and TCP must resume and complete.
outage() {
	errtrap
	trap 'rc=$?; set +e; trap - ERR; reap a b; hx b ip link set veth0 up; exit $rc' EXIT
	set_endpoints 4
	relay_stop
	snapshot start
	relay_start 4
	both_ways 5050 &
	local bw=$! rc=0 f="$STATE/tcp.b.5050.out" size=0 i
	for ((i = 0; i < 300; i++)); do
		size=$(stat -c %s "$f" 2>/dev/null || echo 0)
		[ "$size" -ge $((MB * 1024 * 1024 / 5)) ] && break
		proc_running "$bw" || break
		sleep 0.1
	done
	proc_running "$bw" || fail "the transfers ended before the outage (b had $size bytes)"
	hx b ip link set veth0 down
	say "b's veth0 down at $((size / 1048576)) MB received by b"
	sleep 3
	hx b ip link set veth0 up
	say "b's veth0 up"
	wait "$bw" || rc=$?
	[ "$rc" = 0 ] || fail "transfers failed across the outage"
	stable_end
	check_books ab b
	check_books ba a
	local st gone
	st=$(cat "$STATE/relay.final")
	gone=$(($(stat_of "$st" ab send_errors) + $(snap end b lost) - $(snap start b lost)))
	say "datagrams for b lost in the outage (relay send errors + kernel drops): $gone"
	[ "$gone" -gt 0 ] || fail "the outage lost nothing: was b's link really down?"
}

# Every underlay link at MTU 1300 while wg0 keeps 1420: a full-size message (1452 bytes over
# IPv4, 1472 over IPv6) must be fragmented by the sending host's kernel (WireGuard does not set
# DF), reassembled by the relay's, fragmented again and reassembled by the receiver's.
small_mtu() {
	errtrap
	local h fam f0a f0b f1a f1b
	trap 'rc=$?; set +e; trap - ERR; reap a b; mtu_all 1500; exit $rc' EXIT
	for fam in 4 6; do
		mtu_all 1300
		set_endpoints "$fam"
		f0a=$(kernel_stat a Ip:FragCreates Ip6FragCreates)
		f0b=$(kernel_stat b Ip:FragCreates Ip6FragCreates)
		relay_stop
		snapshot start
		relay_start "$fam"
		both_ways "$((5060 + fam))"
		stable_end
		check_books ab b
		check_books ba a
		f1a=$(kernel_stat a Ip:FragCreates Ip6FragCreates)
		f1b=$(kernel_stat b Ip:FragCreates Ip6FragCreates)
		say "IPv$fam underlay: fragments created by a +$((f1a - f0a)), by b +$((f1b - f0b))"
		[ $((f1a - f0a)) -gt 1000 ] && [ $((f1b - f0b)) -gt 1000 ] ||
			fail "the outer datagrams were not fragmented (IPv$fam)"
	done
}

mtu_all() { # MTU: every underlay link
	hx a ip link set veth0 mtu "$1"
	hx r ip link set ra mtu "$1"
	hx r ip link set rb mtu "$1"
	hx b ip link set veth0 mtu "$1"
}

# A bottleneck: each host's underlay egress is shaped to 100 Mbit/s by tbf (its queue drops what
# does not fit, and the daemon's socket may meet a full queue), and the relay adds 10 ms +- 1 ms
# in each direction, over IPv6, with the inner transfer over IPv6 too.
bottleneck() {
	errtrap
	local h
	trap 'rc=$?; set +e; trap - ERR; reap a b; unshape; exit $rc' EXIT
	for h in a b; do
		hx "$h" tc qdisc replace dev veth0 root tbf rate 100mbit burst 32kb latency 25ms ||
			fail "tc tbf on $h"
	done
	set_endpoints 6
	relay_stop
	snapshot start
	relay_start 6 both:delay=10,jitter=1
	both_ways 5070 6
	stable_end
	check_books ab b
	check_books ba a
	for h in a b; do
		say "$h: $(hx "$h" tc -s qdisc show dev veth0 | grep -o 'Sent.*dropped [0-9]*')"
	done
}

unshape() { hx a tc qdisc del dev veth0 root; hx b tc qdisc del dev veth0 root; } 2>/dev/null

run_gate "setup: a - relay - b, tunnel up through the relay, 2 x $MB MB of data" setup 40
run_case "5% loss each way: 2 x $MB MB TCP, sha256, books" loss 60
run_case "10% reordering each way (IPv6 underlay): 2 x $MB MB TCP, sha256, books" reorder 60
run_case "5% duplication each way: duplicates rejected, 2 x $MB MB TCP, sha256" duplicate 60
run_case "1% corruption each way: corrupted datagrams never accepted, 2 x $MB MB TCP" corrupt 60
run_case "3-second link outage in the middle of 2 x $MB MB TCP" outage 60
run_case "underlay MTU 1300 < wg0's 1420, IPv4 then IPv6 underlay: fragmented, 4 x $MB MB" \
	small_mtu 90
run_case "100 Mbit/s tbf + 10 +- 1 ms delay, IPv6 in IPv6: 2 x $MB MB TCP" bottleneck 60
netns_finish
