/* SPDX-License-Identifier: MIT */
/*
 * A simulated network for libbraid: devices in one process exchange
 * datagrams through in-memory queues under a fake clock. Time moves only
 * when a test says so, so an hour of timers runs in milliseconds.
 *
 * Each host has one device, an underlay address and a deterministic RNG
 * (splitmix64; keys and jitter come from it). Underlay addresses are
 * 198.51.100.N:51820; tunnel addresses 192.0.2.N. For multipath, a host may
 * get more addresses, each on an interface of its own (sim_add_uplink()):
 * a datagram leaves from the address its endpoint's src_ifindex or src
 * names, and a multihomed host learns which of its addresses a datagram came
 * to (src, src_ifindex), as IP_PKTINFO tells the daemon. Impairments per
 * address (sim_impair()) drop, lose or delay every datagram from or to it.
 */
#ifndef BRAID_TEST_SIM_H
#define BRAID_TEST_SIM_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "braid.h"

#define SIM_MAX_HOSTS 4
#define SIM_QUEUE 4096
#define SIM_PKT_MAX 2048
#define SIM_MAX_ADDRS 4
#define SIM_MAX_IMPAIRS 8
#define SIM_DELAYED 8192

struct sim_datagram {
	struct braid_endpoint to;
	struct braid_endpoint from;
	uint64_t due, seq;		/* delayed: when it arrives; sent before those of higher seq */
	uint8_t data[SIM_PKT_MAX];
	size_t len;
};

struct sim_delivered {
	struct braid_peer *peer;
	uint8_t data[SIM_PKT_MAX];
	size_t len;
};

struct sim;

struct sim_host {
	struct sim *sim;
	struct braid_device *dev;
	struct braid_endpoint addr;	/* the first of addrs */
	struct braid_endpoint addrs[SIM_MAX_ADDRS];	/* address i is on interface i + 1 */
	unsigned int n_addrs;
	uint8_t private_key[BRAID_KEY_LEN], public_key[BRAID_KEY_LEN];
	uint64_t rng;
	struct sim_datagram *out;	/* sent, not yet moved */
	size_t n_out;
	struct sim_delivered *delivered;
	size_t n_delivered;
	uint64_t sent_initiations, sent_responses, sent_cookies, sent_data, sent_keepalives;
	uint64_t last_initiation_at;
};

/* Return false to drop a datagram in flight. */
typedef bool sim_filter_fn(struct sim *sim, struct sim_host *from, struct sim_host *to,
			   struct sim_datagram *d);

/*
 * What happens to every datagram from or to one underlay address: loss,
 * delay, and a link rate each way, with a queue (tail drop past queue_max).
 */
struct sim_impair {
	uint32_t addr;			/* network order; 0: unused */
	bool blackhole;
	unsigned int loss_permille;
	uint64_t delay;			/* each way */
	uint64_t jitter;		/* delay +- up to this, uniform (reorders, as netem does) */
	uint64_t rate_bps;		/* each way; 0: unlimited */
	uint64_t queue_max;		/* ns of queue at rate_bps before datagrams drop; 0: 50 ms */
	uint64_t free_at[2];		/* the link is busy until: [0] from addr, [1] to addr */
	uint64_t dropped;
};

struct sim {
	struct sim_host hosts[SIM_MAX_HOSTS];
	unsigned int n_hosts;
	uint64_t now;
	uint64_t wall_base;
	sim_filter_fn *filter;
	void *filter_ctx;
	struct sim_impair impairs[SIM_MAX_IMPAIRS];
	uint64_t rng;			/* for losses */
	struct sim_datagram *delayed;	/* in flight, unordered */
	size_t n_delayed;
	uint64_t delayed_seq;
};

static inline uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void sim_random(void *ctx, void *buf, size_t len)
{
	struct sim_host *h = ctx;
	uint8_t *p = buf;

	while (len) {
		uint64_t r = splitmix64(&h->rng);
		size_t n = len < 8 ? len : 8;

		memcpy(p, &r, n);
		p += n;
		len -= n;
	}
}

static inline uint64_t sim_wall_clock(void *ctx)
{
	struct sim_host *h = ctx;

	return h->sim->wall_base + h->sim->now;
}

static inline void sim_count(struct sim_host *h, const uint8_t *buf, size_t len)
{
	switch (buf[0]) {
	case 1: ++h->sent_initiations; h->last_initiation_at = h->sim->now; break;
	case 2: ++h->sent_responses; break;
	case 3: ++h->sent_cookies; break;
	case 4:
		if (len == 32)
			++h->sent_keepalives;
		else
			++h->sent_data;
		break;
	}
}

/* The address a datagram to `to` leaves from: the interface or source it names, else the first. */
static inline const struct braid_endpoint *sim_source(const struct sim_host *h,
						     const struct braid_endpoint *to)
{
	unsigned int i;

	if (to->src_ifindex > 0 && (unsigned int)to->src_ifindex <= h->n_addrs)
		return &h->addrs[to->src_ifindex - 1];
	for (i = 0; i < h->n_addrs; ++i)
		if (to->src.in4.s_addr && to->src.in4.s_addr == h->addrs[i].addr.in4.sin_addr.s_addr)
			return &h->addrs[i];
	return &h->addr;
}

static inline void sim_enqueue(struct sim_host *h, const struct braid_endpoint *to, const uint8_t *buf,
			size_t len)
{
	struct sim_datagram *d;

	if (h->n_out == SIM_QUEUE || len > SIM_PKT_MAX)
		abort();
	d = &h->out[h->n_out++];
	d->to = *to;
	d->from = *sim_source(h, to);
	memcpy(d->data, buf, len);
	d->len = len;
	sim_count(h, buf, len);
}

static inline void sim_send(void *ctx, struct braid_peer *peer, const struct braid_endpoint *to,
		     const uint8_t *buf, size_t len, uint8_t tos)
{
	sim_enqueue(ctx, to, buf, len);
}

static inline void sim_send_reply(void *ctx, const struct braid_endpoint *to, const uint8_t *buf,
			   size_t len)
{
	sim_enqueue(ctx, to, buf, len);
}

static inline void sim_deliver(void *ctx, struct braid_peer *peer, uint8_t *pkt, size_t len)
{
	struct sim_host *h = ctx;
	struct sim_delivered *d;

	if (h->n_delivered == SIM_QUEUE || len > SIM_PKT_MAX)
		abort();
	d = &h->delivered[h->n_delivered++];
	d->peer = peer;
	memcpy(d->data, pkt, len);
	d->len = len;
}

static const struct braid_ops sim_ops = {
	.send = sim_send,
	.send_reply = sim_send_reply,
	.deliver = sim_deliver,
	.random = sim_random,
	.wall_clock_ns = sim_wall_clock,
};

static inline void sim_endpoint(struct braid_endpoint *ep, unsigned int host, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr.in4.sin_family = AF_INET;
	ep->addr.in4.sin_port = htons(port);
	ep->addr.in4.sin_addr.s_addr = htonl(0xc6336400 | host);	/* 198.51.100.host */
}

static inline uint32_t sim_tunnel_addr(unsigned int host)
{
	return htonl(0xc0000200 | host);	/* 192.0.2.host */
}

/* Add a host numbered n (1-based address), with its own identity. */
static inline struct sim_host *sim_add_host(struct sim *sim, const struct braid_device_config *config)
{
	struct sim_host *h = &sim->hosts[sim->n_hosts++];

	h->sim = sim;
	h->rng = 0x1234567 + sim->n_hosts * 1000003ULL;
	h->out = calloc(SIM_QUEUE, sizeof(*h->out));
	h->delivered = calloc(SIM_QUEUE, sizeof(*h->delivered));
	h->dev = braid_device_new(config, &sim_ops, h);
	if (!h->out || !h->delivered || !h->dev)
		abort();
	sim_endpoint(&h->addr, sim->n_hosts, 51820);
	h->addrs[0] = h->addr;
	h->n_addrs = 1;
	sim_random(h, h->private_key, BRAID_KEY_LEN);
	braid_clamp_private_key(h->private_key);
	braid_public_key(h->public_key, h->private_key);
	braid_device_set_private_key(h->dev, h->private_key);
	return h;
}

static inline unsigned int sim_host_number(const struct sim *sim, const struct sim_host *h)
{
	return (unsigned int)(h - sim->hosts) + 1;
}

/* Make b a peer of a: b's tunnel address as its allowed IP, b's underlay as endpoint. */
static inline struct braid_peer *sim_connect(struct sim *sim, struct sim_host *a, struct sim_host *b,
				      bool with_endpoint)
{
	struct braid_peer *peer = braid_peer_new(a->dev, b->public_key);
	uint32_t addr = sim_tunnel_addr(sim_host_number(sim, b));

	if (!peer || braid_peer_add_allowed_ip(peer, AF_INET, &addr, 32))
		abort();
	if (with_endpoint)
		braid_peer_set_endpoint(peer, &b->addr);
	return peer;
}

static inline void sim_init(struct sim *sim)
{
	memset(sim, 0, sizeof(*sim));
	sim->wall_base = 1700000000ULL * 1000000000ULL;
	sim->now = 5 * 1000000000ULL;
	sim->rng = 0x5eed;
}

static inline void sim_free(struct sim *sim)
{
	unsigned int i;

	for (i = 0; i < sim->n_hosts; ++i) {
		braid_device_free(sim->hosts[i].dev);
		free(sim->hosts[i].out);
		free(sim->hosts[i].delivered);
	}
	free(sim->delayed);
}

/*
 * Give h another underlay address, on interface n_addrs + 1: 203.0.113.N for
 * the second, then 198.51.100.(64 + N) and 203.0.113.(64 + N).
 */
static inline const struct braid_endpoint *sim_add_uplink(struct sim *sim, struct sim_host *h)
{
	static const uint32_t nets[SIM_MAX_ADDRS] = { 0xc6336400, 0xcb007100, 0xc6336440,
						      0xcb007140 };
	struct braid_endpoint *ep;

	if (h->n_addrs == SIM_MAX_ADDRS)
		abort();
	ep = &h->addrs[h->n_addrs];
	sim_endpoint(ep, 0, 51820);
	ep->addr.in4.sin_addr.s_addr = htonl(nets[h->n_addrs] | sim_host_number(sim, h));
	h->n_addrs++;
	return ep;
}

/* The host, and which of its addresses, a datagram to ep reaches. */
static inline struct sim_host *sim_host_at(struct sim *sim, const struct braid_endpoint *ep,
					   unsigned int *index)
{
	unsigned int i, j;

	for (i = 0; i < sim->n_hosts; ++i) {
		for (j = 0; j < sim->hosts[i].n_addrs; ++j) {
			if (sim->hosts[i].addrs[j].addr.in4.sin_addr.s_addr ==
			    ep->addr.in4.sin_addr.s_addr) {
				if (index)
					*index = j;
				return &sim->hosts[i];
			}
		}
	}
	return NULL;
}

/* The impairment of addr (network order), made on first use. */
static inline struct sim_impair *sim_impair(struct sim *sim, uint32_t addr)
{
	struct sim_impair *free_slot = NULL;
	unsigned int i;

	for (i = 0; i < SIM_MAX_IMPAIRS; ++i) {
		if (sim->impairs[i].addr == addr)
			return &sim->impairs[i];
		if (!sim->impairs[i].addr && !free_slot)
			free_slot = &sim->impairs[i];
	}
	if (!free_slot)
		abort();
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->addr = addr;
	return free_slot;
}

/* A link of rate_bps: when d would finish crossing it, or false when its queue is full. */
static inline bool sim_serialize(struct sim *sim, struct sim_impair *im, unsigned int dir,
				 const struct sim_datagram *d, uint64_t *delay)
{
	uint64_t start = im->free_at[dir] > sim->now ? im->free_at[dir] : sim->now;
	uint64_t limit = im->queue_max ? im->queue_max : 50000000ULL;

	if (start - sim->now > limit)
		return false;
	im->free_at[dir] = start + (uint64_t)d->len * 8 * 1000000000ULL / im->rate_bps;
	*delay += im->free_at[dir] - sim->now;
	return true;
}

/* What the impairments of both ends do to d: false when it is lost; else *delay. */
static inline bool sim_impaired(struct sim *sim, const struct sim_datagram *d, uint64_t *delay)
{
	uint32_t ends[2] = { d->from.addr.in4.sin_addr.s_addr, d->to.addr.in4.sin_addr.s_addr };
	unsigned int i, e;

	*delay = 0;
	for (e = 0; e < 2; ++e) {
		for (i = 0; i < SIM_MAX_IMPAIRS; ++i) {
			struct sim_impair *im = &sim->impairs[i];

			if (!im->addr || im->addr != ends[e])
				continue;
			if (im->blackhole ||
			    (im->loss_permille && splitmix64(&sim->rng) % 1000 < im->loss_permille) ||
			    (im->rate_bps && !sim_serialize(sim, im, e, d, delay))) {
				im->dropped++;
				return false;
			}
			*delay += im->delay;
			if (im->jitter)
				*delay += splitmix64(&sim->rng) % (2 * im->jitter) - im->jitter;
		}
	}
	return true;
}

static inline void sim_deliver_now(struct sim *sim, struct sim_datagram *d)
{
	unsigned int index = 0;
	struct sim_host *to = sim_host_at(sim, &d->to, &index);

	if (!to)
		return;
	/* A multihomed host learns which of its addresses the datagram came to. */
	if (to->n_addrs > 1) {
		d->from.src.in4 = to->addrs[index].addr.in4.sin_addr;
		d->from.src_ifindex = (int)index + 1;
	}
	braid_device_receive(to->dev, sim->now, &d->from, d->data, d->len);
}

/* Deliver what is due, then move every queued datagram, until the network is quiet. */
static inline size_t sim_flush(struct sim *sim)
{
	size_t moved = 0, i;
	unsigned int h;
	bool again = true;
	uint64_t delay;
	static struct sim_datagram batch[SIM_QUEUE];

	while (again) {
		again = false;
		/* Due datagrams arrive in the order they are due, and as sent among equals. */
		for (;;) {
			size_t first = sim->n_delayed;

			for (i = 0; i < sim->n_delayed; ++i)
				if (sim->delayed[i].due <= sim->now &&
				    (first == sim->n_delayed ||
				     sim->delayed[i].due < sim->delayed[first].due ||
				     (sim->delayed[i].due == sim->delayed[first].due &&
				      sim->delayed[i].seq < sim->delayed[first].seq)))
					first = i;
			if (first == sim->n_delayed)
				break;
			batch[0] = sim->delayed[first];
			sim->delayed[first] = sim->delayed[--sim->n_delayed];
			sim_deliver_now(sim, &batch[0]);
			again = true;
			++moved;
		}
		for (h = 0; h < sim->n_hosts; ++h) {
			struct sim_host *from = &sim->hosts[h];
			size_t n = from->n_out;

			if (!n)
				continue;
			again = true;
			memcpy(batch, from->out, n * sizeof(*batch));
			from->n_out = 0;
			for (i = 0; i < n; ++i) {
				struct sim_host *to = sim_host_at(sim, &batch[i].to, NULL);

				if (!to || (sim->filter && !sim->filter(sim, from, to, &batch[i])))
					continue;
				if (!sim_impaired(sim, &batch[i], &delay))
					continue;
				if (delay) {
					if (!sim->delayed)
						sim->delayed = calloc(SIM_DELAYED, sizeof(*sim->delayed));
					if (!sim->delayed || sim->n_delayed == SIM_DELAYED)
						abort();
					batch[i].due = sim->now + delay;
					batch[i].seq = sim->delayed_seq++;
					sim->delayed[sim->n_delayed++] = batch[i];
					continue;
				}
				sim_deliver_now(sim, &batch[i]);
				++moved;
			}
		}
	}
	return moved;
}

static inline uint64_t sim_next_deadline(struct sim *sim)
{
	uint64_t next = BRAID_NEVER, d;
	unsigned int i;

	for (i = 0; i < sim->n_hosts; ++i) {
		d = braid_device_next_deadline(sim->hosts[i].dev);
		if (d < next)
			next = d;
	}
	for (i = 0; i < sim->n_delayed; ++i)
		if (sim->delayed[i].due < next)
			next = sim->delayed[i].due;
	return next;
}

/* Run every timer up to and including `until`, moving packets after each step. */
static inline void sim_run_until(struct sim *sim, uint64_t until)
{
	unsigned int i;
	uint64_t next;

	sim_flush(sim);
	while ((next = sim_next_deadline(sim)) <= until) {
		if (next > sim->now)
			sim->now = next;
		for (i = 0; i < sim->n_hosts; ++i)
			braid_device_tick(sim->hosts[i].dev, sim->now);
		sim_flush(sim);
	}
	sim->now = until;
}

static inline void sim_run_for(struct sim *sim, uint64_t ns)
{
	sim_run_until(sim, sim->now + ns);
}

/* A minimal IPv4/UDP packet from tunnel host src to dst with a payload of len bytes. */
static inline size_t sim_ipv4_packet(uint8_t *buf, uint32_t src, uint32_t dst, size_t len, uint8_t fill)
{
	size_t total = 28 + len;
	uint32_t sum = 0;
	unsigned int i;

	memset(buf, 0, 28);
	buf[0] = 0x45;
	buf[2] = (uint8_t)(total >> 8);
	buf[3] = (uint8_t)total;
	buf[8] = 64;
	buf[9] = 17;
	memcpy(buf + 12, &src, 4);
	memcpy(buf + 16, &dst, 4);
	for (i = 0; i < 20; i += 2)
		sum += (uint32_t)buf[i] << 8 | buf[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	buf[10] = (uint8_t)(~sum >> 8);
	buf[11] = (uint8_t)~sum;
	buf[20] = 0x30; buf[21] = 0x39; buf[22] = 0x30; buf[23] = 0x39;
	buf[24] = (uint8_t)((8 + len) >> 8);
	buf[25] = (uint8_t)(8 + len);
	for (i = 0; i < len; ++i)
		buf[28 + i] = (uint8_t)(fill + i);
	return total;
}

/* Send one tunnel packet from host a to host b's tunnel address. */
static inline size_t sim_send_packet(struct sim *sim, struct sim_host *a, struct sim_host *b,
			      size_t payload, uint8_t fill)
{
	uint8_t buf[SIM_PKT_MAX], *pkts[1] = { buf };
	size_t len = sim_ipv4_packet(buf, sim_tunnel_addr(sim_host_number(sim, a)),
				     sim_tunnel_addr(sim_host_number(sim, b)), payload, fill);

	return braid_device_send(a->dev, sim->now, pkts, &len, 1);
}

#endif
