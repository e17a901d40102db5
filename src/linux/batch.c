// SPDX-License-Identifier: MIT
/*
 * Send queues and UDP_GRO buffers.
 *
 * A send queue is a ring of datagram descriptors over a ring of bytes. Each
 * datagram's bytes are contiguous: one that does not fit before the end of
 * the arena starts again at offset 0, if the oldest queued datagram leaves
 * room there. When the queue empties, writing starts over at 0, so in the
 * usual case (everything sent right after the call that queued it) the
 * arena is filled from the start every time and never wraps.
 *
 * Grouping follows the kernel's rules for UDP_SEGMENT (udp_send_skb): the
 * segment size is the first datagram's length, every segment but the last
 * has exactly that length, at most UDP_MAX_SEGMENTS (64) segments, and the
 * whole must still fit one IP datagram.
 */
#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

int txq_init(struct tx_queue *q)
{
	memset(q, 0, sizeof(*q));
	q->slot = calloc(TXQ_SLOTS, sizeof(*q->slot));
	q->arena = malloc(TXQ_ARENA_LEN);
	if (!q->slot || !q->arena) {
		txq_free(q);
		return -ENOMEM;
	}
	return 0;
}

void txq_free(struct tx_queue *q)
{
	free(q->slot);
	free(q->arena);
	memset(q, 0, sizeof(*q));
}

/*
 * Where len bytes can go. Live bytes are [rd, wr) when wr >= rd, else
 * [rd, end of the old lap) and [0, wr); a wrapped allocation stays strictly
 * below rd, so wr never catches up with rd from behind.
 */
static bool arena_alloc(struct tx_queue *q, size_t len, size_t *off)
{
	size_t rd;

	if (!txq_len(q))
		q->wr = 0;
	if (len > TXQ_ARENA_LEN)
		return false;
	rd = txq_len(q) ? txq_at(q, 0)->off : 0;
	if (!txq_len(q) || q->wr >= rd) {
		if (len <= TXQ_ARENA_LEN - q->wr)
			*off = q->wr;
		else if (len < rd)
			*off = 0;
		else
			return false;
	} else if (len < rd - q->wr) {
		*off = q->wr;
	} else {
		return false;
	}
	q->wr = *off + len;
	return true;
}

uint8_t *txq_reserve(struct tx_queue *q, struct braid_peer *peer,
		     const struct braid_endpoint *to, size_t len, uint8_t tos)
{
	struct tx_dgram *d;
	size_t off;

	if (txq_len(q) == TXQ_SLOTS || !arena_alloc(q, len, &off)) {
		q->dropped++;
		return NULL;
	}
	d = &q->slot[q->tail++ & (TXQ_SLOTS - 1)];
	d->to = *to;
	d->peer = peer;
	d->off = off;
	d->len = len;
	d->tos = tos;
	return q->arena + off;
}

bool txq_push(struct tx_queue *q, struct braid_peer *peer, const struct braid_endpoint *to,
	      const uint8_t *buf, size_t len, uint8_t tos)
{
	uint8_t *at = txq_reserve(q, peer, to, len, tos);

	if (at)
		memcpy(at, buf, len);
	return at != NULL;
}

void txq_pop(struct tx_queue *q, size_t n)
{
	if (n > txq_len(q))
		n = txq_len(q);
	q->head += n;
	if (!txq_len(q))
		q->wr = 0;
}

bool txq_same_source(const struct braid_endpoint *a, const struct braid_endpoint *b)
{
	if (a->addr.sa.sa_family != b->addr.sa.sa_family || a->src_ifindex != b->src_ifindex)
		return false;
	if (a->addr.sa.sa_family == AF_INET)
		return a->src.in4.s_addr == b->src.in4.s_addr;
	return !memcmp(&a->src.in6, &b->src.in6, sizeof(a->src.in6));
}

bool tx_same_path(const struct braid_endpoint *a, const struct braid_endpoint *b)
{
	if (!txq_same_source(a, b))
		return false;
	if (a->addr.sa.sa_family == AF_INET)
		return a->addr.in4.sin_port == b->addr.in4.sin_port &&
		       a->addr.in4.sin_addr.s_addr == b->addr.in4.sin_addr.s_addr;
	if (a->addr.sa.sa_family == AF_INET6)
		return a->addr.in6.sin6_port == b->addr.in6.sin6_port &&
		       a->addr.in6.sin6_scope_id == b->addr.in6.sin6_scope_id &&
		       !memcmp(&a->addr.in6.sin6_addr, &b->addr.in6.sin6_addr,
			       sizeof(a->addr.in6.sin6_addr));
	return false;
}

size_t txq_group(const struct tx_queue *q, size_t i, size_t max_segs, size_t max_bytes)
{
	const struct tx_dgram *first = txq_at(q, i), *d;
	size_t n = 1, bytes = first->len;

	/* A segment size of 0 means "no segmentation" to the kernel. */
	if (!first->len)
		return 1;
	while (i + n < txq_len(q) && n < max_segs) {
		d = txq_at(q, i + n);
		if (!d->len || d->len > first->len || bytes + d->len > max_bytes ||
		    d->tos != first->tos || !tx_same_path(&d->to, &first->to))
			break;
		bytes += d->len;
		n++;
		/* A shorter segment can only be the last. */
		if (d->len < first->len)
			break;
	}
	return n;
}

bool tx_has_source(const struct braid_endpoint *to)
{
	static const struct in6_addr zero;

	if (to->addr.sa.sa_family == AF_INET)
		return to->src.in4.s_addr != 0;
	return memcmp(&to->src.in6, &zero, sizeof(zero)) != 0;
}

static struct cmsghdr *put_cmsg(struct msghdr *msg, struct cmsghdr *prev, int level, int type,
				const void *data, size_t len, size_t *used)
{
	struct cmsghdr *c = prev ? CMSG_NXTHDR(msg, prev) : CMSG_FIRSTHDR(msg);

	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), data, len);
	*used += CMSG_SPACE(len);
	return c;
}

static struct cmsghdr *put_source(struct msghdr *msg, const struct braid_endpoint *to,
				  size_t *used)
{
	if (to->addr.sa.sa_family == AF_INET) {
		/* ipi_spec_dst is the source; the interface is left to routing (and fwmark). */
		struct in_pktinfo pi = { .ipi_spec_dst = to->src.in4 };

		return put_cmsg(msg, NULL, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi), used);
	} else {
		struct in6_pktinfo pi = { .ipi6_addr = to->src.in6 };

		/* A link-local source means nothing without its interface. */
		if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
			pi.ipi6_ifindex = to->src_ifindex;
		return put_cmsg(msg, NULL, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi), used);
	}
}

static void build_cmsg(struct msghdr *msg, union tx_cmsg *cm, const struct tx_dgram *d,
		       uint16_t gso_size)
{
	bool v4 = d->to.addr.sa.sa_family == AF_INET;
	struct cmsghdr *c = NULL;
	size_t used = 0;
	int tclass = d->tos;

	memset(cm, 0, sizeof(*cm));
	msg->msg_control = cm->buf;
	/* CMSG_NXTHDR bounds itself by msg_controllen: the whole buffer while building. */
	msg->msg_controllen = sizeof(cm->buf);
	if (tx_has_source(&d->to))
		c = put_source(msg, &d->to, &used);
	if (d->tos)
		c = put_cmsg(msg, c, v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_TOS : IPV6_TCLASS,
			     &tclass, sizeof(tclass), &used);
	if (gso_size)
		put_cmsg(msg, c, SOL_UDP, UDP_SEGMENT, &gso_size, sizeof(gso_size), &used);
	msg->msg_controllen = used;
	if (!used)
		msg->msg_control = NULL;
}

/* Message j of m: the k datagrams from the i-th, their iovecs from iov[n_iov]. */
static void build_msg(const struct tx_queue *q, size_t i, size_t k, struct tx_msgs *m,
		      size_t j, size_t n_iov)
{
	const struct tx_dgram *d = txq_at(q, i);
	struct msghdr *msg = &m->msgs[j].msg_hdr;

	for (size_t s = 0; s < k; s++) {
		const struct tx_dgram *seg = txq_at(q, i + s);

		m->iov[n_iov + s] = (struct iovec){ .iov_base = q->arena + seg->off,
						    .iov_len = seg->len };
	}
	*msg = (struct msghdr){
		.msg_name = (void *)&d->to.addr,
		.msg_namelen = d->to.addr.sa.sa_family == AF_INET ? sizeof(struct sockaddr_in)
								   : sizeof(struct sockaddr_in6),
		.msg_iov = &m->iov[n_iov],
		.msg_iovlen = k,
	};
	m->msgs[j].msg_len = 0;
	m->count[j] = k;
	m->gso_size[j] = k > 1 ? d->len : 0;
	build_cmsg(msg, &m->cmsg[j], d, m->gso_size[j]);
}

size_t txq_build(const struct tx_queue *q, bool gso, struct tx_msgs *m)
{
	size_t i = 0, j = 0, n_iov = 0, k, max_segs;

	while (i < txq_len(q) && j < TX_MSGS && n_iov < TX_IOVS) {
		k = 1;
		if (gso && q->head + i >= q->split_until) {
			max_segs = TX_IOVS - n_iov;
			if (max_segs > UDP_GSO_MAX_SEGS)
				max_segs = UDP_GSO_MAX_SEGS;
			k = txq_group(q, i, max_segs, UDP_GSO_MAX_BYTES);
		}
		build_msg(q, i, k, m, j++, n_iov);
		i += k;
		n_iov += k;
	}
	return j;
}

void txq_forget_source(struct tx_queue *q)
{
	struct tx_dgram *first = txq_at(q, 0), *d;
	struct braid_endpoint stale = first->to;

	for (size_t i = 1; first->peer && i < txq_len(q); i++) {
		d = txq_at(q, i);
		if (d->peer == first->peer && txq_same_source(&d->to, &stale)) {
			memset(&d->to.src, 0, sizeof(d->to.src));
			d->to.src_ifindex = 0;
		}
	}
	memset(&first->to.src, 0, sizeof(first->to.src));
	first->to.src_ifindex = 0;
}

void txq_forget_peers(struct tx_queue *q)
{
	for (size_t i = 0; i < txq_len(q); i++)
		txq_at(q, i)->peer = NULL;
}

size_t udp_gro_next(size_t len, size_t gso, size_t off)
{
	if (off >= len)
		return 0;
	if (!gso || gso > len - off)
		return len - off;
	return gso;
}

unsigned int udp_recv_vlen(size_t budget, size_t per_msg, unsigned int max)
{
	size_t vlen = per_msg ? budget / per_msg : max;

	if (vlen < 1)
		return 1;
	return vlen > max ? max : (unsigned int)vlen;
}
