#!/bin/sh
# SPDX-License-Identifier: MIT
# Install what the build and the tests need on Debian, when it is missing.
#   scripts/deps.sh        what make check needs
#   scripts/deps.sh deb    and what make deb and make deb-check need (packaging tools)
set -e

PACKAGES="make gcc clang libclang-rt-dev clang-tools cppcheck libssl-dev libcmocka-dev \
	pkg-config iproute2 iputils-ping \
	wireguard-tools wireguard-go iperf3 nftables procps psmisc coreutils python3 valgrind \
	python3-prometheus-client man-db groff-base mptcpize"
if [ "${1:-}" = deb ]; then
	PACKAGES="$PACKAGES dpkg-dev debhelper lintian"
fi

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing:$missing; run as root to install them" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
