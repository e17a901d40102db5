/* SPDX-License-Identifier: MIT */
/*
 * The receiver-index table: maps the random 32-bit indices we hand out in
 * handshake messages to the handshake or keypair they name. Indices are
 * drawn from the caller's RNG and unique among live entries, so they reveal
 * nothing and cannot be predicted. Control plane only.
 */
#ifndef BRAID_INDEX_H
#define BRAID_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct braid_peer;

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

enum index_type {
	INDEX_HANDSHAKE = 1 << 0,
	INDEX_KEYPAIR = 1 << 1,
};

/* Embedded in a handshake or a keypair. */
struct index_entry {
	struct index_entry *next;
	struct braid_peer *peer;
	uint32_t index;
	enum index_type type;
	bool is_hashed;
};

typedef void index_random_fn(void *ctx, void *buf, size_t len);

struct index_table {
	struct index_entry **buckets;
	size_t bucket_count;	/* a power of two */
	size_t count;
	index_random_fn *random;
	void *random_ctx;
};

int index_table_init(struct index_table *table, index_random_fn *random, void *random_ctx);
void index_table_free(struct index_table *table);
/* Give entry a fresh random index and hash it; returns the index. */
uint32_t index_table_insert(struct index_table *table, struct index_entry *entry);
/* Put new in old's place under old's index (a handshake becoming a keypair). */
void index_table_replace(struct index_table *table, struct index_entry *old,
			 struct index_entry *new);
void index_table_remove(struct index_table *table, struct index_entry *entry);
/* The entry with this index whose type is in type_mask, or NULL. */
struct index_entry *index_table_lookup(const struct index_table *table, uint32_t index,
				       unsigned int type_mask);

#endif
