#!/bin/sh
# SPDX-License-Identifier: MIT
# Static analysis of src/: the clang static analyzer over a clean build of
# libbraid and the daemon, then cppcheck layer by layer. Fails on any finding
# of either.
#
#   scripts/analyze.sh [OUT_DIR]     (default build/analyze)
#
# The analyzer's HTML reports land in OUT_DIR/scan-build/; cppcheck's
# findings are printed as file:line: severity: message [id].
set -u
cd "$(dirname "$0")/.." || exit 2
out=${1:-build/analyze}
status=0

scan_build=$(command -v scan-build || command -v scan-build-14 || true)
if [ -z "$scan_build" ] || ! command -v clang >/dev/null; then
	echo "analyze: scan-build and clang are needed (Debian: clang, clang-tools)" >&2
	exit 2
fi
if ! command -v cppcheck >/dev/null; then
	echo "analyze: cppcheck is needed (Debian: cppcheck)" >&2
	exit 2
fi

# A fresh build directory, so every file is compiled, and so analyzed, again.
rm -rf "$out"
mkdir -p "$out"
echo "  SCAN-BUILD  src/ (clean build of lib and daemon)"
# --status-bugs: exit 1 when a bug is reported. The build must succeed too.
if ! "$scan_build" --status-bugs --use-cc=clang -o "$out/scan-build" \
	-enable-checker security.FloatLoopCounter \
	-enable-checker security.insecureAPI.strcpy \
	-enable-checker optin.portability.UnixAPI \
	make --no-print-directory -k BUILD="$out/build" CC=clang lib "$out/build/braid" \
	>"$out/scan-build.log" 2>&1; then
	grep -E 'warning:|error:|scan-build:' "$out/scan-build.log" >&2
	echo "analyze: clang static analyzer: findings or a failed build;" \
		"see $out/scan-build.log" >&2
	status=1
else
	grep -E 'scan-build:' "$out/scan-build.log"
fi

# cppcheck: real bugs and portability, not style, one layer at a time with
# that layer's include path (the Makefile's INCLUDES_*), so it reads each file
# as the compiler does. Each suppression says why:
#  readdirCalled: cppcheck asks for readdir_r(), which glibc deprecated (2.24)
#    and POSIX made obsolete; readdir() is thread-safe on a DIR no other thread uses.
# A finding that is wrong in one place is suppressed there, with a comment
# "// cppcheck-suppress <id>" and the reason (--inline-suppr).
: >"$out/cppcheck.log"
cppcheck_status=0
for layer in core linux daemon; do
	echo "  CPPCHECK    src/$layer"
	includes=$(make --no-print-directory -s print-INCLUDES_$layer) || exit 2
	# shellcheck disable=SC2086 # one word per include option
	if ! cppcheck --quiet --error-exitcode=1 --enable=warning,portability --std=c11 \
		--library=posix --inline-suppr -j 2 --suppress=readdirCalled \
		-D_GNU_SOURCE -D__linux__ -D__x86_64__ $includes \
		--template='{file}:{line}: {severity}: {message} [{id}]' \
		"src/$layer" >>"$out/cppcheck.log" 2>&1; then
		cppcheck_status=1
	fi
done
if [ "$cppcheck_status" -ne 0 ]; then
	cat "$out/cppcheck.log" >&2
	echo "analyze: cppcheck: findings; see $out/cppcheck.log" >&2
	status=1
fi

[ "$status" -eq 0 ] && echo "analyze: no findings"
exit "$status"
