// SPDX-License-Identifier: MIT
/*
 * Handshakes a server answers per second when it holds many peers, next to
 * one that holds only the handful that handshake: the lookups on the
 * handshake path (the initiator's public key, the receiver index of the
 * first data message, the allowed IPs its inner source is checked against)
 * must not grow with the peer count.
 *
 * In one process, under a fake clock (libbraid takes its time from the
 * caller): a server device configured with CLIENTS real peers, each a
 * device of its own with its own source address, plus N idle ones (a /64
 * and a /128 of 2001:db8::/32 each, as bench/scale.sh configures them).
 * A round: every client initiates; the server consumes the initiation and
 * answers; the client consumes the response and confirms with a keepalive;
 * then it sends one data packet, which the server decrypts and checks
 * against the allowed IPs. Rounds are 6 fake seconds apart (a peer
 * initiates at most once per REKEY_TIMEOUT). Only the server's calls are
 * timed: its handshakes per second, the median over ROUNDS passes that
 * alternate between the peer counts, so drift hits them alike.
 *
 *	handshakes [N...]	(default: 0 100000)
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "braid.h"

enum {
	CLIENTS = 64,
	ROUNDS_PER_PASS = 40,
	PASSES = 5,
	QUEUE = 16,
	PKT_MAX = 256,
};

#define SEC 1000000000ULL

struct datagram {
	uint8_t data[PKT_MAX];
	size_t len;
};

/* A device and what it sent since it was last asked. */
struct host {
	struct braid_device *dev;
	struct braid_endpoint addr;
	uint64_t rng;
	struct datagram out[QUEUE];
	size_t n_out;
	size_t delivered;
};

static uint64_t fake_now = 10 * SEC;

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void capture(struct host *h, const uint8_t *buf, size_t len)
{
	if (h->n_out == QUEUE || len > PKT_MAX)
		die("a host sent more than expected");
	memcpy(h->out[h->n_out].data, buf, len);
	h->out[h->n_out++].len = len;
}

static void op_send(void *ctx, struct braid_peer *peer, const struct braid_endpoint *to,
		    const uint8_t *buf, size_t len, uint8_t tos)
{
	capture(ctx, buf, len);
}

static void op_send_reply(void *ctx, const struct braid_endpoint *to, const uint8_t *buf,
			  size_t len)
{
	capture(ctx, buf, len);
}

static void op_deliver(void *ctx, struct braid_peer *peer, uint8_t *pkt, size_t len)
{
	((struct host *)ctx)->delivered++;
}

static void op_random(void *ctx, void *buf, size_t len)
{
	struct host *h = ctx;
	uint8_t *p = buf;

	while (len) {
		uint64_t r = splitmix(&h->rng);
		size_t n = len < 8 ? len : 8;

		memcpy(p, &r, n);
		p += n;
		len -= n;
	}
}

static uint64_t op_wall_clock(void *ctx)
{
	return 1700000000ULL * SEC + fake_now;
}

static const struct braid_ops ops = {
	.send = op_send,
	.send_reply = op_send_reply,
	.deliver = op_deliver,
	.random = op_random,
	.wall_clock_ns = op_wall_clock,
};

static void host_init(struct host *h, uint32_t addr, uint64_t seed,
		      const struct braid_device_config *config, uint8_t public_key[BRAID_KEY_LEN])
{
	uint8_t key[BRAID_KEY_LEN];

	memset(h, 0, sizeof(*h));
	h->rng = seed;
	h->dev = braid_device_new(config, &ops, h);
	if (!h->dev)
		die("braid_device_new");
	h->addr.addr.in4.sin_family = AF_INET;
	h->addr.addr.in4.sin_port = htons(51820);
	h->addr.addr.in4.sin_addr.s_addr = htonl(addr);
	op_random(h, key, sizeof(key));
	braid_clamp_private_key(key);
	braid_public_key(public_key, key);
	braid_device_set_private_key(h->dev, key);
}

/* Idle peer i of the server: a random key, a /64 and a /128. */
static void add_idle_peer(struct braid_device *dev, uint64_t *rng, size_t i)
{
	uint8_t key[BRAID_KEY_LEN], addr[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	struct braid_peer *peer;

	for (int j = 0; j < BRAID_KEY_LEN; j += 8) {
		uint64_t r = splitmix(rng);

		memcpy(key + j, &r, 8);
	}
	peer = braid_peer_new(dev, key);
	if (!peer)
		die("braid_peer_new");
	addr[4] = (uint8_t)(0x10 + (i >> 24)), addr[5] = (uint8_t)(i >> 16);
	addr[6] = (uint8_t)(i >> 8), addr[7] = (uint8_t)i;
	if (braid_peer_add_allowed_ip(peer, AF_INET6, addr, 64))
		die("allowed IP");
	memset(addr + 4, 0, 12);
	addr[4] = 0xff, addr[12] = (uint8_t)(i >> 24), addr[13] = (uint8_t)(i >> 16);
	addr[14] = (uint8_t)(i >> 8), addr[15] = (uint8_t)i;
	if (braid_peer_add_allowed_ip(peer, AF_INET6, addr, 128))
		die("allowed IP");
}

struct world {
	struct host server;
	struct host clients[CLIENTS];
	struct braid_peer *to_server[CLIENTS];
	uint64_t server_ns;		/* the server's time in its calls */
	size_t handshakes;
};

/* An IPv4/UDP packet from client i's tunnel address 192.0.2.(10+i) to the server's 192.0.2.1. */
static size_t inner_packet(uint8_t *buf, unsigned int i)
{
	uint32_t sum = 0;

	memset(buf, 0, 48);
	buf[0] = 0x45, buf[3] = 48, buf[8] = 64, buf[9] = 17;
	buf[12] = 192, buf[13] = 0, buf[14] = 2, buf[15] = (uint8_t)(10 + i);
	buf[16] = 192, buf[17] = 0, buf[18] = 2, buf[19] = 1;
	for (int k = 0; k < 20; k += 2)
		sum += (uint32_t)buf[k] << 8 | buf[k + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	buf[10] = (uint8_t)(~sum >> 8), buf[11] = (uint8_t)~sum;
	buf[21] = 9, buf[23] = 9, buf[25] = 28;
	return 48;
}

static void world_init(struct world *w, size_t idle)
{
	/* No device-wide cookie mode: every handshake is processed. */
	const struct braid_device_config config = { .handshake_load_rate = 1u << 30 };
	uint8_t server_pub[BRAID_KEY_LEN], client_pub[BRAID_KEY_LEN];
	uint64_t rng = 0x5ca1e;
	struct braid_peer *peer;
	uint32_t tunnel;

	memset(w, 0, sizeof(*w));
	host_init(&w->server, 0xcb007101, 1, &config, server_pub);	/* 203.0.113.1 */
	for (unsigned int i = 0; i < CLIENTS; i++) {
		host_init(&w->clients[i], 0xc6336401 + i, 100 + i, NULL, client_pub);
		peer = braid_peer_new(w->server.dev, client_pub);
		tunnel = htonl(0xc000020a + i);				/* 192.0.2.(10+i) */
		if (!peer || braid_peer_add_allowed_ip(peer, AF_INET, &tunnel, 32))
			die("server's peer");
		w->to_server[i] = braid_peer_new(w->clients[i].dev, server_pub);
		tunnel = htonl(0xc0000201);				/* 192.0.2.1 */
		if (!w->to_server[i] ||
		    braid_peer_add_allowed_ip(w->to_server[i], AF_INET, &tunnel, 32))
			die("client's peer");
		braid_peer_set_endpoint(w->to_server[i], &w->server.addr);
	}
	for (size_t i = 0; i < idle; i++)
		add_idle_peer(w->server.dev, &rng, i);
}

static void world_free(struct world *w)
{
	braid_device_free(w->server.dev);
	for (unsigned int i = 0; i < CLIENTS; i++)
		braid_device_free(w->clients[i].dev);
}

/* Hand the server what h sent, timing the server; its replies go back to h. */
static void to_server(struct world *w, struct host *h)
{
	struct datagram d;
	uint64_t t0;

	while (h->n_out) {
		d = h->out[0];
		memmove(h->out, h->out + 1, --h->n_out * sizeof(h->out[0]));
		t0 = now_ns();
		if (braid_device_receive(w->server.dev, fake_now, &h->addr, d.data, d.len) !=
		    BRAID_OK)
			die("the server dropped a message");
		w->server_ns += now_ns() - t0;
	}
}

static void to_client(struct world *w, struct host *h)
{
	struct datagram d;

	while (w->server.n_out) {
		d = w->server.out[0];
		memmove(w->server.out, w->server.out + 1,
			--w->server.n_out * sizeof(w->server.out[0]));
		if (braid_device_receive(h->dev, fake_now, &w->server.addr, d.data, d.len) !=
		    BRAID_OK)
			die("a client dropped a message");
	}
}

static void round_trip(struct world *w, bool timed)
{
	uint8_t pkt[64], *pkts[1] = { pkt };
	size_t len;

	fake_now += 6 * SEC;
	for (unsigned int i = 0; i < CLIENTS; i++) {
		struct host *c = &w->clients[i];
		uint64_t before = w->server_ns;

		braid_peer_initiate_handshake(w->to_server[i], fake_now);
		to_server(w, c);		/* the initiation */
		to_client(w, c);		/* the response; the client confirms */
		to_server(w, c);		/* its keepalive */
		len = inner_packet(pkt, i);
		braid_device_send(c->dev, fake_now, pkts, &len, 1);
		to_server(w, c);		/* a data packet, routed back to client i */
		if (!timed)
			w->server_ns = before;
		else
			w->handshakes++;
	}
}

/* One pass: a fresh world, a round to warm it, then the timed rounds; handshakes/s. */
static double pass(size_t idle)
{
	struct world *w = malloc(sizeof(*w));
	size_t delivered;
	double rate;

	if (!w)
		die("memory");
	world_init(w, idle);
	round_trip(w, false);
	delivered = w->server.delivered;
	for (unsigned int r = 0; r < ROUNDS_PER_PASS; r++)
		round_trip(w, true);
	if (w->server.delivered - delivered != w->handshakes)
		die("a data packet was not delivered");
	rate = w->handshakes / (w->server_ns / 1e9);
	world_free(w);
	free(w);
	return rate;
}

int main(int argc, char **argv)
{
	size_t counts[8] = { 0, 100000 }, n_counts = 2;
	double rates[8][PASSES], med;

	if (!braid_init())
		die("braid_init");
	if (argc > 1) {
		n_counts = 0;
		for (int i = 1; i < argc && n_counts < 8; i++)
			counts[n_counts++] = strtoul(argv[i], NULL, 10);
	}
	for (unsigned int p = 0; p < PASSES; p++)
		for (size_t c = 0; c < n_counts; c++)
			rates[c][p] = pass(counts[c]);
	printf("handshakes the server answers per second (initiation, response, keepalive and one "
	       "data packet each; %d clients, median of %d passes of %d rounds):\n", CLIENTS,
	       PASSES, ROUNDS_PER_PASS);
	for (size_t c = 0; c < n_counts; c++) {
		qsort(rates[c], PASSES, sizeof(double), cmp_double);
		med = rates[c][PASSES / 2];
		printf("  %8zu other peers: %8.0f /s  (%.0f .. %.0f)%s\n", counts[c], med,
		       rates[c][0], rates[c][PASSES - 1],
		       c ? "" : "  <- the reference");
		if (c)
			printf("  %31s %.2f of the reference\n", "", med / rates[0][PASSES / 2]);
	}
	return 0;
}
