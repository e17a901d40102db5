// SPDX-License-Identifier: MIT
/*
 * Batching on the daemon's data path (src/linux/batch.c, tun_batch.c):
 *  - which queued datagrams share one UDP_SEGMENT message, and what each
 *    sendmmsg message carries (name, iovecs, control messages);
 *  - the send queue's byte ring against a naive model, wrapping included;
 *  - how a UDP_GRO buffer splits into datagrams, and the receive budget;
 *  - the TUN reader (split, budget, a batch sent early to make room) and
 *    writer (kept by pointer or copied, one write per packet or super-packet)
 *    over a SOCK_SEQPACKET pair standing in for the TUN descriptor.
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

#include "batch.h"
#include "tun_batch.h"

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
	struct tx_queue *q = malloc(sizeof(*q));

	if (!q || txq_init(q))
		return -1;
	*state = q;
	return 0;
}

static int teardown_queue(void **state)
{
	txq_free(*state);
	free(*state);
	return 0;
}

static uint8_t payload[65536];

static void push(struct tx_queue *q, struct braid_peer *peer, const struct braid_endpoint *to,
		 size_t len, uint8_t tos)
{
	assert_true(txq_push(q, peer, to, payload, len, tos));
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
	struct tx_queue *q = *state;
	struct tx_msgs *m = malloc(sizeof(*m));

	assert_non_null(m);
	for (size_t c = 0; c < sizeof(group_cases) / sizeof(group_cases[0]); c++) {
		const struct group_case *gc = &group_cases[c];
		size_t n, k;

		txq_pop(q, txq_len(q));
		for (size_t r = 0; r < gc->repeat; r++) {
			for (size_t i = 0; i < gc->n_dgs; i++) {
				struct braid_endpoint to = case_endpoint(gc->dgs[i].to);

				push(q, NULL, &to, gc->dgs[i].len, gc->dgs[i].tos);
			}
		}
		n = txq_build(q, gc->gso, m);
		for (k = 0; gc->expect[k]; k++) {
			if (k >= n || m->count[k] != gc->expect[k])
				fail_msg("case %zu (%s): message %zu has %u datagrams, want %zu",
					 c + 1, gc->what, k, k < n ? m->count[k] : 0,
					 gc->expect[k]);
			assert_int_equal(m->msgs[k].msg_hdr.msg_iovlen, m->count[k]);
			assert_int_equal(m->gso_size[k],
					 m->count[k] > 1 ? txq_at(q, 0)->len : 0);
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
	struct tx_queue *q = *state;
	struct tx_msgs *m = malloc(sizeof(*m));
	struct braid_endpoint to = ep4("198.51.100.2", 51820, "198.51.100.1");
	const struct cmsghdr *c;
	const struct msghdr *msg;
	struct in_pktinfo pi;
	uint16_t gso;
	int tos;

	assert_non_null(m);
	txq_pop(q, txq_len(q));
	for (int i = 0; i < 3; i++) {
		memset(payload, 'a' + i, 1452);
		push(q, NULL, &to, i < 2 ? 1452 : 700, 0x02);
	}
	assert_int_equal(txq_build(q, true, m), 1);
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
	struct tx_queue *q = *state;
	struct tx_msgs *m = malloc(sizeof(*m));
	struct braid_endpoint ll = ep6("fe80::2", 51820, "fe80::1", 5);
	struct braid_endpoint none = ep6("2001:db8::2", 51820, NULL, 0);
	struct in6_pktinfo pi;
	const struct cmsghdr *c;

	assert_non_null(m);
	txq_pop(q, txq_len(q));
	push(q, NULL, &ll, 148, 0);
	push(q, NULL, &none, 148, 0);
	assert_int_equal(txq_build(q, true, m), 2);
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
	struct tx_queue *q = *state;
	struct tx_msgs *m = malloc(sizeof(*m));
	struct braid_endpoint to = ep4("198.51.100.2", 1, NULL);
	size_t n, total = 0;

	assert_non_null(m);
	txq_pop(q, txq_len(q));
	/* 100 endpoints: one message each, 64 per sendmmsg. */
	for (int i = 0; i < 100; i++) {
		to.addr.in4.sin_port = htons(1000 + i);
		push(q, NULL, &to, 96, 0);
	}
	assert_int_equal(txq_build(q, true, m), TX_MSGS);
	/* 20 full runs of 64: the iovec array ends it at 1024 datagrams. */
	txq_pop(q, txq_len(q));
	for (int i = 0; i < 20 * 64; i++) {
		to.addr.in4.sin_port = htons(2000 + i / 64);
		push(q, NULL, &to, 96, 0);
	}
	n = txq_build(q, true, m);
	for (size_t i = 0; i < n; i++)
		total += m->count[i];
	assert_int_equal(n, TX_IOVS / 64);
	assert_int_equal(total, TX_IOVS);
	free(m);
}

static void test_split_until(void **state)
{
	struct tx_queue *q = *state;
	struct tx_msgs *m = malloc(sizeof(*m));
	struct braid_endpoint to = ep4("198.51.100.2", 51820, NULL);

	assert_non_null(m);
	txq_pop(q, txq_len(q));
	for (int i = 0; i < 10; i++)
		push(q, NULL, &to, 96, 0);
	/* A refused UDP_SEGMENT run of 4 goes out one by one, then grouping resumes. */
	q->split_until = q->head + 4;
	assert_int_equal(txq_build(q, true, m), 5);
	for (int i = 0; i < 4; i++)
		assert_int_equal(m->count[i], 1);
	assert_int_equal(m->count[4], 6);
	txq_pop(q, 4);
	assert_int_equal(txq_build(q, true, m), 1);
	free(m);
}

static void test_forget_source(void **state)
{
	struct tx_queue *q = *state;
	struct braid_peer *p1 = (struct braid_peer *)0x1000, *p2 = (struct braid_peer *)0x2000;
	struct braid_endpoint a = ep4("198.51.100.2", 51820, "198.51.100.1");
	struct braid_endpoint b = ep4("198.51.100.3", 51820, "198.51.100.1");
	struct braid_endpoint c = ep4("198.51.100.2", 51820, "198.51.100.9");

	txq_pop(q, txq_len(q));
	push(q, p1, &a, 96, 0);
	push(q, p2, &b, 96, 0);		/* same source, another peer: its own failure */
	push(q, p1, &c, 96, 0);		/* same peer, another source */
	push(q, p1, &a, 96, 0);
	txq_forget_source(q);
	assert_int_equal(txq_at(q, 0)->to.src.in4.s_addr, 0);
	assert_int_equal(txq_at(q, 1)->to.src.in4.s_addr, b.src.in4.s_addr);
	assert_int_equal(txq_at(q, 2)->to.src.in4.s_addr, c.src.in4.s_addr);
	assert_int_equal(txq_at(q, 3)->to.src.in4.s_addr, 0);
	/* The destination stays. */
	assert_int_equal(txq_at(q, 3)->to.addr.in4.sin_addr.s_addr, a.addr.in4.sin_addr.s_addr);
	txq_forget_peers(q);
	for (size_t i = 0; i < txq_len(q); i++)
		assert_null(txq_at(q, i)->peer);
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
	struct tx_queue *q = *state;
	struct braid_endpoint to = ep4("198.51.100.2", 51820, NULL);
	uint32_t pushed = 0, popped = 0, wraps = 0, refused = 0;
	static uint32_t lens[1 << 16];
	uint8_t *want = malloc(65536);

	assert_non_null(want);
	txq_pop(q, txq_len(q));
	q->dropped = 0;
	for (int step = 0; step < 200000; step++) {
		/* Phases of 2000 steps that mostly fill, then mostly drain. */
		unsigned int push_pct = (step / 2000) % 2 ? 25 : 90;

		if (rnd() % 100 < push_pct) {
			size_t len = rnd() % 4 ? rnd() % 4000 : rnd() % 65536;
			size_t before = q->wr;
			bool was_empty = !txq_len(q);

			fill_seq(payload, len, pushed);
			if (!txq_push(q, NULL, &to, payload, len, 0)) {
				refused++;
				/* An empty queue takes anything up to the arena's size. */
				assert_false(was_empty);
				continue;
			}
			if (txq_at(q, txq_len(q) - 1)->off < before)
				wraps++;
			lens[pushed++ & 0xffff] = len;
		} else if (txq_len(q)) {
			size_t k = 1 + rnd() % (txq_len(q) < 8 ? txq_len(q) : 8);

			for (size_t i = 0; i < k; i++, popped++) {
				const struct tx_dgram *d = txq_at(q, i);

				assert_int_equal(d->len, lens[popped & 0xffff]);
				assert_true(d->off + d->len <= TXQ_ARENA_LEN);
				fill_seq(want, d->len, popped);
				assert_memory_equal(q->arena + d->off, want, d->len);
			}
			txq_pop(q, k);
		}
		assert_int_equal(txq_len(q), pushed - popped);
		assert_true(txq_len(q) <= TXQ_SLOTS);
	}
	assert_int_equal(q->dropped, refused);
	/* The run must have exercised both wrapping and a full queue. */
	assert_true(wraps > 0);
	assert_true(refused > 0);
	free(want);
}

static void test_ring_slots_full(void **state)
{
	struct tx_queue *q = *state;
	struct braid_endpoint to = ep4("198.51.100.2", 51820, NULL);

	txq_pop(q, txq_len(q));
	q->dropped = 0;
	for (int i = 0; i < TXQ_SLOTS; i++)
		push(q, NULL, &to, 32, 0);
	assert_false(txq_push(q, NULL, &to, payload, 32, 0));
	assert_int_equal(q->dropped, 1);
	txq_pop(q, 1);
	push(q, NULL, &to, 32, 0);
	txq_pop(q, TXQ_SLOTS);
	assert_int_equal(txq_len(q), 0);
	assert_int_equal(q->wr, 0);
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
	/* 200 segments, then one that needs 900: the first batch must go out first. */
	kernel_sends(p, &small, pkt, tcp4(pkt, 0, 20000));
	kernel_sends(p, &tiny, pkt, tcp4(pkt, 20000, 900 * 64));
	assert_int_equal(tun_reader_run(&p->r, &p->tun, collect, p), 2);
	assert_int_equal(p->calls, 2);
	assert_int_equal(p->batch_sizes[0], 200);
	assert_int_equal(p->batch_sizes[1], 900);
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
	};
	const struct CMUnitTest plain_tests[] = {
		cmocka_unit_test(test_gro_split),
		cmocka_unit_test(test_recv_vlen),
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
