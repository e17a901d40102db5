#!/bin/bash
# SPDX-License-Identifier: MIT
# soak.sh BRAID [PEER_IMPL]: a long run (not in CI) of traffic, peer churn through the UAPI and
# endpoint changes against the braid on host a, watching its memory and file descriptors.
#
#	  host a (BRAID, watched)                           host b (PEER_IMPL, default BRAID)
#	  wg0 192.0.2.1/24 2001:db8:2::1/64                  wg0 192.0.2.2/24 2001:db8:2::2/64
#	  veth0 198.51.100.1/24 2001:db8:1::1/64 ----------- veth0 198.51.100.2/24 2001:db8:1::2/64
#	  veth1 203.0.113.1/24 ----------------------------- veth1 203.0.113.2/24
#	  + SOAK_FAKE (40) peers with no host behind them: keys from a pool, allowed IPs in
#	    192.0.2.100-199/32 and 2001:db8:ff:N::/64, endpoints 203.0.113.200-249 (nobody answers;
#	    some have persistent keepalive 1, so a keeps making handshake attempts to them)
#
# Until SOAK_SECONDS (1800) have passed, in rounds:
#   traffic: 8 MB TCP each way (sha256) over IPv4 or IPv6 inner, 200 UDP datagrams each way
#            (each checked), pings;
#   between rounds, one change in turn: a's endpoint for b moves among b's three addresses;
#            b's allowed IPs on a are replaced by a larger set and back; b is removed from a and
#            added again; b changes its listen port (a follows b by roaming); a's listen port
#            changes (b follows); a preshared key is set on both and removed;
#   all the time, in the background: every second 10 fake peers are removed and 10 others added
#            (or re-added with new allowed IPs, endpoints and keepalive), and `wg show` reads a.
# Every SOAK_SAMPLE (5) seconds the RSS (VmRSS) and the number of open fds of each braid daemon
# are recorded; the summary prints them at the start, at the end of the warm-up, at the end and
# their maximum. After the warm-up (SOAK_WARMUP, default a fifth of the run, at most 300 s) the
# median of the last minute must not exceed the median of the first minute after the warm-up by
# more than SOAK_RSS_KB (8192) kB, nor the maximum by more than twice that; fds: SOAK_FDS (2) and
# 2 x SOAK_FDS. A failing round stops the run at once, with the logs.
#
# Environment: SOAK_SECONDS, SOAK_SAMPLE, SOAK_WARMUP, SOAK_RSS_KB, SOAK_FDS, SOAK_FAKE,
# SOAK_SAMPLES=FILE (keep the samples).

. "$(dirname "$0")/../netns/cases.sh"

SOAK_SECONDS=${SOAK_SECONDS:-1800}
SAMPLE=${SOAK_SAMPLE:-5}
WARMUP=${SOAK_WARMUP:-$((SOAK_SECONDS / 5 > 300 ? 300 : SOAK_SECONDS / 5))}
RSS_SLACK=${SOAK_RSS_KB:-8192}
FD_SLACK=${SOAK_FDS:-2}
FAKE=${SOAK_FAKE:-40}
SCRIPT_TIMEOUT=$((SOAK_SECONDS + 300))

[ $# -ge 1 ] || { echo "usage: $0 BRAID [PEER_IMPL]" >&2; exit 2; }
netns_init "$1" "${2:-$1}"
echo "$T: $SOAK_SECONDS s, samples every $SAMPLE s, warm-up $WARMUP s, $FAKE fake peers"
two_hosts

setup() {
	two_hosts_link
	link_add a veth1 b veth1
	addr_add a veth1 203.0.113.1/24
	addr_add b veth1 203.0.113.2/24
	wg_up a
	wg_up b
	peer_add_default a b endpoint4
	peer_add_default b a endpoint4
	ping_ok a 192.0.2.2
	local i
	mkdir -p "$STATE/fake"
	for ((i = 0; i < 2 * FAKE; i++)); do
		wg genkey | wg pubkey >"$STATE/fake/$i"
	done
	head -c 8M /dev/urandom >"$STATE/data-a"
	head -c 8M /dev/urandom >"$STATE/data-b"
}

# --- sampling --------------------------------------------------------------------------------

# sampler: "SECONDS HOST RSS_KB FDS THREADS" lines for each braid daemon, every $SAMPLE s.
sampler() {
	local t0=$SECONDS h pid rss thr fds
	while :; do
		for h in a b; do
			is_braid "$h" || continue
			pid=$(daemon_pid "$h") || continue
			rss=$(rss_kb "$pid" 2>/dev/null)
			thr=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
			fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
			[ -z "$rss" ] ||
				echo "$((SECONDS - t0)) $h $rss $fds $thr" >>"$STATE/samples"
		done
		sleep "$SAMPLE"
	done
}

# summary HOST: figures and the growth check of one daemon.
summary() {
	awk -v h="$1" -v warm="$WARMUP" -v end_t="$2" -v rs="$RSS_SLACK" -v fs="$FD_SLACK" '
	function median(a, n,    i, j, t) {
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n ? a[int((n + 1) / 2)] : 0
	}
	$2 == h {
		if (!seen++) { r0 = $3; f0 = $4 }
		if ($1 >= warm) {
			if (!wseen++) { rw = $3; fw = $4 }
			if ($3 > rmax) rmax = $3
			if ($4 > fmax) fmax = $4
			if ($1 < warm + 60) { nb++; rb[nb] = $3; fb[nb] = $4 }
			if ($1 >= end_t - 60) { ne++; re[ne] = $3; fe[ne] = $4 }
		}
		r1 = $3; f1 = $4; thr = $5
	}
	END {
		if (!wseen) { print "  error: no samples of " h " after the warm-up"; exit 1 }
		printf "  %s RSS kB: start %d, after warm-up %d, end %d, max %d | fds: start %d, " \
			"after warm-up %d, end %d, max %d | threads %d | %d samples\n",
			h, r0, rw, r1, rmax, f0, fw, f1, fmax, thr, seen
		mb = median(rb, nb); me = median(re, ne); fmb = median(fb, nb); fme = median(fe, ne)
		printf "  %s medians: RSS first minute after warm-up %d kB, last minute %d kB " \
			"(+%d); fds %d -> %d\n", h, mb, me, me - mb, fmb, fme
		bad = 0
		if (me - mb > rs) { bad = 1; print "  error: " h " RSS grew by " me - mb " kB" }
		if (rmax - mb > 2 * rs) { bad = 1; print "  error: " h " RSS peak +" rmax - mb " kB" }
		if (fme - fmb > fs) { bad = 1; print "  error: " h " fds grew from " fmb " to " fme }
		if (fmax - fmb > 2 * fs) { bad = 1; print "  error: " h " fds peaked at " fmax }
		exit bad
	}' "$STATE/samples"
}

# --- churn -----------------------------------------------------------------------------------

fake_pub() { cat "$STATE/fake/$1"; }

# fake_add I: fake peer I on a, with allowed IPs, an endpoint and maybe keepalive that depend on
# how often it has been added.
fake_add() {
	local i=$1 gen=$2 ka=0
	[ $(((i + gen) % 4)) = 0 ] && ka=1
	wgh a set wg0 peer "$(fake_pub "$i")" allowed-ips \
		"192.0.2.$((100 + (i + gen) % 100))/32,2001:db8:ff:$(((i * 7 + gen) % 4096))::/64" \
		endpoint "203.0.113.$((200 + (i + gen) % 50)):$((20000 + gen % 1000))" \
		persistent-keepalive "$ka" >/dev/null
}

# churner: "GENERATIONS FAILURES" in $STATE/churn.count after every generation; a failure is a
# `wg` command that did not succeed.
churner() {
	local gen=0 bad=0 i j
	for ((i = 0; i < FAKE; i++)); do fake_add "$i" 0 || bad=$((bad + 1)); done
	while :; do
		gen=$((gen + 1))
		# the live fake peers are a window over the pool: its first 10 go, 10 after it come
		for ((j = 0; j < 10; j++)); do
			i=$(((gen * 10 + j - 10) % (2 * FAKE)))
			wgh a set wg0 peer "$(fake_pub "$i")" remove >/dev/null || bad=$((bad + 1))
			fake_add $(((i + FAKE) % (2 * FAKE))) "$gen" || bad=$((bad + 1))
		done
		wgh a show wg0 >/dev/null || bad=$((bad + 1))
		wgh a show wg0 dump >/dev/null || bad=$((bad + 1))
		echo "$gen $bad" >"$STATE/churn.count"
		sleep 1
	done
}

b_allowed="192.0.2.2/32,2001:db8:2::2/128"

# change N: the Nth change between rounds.
change() {
	case $(($1 % 8)) in
	0) peer_set a b endpoint "[2001:db8:1::2]:$(b_port)" ;;
	1) peer_set a b endpoint "203.0.113.2:$(b_port)" ;;
	2) peer_set a b endpoint "198.51.100.2:$(b_port)" ;;
	3) peer_set a b allowed-ips "$b_allowed,192.0.2.32/27,2001:db8:2:1::/64,2001:db8:2:2::/64"
	   peer_set a b allowed-ips "$b_allowed" ;;
	4) peer_set a b remove
	   peer_set a b allowed-ips "$b_allowed" endpoint "198.51.100.2:$(b_port)" ;;
	5) # b moves to another port: a must learn it from b's packets
	   echo $((10002 + 10012 - $(b_port))) >"$STATE/b.port"
	   wgh b set wg0 listen-port "$(b_port)" || fail "b listen-port"
	   ping_ok b 192.0.2.1
	   local ep
	   ep=$(peer_field a b endpoint)
	   [ "${ep##*:}" = "$(b_port)" ] || fail "a did not follow b to port $(b_port): $ep" ;;
	6) # a's own port changes; b follows when a speaks first
	   echo $((10001 + 10011 - $(a_port))) >"$STATE/a.port"
	   wgh a set wg0 listen-port "$(a_port)" || fail "a listen-port"
	   ping_ok a 192.0.2.2 ;;
	7) local psk="$STATE/psk"
	   (umask 077 && wg genpsk >"$psk")
	   peer_set a b preshared-key "$psk"
	   peer_set b a preshared-key "$psk"
	   ping_ok a 192.0.2.2
	   peer_set a b preshared-key /dev/null
	   peer_set b a preshared-key /dev/null ;;
	esac
}

b_port() { cat "$STATE/b.port" 2>/dev/null || echo 10002; }
a_port() { cat "$STATE/a.port" 2>/dev/null || echo 10001; }

round() {
	local n=$1 d4a=192.0.2.2 d4b=192.0.2.1
	if [ $((n % 2)) = 1 ]; then d4a=2001:db8:2::2 d4b=2001:db8:2::1; fi
	ping_ok a "$d4a"
	ping_ok b "$d4b"
	tcp_transfer a b "$d4a" "$STATE/data-a" $((5000 + n % 500 * 2)) >/dev/null
	tcp_transfer b a "$d4b" "$STATE/data-b" $((5001 + n % 500 * 2)) >/dev/null
	udp_exchange a b "$d4a" $((6000 + n % 500)) 200 1300 >/dev/null
	udp_exchange b a "$d4b" $((6000 + n % 500)) 200 1300 >/dev/null
}

soak() {
	errtrap
	local n=0 t0=$SECONDS last=0 h bad=0
	# Globals: the EXIT trap needs them after this function returned.
	sampler &
	SAMPLER=$!
	churner >"$STATE/churn.out" 2>&1 &
	CHURNER=$!
	# they live outside the namespaces: end them however the case ends
	trap 'rc=$?; set +e; trap - ERR; kill "$CHURNER" "$SAMPLER" 2>/dev/null; exit $rc' EXIT
	while [ $((SECONDS - t0)) -lt "$SOAK_SECONDS" ]; do
		for h in a b; do daemon_alive "$h" || fail "the daemon on $h died"; done
		round "$n"
		change "$n"
		n=$((n + 1))
		if [ $((SECONDS - last)) -ge 60 ]; then
			last=$SECONDS
			echo "$(date +%T) $((SECONDS - t0)) s: $n rounds; last sample:" \
				"$(tail -n 2 "$STATE/samples" | tr '\n' ' ')" >>"$STATE/progress"
			[ -z "${SOAK_VERBOSE:-}" ] || tail -n 1 "$STATE/progress" >&2
		fi
	done
	kill "$CHURNER" "$SAMPLER" 2>/dev/null
	wait "$CHURNER" "$SAMPLER" 2>/dev/null || true	# their status is SIGTERM's
	local gens fails
	read -r gens fails <"$STATE/churn.count" || fail "the churner never finished a generation"
	say "$n rounds in $((SECONDS - t0)) s (each: 2 x 8 MB TCP, 2 x 200 UDP, pings, a change);" \
		"churn: $gens x (10 fake peers removed, 10 added, 2 reads), $fails wg failures;" \
		"peers on a at the end: $(wgh a show wg0 peers | wc -l)"
	[ "$fails" = 0 ] ||
		fail "$fails wg commands of the churn failed: $(tail -n 5 "$STATE/churn.out")"
	[ "$(wgh a show wg0 peers | wc -l)" = $((FAKE + 1)) ] || fail "a has a wrong number of peers"
	[ -z "${SOAK_SAMPLES:-}" ] || cp "$STATE/samples" "$SOAK_SAMPLES"
	for h in a b; do
		is_braid "$h" || continue
		summary "$h" $((SECONDS - t0)) || bad=1
	done
	[ "$bad" = 0 ] || fail "memory or fds grew"
}

run_gate "setup: two hosts, two links, tunnel up, fake peer keys" setup 60
run_case "soak: ${SOAK_SECONDS}s of traffic, churn and endpoint changes; RSS and fds stable" soak \
	$((SOAK_SECONDS + 120))
netns_finish
