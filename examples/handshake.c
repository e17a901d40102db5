// SPDX-License-Identifier: MIT
/*
 * libbraid's quick start: two WireGuard devices in one process, joined by a
 * queue instead of a network. Device a sends one inner IPv4 packet to b; the
 * library stages it, makes a handshake (initiation, response), then sends it
 * sealed; b opens it and hands it to its deliver callback. No socket, no
 * thread, no clock of the library's own: time is a number we pass in.
 *
 *   cc handshake.c $(pkg-config --cflags --libs braid) -o handshake && ./handshake
 *
 * Exits 0 and says so when b received the packet after a completed handshake.
 */
#include <arpa/inet.h>
#include <braid.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

enum { QUEUE_MAX = 16, DATAGRAM_MAX = 2048 };

/* A datagram on its way, and who it is for. */
struct datagram {
	int to;
	struct braid_endpoint from;
	size_t len;
	uint8_t buf[DATAGRAM_MAX];
};

struct host {
	int id;
	struct braid_device *dev;
	struct braid_endpoint self;	/* the address the other side sends to */
	int delivered;
};

static struct host hosts[2];
static struct datagram queue[QUEUE_MAX];
static int queued;

/* Callbacks must not call back into the device: datagrams wait in the queue. */
static void on_send(void *ctx, struct braid_peer *peer, const struct braid_endpoint *to,
		    const uint8_t *buf, size_t len, uint8_t tos)
{
	struct host *h = ctx;

	(void)peer, (void)to, (void)tos;
	if (queued == QUEUE_MAX || len > DATAGRAM_MAX)
		return;
	queue[queued] = (struct datagram){ .to = !h->id, .from = h->self, .len = len };
	memcpy(queue[queued++].buf, buf, len);
}

static void on_send_reply(void *ctx, const struct braid_endpoint *to, const uint8_t *buf,
			  size_t len)
{
	on_send(ctx, NULL, to, buf, len, 0);
}

static void on_deliver(void *ctx, struct braid_peer *peer, uint8_t *pkt, size_t len)
{
	struct host *h = ctx;

	(void)peer, (void)pkt;
	printf("host %c: received an inner packet of %zu bytes\n", 'a' + h->id, len);
	h->delivered++;
}

static void on_random(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	if (getrandom(buf, len, 0) != (ssize_t)len)
		memset(buf, 0, len);
}

static uint64_t on_wall_clock(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static const struct braid_ops ops = {
	.send = on_send,
	.send_reply = on_send_reply,
	.deliver = on_deliver,
	.random = on_random,
	.wall_clock_ns = on_wall_clock,
};

static void endpoint(struct braid_endpoint *ep, const char *addr, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr.in4.sin_family = AF_INET;
	ep->addr.in4.sin_port = htons(port);
	inet_pton(AF_INET, addr, &ep->addr.in4.sin_addr);
}

/* Host i with its key; its peer is the other host, allowed the other's tunnel address. */
static int setup(uint8_t priv[2][BRAID_KEY_LEN])
{
	static const char *const underlay[] = { "198.51.100.1", "198.51.100.2" };
	static const char *const tunnel[] = { "192.0.2.1", "192.0.2.2" };

	for (int i = 0; i < 2; i++) {
		hosts[i].id = i;
		endpoint(&hosts[i].self, underlay[i], 51820);
		hosts[i].dev = braid_device_new(NULL, &ops, &hosts[i]);
		if (!hosts[i].dev)
			return -1;
		braid_device_set_private_key(hosts[i].dev, priv[i]);
	}
	for (int i = 0; i < 2; i++) {
		uint8_t pub[BRAID_KEY_LEN];
		struct in_addr inner;
		struct braid_peer *peer;

		braid_public_key(pub, priv[!i]);
		peer = braid_peer_new(hosts[i].dev, pub);
		if (!peer)
			return -1;
		inet_pton(AF_INET, tunnel[!i], &inner);
		braid_peer_add_allowed_ip(peer, AF_INET, &inner, 32);
		braid_peer_set_endpoint(peer, &hosts[!i].self);
	}
	return 0;
}

/* An IPv4 packet from 192.0.2.1 to 192.0.2.2 with a few bytes of payload. */
static size_t inner_packet(uint8_t *pkt)
{
	static const uint8_t header[20] = {
		0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
	};
	uint32_t sum = 0;

	memcpy(pkt, header, sizeof(header));
	memset(pkt + 20, 0, 8);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(pkt[i] << 8 | pkt[i + 1]);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~(sum + (sum >> 16)) & 0xffff;
	pkt[10] = (uint8_t)(sum >> 8);
	pkt[11] = (uint8_t)sum;
	return 28;
}

int main(void)
{
	uint8_t priv[2][BRAID_KEY_LEN], pkt[64], *pkts[1] = { pkt };
	size_t lens[1];
	struct braid_peer_stats stats;
	uint64_t now = 1000000000ULL;

	if (!braid_init())
		return fprintf(stderr, "braid_init: libcrypto is not usable\n"), 1;
	for (int i = 0; i < 2; i++) {
		on_random(NULL, priv[i], BRAID_KEY_LEN);
		braid_clamp_private_key(priv[i]);
	}
	if (setup(priv))
		return fprintf(stderr, "cannot create the devices\n"), 1;
	lens[0] = inner_packet(pkt);
	braid_device_send(hosts[0].dev, now, pkts, lens, 1);
	/* Carry datagrams across until nothing is left to carry. */
	for (int rounds = 0; queued && rounds < 10; rounds++) {
		struct datagram batch[QUEUE_MAX];
		int n = queued;

		memcpy(batch, queue, sizeof(batch[0]) * (size_t)n);
		queued = 0;
		now += 1000000;
		for (int i = 0; i < n; i++)
			braid_device_receive(hosts[batch[i].to].dev, now, &batch[i].from,
					     batch[i].buf, batch[i].len);
	}
	braid_peer_get_stats(braid_device_next_peer(hosts[1].dev, NULL), &stats);
	printf("handshake %s; host b delivered %d packet(s)\n",
	       stats.last_handshake_ns ? "completed" : "not completed", hosts[1].delivered);
	for (int i = 0; i < 2; i++)
		braid_device_free(hosts[i].dev);
	return stats.last_handshake_ns && hosts[1].delivered == 1 ? 0 : 1;
}
