#!/bin/bash
# SPDX-License-Identifier: MIT
# flood.sh IMPL_A IMPL_B: handshake floods against host b (the victim). An attacker x on b's link
# sends initiations with a valid mac1 for b's public key from spoofed sources (tests/tools/flood);
# meanwhile a keeps using an established session with b, and c, a new peer of b running IMPL_A,
# makes its first handshake.
#
#	  host a (IMPL_A)              host c (IMPL_A)              host x (attacker, no daemon)
#	  wg0 192.0.2.1/24             wg0 192.0.2.3/24             build/tools/flood, sources
#	  UDP 10001                    UDP 10003                    203.0.113.0/24, 2001:db8:100::/40
#	  veth0 198.51.100.1/24        veth0 198.51.100.3/24        veth0 198.51.100.9/24
#	        |                            |                            2001:db8:1::9/64
#	        +----------- vb-a ------ br0 in host b ------ vb-x --------+
#	                                     |  vb-c
#	                          host b (IMPL_B), the victim: br0 198.51.100.2/24 2001:db8:1::2/64
#	                          wg0 192.0.2.2/24, UDP 10002; peers a and c
#	                          routes 203.0.113.0/24 and 2001:db8:100::/40 via x
#
# b's answers to the spoofed sources (cookie replies) are routed to x, which does not forward and
# drops them after counting them (nft, by message type: the first byte of the UDP payload). Nothing
# leaves the namespaces; the flood is bounded by time and count and ends by itself.
#
# Cases and what they assert (on every victim unless said otherwise). Some promises are braid's
# own and are checked only where b runs braid: braid's load state comes from a fixed budget of
# 1000 handshakes a second, so it is the same on any machine, while wireguard-go 0.0.20220316 goes
# under load when its handshake queue backs up, which depends on the machine's speed (a quiet
# 2-core machine does about 7000 X25519 a second: 10000 initiations/s may or may not do it).
# - the tool: b answers none of 200 initiations with a corrupted mac1; on braid victims, 200 with
#   the real mac1 from one source at 200/s get at least 100 cookie replies (all past the burst).
# - many sources (256 addresses of 203.0.113.0/24, random ports, FLOOD_RATE/s for FLOOD_SECONDS:
#   10 times braid's device budget, and 39/s per source against its 20/s):
#   (a) b sends no handshake response to the flood (its statics are random: none is a peer). On
#       braid victims, at least half of the flood packets b read get a cookie reply.
#   (b) c, a new peer, completes its first handshake within HANDSHAKE_LIMIT (12 s). With b under
#       load, c's first initiation gets a cookie reply, and only its retransmission, carrying mac2,
#       REKEY_TIMEOUT (5 s + up to 333 ms of jitter) later is answered: about 5.3 s. 12 s lets that
#       retransmission be lost once more (10.7 s) and leaves a second for a loaded machine. Which
#       path the handshake took is reported (see many_handshake); on braid victims, a handshake
#       slower than 2 s without any cookie reply fails unless b's socket dropped datagrams.
#   (c) a's established session keeps carrying traffic: of 100 pings at 0.1 s, at most 10 lost.
#   (d) b is alive. On braid victims the flood packets it read and did not answer with a cookie
#       (those that cost it an X25519) stay within 1500 a second (its budget is 1000), and its
#       RSS grows by under 16 MiB (its tables are allocated up front). CPU time per packet is
#       reported (about 20 us of user time on braid and wireguard-go alike), not asserted.
# - one source (203.0.113.7:40000 at SINGLE_RATE/s, above braid's device budget): c makes a fresh
#   handshake (b removed from c and added again) and completes it within HANDSHAKE_LIMIT. On braid
#   victims: on its first initiation (under REKEY_TIMEOUT) and without any cookie reply, since one
#   source's excess never counts toward the device's load; and the flooder gets cookie replies for
#   at least half of what b read. (wireguard-go has one device-wide load state: a single source
#   flooding faster than it handles pushes every peer into cookie mode.)
# - many IPv6 sources (FLOOD6_SOURCES /64s of 2001:db8:100::/40 in turn at FLOOD6_RATE/s, each
#   repeating within a second): c's fresh handshake completes within HANDSHAKE_LIMIT. More /64s
#   than braid's per-source table holds (8192) must not lock new peers out. On braid victims RSS
#   grows by under 16 MiB.
#
# No throughput numbers are asserted; bench/flood.sh measures. The victim logs at LOG_LEVEL=error
# when it is wireguard-go (it logs every denied handshake), verbose when it is braid (rate-limited).
# c runs IMPL_A, like a.
#
# Environment: FLOOD_TOOL (default build/tools/flood of this tree), FLOOD_RATE (10000),
# FLOOD_SECONDS (16), SINGLE_RATE (3000), FLOOD6_SOURCES (10000), FLOOD6_RATE (15000).

. "$(dirname "$0")/cases.sh"
netns_init "$@"

FLOOD=${FLOOD_TOOL:-$NETNS_DIR/../../build/tools/flood}
FLOOD_RATE=${FLOOD_RATE:-10000}
FLOOD_SECONDS=${FLOOD_SECONDS:-16}
SINGLE_RATE=${SINGLE_RATE:-3000}
FLOOD6_SOURCES=${FLOOD6_SOURCES:-10000}
FLOOD6_RATE=${FLOOD6_RATE:-15000}
HANDSHAKE_LIMIT=12
if [ ! -x "$FLOOD" ]; then
	echo "$T: no flood tool at $FLOOD: build it first (make build/tools/flood)" >&2
	exit 2
fi
FLOOD=$(cd "$(dirname "$FLOOD")" && pwd)/$(basename "$FLOOD")

host_add a
host_add b
host_add c
host_add x

victim_label() { impl_label "$IMPL_B"; }

setup() {
	local level=verbose
	flood_topology
	[ "$(hx x sysctl -n net.ipv4.ip_forward)" = 0 ] || fail "x forwards IPv4"
	[ "$(hx x sysctl -n net.ipv6.conf.all.forwarding)" = 0 ] || fail "x forwards IPv6"

	[ "$(victim_label)" = wireguard-go ] && level=error
	flood_wg_up a "$IMPL_A" verbose
	flood_wg_up c "$IMPL_A" verbose
	flood_wg_up b "$IMPL_B" "$level"
	peer_set a b allowed-ips 192.0.2.2/32 endpoint 198.51.100.2:10002
	peer_set b a allowed-ips 192.0.2.1/32 endpoint 198.51.100.1:10001
	peer_set b c allowed-ips 192.0.2.3/32

	# Messages by type: the first four bytes of the UDP payload (@th,64,32), a little-endian 3
	# for a cookie reply, 2 for a response, 1 for an initiation.
	counter_add x cookies ip daddr 203.0.113.0/24 udp sport 10002 @th,64,32 0x03000000
	counter_add x cookies6 ip6 daddr 2001:db8:100::/40 udp sport 10002 @th,64,32 0x03000000
	counter_add x responses ip daddr 203.0.113.0/24 udp sport 10002 @th,64,32 0x02000000
	counter_add b flood-in ip saddr 203.0.113.0/24 udp dport 10002
	counter_add b flood6-in ip6 saddr 2001:db8:100::/40 udp dport 10002
	counter_add b c-inits ip saddr 198.51.100.3 udp dport 10002 @th,64,32 0x01000000
	counter_add a cookies udp sport 10002 @th,64,32 0x03000000
	counter_add c cookies udp sport 10002 @th,64,32 0x03000000
	ping_all a 192.0.2.2 3
}

# The flood tool itself: its mac1 must be the one b checks. With a corrupted mac1 b must answer
# nothing; with the real one, b (not under load) spends its per-source burst on DH and answers the
# rest of the one source's packets with cookies (braid), or does DH for all of them (wireguard-go).
tool_check() {
	local c0 c1 out
	c0=$(cookies_to_x)
	hx x timeout 10 "$FLOOD" -k "$(pub b)" -t 198.51.100.2:10002 -s 203.0.113.5/32 \
		-r 200 -n 200 -d 5 -x >"$STATE/flood.out" 2>&1 || fail "flood -x: $(cat "$STATE/flood.out")"
	sleep 0.5
	c1=$(cookies_to_x)
	say "bad mac1: $(cat "$STATE/flood.out"); cookie replies $((c1 - c0))"
	[ $((c1 - c0)) = 0 ] || fail "b answered $((c1 - c0)) initiations with a bad mac1"
	hx x timeout 10 "$FLOOD" -k "$(pub b)" -t 198.51.100.2:10002 -s 203.0.113.5/32 \
		-r 200 -n 200 -d 5 >"$STATE/flood.out" 2>&1 || fail "flood: $(cat "$STATE/flood.out")"
	out=$(cat "$STATE/flood.out")
	case "$out" in *"sent=200 "*) ;; *) fail "flood did not send 200: $out" ;; esac
	sleep 0.5
	c1=$(cookies_to_x)
	say "good mac1: $out; cookie replies $((c1 - c0))"
	if [ "$(victim_label)" = braid ]; then
		[ $((c1 - c0)) -ge 100 ] ||
			fail "braid answered $((c1 - c0)) of 200 initiations from one source with cookies"
	fi
	daemon_alive b || fail "b died"
}

# --- measurements of the victim -----------------------------------------------------------------

# Cookie replies to the spoofed sources: a run of them to one address may leave b as one GSO
# packet (counter_datagrams counts by bytes).
cookies_to_x() { counter_datagrams x cookies 28 64; }
cookies6_to_x() { counter_datagrams x cookies6 48 64; }

# A measurement case records numbers as NAME=VALUE lines in $STATE/m.CASE; the cases after it
# assert on them, one behaviour each.
# backlog_drops HOST: handshake messages a braid daemon read but dropped because its handshake
# backlog was full (braid_drop_handshake_backlog_full in `get`; 0 for wireguard-go).
backlog_drops() {
	local n
	n=$(printf 'get=1\n\n' | hx "$1" timeout 5 "$PY" "$NETTOOL" uapi /var/run/wireguard/wg0.sock 3 |
		sed -n 's/^braid_drop_handshake_backlog_full=//p')
	echo "${n:-0}"
}

m_get() { awk -F= -v k="$2" '$1 == k { print $2 }' "$STATE/m.$1"; }

many_sources() {
	local pid rss0 cpu0 usr0 rb0 fl0 ck0 bl0 cc0 ci0 fpid ppid out rss1 cpu1 usr1 rb1
	pid=$(daemon_pid b)
	rss0=$(rss_kb "$pid") cpu0=$(cpu_ticks "$pid") usr0=$(user_ticks "$pid")
	rb0=$(rcvbuf_errors b) fl0=$(counter_get b flood-in) ck0=$(cookies_to_x) bl0=$(backlog_drops b)
	cc0=$(counter_get c cookies) ci0=$(counter_get b c-inits)
	hx x timeout $((FLOOD_SECONDS + 10)) "$FLOOD" -k "$(pub b)" -t 198.51.100.2:10002 \
		-s 203.0.113.0/24 -r "$FLOOD_RATE" -d "$FLOOD_SECONDS" \
		-n $((FLOOD_RATE * FLOOD_SECONDS)) >"$STATE/flood.out" 2>&1 &
	fpid=$!
	sleep 2
	# (c) the established session, and (b) a new peer, both while the flood runs.
	hx a timeout 30 ping -n -q -c 100 -i 0.1 -W 1 192.0.2.2 >"$STATE/ping.flood" 2>&1 &
	ppid=$!
	fresh_handshake 14 >"$STATE/hs.time"
	wait "$ppid" || true
	wait "$fpid" || fail "the flood tool failed: $(cat "$STATE/flood.out")"
	out=$(cat "$STATE/flood.out")
	rss1=$(rss_kb "$pid") cpu1=$(cpu_ticks "$pid") usr1=$(user_ticks "$pid")
	sleep 0.5
	rb1=$(rcvbuf_errors b)
	{
		echo "flood=$out"
		echo "sent=$(echo "$out" | sed -n 's/.*sent=\([0-9]*\).*/\1/p')"
		echo "arrived=$(($(counter_get b flood-in) - fl0))"
		echo "cookies=$(($(cookies_to_x) - ck0))"
		echo "responses=$(counter_get x responses)"
		echo "sockdrops=$((rb1 - rb0))"
		echo "backlog=$(($(backlog_drops b) - bl0))"
		echo "hs_time=$(cat "$STATE/hs.time")"
		echo "c_cookies=$(($(counter_get c cookies) - cc0))"
		echo "c_inits=$(($(counter_get b c-inits) - ci0))"
		echo "ping=$(grep -o '[0-9]* received' "$STATE/ping.flood" | cut -d' ' -f1)"
		echo "rss0=$rss0"
		echo "rss1=$rss1"
		echo "cpu_ticks=$((cpu1 - cpu0))"
		echo "user_ticks=$((usr1 - usr0))"
		echo "alive=$(daemon_alive b && echo yes || echo no)"
	} >"$STATE/m.many"
	sed 's/^/  /' "$STATE/m.many"
	grep -q '^sent=[0-9]' "$STATE/m.many" || fail "no flood: $out"
}

# The flood packets b read from its socket and kept (what reached it, less what the kernel dropped
# for a full socket buffer and what braid dropped for a full handshake backlog; both are counted
# for all sources, so this is a lower bound).
many_read() { echo $(($(m_get many arrived) - $(m_get many sockdrops) - $(m_get many backlog))); }

many_cookies() {
	local arrived cookies read
	arrived=$(m_get many arrived) cookies=$(m_get many cookies) read=$(many_read)
	say "flood packets that reached b: $arrived, read by b: $read; cookie replies to the" \
		"spoofed sources: $cookies; handshake responses to them: $(m_get many responses)"
	[ "$arrived" -ge $((FLOOD_RATE * FLOOD_SECONDS / 4)) ] ||
		fail "only $arrived flood packets reached b: the flood did not happen"
	[ "$(m_get many responses)" = 0 ] || fail "b answered random initiations with responses"
	if [ "$(victim_label)" != braid ]; then
		say "(not asserted: wireguard-go asks for cookies only once its handshake queue backs up," \
			"which depends on the machine's speed)"
		return 0
	fi
	[ "$cookies" -ge $((read / 2)) ] || fail "b sent $cookies cookie replies for $read packets read"
}

# c's handshake may take either path on a braid victim, and both are right: under load (most of
# the time) the first initiation gets a cookie reply and the retransmission with mac2 is answered;
# but every second the load state lapses and braid admits its next 1000 handshakes (about 0.1 s
# of this flood), and an initiation landing there is answered at once. Which one is reported.
# What braid must not do is leave an initiation it read unanswered (no cookie, no response).
many_handshake() {
	local t cc ci
	t=$(m_get many hs_time) cc=$(m_get many c_cookies) ci=$(m_get many c_inits)
	say "c's first handshake took $t s; c sent $ci initiations, received $cc cookie replies"
	[ "$t" != none ] || fail "c did not complete a handshake in 14 s of flood"
	awk -v t="$t" -v l="$HANDSHAKE_LIMIT" 'BEGIN { exit !(t <= l) }' ||
		fail "c's handshake took $t s, more than $HANDSHAKE_LIMIT"
	if [ "$cc" != 0 ]; then
		say "path: cookie reply, then a retransmission with mac2"
	elif awk -v t="$t" 'BEGIN { exit !(t < 2) }'; then
		say "path: b admitted c's first initiation without asking for a cookie"
	elif [ "$(victim_label)" = braid ] && [ "$(m_get many sockdrops)" = 0 ] &&
		[ "$(m_get many backlog)" = 0 ]; then
		fail "b kept every datagram and sent c no cookie reply, yet c's handshake took $t s"
	fi
	ping_ok c 192.0.2.2
}

many_session() {
	local got
	got=$(m_get many ping)
	say "a -> b through the established session during the flood: $got of 100 replies"
	[ -n "$got" ] && [ "$got" -ge 90 ] || fail "$((100 - ${got:-0})) of 100 pings lost"
}

# On braid victims the expensive work is bounded by the device's budget: the flood packets b read
# and did not answer with a cookie went into the handshake path (one X25519 each); there may be
# 1000 a second plus the full bucket at the start. 1500 a second leaves room for a lost reply.
many_bounded() {
	local rss0 rss1 ticks uticks read dh hz
	rss0=$(m_get many rss0) rss1=$(m_get many rss1) ticks=$(m_get many cpu_ticks)
	uticks=$(m_get many user_ticks) read=$(many_read)
	dh=$((read - $(m_get many cookies)))
	hz=$(getconf CLK_TCK)
	say "b: RSS $rss0 -> $rss1 KiB; CPU $(awk -v t="$ticks" -v u="$uticks" -v hz="$hz" \
		'BEGIN { printf "%.2f s (user %.2f s)", t / hz, u / hz }') for $read flood packets read" \
		"($(awk -v u="$uticks" -v hz="$hz" -v n="$read" 'BEGIN { printf "%.1f", u / hz * 1e6 / n }')" \
		"us of user CPU each); $dh of them not answered with a cookie" \
		"($((dh / FLOOD_SECONDS)) a second)"
	[ "$(m_get many alive)" = yes ] || fail "b's daemon died during the flood"
	[ "$(victim_label)" = braid ] || return 0
	[ "$dh" -le $((1500 * FLOOD_SECONDS)) ] ||
		fail "b took $dh flood initiations into the handshake path: over its budget of 1000/s"
	[ $((rss1 - rss0)) -lt 16384 ] || fail "b's RSS grew by $((rss1 - rss0)) KiB"
}

single_source() {
	local fpid out fl0 ck0 cc0 rb0 arrived read cookies t cc
	# Let any load state of the previous case expire (1 s) first.
	sleep 2
	fl0=$(counter_get b flood-in) ck0=$(cookies_to_x) cc0=$(counter_get c cookies)
	rb0=$(rcvbuf_errors b)
	hx x timeout 20 "$FLOOD" -k "$(pub b)" -t 198.51.100.2:10002 -s 203.0.113.7/32 \
		-p 40000 -r "$SINGLE_RATE" -d 10 -n $((SINGLE_RATE * 10)) >"$STATE/flood.out" 2>&1 &
	fpid=$!
	sleep 2
	fresh_handshake 14 >"$STATE/hs.time"
	wait "$fpid" || fail "the flood tool failed: $(cat "$STATE/flood.out")"
	out=$(cat "$STATE/flood.out")
	sleep 0.5
	arrived=$(($(counter_get b flood-in) - fl0)) cookies=$(($(cookies_to_x) - ck0))
	read=$((arrived - ($(rcvbuf_errors b) - rb0)))
	t=$(cat "$STATE/hs.time") cc=$(($(counter_get c cookies) - cc0))
	say "$out"
	say "one source: $arrived packets reached b, $read read, $cookies cookie replies to it;" \
		"c's fresh handshake took $t s with $cc cookie replies to c"
	[ "$arrived" -ge $((SINGLE_RATE * 10 / 4)) ] || fail "the flood did not reach b"
	daemon_alive b || fail "b died"
	[ "$t" != none ] || fail "c did not complete a handshake"
	awk -v t="$t" -v l="$HANDSHAKE_LIMIT" 'BEGIN { exit !(t <= l) }' ||
		fail "c's handshake took $t s, more than $HANDSHAKE_LIMIT"
	if [ "$(victim_label)" != braid ]; then
		say "(per-source isolation is asserted on braid victims only)"
		return 0
	fi
	awk -v t="$t" 'BEGIN { exit !(t < 5) }' ||
		fail "c's handshake took $t s: not on its first initiation"
	[ "$cc" = 0 ] || fail "c got $cc cookie replies: one source pushed b into cookie mode"
	[ "$cookies" -ge $((read / 2)) ] ||
		fail "braid answered only $cookies of $read over-rate packets with cookies"
}

many_sources6() {
	local fpid out fl0 ck0 arrived cookies t pid rss0 rss1 rb0 rb1
	pid=$(daemon_pid b)
	rss0=$(rss_kb "$pid") rb0=$(rcvbuf_errors b)
	fl0=$(counter_get b flood6-in) ck0=$(cookies6_to_x)
	sleep 2
	hx x timeout 40 "$FLOOD" -k "$(pub b)" -t "[2001:db8:1::2]:10002" -s 2001:db8:100::/40 \
		-S "$FLOOD6_SOURCES" -r "$FLOOD6_RATE" -d 18 -n $((FLOOD6_RATE * 18)) \
		>"$STATE/flood.out" 2>&1 &
	fpid=$!
	# Every source has been seen once and repeats within a second from here on.
	sleep 3
	fresh_handshake 14 >"$STATE/hs.time"
	wait "$fpid" || fail "the flood tool failed: $(cat "$STATE/flood.out")"
	out=$(cat "$STATE/flood.out")
	rss1=$(rss_kb "$pid") rb1=$(rcvbuf_errors b)
	sleep 0.5
	arrived=$(($(counter_get b flood6-in) - fl0)) cookies=$(($(cookies6_to_x) - ck0))
	t=$(cat "$STATE/hs.time")
	say "$out"
	say "$FLOOD6_SOURCES IPv6 sources: $arrived packets reached b, $cookies cookie replies;" \
		"$((rb1 - rb0)) dropped at b's full socket; b's RSS $rss0 -> $rss1 KiB;" \
		"c's fresh handshake took $t s"
	[ "$arrived" -ge $((FLOOD6_RATE * 18 / 4)) ] || fail "the flood did not reach b"
	daemon_alive b || fail "b died"
	if [ "$(victim_label)" = braid ]; then
		[ $((rss1 - rss0)) -lt 16384 ] || fail "b's RSS grew by $((rss1 - rss0)) KiB"
	fi
	[ "$t" != none ] || fail "c could not complete a handshake during the flood"
	awk -v t="$t" -v l="$HANDSHAKE_LIMIT" 'BEGIN { exit !(t <= l) }' ||
		fail "c's handshake took $t s, more than $HANDSHAKE_LIMIT"
}

run_gate "setup: a, c and attacker x on b's bridge, tunnel a-b" setup
run_gate "the flood tool's mac1 is accepted by b, a corrupted one is not" tool_check
run_gate "many sources: flood b for ${FLOOD_SECONDS}s (measure)" many_sources 60
run_case "many sources: (a) b answers with cookie replies, not responses" many_cookies
run_case "many sources: (b) a new peer completes its handshake" many_handshake
run_case "many sources: (c) the established session keeps working" many_session
run_case "many sources: (d) b's CPU and RSS stay bounded" many_bounded
run_case "one source: other peers are not pushed into cookie mode" single_source 40
run_case "many IPv6 /64 sources: a new peer is not locked out" many_sources6 60
netns_finish
