/* SPDX-License-Identifier: MIT */
/*
 * A min-heap of entries keyed by a deadline: the peers of a device, each
 * queued at (no later than) the earliest of its timers, so that a tick finds
 * what is due without looking at the peers that are not. An entry is
 * embedded in what waits and knows its place in the heap, so moving or
 * removing it costs O(log n). Control plane only.
 */
#ifndef BRAID_DEADLINES_H
#define BRAID_DEADLINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embedded in what waits; a zeroed entry is not queued. */
struct deadline_entry {
	uint64_t at;		/* meaningful while queued */
	uint32_t slot;		/* its place in the heap plus one; 0: not queued */
	uint32_t order;		/* among equal deadlines, the lower comes out first */
};

/* A zeroed heap is empty. */
struct deadline_heap {
	struct deadline_entry **items;
	size_t n, cap;
};

void deadline_heap_free(struct deadline_heap *heap);
/* Empty it without touching the entries, whose owners are going away with it. */
void deadline_heap_forget(struct deadline_heap *heap);
/* Room for n entries in all, so that deadline_heap_set() cannot fail: 0 or -ENOMEM. */
int deadline_heap_reserve(struct deadline_heap *heap, size_t n);
/* Queue e at `at`, or move it there if it is queued; needs the room reserved for it. */
void deadline_heap_set(struct deadline_heap *heap, struct deadline_entry *e, uint64_t at);
/* Take e out of the heap if it is in it. */
void deadline_heap_remove(struct deadline_heap *heap, struct deadline_entry *e);
/* The entry with the earliest deadline, or NULL when the heap is empty. */
struct deadline_entry *deadline_heap_first(const struct deadline_heap *heap);

static inline bool deadline_is_queued(const struct deadline_entry *e)
{
	return e->slot != 0;
}

#endif
