// SPDX-License-Identifier: MIT
/*
 * The handshake backlog (see handshakes.h): a ring of fixed-size slots,
 * allocated once, so a flood costs a copy of 148 bytes per message and
 * never an allocation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "handshakes.h"

/* WireGuard's message types, a little-endian 32-bit word: 1 to 3 are handshakes. */
enum { TYPE_INITIATION = 1, TYPE_COOKIE_REPLY = 3 };

int hsq_init(struct hs_queue *q)
{
	memset(q, 0, sizeof(*q));
	q->slot = calloc(HSQ_SLOTS, sizeof(*q->slot));
	return q->slot ? 0 : -ENOMEM;
}

void hsq_free(struct hs_queue *q)
{
	free(q->slot);
	memset(q, 0, sizeof(*q));
}

bool hsq_is_handshake(const uint8_t *buf, size_t len)
{
	return len >= 4 && len <= HSQ_MSG_MAX && buf[0] >= TYPE_INITIATION &&
	       buf[0] <= TYPE_COOKIE_REPLY && !buf[1] && !buf[2] && !buf[3];
}

bool hsq_push(struct hs_queue *q, const struct braid_endpoint *from, const uint8_t *buf,
	      size_t len)
{
	struct hsq_entry *e;

	if (hsq_len(q) == HSQ_SLOTS || len > HSQ_MSG_MAX) {
		q->dropped++;
		return false;
	}
	e = &q->slot[q->tail++ & (HSQ_SLOTS - 1)];
	e->from = *from;
	e->len = (uint16_t)len;
	memcpy(e->msg, buf, len);
	return true;
}

struct hsq_entry *hsq_oldest(struct hs_queue *q)
{
	return hsq_len(q) ? &q->slot[q->head & (HSQ_SLOTS - 1)] : NULL;
}

void hsq_pop(struct hs_queue *q)
{
	if (hsq_len(q))
		q->head++;
}
