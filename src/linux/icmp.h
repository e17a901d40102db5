/* SPDX-License-Identifier: MIT */
/*
 * "Packet too big" answers for inner packets read from TUN that exceed the
 * tunnel MTU: they are dropped, and the sender learns the MTU the way it
 * would from a router.
 */
#ifndef BRAID_ICMP_H
#define BRAID_ICMP_H

#include <stddef.h>
#include <stdint.h>

/* The largest answer: IPv6's minimum MTU, the limit RFC 4443 sets for an ICMPv6 error. */
#define ICMP_TOO_BIG_MAX 1280

/*
 * Build into out (ICMP_TOO_BIG_MAX bytes) the packet to write back into TUN
 * for pkt, which is longer than mtu: ICMPv4 "fragmentation needed" (only when
 * DF is set) or ICMPv6 "packet too big". Returns its length, or 0 when none
 * is due (no DF, an ICMP error itself, a multicast or unspecified address,
 * a malformed header).
 */
size_t icmp_too_big(uint8_t *out, const uint8_t *pkt, size_t len, unsigned int mtu);

#endif
