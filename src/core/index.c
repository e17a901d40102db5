// SPDX-License-Identifier: MIT
/*
 * Receiver-index table: chained hashing on indices that are already
 * uniformly random, so the low bits are the hash. The table doubles when it
 * holds more entries than buckets; it never shrinks below its start size.
 */
#include <errno.h>
#include <stdlib.h>

#include "index.h"

enum { INDEX_INITIAL_BUCKETS = 64 };

static struct index_entry **bucket_of(const struct index_table *table, uint32_t index)
{
	return &table->buckets[index & (table->bucket_count - 1)];
}

int index_table_init(struct index_table *table, index_random_fn *random, void *random_ctx)
{
	table->buckets = calloc(INDEX_INITIAL_BUCKETS, sizeof(*table->buckets));
	if (!table->buckets)
		return -ENOMEM;
	table->bucket_count = INDEX_INITIAL_BUCKETS;
	table->count = 0;
	table->random = random;
	table->random_ctx = random_ctx;
	return 0;
}

void index_table_free(struct index_table *table)
{
	free(table->buckets);
	table->buckets = NULL;
	table->bucket_count = table->count = 0;
}

/* Growing is best effort: on allocation failure chains just get longer. */
static void grow(struct index_table *table)
{
	size_t n = table->bucket_count * 2, i;
	struct index_entry **buckets = calloc(n, sizeof(*buckets));
	struct index_entry *e, *next;

	if (!buckets)
		return;
	for (i = 0; i < table->bucket_count; ++i) {
		for (e = table->buckets[i]; e; e = next) {
			next = e->next;
			e->next = buckets[e->index & (n - 1)];
			buckets[e->index & (n - 1)] = e;
		}
	}
	free(table->buckets);
	table->buckets = buckets;
	table->bucket_count = n;
}

static bool index_in_use(const struct index_table *table, uint32_t index)
{
	const struct index_entry *e;

	for (e = *bucket_of(table, index); e; e = e->next)
		if (e->index == index)
			return true;
	return false;
}

uint32_t index_table_insert(struct index_table *table, struct index_entry *entry)
{
	struct index_entry **bucket;
	uint32_t index;

	if (table->count >= table->bucket_count)
		grow(table);
	do
		table->random(table->random_ctx, &index, sizeof(index));
	while (index_in_use(table, index));

	entry->index = index;
	bucket = bucket_of(table, index);
	entry->next = *bucket;
	*bucket = entry;
	entry->is_hashed = true;
	++table->count;
	return index;
}

static struct index_entry **find_link(struct index_table *table, const struct index_entry *entry)
{
	struct index_entry **link;

	for (link = bucket_of(table, entry->index); *link; link = &(*link)->next)
		if (*link == entry)
			return link;
	return NULL;
}

void index_table_replace(struct index_table *table, struct index_entry *old,
			 struct index_entry *new)
{
	struct index_entry **link;

	if (!old->is_hashed || !(link = find_link(table, old)))
		return;
	new->index = old->index;
	new->next = old->next;
	new->is_hashed = true;
	*link = new;
	old->is_hashed = false;
	old->next = NULL;
}

void index_table_remove(struct index_table *table, struct index_entry *entry)
{
	struct index_entry **link;

	if (!entry->is_hashed || !(link = find_link(table, entry)))
		return;
	*link = entry->next;
	entry->next = NULL;
	entry->is_hashed = false;
	--table->count;
}

struct index_entry *index_table_lookup(const struct index_table *table, uint32_t index,
				       unsigned int type_mask)
{
	struct index_entry *e;

	for (e = *bucket_of(table, index); e; e = e->next)
		if (e->index == index)
			return (e->type & type_mask) ? e : NULL;
	return NULL;
}
