# SPDX-License-Identifier: MIT
# lib.sh: helpers shared by braid's namespace tests. Sourced by bash scripts, never run.
#
# A test script takes the implementation of each host as arguments (a binary with wireguard-go's
# command-line contract: build/braid or /usr/bin/wireguard-go):
#
#	tests/netns/basic.sh IMPL_A IMPL_B [IMPL_C]	(IMPL_C defaults to IMPL_B)
#
# Hosts. Every host is a network namespace of its own. Its commands also run in a private mount
# namespace with a tmpfs on /var/run/wireguard, so that the UAPI sockets of two hosts both called
# wg0 never meet. The mount namespace is kept alive by a "holder" process (a sleep started through
# `ip netns exec NS unshare -m`); the daemon and every later command of that host enter the holder's
# namespaces with `nsenter -t HOLDER -m -n` (see hx). Killing the holder and the daemons frees the
# tmpfs: nothing is mounted in the caller's namespace, so there is nothing to unmount.
#
# Cases. A script is a list of `run_case "description" function [seconds]`. Each case runs in a
# subshell under `set -e` in a process group of its own, with its output captured and a time limit;
# state that must outlive a case (daemon pids) lives in files under $STATE. A case prints one line:
#
#	PASS basic     braid/wireguard-go   handshake initiated by A  (0.4s)
#
# and, when it fails, its own output, `wg show` and `ip addr` of every host and what each daemon
# logged while the case ran. run-all.sh counts these lines. A case given as a "gate" (run_gate)
# stops the script when it fails: the cases after it are reported as failed without being run, so
# a daemon that cannot make a tunnel at all costs seconds, not the sum of every case's time limit.
#
# Addresses (host number N: a=1, b=2, c=3): underlay 198.51.100.N/24 and 2001:db8:1::N/64 (and
# 203.0.113.0/24 where a script needs a second underlay), tunnel 192.0.2.N/24 and 2001:db8:2::N/64,
# listen port 10000+N. Nothing is routed out of the namespaces a script made.
#
# wireguard-go on Linux: v0.0.20220316 prints a "use the kernel module" banner only when it
# daemonizes, and no longer refuses to run on Linux (versions before 2019 required
# WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1). The variable is still exported, harmlessly, so an
# older wireguard-go works too; braid ignores it.

set -u
export LC_ALL=C
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1

NETNS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
NETTOOL="$NETNS_DIR/nettool.py"

CASE_TIMEOUT=${CASE_TIMEOUT:-60}	# default limit of one case, seconds
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-300}	# watchdog of a whole script, seconds
WG_MTU=1420

# --- script life -----------------------------------------------------------------------------

# netns_init IMPL_A IMPL_B [IMPL_C]: check the arguments, make $STATE, arm the traps and watchdog.
netns_init() {
	T=$(basename "$0" .sh)
	if [ $# -lt 2 ] || [ $# -gt 3 ]; then
		echo "usage: $0 IMPL_A IMPL_B [IMPL_C]  (IMPL: build/braid or /usr/bin/wireguard-go)" >&2
		exit 2
	fi
	IMPL_A=$(impl_path "$1") || exit 2
	IMPL_B=$(impl_path "$2") || exit 2
	IMPL_C=$(impl_path "${3:-$2}") || exit 2
	if [ "$(id -u)" != 0 ]; then
		echo "$T: needs root (network and mount namespaces)" >&2
		exit 2
	fi
	local tool
	for tool in ip wg nsenter unshare timeout ping nft ss sha256sum; do
		command -v "$tool" >/dev/null || { echo "$T: missing tool: $tool" >&2; exit 2; }
	done
	PAIR="$(impl_label "$IMPL_A")/$(impl_label "$IMPL_B")"
	[ "$IMPL_C" = "$IMPL_B" ] || PAIR="$PAIR/$(impl_label "$IMPL_C")"
	NSPREFIX="bt-$T-$$"
	STATE=$(mktemp -d "/tmp/braid-netns.$T.$$.XXXXXX")
	HOSTS=""
	N_PASS=0 N_FAIL=0 GATE_CLOSED="" CASE_PID="" WD_PID="" T0=$SECONDS
	trap netns_cleanup EXIT
	trap 'netns_signal INT' INT
	trap 'netns_signal TERM' TERM
	trap 'netns_signal HUP' HUP
	trap '' PIPE	# a reader that went away (^C on `| tee`) must not stop the cleanup
	set -m
	( sleep "$SCRIPT_TIMEOUT"; kill -TERM $$ ) >/dev/null 2>&1 &
	WATCHDOG_PID=$!
	set +m
	echo "$T: A=$IMPL_A B=$IMPL_B$([ "$IMPL_C" = "$IMPL_B" ] || echo " C=$IMPL_C") (state $STATE)"
}

impl_path() {
	local p=$1
	case "$p" in */*) ;; *) p=$(command -v "$p") || p=$1 ;; esac
	if [ ! -x "$p" ]; then
		echo "$T: implementation '$1' is not an executable file" >&2
		return 1
	fi
	(cd "$(dirname "$p")" && echo "$(pwd)/$(basename "$p")")
}

impl_label() {
	case "$(basename "$1")" in
	wireguard-go*) echo wireguard-go ;;
	braid*) echo braid ;;
	*) basename "$1" ;;
	esac
}

# netns_finish: print the script's tally and exit with its status.
netns_finish() {
	echo "== $T $PAIR: $N_PASS of $((N_PASS + N_FAIL)) cases passed in $((SECONDS - T0))s"
	[ "$N_FAIL" = 0 ]
	exit $?
}

netns_signal() {
	[ "$BASHPID" = "$$" ] || exit 1	# a subshell that got the signal before resetting traps
	trap - INT TERM HUP
	echo "FAIL $(printf '%-9s %-26s' "$T" "$PAIR") script stopped by SIG$1 after $((SECONDS - T0))s" \
		"(its watchdog sends TERM after ${SCRIPT_TIMEOUT}s)"
	kill_group "$CASE_PID"
	CASE_PID=""
	exit 1
}

kill_group() { # PGID: TERM the process group, then KILL what is left
	[ -n "${1:-}" ] || return 0
	kill -TERM -- "-$1" 2>/dev/null || return 0
	local i
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		group_alive "$1" || break
		sleep 0.1
	done
	group_alive "$1" && kill -KILL -- "-$1" 2>/dev/null
	wait "$1" 2>/dev/null	# reap the leader when it is our child
	return 0
}

# stop_watchdog PGID: a watchdog is a subshell sleeping in its own process group; KILL cannot be
# caught, so no trap inherited by a freshly forked subshell can run.
stop_watchdog() {
	[ -n "${1:-}" ] || return 0
	kill -KILL -- "-$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# group_alive PGID: is any process of the group still running (zombies do not count)?
group_alive() {
	local f line fields
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$f" || continue
		read -r -a fields <<<"${line##*) }"	# state ppid pgrp ... (after "pid (comm) ")
		[ "${fields[2]}" = "$1" ] && [ "${fields[0]}" != Z ] && return 0
	done
	return 1
}

kill_pid() { # PID [seconds]: TERM, wait, then KILL
	local pid=$1 i n=$((${2:-3} * 10))
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < n; i++)); do
		proc_running "$pid" || break
		sleep 0.1
	done
	proc_running "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null	# reap it if it is our child
	return 0
}

# proc_running PID: the process exists and is not a zombie.
proc_running() {
	local line fields
	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	read -r -a fields <<<"${line##*) }"
	[ "${fields[0]}" != Z ]
}

netns_cleanup() {
	local rc=$? h f pid ns
	[ "$BASHPID" = "$$" ] || exit "$rc"	# only the script itself cleans up
	trap - EXIT INT TERM HUP
	kill_group "$CASE_PID"
	stop_watchdog "${WD_PID:-}"
	stop_watchdog "${WATCHDOG_PID:-}"
	[ -n "${STATE:-}" ] && [ -d "$STATE" ] || exit "$rc"
	# Daemons first (they remove their sockets), then anything else still in our namespaces
	# (a daemon wg-quick started, a stray ping), then the holders, then the namespaces.
	for f in "$STATE"/*.pid; do
		[ -e "$f" ] || continue
		read -r pid 2>/dev/null <"$f" && [ -n "$pid" ] && kill_pid "$pid" 2
	done
	for h in $HOSTS; do
		ns="$NSPREFIX-$h"
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			[ "$pid" = "$(cat "$STATE/$h.holder" 2>/dev/null)" ] || kill -KILL "$pid" 2>/dev/null
		done
		[ -f "$STATE/$h.holder" ] && kill_pid "$(cat "$STATE/$h.holder")" 1
		ip netns del "$ns" 2>/dev/null
	done
	if [ "$rc" != 0 ] && [ -n "${NETNS_KEEP_LOGS:-}" ]; then
		mkdir -p "$NETNS_KEEP_LOGS" && cp -r "$STATE" "$NETNS_KEEP_LOGS/" 2>/dev/null
	fi
	rm -rf "$STATE"
	exit "$rc"
}

# --- cases -----------------------------------------------------------------------------------

# run_case DESCRIPTION FUNCTION [SECONDS]
run_case() {
	_run_case "" "$@"
}

# run_gate DESCRIPTION FUNCTION [SECONDS]: a case the rest of the script depends on.
run_gate() {
	_run_case gate "$@"
}

_run_case() {
	local gate=$1 desc=$2 fn=$3 limit=${4:-$CASE_TIMEOUT} start rc line
	line="$(printf '%-9s %-26s' "$T" "$PAIR") $desc"
	if [ -n "$GATE_CLOSED" ]; then
		echo "FAIL $line  (not run: '$GATE_CLOSED' failed)"
		N_FAIL=$((N_FAIL + 1))
		return 0
	fi
	log_marks
	start=$(date +%s.%N)
	rm -f "$STATE/case.timeout"
	set -m
	( set +m; trap - EXIT INT TERM HUP; set -e; [ -z "${NETNS_TRACE:-}" ] || set -x; "$fn" ) \
		>"$STATE/case.out" 2>&1 </dev/null &
	CASE_PID=$!
	( sleep "$limit"; : >"$STATE/case.timeout"; kill_group "$CASE_PID" ) >/dev/null 2>&1 </dev/null &
	WD_PID=$!
	set +m
	wait "$CASE_PID" 2>/dev/null
	rc=$?
	stop_watchdog "$WD_PID"
	# After a time-out, finish what the watchdog began: the case's leader is gone, its children
	# may not be.
	[ -e "$STATE/case.timeout" ] && kill_group "$CASE_PID"
	WD_PID="" CASE_PID=""
	local took
	took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	if [ "$rc" = 0 ]; then
		echo "PASS $line  (${took}s)"
		[ -z "${NETNS_VERBOSE:-}" ] || cut -c 1-1000 "$STATE/case.out" | sed 's/^/    /'
		N_PASS=$((N_PASS + 1))
		return 0
	fi
	N_FAIL=$((N_FAIL + 1))
	if [ -e "$STATE/case.timeout" ]; then
		echo "FAIL $line  (timed out after ${limit}s)"
	else
		echo "FAIL $line  (${took}s)"
	fi
	[ -n "$gate" ] && GATE_CLOSED=$desc
	dump_failure
	return 0
}

# The sizes of the log files when a case starts, so a failure prints only what the case caused.
log_marks() {
	local f
	for f in "$STATE"/*.log; do
		[ -e "$f" ] || continue
		stat -c %s "$f" >"$f.mark"
	done
}

dump_failure() {
	local h f from
	{
		echo "--- case output:"
		cut -c 1-1000 "$STATE/case.out" | sed 's/^/    /'
		for h in $HOSTS; do
			echo "--- host $h: wg show"
			hx "$h" timeout 5 wg show all 2>&1 | sed 's/^/    /'
			echo "--- host $h: ip -br addr"
			hx "$h" ip -br addr 2>&1 | sed 's/^/    /'
		done
		for f in "$STATE"/*.log; do
			[ -e "$f" ] || continue
			from=0
			[ -e "$f.mark" ] && from=$(cat "$f.mark")
			echo "--- $(basename "$f") while the case ran (last 120 lines):"
			tail -c +"$((from + 1))" "$f" | tail -n 120 | cut -c 1-300 | sed 's/^/    /'
		done
		echo "---"
	} 2>&1
}

say() { echo "  $*"; }

fail() {
	echo "  error: $*" >&2
	exit 1
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local secs=$1 desc=$2 end
	shift 2
	end=$(($(date +%s%N) + secs * 1000000000))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt "$end" ] || fail "timed out after ${secs}s waiting for $desc"
		sleep 0.1
	done
}

# --- hosts -----------------------------------------------------------------------------------

host_num() {
	case "$1" in a) echo 1 ;; b) echo 2 ;; c) echo 3 ;; d) echo 4 ;; *) echo 9 ;; esac
}

impl_of() {
	case "$1" in a) echo "$IMPL_A" ;; c) echo "$IMPL_C" ;; *) echo "$IMPL_B" ;; esac
}

ns_of() { echo "$NSPREFIX-$1"; }

holder_of() {
	local p
	read -r p <"$STATE/$1.holder" || fail "host $1 has no holder"
	echo "$p"
}

# host_add NAME: a network namespace and its mount-namespace holder; lo up; a fresh key pair.
# Runs in the main shell (not in a case): HOSTS must be known to the cleanup.
host_add() {
	local h=$1 ns
	ns=$(ns_of "$h")
	HOSTS="$HOSTS $h"
	ip netns add "$ns" || { echo "$T: ip netns add $ns failed" >&2; exit 1; }
	mkdir -p /run/wireguard	# the mount point; wireguard-go and wg-quick create it anyway
	ip netns exec "$ns" unshare -m --propagation private sh -c '
		mount -t tmpfs -o mode=0755,size=1m braid-netns /run/wireguard || exit 1
		: >"$1"
		exec sleep "$2"' holder "$STATE/$h.ready" "$((SCRIPT_TIMEOUT + 60))" \
		>/dev/null 2>&1 </dev/null &
	echo $! >"$STATE/$h.holder"
	local i
	for ((i = 0; i < 50; i++)); do
		[ -e "$STATE/$h.ready" ] && break
		sleep 0.1
	done
	[ -e "$STATE/$h.ready" ] || { echo "$T: host $h: holder did not start" >&2; exit 1; }
	hx "$h" ip link set lo up
	: >"$STATE/$h.log"
	(umask 077 && wg genkey >"$STATE/$h.key")
	wg pubkey <"$STATE/$h.key" >"$STATE/$h.pub"
	chmod 600 "$STATE/$h.key"
}

# hx HOST COMMAND...: run a command in the host's network and mount namespaces.
# setns() into a mount namespace resets the working directory to /: use absolute paths.
hx() {
	local h=$1
	shift
	nsenter -t "$(holder_of "$h")" -m -n -- "$@"
}

# link_add HOST_A IF_A HOST_B IF_B: a veth pair between two hosts, both ends up.
link_add() {
	ip link add name "$2" netns "$(ns_of "$1")" type veth peer name "$4" netns "$(ns_of "$3")" ||
		fail "veth $1/$2 - $3/$4"
	hx "$1" ip link set "$2" up
	hx "$3" ip link set "$4" up
}

# addr_add HOST IF ADDRESS/LEN: IPv6 addresses skip duplicate address detection.
addr_add() {
	case "$3" in
	*:*) hx "$1" ip -6 addr add "$3" dev "$2" nodad ;;
	*) hx "$1" ip addr add "$3" dev "$2" ;;
	esac
}

pub() { cat "$STATE/$1.pub"; }

# --- daemons ---------------------------------------------------------------------------------

# daemon_start HOST [IFNAME [IMPL]]: foreground daemon in the background, logging to HOST.log;
# returns once its UAPI socket answers.
daemon_start() {
	local h=$1 ifc=${2:-wg0} impl=${3:-} hp
	[ -n "$impl" ] || impl=$(impl_of "$h")
	hp=$(holder_of "$h")
	echo "--- $(date +%T.%N) host $h: starting $impl $ifc" >>"$STATE/$h.log"
	WG_PROCESS_FOREGROUND=1 LOG_LEVEL=verbose \
		nsenter -t "$hp" -m -n -- "$impl" "$ifc" >>"$STATE/$h.log" 2>&1 </dev/null &
	echo $! >"$STATE/$h.$ifc.pid"
	wait_for 5 "the UAPI socket of $h/$ifc" hx "$h" test -S "/var/run/wireguard/$ifc.sock"
	wait_for 5 "$h/$ifc to answer 'wg show'" hx "$h" timeout 2 wg show "$ifc"
	daemon_alive "$h" "$ifc" || fail "daemon $impl on $h/$ifc exited"
}

daemon_pid() { cat "$STATE/$1.${2:-wg0}.pid" 2>/dev/null; }

# reap HOST...: end what a case left running in the hosts (helpers, not daemons or holders), so
# that a failed case's receivers do not hold ports or CPU.
reap() {
	local h pid keep
	for h in "$@"; do
		keep=" $(cat "$STATE/$h.holder") $(daemon_pid "$h") "
		for pid in $(ip netns pids "$(ns_of "$h")" 2>/dev/null); do
			[[ "$keep" == *" $pid "* ]] || kill -TERM "$pid" 2>/dev/null || true
		done
	done
	return 0
}

daemon_alive() {
	local pid
	pid=$(daemon_pid "$1" "${2:-}") && [ -n "$pid" ] && proc_running "$pid"
}

# daemon_stop HOST [IFNAME [SIGNAL]]: signal the daemon and wait (5 s) for it to end.
daemon_stop() {
	local h=$1 ifc=${2:-wg0} sig=${3:-TERM} pid
	pid=$(daemon_pid "$h" "$ifc")
	[ -n "$pid" ] || return 0
	echo "--- $(date +%T.%N) host $h: SIG$sig to $ifc daemon $pid" >>"$STATE/$h.log"
	kill -"$sig" "$pid" 2>/dev/null || true
	wait_for 5 "daemon $pid on $h/$ifc to exit after SIG$sig" not_running "$pid"
	rm -f "$STATE/$h.$ifc.pid"
}

not_running() { ! proc_running "$1"; }

# wgh HOST ARGS...: `wg` in the host, bounded.
wgh() {
	local h=$1
	shift
	hx "$h" timeout 10 wg "$@"
}

# wg_up HOST: start the daemon on HOST, give it HOST's key, port 10000+N, the tunnel addresses
# 192.0.2.N/24 and 2001:db8:2::N/64 and MTU 1420, and bring wg0 up. No peers.
wg_up() {
	local h=$1 n
	n=$(host_num "$h")
	daemon_start "$h" wg0
	wgh "$h" set wg0 private-key "$STATE/$h.key" listen-port "$((10000 + n))" ||
		fail "wg set on $h failed"
	addr_add "$h" wg0 "192.0.2.$n/24"
	addr_add "$h" wg0 "2001:db8:2::$n/64"
	hx "$h" ip link set wg0 mtu "$WG_MTU" up || fail "ip link set wg0 up on $h failed"
}

# peer_set HOST PEERHOST [wg set peer options...]: wg set wg0 peer PUB(PEERHOST) options.
peer_set() {
	local h=$1 p=$2
	shift 2
	wgh "$h" set wg0 peer "$(pub "$p")" "$@" || fail "wg set on $h for peer $p failed"
}

# peer_add_default HOST PEERHOST [endpoint4|endpoint6|none]: allowed IPs = PEERHOST's tunnel
# addresses; endpoint on the IPv4 (default) or IPv6 underlay, or none.
peer_add_default() {
	local h=$1 p=$2 ep=${3:-endpoint4} n
	n=$(host_num "$p")
	case "$ep" in
	endpoint4) peer_set "$h" "$p" allowed-ips "192.0.2.$n/32,2001:db8:2::$n/128" \
		endpoint "198.51.100.$n:$((10000 + n))" ;;
	endpoint6) peer_set "$h" "$p" allowed-ips "192.0.2.$n/32,2001:db8:2::$n/128" \
		endpoint "[2001:db8:1::$n]:$((10000 + n))" ;;
	none) peer_set "$h" "$p" allowed-ips "192.0.2.$n/32,2001:db8:2::$n/128" ;;
	esac
}

# peer_field HOST PEERHOST FIELD: from `wg show wg0 dump` (endpoint, allowed, handshake, rx, tx,
# keepalive, psk).
peer_field() {
	local h=$1 p=$2 col
	case "$3" in
	psk) col=2 ;; endpoint) col=3 ;; allowed) col=4 ;; handshake) col=5 ;;
	rx) col=6 ;; tx) col=7 ;; keepalive) col=8 ;; *) fail "peer_field: $3?" ;;
	esac
	wgh "$h" show wg0 dump | awk -v k="$(pub "$p")" -v c="$col" 'NR > 1 && $1 == k { print $c }'
}

has_peer() {
	wgh "$1" show wg0 peers | grep -qxF "$(pub "$2")"
}

# --- traffic ---------------------------------------------------------------------------------

# ping_ok HOST DST [ping options]: at least one reply within 10 s (a handshake may come first).
ping_ok() {
	local h=$1 dst=$2
	shift 2
	hx "$h" timeout 15 ping -n -q -c 1 -i 0.2 -w 10 "$@" "$dst" >"$STATE/ping.out" 2>&1 ||
		fail "ping $* $dst from $h: no reply in 10 s: $(tr '\n' ' ' <"$STATE/ping.out")"
}

# ping_all HOST DST COUNT [options]: COUNT echo requests at 0.1 s; every one is answered.
ping_all() {
	local h=$1 dst=$2 count=$3
	shift 3
	hx "$h" timeout 20 ping -n -q -c "$count" -i 0.1 -W 2 "$@" "$dst" >"$STATE/ping.out" 2>&1 ||
		fail "ping -c $count $* $dst from $h: lost replies: $(tr '\n' ' ' <"$STATE/ping.out")"
}

# ping_none HOST DST [options]: no reply within about 2 s.
ping_none() {
	local h=$1 dst=$2
	shift 2
	if hx "$h" timeout 10 ping -n -q -c 5 -i 0.3 -W 1 -w 2 "$@" "$dst" >"$STATE/ping.out" 2>&1; then
		fail "ping $* $dst from $h was answered, expected no reply"
	fi
	return 0
}

# counter_add HOST NAME MATCH...: an nft counter in HOST's prerouting (before any routing decision)
# counting packets that match, e.g. counter_add a spoof iifname wg0 ip saddr 192.0.2.99.
counter_add() {
	local h=$1 name=$2
	shift 2
	hx "$h" nft list table inet braidtest >/dev/null 2>&1 || {
		hx "$h" nft add table inet braidtest &&
			hx "$h" nft add chain inet braidtest pre \
				'{ type filter hook prerouting priority -300; policy accept; }'
	} || fail "nft table on $h"
	hx "$h" nft add rule inet braidtest pre "$@" counter comment "\"$name\"" ||
		fail "nft rule $name on $h"
}

counter_get() { # HOST NAME -> packets
	hx "$1" nft list chain inet braidtest pre |
		awk -v n="\"$2\"" '{ for (i = 1; i <= NF; i++) if ($i == "comment" && $(i + 1) == n) {
			for (j = 1; j < i; j++) if ($j == "packets") print $(j + 1) } }'
}

# tcp_transfer FROM TO DSTADDR FILE PORT: send FILE from host FROM to host TO over TCP, compare
# sha256 of what arrived.
tcp_transfer() {
	local from=$1 to=$2 dst=$3 file=$4 port=$5 out="$STATE/tcp.$2.$5.out" want got
	rm -f "$out" "$out.ready"
	hx "$to" timeout 120 "$PY" "$NETTOOL" tcp-recv "$dst" "$port" "$out" "$out.ready" \
		>"$out.log" 2>&1 &
	local rpid=$!
	wait_for 5 "the TCP receiver on $to" test -e "$out.ready"
	hx "$from" timeout 110 "$PY" "$NETTOOL" tcp-send "$dst" "$port" "$file" ||
		{ kill "$rpid" 2>/dev/null; fail "tcp-send $from -> $dst:$port failed"; }
	wait "$rpid" || fail "tcp-recv on $to failed: $(cat "$out.log")"
	want=$(sha256sum <"$file" | cut -d' ' -f1)
	got=$(sha256sum <"$out" | cut -d' ' -f1)
	say "$from -> $to $dst: $(stat -c %s "$out") of $(stat -c %s "$file") bytes," \
		"sha256 ${got:0:16}... (want ${want:0:16}...)"
	rm -f "$out"
	[ "$want" = "$got" ] || fail "sha256 differs after TCP $from -> $dst"
}

# udp_exchange FROM TO DSTADDR PORT COUNT MAXSIZE: COUNT datagrams of sizes up to MAXSIZE, each
# carrying its own digest; at least 95% must arrive intact and none corrupted.
udp_exchange() {
	local from=$1 to=$2 dst=$3 port=$4 count=$5 max=$6 out="$STATE/udp.$2.$4"
	rm -f "$out.ready" "$out.res"
	hx "$to" timeout 30 "$PY" "$NETTOOL" udp-recv "$dst" "$port" "$count" "$out.ready" \
		>"$out.res" 2>&1 &
	local rpid=$!
	wait_for 5 "the UDP receiver on $to" test -e "$out.ready"
	hx "$from" timeout 25 "$PY" "$NETTOOL" udp-send "$dst" "$port" "$count" "$max" ||
		fail "udp-send $from -> $dst failed"
	wait "$rpid" || true
	local good bad
	read -r good bad <"$out.res" || fail "udp-recv on $to: $(cat "$out.res")"
	say "UDP $from -> $to $dst: $good of $count datagrams intact, $bad corrupted"
	[ "$bad" = 0 ] || fail "$bad corrupted UDP datagrams"
	[ "$good" -ge $((count * 95 / 100)) ] || fail "only $good of $count UDP datagrams arrived"
}

# --- topologies ------------------------------------------------------------------------------

# Two hosts on one link: underlay 198.51.100.N/24 and 2001:db8:1::N/64 on veth0.
#
#	  host a (IMPL_A)                                   host b (IMPL_B)
#	  wg0 192.0.2.1/24 2001:db8:2::1/64                  wg0 192.0.2.2/24 2001:db8:2::2/64
#	  veth0 198.51.100.1/24 ---------------------------- veth0 198.51.100.2/24
#	        2001:db8:1::1/64    UDP 10001 <-> 10002           2001:db8:1::2/64
#
# two_hosts runs in the main shell (the cleanup must know the hosts); two_hosts_up is the first
# case of a script: links, addresses, both daemons; each peer knows the other's IPv4 endpoint.
two_hosts() {
	host_add a
	host_add b
}

two_hosts_link() {
	link_add a veth0 b veth0
	addr_add a veth0 198.51.100.1/24
	addr_add b veth0 198.51.100.2/24
	addr_add a veth0 2001:db8:1::1/64
	addr_add b veth0 2001:db8:1::2/64
}

two_hosts_up() {
	two_hosts_link
	wg_up a
	wg_up b
	peer_add_default a b endpoint4
	peer_add_default b a endpoint4
}
