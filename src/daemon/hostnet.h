/* SPDX-License-Identifier: MIT */
/*
 * The host's side of an interface that braid up brings up, through
 * rtnetlink: the link's MTU and state, its addresses, routes into it,
 * policy-routing rules, and the one sysctl wg-quick sets. Each function
 * makes one change or one query; up.c decides which, in wg-quick's order.
 * All return 0 or -errno (queries: as documented).
 */
#ifndef BRAID_HOSTNET_H
#define BRAID_HOSTNET_H

#include <stdbool.h>
#include <stdint.h>

#include "nl.h"

/* An address or a prefix: family AF_INET or AF_INET6. */
struct prefix {
	int family;
	uint8_t addr[16];
	uint8_t len;
};

enum { HOST_TABLE_MAIN = 254 };

/* `ip link set mtu MTU up dev IF` in one request. */
int host_link_up(struct nl_sock *nl, int ifindex, unsigned int mtu);
int host_link_delete(struct nl_sock *nl, int ifindex);
/* The link's MTU in *mtu. */
int host_link_mtu(struct nl_sock *nl, int ifindex, unsigned int *mtu);

/* `ip address add ADDR/LEN dev IF`. */
int host_addr_add(struct nl_sock *nl, int ifindex, const struct prefix *p);
/* The addresses on ifindex of family, every scope, as `ip -o addr show dev IF` lists them. */
int host_addr_list(struct nl_sock *nl, int ifindex, int family, struct prefix *out,
		   unsigned int max, unsigned int *n);

/* `ip route add PREFIX dev IF [table T]`. */
int host_route_add(struct nl_sock *nl, int ifindex, const struct prefix *p, uint32_t table);
/* 1 when a main-table route on ifindex covers p (`ip route show dev IF match P`), 0 when not. */
int host_route_covered(struct nl_sock *nl, int ifindex, const struct prefix *p);
/* 1 when table holds any route of either family, 0 when not. */
int host_table_in_use(struct nl_sock *nl, uint32_t table);
/*
 * The MTU towards addr as `ip route get` tells it: the route's mtu metric,
 * else its device's MTU. 0 in *mtu when there is no route.
 */
int host_route_mtu(struct nl_sock *nl, const struct prefix *addr, unsigned int *mtu);
/* The same for the first IPv4 default route of the main table (`ip route show default`). */
int host_default_route_mtu(struct nl_sock *nl, unsigned int *mtu);

/* `ip rule add not fwmark MARK table MARK`. */
int host_rule_add_not_fwmark(struct nl_sock *nl, int family, uint32_t mark);
/* `ip rule add table main suppress_prefixlength 0`. */
int host_rule_add_suppress(struct nl_sock *nl, int family);
/*
 * Delete every rule of family that looks up table (any selector), and, with
 * suppress, every plain `from all lookup main suppress_prefixlength 0`.
 * How many were deleted in *n (may be NULL).
 */
int host_rules_delete(struct nl_sock *nl, int family, uint32_t table, bool suppress,
		      unsigned int *n);

/* net.ipv4.conf.all.src_valid_mark=1 (for the full-tunnel rules' reverse-path checks). */
int host_set_src_valid_mark(void);

#endif
