// SPDX-License-Identifier: MIT
/*
 * Chunks of SPOOL_CHUNK bytes (or one record's size, when larger) from
 * mmap. A record that does not fit at the end of the last chunk starts a
 * new one, and the rest of the old one stays unused: a reader that finds
 * no room for the next record before a chunk's `used` goes on to the next
 * chunk, which is where the writer put it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "spool.h"

enum { SPOOL_CHUNK = 4 << 20 };

struct spool_chunk {
	struct spool_chunk *next;
	size_t size, used;		/* size: the mapping, this header included */
	max_align_t data[];
};

static size_t align_up(size_t n, size_t align)
{
	return (n + align - 1) & ~(align - 1);
}

static struct spool_chunk *chunk_new(size_t need)
{
	size_t size = align_up(sizeof(struct spool_chunk) + need, SPOOL_CHUNK);
	struct spool_chunk *c;

	/* An anonymous mapping takes fd -1, which cppcheck's POSIX model does not allow for. */
	/* cppcheck-suppress invalidFunctionArg */
	c = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		return NULL;
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

static size_t capacity(const struct spool_chunk *c)
{
	return c->size - sizeof(*c);
}

void *spool_append(struct spool *s, size_t len, size_t align)
{
	struct spool_chunk *c = s->last;
	size_t off = c ? align_up(c->used, align) : 0;

	if (!c || off + len > capacity(c)) {
		c = chunk_new(len);
		if (!c)
			return NULL;
		if (s->last)
			s->last->next = c;
		else
			s->first = c;
		s->last = c;
		s->bytes += c->size;
		off = 0;
	}
	c->used = off + len;
	return (char *)c->data + off;
}

void spool_free(struct spool *s)
{
	struct spool_chunk *c = s->first, *next;

	for (; c; c = next) {
		next = c->next;
		explicit_bzero(c->data, c->used);
		munmap(c, c->size);
	}
	s->first = s->last = NULL;
	s->bytes = 0;
}

const void *spool_peek(const struct spool *s, struct spool_pos *pos, size_t align)
{
	size_t off;

	if (!pos->started) {
		pos->chunk = s->first;
		pos->off = 0;
		pos->started = true;
	}
	while (pos->chunk) {
		off = align_up(pos->off, align);
		if (off < pos->chunk->used) {
			pos->off = off;
			return (const char *)pos->chunk->data + off;
		}
		pos->chunk = pos->chunk->next;
		pos->off = 0;
	}
	return NULL;
}

void spool_skip(struct spool_pos *pos, size_t len)
{
	pos->off += len;
}
