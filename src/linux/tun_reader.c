// SPDX-License-Identifier: MIT
/*
 * Reading TUN in batches and splitting super-packets (see tun_reader.h).
 *
 * The reader keeps a read buffer only when its packet goes out as it is;
 * a super-packet is split into the segment arena and its buffer is read
 * into again. Each segment gets gso_size plus the largest headers of room,
 * so a batch of full-size segments never needs more than the arena holds.
 * A super-packet that does not fit the rest of the batch sends the batch
 * first and is split again into the emptied arena.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tun_reader.h"

_Static_assert((int)TUN_VNET_HDR_LEN == (int)OFFLOAD_VNET_HDR_LEN, "one virtio_net_hdr size");

int tun_reader_init(struct tun_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->arena = malloc(TUN_READER_ARENA_LEN);
	if (!r->arena)
		return -ENOMEM;
	for (int i = 0; i < TUN_BATCH; i++) {
		r->bufs[i] = malloc(TUN_BUF_LEN);
		if (!r->bufs[i])
			return -ENOMEM;
	}
	return 0;
}

void tun_reader_free(struct tun_reader *r)
{
	for (int i = 0; i < TUN_BATCH; i++)
		free(r->bufs[i]);
	free(r->arena);
	memset(r, 0, sizeof(*r));
}

static void send_batch(struct tun_reader *r, tun_reader_fn *send, void *ctx)
{
	if (r->n)
		send(ctx, r->pkts, r->lens, r->n);
	r->n = 0;
	r->next_buf = 0;
	r->arena_used = 0;
}

/* Keep the packet in the read buffer at next_buf as it is. */
static void keep(struct tun_reader *r, size_t len)
{
	r->pkts[r->n] = tun_read_pkt(r->bufs[r->next_buf]);
	r->lens[r->n++] = len;
	r->next_buf++;
}

/* Arena bytes per segment: 16-byte steps, so each segment starts aligned. */
static size_t seg_cap(const struct virtio_net_hdr *vh)
{
	return ((size_t)vh->gso_size + TUN_READER_SEG_HDR_MAX + 15) & ~(size_t)15;
}

/* Split into the arena's free part: offload_split()'s result. */
static int split(struct tun_reader *r, const struct virtio_net_hdr *vh, uint8_t *pkt,
		 size_t len)
{
	size_t cap = seg_cap(vh), max_segs = 0;

	if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE && vh->gso_size) {
		/* Point only as many segment buffers as this packet can need. */
		max_segs = len / vh->gso_size + 1;
		if (max_segs > TUN_READER_MAX - r->n)
			max_segs = TUN_READER_MAX - r->n;
		if (max_segs > (TUN_READER_ARENA_LEN - r->arena_used) / cap)
			max_segs = (TUN_READER_ARENA_LEN - r->arena_used) / cap;
		for (size_t i = 0; i < max_segs; i++)
			r->pkts[r->n + i] = r->arena + r->arena_used + i * cap;
	}
	return offload_split(vh, pkt, len, &r->pkts[r->n], cap, &r->lens[r->n], max_segs);
}

static void take_offloaded(struct tun_reader *r, size_t len, tun_reader_fn *send, void *ctx)
{
	uint8_t *buf = r->bufs[r->next_buf], *pkt = tun_read_pkt(buf);
	struct virtio_net_hdr vh;
	int k;

	memcpy(&vh, buf + TUN_READ_OFF, sizeof(vh));
	k = split(r, &vh, pkt, len);
	if (k == -ENOBUFS && r->n) {
		/* The batch so far goes first; this buffer becomes the first of the next. */
		r->bufs[r->next_buf] = r->bufs[0];
		r->bufs[0] = buf;
		send_batch(r, send, ctx);
		k = split(r, &vh, pkt, len);
	}
	if (k == 0) {
		keep(r, len);
	} else if (k > 0) {
		r->n += k;
		r->arena_used += (size_t)k * seg_cap(&vh);
	} else {
		r->unsplit++;
	}
}

int tun_reader_run(struct tun_reader *r, struct tun *tun, tun_reader_fn *send, void *ctx)
{
	size_t bytes = 0;
	int reads = 0;
	ssize_t len;

	r->n = r->next_buf = r->arena_used = 0;
	for (int tries = 0; tries < 2 * TUN_BATCH && r->next_buf < TUN_BATCH &&
	     r->n < TUN_READER_BUDGET && bytes < TUN_READER_BYTES &&
	     TUN_READER_ARENA_LEN - r->arena_used >= 2 * TUN_BUF_LEN; tries++) {
		len = tun_read(tun, r->bufs[r->next_buf]);
		if (len == -EPROTO)
			continue;
		if (len < 0) {
			if (!reads)
				reads = (int)len;
			break;
		}
		reads++;
		bytes += len;
		if (tun->has_vnet_hdr)
			take_offloaded(r, len, send, ctx);
		else
			keep(r, len);
	}
	send_batch(r, send, ctx);
	return reads;
}
