// SPDX-License-Identifier: MIT
/*
 * Linear probing from a slot picked by a keyed mix of the tag, removal by
 * shifting back the slots after the hole (no tombstones, so a lookup stops
 * at the first empty slot). Public keys are random, but the administrator
 * chooses them; the device's random seed keeps a set of keys chosen to
 * share their low bits from piling into one run of slots.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"
#include "pubkeys.h"

enum { PUBKEYS_INITIAL_SLOTS = 64 };

static uint64_t tag_of(const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	return braid_get_le64(key);
}

static size_t home(const struct pubkey_table *t, uint64_t tag)
{
	uint64_t h = (tag ^ t->seed) * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h ^ (h >> 29)) & t->mask;
}

int pubkeys_init(struct pubkey_table *t, uint64_t seed)
{
	t->slots = calloc(PUBKEYS_INITIAL_SLOTS, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = PUBKEYS_INITIAL_SLOTS - 1;
	t->count = 0;
	t->seed = seed;
	return 0;
}

void pubkeys_free(struct pubkey_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->mask = t->count = 0;
}

static void place(struct pubkey_slot *slots, size_t mask, size_t i, struct pubkey_slot s)
{
	while (slots[i].peer)
		i = (i + 1) & mask;
	slots[i] = s;
}

int pubkeys_reserve(struct pubkey_table *t)
{
	size_t n = 2 * (t->mask + 1), i;
	struct pubkey_slot *slots;
	struct pubkey_table grown = *t;

	if (2 * (t->count + 1) <= t->mask + 1)
		return 0;
	slots = calloc(n, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	grown.slots = slots;
	grown.mask = n - 1;
	/* The tags are in the table: no peer is read to move them. */
	for (i = 0; i <= t->mask; i++)
		if (t->slots[i].peer)
			place(slots, grown.mask, home(&grown, t->slots[i].tag), t->slots[i]);
	free(t->slots);
	*t = grown;
	return 0;
}

void pubkeys_insert(struct pubkey_table *t, struct braid_peer *peer)
{
	uint64_t tag = tag_of(peer->handshake.remote_static);

	place(t->slots, t->mask, home(t, tag), (struct pubkey_slot){ tag, peer });
	t->count++;
}

struct braid_peer *pubkeys_lookup(const struct pubkey_table *t,
				  const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	uint64_t tag = tag_of(key);
	size_t i;

	for (i = home(t, tag); t->slots[i].peer; i = (i + 1) & t->mask)
		if (t->slots[i].tag == tag &&
		    !memcmp(t->slots[i].peer->handshake.remote_static, key, NOISE_PUBLIC_KEY_LEN))
			return t->slots[i].peer;
	return NULL;
}

/* Whether slot j, holding something at home h, lies cyclically in (hole, j]: it must stay. */
static bool stays(size_t hole, size_t h, size_t j)
{
	return hole <= j ? hole < h && h <= j : hole < h || h <= j;
}

void pubkeys_remove(struct pubkey_table *t, const struct braid_peer *peer)
{
	size_t i = home(t, tag_of(peer->handshake.remote_static)), j;

	while (t->slots[i].peer && t->slots[i].peer != peer)
		i = (i + 1) & t->mask;
	if (!t->slots[i].peer)
		return;
	/* Shift back each slot of the run that the hole would cut off from its home. */
	for (j = (i + 1) & t->mask; t->slots[j].peer; j = (j + 1) & t->mask) {
		if (stays(i, home(t, t->slots[j].tag), j))
			continue;
		t->slots[i] = t->slots[j];
		i = j;
	}
	t->slots[i] = (struct pubkey_slot){ 0 };
	t->count--;
}

void pubkeys_clear(struct pubkey_table *t)
{
	memset(t->slots, 0, (t->mask + 1) * sizeof(*t->slots));
	t->count = 0;
}
