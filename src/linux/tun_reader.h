/* SPDX-License-Identifier: MIT */
/*
 * Outbound inner packets: a reader takes what one TUN event offers
 * (bounded, so UDP, timers and the UAPI get their turn), splits GSO
 * super-packets into wire-sized packets with offload_split(), and hands
 * the whole batch to a callback: one braid_device_send() per batch. Its
 * buffers are allocated once.
 */
#ifndef BRAID_TUN_READER_H
#define BRAID_TUN_READER_H

#include "offload.h"
#include "tun.h"

/*
 * The budget bounds how long one event keeps the loop, about 0.2 ms of
 * crypto on one core, and so how long a ping waits behind a bulk batch.
 */
enum {
	TUN_READER_BUDGET = 128,	/* packets one event reads, about */
	TUN_READER_BYTES = 512 << 10,	/* and bytes */
	TUN_READER_MAX = 1024,		/* packets in one batch, at most */
	TUN_READER_ARENA_LEN = 1 << 20,	/* room for the split segments of one batch */
	/* Headers a segment repeats, at most: IPv4 with options and TCP with options. */
	TUN_READER_SEG_HDR_MAX = 60 + 60,
};

/* Called with each batch read; the packets live until it returns. */
typedef void tun_reader_fn(void *ctx, uint8_t *pkts[], size_t lens[], size_t n);

struct tun_reader {
	uint8_t *bufs[TUN_BATCH];	/* TUN_BUF_LEN each */
	size_t next_buf;		/* bufs before it hold packets of the batch */
	uint8_t *arena;			/* TUN_READER_ARENA_LEN */
	size_t arena_used;
	uint8_t *pkts[TUN_READER_MAX];
	size_t lens[TUN_READER_MAX];
	size_t n;
	uint64_t unsplit;		/* super-packets dropped: malformed, or too many segments */
};

/* 0 or -ENOMEM. */
int tun_reader_init(struct tun_reader *r);
void tun_reader_free(struct tun_reader *r);

/*
 * Read what is waiting, up to the budget, and pass it to send() in batches
 * (usually one). Returns how many reads returned a packet, or -errno when
 * the first read failed (-EAGAIN: nothing waiting).
 */
int tun_reader_run(struct tun_reader *r, struct tun *tun, tun_reader_fn *send, void *ctx);

#endif
