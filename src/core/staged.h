/* SPDX-License-Identifier: MIT */
/*
 * Packets waiting for a session: a FIFO per peer of at most
 * MAX_STAGED_PACKETS, oldest dropped first when full (as the kernel does).
 * A zero-length entry is a keepalive. Buffers come from a free list per
 * device, so staging does not allocate in the steady state; a packet too
 * large for a pool buffer gets one of its own. Control plane only.
 */
#ifndef BRAID_STAGED_H
#define BRAID_STAGED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	STAGED_BUF_LEN = 2048,		/* a pool buffer, header included */
	STAGED_POOL_MAX = 256,		/* free buffers kept for reuse, at most */
};

struct staged_packet {
	struct staged_packet *next;
	uint32_t len;
	bool is_pooled;
	/* len bytes of packet follow the header */
};

struct staged_pool {
	struct staged_packet *free;
	size_t n_free;
};

struct staged_queue {
	struct staged_packet *head, *tail;
	unsigned int count;
	struct staged_packet keepalive;	/* the one keepalive entry, never freed */
};

static inline uint8_t *staged_data(struct staged_packet *sp)
{
	return (uint8_t *)(sp + 1);
}

void staged_pool_free(struct staged_pool *pool);

void staged_init(struct staged_queue *q);
/*
 * Queue a copy of pkt; when full, the oldest entry makes room (*evicted is
 * then set). False when out of memory.
 */
bool staged_push(struct staged_queue *q, struct staged_pool *pool, const uint8_t *pkt,
		 size_t len, bool *evicted);
/* Queue a keepalive unless anything is queued already (it carries the same news). */
void staged_push_keepalive(struct staged_queue *q);
/* The oldest entry, or NULL; give it back with staged_release() once sent. */
struct staged_packet *staged_pop(struct staged_queue *q);
void staged_release(struct staged_pool *pool, struct staged_packet *sp);

#endif
