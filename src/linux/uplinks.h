/* SPDX-License-Identifier: MIT */
/*
 * The host's uplinks, as rtnetlink tells them: each interface's index, name,
 * whether it is up with a carrier, and its global addresses; and, asked for
 * one path at a time, whether a route leaves by an interface towards a
 * remote address.
 *
 * uplinks_update() parses link and address messages (a dump's or
 * notifications) into the table without system calls, so tests feed it
 * crafted messages. Addresses that are tentative or failed duplicate address
 * detection, and link-local ones, do not count: no path can use them.
 *
 * The route check asks the kernel for the FIB entry a lookup with the
 * interface as output would match (RTM_F_FIB_MATCH, as mptcpd does). Without
 * it, an IPv4 lookup bound to an interface without a route "assumes the
 * destination is on link" and the datagrams vanish into ARP.
 */
#ifndef BRAID_UPLINKS_H
#define BRAID_UPLINKS_H

#include <braid.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	UPLINKS_MAX = 64,		/* interfaces tracked; more are ignored */
	UPLINK_ADDRS_MAX = 8,		/* global addresses per interface kept */
};

struct uplink_addr {
	int family;
	uint8_t addr[16];
	uint8_t prefixlen;
};

struct uplink {
	int ifindex;
	char name[IF_NAMESIZE];
	bool is_up;			/* administratively up, with a carrier */
	struct uplink_addr addrs[UPLINK_ADDRS_MAX];
	unsigned int n_addrs;
};

struct uplinks {
	struct uplink link[UPLINKS_MAX];
	unsigned int n;
};

/* Apply the link and address messages in buf[0, len); true when the table changed. */
bool uplinks_update(struct uplinks *u, const void *buf, size_t len);

const struct uplink *uplinks_by_index(const struct uplinks *u, int ifindex);
const struct uplink *uplinks_by_name(const struct uplinks *u, const char *name);
/* The interface that holds a local address, or NULL. */
const struct uplink *uplinks_by_addr(const struct uplinks *u, int family, const void *addr);
/* Its first global address of family, or NULL. */
const struct uplink_addr *uplink_global_addr(const struct uplink *l, int family);

/* A non-blocking rtnetlink socket for requests (dumps, route lookups), or -errno. */
int uplinks_socket(void);
/* Fill u from link and address dumps on a request socket: 0 or -errno. */
int uplinks_dump(int fd, struct uplinks *u);
/*
 * Does a route towards remote leave by ifindex, for datagrams marked mark?
 * 1 yes, 0 no, -errno when the kernel could not be asked.
 */
int uplinks_route_via(int fd, int ifindex, const struct braid_endpoint *remote, uint32_t mark);

#endif
