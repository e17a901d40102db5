/* SPDX-License-Identifier: MIT */
/*
 * Cryptokey routing: a compressed binary trie per address family mapping
 * prefixes to peers, with longest-prefix match. The peer pointer is opaque
 * here. Control plane only: no internal locking.
 */
#ifndef BRAID_ALLOWEDIPS_H
#define BRAID_ALLOWEDIPS_H

#include <stdint.h>

struct allowedips_node;

struct allowedips {
	struct allowedips_node *root4;
	struct allowedips_node *root6;
};

/* A zeroed struct is an empty table. */
void allowedips_free(struct allowedips *table);

/*
 * family is AF_INET (addr: 4 bytes, cidr <= 32) or AF_INET6 (16 bytes, cidr <= 128).
 * Bits of addr past cidr are ignored (the prefix is masked). Inserting a prefix
 * that another peer holds moves it to this one. 0, -EINVAL or -ENOMEM.
 */
int allowedips_insert(struct allowedips *table, int family, const uint8_t *addr,
		      uint8_t cidr, void *peer);
/* Remove exactly this prefix if peer holds it: 0, or -ENOENT. */
int allowedips_remove(struct allowedips *table, int family, const uint8_t *addr,
		      uint8_t cidr, void *peer);
/* Remove every prefix held by peer. */
void allowedips_remove_by_peer(struct allowedips *table, void *peer);
/* Longest-prefix match; NULL when nothing matches. */
void *allowedips_lookup(const struct allowedips *table, int family, const uint8_t *addr);

/* Call fn for each prefix held by peer (addr masked); stops and returns fn's first non-zero. */
typedef int allowedips_walk_fn(void *ctx, int family, const uint8_t *addr, uint8_t cidr);
int allowedips_walk_by_peer(const struct allowedips *table, void *peer,
			    allowedips_walk_fn *fn, void *ctx);

#endif
