#!/bin/sh
# SPDX-License-Identifier: MIT
# deb.sh OUT_DIR: build braid's Debian packages from a copy of this tree (the packaging writes
# into debian/ and into the parent directory, neither of which should be ours), then lintian.
#   OUT_DIR/braid_*.deb libbraid0_*.deb libbraid-dev_*.deb (and their .changes, .buildinfo)
# Fails on a failed build or on any lintian error.
set -eu
cd "$(dirname "$0")/.."
out=$1
version=$(dpkg-parsechangelog -S Version)
src="$out/braid-$version"
rm -rf "$out"
mkdir -p "$src"
# Everything but build outputs and git's own files.
tar --exclude=./build --exclude=./.git -cf - . | tar -C "$src" -xf -
echo "  DEB     $src: dpkg-buildpackage -us -uc -b"
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 ||
	{ tail -n 40 "$out/build.log"; echo "deb: dpkg-buildpackage failed; see $out/build.log"; exit 1; }
ls "$out"/*.deb
echo "  LINTIAN $out/*.changes"
lintian --fail-on error --tag-display-limit 0 "$out"/braid_"${version}"_*.changes |
	tee "$out/lintian.log"
