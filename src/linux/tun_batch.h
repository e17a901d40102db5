/* SPDX-License-Identifier: MIT */
/*
 * Batches of inner packets on the TUN side, over preallocated buffers.
 *
 * Outbound, a reader takes what one TUN event offers (bounded, so UDP,
 * timers and the UAPI get their turn), splits GSO super-packets into
 * wire-sized packets with offload_split(), and hands the whole batch to a
 * callback: one braid_device_send() per batch.
 * Inbound, a writer collects the packets libbraid delivers during one UDP
 * receive and, when the device has vnet_hdr, merges segments of one flow
 * with offload_coalesce(): one TUN write per super-packet.
 */
#ifndef BRAID_TUN_BATCH_H
#define BRAID_TUN_BATCH_H

#include "offload.h"
#include "tun.h"

/*
 * The budget bounds how long one event keeps the loop, about 0.2 ms of
 * crypto on one core, and so how long a ping waits behind a bulk batch.
 */
enum {
	TUN_OUT_BUDGET = 128,		/* packets one event reads, about */
	TUN_OUT_BYTES = 512 << 10,	/* and bytes */
	TUN_OUT_MAX = 1024,		/* packets in one batch, at most */
	TUN_SEG_ARENA_LEN = 1 << 20,	/* room for the split segments of one batch */
	/* Headers a segment repeats, at most: IPv4 with options and TCP with options. */
	TUN_SEG_HDR_MAX = 60 + 60,
	TUN_COPY_LEN = 256 << 10,	/* delivered packets that had to be copied */
};

/* Called with each batch read; the packets live until it returns. */
typedef void tun_batch_fn(void *ctx, uint8_t *pkts[], size_t lens[], size_t n);

struct tun_reader {
	uint8_t *bufs[TUN_BATCH];	/* TUN_BUF_LEN each */
	size_t next_buf;		/* bufs before it hold packets of the batch */
	uint8_t *arena;			/* TUN_SEG_ARENA_LEN */
	size_t arena_used;
	uint8_t *pkts[TUN_OUT_MAX];
	size_t lens[TUN_OUT_MAX];
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
int tun_reader_run(struct tun_reader *r, struct tun *tun, tun_batch_fn *send, void *ctx);

struct tun_writer {
	struct offload_pkt pkts[OFFLOAD_BATCH_MAX];
	size_t n;
	/* Packets inside [window, window + window_len) stay put until the flush. */
	const uint8_t *window;
	size_t window_len;
	uint8_t *copy;			/* TUN_COPY_LEN, for packets outside the window */
	size_t copy_used;
	struct offload_coalescer *coalescer;
	struct iovec iov[OFFLOAD_BATCH_MAX];
	struct offload_write writes[OFFLOAD_BATCH_MAX];
};

/* 0 or -ENOMEM. */
int tun_writer_init(struct tun_writer *w);
void tun_writer_free(struct tun_writer *w);

/*
 * Say that buf[0, len) stays untouched until the next flush: packets added
 * from inside it (with TUN_VNET_HDR_LEN writable bytes in front) are kept
 * by pointer, not copied. Their bytes and those in front get rewritten.
 */
static inline void tun_writer_window(struct tun_writer *w, const uint8_t *buf, size_t len)
{
	w->window = buf;
	w->window_len = len;
}

/*
 * Queue a packet for TUN (written at once when the device has no
 * vnet_hdr, or when the batch is full). 0, or the -errno of a write that
 * failed: -EBADFD once the interface is deleted.
 */
int tun_writer_add(struct tun_writer *w, struct tun *tun, uint8_t *pkt, size_t len);

/* Coalesce and write what is queued: 0, or the worst -errno a write returned. */
int tun_writer_flush(struct tun_writer *w, struct tun *tun);

#endif
