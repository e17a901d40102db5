/* SPDX-License-Identifier: MIT */
/*
 * The backlog of received handshake messages, between the UDP receive and
 * libbraid.
 *
 * A handshake message can cost two X25519 operations (~100 us); a batch of
 * them handled where it arrived would hold up the data messages around it
 * for milliseconds. So receives copy initiations, responses and cookie
 * replies here, and the event loop hands the device at most HSQ_PER_TURN
 * of them per turn, oldest first, between data batches; the rest wait
 * their turn. As in the kernel (MAX_QUEUED_INCOMING_HANDSHAKES), the device
 * counts as under load, and asks for cookies, while the backlog is at least
 * an eighth full. Unlike the kernel, a loaded backlog then takes only
 * messages with a valid cookie (braid_device_triage_handshake() answers
 * the rest at once), and only when it is full anyway does it drop.
 *
 * Handshakes and data of one peer never need each other's order within a
 * receive: a peer sends data on a new session only after it has our answer.
 * One thread owns a queue: nothing here locks.
 */
#ifndef BRAID_HANDSHAKES_H
#define BRAID_HANDSHAKES_H

#include <braid.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	HSQ_SLOTS = 4096,		/* messages waiting, at most; a power of two */
	HSQ_LOADED = HSQ_SLOTS / 8,	/* from this many on, the device is under load */
	HSQ_PER_TURN = 32,		/* messages handled per turn of the event loop */
	HSQ_MSG_MAX = 148,		/* the largest handshake message, an initiation */
};

struct hsq_entry {
	struct braid_endpoint from;
	uint16_t len;
	uint8_t msg[HSQ_MSG_MAX];
};

struct hs_queue {
	struct hsq_entry *slot;		/* HSQ_SLOTS */
	size_t head, tail;		/* free-running: oldest waiting, next free */
	uint64_t dropped;		/* arrived while the backlog was full */
};

/* 0 or -ENOMEM; empty after init. */
int hsq_init(struct hs_queue *q);
void hsq_free(struct hs_queue *q);

/*
 * True for a message of a handshake type (initiation, response, cookie
 * reply) short enough to queue. Anything else, malformed messages included,
 * goes the data way, where rejecting it is cheap.
 */
bool hsq_is_handshake(const uint8_t *buf, size_t len);

static inline size_t hsq_len(const struct hs_queue *q)
{
	return q->tail - q->head;
}

static inline bool hsq_is_loaded(const struct hs_queue *q)
{
	return hsq_len(q) >= HSQ_LOADED;
}

/* Copy a message in behind the others; false (and counted) when the backlog is full. */
bool hsq_push(struct hs_queue *q, const struct braid_endpoint *from, const uint8_t *buf,
	      size_t len);

/* The oldest message, valid until the next pop; NULL when none waits. */
struct hsq_entry *hsq_oldest(struct hs_queue *q);
void hsq_pop(struct hs_queue *q);

#endif
