#!/bin/bash
# SPDX-License-Identifier: MIT
# privilege.sh IMPL_A IMPL_B: braid's sandbox (src/daemon/sandbox.h), checked on one braid host S
# (a when IMPL_A is braid, else b; nothing to check when neither is): once set up, the daemon runs
# as nobody with only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE, no_new_privs and a seccomp filter,
# and a janitor process (uid 0, no capabilities, filtered too) removes the UAPI socket when the
# daemon is gone. The peer P is the other host, of either implementation.
#
#	  host S (braid, sandboxed)                          host P (IMPL of the other host)
#	  wg0 192.0.2.N/24 2001:db8:2::N/64                  wg0 192.0.2.M/24 2001:db8:2::M/64
#	  veth0 198.51.100.N/24 --------------------------- veth0 198.51.100.M/24
#	        2001:db8:1::N/64     UDP 1000N <-> 1000M          2001:db8:1::M/64
#	  wg1: extra daemons started by single cases (no peers)
#
# Cases: credentials and capability sets from /proc/PID/status (the daemon, each of its threads,
# and the janitor, whose only descriptors are its pipe and stderr); fwmark and a listen port below 1024 set after the drop,
# with SO_MARK and the forced 16 MB receive buffer on the new sockets, the tunnel following the
# move; an IPv6 endpoint with a zone (interface lookups in the UAPI); an MTU change seen through rtnetlink and logged; a forbidden system call killing the
# daemon with SIGSYS and the janitor removing its socket; SIGKILL, SIGTERM and `ip link del`
# leaving no socket; --user and BRAID_USER, an unknown user refused at start; BRAID_SANDBOX=0 and
# --no-sandbox keeping root, every capability and no filter.
#
# The forbidden system call comes from a test build, whose daemon opens "/" right after start-up
# when BRAID_TEST_FORBIDDEN_SYSCALL=1 (compiled only with -DBRAID_TEST_HOOKS):
#
#	make BUILD=build/hooks TEST_HOOKS=1 build/hooks/braid
#
# found at $BRAID_HOOKS, else beside S's braid as hooks/braid (build/hooks/braid for build/braid).
# The same build finds system calls missing from the filter (src/daemon/seccomp.c): with
# BRAID_TEST_SECCOMP_LOG=1 the kernel logs what the filter would kill ("audit: type=1326 ...
# syscall=N" in dmesg) and the daemon goes on, e.g.
#
#	BRAID_TEST_SECCOMP_LOG=1 tests/netns/run-all.sh $PWD/build/hooks/braid; dmesg | grep type=1326

. "$(dirname "$0")/cases.sh"
netns_init "$@"

if [ "$(impl_label "$IMPL_A")" = braid ]; then
	S=a P=b
elif [ "$(impl_label "$IMPL_B")" = braid ]; then
	S=b P=a
else
	echo "$T: no braid host in $PAIR: nothing to check"
	netns_finish
fi
two_hosts

SN=$(host_num "$S")
PN=$(host_num "$P")
BRAID=$(impl_of "$S")
HOOKS=${BRAID_HOOKS:-$(dirname "$BRAID")/hooks/braid}
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)
# CAP_NET_BIND_SERVICE (10) and CAP_NET_ADMIN (12).
KEPT_CAPS=0000000000001400

setup() {
	two_hosts_up
	ping_ok "$S" "192.0.2.$PN"
}

# status PID FIELD: a line of /proc/PID/status without its name, single spaces ("0 0 0 0").
status() {
	awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print; exit }' "/proc/$1/status"
}

# expect PID FIELD VALUE: the field reads VALUE.
expect() {
	local got
	got=$(status "$1" "$2")
	say "pid $1 $2: $got"
	[ "$got" = "$3" ] || fail "pid $1: $2 is '$got', want '$3'"
}

janitor_of() {
	local pid=$1 c
	for c in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do
		[ "$(status "$c" Name)" = braid-janitor ] && { echo "$c"; return 0; }
	done
	return 1
}

# extra_start HOST IFNAME BINARY [VAR=VALUE...] [-- ARGS...]: a foreground daemon in the
# background, logging to HOST.log, its pid in $STATE (the cleanup stops it). Returns at once.
extra_start() {
	local h=$1 ifc=$2 bin=$3 vars=() args=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
	[ $# -eq 0 ] || { shift; args=("$@"); }
	echo "--- $(date +%T.%N) host $h: starting ${vars[*]} $bin ${args[*]} $ifc" >>"$STATE/$h.log"
	env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=verbose "${vars[@]}" \
		nsenter -t "$(holder_of "$h")" -m -n -- "$bin" "${args[@]}" "$ifc" \
		>>"$STATE/$h.log" 2>&1 </dev/null &
	EXTRA_PID=$!
	echo "$EXTRA_PID" >"$STATE/$h.$ifc.pid"
}

# extra_up HOST IFNAME BINARY ...: extra_start, then wait until `wg show` answers.
extra_up() {
	extra_start "$@"
	wait_for 5 "the UAPI socket of $1/$2" hx "$1" test -S "/var/run/wireguard/$2.sock"
	wait_for 5 "$1/$2 to answer 'wg show'" hx "$1" timeout 2 wg show "$2"
	proc_running "$EXTRA_PID" || fail "the daemon for $1/$2 exited"
}

# gone HOST IFNAME: no socket, no interface (the janitor may take a moment after a crash).
gone() {
	wait_for 3 "$1/$2's socket to be removed" hx "$1" test ! -e "/var/run/wireguard/$2.sock"
	wait_for 3 "$1/$2 to disappear" not_link "$1" "$2"
}

credentials() {
	local pid jan fds t
	pid=$(daemon_pid "$S")
	expect "$pid" Uid "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID"
	expect "$pid" Gid "$NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID"
	expect "$pid" Groups ""
	expect "$pid" CapPrm "$KEPT_CAPS"
	expect "$pid" CapEff "$KEPT_CAPS"
	expect "$pid" CapBnd "$KEPT_CAPS"
	expect "$pid" CapInh 0000000000000000
	expect "$pid" CapAmb 0000000000000000
	expect "$pid" NoNewPrivs 1
	expect "$pid" Seccomp 2
	# Every thread (crypto workers too), not only the main one.
	for t in /proc/"$pid"/task/*; do
		t=${t##*/}
		[ "$(awk '$1 == "Seccomp:" || $1 == "NoNewPrivs:" || $1 == "Uid:" { print $2 }' \
			"/proc/$pid/task/$t/status" | tr '\n' ' ')" = "$NOBODY_UID 1 2 " ] ||
			fail "thread $t of $pid: $(grep -E 'Uid|NoNewPrivs|Seccomp' \
				"/proc/$pid/task/$t/status" | tr '\n' ' ')"
	done
	say "threads of $pid: $(ls "/proc/$pid/task" | wc -l), each nobody, no_new_privs, seccomp"
	jan=$(janitor_of "$pid") || fail "daemon $pid has no braid-janitor child"
	expect "$jan" Uid "0 0 0 0"
	expect "$jan" CapPrm 0000000000000000
	expect "$jan" CapEff 0000000000000000
	expect "$jan" CapBnd 0000000000000000
	expect "$jan" NoNewPrivs 1
	expect "$jan" Seccomp 2
	# Holding the TUN device or a UDP socket would keep them alive after the daemon.
	fds=$(ls "/proc/$jan/fd" | sort -n | tr '\n' ' ')
	say "janitor $jan descriptors: $fds"
	[ "$fds" = "2 3 " ] || fail "the janitor holds descriptors $fds, want only 2 3"
	grep -q "sandbox: running as nobody" "$STATE/$S.log" || fail "no sandbox line in $S's log"
}

# udp_socks HOST PORT: braid's UDP sockets on PORT, with marks and memory (ss -e -m).
udp_socks() {
	hx "$1" ss -uanpem "sport = :$2" 2>/dev/null | tr -s ' \n' ' ' | sed 's/UNCONN/\nUNCONN/g' |
		grep braid
}

fwmark_low_port() {
	local socks n
	wgh "$S" set wg0 fwmark 0x4d2 || fail "wg set fwmark after the drop"
	[ "$(wgh "$S" show wg0 fwmark)" = 0x4d2 ] || fail "fwmark reads $(wgh "$S" show wg0 fwmark)"
	socks=$(udp_socks "$S" "$((10000 + SN))")
	say "port $((10000 + SN)): $socks"
	n=$(echo "$socks" | grep -c 'fwmark:0x4d2')
	[ "$n" = 2 ] || fail "$n of 2 sockets carry fwmark 0x4d2"
	# Port 853 < 1024 needs CAP_NET_BIND_SERVICE; SO_MARK on the new sockets CAP_NET_ADMIN.
	wgh "$S" set wg0 listen-port 853 || fail "wg set listen-port 853 after the drop"
	[ "$(wgh "$S" show wg0 listen-port)" = 853 ] || fail "listen-port reads not 853"
	socks=$(udp_socks "$S" 853)
	say "port 853: $socks"
	n=$(echo "$socks" | grep -c 'fwmark:0x4d2')
	[ "$n" = 2 ] || fail "$n of 2 sockets on port 853 carry fwmark 0x4d2"
	# SO_RCVBUFFORCE (CAP_NET_ADMIN) of 8 MB: the kernel doubles it.
	n=$(echo "$socks" | grep -c 'rb16777216')
	[ "$n" = 2 ] || fail "$n of 2 new sockets have the forced 16 MB receive buffer"
	udp_socks "$S" "$((10000 + SN))" && fail "the old sockets are still open"
	ping_all "$S" "192.0.2.$PN" 3
	ping_all "$P" "192.0.2.$SN" 3
	[ "$(peer_field "$P" "$S" endpoint)" = "198.51.100.$SN:853" ] ||
		fail "$P did not follow to port 853: $(peer_field "$P" "$S" endpoint)"
	wgh "$S" set wg0 fwmark 0 listen-port "$((10000 + SN))" || fail "wg set back"
	[ -z "$(wgh "$S" show wg0 fwmark | grep -v off)" ] || fail "fwmark not removed"
	udp_socks "$S" "$((10000 + SN))" | grep -q fwmark && fail "a mark is left on the sockets"
	ping_all "$S" "192.0.2.$PN" 3
	daemon_alive "$S" || fail "daemon on $S died"
	expect "$(daemon_pid "$S")" Seccomp 2
}

# An endpoint with a zone makes the UAPI look interfaces up (if_nametoindex(), if_indextoname()),
# which glibc does through a socket and an ioctl.
zone_endpoint() {
	local junk=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE= got
	wgh "$S" set wg0 peer "$junk" endpoint "[fe80::1%veth0]:5" allowed-ips 192.0.2.99/32 ||
		fail "wg set with a zone endpoint"
	got=$(wgh "$S" show wg0 endpoints | awk -v k="$junk" '$1 == k { print $2 }')
	say "endpoint read back: $got"
	[ "$got" = "[fe80::1%veth0]:5" ] || fail "endpoint reads '$got'"
	wgh "$S" set wg0 peer "$junk" remove || fail "wg set remove"
	daemon_alive "$S" || fail "daemon on $S died"
	ping_all "$S" "192.0.2.$PN" 2
}

mtu_and_log() {
	wait_for 3 "the tunnel" hx "$S" ping -c 1 -W 1 "192.0.2.$PN"
	hx "$S" ip link set wg0 mtu 1300
	wait_for 3 "'MTU is now 1300' in $S's log" grep -q "MTU is now 1300" "$STATE/$S.log"
	ping_all "$S" "192.0.2.$PN" 2 -s 1272 -M do
	hx "$S" ip link set wg0 mtu "$WG_MTU"
	wait_for 3 "'MTU is now $WG_MTU' in $S's log" grep -q "MTU is now $WG_MTU" "$STATE/$S.log"
	ping_all "$S" "192.0.2.$PN" 2 -s 1392 -M do
	daemon_alive "$S" || fail "daemon on $S died"
}

forbidden_syscall() {
	local rc
	[ -x "$HOOKS" ] ||
		fail "no test build at $HOOKS: make BUILD=build/hooks TEST_HOOKS=1 build/hooks/braid"
	extra_start "$S" wg1 "$HOOKS" BRAID_TEST_FORBIDDEN_SYSCALL=1
	wait_for 5 "the test build to exit" not_running "$EXTRA_PID"
	rc=0
	wait "$EXTRA_PID" || rc=$?
	rm -f "$STATE/$S.wg1.pid"
	say "test build with BRAID_TEST_FORBIDDEN_SYSCALL=1: exit status $rc"
	grep -q "test hook: opening /" "$STATE/$S.log" || fail "the hook did not run"
	[ "$rc" = $((128 + 31)) ] || fail "exit status $rc, want $((128 + 31)) (SIGSYS)"
	gone "$S" wg1
	# Without the sandbox the same call is harmless: the filter, not the hook, killed it.
	extra_up "$S" wg1 "$HOOKS" BRAID_TEST_FORBIDDEN_SYSCALL=1 BRAID_SANDBOX=0
	sleep 0.5
	proc_running "$EXTRA_PID" || fail "the test build died without the sandbox"
	grep -q "test hook: still running" "$STATE/$S.log" || fail "no 'still running' in the log"
	daemon_stop "$S" wg1
	gone "$S" wg1
}

exits() {
	local pid jan
	# SIGKILL: the daemon cannot clean up; its janitor does.
	extra_up "$S" wg1 "$BRAID"
	pid=$EXTRA_PID
	jan=$(janitor_of "$pid") || fail "no janitor"
	daemon_stop "$S" wg1 KILL
	gone "$S" wg1
	wait_for 3 "the janitor to exit" not_running "$jan"
	say "SIGKILL: socket and interface gone, janitor $jan exited"
	# SIGTERM: the socket is gone by the time the daemon's process ends.
	extra_up "$S" wg1 "$BRAID"
	pid=$EXTRA_PID
	kill -TERM "$pid"
	wait "$pid" || fail "daemon exited with status $? after SIGTERM"
	rm -f "$STATE/$S.wg1.pid"
	hx "$S" test ! -e /var/run/wireguard/wg1.sock || fail "socket still there after SIGTERM"
	gone "$S" wg1
	say "SIGTERM: exit 0, socket removed before the process ended"
	# ip link del: the daemon notices, exits, and the socket goes.
	extra_up "$S" wg1 "$BRAID"
	pid=$EXTRA_PID
	hx "$S" ip link del wg1
	wait_for 5 "the daemon to exit after ip link del" not_running "$pid"
	rm -f "$STATE/$S.wg1.pid"
	gone "$S" wg1
	say "ip link del: daemon exited, socket removed"
}

users() {
	local pid uid gid rc
	uid=$(id -u daemon) gid=$(id -g daemon)
	extra_up "$S" wg1 "$BRAID" -- --user daemon
	expect "$EXTRA_PID" Uid "$uid $uid $uid $uid"
	expect "$EXTRA_PID" Gid "$gid $gid $gid $gid"
	daemon_stop "$S" wg1
	gone "$S" wg1
	extra_up "$S" wg1 "$BRAID" BRAID_USER=daemon
	expect "$EXTRA_PID" Uid "$uid $uid $uid $uid"
	expect "$EXTRA_PID" CapEff "$KEPT_CAPS"
	daemon_stop "$S" wg1
	gone "$S" wg1
	# An unknown user: refused before anything is created.
	extra_start "$S" wg1 "$BRAID" BRAID_USER=braid-no-such-user
	rc=0
	wait "$EXTRA_PID" || rc=$?
	rm -f "$STATE/$S.wg1.pid"
	say "BRAID_USER=braid-no-such-user: exit status $rc"
	[ "$rc" = 1 ] || fail "exit status $rc, want 1"
	grep -q 'cannot run as "braid-no-such-user"' "$STATE/$S.log" || fail "no reason logged"
	not_link "$S" wg1 || fail "wg1 exists"
	hx "$S" test ! -e /var/run/wireguard/wg1.sock || fail "wg1.sock exists"
}

# unsandboxed PID: root with the capabilities we have, no filter, no janitor.
unsandboxed() {
	local pid=$1
	expect "$pid" Uid "0 0 0 0"
	expect "$pid" CapEff "$(status $$ CapEff)"
	expect "$pid" CapBnd "$(status $$ CapBnd)"
	expect "$pid" NoNewPrivs 0
	expect "$pid" Seccomp 0
	janitor_of "$pid" >/dev/null && fail "a janitor runs without the sandbox"
	return 0
}

off_switch() {
	extra_up "$S" wg1 "$BRAID" BRAID_SANDBOX=0
	unsandboxed "$EXTRA_PID"
	wgh "$S" set wg1 listen-port 854 fwmark 0x4d3 || fail "wg set on the unsandboxed wg1"
	daemon_stop "$S" wg1
	gone "$S" wg1
	extra_up "$S" wg1 "$BRAID" -- --no-sandbox
	unsandboxed "$EXTRA_PID"
	daemon_stop "$S" wg1
	gone "$S" wg1
}

run_gate "setup: two hosts, tunnel up ($S is the sandboxed braid)" setup 30
run_case "$S: nobody, CAP_NET_ADMIN+CAP_NET_BIND_SERVICE, no_new_privs, seccomp; janitor" \
	credentials 20
run_case "$S: fwmark and listen port 853 after the drop, new sockets marked, tunnel follows" \
	fwmark_low_port 40
run_case "$S: an IPv6 endpoint with a zone set and read back (interface lookups)" zone_endpoint 20
run_case "$S: MTU changes followed through rtnetlink and logged under the filter" mtu_and_log 30
run_case "$S: a forbidden system call kills the daemon (SIGSYS), its socket is removed" \
	forbidden_syscall 30
run_case "$S: SIGKILL, SIGTERM and ip link del leave no socket and no interface" exits 40
run_case "$S: --user and BRAID_USER; an unknown user is refused at start" users 30
run_case "$S: BRAID_SANDBOX=0 and --no-sandbox: root, every capability, no filter" off_switch 30
netns_finish
