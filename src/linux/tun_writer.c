// SPDX-License-Identifier: MIT
/*
 * Collecting delivered packets and coalescing them into TUN writes (see
 * tun_writer.h). A packet inside the window (the receive buffers, which
 * stay put until the flush) is kept by pointer; any other is copied into
 * the writer's own buffer, or written at once when that is full.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tun_writer.h"

_Static_assert((int)TUN_VNET_HDR_LEN == (int)OFFLOAD_VNET_HDR_LEN, "one virtio_net_hdr size");

int tun_writer_init(struct tun_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->copy = malloc(TUN_WRITER_COPY_LEN);
	w->coalescer = calloc(1, sizeof(*w->coalescer));
	if (!w->copy || !w->coalescer)
		return -ENOMEM;
	return 0;
}

void tun_writer_free(struct tun_writer *w)
{
	free(w->copy);
	free(w->coalescer);
	memset(w, 0, sizeof(*w));
}

static bool in_window(const struct tun_writer *w, const uint8_t *pkt, size_t len)
{
	return w->window && pkt >= w->window + TUN_VNET_HDR_LEN &&
	       pkt <= w->window + w->window_len && len <= (size_t)(w->window + w->window_len - pkt);
}

/* -EBADFD (the device is gone) matters more than any other failure. */
static int worse(int a, int b)
{
	return a == -EBADFD || !b ? a : b;
}

/* A copy in the copy buffer, with headroom; NULL when it is full. */
static uint8_t *copy_in(struct tun_writer *w, const uint8_t *pkt, size_t len)
{
	size_t need = (16 + len + 15) & ~(size_t)15;
	uint8_t *at;

	if (need > TUN_WRITER_COPY_LEN - w->copy_used)
		return NULL;
	at = w->copy + w->copy_used + 16;
	memcpy(at, pkt, len);
	w->copy_used += need;
	return at;
}

int tun_writer_add(struct tun_writer *w, struct tun *tun, uint8_t *pkt, size_t len)
{
	int ret = 0;

	if (!tun->has_vnet_hdr)
		return tun_write(tun, pkt, len);
	if (w->n == OFFLOAD_BATCH_MAX)
		ret = tun_writer_flush(w, tun);
	if (!in_window(w, pkt, len)) {
		uint8_t *copy = copy_in(w, pkt, len);

		if (!copy) {
			ret = worse(ret, tun_writer_flush(w, tun));
			copy = copy_in(w, pkt, len);
		}
		if (!copy)
			return worse(ret, tun_write(tun, pkt, len));
		pkt = copy;
	}
	w->pkts[w->n++] = (struct offload_pkt){ .data = pkt, .len = len };
	return ret;
}

int tun_writer_flush(struct tun_writer *w, struct tun *tun)
{
	unsigned int flags = tun->offloads & TUN_F_USO4 ? OFFLOAD_COALESCE_UDP : 0;
	int n, ret = 0;

	if (!w->n)
		return 0;
	n = offload_coalesce(w->coalescer, w->pkts, w->n, flags, w->iov, w->writes);
	for (int i = 0; i < n; i++)
		ret = worse(ret, tun_writev(tun, w->writes[i].iov, w->writes[i].iovcnt));
	w->n = 0;
	w->copy_used = 0;
	return ret;
}
