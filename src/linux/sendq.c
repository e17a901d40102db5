// SPDX-License-Identifier: MIT
/*
 * The UDP send queue (see sendq.h).
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

#include "sendq.h"

int sendq_init(struct sendq *q)
{
	memset(q, 0, sizeof(*q));
	q->slot = calloc(SENDQ_SLOTS, sizeof(*q->slot));
	q->arena = malloc(SENDQ_ARENA_LEN);
	if (!q->slot || !q->arena) {
		sendq_free(q);
		return -ENOMEM;
	}
	return 0;
}

void sendq_free(struct sendq *q)
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
static bool arena_alloc(struct sendq *q, size_t len, size_t *off)
{
	size_t rd;

	if (!sendq_len(q))
		q->wr = 0;
	if (len > SENDQ_ARENA_LEN)
		return false;
	rd = sendq_len(q) ? sendq_at(q, 0)->off : 0;
	if (!sendq_len(q) || q->wr >= rd) {
		if (len <= SENDQ_ARENA_LEN - q->wr)
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

uint8_t *sendq_reserve(struct sendq *q, struct braid_peer *peer,
		       const struct braid_endpoint *to, size_t len, uint8_t tos)
{
	struct sendq_dgram *d;
	size_t off;

	if (sendq_len(q) == SENDQ_SLOTS || !arena_alloc(q, len, &off)) {
		q->dropped++;
		return NULL;
	}
	d = &q->slot[q->tail++ & (SENDQ_SLOTS - 1)];
	d->to = *to;
	d->peer = peer;
	d->off = off;
	d->len = len;
	d->tos = tos;
	return q->arena + off;
}

bool sendq_push(struct sendq *q, struct braid_peer *peer, const struct braid_endpoint *to,
		const uint8_t *buf, size_t len, uint8_t tos)
{
	uint8_t *at = sendq_reserve(q, peer, to, len, tos);

	if (at)
		memcpy(at, buf, len);
	return at != NULL;
}

void sendq_pop(struct sendq *q, size_t n)
{
	if (n > sendq_len(q))
		n = sendq_len(q);
	q->head += n;
	if (!sendq_len(q))
		q->wr = 0;
}

bool sendq_same_source(const struct braid_endpoint *a, const struct braid_endpoint *b)
{
	if (a->addr.sa.sa_family != b->addr.sa.sa_family || a->src_ifindex != b->src_ifindex ||
	    a->pin_interface != b->pin_interface)
		return false;
	if (a->addr.sa.sa_family == AF_INET)
		return a->src.in4.s_addr == b->src.in4.s_addr;
	return !memcmp(&a->src.in6, &b->src.in6, sizeof(a->src.in6));
}

/* True when a and b would leave from the same source to the same destination. */
static bool same_destination(const struct braid_endpoint *a, const struct braid_endpoint *b)
{
	if (!sendq_same_source(a, b))
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

/*
 * How many datagrams from the i-th form one message: consecutive, same
 * destination, source and TOS, all as long as the first except that the last
 * may be shorter, at most max_segs of them and max_bytes in all. At least 1.
 */
static size_t group_len(const struct sendq *q, size_t i, size_t max_segs, size_t max_bytes)
{
	const struct sendq_dgram *first = sendq_at(q, i), *d;
	size_t n = 1, bytes = first->len;

	/* A segment size of 0 means "no segmentation" to the kernel. */
	if (!first->len)
		return 1;
	while (i + n < sendq_len(q) && n < max_segs) {
		d = sendq_at(q, i + n);
		if (!d->len || d->len > first->len || bytes + d->len > max_bytes ||
		    d->tos != first->tos || !same_destination(&d->to, &first->to))
			break;
		bytes += d->len;
		n++;
		/* A shorter segment can only be the last. */
		if (d->len < first->len)
			break;
	}
	return n;
}

bool sendq_has_source(const struct braid_endpoint *to)
{
	static const struct in6_addr zero;

	if (to->pin_interface)
		return true;
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
		/*
		 * ipi_spec_dst is the source; the interface is left to routing
		 * (and fwmark), unless the path is a multipath uplink.
		 */
		struct in_pktinfo pi = { .ipi_spec_dst = to->src.in4 };

		if (to->pin_interface)
			pi.ipi_ifindex = to->src_ifindex;
		return put_cmsg(msg, NULL, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi), used);
	} else {
		struct in6_pktinfo pi = { .ipi6_addr = to->src.in6 };

		/* A link-local source means nothing without its interface. */
		if (to->pin_interface || IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
			pi.ipi6_ifindex = to->src_ifindex;
		return put_cmsg(msg, NULL, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi), used);
	}
}

static void build_cmsg(struct msghdr *msg, union sendq_cmsg *cm, const struct sendq_dgram *d,
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
	if (sendq_has_source(&d->to))
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
static void build_msg(const struct sendq *q, size_t i, size_t k, struct sendq_msgs *m,
		      size_t j, size_t n_iov)
{
	const struct sendq_dgram *d = sendq_at(q, i);
	struct msghdr *msg = &m->msgs[j].msg_hdr;

	for (size_t s = 0; s < k; s++) {
		const struct sendq_dgram *seg = sendq_at(q, i + s);

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

size_t sendq_build(const struct sendq *q, bool gso, struct sendq_msgs *m)
{
	size_t i = 0, j = 0, n_iov = 0, k, max_segs;

	while (i < sendq_len(q) && j < SENDQ_MSGS && n_iov < SENDQ_IOVS) {
		k = 1;
		if (gso && q->head + i >= q->split_until) {
			max_segs = SENDQ_IOVS - n_iov;
			if (max_segs > SENDQ_GSO_MAX_SEGS)
				max_segs = SENDQ_GSO_MAX_SEGS;
			k = group_len(q, i, max_segs, SENDQ_GSO_MAX_BYTES);
		}
		build_msg(q, i, k, m, j++, n_iov);
		i += k;
		n_iov += k;
	}
	return j;
}

void sendq_forget_source(struct sendq *q)
{
	struct sendq_dgram *first = sendq_at(q, 0), *d;
	struct braid_endpoint stale = first->to;

	for (size_t i = 1; first->peer && i < sendq_len(q); i++) {
		d = sendq_at(q, i);
		if (d->peer == first->peer && sendq_same_source(&d->to, &stale)) {
			memset(&d->to.src, 0, sizeof(d->to.src));
			d->to.src_ifindex = 0;
		}
	}
	memset(&first->to.src, 0, sizeof(first->to.src));
	first->to.src_ifindex = 0;
}

void sendq_forget_peers(struct sendq *q)
{
	for (size_t i = 0; i < sendq_len(q); i++)
		sendq_at(q, i)->peer = NULL;
}
