#!/bin/bash
# SPDX-License-Identifier: MIT
# check.sh BUILD_DIR: `make install` into a scratch DESTDIR (PREFIX=/usr), then what landed:
#  - every file, libbraid.so.N's soname, its exports (exactly the functions braid.h declares);
#  - the man pages through `man --warnings` (and `mandoc -Tlint` where installed);
#  - braid.pc: examples/handshake.c built with `pkg-config --cflags --libs braid` against the
#    installed shared library, and statically against libbraid.a, both completing a handshake;
#  - the systemd unit through `systemd-analyze verify` (where systemd is installed);
#  - bash completion of subcommands and show's words;
#  - `make uninstall` leaves no file behind.
# Prints one line per check and "install: N passed, M failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$1
root=$(mktemp -d /tmp/braid-install.XXXXXX)
trap 'rm -rf "$root"' EXIT
passed=0 failed=0

check() { # DESCRIPTION COMMAND...: one check, its output shown when it fails
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "PASS install  $desc"
		passed=$((passed + 1))
	else
		echo "FAIL install  $desc"
		echo "$out" | sed 's/^/    /' | head -n 40
		failed=$((failed + 1))
	fi
}

do_install() {
	make --no-print-directory BUILD="$build" DESTDIR="$root/dest" PREFIX=/usr install >/dev/null
}

files_present() {
	local f
	for f in usr/bin/braid usr/lib/libbraid.so.0.1.0 usr/lib/libbraid.so.0 usr/lib/libbraid.so \
		usr/lib/libbraid.a usr/include/braid.h usr/include/braid_wire.h \
		usr/lib/pkgconfig/braid.pc usr/share/man/man8/braid.8 usr/share/man/man5/braid.conf.5 \
		usr/lib/systemd/system/braid@.service usr/lib/systemd/system/braid.target \
		usr/share/bash-completion/completions/braid; do
		[ -e "$root/dest/$f" ] || { echo "missing: $f"; return 1; }
	done
	"$root/dest/usr/bin/braid" --version | grep -q '^braid v'
}

soname() {
	readelf -d "$root/dest/usr/lib/libbraid.so.0.1.0" | grep -q 'SONAME.*\[libbraid.so.0\]'
}

# The exported functions are exactly those braid.h declares (braid_wire.h has inline ones only;
# a braid_*_fn is a callback type, not a function).
exports() {
	local declared exported
	declared=$(grep -oE '\bbraid_[a-z0-9_]+\(' include/braid.h | tr -d '(' | grep -v '_fn$' |
		sort -u)
	exported=$(nm -D --defined-only "$root/dest/usr/lib/libbraid.so.0.1.0" |
		awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u)
	diff <(echo "$declared") <(echo "$exported")
}

man_pages() {
	local page err
	for page in "$root"/dest/usr/share/man/man8/braid.8 "$root"/dest/usr/share/man/man5/braid.conf.5
	do
		err=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
		[ -z "$err" ] || { echo "$page: $err"; return 1; }
		if command -v mandoc >/dev/null; then
			mandoc -Tlint -W warning "$page" || return 1
		fi
	done
}

pc() {
	PKG_CONFIG_SYSROOT_DIR="$root/dest" PKG_CONFIG_PATH="$root/dest/usr/lib/pkgconfig" \
		pkg-config "$@" braid
}

shared_program() {
	# shellcheck disable=SC2046
	cc -Wall -Wextra -Werror -o "$root/handshake" examples/handshake.c $(pc --cflags --libs) &&
		LD_LIBRARY_PATH="$root/dest/usr/lib" "$root/handshake" | tee /dev/stderr |
		grep -q 'handshake completed; host b delivered 1 packet' &&
		LD_LIBRARY_PATH="$root/dest/usr/lib" ldd "$root/handshake" |
		grep -q "libbraid.so.0 => $root/dest/usr/lib"
}

static_program() {
	# shellcheck disable=SC2046
	cc -Wall -Wextra -Werror -o "$root/handshake-static" examples/handshake.c \
		$(pc --cflags) "$root/dest/usr/lib/libbraid.a" $(pkg-config --libs libcrypto) \
		-lpthread && "$root/handshake-static" | grep -q 'handshake completed' &&
		! ldd "$root/handshake-static" | grep -q libbraid
}

unit() {
	local dir="$root/units"
	if ! command -v systemd-analyze >/dev/null; then
		echo "no systemd-analyze here: the unit is not verified" >&2
		return 0
	fi
	mkdir -p "$dir"
	# The installed unit runs /usr/bin/braid, not there yet: verify a copy pointing at this one.
	sed "s|/usr/bin/braid|$root/dest/usr/bin/braid|" \
		"$root/dest/usr/lib/systemd/system/braid@.service" >"$dir/braid@.service"
	cp "$root/dest/usr/lib/systemd/system/braid.target" "$dir/"
	grep -q '^ExecStart=/usr/bin/braid up %i$' "$root/dest/usr/lib/systemd/system/braid@.service" &&
		SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$dir/braid@wg0.service" \
			"$dir/braid.target"
}

completion() {
	local got
	got=$(bash -c '. "$1"; COMP_WORDS=(braid sh); COMP_CWORD=1; _braid; echo "${COMPREPLY[*]}"
		COMP_WORDS=(braid show wg0 ""); COMP_CWORD=3; _braid; echo "${COMPREPLY[*]}"
		COMP_WORDS=(braid set wg0 peer KEY multipath ""); COMP_CWORD=6; _braid
		echo "${COMPREPLY[*]}"' _ "$root/dest/usr/share/bash-completion/completions/braid")
	[ "$got" = $'show\ndump metrics\noff failover redundant aggregate' ] || {
		echo "completions: $got"
		return 1
	}
}

uninstall() {
	make --no-print-directory BUILD="$build" DESTDIR="$root/dest" PREFIX=/usr uninstall \
		>/dev/null && [ -z "$(find "$root/dest" ! -type d)" ] ||
		{ find "$root/dest" ! -type d; return 1; }
}

t0=$SECONDS
check "make install DESTDIR=... PREFIX=/usr" do_install
check "every file in place; braid --version" files_present
check "libbraid.so.0.1.0 has the soname libbraid.so.0" soname
check "libbraid.so exports exactly braid.h's functions" exports
check "man pages: no warnings from man --warnings (and mandoc -Tlint)" man_pages
check "pkg-config --cflags --libs braid: a program linked to libbraid.so handshakes" \
	shared_program
check "the same program linked to libbraid.a" static_program
check "braid@.service: systemd-analyze verify" unit
check "bash completion: subcommands, show's views, set's modes" completion
check "make uninstall leaves no file" uninstall
echo "=== install checks: $((SECONDS - t0))s"
echo "install: $passed passed, $failed failed"
[ "$failed" = 0 ]
