#!/bin/bash
# SPDX-License-Identifier: MIT
# linkem.sh BUILD_DIR: self-test of the link emulator tests/tools/linkem (BUILD_DIR/tools/linkem).
# Root. Three namespaces of its own; each direction of client<->server traffic is steered
# through its own TUN device of a linkem in the router, IPv4 and IPv6:
#
#	client c                 router r (linkem: lu up, ld down)               server s
#	c0 198.51.100.2/24 --- r0 198.51.100.1/24   r1 203.0.113.1/24 --- s0 203.0.113.2/24
#	   2001:db8:1::2/64       2001:db8:1::1/64     2001:db8:3::1/64       2001:db8:3::2/64
#	r: ip rule add iif r0 lookup 100; ip route add default dev lu table 100  (c -> s: lu)
#	   ip rule add iif r1 lookup 101; ip route add default dev ld table 101  (s -> c: ld)
#	   (and the same with ip -6; an unreachable default of higher metric in each table, so that
#	   traffic never bypasses a linkem that is gone)
#
# Cases, each with a fresh linkem (seed printed; LINKEM_SEED=N replays its decisions):
#   counters equal what was sent (ping, both families); delay 10 ms and 0.5 ms each way (RTT);
#   jitter spreads RTTs; loss and duplication against linkem's own counts, within binomial
#   bounds; rate limits for TCP both ways (iperf3 within 15 %); blackholes by SIGUSR2 and per
#   device through the control FIFO, rules changed through it; TCP sha256 through delay +
#   jitter + loss (IPv4, IPv6); UDP payload corruption reaching the application with valid
#   checksums, and reordering; SIGTERM exits 0 and removes the devices. Every case checks the
#   books of both devices: received + duplicated = forwarded + dropped + blackholed + overflow +
#   taildrop + write_errors + queued.
#
# Timing assertions are made robust to a loaded, shared machine: nothing may leave before its
# delay (hard lower bounds on the minimum RTT); the upper bounds are on the minimum RTT too, with
# a tolerance of TOL_MS (1 ms, against 0.05-0.3 ms measured above the configured delay, idle and
# with 40 % steal time); counts are compared exactly with linkem's counters, and probabilities
# against bounds 5 standard deviations wide. About 30 s; bounded to 150 s.

set -u
if [ -z "${LINKEM_SH_BOUNDED:-}" ]; then
	LINKEM_SH_BOUNDED=1 exec timeout -k 5 150 bash "$0" "$@"
fi
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
LINKEM=$(cd "$1" && pwd)/tools/linkem
[ -x "$LINKEM" ] || { echo "linkem.sh: no $LINKEM (make $1/tools/linkem)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "linkem.sh: needs root" >&2; exit 2; }
for tool in ip ping iperf3 python3 sha256sum; do
	command -v $tool >/dev/null || { echo "linkem.sh: needs $tool" >&2; exit 2; }
done
NETTOOL=$(cd "$(dirname "$0")" && pwd)/nettool.py
TOL_MS=${TOL_MS:-1}

T=linkem
C=lkm-c-$$ R=lkm-r-$$ S=lkm-s-$$
STATE=$(mktemp -d /tmp/linkem-test.XXXXXX)
LK_PID=
START=$(date +%s.%N)

cleanup() {
	trap - EXIT INT TERM
	[ -n "$LK_PID" ] && kill -TERM "$LK_PID" 2>/dev/null
	local n
	for n in $C $R $S; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "$n" 2>/dev/null
	done
	rm -rf "$STATE"
}
trap cleanup EXIT
trap 'echo "$T: interrupted" >&2; exit 1' INT TERM

say() { echo "$T: $*"; }
fail() {
	echo "$T: FAIL: $*" >&2
	[ -s "$STATE/linkem.log" ] && sed 's/^/    /' "$STATE/linkem.log" | tail -20 >&2
	exit 1
}
nx() { local n=$1; shift; ip netns exec "$n" "$@"; }

# wait_for SECONDS WHAT CMD...: poll CMD every 20 ms until it succeeds.
wait_for() {
	local limit=$(($1 * 50)) what=$2 i
	shift 2
	for ((i = 0; i < limit; i++)); do
		"$@" && return 0
		sleep 0.02
	done
	fail "timed out waiting for $what"
}

# --- topology --------------------------------------------------------------------------------

setup() {
	local n f
	for n in $C $R $S; do
		ip netns add "$n" || fail "cannot create namespace $n"
		ip -n "$n" link set lo up
		nx "$n" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	done
	ip link add c0 netns $C type veth peer name r0 netns $R || fail "veth"
	ip link add r1 netns $R type veth peer name s0 netns $S || fail "veth"
	ip -n $C addr add 198.51.100.2/24 dev c0
	ip -n $C addr add 2001:db8:1::2/64 dev c0 nodad
	ip -n $R addr add 198.51.100.1/24 dev r0
	ip -n $R addr add 2001:db8:1::1/64 dev r0 nodad
	ip -n $R addr add 203.0.113.1/24 dev r1
	ip -n $R addr add 2001:db8:3::1/64 dev r1 nodad
	ip -n $S addr add 203.0.113.2/24 dev s0
	ip -n $S addr add 2001:db8:3::2/64 dev s0 nodad
	ip -n $C link set c0 up
	ip -n $R link set r0 up
	ip -n $R link set r1 up
	ip -n $S link set s0 up
	ip -n $C route add default via 198.51.100.1
	ip -n $C -6 route add default via 2001:db8:1::1
	ip -n $S route add default via 203.0.113.1
	ip -n $S -6 route add default via 2001:db8:3::1
	nx $R sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	# Resolve the neighbours once, before anything is steered through linkem.
	nx $C ping -c 1 -W 5 203.0.113.2 >/dev/null || fail "no IPv4 path without linkem"
	nx $C ping -6 -c 1 -W 5 2001:db8:3::2 >/dev/null || fail "no IPv6 path without linkem"
	for f in 4 6; do
		ip -n $R -$f rule add iif r0 lookup 100 pref 100
		ip -n $R -$f rule add iif r1 lookup 101 pref 101
		ip -n $R -$f route add unreachable default table 100 metric 10000
		ip -n $R -$f route add unreachable default table 101 metric 10000
	done
}

# --- linkem ----------------------------------------------------------------------------------

# lk_start [OPTION...] DEV[:RULES]...: a fresh linkem (the previous one stopped), routes to it.
lk_start() {
	local seed=${LINKEM_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')} f
	lk_stop
	[ -z "${LINKEM_PREFIX:-}" ] || [ -n "${LINKEM_BENCH:-}" ] ||
		fail "LINKEM_PREFIX is for LINKEM_BENCH=1"
	rm -f "$STATE/stats"
	# nsenter execs linkem (ip netns exec would fork): $! is then linkem's pid.
	nsenter --net=/run/netns/$R ${LINKEM_PREFIX:-} "$LINKEM" -s "$seed" -S "$STATE/stats" \
		-c "$STATE/ctl" "$@" >"$STATE/linkem.log" 2>&1 </dev/null &
	LK_PID=$!
	wait_for 5 "linkem to start" test -e "$STATE/stats"
	for f in 4 6; do
		ip -n $R -$f route replace default dev lu table 100 metric 10 ||
			fail "no route into lu"
		ip -n $R -$f route replace default dev ld table 101 metric 10 ||
			fail "no route into ld"
	done
	say "linkem (seed $seed): $*"
}

lk_stop() {
	[ -n "$LK_PID" ] || return 0
	kill -TERM "$LK_PID" 2>/dev/null
	wait "$LK_PID"
	local rc=$?
	LK_PID=
	[ $rc = 0 ] || fail "linkem exited with $rc after SIGTERM"
}

# lk_stats: ST = the counters now, one line per device "linkem: DEV key=value...".
lk_stats() {
	rm -f "$STATE/stats"
	kill -USR1 "$LK_PID" || fail "linkem is gone"
	wait_for 5 "linkem's counters" test -e "$STATE/stats"
	ST=$(cat "$STATE/stats")
}

# ctl_send TEXT: write to linkem's control FIFO (bounded: with no linkem, it has no reader).
ctl_send() {
	timeout 5 sh -c 'printf "%s" "$1" >"$2"' - "$1" "$STATE/ctl" || fail "writing to the FIFO"
}

# ctl LINE: a control command, applied once the stats file it is followed by has appeared.
ctl() {
	rm -f "$STATE/stats"
	ctl_send "$1
stats
"
	wait_for 5 "linkem to run '$1'" test -e "$STATE/stats"
}

# stat_of STATS DEV KEY
stat_of() {
	echo "$1" | awk -v d="$2" -v k="$3" '$2 == d { for (i = 3; i <= NF; i++) {
		split($i, kv, "="); if (kv[1] == k) print kv[2] } }'
}

# books STATS: every packet of each device is accounted for.
books() {
	local d in out
	for d in lu ld; do
		in=$(echo "$1" | awk -v d=$d '$2 == d { for (i = 3; i <= NF; i++) {
			split($i, kv, "="); v[kv[1]] = kv[2] }
			print v["received"] + v["duplicated"] }')
		out=$(echo "$1" | awk -v d=$d '$2 == d { for (i = 3; i <= NF; i++) {
			split($i, kv, "="); v[kv[1]] = kv[2] }
			out = v["forwarded"] + v["dropped"] + v["blackholed"] + v["overflow"]
			print out + v["taildrop"] + v["write_errors"] + v["queued"] }')
		[ -n "$in" ] && [ "$in" = "$out" ] ||
			fail "$d's books do not balance: received+duplicated=$in, accounted=$out"
	done
}

# --- measurements ----------------------------------------------------------------------------

# rtt_summary PINGOUTPUT: "min avg max mdev" in ms.
rtt_summary() {
	echo "$1" | awk -F'[ /]' '/^rtt|^round-trip/ { print $7, $8, $9, $10 }'
}

# ping_lost PINGOUTPUT
ping_lost() {
	echo "$1" | awk '/packets transmitted/ { print $1 - $4 }'
}

# fcmp EXPR: a floating-point comparison, true or false.
fcmp() {
	awk "BEGIN { exit !($*) }"
}

# binomial_ok K N P: K within 5 standard deviations of N*P.
binomial_ok() {
	awk -v k="$1" -v n="$2" -v p="$3" 'BEGIN { m = n * p; s = sqrt(n * p * (1 - p))
		exit !(k >= m - 5 * s && k <= m + 5 * s) }'
}

# max_gap PINGOUTPUT: the longest time between consecutive replies (ping -D) and the number
# of replies after it: "SECONDS AFTER".
max_gap() {
	echo "$1" | awk -F'[][]' '/bytes from/ { t = $2 + 0
		if (n++ && t - last > gap) { gap = t - last; after = 1 } else after++
		last = t } END { printf "%.3f %d\n", gap, after }'
}

# iperf_mbit [-R]: TCP client -> server (-R: back) for 4 s, the receiver's Mbit/s over the last 3
# (the first second, slow start included, omitted).
iperf_mbit() {
	nx $S timeout 15 iperf3 -s -1 -B 203.0.113.2 >/dev/null 2>&1 &
	local sp=$! out
	sleep 0.3
	out=$(nx $C timeout 15 iperf3 -c 203.0.113.2 -t 3 -O 1 -f m "$@" 2>&1)
	wait $sp
	echo "$out" | awk '/receiver/ { for (i = 1; i <= NF; i++)
		if ($i == "Mbits/sec") print $(i - 1) }'
}

# --- cases -----------------------------------------------------------------------------------

case_counters() {
	local out4 out6 st d
	lk_start lu ld
	out4=$(nx $C ping -c 50 -i 0.01 -W 2 203.0.113.2) || fail "IPv4 ping through linkem"
	out6=$(nx $C ping -6 -c 50 -i 0.01 -W 2 2001:db8:3::2) || fail "IPv6 ping through linkem"
	lk_stats
	st=$ST
	books "$st"
	# 50 echo requests of 84 bytes (IPv4) and 104 (IPv6) one way, as many replies back
	for d in lu ld; do
		[ "$(stat_of "$st" $d received)" = 100 ] &&
			[ "$(stat_of "$st" $d forwarded)" = 100 ] &&
			[ "$(stat_of "$st" $d bytes)" = 9400 ] ||
			fail "$d counted other than 100 packets, 9400 bytes: $st"
	done
	BASE_MIN=$(rtt_summary "$out4" | cut -d' ' -f1)
	say "ok: counters equal 2 x 50 pings each way; RTT without delay $(rtt_summary "$out4") ms"
}

# check_delay ONE_WAY_MS: ping both families with that delay in each direction.
check_delay() {
	local d=$1 out fam min avg want
	want=$(awk -v d="$d" 'BEGIN { print 2 * d }')
	lk_start lu:delay="$d" ld:delay="$d"
	for fam in 203.0.113.2 2001:db8:3::2; do
		out=$(nx $C ping -c 40 -i 0.02 -W 2 $fam) || fail "ping $fam with delay $d"
		read -r min avg _ <<<"$(rtt_summary "$out")"
		fcmp "$min >= $want" || fail "RTT $min ms below 2 x $d ms ($fam)"
		fcmp "$min <= $want + $BASE_MIN + $TOL_MS" ||
			fail "minimum RTT $min ms exceeds 2 x $d ms + $BASE_MIN + $TOL_MS ($fam)"
		say "ok: delay $d ms each way, $fam: RTT min $min avg $avg ms (want >= $want)"
	done
	lk_stats
	books "$ST"
}

case_jitter() {
	local out min avg max mdev
	lk_start lu:delay=10,jitter=5 ld
	out=$(nx $C ping -c 100 -i 0.02 -W 2 203.0.113.2) || fail "ping with jitter"
	read -r min avg max mdev <<<"$(rtt_summary "$out")"
	# one way uniform in [5, 15] ms: P(min > 7) = P(max < 13) = 0.8^100 = 2e-10
	fcmp "$min >= 5" || fail "RTT $min ms below delay - jitter"
	fcmp "$min <= 7 && $max >= 13 && $mdev >= 2" ||
		fail "jitter 5 ms did not spread RTTs: min $min max $max mdev $mdev"
	lk_stats
	books "$ST"
	say "ok: jitter 10 +- 5 ms one way: RTT min $min avg $avg max $max mdev $mdev ms"
}

case_loss_dup() {
	local out st lost dups dropped duplicated
	lk_start lu:drop=20 ld:dup=10
	out=$(nx $C ping -c 500 -i 0.002 -W 2 203.0.113.2)
	lk_stats
	st=$ST
	books "$st"
	lost=$(ping_lost "$out")
	dups=$(echo "$out" | grep -c 'DUP!')
	dropped=$(stat_of "$st" lu dropped)
	duplicated=$(stat_of "$st" ld duplicated)
	[ "$(stat_of "$st" lu received)" = 500 ] || fail "lu did not receive the 500 requests"
	[ "$lost" = "$dropped" ] || fail "ping lost $lost, linkem dropped $dropped"
	[ "$dups" = "$duplicated" ] || fail "ping saw $dups DUP!, linkem duplicated $duplicated"
	binomial_ok "$dropped" 500 0.2 || fail "drop=20 dropped $dropped of 500"
	binomial_ok "$duplicated" $((500 - dropped)) 0.1 ||
		fail "dup=10 duplicated $duplicated of $((500 - dropped))"
	say "ok: drop=20: $lost of 500 lost (= linkem's count); dup=10: $dups DUP! (= linkem's)"
}

case_rate() {
	local up down st
	lk_start lu:rate=20,delay=5 ld:rate=10,delay=5
	up=$(iperf_mbit)
	down=$(iperf_mbit -R)
	lk_stats
	st=$ST
	books "$st"
	[ -n "$up" ] && [ -n "$down" ] || fail "iperf3 gave no result"
	# TCP's ceiling is 96.5 % of the IP rate (1448 of 1500 bytes); a shortfall with a high
	# late_avg_us or tun_dropped means the machine starved linkem, not a wrong rate
	fcmp "$up >= 17 && $up <= 23" || fail "rate=20: TCP got $up Mbit/s; $st"
	fcmp "$down >= 8.5 && $down <= 11.5" || fail "rate=10: TCP got $down Mbit/s; $st"
	[ "$(stat_of "$st" lu rate_limited)" -gt 0 ] || fail "lu never waited for its link"
	say "ok: rate 20 Mbit/s up: TCP $up; rate 10 down: TCP $down Mbit/s (each within 15 %)"
	[ -n "${LINKEM_VERBOSE:-}" ] && echo "$st"
}

case_blackhole() {
	local out gap after st lost bh lu_bh ld_bh
	lk_start -b 1000 lu ld
	# SIGUSR2: 1 s on every device, in the middle of 3 s of pings
	(sleep 1; kill -USR2 "$LK_PID") &
	out=$(nx $C ping -D -c 300 -i 0.01 -W 2 203.0.113.2)
	wait $!
	lk_stats
	st=$ST
	books "$st"
	read -r gap after <<<"$(max_gap "$out")"
	lost=$(ping_lost "$out")
	bh=$(($(stat_of "$st" lu blackholed) + $(stat_of "$st" ld blackholed)))
	fcmp "$gap >= 0.99 && $gap <= 1.5" || fail "SIGUSR2 (1 s) stopped replies for $gap s"
	[ "$after" -ge 50 ] || fail "only $after replies after the blackhole"
	[ "$lost" = "$bh" ] || fail "ping lost $lost, linkem blackholed $bh"
	say "ok: SIGUSR2 blackhole 1 s: replies stopped for $gap s, $after after; $lost lost"
	# the FIFO: 0.5 s on ld only
	lu_bh=$(stat_of "$st" lu blackholed)
	ld_bh=$(stat_of "$st" ld blackholed)
	(sleep 0.5; ctl_send "blackhole ld 500
") &
	out=$(nx $C ping -D -c 150 -i 0.01 -W 2 203.0.113.2)
	wait $!
	lk_stats
	st=$ST
	books "$st"
	read -r gap after <<<"$(max_gap "$out")"
	lost=$(ping_lost "$out")
	fcmp "$gap >= 0.49 && $gap <= 1.0" || fail "blackhole ld 500 stopped replies for $gap s"
	[ "$after" -ge 20 ] || fail "only $after replies after the blackhole of ld"
	[ "$(stat_of "$st" lu blackholed)" = "$lu_bh" ] || fail "the blackhole of ld hit lu"
	[ $(($(stat_of "$st" ld blackholed) - ld_bh)) = "$lost" ] ||
		fail "ping lost $lost, ld blackholed $(($(stat_of "$st" ld blackholed) - ld_bh))"
	say "ok: FIFO 'blackhole ld 500': replies stopped for $gap s, $after after; $lost lost"
	# the FIFO: new rules, applied before the stats that follow them
	ctl "set lu delay=3"
	out=$(nx $C ping -c 10 -i 0.02 -W 2 203.0.113.2) || fail "ping after 'set lu delay=3'"
	fcmp "$(rtt_summary "$out" | cut -d' ' -f1) >= 3" || fail "'set lu delay=3' not applied"
	say "ok: FIFO 'set lu delay=3': RTT $(rtt_summary "$out" | cut -d' ' -f1) ms"
	lk_stats
	books "$ST"
}

case_tcp() {
	local dst
	head -c 4000000 /dev/urandom >"$STATE/blob"
	lk_start lu:delay=5,jitter=2,drop=1 ld:delay=5,jitter=2,drop=1
	for dst in 203.0.113.2 2001:db8:3::2; do
		rm -f "$STATE/ready" "$STATE/out"
		nx $S timeout 30 python3 "$NETTOOL" tcp-recv $dst 5001 "$STATE/out" "$STATE/ready" \
			>/dev/null &
		local sp=$!
		wait_for 5 "the TCP receiver" test -e "$STATE/ready"
		nx $C timeout 30 python3 "$NETTOOL" tcp-send $dst 5001 "$STATE/blob" ||
			fail "TCP send to $dst"
		wait $sp || fail "TCP receive on $dst"
		[ "$(sha256sum <"$STATE/blob")" = "$(sha256sum <"$STATE/out")" ] ||
			fail "4 MB through delay + jitter + loss arrived changed ($dst)"
		say "ok: 4 MB TCP to $dst through 5 +- 2 ms, 1 % loss each way: sha256 intact"
	done
	lk_stats
	books "$ST"
}

# udp.py send|recv ADDR COUNT [READYFILE]: every datagram carries its sequence number and a
# digest of it and its body, so the receiver tells corrupted ones (all must arrive: linkem keeps
# the checksum valid) and reordered ones; it prints "INTACT CORRUPTED OUT_OF_ORDER".
udp_py() {
	cat >"$STATE/udp.py" <<'EOF'
import hashlib, socket, struct, sys, time
mode, addr, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
if mode == "send":
    s.connect((addr, 5002))
    for seq in range(count):
        body = bytes([seq & 255]) * (100 + seq * 37 % 1200)
        head = struct.pack("!I", seq)
        s.send(head + hashlib.sha256(head + body).digest()[:8] + body)
        if seq % 10 == 9:
            time.sleep(0.001)
    sys.exit(0)
s.bind((addr, 5002))
open(sys.argv[4], "w").close()
s.settimeout(5)
got = bad = ooo = top = 0
try:
    while got + bad < count:
        d = s.recv(2048)
        s.settimeout(1)
        if hashlib.sha256(d[:4] + d[12:]).digest()[:8] != d[4:12]:
            bad += 1
            continue
        got += 1
        seq = struct.unpack("!I", d[:4])[0]
        if seq < top:
            ooo += 1
        top = max(top, seq)
except socket.timeout:
    pass
print(got, bad, ooo)
EOF
}

case_udp() {
	local dst st good bad ooo total_bad=0 total_ooo=0 corrupted reordered
	udp_py
	lk_start lu:corrupt=10,reorder=10 ld
	for dst in 203.0.113.2 2001:db8:3::2; do
		rm -f "$STATE/ready"
		nx $S timeout 20 python3 "$STATE/udp.py" recv $dst 1000 "$STATE/ready" \
			>"$STATE/udp.out" &
		local rp=$!
		wait_for 5 "the UDP receiver" test -e "$STATE/ready"
		nx $C timeout 20 python3 "$STATE/udp.py" send $dst 1000 ||
			fail "UDP send to $dst"
		wait $rp
		read -r good bad ooo <"$STATE/udp.out"
		[ $((good + bad)) = 1000 ] ||
			fail "$((good + bad)) of 1000 datagrams reached $dst (corrupted ones lost?)"
		total_bad=$((total_bad + bad))
		total_ooo=$((total_ooo + ooo))
		say "ok: UDP to $dst: 1000 arrived, $bad corrupted, $ooo out of order"
	done
	lk_stats
	st=$ST
	books "$st"
	corrupted=$(stat_of "$st" lu corrupted)
	reordered=$(stat_of "$st" lu reordered)
	[ "$total_bad" = "$corrupted" ] ||
		fail "the receiver saw $total_bad corrupted datagrams, linkem corrupted $corrupted"
	binomial_ok "$corrupted" 2000 0.1 || fail "corrupt=10 corrupted $corrupted of 2000"
	[ "$total_ooo" -gt 0 ] && [ "$total_ooo" -le "$reordered" ] ||
		fail "$total_ooo datagrams out of order, linkem reordered $reordered"
}

case_exit() {
	local pid=$LK_PID
	lk_stop
	! ip -n $R link show lu >/dev/null 2>&1 || fail "lu still exists after linkem ($pid) exited"
	say "ok: SIGTERM: exit 0, devices gone"
}

# --- LINKEM_BENCH=1: figures instead of assertions ------------------------------------------
# Prints ping RTT percentiles and iperf3 TCP throughput without linkem, through it with no
# rules, with 4.5 ms each way (RTTs stay under 10 ms, where ping prints 3 decimals) idle and
# under TCP load, and with rate=400; then the machine's steal time over the run. linkem's
# late_avg_us/late_max_us say how late it wrote delayed packets, tun_dropped what the kernel
# dropped because linkem did not read fast enough. LINKEM_PREFIX="chrt -f 10" runs linkem so.

# rtt_pct PINGOUTPUT: "min p50 p90 p99 max" of the per-packet times.
rtt_pct() {
	echo "$1" | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | sort -n | awk '{ v[NR] = $1 }
		END { if (!NR) { print "no replies"; exit }
		printf "min %.3f p50 %.3f p90 %.3f p99 %.3f max %.3f ms\n", v[1],
			v[int(NR * .5) + 1], v[int(NR * .9) + 1], v[int(NR * .99) + 1], v[NR] }'
}

bench_ping() {
	printf '%-44s %s\n' "$1" "$(rtt_pct "$(nx $C ping -c 300 -i 0.01 -W 2 203.0.113.2)")"
}

# bench_tcp LABEL [IPERF3 ARG...]: 5 s of TCP client -> server.
bench_tcp() {
	local label=$1 out
	shift
	nx $S timeout 20 iperf3 -s -1 -B 203.0.113.2 >/dev/null 2>&1 &
	local sp=$!
	sleep 0.3
	out=$(nx $C timeout 20 iperf3 -c 203.0.113.2 -t 5 -f m "$@" 2>&1)
	wait $sp
	printf '%-44s %s\n' "$label" "$(echo "$out" | awk '/sender/ { r = $(NF - 1) }
		/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") m = $i }
		END { printf "%s Mbit/s, %s retransmits", m, r }')"
}

# bench_loaded LABEL IPERF3_RATE: ping while a paced TCP flow runs the same way.
bench_loaded() {
	nx $S timeout 20 iperf3 -s -1 -B 203.0.113.2 >/dev/null 2>&1 &
	local sp=$!
	sleep 0.3
	nx $C timeout 20 iperf3 -c 203.0.113.2 -t 5 -b "$2" >/dev/null 2>&1 &
	local cp=$!
	sleep 1
	bench_ping "$1"
	wait $cp $sp
}

bench_counters() {
	lk_stats
	echo "$ST" | awk '{ for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "    %s: late avg %s max %s us, tun_dropped %s, taildrop %s\n", $2,
			v["late_avg_us"], v["late_max_us"], v["tun_dropped"], v["taildrop"] }'
}

cpu_times() {
	awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $9, $5 }' /proc/stat
}

# bench_with RULES -- MEASUREMENT...: one measurement through a fresh linkem, then its counters.
bench_with() {
	local rules=()
	while [ "$1" != -- ]; do
		rules+=("$1")
		shift
	done
	shift
	lk_start "${rules[@]}" >/dev/null
	"$@"
	bench_counters
}

bench() {
	local f t0
	t0=$(cpu_times)
	echo "$T: bench on $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)," \
		"linkem prefix '${LINKEM_PREFIX:-}'"
	for f in 4 6; do
		ip -n $R -$f rule del pref 100
		ip -n $R -$f rule del pref 101
	done
	bench_ping "no linkem, idle"
	bench_loaded "no linkem, TCP 200 Mbit/s" 200M
	bench_tcp "no linkem, TCP"
	for f in 4 6; do
		ip -n $R -$f rule add iif r0 lookup 100 pref 100
		ip -n $R -$f rule add iif r1 lookup 101 pref 101
	done
	bench_with lu ld -- bench_ping "linkem, no rules, idle"
	bench_with lu ld -- bench_loaded "linkem, no rules, TCP 200 Mbit/s" 200M
	bench_with lu ld -- bench_tcp "linkem, no rules, TCP"
	bench_with lu:delay=0.5 ld:delay=0.5 -- bench_ping "delay 0.5 ms each way, idle"
	bench_with lu:delay=4.5 ld:delay=4.5 -- bench_ping "delay 4.5 ms each way, idle"
	for f in 100M 200M 400M; do
		bench_with lu:delay=4.5 ld:delay=4.5 -- \
			bench_loaded "delay 4.5 ms each way, TCP ${f%M} Mbit/s" $f
	done
	bench_with lu:delay=4.5 ld:delay=4.5 -- bench_tcp "delay 4.5 ms each way, TCP"
	bench_with lu:rate=400,delay=4.5 ld:delay=4.5 -- \
		bench_tcp "rate 400 + delay 4.5 ms each way, TCP"
	lk_stop
	echo "$t0 $(cpu_times)" | awk -v t="$T" '{ printf "%s: steal %.0f %%, idle %.0f %%",
		t, 100 * ($5 - $2) / ($4 - $1), 100 * ($6 - $3) / ($4 - $1) }'
	echo " of the CPUs over the bench"
}

setup
if [ -n "${LINKEM_BENCH:-}" ]; then
	bench
	exit 0
fi
# LINKEM_CASES="jitter rate" runs only those (and counters, which measures the base RTT).
for c in counters delay jitter loss_dup rate blackhole tcp udp exit; do
	case " counters exit ${LINKEM_CASES:-$c} " in
	*" $c "*) ;;
	*) continue ;;
	esac
	if [ $c = delay ]; then
		check_delay 10
		check_delay 0.5
	else
		case_$c
	fi
done
say "all passed in $(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
