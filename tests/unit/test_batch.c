// SPDX-License-Identifier: MIT
/*
 * Batching on the daemon's data path (src/linux/sendq.c, udp.c, tun_reader.c,
 * tun_writer.c):
 *  - which queued datagrams share one UDP_SEGMENT message, and what each
 *    sendmmsg message carries (name, iovecs, control messages);
 *  - the send queue's byte ring against a naive model, wrapping included;
 *  - how a UDP_GRO buffer splits into datagrams, and the receive budget;
 *  - the TUN reader (split, budget, a batch sent early to make room) and
 *    writer (kept by pointer or copied, one write per packet or super-packet)
 *    over a SOCK_SEQPACKET pair standing in for the TUN descriptor;
 *  - the handshake backlog (backlog.c): which messages queue, FIFO order,
 *    the load mark and a full backlog;
 *  - batches sealed and opened on the crypto workers (dataplane.c) between
 *    real devices of the simulator: every packet arrives once, in order,
 *    intact, whichever thread sealed or opened it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "backlog.h"
#include "dataplane.h"
#include "sendq.h"
#include "sim.h"
#include "tun_reader.h"
#include "tun_writer.h"
#include "udp.h"
#include "workers.h"

/* ---- Send queue: grouping ---- */

static struct braid_endpoint ep4(const char *addr, uint16_t port, const char *src)
{
	struct braid_endpoint ep = { 0 };

	ep.addr.in4.sin_family = AF_INET;
	ep.addr.in4.sin_port = htons(port);
	inet_pton(AF_INET, addr, &ep.addr.in4.sin_addr);
	if (src)
		inet_pton(AF_INET, src, &ep.src.in4);
	return ep;
}

static struct braid_endpoint ep6(const char *addr, uint16_t port, const char *src, int ifindex)
{
	struct braid_endpoint ep = { 0 };

	ep.addr.in6.sin6_family = AF_INET6;
	ep.addr.in6.sin6_port = htons(port);
	inet_pton(AF_INET6, addr, &ep.addr.in6.sin6_addr);
	if (src)
		inet_pton(AF_INET6, src, &ep.src.in6);
	ep.src_ifindex = ifindex;
	return ep;
}

static int setup_queue(void **state)
{
	struct sendq *q = malloc(sizeof(*q));

	if (!q || sendq_init(q))
		return -1;
	*state = q;
	return 0;
}

static int teardown_queue(void **state)
{
	sendq_free(*state);
	free(*state);
	return 0;
}

static uint8_t payload[65536];

static void push(struct sendq *q, struct braid_peer *peer, const struct braid_endpoint *to,
		 size_t len, uint8_t tos)
{
	assert_true(sendq_push(q, peer, to, payload, len, tos));
}

/* A datagram description for the grouping table: "to" index, length, TOS. */
struct dg {
	int to;
	size_t len;
	uint8_t tos;
};

struct group_case {
	const char *what;
	struct dg dgs[8];
	size_t n_dgs;
	size_t repeat;		/* the whole list this many times */
	bool gso;
	size_t expect[8];	/* datagrams per message, 0-terminated */
};

static const struct group_case group_cases[] = {
	/* 1 */ { "one run", { { 0, 1452, 0 } }, 1, 10, true, { 10 } },
	/* 2 */ { "a shorter last one closes the run",
		  { { 0, 1452, 0 }, { 0, 1452, 0 }, { 0, 1452, 0 }, { 0, 100, 0 },
		    { 0, 1452, 0 }, { 0, 1452, 0 } }, 6, 1, true, { 4, 2 } },
	/* 3 */ { "a longer one starts a new run",
		  { { 0, 96, 0 }, { 0, 96, 0 }, { 0, 96, 0 }, { 0, 1452, 0 } }, 4, 1, true,
		  { 3, 1 } },
	/* 4 */ { "another endpoint breaks the run",
		  { { 0, 96, 0 }, { 0, 96, 0 }, { 1, 96, 0 }, { 1, 96, 0 }, { 0, 96, 0 } }, 5, 1,
		  true, { 2, 2, 1 } },
	/* 5 */ { "another source breaks the run",
		  { { 0, 96, 0 }, { 2, 96, 0 }, { 2, 96, 0 } }, 3, 1, true, { 1, 2 } },
	/* 6 */ { "another TOS breaks the run",
		  { { 0, 148, 0x88 }, { 0, 148, 0 }, { 0, 148, 0 } }, 3, 1, true, { 1, 2 } },
	/* 7 */ { "at most 64 segments", { { 0, 96, 0 } }, 1, 100, true, { 64, 36 } },
	/* 8 */ { "at most 65507 bytes", { { 0, 1500, 0 } }, 1, 50, true, { 43, 7 } },
	/* 9 */ { "without UDP_SEGMENT, one each", { { 0, 96, 0 } }, 1, 3, false, { 1, 1, 1 } },
	/* 10 */ { "empty datagrams are never segments",
		   { { 0, 0, 0 }, { 0, 0, 0 }, { 0, 96, 0 }, { 0, 0, 0 } }, 4, 1, true,
		   { 1, 1, 1, 1 } },
	/* 11 */ { "IPv6, same path", { { 3, 1452, 0 } }, 1, 5, true, { 5 } },
	/* 12 */ { "IPv6 scope breaks the run", { { 3, 96, 0 }, { 4, 96, 0 } }, 2, 1, true,
		   { 1, 1 } },
};

static struct braid_endpoint case_endpoint(int i)
{
	switch (i) {
	case 0: return ep4("198.51.100.2", 51820, NULL);
	case 1: return ep4("198.51.100.2", 51821, NULL);
	case 2: return ep4("198.51.100.2", 51820, "198.51.100.1");
	case 3: return ep6("2001:db8::2", 51820, "2001:db8::1", 0);
	default: {
		struct braid_endpoint ep = ep6("2001:db8::2", 51820, "2001:db8::1", 0);

		ep.addr.in6.sin6_scope_id = 7;
		return ep;
	}
	}
}

static void test_grouping_table(void **state)
{
	struct sendq *q = *state;
	struct sendq_msgs *m = malloc(sizeof(*m));

	assert_non_null(m);
	for (size_t c = 0; c < sizeof(group_cases) / sizeof(group_cases[0]); c++) {
		const struct group_case *gc = &group_cases[c];
		size_t n, k;

		sendq_pop(q, sendq_len(q));
		for (size_t r = 0; r < gc->repeat; r++) {
			for (size_t i = 0; i < gc->n_dgs; i++) {
				struct braid_endpoint to = case_endpoint(gc->dgs[i].to);

				push(q, NULL, &to, gc->dgs[i].len, gc->dgs[i].tos);
			}
		}
		n = sendq_build(q, gc->gso, m);
		for (k = 0; gc->expect[k]; k++) {
			if (k >= n || m->count[k] != gc->expect[k])
				fail_msg("case %zu (%s): message %zu has %u datagrams, want %zu",
					 c + 1, gc->what, k, k < n ? m->count[k] : 0,
					 gc->expect[k]);
			assert_int_equal(m->msgs[k].msg_hdr.msg_iovlen, m->count[k]);
			assert_int_equal(m->gso_size[k],
					 m->count[k] > 1 ? sendq_at(q, 0)->len : 0);
		}
		if (n != k)
			fail_msg("case %zu (%s): %zu messages, want %zu", c + 1, gc->what, n, k);
	}
	free(m);
}

/* Find a control message in a built msghdr. */
static const struct cmsghdr *find_cmsg(const struct msghdr *msg, int level, int type)
{
	struct msghdr copy = *msg;

	for (const struct cmsghdr *c = CMSG_FIRSTHDR(&copy); c; c = CMSG_NXTHDR(&copy,
									 (struct cmsghdr *)c))
		if (c->cmsg_level == level && c->cmsg_type == type)
			return c;
	return NULL;
}

static void test_message_v4(void **state)
{
	struct sendq *q = *state;
	struct sendq_msgs *m = malloc(sizeof(*m));
	struct braid_endpoint to = ep4("198.51.100.2", 51820, "198.51.100.1");
	const struct cmsghdr *c;
	const struct msghdr *msg;
	struct in_pktinfo pi;
	uint16_t gso;
	int tos;

	assert_non_null(m);
	sendq_pop(q, sendq_len(q));
	for (int i = 0; i < 3; i++) {
		memset(payload, 'a' + i, 1452);
		push(q, NULL, &to, i < 2 ? 1452 : 700, 0x02);
	}
	assert_int_equal(sendq_build(q, true, m), 1);
	msg = &m->msgs[0].msg_hdr;

	assert_int_equal(msg->msg_namelen, sizeof(struct sockaddr_in));
	assert_memory_equal(msg->msg_name, &to.addr.in4, sizeof(struct sockaddr_in));
	assert_int_equal(msg->msg_iovlen, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(msg->msg_iov[i].iov_len, i < 2 ? 1452 : 700);
		assert_int_equal(((uint8_t *)msg->msg_iov[i].iov_base)[0], 'a' + i);
	}
	c = find_cmsg(msg, IPPROTO_IP, IP_PKTINFO);
	assert_non_null(c);
	memcpy(&pi, CMSG_DATA(c), sizeof(pi));
	assert_int_equal(pi.ipi_spec_dst.s_addr, to.src.in4.s_addr);
	c = find_cmsg(msg, IPPROTO_IP, IP_TOS);
	assert_non_null(c);
	memcpy(&tos, CMSG_DATA(c), sizeof(tos));
	assert_int_equal(tos, 0x02);
	c = find_cmsg(msg, SOL_UDP, UDP_SEGMENT);
	assert_non_null(c);
	assert_int_equal(c->cmsg_len, CMSG_LEN(sizeof(uint16_t)));
	memcpy(&gso, CMSG_DATA(c), sizeof(gso));
	assert_int_equal(gso, 1452);
	free(m);
}

static void test_message_v6_plain(void **state)
{
	struct sendq *q = *state;
	struct sendq_msgs *m = malloc(sizeof(*m));
	struct braid_endpoint ll = ep6("fe80::2", 51820, "fe80::1", 5);
	struct braid_endpoint none = ep6("2001:db8::2", 51820, NULL, 0);
	struct in6_pktinfo pi;
	const struct cmsghdr *c;

	assert_non_null(m);
	sendq_pop(q, sendq_len(q));
	push(q, NULL, &ll, 148, 0);
	push(q, NULL, &none, 148, 0);
	assert_int_equal(sendq_build(q, true, m), 2);
	/* A link-local source carries its interface; no TOS, no segmentation. */
	c = find_cmsg(&m->msgs[0].msg_hdr, IPPROTO_IPV6, IPV6_PKTINFO);
	assert_non_null(c);
	memcpy(&pi, CMSG_DATA(c), sizeof(pi));
	assert_int_equal(pi.ipi6_ifindex, 5);
	assert_memory_equal(&pi.ipi6_addr, &ll.src.in6, sizeof(pi.ipi6_addr));
	assert_null(find_cmsg(&m->msgs[0].msg_hdr, IPPROTO_IPV6, IPV6_TCLASS));
	assert_null(find_cmsg(&m->msgs[0].msg_hdr, SOL_UDP, UDP_SEGMENT));
	assert_int_equal(m->msgs[0].msg_hdr.msg_namelen, sizeof(struct sockaddr_in6));
	/* Nothing to say at all: no control buffer. */
	assert_null(m->msgs[1].msg_hdr.msg_control);
	assert_int_equal(m->msgs[1].msg_hdr.msg_controllen, 0);
	free(m);
}

static void test_build_limits(void **state)
{
	struct sendq *q = *state;
	struct sendq_msgs *m = malloc(sizeof(*m));
	struct braid_endpoint to = ep4("198.51.100.2", 1, NULL);
	size_t n, total = 0;

	assert_non_null(m);
	sendq_pop(q, sendq_len(q));
	/* 100 endpoints: one message each, 64 per sendmmsg. */
	for (int i = 0; i < 100; i++) {
		to.addr.in4.sin_port = htons(1000 + i);
		push(q, NULL, &to, 96, 0);
	}
	assert_int_equal(sendq_build(q, true, m), SENDQ_MSGS);
	/* 20 full runs of 64: the iovec array ends it at 1024 datagrams. */
	sendq_pop(q, sendq_len(q));
	for (int i = 0; i < 20 * 64; i++) {
		to.addr.in4.sin_port = htons(2000 + i / 64);
		push(q, NULL, &to, 96, 0);
	}
	n = sendq_build(q, true, m);
	for (size_t i = 0; i < n; i++)
		total += m->count[i];
	assert_int_equal(n, SENDQ_IOVS / 64);
	assert_int_equal(total, SENDQ_IOVS);
	free(m);
}

static void test_split_until(void **state)
{
	struct sendq *q = *state;
	struct sendq_msgs *m = malloc(sizeof(*m));
	struct braid_endpoint to = ep4("198.51.100.2", 51820, NULL);

	assert_non_null(m);
	sendq_pop(q, sendq_len(q));
	for (int i = 0; i < 10; i++)
		push(q, NULL, &to, 96, 0);
	/* A refused UDP_SEGMENT run of 4 goes out one by one, then grouping resumes. */
	q->split_until = q->head + 4;
	assert_int_equal(sendq_build(q, true, m), 5);
	for (int i = 0; i < 4; i++)
		assert_int_equal(m->count[i], 1);
	assert_int_equal(m->count[4], 6);
	sendq_pop(q, 4);
	assert_int_equal(sendq_build(q, true, m), 1);
	free(m);
}

static void test_forget_source(void **state)
{
	struct sendq *q = *state;
	struct braid_peer *p1 = (struct braid_peer *)0x1000, *p2 = (struct braid_peer *)0x2000;
	struct braid_endpoint a = ep4("198.51.100.2", 51820, "198.51.100.1");
	struct braid_endpoint b = ep4("198.51.100.3", 51820, "198.51.100.1");
	struct braid_endpoint c = ep4("198.51.100.2", 51820, "198.51.100.9");

	sendq_pop(q, sendq_len(q));
	push(q, p1, &a, 96, 0);
	push(q, p2, &b, 96, 0);		/* same source, another peer: its own failure */
	push(q, p1, &c, 96, 0);		/* same peer, another source */
	push(q, p1, &a, 96, 0);
	sendq_forget_source(q);
	assert_int_equal(sendq_at(q, 0)->to.src.in4.s_addr, 0);
	assert_int_equal(sendq_at(q, 1)->to.src.in4.s_addr, b.src.in4.s_addr);
	assert_int_equal(sendq_at(q, 2)->to.src.in4.s_addr, c.src.in4.s_addr);
	assert_int_equal(sendq_at(q, 3)->to.src.in4.s_addr, 0);
	/* The destination stays. */
	assert_int_equal(sendq_at(q, 3)->to.addr.in4.sin_addr.s_addr, a.addr.in4.sin_addr.s_addr);
	sendq_forget_peers(q);
	for (size_t i = 0; i < sendq_len(q); i++)
		assert_null(sendq_at(q, i)->peer);
}

/* ---- Send queue: the byte ring against a model ---- */

static uint32_t rng = 0x9e3779b9;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* Each datagram's bytes are its sequence number, repeated: corruption shows. */
static void fill_seq(uint8_t *p, size_t len, uint32_t seq)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 7 + i / 64);
}

static void test_ring_model(void **state)
{
	struct sendq *q = *state;
	struct braid_endpoint to = ep4("198.51.100.2", 51820, NULL);
	uint32_t pushed = 0, popped = 0, wraps = 0, refused = 0;
	static uint32_t lens[1 << 16];
	uint8_t *want = malloc(65536);

	assert_non_null(want);
	sendq_pop(q, sendq_len(q));
	q->dropped = 0;
	for (int step = 0; step < 200000; step++) {
		/* Phases of 2000 steps that mostly fill, then mostly drain. */
		unsigned int push_pct = (step / 2000) % 2 ? 25 : 90;

		if (rnd() % 100 < push_pct) {
			size_t len = rnd() % 4 ? rnd() % 4000 : rnd() % 65536;
			size_t before = q->wr;
			bool was_empty = !sendq_len(q);

			fill_seq(payload, len, pushed);
			if (!sendq_push(q, NULL, &to, payload, len, 0)) {
				refused++;
				/* An empty queue takes anything up to the arena's size. */
				assert_false(was_empty);
				continue;
			}
			if (sendq_at(q, sendq_len(q) - 1)->off < before)
				wraps++;
			lens[pushed++ & 0xffff] = len;
		} else if (sendq_len(q)) {
			size_t k = 1 + rnd() % (sendq_len(q) < 8 ? sendq_len(q) : 8);

			for (size_t i = 0; i < k; i++, popped++) {
				const struct sendq_dgram *d = sendq_at(q, i);

				assert_int_equal(d->len, lens[popped & 0xffff]);
				assert_true(d->off + d->len <= SENDQ_ARENA_LEN);
				fill_seq(want, d->len, popped);
				assert_memory_equal(q->arena + d->off, want, d->len);
			}
			sendq_pop(q, k);
		}
		assert_int_equal(sendq_len(q), pushed - popped);
		assert_true(sendq_len(q) <= SENDQ_SLOTS);
	}
	assert_int_equal(q->dropped, refused);
	/* The run must have exercised both wrapping and a full queue. */
	assert_true(wraps > 0);
	assert_true(refused > 0);
	free(want);
}

static void test_ring_slots_full(void **state)
{
	struct sendq *q = *state;
	struct braid_endpoint to = ep4("198.51.100.2", 51820, NULL);

	sendq_pop(q, sendq_len(q));
	q->dropped = 0;
	for (int i = 0; i < SENDQ_SLOTS; i++)
		push(q, NULL, &to, 32, 0);
	assert_false(sendq_push(q, NULL, &to, payload, 32, 0));
	assert_int_equal(q->dropped, 1);
	sendq_pop(q, 1);
	push(q, NULL, &to, 32, 0);
	sendq_pop(q, SENDQ_SLOTS);
	assert_int_equal(sendq_len(q), 0);
	assert_int_equal(q->wr, 0);
}

/* A reserved place is filled later (by a worker, in the daemon): the message points at it. */
static void test_reserve(void **state)
{
	struct sendq *q = *state;
	struct braid_endpoint to = ep4("198.51.100.2", 51820, NULL);
	static struct sendq_msgs m;
	uint8_t *a, *b, *c;
	size_t n;

	sendq_pop(q, sendq_len(q));
	q->dropped = 0;
	a = sendq_reserve(q, NULL, &to, 1452, 0);
	b = sendq_reserve(q, NULL, &to, 1452, 0);
	assert_non_null(a);
	assert_non_null(b);
	assert_true(b >= a + 1452 || a >= b + 1452);
	memset(a, 0xaa, 1452);
	memset(b, 0xbb, 1452);
	assert_int_equal(sendq_build(q, true, &m), 1);
	assert_int_equal(m.count[0], 2);
	assert_ptr_equal(m.iov[0].iov_base, a);
	assert_ptr_equal(m.iov[1].iov_base, b);
	assert_int_equal(((uint8_t *)m.iov[1].iov_base)[1451], 0xbb);

	/* No room: NULL, counted, and the queue as it was. */
	assert_null(sendq_reserve(q, NULL, &to, SENDQ_ARENA_LEN, 0));
	assert_int_equal(q->dropped, 1);
	assert_int_equal(sendq_len(q), 2);
	for (n = 2; (c = sendq_reserve(q, NULL, &to, 65535, 0)); n++)
		assert_true(c + 65535 <= q->arena + SENDQ_ARENA_LEN);
	assert_int_equal(q->dropped, 2);
	assert_int_equal(sendq_len(q), n);
	assert_true(n >= SENDQ_ARENA_LEN / 65535 - 1);
	sendq_pop(q, sendq_len(q));
}

/* ---- UDP_GRO and the receive budget ---- */

struct gro_case {
	size_t len, gso;
	size_t n;		/* datagrams */
	size_t last;		/* length of the last one */
};

static const struct gro_case gro_cases[] = {
	/* 1 */ { 0, 0, 0, 0 },			/* nothing at all */
	/* 2 */ { 0, 1452, 0, 0 },
	/* 3 */ { 148, 0, 1, 148 },		/* no cmsg: one datagram */
	/* 4 */ { 1452, 1452, 1, 1452 },
	/* 5 */ { 100, 1452, 1, 100 },		/* gso larger than the buffer */
	/* 6 */ { 3 * 1452, 1452, 3, 1452 },
	/* 7 */ { 3 * 1452 + 7, 1452, 4, 7 },	/* odd tail */
	/* 8 */ { 65535, 1, 65535, 1 },
	/* 9 */ { 65535, 65534, 2, 1 },
	/* 10 */ { 64 * 96, 96, 64, 96 },
};

static void test_gro_split(void **state)
{
	for (size_t c = 0; c < sizeof(gro_cases) / sizeof(gro_cases[0]); c++) {
		const struct gro_case *g = &gro_cases[c];
		size_t off = 0, n = 0, len, last = 0;

		while ((len = udp_gro_next(g->len, g->gso, off))) {
			if (g->gso)
				assert_true(len <= g->gso);
			/* Only the last may be shorter than gso. */
			if (g->gso && off + len < g->len)
				assert_int_equal(len, g->gso);
			off += len;
			last = len;
			n++;
		}
		if (n != g->n || last != g->last || (n && off != g->len))
			fail_msg("case %zu: %zu datagrams (last %zu, %zu bytes), "
				 "want %zu (last %zu)", c + 1, n, last, off, g->n, g->last);
	}
	/* Past the end, always 0. */
	assert_int_equal(udp_gro_next(100, 10, 100), 0);
	assert_int_equal(udp_gro_next(100, 10, 1000), 0);
}

static void test_recv_vlen(void **state)
{
	assert_int_equal(udp_recv_vlen(256, 1, 64), 64);
	assert_int_equal(udp_recv_vlen(256, 0, 64), 64);
	assert_int_equal(udp_recv_vlen(256, 5, 64), 51);
	assert_int_equal(udp_recv_vlen(256, 64, 64), 4);
	assert_int_equal(udp_recv_vlen(256, 1000, 64), 1);
}

/* ---- The handshake backlog ---- */

struct kind_case {
	uint8_t head[4];
	size_t len;
	bool is_handshake;
};

static const struct kind_case kind_cases[] = {
	/* 1 */ { { 1, 0, 0, 0 }, 148, true },		/* initiation */
	/* 2 */ { { 2, 0, 0, 0 }, 92, true },		/* response */
	/* 3 */ { { 3, 0, 0, 0 }, 64, true },		/* cookie reply */
	/* 4 */ { { 4, 0, 0, 0 }, 32, false },		/* data goes the data way */
	/* 5 */ { { 1, 0, 0, 0 }, 149, false },		/* too long to be one: malformed */
	/* 6 */ { { 1, 0, 0, 0 }, 4, true },		/* short: the device rejects it */
	/* 7 */ { { 1, 0, 0, 0 }, 3, false },
	/* 8 */ { { 1, 1, 0, 0 }, 148, false },		/* not a little-endian 1 */
	/* 9 */ { { 0, 0, 0, 1 }, 148, false },
	/* 10 */ { { 5, 0, 0, 0 }, 148, false },
	/* 11 */ { { 0, 0, 0, 0 }, 148, false },
};

static void test_handshake_kinds(void **state)
{
	uint8_t msg[256] = { 0 };

	for (size_t c = 0; c < sizeof(kind_cases) / sizeof(kind_cases[0]); c++) {
		memcpy(msg, kind_cases[c].head, 4);
		if (braid_message_is_handshake(msg, kind_cases[c].len) != kind_cases[c].is_handshake)
			fail_msg("case %zu: wrong kind", c + 1);
	}
}

static void hs_message(uint8_t *msg, size_t *len, struct braid_endpoint *from, uint32_t seq)
{
	*len = 4 + seq % (BRAID_MESSAGE_HANDSHAKE_MAX_LEN - 3);
	memset(msg, 0, BRAID_MESSAGE_HANDSHAKE_MAX_LEN);
	msg[0] = 1 + seq % 3;
	fill_seq(msg + 4, *len - 4, seq);
	*from = ep4("203.0.113.7", (uint16_t)(1024 + seq), NULL);
}

static void pop_expect(struct backlog *q, uint32_t seq)
{
	struct braid_endpoint from;
	struct backlog_entry *e = backlog_oldest(q);
	uint8_t want[BRAID_MESSAGE_HANDSHAKE_MAX_LEN];
	size_t len;

	hs_message(want, &len, &from, seq);
	assert_non_null(e);
	assert_int_equal(e->len, len);
	assert_memory_equal(e->msg, want, len);
	assert_int_equal(e->from.addr.in4.sin_port, from.addr.in4.sin_port);
	backlog_pop(q);
}

/* Oldest first across the ring's wrap; loaded from an eighth on; full drops the newest. */
static void test_handshake_backlog(void **state)
{
	struct backlog q;
	struct braid_endpoint from;
	uint8_t msg[BRAID_MESSAGE_HANDSHAKE_MAX_LEN];
	uint32_t pushed = 0, popped = 0;
	size_t len;

	assert_int_equal(backlog_init(&q), 0);
	assert_null(backlog_oldest(&q));
	backlog_pop(&q);
	assert_int_equal(backlog_len(&q), 0);
	while (backlog_len(&q) < BACKLOG_SLOTS) {
		assert_int_equal(backlog_is_loaded(&q), backlog_len(&q) >= BACKLOG_LOADED);
		hs_message(msg, &len, &from, pushed++);
		assert_true(backlog_push(&q, &from, msg, len));
	}
	assert_true(backlog_is_loaded(&q));
	hs_message(msg, &len, &from, 999999);
	assert_false(backlog_push(&q, &from, msg, len));
	assert_int_equal(q.dropped, 1);
	for (int i = 0; i < BACKLOG_SLOTS / 2 + 3; i++)
		pop_expect(&q, popped++);
	for (int i = 0; i < BACKLOG_SLOTS / 2; i++) {
		hs_message(msg, &len, &from, pushed++);
		assert_true(backlog_push(&q, &from, msg, len));
	}
	while (backlog_len(&q))
		pop_expect(&q, popped++);
	assert_int_equal(popped, pushed);
	assert_false(backlog_is_loaded(&q));
	assert_false(backlog_push(&q, &from, msg, BRAID_MESSAGE_HANDSHAKE_MAX_LEN + 1));
	assert_int_equal(q.dropped, 2);
	backlog_free(&q);
}

/* ---- Batches sealed and opened on the crypto workers ---- */

/* The test's send queue: sealed messages in the order their places were reserved. */
struct wire {
	uint8_t *arena;
	size_t used;
	struct {
		uint8_t *at;
		size_t len, index;
		struct braid_endpoint to;
		struct braid_peer *peer;
	} msg[DP_SEND_MAX];
	size_t n, asked;
	size_t refuse_every;		/* 0: never; k: every k-th reservation fails */
};

static uint8_t *wire_reserve(void *ctx, struct braid_peer *peer, const struct braid_endpoint *to,
			     size_t len, uint8_t tos)
{
	struct wire *w = ctx;
	size_t index = w->asked++;
	uint8_t *at;

	/* Every job asks, in batch order, so the asking order numbers the packets. */
	if (w->refuse_every && w->asked % w->refuse_every == 0)
		return NULL;
	at = w->arena + w->used;
	w->used += len;
	w->msg[w->n].at = at;
	w->msg[w->n].len = len;
	w->msg[w->n].index = index;
	w->msg[w->n].to = *to;
	w->msg[w->n++].peer = peer;
	/* Garbage where the worker must write: a message sealed elsewhere would show. */
	memset(at, 0x5a, len);
	return at;
}

struct dp_test {
	struct sim sim;
	struct sim_host *a, *b, *c;
	struct braid_peer *b_peer_a, *c_peer_a;
	struct workers *w;
	struct dp_send s;
	struct dp_recv r;
	struct wire wire;
	uint8_t pkt[DP_SEND_MAX][1400];
	uint8_t *pkts[DP_SEND_MAX];
	size_t lens[DP_SEND_MAX];
};

static struct dp_test *dp_test_new(unsigned int threads)
{
	struct braid_device_config config = { .data_threads = threads };
	struct dp_test *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->wire.arena = malloc(DP_SEND_MAX * 1500);
	assert_non_null(t->wire.arena);
	if (threads) {
		t->w = workers_new(threads);
		assert_non_null(t->w);
	}
	sim_init(&t->sim);
	t->a = sim_add_host(&t->sim, &config);
	t->b = sim_add_host(&t->sim, &config);
	t->c = sim_add_host(&t->sim, &config);
	sim_connect(&t->sim, t->a, t->b, true);
	sim_connect(&t->sim, t->a, t->c, true);
	t->b_peer_a = sim_connect(&t->sim, t->b, t->a, true);
	t->c_peer_a = sim_connect(&t->sim, t->c, t->a, true);
	/* Sessions a-b and a-c, the old way. */
	assert_int_equal(sim_send_packet(&t->sim, t->a, t->b, 10, 0), 0);
	assert_int_equal(sim_send_packet(&t->sim, t->a, t->c, 10, 0), 0);
	sim_flush(&t->sim);
	assert_int_equal(t->b->n_delivered, 1);
	assert_int_equal(t->c->n_delivered, 1);
	return t;
}

static void dp_test_free(struct dp_test *t)
{
	workers_free(t->w);
	sim_free(&t->sim);
	free(t->wire.arena);
	free(t);
}

/* Packet i goes to c when i % 3 == 0, else to b; each carries its index and its own length. */
static void dp_make_batch(struct dp_test *t, size_t n, uint32_t round)
{
	for (size_t i = 0; i < n; i++) {
		struct sim_host *to = i % 3 ? t->b : t->c;
		uint32_t tag = round << 16 | (uint32_t)i;

		t->lens[i] = sim_ipv4_packet(t->pkt[i], sim_tunnel_addr(1),
					     sim_tunnel_addr(sim_host_number(&t->sim, to)),
					     4 + (i * 37 + round) % 1360, (uint8_t)i);
		memcpy(t->pkt[i] + 28, &tag, sizeof(tag));
		t->pkts[i] = t->pkt[i];
	}
}

/* Hand host h, in wire order, every message addressed to it; corrupt the one numbered bad. */
static void dp_receive_at(struct dp_test *t, struct sim_host *h, size_t bad)
{
	size_t k, mine = 0;

	t->r.n = 0;
	for (k = 0; k < t->wire.n; k++) {
		if (t->wire.msg[k].to.addr.in4.sin_addr.s_addr != h->addr.addr.in4.sin_addr.s_addr)
			continue;
		if (mine++ == bad)
			t->wire.msg[k].at[t->wire.msg[k].len - 1] ^= 1;
		dataplane_recv_add(&t->r, &t->a->addr, t->wire.msg[k].at, t->wire.msg[k].len);
	}
	dataplane_receive(&t->r, h->dev, t->w, t->sim.now);
	assert_int_equal(t->r.n, 0);
}

/* What h got is exactly the packets for it that went out, in order, less the corrupted one. */
static void dp_check_delivered(struct dp_test *t, struct sim_host *h, struct braid_peer *from,
			       size_t bad)
{
	size_t k, got = 0, mine = 0;

	for (k = 0; k < t->wire.n; k++) {
		size_t i = t->wire.msg[k].index;

		if (t->wire.msg[k].to.addr.in4.sin_addr.s_addr != h->addr.addr.in4.sin_addr.s_addr)
			continue;
		if (mine++ == bad)
			continue;
		assert_true(got < h->n_delivered);
		assert_ptr_equal(h->delivered[got].peer, from);
		assert_int_equal(h->delivered[got].len, t->lens[i]);
		assert_memory_equal(h->delivered[got].data, t->pkt[i], t->lens[i]);
		got++;
	}
	assert_int_equal(got, h->n_delivered);
	h->n_delivered = 0;
}

static uint64_t dp_drops(struct sim_host *h, enum braid_drop why)
{
	struct braid_device_stats st;

	braid_device_get_stats(h->dev, &st);
	return st.drops[why];
}

static void dp_round_trips(unsigned int threads, unsigned int rounds)
{
	struct dp_test *t = dp_test_new(threads);
	size_t sealed, k, n = DP_SEND_MAX, bad;
	struct braid_peer_stats st;
	uint64_t tx_before, tx_sum;

	t->b->n_delivered = t->c->n_delivered = 0;
	for (uint32_t round = 0; round < rounds; round++) {
		/* Odd rounds: some places refused (a full queue); every third: one corrupted. */
		t->wire.n = t->wire.used = t->wire.asked = 0;
		t->wire.refuse_every = round % 2 ? 7 : 0;
		bad = round % 3 == 2 ? 5 : SIZE_MAX;
		n = round == 1 ? 3 : DP_SEND_MAX;	/* a batch too small for the threads */
		dp_make_batch(t, n, round);
		braid_peer_get_stats(braid_device_next_peer(t->a->dev, NULL), &st);
		tx_before = st.tx_bytes;
		sealed = dataplane_send(&t->s, t->a->dev, t->w, t->sim.now, t->pkts, t->lens, n,
					1420, wire_reserve, &t->wire);
		assert_int_equal(sealed, t->wire.n);
		assert_int_equal(sealed, t->wire.refuse_every ? n - n / 7 : n);
		/* Each place holds the message of its packet, of the length reserved. */
		for (k = 0, tx_sum = 0; k < t->wire.n; k++) {
			size_t i = t->wire.msg[k].index;

			assert_ptr_equal(t->s.out[i], t->wire.msg[k].at);
			assert_int_equal(t->s.jobs[i].sealed_len, t->wire.msg[k].len);
			assert_int_equal(t->wire.msg[k].len, braid_message_len(t->lens[i], 1420));
			assert_int_equal(t->wire.msg[k].at[0], 4);
			if (t->wire.msg[k].to.addr.in4.sin_addr.s_addr ==
			    t->b->addr.addr.in4.sin_addr.s_addr)
				tx_sum += t->wire.msg[k].len;
		}
		dataplane_send_finish(&t->s, t->a->dev, t->sim.now);
		/* The first peer is b: its tx_bytes grew by what was sealed for it. */
		braid_peer_get_stats(braid_device_next_peer(t->a->dev, NULL), &st);
		assert_int_equal(st.tx_bytes - tx_before, tx_sum);

		dp_receive_at(t, t->b, bad);
		dp_receive_at(t, t->c, SIZE_MAX);
		dp_check_delivered(t, t->b, t->b_peer_a, bad);
		dp_check_delivered(t, t->c, t->c_peer_a, SIZE_MAX);
		t->sim.now += 1000000;
	}
	assert_int_equal(dp_drops(t->b, BRAID_DROP_DECRYPT), rounds / 3);
	assert_int_equal(dp_drops(t->b, BRAID_DROP_REPLAY), 0);
	assert_int_equal(dp_drops(t->c, BRAID_DROP_DECRYPT), 0);
	/* Nothing was staged: every packet found its session. */
	assert_int_equal(t->a->n_out, 0);
	dp_test_free(t);
}

static void test_dataplane_inline(void **state)
{
	dp_round_trips(0, 6);
}

static void test_dataplane_workers(void **state)
{
	dp_round_trips(3, 30);
}

/* Every message for h, in wire order, into the receive batch. */
static void dp_add_for(struct dp_test *t, struct sim_host *h)
{
	for (size_t k = 0; k < t->wire.n; k++)
		if (t->wire.msg[k].to.addr.in4.sin_addr.s_addr == h->addr.addr.in4.sin_addr.s_addr)
			dataplane_recv_add(&t->r, &t->a->addr, t->wire.msg[k].at,
					   t->wire.msg[k].len);
}

/* A replayed batch opens fine on the workers and is refused by the replay window. */
static void test_dataplane_replay(void **state)
{
	struct dp_test *t = dp_test_new(2);
	size_t n = 256, for_b = n - (n + 2) / 3;
	uint8_t *copy = malloc(DP_SEND_MAX * 1500);

	assert_non_null(copy);
	t->b->n_delivered = 0;
	dp_make_batch(t, n, 0);
	dataplane_send(&t->s, t->a->dev, t->w, t->sim.now, t->pkts, t->lens, n, 1420,
		       wire_reserve, &t->wire);
	dataplane_send_finish(&t->s, t->a->dev, t->sim.now);
	/* Opening decrypts in place: keep the messages as they went out. */
	memcpy(copy, t->wire.arena, t->wire.used);
	dp_add_for(t, t->b);
	dataplane_receive(&t->r, t->b->dev, t->w, t->sim.now);
	assert_int_equal(t->b->n_delivered, for_b);
	memcpy(t->wire.arena, copy, t->wire.used);
	dp_add_for(t, t->b);
	dataplane_receive(&t->r, t->b->dev, t->w, t->sim.now);
	assert_int_equal(t->b->n_delivered, for_b);
	assert_int_equal(dp_drops(t->b, BRAID_DROP_REPLAY), for_b);
	assert_int_equal(dp_drops(t->b, BRAID_DROP_DECRYPT), 0);
	free(copy);
	dp_test_free(t);
}

/* ---- TUN reader and writer over a packet socket pair ---- */

struct pair {
	struct tun tun;
	int peer;		/* the "kernel" end */
	struct tun_reader r;
	struct tun_writer w;
	/* What the reader's callback saw. */
	size_t calls, n_pkts;
	size_t batch_sizes[16];
	uint8_t *seen;
	size_t seen_len;
};

static int setup_pair(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	int fds[2];

	if (!p || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, fds))
		return -1;
	/* Room for many 64 KB messages in flight. */
	for (int i = 0; i < 2; i++) {
		int big = 32 << 20;

		setsockopt(fds[i], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
		setsockopt(fds[i], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	}
	p->tun.fd = fds[0];
	p->peer = fds[1];
	p->seen = malloc(4 << 20);
	if (!p->seen || tun_reader_init(&p->r) || tun_writer_init(&p->w))
		return -1;
	*state = p;
	return 0;
}

static int teardown_pair(void **state)
{
	struct pair *p = *state;

	close(p->tun.fd);
	close(p->peer);
	tun_reader_free(&p->r);
	tun_writer_free(&p->w);
	free(p->seen);
	free(p);
	return 0;
}

static void collect(void *ctx, uint8_t *pkts[], size_t lens[], size_t n)
{
	struct pair *p = ctx;

	if (p->calls < 16)
		p->batch_sizes[p->calls] = n;
	p->calls++;
	for (size_t i = 0; i < n; i++) {
		assert_true(p->seen_len + lens[i] <= (4u << 20));
		memcpy(p->seen + p->seen_len, pkts[i], lens[i]);
		p->seen_len += lens[i];
		p->n_pkts++;
	}
}

static void reset_seen(struct pair *p)
{
	p->calls = p->n_pkts = p->seen_len = 0;
}

/* An IPv4 TCP packet with payload bytes counting from seq; returns its length. */
static size_t tcp4(uint8_t *out, uint32_t seq, size_t plen)
{
	size_t len = 40 + plen;

	memset(out, 0, 40);
	out[0] = 0x45;
	out[2] = len >> 8;
	out[3] = len;
	out[6] = 0x40;
	out[8] = 64;
	out[9] = 6;
	memcpy(out + 12, (uint8_t[]){ 192, 0, 2, 1 }, 4);
	memcpy(out + 16, (uint8_t[]){ 192, 0, 2, 2 }, 4);
	out[20] = 0x9c;
	out[21] = 0x40;
	out[23] = 80;
	out[24] = seq >> 24;
	out[25] = seq >> 16;
	out[26] = seq >> 8;
	out[27] = seq;
	out[32] = 5 << 4;
	out[33] = 0x10;		/* ACK */
	out[34] = 0xff;
	for (size_t i = 0; i < plen; i++)
		out[40 + i] = (uint8_t)(seq + i);
	return len;
}

/* Send one "TUN read" to the reader: vnet_hdr (when on) and the packet. */
static void kernel_sends(struct pair *p, const struct virtio_net_hdr *vh, const uint8_t *pkt,
			 size_t len)
{
	struct iovec iov[2] = { { (void *)vh, sizeof(*vh) }, { (void *)pkt, len } };
	struct msghdr msg = { .msg_iov = p->tun.has_vnet_hdr ? iov : iov + 1,
			      .msg_iovlen = p->tun.has_vnet_hdr ? 2 : 1 };

	size_t hdr = p->tun.has_vnet_hdr ? sizeof(*vh) : 0;

	assert_int_equal(sendmsg(p->peer, &msg, 0), (ssize_t)(len + hdr));
}

static struct virtio_net_hdr tso4(size_t gso_size)
{
	return (struct virtio_net_hdr){
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = 40, .gso_size = gso_size, .csum_start = 20, .csum_offset = 16,
	};
}

static void test_reader_plain(void **state)
{
	struct pair *p = *state;
	static uint8_t pkt[2000];
	struct virtio_net_hdr none = { 0 };

	p->tun.has_vnet_hdr = false;
	reset_seen(p);
	assert_int_equal(tun_reader_run(&p->r, &p->tun, collect, p), -EAGAIN);
	assert_int_equal(p->calls, 0);
	for (int i = 0; i < 3; i++)
		kernel_sends(p, &none, pkt, tcp4(pkt, i * 1000, 1000));
	assert_int_equal(tun_reader_run(&p->r, &p->tun, collect, p), 3);
	assert_int_equal(p->calls, 1);
	assert_int_equal(p->n_pkts, 3);
	assert_int_equal(p->seen_len, 3 * 1040);
	/* The last one's payload, unchanged. */
	assert_int_equal(p->seen[2 * 1040 + 40], (uint8_t)2000);
}

static void test_reader_budget(void **state)
{
	struct pair *p = *state;
	static uint8_t pkt[200];
	struct virtio_net_hdr none = { 0 };
	int total = 0, n;

	p->tun.has_vnet_hdr = false;
	reset_seen(p);
	for (int i = 0; i < 150; i++)
		kernel_sends(p, &none, pkt, tcp4(pkt, i, 100));
	/* One event reads at most TUN_BATCH packets; the rest waits for the next. */
	n = tun_reader_run(&p->r, &p->tun, collect, p);
	assert_int_equal(n, TUN_BATCH);
	total += n;
	while ((n = tun_reader_run(&p->r, &p->tun, collect, p)) > 0)
		total += n;
	assert_int_equal(n, -EAGAIN);
	assert_int_equal(total, 150);
	assert_int_equal(p->n_pkts, 150);
}

static void test_reader_split(void **state)
{
	struct pair *p = *state;
	static uint8_t pkt[70000];
	struct virtio_net_hdr none = { 0 }, vh = tso4(1000);
	size_t off = 0;

	p->tun.has_vnet_hdr = true;
	reset_seen(p);
	kernel_sends(p, &none, pkt, tcp4(pkt, 0, 500));
	kernel_sends(p, &vh, pkt, tcp4(pkt, 500, 10500));	/* 11 segments, the last 500 */
	kernel_sends(p, &none, pkt, tcp4(pkt, 11000, 500));
	assert_int_equal(tun_reader_run(&p->r, &p->tun, collect, p), 3);
	assert_int_equal(p->calls, 1);
	assert_int_equal(p->n_pkts, 13);
	/* In order, and every payload byte where it belongs. */
	for (uint32_t seq = 0; seq < 11500;) {
		const uint8_t *s = p->seen + off;
		size_t len = (size_t)s[2] << 8 | s[3];
		uint32_t sseq = (uint32_t)s[24] << 24 | s[25] << 16 | s[26] << 8 | s[27];

		assert_int_equal(sseq, seq);
		for (size_t i = 40; i < len; i++)
			assert_int_equal(s[i], (uint8_t)(seq + i - 40));
		seq += len - 40;
		off += len;
	}
	assert_int_equal(off, p->seen_len);
}

static void test_reader_room(void **state)
{
	struct pair *p = *state;
	static uint8_t pkt[70000];
	struct virtio_net_hdr small = tso4(100), tiny = tso4(64);

	p->tun.has_vnet_hdr = true;
	reset_seen(p);
	/*
	 * 100 segments (under TUN_READER_BUDGET, so reading goes on), then one
	 * that needs 950, more than TUN_READER_MAX leaves: the first batch must
	 * go out first.
	 */
	assert_true(100 < TUN_READER_BUDGET && 100 + 950 > TUN_READER_MAX);
	kernel_sends(p, &small, pkt, tcp4(pkt, 0, 10000));
	kernel_sends(p, &tiny, pkt, tcp4(pkt, 10000, 950 * 64));
	assert_int_equal(tun_reader_run(&p->r, &p->tun, collect, p), 2);
	assert_int_equal(p->calls, 2);
	assert_int_equal(p->batch_sizes[0], 100);
	assert_int_equal(p->batch_sizes[1], 950);
}

static void test_reader_unsplittable(void **state)
{
	struct pair *p = *state;
	static uint8_t pkt[3000];
	struct virtio_net_hdr bad = tso4(1000), none = { 0 };
	size_t len = tcp4(pkt, 0, 2000);

	p->tun.has_vnet_hdr = true;
	reset_seen(p);
	p->r.unsplit = 0;
	bad.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;	/* says IPv6, holds IPv4 */
	kernel_sends(p, &bad, pkt, len);
	kernel_sends(p, &none, pkt, len);
	assert_int_equal(tun_reader_run(&p->r, &p->tun, collect, p), 2);
	assert_int_equal(p->r.unsplit, 1);
	assert_int_equal(p->n_pkts, 1);
}

/* Read what the writer wrote: one message. */
static ssize_t kernel_reads(struct pair *p, uint8_t *buf, size_t cap)
{
	return recv(p->peer, buf, cap, MSG_DONTWAIT);
}

static void test_writer_plain(void **state)
{
	struct pair *p = *state;
	static uint8_t pkt[2000], got[4000];

	p->tun.has_vnet_hdr = false;
	tcp4(pkt, 0, 100);
	/* Without vnet_hdr every packet is written at once, as it is. */
	assert_int_equal(tun_writer_add(&p->w, &p->tun, pkt, 140), 0);
	assert_int_equal(kernel_reads(p, got, sizeof(got)), 140);
	assert_memory_equal(got, pkt, 140);
	assert_int_equal(tun_writer_flush(&p->w, &p->tun), 0);
	assert_int_equal(kernel_reads(p, got, sizeof(got)), -1);
}

static void test_writer_window_and_copy(void **state)
{
	struct pair *p = *state;
	static uint8_t window[4000], outside[2000], got[70000];
	struct virtio_net_hdr vh;
	uint8_t *in = window + 16;
	size_t l1, l2, seen = 0;
	ssize_t r;

	p->tun.has_vnet_hdr = true;
	p->tun.offloads = 0;
	/* Two segments of one TCP flow: in the window (kept), outside it (copied). */
	l1 = tcp4(in, 1000, 1000);
	l2 = tcp4(outside, 2000, 1000);
	tun_writer_window(&p->w, window, sizeof(window));
	assert_int_equal(tun_writer_add(&p->w, &p->tun, in, l1), 0);
	assert_int_equal(tun_writer_add(&p->w, &p->tun, outside, l2), 0);
	assert_int_equal(p->w.n, 2);
	assert_ptr_equal(p->w.pkts[0].data, in);
	assert_ptr_not_equal(p->w.pkts[1].data, outside);
	/* Nothing is written before the flush. */
	assert_int_equal(kernel_reads(p, got, sizeof(got)), -1);
	/* The copy is what was added, even if the original changes now. */
	memset(outside, 0, sizeof(outside));
	assert_int_equal(tun_writer_flush(&p->w, &p->tun), 0);
	/* Either one super-packet or two plain ones: all payload, in order, behind vnet_hdrs. */
	while ((r = kernel_reads(p, got, sizeof(got))) > 0) {
		size_t ip_len;

		memcpy(&vh, got, sizeof(vh));
		ip_len = (size_t)got[10 + 2] << 8 | got[10 + 3];
		assert_int_equal((size_t)r, sizeof(vh) + ip_len);
		for (size_t i = 40; i < ip_len; i++)
			assert_int_equal(got[10 + i], (uint8_t)(1000 + seen + i - 40));
		seen += ip_len - 40;
	}
	assert_int_equal(seen, 2000);
	assert_int_equal(p->w.n, 0);
}

static void test_writer_full_batch(void **state)
{
	struct pair *p = *state;
	static uint8_t window[OFFLOAD_BATCH_MAX + 1][80], got[200];
	size_t writes = 0;

	p->tun.has_vnet_hdr = true;
	tun_writer_window(&p->w, window[0], sizeof(window));
	/* One more than a batch of unrelated packets (ports differ): the batch flushes itself. */
	for (int i = 0; i <= OFFLOAD_BATCH_MAX; i++) {
		uint8_t *pkt = window[i] + 16;

		tcp4(pkt, 0, 20);
		pkt[20] = (uint8_t)i;
		assert_int_equal(tun_writer_add(&p->w, &p->tun, pkt, 60), 0);
	}
	assert_int_equal(p->w.n, 1);
	assert_int_equal(tun_writer_flush(&p->w, &p->tun), 0);
	while (kernel_reads(p, got, sizeof(got)) == 70)
		writes++;
	assert_int_equal(writes, OFFLOAD_BATCH_MAX + 1);
}

int main(void)
{
	const struct CMUnitTest queue_tests[] = {
		cmocka_unit_test(test_grouping_table),
		cmocka_unit_test(test_message_v4),
		cmocka_unit_test(test_message_v6_plain),
		cmocka_unit_test(test_build_limits),
		cmocka_unit_test(test_split_until),
		cmocka_unit_test(test_forget_source),
		cmocka_unit_test(test_ring_model),
		cmocka_unit_test(test_ring_slots_full),
		cmocka_unit_test(test_reserve),
	};
	const struct CMUnitTest plain_tests[] = {
		cmocka_unit_test(test_gro_split),
		cmocka_unit_test(test_recv_vlen),
		cmocka_unit_test(test_handshake_kinds),
		cmocka_unit_test(test_handshake_backlog),
		cmocka_unit_test(test_dataplane_inline),
		cmocka_unit_test(test_dataplane_workers),
		cmocka_unit_test(test_dataplane_replay),
	};
	const struct CMUnitTest tun_tests[] = {
		cmocka_unit_test(test_reader_plain),
		cmocka_unit_test(test_reader_budget),
		cmocka_unit_test(test_reader_split),
		cmocka_unit_test(test_reader_room),
		cmocka_unit_test(test_reader_unsplittable),
		cmocka_unit_test(test_writer_plain),
		cmocka_unit_test(test_writer_window_and_copy),
		cmocka_unit_test(test_writer_full_batch),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("send queue", queue_tests, setup_queue,
					      teardown_queue);
	failed += cmocka_run_group_tests_name("receive", plain_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("tun batches", tun_tests, setup_pair, teardown_pair);
	return failed ? 1 : 0;
}
