// SPDX-License-Identifier: MIT
/*
 * Staged packets (see staged.h): a singly linked FIFO per peer over buffers
 * from the device's free list.
 */
#include <stdlib.h>
#include <string.h>

#include "messages.h"
#include "staged.h"

void staged_pool_free(struct staged_pool *pool)
{
	struct staged_packet *sp;

	while ((sp = pool->free)) {
		pool->free = sp->next;
		free(sp);
	}
	pool->n_free = 0;
}

static struct staged_packet *buffer_get(struct staged_pool *pool, size_t len)
{
	struct staged_packet *sp;

	if (len > STAGED_BUF_LEN - sizeof(*sp)) {
		sp = malloc(sizeof(*sp) + len);
		if (sp)
			sp->is_pooled = false;
		return sp;
	}
	sp = pool->free;
	if (sp) {
		pool->free = sp->next;
		--pool->n_free;
		return sp;
	}
	sp = malloc(STAGED_BUF_LEN);
	if (sp)
		sp->is_pooled = true;
	return sp;
}

void staged_release(struct staged_pool *pool, struct staged_packet *sp)
{
	if (!sp->len && !sp->is_pooled)
		return;		/* the queue's own keepalive entry */
	/* Wipe what the packet held: it was plaintext. */
	memset(staged_data(sp), 0, sp->len);
	if (!sp->is_pooled || pool->n_free >= STAGED_POOL_MAX) {
		free(sp);
		return;
	}
	sp->next = pool->free;
	pool->free = sp;
	++pool->n_free;
}

void staged_init(struct staged_queue *q)
{
	memset(q, 0, sizeof(*q));
}

static void append(struct staged_queue *q, struct staged_packet *sp)
{
	sp->next = NULL;
	if (q->tail)
		q->tail->next = sp;
	else
		q->head = sp;
	q->tail = sp;
	++q->count;
}

struct staged_packet *staged_pop(struct staged_queue *q)
{
	struct staged_packet *sp = q->head;

	if (!sp)
		return NULL;
	q->head = sp->next;
	if (!q->head)
		q->tail = NULL;
	--q->count;
	return sp;
}

bool staged_push(struct staged_queue *q, struct staged_pool *pool, const uint8_t *pkt,
		 size_t len, bool *evicted)
{
	struct staged_packet *sp;

	*evicted = false;
	if (q->count == MAX_STAGED_PACKETS) {
		sp = staged_pop(q);
		*evicted = true;
		staged_release(pool, sp);
	}
	sp = buffer_get(pool, len);
	if (!sp)
		return false;
	sp->len = len;
	memcpy(staged_data(sp), pkt, len);
	append(q, sp);
	return true;
}

void staged_push_keepalive(struct staged_queue *q)
{
	if (q->count)
		return;
	q->keepalive.len = 0;
	q->keepalive.is_pooled = false;
	append(q, &q->keepalive);
}
