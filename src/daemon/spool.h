/* SPDX-License-Identifier: MIT */
/*
 * An append-only run of records in large chunks mapped straight from the
 * system, not from malloc's heap: a transient buffer of hundreds of
 * megabytes (a million-peer set, parsed) gives its memory back when it is
 * freed, instead of leaving holes in the heap between the peers allocated
 * meanwhile. Records keep their address until the spool is freed, and are
 * read back in the order they were appended.
 */
#ifndef BRAID_SPOOL_H
#define BRAID_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

struct spool_chunk;

/* A zeroed spool is empty. */
struct spool {
	struct spool_chunk *first, *last;
	size_t bytes;		/* mapped, in all */
};

/* Where a reader is: start from a zeroed one. */
struct spool_pos {
	const struct spool_chunk *chunk;
	size_t off;
	bool started;
};

/* Room for a record of len bytes aligned to align (a power of two); NULL when out of memory. */
void *spool_append(struct spool *s, size_t len, size_t align);
/* Wipe (records may hold keys) and unmap everything. */
void spool_free(struct spool *s);
/*
 * The next record, appended with this alignment, or NULL after the last;
 * then spool_skip() past its length.
 */
const void *spool_peek(const struct spool *s, struct spool_pos *pos, size_t align);
void spool_skip(struct spool_pos *pos, size_t len);

#endif
