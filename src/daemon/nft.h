/* SPDX-License-Identifier: MIT */
/*
 * The nftables table wg-quick adds for a full tunnel, made through
 * nf_tables' netlink interface: per family (ip, ip6) a table
 * "wg-quick-IFNAME" with three chains,
 *
 *   preraw     prerouting, priority -300: for each address of the interface,
 *              iifname != IFNAME <family> daddr ADDRESS fib saddr type != local drop
 *   premangle  prerouting, priority -150: meta l4proto udp meta mark set ct mark
 *   postmangle postrouting, priority -150: meta l4proto udp mark MARK ct mark set mark
 *
 * The first keeps other hosts on the link from reaching the tunnel's
 * addresses from outside; the other two carry the tunnel socket's fwmark
 * over to replies of the same connection, so the reverse path filter
 * accepts them. The same name as wg-quick's, so either tool takes down what
 * the other made.
 */
#ifndef BRAID_NFT_H
#define BRAID_NFT_H

#include <stdint.h>

#include "hostnet.h"

/* One family's table, all or nothing (one nf_tables batch). 0 or -errno. */
int nft_add_tunnel_table(const char *ifname, int family, const struct prefix *addrs,
			 unsigned int n_addrs, uint32_t mark);
/* Delete every table called wg-quick-IFNAME, in any family. 0 or -errno. */
int nft_delete_tunnel_tables(const char *ifname);

#endif
