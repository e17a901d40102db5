/* SPDX-License-Identifier: MIT */
/*
 * Inbound inner packets: a writer collects the packets libbraid delivers
 * during one UDP receive and, when the device has vnet_hdr, merges segments
 * of one flow with offload_coalesce(): one TUN write per super-packet. Its
 * buffers are allocated once.
 */
#ifndef BRAID_TUN_WRITER_H
#define BRAID_TUN_WRITER_H

#include "offload.h"
#include "tun.h"

enum {
	TUN_WRITER_COPY_LEN = 256 << 10,	/* delivered packets that had to be copied */
};

struct tun_writer {
	struct offload_pkt pkts[OFFLOAD_BATCH_MAX];
	size_t n;
	/* Packets inside [window, window + window_len) stay put until the flush. */
	const uint8_t *window;
	size_t window_len;
	uint8_t *copy;			/* TUN_WRITER_COPY_LEN: packets outside the window */
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
