/* SPDX-License-Identifier: MIT */
/*
 * Multipath scenarios for sim.h: a client with two uplinks (A, the
 * preferred, and B) and a server with one address, braid at both ends or a
 * stock peer (no_multipath) as the server, and numbered streams each way so
 * that a test can say what was lost, how long the longest gap was, and what
 * came out of order. Shared by test_path.c and test_aggregate.c.
 */
#ifndef BRAID_TEST_MPSIM_H
#define BRAID_TEST_MPSIM_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "messages.h"
#include "sim.h"

#define SEC 1000000000ULL
#define MSEC 1000000ULL
#define STREAM_MAX 200000	/* packets per direction a test may send */
#define STREAM_PKT_LEN 64	/* the inner size of stream_for()'s: not a control message's */

struct stream {
	uint32_t next;			/* sequence number of the next packet */
	uint64_t *arrived;		/* per sequence number: when, or 0 */
	uint32_t highest;		/* the highest delivered so far, plus one */
	uint64_t out_of_order;		/* delivered after a higher one */
};

struct mp {
	struct sim sim;
	struct sim_host *a, *b;		/* a: the client with uplinks A and B */
	struct braid_peer *a_peer_b, *b_peer_a;
	uint32_t addr_a, addr_b;	/* a's uplink addresses, network order */
	struct stream up, down;		/* a -> b, b -> a */
	uint64_t control_from[3];	/* control messages sent from A, B, the server */
	uint64_t from_b_at_server;	/* datagrams the server got from uplink B */
	uint64_t initiations_from_a;	/* handshake initiations the client sent */
};

/* braid's control messages are the only 80-byte data messages these tests send. */
static inline bool count(struct sim *sim, struct sim_host *from, struct sim_host *to,
		  struct sim_datagram *d)
{
	struct mp *m = sim->filter_ctx;
	uint32_t src = d->from.addr.in4.sin_addr.s_addr;
	int i = src == m->addr_a ? 0 : src == m->addr_b ? 1 : 2;

	if (d->data[0] == MESSAGE_DATA && d->len == message_data_len(sizeof(struct message_control)))
		m->control_from[i]++;
	if (to == m->b && i == 1)
		m->from_b_at_server++;
	if (from == m->a && d->data[0] == MESSAGE_HANDSHAKE_INITIATION)
		m->initiations_from_a++;
	return true;
}

static inline struct braid_path_config uplink(int ifindex, const char *name, uint8_t prio)
{
	struct braid_path_config c = { .prio = prio, .is_usable = true };

	c.endpoint.src_ifindex = ifindex;
	snprintf(c.name, sizeof(c.name), "%s", name);
	return c;
}

static inline void mp_setup(struct mp *m, enum braid_multipath mode, bool stock_server)
{
	struct braid_device_config stock = { .no_multipath = true };
	struct braid_path_config paths[2] = { uplink(1, "wlan0", 0), uplink(2, "wwan0", 1) };

	memset(m, 0, sizeof(*m));
	sim_init(&m->sim);
	m->a = sim_add_host(&m->sim, NULL);
	m->b = sim_add_host(&m->sim, stock_server ? &stock : NULL);
	m->addr_a = m->a->addr.addr.in4.sin_addr.s_addr;
	m->addr_b = sim_add_uplink(&m->sim, m->a)->addr.in4.sin_addr.s_addr;
	m->a_peer_b = sim_connect(&m->sim, m->a, m->b, true);
	m->b_peer_a = sim_connect(&m->sim, m->b, m->a, false);
	assert_int_equal(braid_peer_set_paths(m->a_peer_b, m->sim.now, paths, 2), 0);
	assert_int_equal(braid_peer_set_multipath(m->a_peer_b, m->sim.now, mode), 0);
	m->up.arrived = calloc(STREAM_MAX, sizeof(uint64_t));
	m->down.arrived = calloc(STREAM_MAX, sizeof(uint64_t));
	assert_non_null(m->up.arrived);
	assert_non_null(m->down.arrived);
	m->sim.filter = count;
	m->sim.filter_ctx = m;
}

static inline void mp_free(struct mp *m)
{
	sim_free(&m->sim);
	free(m->up.arrived);
	free(m->down.arrived);
}

/* One numbered packet of size bytes (at least 32) from one host to the other. */
static inline void send_sized(struct mp *m, struct sim_host *from, struct sim_host *to,
			      struct stream *s, size_t size)
{
	uint8_t buf[SIM_PKT_MAX], *pkts[1] = { buf };
	size_t len = sim_ipv4_packet(buf, sim_tunnel_addr(sim_host_number(&m->sim, from)),
				     sim_tunnel_addr(sim_host_number(&m->sim, to)), size - 28, 0);

	assert_true(s->next < STREAM_MAX);
	memcpy(buf + 28, &s->next, sizeof(s->next));
	s->next++;
	braid_device_send(from->dev, m->sim.now, pkts, &len, 1);
}

static inline void send_numbered(struct mp *m, struct sim_host *from, struct sim_host *to,
				 struct stream *s)
{
	send_sized(m, from, to, s, STREAM_PKT_LEN);
}

static inline void collect(struct mp *m, struct sim_host *h, struct stream *s)
{
	uint32_t seq;

	for (size_t i = 0; i < h->n_delivered; i++) {
		if (h->delivered[i].len < 32 || h->delivered[i].data[9] != 17)
			continue;	/* numbered packets are UDP */
		memcpy(&seq, h->delivered[i].data + 28, sizeof(seq));
		if (seq >= STREAM_MAX || s->arrived[seq])
			continue;
		s->arrived[seq] = m->sim.now;
		if (seq < s->highest)
			s->out_of_order++;
		else
			s->highest = seq + 1;
	}
	h->n_delivered = 0;
}

/* Both streams, one packet each way per millisecond, for ms milliseconds. */
static inline void stream_for(struct mp *m, unsigned int ms)
{
	for (unsigned int t = 0; t < ms; t++) {
		send_numbered(m, m->a, m->b, &m->up);
		send_numbered(m, m->b, m->a, &m->down);
		sim_run_for(&m->sim, MSEC);
		collect(m, m->b, &m->up);
		collect(m, m->a, &m->down);
	}
}

/* The client's stream only, one packet per millisecond: nothing comes back but keepalives. */
static inline void stream_up_for(struct mp *m, unsigned int ms)
{
	for (unsigned int t = 0; t < ms; t++) {
		send_numbered(m, m->a, m->b, &m->up);
		sim_run_for(&m->sim, MSEC);
		collect(m, m->b, &m->up);
	}
}

/* The longest run of lost packets among those numbered [from, to): milliseconds of loss. */
static inline unsigned int longest_gap(const struct stream *s, uint32_t from, uint32_t to)
{
	unsigned int run = 0, worst = 0;

	for (uint32_t i = from; i < to; i++) {
		run = s->arrived[i] ? 0 : run + 1;
		worst = run > worst ? run : worst;
	}
	return worst;
}

static inline unsigned int lost(const struct stream *s, uint32_t from, uint32_t to)
{
	unsigned int n = 0;

	for (uint32_t i = from; i < to; i++)
		n += !s->arrived[i];
	return n;
}

static inline enum braid_path_state state_of(struct braid_peer *peer, unsigned int slot)
{
	struct braid_path_info info[BRAID_MAX_PATHS];

	assert_true(braid_peer_get_paths(peer, info, BRAID_MAX_PATHS) > slot);
	return info[slot].state;
}

static inline void establish(struct mp *m)
{
	stream_for(m, 200);
	assert_true(m->up.arrived[100]);
	assert_true(m->down.arrived[100]);
}

#endif
