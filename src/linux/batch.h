/* SPDX-License-Identifier: MIT */
/*
 * Batches on the UDP path as plain data and pure functions (no system
 * calls), so the grouping rules are tested without sockets:
 *  - the send queue of one socket: what libbraid hands to ops->send during a
 *    call, copied into a byte ring, and turned into the messages of one
 *    sendmmsg, where a run of same-size datagrams to one endpoint, from one
 *    source, with one TOS, becomes a single UDP_SEGMENT message;
 *  - where each datagram sits in a buffer that UDP_GRO filled.
 * One thread owns a queue: nothing here locks. Worker threads may only fill
 * the bytes of a datagram the owner reserved (txq_reserve()), and must be
 * done before the owner flushes.
 */
#ifndef BRAID_BATCH_H
#define BRAID_BATCH_H

#include <braid.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

enum {
	TXQ_SLOTS = 2048,		/* datagrams a queue holds, a power of two */
	TXQ_ARENA_LEN = 4 << 20,	/* and their bytes */
	TX_MSGS = 64,			/* messages per sendmmsg */
	TX_IOVS = 1024,			/* datagrams per sendmmsg */
	UDP_GSO_MAX_SEGS = 64,		/* the kernel's UDP_MAX_SEGMENTS */
	/* UDP payload of the largest IPv4 datagram (65535 - 20 - 8); IPv6 allows more. */
	UDP_GSO_MAX_BYTES = 65507,
};

struct tx_dgram {
	struct braid_endpoint to;
	/* Who sent it (NULL: a cookie reply); only valid until the flush after the call. */
	struct braid_peer *peer;
	uint32_t off, len;		/* bytes at arena[off] */
	uint8_t tos;
};

struct tx_queue {
	struct tx_dgram *slot;		/* TXQ_SLOTS */
	uint8_t *arena;			/* TXQ_ARENA_LEN */
	size_t head, tail;		/* free-running: oldest queued, next free */
	size_t wr;			/* arena offset for the next datagram */
	size_t split_until;		/* datagrams before this count go out one by one */
	uint64_t dropped;		/* queue full, or refused by the kernel */
};

/* Control messages of one sent message: source, TOS and the segment size. */
union tx_cmsg {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) +
		 CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};

/* One sendmmsg worth of messages built from the head of a queue. */
struct tx_msgs {
	struct mmsghdr msgs[TX_MSGS];
	struct iovec iov[TX_IOVS];
	union tx_cmsg cmsg[TX_MSGS];
	uint16_t count[TX_MSGS];	/* datagrams in each message */
	uint16_t gso_size[TX_MSGS];	/* 0: a single datagram, no UDP_SEGMENT */
};

/* 0 or -ENOMEM; a queue is empty after init. */
int txq_init(struct tx_queue *q);
void txq_free(struct tx_queue *q);

static inline size_t txq_len(const struct tx_queue *q)
{
	return q->tail - q->head;
}

/* The i-th queued datagram, 0 the oldest. */
static inline struct tx_dgram *txq_at(const struct tx_queue *q, size_t i)
{
	return &q->slot[(q->head + i) & (TXQ_SLOTS - 1)];
}

/*
 * Room for a datagram of len bytes behind the others, which the caller
 * fills before the next flush (another thread may: the queue does not look
 * at the bytes until then); NULL (and counted) when there is none.
 */
uint8_t *txq_reserve(struct tx_queue *q, struct braid_peer *peer,
		     const struct braid_endpoint *to, size_t len, uint8_t tos);
/* Copy a datagram in behind the others; false (and counted) when there is no room. */
bool txq_push(struct tx_queue *q, struct braid_peer *peer, const struct braid_endpoint *to,
	      const uint8_t *buf, size_t len, uint8_t tos);
/* Forget the n oldest datagrams. */
void txq_pop(struct tx_queue *q, size_t n);

/* True when to names the local address to send from (the sticky source). */
bool tx_has_source(const struct braid_endpoint *to);

/* True when a and b name the same source (address and interface) in the same family. */
bool txq_same_source(const struct braid_endpoint *a, const struct braid_endpoint *b);

/* True when a and b would leave from the same source to the same endpoint. */
bool tx_same_path(const struct braid_endpoint *a, const struct braid_endpoint *b);

/*
 * How many datagrams from the i-th form one message: consecutive, same path
 * and TOS, all as long as the first except that the last may be shorter, at
 * most max_segs of them and max_bytes in all. At least 1.
 */
size_t txq_group(const struct tx_queue *q, size_t i, size_t max_segs, size_t max_bytes);

/*
 * Fill m with messages for the datagrams at the head of q (at most TX_MSGS
 * messages and TX_IOVS datagrams), grouped with UDP_SEGMENT when gso is set
 * and no split is pending. Returns how many messages; names, iovecs and
 * control data point into q and m, valid until q changes.
 */
size_t txq_build(const struct tx_queue *q, bool gso, struct tx_msgs *m);

/*
 * The source of the oldest datagram was refused: send it, and every queued
 * datagram of the same peer from that source, without one.
 */
void txq_forget_source(struct tx_queue *q);

/* Peers may be freed before the next flush: drop every peer pointer. */
void txq_forget_peers(struct tx_queue *q);

/*
 * The length of the datagram at off in a buffer of len bytes that UDP_GRO
 * filled with segments of gso bytes each, the last possibly shorter (gso 0:
 * not coalesced, one datagram). 0 past the end: advance off by each length.
 */
size_t udp_gro_next(size_t len, size_t gso, size_t off);

/* Messages to ask for so that, at per_msg datagrams each, about budget arrive: 1 to max. */
unsigned int udp_recv_vlen(size_t budget, size_t per_msg, unsigned int max);

#endif
