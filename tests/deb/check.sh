#!/bin/bash
# SPDX-License-Identifier: MIT
# check.sh DEB_DIR: install the packages `make deb` built on this machine (root), then:
# `braid --version`; examples/handshake.c (from libbraid-dev's examples) built with
# `pkg-config --cflags --libs braid` against the installed libbraid.so, completing a handshake
# between two in-process devices; man, unit and completion files where Debian puts them; then
# purge the packages and check that nothing of theirs is left. Refuses to run when a braid
# package is installed already (it would be replaced, then removed).
# Prints one line per check and "deb: N passed, M failed".
set -u
[ $# -eq 1 ] || { echo "usage: $0 DEB_DIR" >&2; exit 2; }
dir=$1
[ "$(id -u)" = 0 ] || { echo "deb: needs root (it installs packages)"; exit 2; }
pkgs="braid libbraid0 libbraid-dev"
for p in $pkgs; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		echo "deb: $p is installed already; remove it first (this check purges it)"
		exit 2
	fi
done
work=$(mktemp -d /tmp/braid-deb.XXXXXX)
passed=0 failed=0
cleanup() {
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $pkgs >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

check() { # DESCRIPTION COMMAND...
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "PASS deb  $desc"
		passed=$((passed + 1))
	else
		echo "FAIL deb  $desc"
		echo "$out" | sed 's/^/    /' | head -n 40
		failed=$((failed + 1))
	fi
}

install_them() {
	local debs
	debs=$(ls "$dir"/braid_*.deb "$dir"/libbraid0_*.deb "$dir"/libbraid-dev_*.deb)
	# apt-get, not dpkg -i: it brings the dependencies (libssl-dev for libbraid-dev).
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $debs
}

version() {
	[ "$(command -v braid)" = /usr/bin/braid ] && braid --version | tee /dev/stderr |
		grep -q "^braid v$(dpkg-query -W -f='${Version}' braid)$"
}

program() {
	local example=/usr/share/doc/libbraid-dev/examples/handshake.c
	[ -f "$example" ] || example=$example.gz
	[ -f "$example" ] || { echo "no handshake.c in libbraid-dev's examples"; return 1; }
	case "$example" in *.gz) gunzip -c "$example" >"$work/handshake.c" ;;
	*) cp "$example" "$work/handshake.c" ;; esac
	# shellcheck disable=SC2046
	cc -Wall -Wextra -Werror -o "$work/handshake" "$work/handshake.c" \
		$(pkg-config --cflags --libs braid) &&
		ldd "$work/handshake" | grep -qE 'libbraid.so.0 => /(usr/)?lib/' &&
		"$work/handshake" | tee /dev/stderr |
		grep -q 'handshake completed; host b delivered 1 packet'
}

files() {
	local f
	for f in /usr/share/man/man8/braid.8.gz /usr/share/man/man5/braid.conf.5.gz \
		/lib/systemd/system/braid@.service /lib/systemd/system/braid.target \
		/usr/share/bash-completion/completions/braid /usr/include/braid.h \
		/usr/include/braid_wire.h; do
		[ -e "$f" ] || { echo "missing: $f"; return 1; }
	done
	man -w braid.conf >/dev/null && grep -q '^ExecStart=/usr/bin/braid up %i$' \
		/lib/systemd/system/braid@.service
}

purged() {
	local p left=""
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $pkgs >/dev/null || return 1
	for p in $pkgs; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" && left="$left $p"
	done
	[ -z "$left" ] || { echo "still installed:$left"; return 1; }
	! [ -e /usr/bin/braid ] && ! [ -e /usr/include/braid.h ] &&
		! ls /usr/lib/*/libbraid* >/dev/null 2>&1
}

t0=$SECONDS
check "apt-get install ./braid ./libbraid0 ./libbraid-dev" install_them
check "braid --version is the package's" version
check "man pages, unit, completion, headers where Debian puts them" files
check "handshake.c built with pkg-config --cflags --libs braid: a handshake" program
check "apt-get purge leaves no braid file" purged
echo "=== deb checks: $((SECONDS - t0))s"
echo "deb: $passed passed, $failed failed"
[ "$failed" = 0 ]
