# SPDX-License-Identifier: MIT
# lib.sh: the namespace harness shared by braid's tests, benchmarks and demo: hosts, daemons,
# links, topologies, traffic helpers and the life of a run (state directory, traps, watchdog,
# cleanup). Sourced by bash scripts, never run. It has no test cases: the test scripts source
# cases.sh, which adds the case runner to this file; bench/run.sh, bench/flood.sh and
# scripts/demo.sh source this file alone.
#
# A run. `harness_init NAME NSPREFIX` makes the state directory $STATE, arms the EXIT, INT, TERM
# and HUP traps and a watchdog that sends TERM to the script after $SCRIPT_TIMEOUT seconds. The
# EXIT trap ends every process recorded in $STATE/*.pid (daemons, and whatever else `remember`
# was told about), then what is left in the hosts' namespaces, then the holders (below), and
# deletes the namespaces. A script may redefine three hooks after sourcing this file:
#	on_stop SIG		on INT, TERM or HUP, in the main shell, before it exits with status 1
#	on_cleanup		the first thing the EXIT trap does
#	after_cleanup RC	the last thing it does, once the namespaces are gone
#
# Hosts. Every host is a network namespace of its own. Its commands also run in a private mount
# namespace with a tmpfs on /var/run/wireguard, so that the UAPI sockets of two hosts both called
# wg0 never meet. The mount namespace is kept alive by a "holder" process (a sleep started through
# `ip netns exec NS unshare -m`); the daemon and every later command of that host enter the holder's
# namespaces with `nsenter -t HOLDER -m -n` (see hx). Killing the holder and the daemons frees the
# tmpfs: nothing is mounted in the caller's namespace, so there is nothing to unmount. host_add runs
# in the main shell (the cleanup must know every host); the rest may run in a subshell.
#
# Errors. A helper that cannot do its job ends its shell with `fail MESSAGE` (exit 1): a test's
# case, or the script. A script that must survive a failed step runs it in a subshell
# (bench/run.sh does) and may redefine fail to record the message.
#
# Addresses (host number N: a=1, b=2, c=3): underlay 198.51.100.N/24 and 2001:db8:1::N/64 (and
# 203.0.113.0/24 where a script needs a second underlay), tunnel 192.0.2.N/24 and 2001:db8:2::N/64,
# listen port 10000+N. The multipath topology (mp_*, at the end) has addresses of its own. Nothing
# is routed out of the namespaces a script made.
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

SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-300}	# watchdog of a whole script, seconds
WG_MTU=1420

# --- the life of a run -------------------------------------------------------------------------

# harness_init NAME NSPREFIX: $STATE (/tmp/braid-NAME.XXXXXX), the traps and the watchdog; hosts
# will be namespaces NSPREFIX-HOST. Main shell; $T (the script's name for messages) is set.
harness_init() {
	NSPREFIX=$2
	STATE=$(mktemp -d "/tmp/braid-$1.XXXXXX") || { echo "$T: mktemp failed" >&2; exit 1; }
	HOSTS=""
	trap harness_cleanup EXIT
	trap 'harness_signal INT' INT
	trap 'harness_signal TERM' TERM
	trap 'harness_signal HUP' HUP
	trap '' PIPE	# a reader that went away (^C on `| tee`) must not stop the cleanup
	set -m
	( sleep "$SCRIPT_TIMEOUT"; kill -TERM $$ ) >/dev/null 2>&1 </dev/null &
	WATCHDOG_PID=$!
	set +m
}

on_stop() { :; }
on_cleanup() { :; }
after_cleanup() { :; }

harness_signal() {
	[ "$BASHPID" = "$$" ] || exit 1	# a subshell that got the signal before resetting traps
	trap - INT TERM HUP
	on_stop "$1"
	exit 1
}

harness_cleanup() {
	local rc=$? h f pid ns
	[ "$BASHPID" = "$$" ] || exit "$rc"	# only the script itself cleans up
	trap - EXIT INT TERM HUP
	on_cleanup
	stop_watchdog "${WATCHDOG_PID:-}"
	if [ -n "${STATE:-}" ] && [ -d "$STATE" ]; then
		# Daemons and tools first (daemons remove their sockets), then anything else still in
		# our namespaces (a daemon wg-quick started, a stray ping), then the holders, then the
		# namespaces.
		for f in "$STATE"/*.pid; do
			[ -e "$f" ] || continue
			read -r pid 2>/dev/null <"$f" && [ -n "$pid" ] && kill_pid "$pid" 2
		done
		for h in $HOSTS; do
			ns="$NSPREFIX-$h"
			for pid in $(ip netns pids "$ns" 2>/dev/null); do
				[ "$pid" = "$(cat "$STATE/$h.holder" 2>/dev/null)" ] ||
					kill -KILL "$pid" 2>/dev/null
			done
			[ -f "$STATE/$h.holder" ] && kill_pid "$(cat "$STATE/$h.holder")" 1
			ip netns del "$ns" 2>/dev/null
		done
		if [ "$rc" != 0 ] && [ -n "${NETNS_KEEP_LOGS:-}" ]; then
			mkdir -p "$NETNS_KEEP_LOGS" && cp -r "$STATE" "$NETNS_KEEP_LOGS/" 2>/dev/null
		fi
		rm -rf "$STATE"
	fi
	after_cleanup "$rc"
	exit "$rc"
}

# --- processes ---------------------------------------------------------------------------------

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
	kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
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

not_running() { ! proc_running "$1"; }

# remember NAME PID: a process the cleanup must end if it is still running; forget NAME: it ended.
remember() { echo "$2" >"$STATE/$1.pid"; }
forget() { rm -f "$STATE/$1.pid"; }

# cpu_ticks PID: utime + stime of the whole process, in clock ticks; user_ticks PID: utime alone
# (the process's own work, without what the kernel did on its behalf).
cpu_ticks() {
	local line fields
	read -r line <"/proc/$1/stat"
	read -r -a fields <<<"${line##*) }"
	echo $((fields[11] + fields[12]))
}

user_ticks() {
	local line fields
	read -r line <"/proc/$1/stat"
	read -r -a fields <<<"${line##*) }"
	echo "${fields[11]}"
}

rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

# --- iperf3 -------------------------------------------------------------------------------------

# iperf_server PORT LIMIT [WRAP...]: a one-off iperf3 server on b (it serves one test, then
# exits; killed after LIMIT seconds), under WRAP (e.g. mptcpize run) if given; its pid in
# IPERF_SERVER. False (with err) when it does not listen within 5 s.
iperf_server() {
	local port=$1 limit=$2 i
	shift 2
	hx b timeout -k 2 "$limit" "$@" iperf3 -s -1 -p "$port" >"$STATE/server.log" 2>&1 </dev/null &
	IPERF_SERVER=$!
	remember server "$IPERF_SERVER"
	for ((i = 0; i < 50; i++)); do
		hx b ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	err "iperf3 server did not start: $(cat "$STATE/server.log")"
	return 1
}

# iperf_server_done: the server's end awaited (5 s at most), then made sure of.
iperf_server_done() {
	local i
	for ((i = 0; i < 50; i++)); do
		proc_running "$IPERF_SERVER" || break
		sleep 0.1
	done
	kill_pid "$IPERF_SERVER" 1
	forget server
}

# --- messages ----------------------------------------------------------------------------------

say() { echo "  $*"; }

# usage: the script's header comment (after the SPDX line) as its help, then exit 2.
usage() {
	awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0" >&2
	exit 2
}

# err MESSAGE: a benchmark's error, on stderr and in $STATE/last-error for its summary.
err() { echo "$T: $*" >&2; [ -d "${STATE:-}" ] && echo "$*" >"$STATE/last-error"; }

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

# --- implementations ---------------------------------------------------------------------------

# impl_path IMPL: the absolute path of an executable (a name is looked up in PATH).
impl_path() {
	local p=$1
	case "$p" in */*) ;; *) p=$(command -v "$p") || p=$1 ;; esac
	if [ ! -x "$p" ] || [ ! -f "$p" ]; then
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

# impl_of HOST: the implementation a test gave the host (IMPL_A, IMPL_B, IMPL_C of cases.sh).
impl_of() {
	case "$1" in a) echo "$IMPL_A" ;; c) echo "$IMPL_C" ;; *) echo "$IMPL_B" ;; esac
}

is_braid() { [ "$(impl_label "$(impl_of "$1")")" = braid ]; }

# --- hosts -------------------------------------------------------------------------------------

host_num() {
	case "$1" in a) echo 1 ;; b) echo 2 ;; c) echo 3 ;; d) echo 4 ;; *) echo 9 ;; esac
}

other() { [ "$1" = a ] && echo b || echo a; }

ns_of() { echo "$NSPREFIX-$1"; }

holder_of() {
	local p
	read -r p <"$STATE/$1.holder" || fail "host $1 has no holder"
	echo "$p"
}

# host_add NAME: a network namespace and its mount-namespace holder; lo up; a fresh key pair.
# Main shell: HOSTS must be known to the cleanup.
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
	hx "$1" ip link set "$2" up && hx "$3" ip link set "$4" up || fail "veth $1/$2 - $3/$4 up"
}

# addr_add HOST IF ADDRESS/LEN: IPv6 addresses skip duplicate address detection.
addr_add() {
	case "$3" in
	*:*) hx "$1" ip -6 addr add "$3" dev "$2" nodad ;;
	*) hx "$1" ip addr add "$3" dev "$2" ;;
	esac || fail "address $3 on $1/$2"
}

not_link() { ! hx "$1" ip link show "$2" >/dev/null 2>&1; }

pub() { cat "$STATE/$1.pub"; }

# --- daemons -----------------------------------------------------------------------------------

# daemon_launch HOST [IFNAME [IMPL]]: a foreground daemon in the background, logging to HOST.log
# at $DAEMON_LOG_LEVEL (default verbose), with $DAEMON_ENV (VAR=VALUE words) added to its
# environment; its pid in $STATE/HOST.IFNAME.pid. daemon_wait tells when it answers.
daemon_launch() {
	local h=$1 ifc=${2:-wg0} impl=${3:-} hp level=${DAEMON_LOG_LEVEL:-verbose}
	[ -n "$impl" ] || impl=$(impl_of "$h")
	hp=$(holder_of "$h")
	echo "--- $(date +%T.%N) host $h: starting $impl $ifc (LOG_LEVEL=$level)" >>"$STATE/$h.log"
	# nsenter without -p does not fork: $! is the daemon itself.
	env WG_PROCESS_FOREGROUND=1 LOG_LEVEL="$level" ${DAEMON_ENV:-} \
		nsenter -t "$hp" -m -n -- "$impl" "$ifc" >>"$STATE/$h.log" 2>&1 </dev/null &
	echo $! >"$STATE/$h.$ifc.pid"
}

# daemon_wait HOST [IFNAME]: returns once the daemon's UAPI socket answers (5 s each for the socket
# to appear and for `wg show` to answer).
daemon_wait() {
	local h=$1 ifc=${2:-wg0}
	wait_for 5 "the UAPI socket of $h/$ifc" hx "$h" test -S "/var/run/wireguard/$ifc.sock"
	wait_for 5 "$h/$ifc to answer 'wg show'" hx "$h" timeout 2 wg show "$ifc"
	daemon_alive "$h" "$ifc" || fail "daemon on $h/$ifc exited"
}

# daemon_start HOST [IFNAME [IMPL]]: daemon_launch, then daemon_wait.
daemon_start() {
	daemon_launch "$@"
	daemon_wait "$1" "${2:-wg0}"
}

daemon_pid() { cat "$STATE/$1.${2:-wg0}.pid" 2>/dev/null; }

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

# daemon_kill HOST [IFNAME]: end the daemon whatever it takes (TERM, KILL after 5 s), and delete
# its interface should it outlive the daemon. Never fails.
daemon_kill() {
	local h=$1 ifc=${2:-wg0} pid
	pid=$(daemon_pid "$h" "$ifc")
	[ -n "$pid" ] || return 0
	kill_pid "$pid" 5
	rm -f "$STATE/$h.$ifc.pid"
	hx "$h" ip link del "$ifc" >/dev/null 2>&1
	return 0
}

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

# wgh HOST ARGS...: `wg` in the host, bounded.
wgh() {
	local h=$1
	shift
	hx "$h" timeout 10 wg "$@"
}

# wg_up HOST [IMPL [ADDRESS/LEN...]]: start the daemon on HOST (IMPL: the host's own), give it
# HOST's key, port 10000+N, the tunnel addresses (default 192.0.2.N/24 and 2001:db8:2::N/64) and
# MTU 1420, and bring wg0 up. No peers.
wg_up() {
	local h=$1 impl=${2:-} n a
	n=$(host_num "$h")
	shift $(($# < 2 ? $# : 2))
	[ $# -gt 0 ] || set -- "192.0.2.$n/24" "2001:db8:2::$n/64"
	daemon_start "$h" wg0 "$impl"
	wgh "$h" set wg0 private-key "$STATE/$h.key" listen-port "$((10000 + n))" ||
		fail "wg set on $h failed"
	for a in "$@"; do
		addr_add "$h" wg0 "$a"
	done
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

handshake_of() { # HOST PEERHOST -> unix time of the latest handshake (0: none)
	wgh "$1" show wg0 latest-handshakes | awk -v k="$(pub "$2")" '$1 == k { print $2 }'
}

# --- traffic -----------------------------------------------------------------------------------

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

# counter_datagrams HOST NAME HEADER_LEN PAYLOAD_LEN: how many datagrams a counter saw. A run of
# datagrams to one address may leave a host as one UDP_SEGMENT (GSO) packet and reach the counter as
# one skb carrying one IP and UDP header and many payloads, so count by bytes:
# bytes = packets * HEADER_LEN + datagrams * PAYLOAD_LEN.
counter_datagrams() {
	hx "$1" nft list chain inet braidtest pre | awk -v n="\"$2\"" -v h="$3" -v p="$4" '{
		for (i = 1; i <= NF; i++) if ($i == "comment" && $(i + 1) == n) {
			for (j = 1; j < i; j++) {
				if ($j == "packets") pk = $(j + 1)
				if ($j == "bytes") by = $(j + 1)
			}
			printf "%d\n", (by - pk * h) / p
		} }'
}

# kernel_stat HOST NAME...: the sum of these /proc/net/{snmp,snmp6,netstat} counters in HOST
# ("Udp:InErrors", "Ip:ReasmFails", "Udp6InErrors", "MPTcpExt:MPJoinSynAckRx", ...).
kernel_stat() {
	local h=$1
	shift
	hx "$h" cat /proc/net/snmp /proc/net/snmp6 /proc/net/netstat | awk -v want="$*" '
		/^[A-Za-z]+: / { if (!($1 in hdr)) { hdr[$1] = $0; next }
			split(hdr[$1], names); for (i = 2; i <= NF; i++) v[$1 names[i]] = $i; next }
		NF == 2 { v[$1] = $2 }
		END { n = split(want, w, " "); for (i = 1; i <= n; i++) s += v[w[i]]; print s + 0 }'
}

# rcvbuf_errors HOST: UDP datagrams HOST dropped for a full socket buffer, IPv4 and IPv6.
rcvbuf_errors() { kernel_stat "$1" Udp:RcvbufErrors Udp6RcvbufErrors; }

# link_stat HOST DEV rx|tx bytes|packets|errors|dropped: one counter of HOST's interface DEV
# (/proc/net/dev of the host's namespace).
link_stat() {
	hx "$1" cat /proc/net/dev | awk -v d="$2" -v dir="$3" -v f="$4" '
		{ i = index($0, ":"); if (!i) next
		  name = substr($0, 1, i - 1); gsub(/ /, "", name); if (name != d) next
		  split(substr($0, i + 1), v, " ")
		  k = (f == "bytes") ? 1 : (f == "packets") ? 2 : (f == "errors") ? 3 : 4
		  print v[(dir == "tx" ? 8 : 0) + k]; found = 1; exit }
		END { if (!found) exit 1 }'
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

tcp_listening() { hx "$1" ss -Hltn "sport = :$2" | grep -q .; } # HOST PORT

# iperf_mbit CLIENT SERVER DST SECONDS [iperf3 client options...]: one iperf3 test from CLIENT to a
# one-off server on SERVER (port IPERF_PORT, default 5201); prints what the receiver got, in
# Mbit/s. IPERF_WRAP (e.g. "mptcpize run") prefixes both ends' command.
iperf_mbit() {
	local c=$1 s=$2 dst=$3 secs=$4 port=${IPERF_PORT:-5201} spid out="$STATE/iperf.$1.$2"
	shift 4
	hx "$s" timeout -k 2 "$((secs + 30))" ${IPERF_WRAP:-} iperf3 -s -1 -p "$port" \
		>"$out.server" 2>&1 </dev/null &
	spid=$!
	wait_for 5 "the iperf3 server on $s" tcp_listening "$s" "$port"
	hx "$c" timeout -k 2 "$((secs + 20))" ${IPERF_WRAP:-} iperf3 -c "$dst" -p "$port" -t "$secs" \
		-f m --connect-timeout 5000 "$@" >"$out.client" 2>&1 </dev/null ||
		{ kill "$spid" 2>/dev/null; fail "iperf3 $* to $dst: $(tail -n 3 "$out.client")"; }
	wait "$spid" 2>/dev/null || true
	awk '/receiver/ { for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") m = $(i - 1) }
		END { if (m == "") exit 1; print m }' "$out.client" ||
		fail "no receiver rate in iperf3's output: $(tail -n 3 "$out.client")"
}

# --- topology: two hosts on one link -----------------------------------------------------------

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


# --- topology: a flood victim on a bridge --------------------------------------------------------

# Hosts a, c and the attacker x hang off a bridge in the victim b (tests/netns/flood.sh,
# bench/flood.sh); b routes the spoofed sources of x's floods back to x.
#
#	  host a                       host c                       host x (attacker, no daemon)
#	  veth0 198.51.100.1/24        veth0 198.51.100.3/24        veth0 198.51.100.9/24
#	        |                            |                            2001:db8:1::9/64
#	        +----------- vb-a ------ br0 in host b ------ vb-x --------+
#	                                     |  vb-c
#	                          host b: br0 198.51.100.2/24 2001:db8:1::2/64
#	                          routes 203.0.113.0/24 and 2001:db8:100::/40 via x
#
# flood_topology: the bridge, the links, the addresses and b's routes (hosts a, b, c, x added).
flood_topology() {
	local h
	hx b ip link add br0 type bridge || fail "bridge on b"
	hx b ip link set br0 up
	for h in a c x; do
		link_add "$h" veth0 b "vb-$h"
		hx b ip link set "vb-$h" master br0 || fail "vb-$h into br0"
		addr_add "$h" veth0 "198.51.100.$(host_num "$h")/24"
	done
	addr_add b br0 198.51.100.2/24
	addr_add b br0 2001:db8:1::2/64
	addr_add x veth0 2001:db8:1::9/64
	hx b ip route add 203.0.113.0/24 via 198.51.100.9 || fail "route to the spoofed sources"
	hx b ip -6 route add 2001:db8:100::/40 via 2001:db8:1::9 || fail "IPv6 route via x"
}

# flood_wg_up HOST IMPL LOG_LEVEL: wg_up with this implementation and log level, IPv4 tunnel
# address only.
flood_wg_up() {
	DAEMON_LOG_LEVEL=$3 wg_up "$1" "$2" "192.0.2.$(host_num "$1")/24"
}

# fresh_handshake LIMIT: c removes and re-adds its peer b and pings it; prints the seconds until c
# shows a handshake ("%.1f"), or "none" after LIMIT seconds.
fresh_handshake() {
	local limit=$1 t0 pid hs res=none
	peer_set c b remove
	t0=$(date +%s%N)
	peer_set c b allowed-ips 192.0.2.2/32 endpoint 198.51.100.2:10002
	hx c timeout $((limit + 6)) ping -n -q -i 0.5 -w $((limit + 1)) 192.0.2.2 >/dev/null 2>&1 &
	pid=$!
	while [ $(($(date +%s%N) - t0)) -lt $((limit * 1000000000)) ]; do
		hs=$(handshake_of c b)
		if [ -n "$hs" ] && [ "$hs" != 0 ]; then
			res=$(awk -v d=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.1f", d / 1e9 }')
			break
		fi
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	echo "$res"
}

# --- topology: multipath, a client with several uplinks behind a router ------------------------

# After /work/shared/notes/multipath.md §5.1: client a has MP_N uplinks (2 by default, at most 4)
# to router r, which forwards to server b. With 2 uplinks:
#
#	  host a (client)                 host r (router)                    host b (server)
#	  cA 198.51.100.2/25   ---------- rA 198.51.100.1/25
#	     2001:db8:1:1::2/64              2001:db8:1:1::1/64
#	  cB 198.51.100.130/25 ---------- rB 198.51.100.129/25
#	     2001:db8:1:2::2/64              2001:db8:1:2::1/64
#	                                  rS 203.0.113.1/24 ---------------- sS 203.0.113.2/24
#	                                     2001:db8:3::1/64                   2001:db8:3::2/64
#
# Uplink I (letters A, B, C, D for I = 1..4) has block I of 198.51.100.0/24 cut in two /25 (or, for
# 3 or 4 uplinks, four /26): router .1 and client .2 of the block; and 2001:db8:1:I::/64, router
# ::1 and client ::2. On a, in both families: a default route per uplink with metric 100 * I (A is
# preferred), and per-source policy routing: rule `from ADDR lookup 100+I` (preference 1000+I),
# table 100+I holding the uplink's subnet and default route, so that what is sent from an uplink's
# address leaves by that uplink. rp_filter is loose (2) on a's and r's interfaces (off on the
# emulator's devices, which have no address: see mp_steer); r forwards both families; b's
# default routes lead to r. The functions below take an uplink's letter; mp_hosts runs in the main
# shell, the rest anywhere (a case).

MP_N=2

# mp_hosts [N]: hosts a (client), r (router) and b (server); N uplinks (default 2).
mp_hosts() {
	MP_N=${1:-2}
	[[ $MP_N =~ ^[1-4]$ ]] || { echo "$T: mp_hosts: 1 to 4 uplinks, not '$MP_N'" >&2; exit 2; }
	host_add a
	host_add r
	host_add b
}

mp_letters() { echo A B C D | cut -d' ' -f1-"$MP_N"; }

# mp_index UPLINK: 1 for A, 2 for B...; fails for a letter beyond MP_N.
mp_index() {
	local i
	case "$1" in A) i=1 ;; B) i=2 ;; C) i=3 ;; D) i=4 ;; *) return 1 ;; esac
	[ "$i" -le "$MP_N" ] && echo "$i"
}

# mp_addr UPLINK [4|6]: a's address on the uplink; mp_gw: r's; mp_net: the uplink's prefix.
mp_addr() { _mp_host_addr "$1" "${2:-4}" 2; }
mp_gw() { _mp_host_addr "$1" "${2:-4}" 1; }
mp_net() {
	local i
	i=$(mp_index "$1") || fail "no uplink '$1'"
	if [ "${2:-4}" = 6 ]; then
		echo "2001:db8:1:$i::/64"
	else
		echo "198.51.100.$(((i - 1) * $(_mp_block)))/$(_mp_len4)"
	fi
}

# mp_server [4|6]: b's address.
mp_server() { if [ "${1:-4}" = 6 ]; then echo 2001:db8:3::2; else echo 203.0.113.2; fi; }

_mp_block() { if [ "$MP_N" -le 2 ]; then echo 128; else echo 64; fi; }
_mp_len4() { if [ "$MP_N" -le 2 ]; then echo 25; else echo 26; fi; }

_mp_host_addr() { # UPLINK FAMILY HOST(1 router, 2 client)
	local i
	i=$(mp_index "$1") || fail "no uplink '$1'"
	if [ "$2" = 6 ]; then
		echo "2001:db8:1:$i::$3"
	else
		echo "198.51.100.$(((i - 1) * $(_mp_block) + $3))"
	fi
}

# nft_table HOST "FAMILY NAME" CHAIN "type ... hook ... priority ..." RULE...: a table with one
# base chain (policy accept) holding these rules. One statement a line: nft 1.0.6 does not parse
# "masquerade; }".
nft_table() {
	local h=$1 t=$2 c=$3 base=$4
	shift 4
	printf '%s\n' "table $t {" "chain $c {" "$base; policy accept" "$@" "}" "}" | hx "$h" nft -f -
}

# mp_topology: the links, addresses, routes and sysctls of the drawing (hosts from mp_hosts).
mp_topology() {
	local l
	# Loose on every interface made from here on; "all" is 0 in r, so that mp_steer can turn it
	# off for the emulator's devices, which have no address (loose fails for those).
	hx a sysctl -qw net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.default.rp_filter=2 &&
		hx r sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=2 ||
		fail "rp_filter"
	hx r sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv6.conf.default.forwarding=1 || fail "forwarding on r"
	link_add r rS b sS
	addr_add r rS 203.0.113.1/24
	addr_add r rS 2001:db8:3::1/64
	addr_add b sS 203.0.113.2/24
	addr_add b sS 2001:db8:3::2/64
	hx b ip route add default via 203.0.113.1 || fail "b's default route"
	hx b ip -6 route add default via 2001:db8:3::1 || fail "b's IPv6 default route"
	for l in $(mp_letters); do
		link_add a "c$l" r "r$l"
		mp_addrs "$l"
		mp_routes "$l"
	done
}

# mp_addrs UPLINK: the uplink's addresses on both ends (again: an admin down removes the IPv6 ones).
mp_addrs() {
	local l=$1
	hx a ip addr replace "$(mp_addr "$l")/$(_mp_len4)" dev "c$l" &&
		hx r ip addr replace "$(mp_gw "$l")/$(_mp_len4)" dev "r$l" &&
		hx a ip -6 addr replace "$(mp_addr "$l" 6)/64" dev "c$l" nodad &&
		hx r ip -6 addr replace "$(mp_gw "$l" 6)/64" dev "r$l" nodad ||
		fail "addresses of uplink $l"
}

# mp_routes UPLINK: a's routes and rule for the uplink, both families (again: an admin down
# flushes the routes).
mp_routes() {
	local l=$1 i f gw t
	i=$(mp_index "$l") || fail "no uplink '$l'"
	t=$((100 + i))
	for f in 4 6; do
		gw=$(mp_gw "$l" "$f")
		hx a ip -"$f" route replace default via "$gw" dev "c$l" metric $((100 * i)) &&
			hx a ip -"$f" route replace "$(mp_net "$l" "$f")" dev "c$l" table "$t" &&
			hx a ip -"$f" route replace default via "$gw" dev "c$l" table "$t" ||
			fail "IPv$f routes of uplink $l"
		hx a ip -"$f" rule del pref $((1000 + i)) 2>/dev/null || true
		hx a ip -"$f" rule add from "$(mp_addr "$l" "$f")" lookup "$t" pref $((1000 + i)) ||
			fail "IPv$f rule of uplink $l"
	done
}

# mp_rate UPLINK up|down|both RATE|off: a tbf on the sending end (up: a's cX, down: r's rX) at
# RATE as tc reads it (40mbit), burst 32 kB, at most 50 ms of queue; "off" removes it. The rate
# counts whole Ethernet frames: TCP over IPv4 carries at most about 95.6% of it as payload.
mp_rate() {
	local l=$1 rate=$3 ends e
	case "$2" in
	up) ends="a:c$l" ;; down) ends="r:r$l" ;; both) ends="a:c$l r:r$l" ;;
	*) fail "mp_rate: direction '$2'?" ;;
	esac
	for e in $ends; do
		if [ "$rate" = off ]; then
			hx "${e%%:*}" tc qdisc del dev "${e#*:}" root 2>/dev/null || true
		else
			hx "${e%%:*}" tc qdisc replace dev "${e#*:}" root tbf rate "$rate" burst 32kb \
				latency 50ms || fail "tbf $rate on ${e%%:*}/${e#*:}"
		fi
	done
}

# mp_down UPLINK admin|carrier|blackhole: take the uplink out of service, one of three ways:
#	admin		a's cX down: the kernel flushes a's routes through it and its IPv6 addresses
#	carrier		r's rX down: a's cX stays up, NO-CARRIER; a's routes stay (linkdown) and what a
#			sends through it vanishes
#	blackhole	r drops whatever it would forward from or to rX (nft); both ends stay up, and
#			r still answers ARP, neighbour discovery and pings to its own address there
# mp_up brings it back, whichever way it went.
mp_down() {
	local l=$1
	case "$2" in
	admin) hx a ip link set "c$l" down || fail "c$l down" ;;
	carrier) hx r ip link set "r$l" down || fail "r$l down" ;;
	blackhole)
		nft_table r "inet mpbh$l" forward "type filter hook forward priority -10" \
			"iifname \"r$l\" drop" "oifname \"r$l\" drop" || fail "blackhole on r$l" ;;
	*) fail "mp_down: kind '$2'?" ;;
	esac
}

# mp_up UPLINK: both ends up, no blackhole, the addresses and a's routes back.
mp_up() {
	local l=$1
	hx r nft delete table inet "mpbh$l" 2>/dev/null || true
	hx r ip link set "r$l" up && hx a ip link set "c$l" up || fail "uplink $l up"
	mp_addrs "$l"
	mp_routes "$l"
}

# mp_nat UPLINK on|off: r masquerades what leaves by rS from the uplink's prefixes (both families,
# as r's addresses on rS), as a carrier-grade NAT would. Off does not forget connections already
# translated (conntrack).
mp_nat() {
	local l=$1
	hx r nft delete table inet "mpnat$l" 2>/dev/null || true
	[ "$2" = on ] || return 0
	nft_table r "inet mpnat$l" post "type nat hook postrouting priority srcnat" \
		"oifname \"rS\" ip saddr $(mp_net "$l") masquerade" \
		"oifname \"rS\" ip6 saddr $(mp_net "$l" 6) masquerade" || fail "NAT on uplink $l"
}

# mp_steer UPLINK UPDEV DOWNDEV: send the uplink's traffic through two devices in r (the TUN
# devices of a link emulator, which writes every packet back into the device it came from):
# packets arriving from rX (a -> b) are routed into UPDEV, packets arriving from rS for the
# uplink's prefix (b -> a) into DOWNDEV; written back, a packet enters r from that device and is
# routed as usual. Both families; tables 200+10I+1 (up) and 200+10I+2 (down), rules of the same
# preferences minus 100. rp_filter is off on UPDEV and DOWNDEV: a device without an IPv4 address
# fails even the loose check. The first pass of each packet skips connection tracking (notrack on
# rX and DOWNDEV), so that mp_nat sees a connection where it leaves by rS, not where it enters
# UPDEV.
mp_steer() {
	local l=$1 up=$2 dn=$3 i f tu td
	i=$(mp_index "$l") || fail "no uplink '$l'"
	tu=$((200 + 10 * i + 1)) td=$((200 + 10 * i + 2))
	hx r sysctl -qw "net.ipv4.conf.$up.rp_filter=0" "net.ipv4.conf.$dn.rp_filter=0" ||
		fail "rp_filter on $up/$dn"
	for f in 4 6; do
		hx r ip -"$f" route replace default dev "$up" table "$tu" &&
			hx r ip -"$f" rule add iif "r$l" lookup "$tu" pref $((tu - 100)) &&
			hx r ip -"$f" route replace "$(mp_net "$l" "$f")" dev "$dn" table "$td" &&
			hx r ip -"$f" rule add iif rS to "$(mp_net "$l" "$f")" lookup "$td" \
				pref $((td - 100)) || fail "IPv$f steering of uplink $l into $up/$dn"
	done
	nft_table r "inet mpem$l" pre "type filter hook prerouting priority raw" \
		"iifname \"r$l\" notrack" "iifname \"$dn\" notrack" || fail "notrack for uplink $l"
}

# mp_unsteer UPLINK: undo mp_steer (nothing to undo is fine).
mp_unsteer() {
	local l=$1 i f t
	i=$(mp_index "$l") || fail "no uplink '$l'"
	for f in 4 6; do
		for t in $((200 + 10 * i + 1)) $((200 + 10 * i + 2)); do
			hx r ip -"$f" rule del pref $((t - 100)) 2>/dev/null || true
			hx r ip -"$f" route flush table "$t" 2>/dev/null || true
		done
	done
	hx r nft delete table inet "mpem$l" 2>/dev/null || true
}

# mp_emulate UPLINK LINKEM UPDEV[:RULES] DOWNDEV[:RULES]: start the link emulator LINKEM
# (build/tools/linkem: `linkem [-s SEED] [-S STATSFILE] DEV[:RULES]...`, which makes each TUN device
# and sets it up) in r, and steer the uplink through its two devices (mp_steer): RULES such as
# delay=10,jitter=2,drop=5 apply a -> b on UPDEV and b -> a on DOWNDEV. LINKEM_SEED=N is passed
# as -s N; the emulator's statistics file is $STATE/linkem.UPLINK.stats, its pid in
# $STATE/r.linkemUPLINK.pid. Returns 2 with a message when LINKEM is not an executable file.
mp_emulate() {
	local l=$1 em=$2 up=${3%%:*} dn=${4%%:*}
	if [ ! -x "$em" ] || [ ! -f "$em" ]; then
		echo "  mp_emulate: no link emulator at $em (make build/tools/linkem)" >&2
		return 2
	fi
	mp_emulate_stop "$l"
	# nsenter itself in the background: $! is the emulator's pid.
	nsenter -t "$(holder_of r)" -m -n -- "$em" ${LINKEM_SEED:+-s "$LINKEM_SEED"} \
		-S "$STATE/linkem.$l.stats" "$3" "$4" >>"$STATE/r.log" 2>&1 </dev/null &
	echo $! >"$STATE/r.linkem$l.pid"
	wait_for 5 "the link emulator's $up and $dn in r" _mp_devs_up "$up" "$dn"
	mp_steer "$l" "$up" "$dn"
}

_mp_devs_up() { local d; for d; do [ -n "$(hx r ip link show dev "$d" up)" ] || return 1; done; }

# mp_emulate_stop UPLINK: unsteer the uplink and end its emulator (SIGTERM; its devices go too).
mp_emulate_stop() {
	local l=$1 pid
	mp_unsteer "$l"
	pid=$(cat "$STATE/r.linkem$l.pid" 2>/dev/null) || return 0
	[ -z "$pid" ] || kill_pid "$pid" 3
	rm -f "$STATE/r.linkem$l.pid"
}

# mp_mptcp [backup]: Linux MPTCP from a to b over the uplinks (multipath.md §5.3): enabled on both,
# limits of MP_N subflows, and a's addresses on every uplink but A as endpoints of a's path
# manager for extra subflows (both families; "backup": backup subflows). Run the applications
# with `mptcpize run` (Debian package mptcpize).
mp_mptcp() {
	local l f h
	for h in a b; do
		hx "$h" sysctl -qw net.mptcp.enabled=1 || fail "net.mptcp.enabled on $h"
	done
	hx a ip mptcp limits set subflows "$MP_N" add_addr_accepted "$MP_N" &&
		hx b ip mptcp limits set subflows "$MP_N" add_addr_accepted 0 &&
		hx a ip mptcp endpoint flush || fail "MPTCP limits"
	for l in $(mp_letters); do
		[ "$l" != A ] || continue
		for f in 4 6; do
			hx a ip mptcp endpoint add "$(mp_addr "$l" "$f")" dev "c$l" subflow ${1:-} ||
				fail "MPTCP endpoint on uplink $l"
		done
	done
}
