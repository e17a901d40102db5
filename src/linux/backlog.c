// SPDX-License-Identifier: MIT
/*
 * The handshake backlog (see backlog.h): a ring of fixed-size slots,
 * allocated once, so a flood costs a copy of at most an initiation (148
 * bytes) per message and never an allocation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backlog.h"

int backlog_init(struct backlog *q)
{
	memset(q, 0, sizeof(*q));
	q->slot = calloc(BACKLOG_SLOTS, sizeof(*q->slot));
	return q->slot ? 0 : -ENOMEM;
}

void backlog_free(struct backlog *q)
{
	free(q->slot);
	memset(q, 0, sizeof(*q));
}

bool backlog_push(struct backlog *q, const struct braid_endpoint *from, const uint8_t *buf,
		  size_t len)
{
	struct backlog_entry *e;

	if (backlog_len(q) == BACKLOG_SLOTS || len > BRAID_MESSAGE_HANDSHAKE_MAX_LEN) {
		q->dropped++;
		return false;
	}
	e = &q->slot[q->tail++ & (BACKLOG_SLOTS - 1)];
	e->from = *from;
	e->len = (uint16_t)len;
	memcpy(e->msg, buf, len);
	return true;
}

struct backlog_entry *backlog_oldest(struct backlog *q)
{
	return backlog_len(q) ? &q->slot[q->head & (BACKLOG_SLOTS - 1)] : NULL;
}

void backlog_pop(struct backlog *q)
{
	if (backlog_len(q))
		q->head++;
}
