#!/bin/bash
# SPDX-License-Identifier: MIT
# rekey.sh IMPL_A IMPL_B: a minute of traffic through 20 and more rekeys, with braid built with
# TIME_DIVISOR=40 (`make BUILD=build/fast TIME_DIVISOR=40 all`): every braid argument is replaced
# by $BRAID_FAST (default build/fast/braid). Without that binary the script says so and exits 2.
#
#	  host a (IMPL_A)                                   host b (IMPL_B)
#	  wg0 192.0.2.1/24 2001:db8:2::1/64                  wg0 192.0.2.2/24 2001:db8:2::2/64
#	  veth0 198.51.100.1/24 ---------------------------- veth0 198.51.100.2/24
#	        2001:db8:1::1/64    UDP 10001 <-> 10002           2001:db8:1::2/64
#
# Fast braid's protocol clock: REKEY_AFTER_TIME 3 s, REJECT_AFTER_TIME 4.5 s, REKEY_TIMEOUT 125 ms,
# KEEPALIVE_TIMEOUT 250 ms (so "sent but heard nothing" starts a handshake after 375 ms).
# wireguard-go keeps its real 120 s / 180 s / 5 s / 10 s.
#
# Each case starts both daemons afresh; only the initiator is given the other's endpoint, and it
# makes the first handshake (H0) with a ping. Then a TCP stream runs each way at once for
# REKEY_SECONDS (66) at REKEY_MBIT (40 Mbit/s) per direction, paced, of random bytes whose sha256
# both ends compute. Who rekeys, and what a case proves:
#   - A braid initiator (any peer): its session reaches REKEY_AFTER_TIME (3 s) while it sends,
#     so it initiates again, every ~3 s: >= 21 rekeys in 66 s. The responder has to switch to each
#     new session only once the initiator's first data packet on it confirms it, while packets
#     sealed with the previous one are still arriving. Against wireguard-go this is braid's
#     initiator against the reference responder; wireguard-go itself never initiates (its own
#     REKEY_AFTER_TIME is 120 s, and its 15 s "nothing heard" timer cannot fire under traffic), and
#     the test requires exactly that.
#   - A braid responder with a wireguard-go initiator: wireguard-go would not rekey before 120 s,
#     but braid, as responder, must stop using the session at its REJECT_AFTER_TIME (4.5 s): it
#     finds no usable session for its next packet, stages it and initiates itself; from then on
#     braid is the initiator and rekeys every 3 s as above (H0 + 4.5 s + 19 x 3 s = 61.5 s < 66 s).
#     wireguard-go never initiates after H0. This proves braid enforces REJECT_AFTER_TIME as a
#     responder and recovers by its own handshake without a stall.
#   - braid responder, braid initiator: the initiator rekeys every 3 s; the responder's sessions
#     never reach 4.5 s. Its own initiations (if any: the 375 ms "nothing heard" timer after a
#     scheduling hiccup) are printed, not asserted.
# Handshakes are counted in the daemons' verbose logs while the streams run: a completed
# handshake is one consumed response ("receiving handshake response" in braid, "Received handshake
# response" in wireguard-go); initiations sent are counted per host to check the roles above.
# The first rekey's delay is measured on a braid host (0.1 s polls of `wg show latest-handshakes`
# from before H0): 2.7-3.8 s when braid made H0 (REKEY_AFTER_TIME), 4.2-5.3 s when wireguard-go
# did (braid's REJECT_AFTER_TIME as responder: a responder that rekeyed at 3 s would fail).
#
# Stalls: the receiving end (nettool.py tcp-recv-timed; the sender is tcp-send-paced) timestamps
# every recv() and reports the longest gap between two arrivals of data (and how many 0.25 s slots
# got no byte at all). A gap between arrivals measures a stall directly, at the resolution of the
# clock, whatever its phase; fixed 0.25 s windows (or
# iperf3 intervals) would only bound it and cannot check the data. Requirement: no gap >= 1 s in
# either direction, sha256 equal, every byte sent arrived.
#
# REKEY_AFTER_MESSAGES / REJECT_AFTER_MESSAGES (2^60 and 2^64 - 2^13 - 1 messages) cannot be
# reached on a wire; tests/unit/test_device.c (test_message_limits) drives the core's counters to
# them directly.
#
# Environment: BRAID_FAST, REKEY_SECONDS (66), REKEY_MBIT (40), REKEY_MIN (20 rekeys).

. "$(dirname "$0")/cases.sh"

ROOT=$(cd "$NETNS_DIR/../.." && pwd)
BRAID_FAST=${BRAID_FAST:-$ROOT/build/fast/braid}
SECS=${REKEY_SECONDS:-66}
MBIT=${REKEY_MBIT:-40}
MIN_REKEYS=${REKEY_MIN:-20}

args=()
for impl in "$@"; do
	case "$(basename "$impl")" in
	braid*)
		if [ ! -x "$BRAID_FAST" ]; then
			echo "rekey: SKIPPED: no fast-timer braid at $BRAID_FAST; build it with" \
				"'make BUILD=build/fast TIME_DIVISOR=40 all' or set BRAID_FAST" >&2
			exit 2
		fi
		impl=$BRAID_FAST
		;;
	esac
	args+=("$impl")
done
CASE_TIMEOUT=$((SECS + 60))
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-300}
[ "$SCRIPT_TIMEOUT" -ge $((2 * SECS + 100)) ] || SCRIPT_TIMEOUT=$((2 * SECS + 100))
netns_init "${args[@]}"
echo "$T: braid = $BRAID_FAST (protocol timers 40x faster), $SECS s at $MBIT Mbit/s each way"
two_hosts

setup() {
	two_hosts_link
}

# restart_daemons: both daemons started afresh, no peers.
restart_daemons() {
	local h
	for h in a b; do
		daemon_alive "$h" && daemon_stop "$h"
		wg_up "$h"
	done
	return 0
}

kv() { # TEXT KEY
	echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'
}

# count HOST REGEX: lines matching in HOST's log since the mark taken by mark_logs.
count() {
	tail -c +"$(($(cat "$STATE/$1.log.win") + 1))" "$STATE/$1.log" |
		head -c "$(cat "$STATE/$1.log.len")" | grep -Eci "$2" || true
}

mark_logs() { local h; for h in a b; do stat -c %s "$STATE/$h.log" >"$STATE/$h.log.win"; done; }
end_logs() {
	local h
	for h in a b; do
		echo $(($(stat -c %s "$STATE/$h.log") - $(cat "$STATE/$h.log.win"))) \
			>"$STATE/$h.log.len"
	done
}

# stream_start FROM TO DSTADDR PORT: start a receiver on TO and a sender on FROM in the background.
stream_start() {
	local from=$1 to=$2 dst=$3 port=$4 r="$STATE/stream.$1$2"
	rm -f "$r".*
	hx "$to" timeout $((SECS + 40)) "$PY" "$NETTOOL" tcp-recv-timed "$dst" "$port" "$r.ready" \
		>"$r.recv" 2>&1 &
	echo $! >"$r.rpid"
	wait_for 5 "the stream receiver on $to" test -e "$r.ready"
	hx "$from" timeout $((SECS + 40)) "$PY" "$NETTOOL" tcp-send-paced "$dst" "$port" \
		"$SECS" "$MBIT" >"$r.send" 2>&1 &
	echo $! >"$r.spid"
}

stream_check() { # FROM TO
	local r="$STATE/stream.$1$2" sent got gap
	wait "$(cat "$r.spid")" || fail "sender $1 -> $2 failed: $(cat "$r.send")"
	wait "$(cat "$r.rpid")" || fail "receiver on $2 failed: $(cat "$r.recv")"
	sent=$(cat "$r.send") got=$(cat "$r.recv")
	say "$1 -> $2: sent $(kv "$sent" bytes) bytes, received: $got"
	[ "$(kv "$sent" bytes)" = "$(kv "$got" bytes)" ] || fail "$1 -> $2: byte counts differ"
	[ "$(kv "$sent" sha256)" = "$(kv "$got" sha256)" ] || fail "$1 -> $2: sha256 differs"
	gap=$(kv "$got" max_gap_ms)
	[ "$gap" -lt 1000 ] || fail "$1 -> $2: the stream stalled for $gap ms" \
		"($(kv "$got" gap_at) s into it)"
}

# hs_watch HOST SECONDS: for SECONDS, the moments (monotonic, s) when HOST's latest handshake
# changed, one a line in $STATE/hs.times, polled every 0.1 s.
hs_watch() {
	local h=$1 end=$(($(date +%s) + $2)) v last=0
	: >"$STATE/hs.times"
	while [ "$(date +%s)" -lt "$end" ]; do
		v=$(wgh "$h" show wg0 latest-handshakes 2>/dev/null | awk '{ print $2 }')
		if [ -n "$v" ] && [ "$v" != 0 ] && [ "$v" != "$last" ]; then
			awk '{ print $1 }' /proc/uptime >>"$STATE/hs.times"
			last=$v
		fi
		sleep 0.1
	done
}

# check_first_rekey INITIATOR: H0 -> H1 as seen on the watched braid host: REKEY_AFTER_TIME (3 s)
# when braid made H0; REJECT_AFTER_TIME (4.5 s) when wireguard-go did, and braid responded.
check_first_rekey() {
	local lo=2.7 hi=3.8 what="REKEY_AFTER_TIME (3 s)" d
	if ! is_braid "$1"; then
		lo=4.2 hi=5.3 what="REJECT_AFTER_TIME (4.5 s) of braid as responder"
	fi
	[ "$(wc -l <"$STATE/hs.times")" -ge 2 ] ||
		fail "fewer than two handshakes seen in the first 10 s: $(tr '\n' ' ' <"$STATE/hs.times")"
	d=$(awk 'NR == 1 { t0 = $1 } NR == 2 { printf "%.2f", $1 - t0 }' "$STATE/hs.times")
	say "first rekey $d s after H0 (expected: $what; watched with 0.1 s polls)"
	awk -v d="$d" -v lo="$lo" -v hi="$hi" 'BEGIN { exit !(d >= lo && d <= hi) }' ||
		fail "the first rekey came $d s after H0, not within [$lo, $hi] s"
}

# rekeys INITIATOR: fresh daemons, INITIATOR makes H0, streams both ways, then the checks.
rekeys() {
	local i=$1 r h w done_hs init_a init_b port=$2
	r=$(other "$i")
	trap 'rc=$?; set +e; trap - ERR; reap a b; exit $rc' EXIT
	restart_daemons
	peer_add_default "$i" "$r" endpoint4
	peer_add_default "$r" "$i" none
	w=a
	is_braid a || w=b
	hs_watch "$w" 10 &
	# Echo requests every 0.1 s from H0 on, until the case ends: fast braid expects to hear back
	# within KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (375 ms) of sending its echo reply and otherwise
	# initiates itself, while wireguard-go stays quiet for its real 10 s. A slow start of the
	# streams would then make braid the initiator behind the case's back, and a handshake within
	# H0's second is invisible to latest-handshakes (a "first rekey" at H0 + 3.4 s).
	hx "$i" timeout $((SECS + 40)) ping -n -q -i 0.1 "192.0.2.$(host_num "$r")" \
		>/dev/null 2>&1 &
	ping_ok "$i" "192.0.2.$(host_num "$r")"
	mark_logs
	stream_start a b 192.0.2.2 "$port"
	stream_start b a 192.0.2.1 "$((port + 1))"
	stream_check a b
	stream_check b a
	end_logs
	check_first_rekey "$i"
	done_hs=0
	for h in a b; do
		done_hs=$((done_hs + $(count "$h" "receiv(ed|ing) handshake response")))
	done
	init_a=$(count a "sending handshake initiation")
	init_b=$(count b "sending handshake initiation")
	say "during the streams: $done_hs handshakes completed; initiations sent by a: $init_a," \
		"by b: $init_b (H0 by $i, before)"
	[ "$done_hs" -ge "$MIN_REKEYS" ] ||
		fail "only $done_hs rekeys in $SECS s, want >= $MIN_REKEYS"
	for h in a b; do
		is_braid "$h" && continue
		[ "$(count "$h" "sending handshake initiation")" = 0 ] ||
			fail "wireguard-go on $h initiated a handshake: braid should have" \
				"rekeyed first"
	done
	daemon_stop a
	daemon_stop b
}

by_a() { rekeys a 5001; }
by_b() { rekeys b 5003; }

run_gate "setup: two hosts linked" setup 20
run_case "a makes the first handshake; $SECS s of TCP each way through >= $MIN_REKEYS rekeys" \
	by_a
run_case "b makes the first handshake; $SECS s of TCP each way through >= $MIN_REKEYS rekeys" \
	by_b
netns_finish
