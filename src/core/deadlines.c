// SPDX-License-Identifier: MIT
/*
 * A binary min-heap in an array: items[0] is the earliest, the children of
 * i are 2i+1 and 2i+2, and every entry records where it sits (slot - 1) so
 * that a deadline can move, or an entry leave, from the middle. Storage is
 * reserved ahead (deadline_heap_reserve) so that queueing never fails on
 * the paths that cannot report it.
 */
#include <errno.h>
#include <stdlib.h>

#include "deadlines.h"

void deadline_heap_free(struct deadline_heap *heap)
{
	for (size_t i = 0; i < heap->n; i++)
		heap->items[i]->slot = 0;
	free(heap->items);
	heap->items = NULL;
	heap->n = heap->cap = 0;
}

void deadline_heap_forget(struct deadline_heap *heap)
{
	heap->n = 0;
}

int deadline_heap_reserve(struct deadline_heap *heap, size_t n)
{
	size_t cap = heap->cap ? heap->cap : 64;
	struct deadline_entry **items;

	if (n <= heap->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	items = reallocarray(heap->items, cap, sizeof(*items));
	if (!items)
		return -ENOMEM;
	heap->items = items;
	heap->cap = cap;
	return 0;
}

/* Whether a comes out before b. */
static bool earlier(const struct deadline_entry *a, const struct deadline_entry *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void place(struct deadline_heap *heap, size_t i, struct deadline_entry *e)
{
	heap->items[i] = e;
	e->slot = (uint32_t)i + 1;
}

/* Move e from i towards the root while it is earlier than its parent. */
static void sift_up(struct deadline_heap *heap, size_t i, struct deadline_entry *e)
{
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!earlier(e, heap->items[parent]))
			break;
		place(heap, i, heap->items[parent]);
		i = parent;
	}
	place(heap, i, e);
}

/* Move e from i towards the leaves while a child is earlier. */
static void sift_down(struct deadline_heap *heap, size_t i, struct deadline_entry *e)
{
	size_t child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= heap->n)
			break;
		if (child + 1 < heap->n && earlier(heap->items[child + 1], heap->items[child]))
			child++;
		if (!earlier(heap->items[child], e))
			break;
		place(heap, i, heap->items[child]);
		i = child;
	}
	place(heap, i, e);
}

void deadline_heap_set(struct deadline_heap *heap, struct deadline_entry *e, uint64_t at)
{
	uint64_t old = e->at;

	e->at = at;
	if (!e->slot) {
		/* The caller reserved the room; without it the entry would be lost. */
		if (heap->n == heap->cap && deadline_heap_reserve(heap, heap->n + 1))
			abort();
		sift_up(heap, heap->n++, e);
	} else if (at < old) {
		sift_up(heap, e->slot - 1, e);
	} else if (at > old) {
		sift_down(heap, e->slot - 1, e);
	}
}

void deadline_heap_remove(struct deadline_heap *heap, struct deadline_entry *e)
{
	struct deadline_entry *last;
	size_t i;

	if (!e->slot)
		return;
	i = e->slot - 1;
	e->slot = 0;
	last = heap->items[--heap->n];
	if (last == e)
		return;
	/* The last entry fills the hole, then finds its place either way. */
	if (i > 0 && earlier(last, heap->items[(i - 1) / 2]))
		sift_up(heap, i, last);
	else
		sift_down(heap, i, last);
}

struct deadline_entry *deadline_heap_first(const struct deadline_heap *heap)
{
	return heap->n ? heap->items[0] : NULL;
}
