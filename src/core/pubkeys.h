/* SPDX-License-Identifier: MIT */
/*
 * The device's peers by public key: open addressing, each slot a peer and
 * the first 8 bytes of its key, so that looking up a key that no peer has
 * (every new peer of a setconf, an initiation from a stranger) reads one
 * cache line of the table and no peer. Kept at most half full; it grows
 * when needed and never shrinks. Control plane only.
 */
#ifndef BRAID_PUBKEYS_H
#define BRAID_PUBKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "messages.h"

struct braid_peer;

struct pubkey_slot {
	uint64_t tag;			/* the key's first 8 bytes */
	struct braid_peer *peer;	/* NULL: empty */
};

struct pubkey_table {
	struct pubkey_slot *slots;
	size_t mask;			/* slots - 1, a power of two less one */
	size_t count;
	uint64_t seed;			/* keys the slot a tag lands in */
};

int pubkeys_init(struct pubkey_table *t, uint64_t seed);
void pubkeys_free(struct pubkey_table *t);
/* Room for one more, growing the table when half full would be passed: 0 or -ENOMEM. */
int pubkeys_reserve(struct pubkey_table *t);
/* Add a peer whose key is not in the table, after pubkeys_reserve(). */
void pubkeys_insert(struct pubkey_table *t, struct braid_peer *peer);
void pubkeys_remove(struct pubkey_table *t, const struct braid_peer *peer);
struct braid_peer *pubkeys_lookup(const struct pubkey_table *t,
				  const uint8_t key[NOISE_PUBLIC_KEY_LEN]);
/* Forget every peer at once. */
void pubkeys_clear(struct pubkey_table *t);

#endif
