/* SPDX-License-Identifier: MIT */
/*
 * Cryptokey routing: a compressed binary trie per address family mapping
 * prefixes to peers, with longest-prefix match. The peer pointer is opaque
 * here; each peer also owns a list of the prefixes it holds, so that its
 * walk and its removal cost what it holds, not what the whole table holds.
 * Control plane only: no internal locking.
 */
#ifndef BRAID_ALLOWEDIPS_H
#define BRAID_ALLOWEDIPS_H

#include <stdint.h>

struct allowedips_node;
struct allowedips_chunk;

/* A link in a peer's list of prefixes; also the list's head, embedded in the peer (zeroed: empty). */
struct allowedips_link {
	struct allowedips_link *next, *prev;
};

struct allowedips {
	struct allowedips_node *root4;
	struct allowedips_node *root6;
	/* Nodes come from chunks of many, given back all at once when the table empties. */
	struct allowedips_chunk *chunks;
	unsigned int chunk_used;		/* nodes handed out from the newest chunk */
	struct allowedips_node *free_nodes;
};

/* A zeroed struct is an empty table. Empties it, and every peer's list. */
void allowedips_free(struct allowedips *table);
/*
 * Empty it at once, without a walk, leaving the peers' lists pointing at
 * freed nodes: for callers that drop every peer with it (their lists are
 * never used again).
 */
void allowedips_forget(struct allowedips *table);

/*
 * family is AF_INET (addr: 4 bytes, cidr <= 32) or AF_INET6 (16 bytes, cidr <= 128).
 * Bits of addr past cidr are ignored (the prefix is masked). Inserting a prefix
 * that another peer holds moves it to this one, at the end of this one's list.
 * list is peer's own: every insert for one peer passes the same. 0, -EINVAL or -ENOMEM.
 */
int allowedips_insert(struct allowedips *table, int family, const uint8_t *addr,
		      uint8_t cidr, void *peer, struct allowedips_link *list);
/* Remove exactly this prefix if peer holds it: 0, or -ENOENT. */
int allowedips_remove(struct allowedips *table, int family, const uint8_t *addr,
		      uint8_t cidr, void *peer);
/* Remove every prefix on a peer's list: O(its prefixes). */
void allowedips_remove_by_peer(struct allowedips *table, struct allowedips_link *list);
/* Longest-prefix match; NULL when nothing matches. */
void *allowedips_lookup(const struct allowedips *table, int family, const uint8_t *addr);

/*
 * Call fn for each prefix on a peer's list (addr masked), in the order the peer
 * got them; stops and returns fn's first non-zero. fn must not change the table.
 */
typedef int allowedips_walk_fn(void *ctx, int family, const uint8_t *addr, uint8_t cidr);
int allowedips_walk_by_peer(const struct allowedips_link *list, allowedips_walk_fn *fn,
			    void *ctx);

#endif
