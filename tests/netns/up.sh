#!/bin/bash
# SPDX-License-Identifier: MIT
# up.sh IMPL_A IMPL_B: `braid up` and `braid down` side by side with wg-quick. Host a brings the
# same configuration files up and down with wg-quick (WG_QUICK_USERSPACE_IMPLEMENTATION=IMPL_A)
# and with `IMPL_A up`, and the host's state must come out the same: `ip addr`, `ip link`,
# `ip route` and `ip rule` (both families, every table), the nftables ruleset, what resolvconf
# was asked and what the hooks ran, and `wg show dump` (interface indexes, handshake times and
# byte counts left out). down must give back the state from before. Host b runs IMPL_B,
# configured with `wg`. Only braid has a `braid up`: with wireguard-go as host a there is
# nothing to check.
#
#	  host a: wg-quick up / braid up  wgq0.conf          host b (IMPL_B)
#	  wgq0 192.0.2.1 2001:db8:2::1                        wg0 192.0.2.2/24 2001:db8:2::2/64
#	  veth0 198.51.100.1/24 ---------------------------- veth0 198.51.100.2/24
#	        2001:db8:1::1/64                                    203.0.113.2/24
#	  default via 198.51.100.2 (full tunnel)                    2001:db8:1::2/64
#
# The configurations (one file, wgq0.conf, rewritten for each): a split tunnel (addresses with
# prefixes, allowed IPs covered by them and not, automatic MTU, PersistentKeepalive, a
# preshared key); a full tunnel (AllowedIPs 0.0.0.0/0 and ::/0: fwmark 51820, rules, nft
# table, src_valid_mark; DNS and a search domain through a stand-in resolvconf that records its
# calls); Table = 1234; Table = off; hooks with %i. Then braid's own cases: files with mistakes
# (refused with their line, nothing changed), a failing PostUp (everything undone), SaveConfig
# (the file written again as wg-quick writes it), the multipath keys, and an Endpoint by name
# from /etc/hosts in a's mount namespace.

. "$(dirname "$0")/cases.sh"
netns_init "$@"

if [ "$(impl_label "$IMPL_A")" != braid ]; then
	echo "$T: host a is $(impl_label "$IMPL_A"), which has no 'up': nothing to check"
	netns_finish
fi
two_hosts

BRAID=$IMPL_A
CONF="$STATE/wgq0.conf"
BIN="$STATE/bin"

setup() {
	two_hosts_link
	addr_add b veth0 203.0.113.2/24
	hx a ip route add default via 198.51.100.2
	hx a ip -6 route add default via 2001:db8:1::2
	wg_up b
	(umask 077 && wg genpsk >"$STATE/psk" && wg genkey | wg pubkey >"$STATE/c.pub")
	peer_set b a allowed-ips 192.0.2.1/32,2001:db8:2::1/128,192.0.2.128/25 \
		preshared-key "$STATE/psk"
	# A resolvconf that only records what it is asked, so no host's DNS is touched.
	mkdir -p "$BIN"
	cat >"$BIN/resolvconf" <<-EOS
		#!/bin/sh
		echo "resolvconf \$*" >>"$STATE/resolvconf.log"
		[ "\$1" = -a ] && sed 's/^/  /' >>"$STATE/resolvconf.log"
		exit 0
	EOS
	chmod 755 "$BIN/resolvconf"
	# Names for a: its own /etc/hosts, and a resolv.conf pointing at nothing, so that no
	# lookup ever leaves the namespace.
	printf '127.0.0.1 localhost\n203.0.113.2 b.braid.test\n' >"$STATE/hosts"
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$STATE/resolv.conf"
	hx a mount --bind "$STATE/hosts" /etc/hosts
	hx a mount --bind "$STATE/resolv.conf" /etc/resolv.conf
	# veth0's link-local address settles first (duplicate address detection), or it would
	# differ between snapshots.
	wait_for 10 "duplicate address detection on a" no_tentative
	snapshot before
}

no_tentative() { ! hx a ip addr show | grep -q tentative; }

# conf NAME: write wgq0.conf for one of the configurations.
conf() {
	local psk
	psk=$(cat "$STATE/psk")
	{
		echo "[Interface]"
		echo "PrivateKey = $(cat "$STATE/a.key")"
		echo "ListenPort = 10001"
		case "$1" in
		split)
			echo "Address = 192.0.2.1/24, 2001:db8:2::1/64"
			echo "Address = 192.0.2.129/25" ;;
		full)
			echo "Address = 192.0.2.1/32, 2001:db8:2::1/128"
			echo "DNS = 192.0.2.53, 2001:db8:2::53, example.test"
			echo "MTU = 1380" ;;
		table)
			echo "Address = 192.0.2.1/32"
			echo "Table = 1234" ;;
		off)
			echo "Address = 192.0.2.1/32"
			echo "Table = off" ;;
		hooks)
			echo "Address = 192.0.2.1/32"
			echo "PreUp = echo pre-up %i >>$STATE/hooks.log"
			echo "PostUp = echo post-up %i \$(ip -o link show %i | wc -l) >>$STATE/hooks.log"
			echo "PreDown = echo pre-down %i >>$STATE/hooks.log"
			echo "PostDown = echo post-down %i >>$STATE/hooks.log  # a comment" ;;
		esac
		echo
		echo "[Peer]"
		echo "PublicKey = $(pub b)"
		echo "Endpoint = 203.0.113.2:10002"
		echo "PresharedKey = $psk"
		case "$1" in
		split)
			echo "AllowedIPs = 192.0.2.2/32, 2001:db8:2::2/128"
			echo "AllowedIPs = 192.0.2.0/26, 2001:db8:3::/48"
			echo "PersistentKeepalive = 25" ;;
		full) echo "AllowedIPs = 0.0.0.0/0, ::/0" ;;
		*) echo "AllowedIPs = 192.0.2.2/32, 2001:db8:3::/48" ;;
		esac
	} >"$CONF"
	chmod 600 "$CONF"
}

# snapshot NAME: the host state of a that up and down change, normalised (snap.NAME), and what
# resolvconf was asked and the hooks ran since the last snapshot (log.NAME).
snapshot() {
	local f
	{
		echo "== links"
		# Its stderr varies: "Peer netns reference is invalid" once per namespace made or gone
		# anywhere on the machine since, for a veth whose peer lives in another namespace.
		hx a ip -o link show 2>/dev/null | sed -E 's/^[0-9]+: //; s/ link\/.*//'
		echo "== addresses"
		hx a ip -o addr show | sed -E 's/^[0-9]+: //'
		for f in -4 -6; do
			echo "== routes $f"
			# Sorted: local routes of random link-local addresses come in their order.
			hx a ip "$f" route show table all | sed -E 's/fe80::[0-9a-f:]+/fe80::(ll)/' | sort
			echo "== rules $f"
			hx a ip "$f" rule show
		done
		echo "== nft"
		hx a nft list ruleset
		echo "== sysctl"
		hx a sysctl net.ipv4.conf.all.src_valid_mark
		echo "== wg show dump"
		hx a timeout 5 wg show all dump 2>/dev/null |
			awk -F '\t' 'BEGIN { OFS = "\t" } NF == 9 { $6 = ($6 > 0); $7 = "-"; $8 = "-" } 1'
	} 2>&1 | sed -E 's/fe80::[0-9a-f:]+/fe80::(link-local)/g' >"$STATE/snap.$1"
	cat "$STATE/resolvconf.log" "$STATE/hooks.log" >"$STATE/log.$1" 2>/dev/null || true
	rm -f "$STATE/resolvconf.log" "$STATE/hooks.log"
}

# same_as_before NAME: snapshot NAME is the state before anything ran, but for the sysctl that
# wg-quick leaves set (both tools do).
same_as_before() {
	grep -v src_valid_mark "$STATE/snap.before" >"$STATE/snap.before.nosysctl"
	grep -v src_valid_mark "$STATE/snap.$1" >"$STATE/snap.$1.nosysctl"
	same snap before.nosysctl "$1.nosysctl"
}

# same KIND A B: two snapshots (snap or log) must be equal.
same() {
	diff -u "$STATE/$1.$2" "$STATE/$1.$3" >"$STATE/diff" ||
		fail "$1 $2 and $3 differ: $(cat "$STATE/diff")"
}

# tool wg-quick|braid up|down: run one of them on host a, with the stand-in resolvconf.
tool() {
	local t=$1 op=$2
	echo "--- $(date +%T.%N) host a: $t $op" >>"$STATE/a.log"
	if [ "$t" = wg-quick ]; then
		WG_QUICK_USERSPACE_IMPLEMENTATION="$BRAID" PATH="$BIN:$PATH" LOG_LEVEL=verbose \
			hx a timeout 30 wg-quick "$op" "$CONF" >>"$STATE/a.log" 2>&1 </dev/null
	else
		PATH="$BIN:$PATH" LOG_LEVEL=verbose hx a timeout 30 "$BRAID" "$op" "$CONF" \
			>>"$STATE/a.log" 2>&1 </dev/null
	fi || fail "$t $op failed (exit $?); see a.log"
}

# side_by_side NAME: wg-quick then braid, up (with a ping through the tunnel) and down. The
# sysctl wg-quick sets stays set after down, with either tool: it is left out of that check.
side_by_side() {
	local name=$1 t
	conf "$name"
	for t in wg-quick braid; do
		tool "$t" up
		ping_ok a 192.0.2.2
		snapshot "$name.$t.up"
		tool "$t" down
		wait_for 5 "wgq0's daemon to go" hx a test ! -e /var/run/wireguard/wgq0.sock
		snapshot "$name.$t.down"
		same_as_before "$name.$t.down"
	done
	same snap "$name.wg-quick.up" "$name.braid.up"
	same log "$name.wg-quick.up" "$name.braid.up"
	same log "$name.wg-quick.down" "$name.braid.down"
	say "$name: the same state after wg-quick up and braid up; down restored it both times"
	grep -E 'wgq0|fwmark|suppress|table ip|daddr|mark|src_valid' "$STATE/snap.$name.braid.up" |
		grep -vE 'fe80|ff00|^wgq0 ' | cut -c 1-150 | sed 's/^/    /'
	cat "$STATE/log.$name.braid.up" "$STATE/log.$name.braid.down" | sed 's/^/    /'
}

case_split() { side_by_side split; }
case_full() { side_by_side full; }
case_table() { side_by_side table; }
case_off() { side_by_side off; }
case_hooks() {
	side_by_side hooks
	grep -q '^post-up wgq0 1$' "$STATE/log.hooks.braid.up" ||
		fail "PostUp did not run with wgq0 up: $(cat "$STATE/log.hooks.braid.up")"
}


# bad LINE MESSAGE: braid up refuses wgq0.conf, naming its line, and changes nothing.
bad() {
	local line=$1 msg=$2 out
	if out=$(PATH="$BIN:$PATH" WG_ENDPOINT_RESOLUTION_RETRIES=0 hx a timeout 30 \
		"$BRAID" up "$CONF" 2>&1 </dev/null); then
		fail "braid up accepted a file with a mistake on line $line: $(cat -n "$CONF")"
	fi
	[[ $out == *"wgq0.conf:$line: "*"$msg"* ]] ||
		fail "braid up's message does not name line $line ($msg): $out"
	say "line $line: $out"
	snapshot bad
	same_as_before bad
}

# broken LINE TEXT: the split configuration with line LINE replaced by TEXT.
broken() {
	conf split
	sed -i "$1c\\$2" "$CONF"
}

case_bad_files() {
	broken 4 "Address = 192.0.2.300/24"
	bad 4 "invalid Address"
	broken 3 "ListenPort = 70000"
	bad 3 "ListenPort"
	broken 8 "PublicKey = not-a-key"
	bad 8 "PublicKey"
	broken 11 "Colour = blue"
	bad 11 "unknown key"
	broken 11 "MTU = 1400"
	bad 11 "unknown key \`MTU' in [Peer]"
	broken 9 "Endpoint = nowhere.invalid:10002"
	bad 9 "cannot resolve"
	broken 12 "Multipath = sideways"
	bad 12 "Multipath"
	broken 12 "Path = veth0,prio=300"
	bad 12 "invalid Path"
	broken 7 "[Peer]"
	echo "[Peer]" >>"$CONF"
	bad 14 "no PublicKey"
	broken 2 "Table = no-such-table"
	bad 2 "unknown routing table"
	broken 2 "SaveConfig = maybe"
	bad 2 "neither true nor false"
}

# undone HOOK: a failing hook; braid up fails, and the host is as before.
undone() {
	conf full
	sed -i "/^\[Interface\]/a $1 = false" "$CONF"
	if PATH="$BIN:$PATH" hx a timeout 30 "$BRAID" up "$CONF" >>"$STATE/a.log" 2>&1 </dev/null
	then
		fail "braid up succeeded with $1 = false"
	fi
	wait_for 5 "the daemon's socket to go" hx a test ! -e /var/run/wireguard/wgq0.sock
	snapshot undone
	same_as_before undone
	say "$1 = false: braid up failed and left the host as it was"
}

case_undo() {
	undone PostUp
	undone PreUp
}

# save TOOL: up, a new peer with wg, down: the file as SaveConfig wrote it, in save.TOOL.
save() {
	conf split
	sed -i '/^\[Interface\]/a SaveConfig = true' "$CONF"
	tool "$1" up
	wgh a set wgq0 peer "$(cat "$STATE/c.pub")" allowed-ips 192.0.2.3/32 \
		endpoint 198.51.100.3:10003
	tool "$1" down
	sed -E 's/fe80::[0-9a-f:]+/fe80::(link-local)/' "$CONF" >"$STATE/save.$1"
}

case_save_config() {
	save wg-quick
	save braid
	diff -u "$STATE/save.wg-quick" "$STATE/save.braid" >"$STATE/diff" ||
		fail "SaveConfig wrote different files: $(cat "$STATE/diff")"
	grep -q "$(cat "$STATE/c.pub")" "$STATE/save.braid" || fail "the new peer was not saved"
	sed 's/^/    /' "$STATE/save.braid"
}

case_multipath() {
	conf split
	sed -i '/^\[Peer\]/a Multipath = failover\nPath = veth0\nMultipathEndpoint = 198.51.100.2:10002' \
		"$CONF"
	tool braid up
	ping_all a 192.0.2.2 3
	hx a "$BRAID" show wgq0 >"$STATE/show" || fail "braid show failed"
	sed 's/^/    /' "$STATE/show"
	grep -q "multipath: failover" "$STATE/show" || fail "braid show has no multipath line"
	grep -q "path veth0: " "$STATE/show" || fail "braid show has no path on veth0"
	tool braid down
}

# braid show dump: wg show dump's lines first, then braid's; metrics: valid for the reference
# parser, with every family braid(8) lists.
case_dump_metrics() {
	local want got
	conf split
	sed -i '/^\[Peer\]/a Multipath = failover\nPath = veth0' "$CONF"
	tool braid up
	ping_all a 192.0.2.2 3
	want=$(wgh a show wgq0 dump | cut -f 1-4,8)
	got=$(hx a "$BRAID" show wgq0 dump | grep -v '^braid-' | cut -f 1-4,8)
	[ "$want" = "$got" ] || fail "braid show dump differs from wg show dump: $want // $got"
	hx a "$BRAID" show wgq0 dump | grep '^braid-' >"$STATE/dump.braid"
	grep -q "^braid-peer	$(pub b)	failover	" "$STATE/dump.braid" ||
		fail "no braid-peer line: $(cat "$STATE/dump.braid")"
	grep -qF "braid-path	$(pub b)	veth0	198.51.100.1	203.0.113.2:10002	active	" \
		"$STATE/dump.braid" || fail "no braid-path line: $(cat "$STATE/dump.braid")"
	[ "$(grep -c '^braid-counter	drop_' "$STATE/dump.braid")" -ge 20 ] ||
		fail "not every drop counter in the dump"
	sed 's/^/    /' "$STATE/dump.braid" | head -n 6
	hx a "$BRAID" show all metrics >"$STATE/metrics" || fail "braid show all metrics failed"
	"$PY" "$NETNS_DIR/promcheck.py" braid_interface_info braid_peer_receive_bytes \
		braid_peer_transmit_bytes braid_peer_last_handshake_age_seconds \
		braid_peer_last_handshake_timestamp_seconds braid_path_state braid_path_rtt_seconds \
		braid_path_transmit_bytes braid_path_receive_bytes braid_drops \
		braid_cookie_replies_sent braid_handshakes_under_load <"$STATE/metrics" \
		>"$STATE/promcheck" || fail "$(cat "$STATE/promcheck")"
	sed 's/^/    /' "$STATE/promcheck"
	grep -q '^braid_path_state{.*path="veth0".*state="active"} 1$' "$STATE/metrics" ||
		fail "the active path is not in the metrics"
	tool braid down
}

case_endpoint_name() {
	conf split
	sed -i 's/^Endpoint = .*/Endpoint = b.braid.test:10002/' "$CONF"
	tool braid up
	[ "$(wgh a show wgq0 endpoints | cut -f 2)" = 203.0.113.2:10002 ] ||
		fail "b.braid.test was not resolved to 203.0.113.2: $(wgh a show wgq0 endpoints)"
	ping_ok a 192.0.2.2
	hx a "$BRAID" show wgq0 | grep -q "endpoint: 203.0.113.2:10002 (b.braid.test:10002)" ||
		fail "braid show does not name the endpoint: $(hx a "$BRAID" show wgq0)"
	tool braid down
}

# b moves to 203.0.113.3 and its name follows; a's daemon notices that b no longer answers and
# resolves the name again (after about RESOLVER_SILENCE_SEC, 20 s, of silence while sending).
# b could otherwise reach a from 198.51.100.2 and a would simply roam there, so b's datagrams
# from that address are dropped: b is a server that cannot call its clients (behind NAT).
case_reresolve() {
	local t0 i
	conf split
	sed -i 's/^Endpoint = .*/Endpoint = b.braid.test:10002/' "$CONF"
	hx b nft add table ip braidup
	hx b nft add chain ip braidup out '{ type filter hook output priority 0; }'
	hx b nft add rule ip braidup out ip saddr 198.51.100.2 udp sport 10002 drop
	tool braid up
	ping_ok a 192.0.2.2
	hx b ip addr del 203.0.113.2/24 dev veth0
	hx b ip addr add 203.0.113.3/24 dev veth0
	printf '127.0.0.1 localhost\n203.0.113.3 b.braid.test\n' >"$STATE/hosts.new"
	cat "$STATE/hosts.new" >"$STATE/hosts"	# in place: the bind mount holds this inode
	t0=$SECONDS
	for ((i = 0; i < 60; i++)); do
		hx a ping -n -q -c 1 -W 1 192.0.2.2 >/dev/null 2>&1 && break
	done
	[ "$(wgh a show wgq0 endpoints | cut -f 2)" = 203.0.113.3:10002 ] ||
		fail "a's endpoint for b is $(wgh a show wgq0 endpoints | cut -f 2) after" \
			"$((SECONDS - t0)) s, want 203.0.113.3:10002"
	ping_all a 192.0.2.2 3
	say "b moved to 203.0.113.3; a resolved b.braid.test again and reached it after" \
		"$((SECONDS - t0)) s"
	grep -F "b.braid.test" "$STATE/a.log" | tail -n 3 | cut -c 1-150 | sed 's/^/    /'
	grep -q "b.braid.test:10002: now at 203.0.113.3:10002" "$STATE/a.log" ||
		fail "a's daemon did not log the new address of b.braid.test"
	tool braid down
}

run_gate "setup: b up, a's default routes via b, a stand-in resolvconf" setup 30
run_case "split tunnel: braid up == wg-quick up (addresses, auto MTU, routes, psk)" case_split 60
run_case "full tunnel: braid up == wg-quick up (fwmark, rules, nft, sysctl, DNS)" case_full 60
run_case "Table = 1234: braid up == wg-quick up" case_table 60
run_case "Table = off: braid up == wg-quick up" case_off 60
run_case "PreUp/PostUp/PreDown/PostDown with %i: braid up == wg-quick up" case_hooks 60
run_case "bad files: refused with the line of the mistake, nothing changed" case_bad_files 120
run_case "a failing PostUp or PreUp: braid up undoes everything" case_undo 60
run_case "SaveConfig: down writes the file as wg-quick does, with a peer added by wg" \
	case_save_config 60
run_case "Multipath, Path, MultipathEndpoint: a failover peer, shown by braid show" \
	case_multipath 60
run_case "braid show dump (wg's lines, then braid's) and metrics (a real parser)" \
	case_dump_metrics 60
run_case "Endpoint by name, from /etc/hosts in a's mount namespace" case_endpoint_name 60
run_case "the name resolved again when the peer stops answering (b moved)" case_reresolve 90
netns_finish
