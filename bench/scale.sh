#!/bin/bash
# SPDX-License-Identifier: MIT
# scale.sh BRAID [WIREGUARD_GO]: a concentrator's configuration at scale, braid beside
# wireguard-go in one run (root; a few minutes; not part of make check).
#
# For each count of peers, a fresh daemon in namespaces of its own (network, and mount with a
# tmpfs on /var/run/wireguard), driven by wg as an administrator drives it:
#   setconf   wg setconf of N peers: random keys, a /64 and a /128 allowed-ip and an endpoint each
#   dump      wg show wg0 dump
#   syncconf  wg syncconf with one peer's endpoint changed
#   clear     wg setconf with no peers (all of them removed)
#   rss/peer  the daemon's resident memory after setconf, less before, per peer
#   set, get  the set wg setconf sends and a get, straight on the UAPI socket (bench/
#             uapi_time.py): the daemon's own time, without wg's parsing of the configuration
#             or of the reply, which at a million peers takes seconds of its own
# Side by side at SCALE_BOTH peers (default "1000 10000 60000"; wireguard-go refuses more than
# 65,536), braid alone at SCALE_ALONE (default "100000 1000000").
#
# Then, on a live braid tunnel whose server holds SCALE_PING (default 100000) other peers: ping
# through it every 10 ms while the server serves a full get, adds, updates and removes those
# peers (a set of each); and how long the daemon takes to exit on SIGTERM, and on
# `ip link del`, 1 s and 3 s into a set of the largest count sent straight to its socket.
#
# On a virtual machine the first write to a page of guest memory costs far more than the next
# ones (this one: ~3 s per GB the first time, ~0.5 s after), which would charge the largest runs
# for the machine's history rather than for the daemon: SCALE_WARM_MB (default 3072) of memory
# is written once before the runs and freed; 0 skips it.
#
# Addresses: 2001:db8::/32 only (bench/scale_conf.py); the tunnel's underlay is a veth pair
# between the two namespaces, nothing is routed out of them, and the configured peers'
# endpoints are never sent anything (no packet is routed to them, none has a keepalive).
# Results: a table on stdout, and one line per figure in SCALE_OUT (default
# build/bench/scale.tsv); what the daemons logged beside it (scale.log).

set -u
export LC_ALL=C
BRAID=$(realpath "${1:?usage: $0 BRAID [WIREGUARD_GO]}")
WGGO=${2:-/usr/bin/wireguard-go}
BOTH=${SCALE_BOTH-1000 10000 60000}
ALONE=${SCALE_ALONE-100000 1000000}
PING_PEERS=${SCALE_PING-100000}
OUT=${SCALE_OUT:-$(dirname "$0")/../build/bench/scale.tsv}
HERE=$(cd "$(dirname "$0")" && pwd)

[ "$(id -u)" = 0 ] || { echo "scale.sh: needs root (namespaces)" >&2; exit 2; }
for tool in wg unshare nsenter ip ping python3 timeout; do
	command -v "$tool" >/dev/null || { echo "scale.sh: missing $tool" >&2; exit 2; }
done
[ -x "$WGGO" ] || WGGO=""
mkdir -p "$(dirname "$OUT")"
: >"$OUT"
TMP=$(mktemp -d /tmp/braid-scale.XXXXXX)
HOLDERS=""
DAEMONS=""

cleanup() {
	local p
	for p in $DAEMONS $HOLDERS; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	cp "$TMP/daemon.log" "${OUT%.tsv}.log" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ms() { # milliseconds since the epoch, from bash's clock (no fork)
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# host: a process holding new network and mount namespaces (a tmpfs on /var/run/wireguard, lo
# up); its pid, through which hx enters them, in $HOST.
host() {
	unshare -n -m sh -c 'mount -t tmpfs none /var/run/wireguard && ip link set lo up &&
		exec sleep 1000000' >/dev/null 2>&1 &
	HOST=$!
	HOLDERS="$HOLDERS $HOST"
	sleep 0.2
}

drop_host() {
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
# hx HOST CMD...: CMD in HOST's namespaces. (Started in the background, a function is a subshell:
# the places that need the command's own pid call nsenter themselves.)
hx() { local h=$1; shift; nsenter -t "$h" -n -m "$@"; }

# start HOST IMPL IFNAME: the daemon in the foreground, its pid in $DPID once its socket is up.
start() {
	local h=$1 impl=$2 ifname=$3 i
	nsenter -t "$h" -n -m env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error "$impl" "$ifname" \
		>>"$TMP/daemon.log" 2>&1 </dev/null &
	DPID=$!
	DAEMONS="$DAEMONS $DPID"
	for i in $(seq 100); do
		hx "$h" test -S "/var/run/wireguard/$ifname.sock" && return 0
		sleep 0.05
	done
	echo "scale.sh: $impl did not start" >&2
	return 1
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# gone PID T0: wait for our child PID to exit (KILL after 30 s); the ms since T0 in $GONE_MS.
gone() {
	( sleep 30; kill -KILL "$1" ) >/dev/null 2>&1 &
	local watchdog=$!
	wait "$1" 2>/dev/null
	GONE_MS=$(($(ms) - $2))
	kill "$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null
}

# record IMPL PEERS WHAT VALUE UNIT
record() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$OUT"
	printf '  %-13s %8s peers  %-9s %10s %s\n' "$@"
}

# timed HOST CMD...: run it in HOST's namespaces; print its time in ms, or FAIL.
timed() {
	local h=$1 t0
	shift
	t0=$(ms)
	if hx "$h" "$@" >/dev/null 2>>"$TMP/wg.log"; then
		echo $(($(ms) - t0))
	else
		echo FAIL
	fi
}

conf() { # N: the configuration of N peers, made once
	[ -e "$TMP/$1.conf" ] || python3 "$HERE/scale_conf.py" "$1" "$TMP/$1.conf"
	echo "$TMP/$1.conf"
}

uapi_conf() { # N: what wg setconf would send for such a configuration, made once
	[ -e "$TMP/$1.uapi" ] || python3 "$HERE/scale_conf.py" "$1" "$TMP/$1.uapi" --uapi
	echo "$TMP/$1.uapi"
}

# uapi_timed HOST WHAT: the time of one operation on wg0's socket (uapi_time.py), or FAIL.
uapi_timed() {
	local out
	out=$(hx "$1" python3 "$HERE/uapi_time.py" /var/run/wireguard/wg0.sock "$2" \
		2>>"$TMP/wg.log")
	case "$out" in
	*" 0") echo "${out%% *}" ;;
	*) echo "FAIL($out)" ;;
	esac
}

# one IMPL N: every operation on a fresh daemon.
one() {
	local impl=$1 n=$2 name h file before after dumped t0
	name=$(basename "$impl")
	file=$(conf "$n")
	host
	h=$HOST
	start "$h" "$impl" wg0 || return 1
	before=$(rss_kb "$DPID")
	record "$name" "$n" setconf "$(timed "$h" wg setconf wg0 "$file")" ms
	after=$(rss_kb "$DPID")
	record "$name" "$n" rss/peer "$(((after - before) * 1024 / n))" bytes
	record "$name" "$n" dump "$(timed "$h" sh -c "wg show wg0 dump >$TMP/dump")" ms
	dumped=$(($(wc -l <"$TMP/dump") - 1))
	[ "$dumped" = "$n" ] || echo "scale.sh: $name showed $dumped peers of $n" >&2
	# One peer's endpoint changes.
	awk '!done && /^Endpoint/ { print "Endpoint = [2001:db8:eeee::1]:51820"; done = 1; next }
		{ print }' "$file" >"$TMP/changed.conf"
	record "$name" "$n" syncconf "$(timed "$h" wg syncconf wg0 "$TMP/changed.conf")" ms
	head -n 4 "$file" >"$TMP/empty.conf"
	record "$name" "$n" clear "$(timed "$h" wg setconf wg0 "$TMP/empty.conf")" ms
	[ "$(hx "$h" wg show wg0 peers | wc -l)" = 0 ] || echo "scale.sh: $name kept peers" >&2
	record "$name" "$n" "set (uapi)" "$(uapi_timed "$h" "$(uapi_conf "$n")")" ms
	record "$name" "$n" "get (uapi)" "$(uapi_timed "$h" get)" ms
	t0=$(ms)
	kill -TERM "$DPID"
	gone "$DPID" "$t0"
	record "$name" "$n" exit "$GONE_MS" ms
	drop_host "$h"
}

# ---- the tunnel's latency while large operations run ----

# pinged LABEL CMD...: ping through the tunnel every 10 ms while CMD runs on the server; the
# worst round trip and how many replies were late by more than 50 ms over the idle median.
# (The last request may still be in flight when ping is stopped: one reply fewer than sent.)
pinged() {
	local label=$1 t
	shift
	nsenter -t "$CLI" -n -m ping -6 -n -i 0.01 -W 1 2001:db8:2::1 >"$TMP/ping" 2>&1 &
	local pp=$!
	sleep 0.3
	t=$(timed "$SRV" "$@")
	sleep 0.3
	kill -INT "$pp"
	wait "$pp" 2>/dev/null
	awk -v base="$PING_BASE" -v label="$label" -v took="$t" '
		/time=/ { sub(/.*time=/, ""); v = $1 + 0; n++; if (v > max) max = v
			  if (v > base + 50) late++ }
		/transmitted/ { sent = $1 }
		END { printf "%s\t%d\t%d\t%.2f\t%d\t%s\n", label, sent, n, max, late, took }
	' "$TMP/ping"
}

latency() {
	local n=$1 sk ck spub cpub
	host
	SRV=$HOST
	host
	CLI=$HOST
	hx "$SRV" ip link add vs type veth peer name vc netns "$CLI"
	hx "$SRV" ip addr add 2001:db8:1::1/64 dev vs nodad
	hx "$CLI" ip addr add 2001:db8:1::2/64 dev vc nodad
	hx "$SRV" ip link set vs up
	hx "$CLI" ip link set vc up
	start "$SRV" "$BRAID" wgs || return 1
	local spid=$DPID
	start "$CLI" "$BRAID" wgc || return 1
	sk=$(wg genkey)
	ck=$(wg genkey)
	spub=$(echo "$sk" | wg pubkey)
	cpub=$(echo "$ck" | wg pubkey)
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n\n[Peer]\nPublicKey = %s\n%s\n' \
		"$sk" "$cpub" "AllowedIPs = 2001:db8:2::2/128" >"$TMP/srv.conf"
	printf '[Interface]\nPrivateKey = %s\n\n[Peer]\nPublicKey = %s\n%s\n%s\n%s\n' \
		"$ck" "$spub" "AllowedIPs = 2001:db8:2::1/128" "Endpoint = [2001:db8:1::1]:51820" \
		"PersistentKeepalive = 25" >"$TMP/cli.conf"
	hx "$SRV" wg setconf wgs "$TMP/srv.conf"
	hx "$CLI" wg setconf wgc "$TMP/cli.conf"
	hx "$SRV" ip addr add 2001:db8:2::1/64 dev wgs nodad
	hx "$CLI" ip addr add 2001:db8:2::2/64 dev wgc nodad
	hx "$SRV" ip link set wgs up
	hx "$CLI" ip link set wgc up
	hx "$CLI" ping -6 -n -c 3 -i 0.2 -W 2 2001:db8:2::1 >/dev/null ||
		{ echo "scale.sh: no tunnel" >&2; return 1; }
	hx "$CLI" ping -6 -n -c 200 -i 0.01 2001:db8:2::1 >"$TMP/ping"
	PING_BASE=$(awk '/time=/ { sub(/.*time=/, ""); print $1 + 0 }' "$TMP/ping" | sort -n |
		awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	python3 "$HERE/scale_conf.py" "$n" "$TMP/peers.conf" --peers-only
	echo "  ping through a braid tunnel every 10 ms; the server holds $n other peers;" \
		"idle median ${PING_BASE} ms"
	printf '  %-34s %6s %6s %9s %9s %9s\n' "while the server runs" sent replies "max ms" \
		"late>50ms" "op ms"
	{
		pinged "(nothing: 2 s)" sleep 2
		pinged "wg addconf: $n peers added" wg addconf wgs "$TMP/peers.conf"
		pinged "wg show dump: get of $n peers" sh -c 'wg show wgs dump >/dev/null'
		pinged "wg addconf: $n peers updated" wg addconf wgs "$TMP/peers.conf"
		pinged "wg syncconf: $n peers removed" wg syncconf wgs "$TMP/srv.conf"
	} | while IFS=$'\t' read -r label sent got max late took; do
		printf '  %-34s %6s %6s %9s %9s %9s\n' \
			"$label" "$sent" "$got" "$max" "$late" "$took"
		printf 'braid\t%s\tping max (%s)\t%s\tms\n' "$n" "$label" "$max" >>"$OUT"
		printf 'braid\t%s\tping late (%s)\t%s\treplies\n' "$n" "$label" "$late" >>"$OUT"
	done
	kill -TERM "$spid" "$DPID"
	wait "$spid" "$DPID" 2>/dev/null
	drop_host "$SRV"
	drop_host "$CLI"
}

# ---- stopping in the middle of a long set ----

# interrupted N HOW SECONDS: the set of N peers sent straight to the socket (no wg parsing
# first, so the daemon is at work at once), and SECONDS later SIGTERM (term) or ip link del.
interrupted() {
	local n=$1 how=$2 after=$3 h file t0 cpid when
	file=$(uapi_conf "$n")
	host
	h=$HOST
	start "$h" "$BRAID" wg0 || return 1
	nsenter -t "$h" -n -m python3 "$HERE/uapi_time.py" /var/run/wireguard/wg0.sock "$file" \
		>/dev/null 2>&1 &
	cpid=$!
	sleep "$after"
	# Whether the set was still being applied when the stop came.
	when=after-set
	kill -0 "$cpid" 2>/dev/null && when=mid-set
	t0=$(ms)
	if [ "$how" = term ]; then
		kill -TERM "$DPID"
	else
		hx "$h" ip link del wg0
	fi
	gone "$DPID" "$t0"
	wait "$cpid" 2>/dev/null
	record "$(basename "$BRAID")" "$n" "exit ($how ${after}s in, $when)" "$GONE_MS" ms
	drop_host "$h"
}

echo "scale.sh: $BRAID${WGGO:+ and $WGGO ($("$WGGO" --version 2>&1 | head -n 1))}; $(nproc) CPUs"
if [ "${SCALE_WARM_MB:-3072}" != 0 ]; then
	python3 -c 'import sys; n = int(sys.argv[1]) << 20; m = bytearray(n)
m[::4096] = b"x" * (n // 4096)' "${SCALE_WARM_MB:-3072}"
fi
for n in $BOTH; do
	one "$BRAID" "$n"
	[ -z "$WGGO" ] || one "$WGGO" "$n"
done
for n in $ALONE; do
	one "$BRAID" "$n"
done
[ -z "$PING_PEERS" ] || latency "$PING_PEERS"
largest=$(echo $BOTH $ALONE | tr ' ' '\n' | sort -n | tail -n 1)
if [ -n "$largest" ]; then
	for after in 1 3; do
		interrupted "$largest" term "$after"
		interrupted "$largest" linkdel "$after"
	done
fi
[ ! -s "$TMP/wg.log" ] || { echo "wg said:"; sort "$TMP/wg.log" | uniq -c | head; }
echo "scale.sh: figures in $OUT"
