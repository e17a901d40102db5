/* SPDX-License-Identifier: MIT */
/*
 * The send queue of one UDP socket, as plain data and pure functions (no
 * system calls), so the grouping rules are tested without sockets: what
 * libbraid hands to ops->send during a call, copied into a byte ring, and
 * turned into the messages of one sendmmsg, where a run of same-size
 * datagrams to one destination, from one source, with one TOS, becomes a
 * single UDP_SEGMENT message (udp_flush() sends them).
 * One thread owns a queue: nothing here locks. Worker threads may only fill
 * the bytes of a datagram the owner reserved (sendq_reserve()), and must be
 * done before the owner flushes.
 */
#ifndef BRAID_SENDQ_H
#define BRAID_SENDQ_H

#include <braid.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

enum {
	SENDQ_SLOTS = 2048,		/* datagrams a queue holds, a power of two */
	SENDQ_ARENA_LEN = 4 << 20,	/* and their bytes */
	SENDQ_MSGS = 64,		/* messages per sendmmsg */
	SENDQ_IOVS = 1024,		/* datagrams per sendmmsg */
	SENDQ_GSO_MAX_SEGS = 64,	/* the kernel's UDP_MAX_SEGMENTS */
	/* UDP payload of the largest IPv4 datagram (65535 - 20 - 8); IPv6 allows more. */
	SENDQ_GSO_MAX_BYTES = 65507,
};

struct sendq_dgram {
	struct braid_endpoint to;
	/* Who sent it (NULL: a cookie reply); only valid until the flush after the call. */
	struct braid_peer *peer;
	uint32_t off, len;		/* bytes at arena[off] */
	uint8_t tos;
};

struct sendq {
	struct sendq_dgram *slot;	/* SENDQ_SLOTS */
	uint8_t *arena;			/* SENDQ_ARENA_LEN */
	size_t head, tail;		/* free-running: oldest queued, next free */
	size_t wr;			/* arena offset for the next datagram */
	size_t split_until;		/* datagrams before this count go out one by one */
	uint64_t dropped;		/* queue full, or refused by the kernel */
};

/* Control messages of one sent message: source, TOS and the segment size. */
union sendq_cmsg {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) +
		 CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};

/* One sendmmsg worth of messages built from the head of a queue. */
struct sendq_msgs {
	struct mmsghdr msgs[SENDQ_MSGS];
	struct iovec iov[SENDQ_IOVS];
	union sendq_cmsg cmsg[SENDQ_MSGS];
	uint16_t count[SENDQ_MSGS];	/* datagrams in each message */
	uint16_t gso_size[SENDQ_MSGS];	/* 0: a single datagram, no UDP_SEGMENT */
};

/* 0 or -ENOMEM; a queue is empty after init. */
int sendq_init(struct sendq *q);
void sendq_free(struct sendq *q);

static inline size_t sendq_len(const struct sendq *q)
{
	return q->tail - q->head;
}

/* The i-th queued datagram, 0 the oldest. */
static inline struct sendq_dgram *sendq_at(const struct sendq *q, size_t i)
{
	return &q->slot[(q->head + i) & (SENDQ_SLOTS - 1)];
}

/*
 * Room for a datagram of len bytes behind the others, which the caller
 * fills before the next flush (another thread may: the queue does not look
 * at the bytes until then); NULL (and counted) when there is none.
 */
uint8_t *sendq_reserve(struct sendq *q, struct braid_peer *peer,
		       const struct braid_endpoint *to, size_t len, uint8_t tos);
/* Copy a datagram in behind the others; false (and counted) when there is no room. */
bool sendq_push(struct sendq *q, struct braid_peer *peer, const struct braid_endpoint *to,
		const uint8_t *buf, size_t len, uint8_t tos);
/* Forget the n oldest datagrams. */
void sendq_pop(struct sendq *q, size_t n);

/* True when to names the local address to send from (the sticky source). */
bool sendq_has_source(const struct braid_endpoint *to);

/* True when a and b name the same source (address and interface) in the same family. */
bool sendq_same_source(const struct braid_endpoint *a, const struct braid_endpoint *b);

/*
 * Fill m with messages for the datagrams at the head of q (at most SENDQ_MSGS
 * messages and SENDQ_IOVS datagrams), grouped with UDP_SEGMENT when gso is set
 * and no split is pending. Returns how many messages; names, iovecs and
 * control data point into q and m, valid until q changes.
 */
size_t sendq_build(const struct sendq *q, bool gso, struct sendq_msgs *m);

/*
 * The source of the oldest datagram was refused: send it, and every queued
 * datagram of the same peer from that source, without one.
 */
void sendq_forget_source(struct sendq *q);

/* Peers may be freed before the next flush: drop every peer pointer. */
void sendq_forget_peers(struct sendq *q);

#endif
