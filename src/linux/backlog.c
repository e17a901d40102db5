// SPDX-License-Identifier: MIT
/*
 * The handshake backlog (see backlog.h): a ring of fixed-size slots,
 * allocated once, so a flood costs a copy of 148 bytes per message and
 * never an allocation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backlog.h"

/* WireGuard's message types, a little-endian 32-bit word: 1 to 3 are handshakes. */
enum { TYPE_INITIATION = 1, TYPE_COOKIE_REPLY = 3 };

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

bool backlog_is_handshake(const uint8_t *buf, size_t len)
{
	return len >= 4 && len <= BACKLOG_MSG_MAX && buf[0] >= TYPE_INITIATION &&
	       buf[0] <= TYPE_COOKIE_REPLY && !buf[1] && !buf[2] && !buf[3];
}

bool backlog_push(struct backlog *q, const struct braid_endpoint *from, const uint8_t *buf,
		  size_t len)
{
	struct backlog_entry *e;

	if (backlog_len(q) == BACKLOG_SLOTS || len > BACKLOG_MSG_MAX) {
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
