/* SPDX-License-Identifier: MIT */
/*
 * The backlog of received handshake messages, between the UDP receive and
 * libbraid.
 *
 * A handshake message can cost two X25519 operations (~100 us); a batch of
 * them handled where it arrived would hold up the data messages around it
 * for milliseconds. So receives copy initiations, responses and cookie
 * replies here (braid_message_is_handshake() tells them), and the event
 * loop hands the device at most BACKLOG_PER_TURN of them per turn, oldest
 * first, between data batches; the rest wait their turn. The backlog holds
 * BRAID_MAX_QUEUED_HANDSHAKES, and as in the kernel the device counts as
 * under load, and asks for cookies, while it is at least an eighth full.
 * Unlike the kernel, a loaded backlog then takes only messages with a valid
 * cookie (braid_device_triage_handshake() answers the rest at once), and
 * only when it is full anyway does it drop.
 *
 * Handshakes and data of one peer never need each other's order within a
 * receive: a peer sends data on a new session only after it has our answer.
 * One thread owns a queue: nothing here locks.
 */
#ifndef BRAID_BACKLOG_H
#define BRAID_BACKLOG_H

#include <braid.h>
#include <braid_wire.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	BACKLOG_SLOTS = BRAID_MAX_QUEUED_HANDSHAKES,	/* messages waiting, at most */
	/* From this many waiting on, the device is under load. */
	BACKLOG_LOADED = BACKLOG_SLOTS / 8,
	BACKLOG_PER_TURN = 32,		/* messages handled per turn of the event loop */
};

_Static_assert((BACKLOG_SLOTS & (BACKLOG_SLOTS - 1)) == 0, "the backlog's ring is a power of two");

struct backlog_entry {
	struct braid_endpoint from;
	uint16_t len;
	uint8_t msg[BRAID_MESSAGE_HANDSHAKE_MAX_LEN];
};

struct backlog {
	struct backlog_entry *slot;	/* BACKLOG_SLOTS */
	size_t head, tail;		/* free-running: oldest waiting, next free */
	uint64_t dropped;		/* arrived while the backlog was full */
};

/* 0 or -ENOMEM; empty after init. */
int backlog_init(struct backlog *q);
void backlog_free(struct backlog *q);

static inline size_t backlog_len(const struct backlog *q)
{
	return q->tail - q->head;
}

static inline bool backlog_is_loaded(const struct backlog *q)
{
	return backlog_len(q) >= BACKLOG_LOADED;
}

/* Copy a message in behind the others; false (and counted) when the backlog is full. */
bool backlog_push(struct backlog *q, const struct braid_endpoint *from, const uint8_t *buf,
		  size_t len);

/* The oldest message, valid until the next pop; NULL when none waits. */
struct backlog_entry *backlog_oldest(struct backlog *q);
void backlog_pop(struct backlog *q);

#endif
