// SPDX-License-Identifier: MIT
/*
 * libbraid's callbacks for the event loop (see ops.h). Each one only
 * queues, collects or draws: what goes to the kernel goes after the call,
 * in as few system calls as the loop can make of it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "iolog.h"
#include "loop.h"
#include "ops.h"

/* Queued, not sent: after the call, the loop sends all of it in as few system calls as it can. */
static void op_send(void *ctx, struct braid_peer *peer, const struct braid_endpoint *to,
		    const uint8_t *buf, size_t len, uint8_t tos)
{
	struct loop *l = ctx;
	int fam = udp_family_index(to);

	/*
	 * A full queue drops the datagram and counts it (reported after the
	 * flush). Behind a blocked queue a datagram waits past this call, and
	 * its peer may be freed meanwhile: keep no pointer to it.
	 */
	if (fam >= 0)
		sendq_push(&l->sendq[fam], l->tx_blocked[fam] ? NULL : peer, to, buf, len, tos);
}

static void op_send_reply(void *ctx, const struct braid_endpoint *to, const uint8_t *buf,
			  size_t len)
{
	op_send(ctx, NULL, to, buf, len, 0);
}

uint8_t *ops_reserve(void *ctx, struct braid_peer *peer, const struct braid_endpoint *to,
		     size_t len, uint8_t tos)
{
	struct loop *l = ctx;
	int fam = udp_family_index(to);

	if (fam < 0)
		return NULL;
	return sendq_reserve(&l->sendq[fam], l->tx_blocked[fam] ? NULL : peer, to, len, tos);
}

static void check_tun_write(struct loop *l, int err)
{
	/* EIO: the link is down; the packet is dropped as the kernel would. */
	if (err == -EBADFD) {
		iolog_error("interface %s is gone", l->tun.name);
		l->running = false;
	} else if (err && err != -EIO) {
		iolog_verbose("TUN write failed: %s", strerror(-err));
	}
}

/* Collected, then coalesced and written by ops_flush_delivered() after the call. */
static void op_deliver(void *ctx, struct braid_peer *peer, uint8_t *pkt, size_t len)
{
	struct loop *l = ctx;

	check_tun_write(l, tun_writer_add(&l->writer, &l->tun, pkt, len));
}

void ops_flush_delivered(struct loop *l)
{
	check_tun_write(l, tun_writer_flush(&l->writer, &l->tun));
	tun_writer_window(&l->writer, NULL, 0);
}

static void fill_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Without randomness no key or index is safe: stop rather than guess. */
			iolog_error("getrandom: %s", strerror(errno));
			abort();
		}
		p += n;
		len -= n;
	}
}

/*
 * Small draws come from a pool refilled by one getrandom() per 256 bytes:
 * every sent batch that re-arms the new-handshake timer draws 4 bytes of
 * jitter, and would otherwise make a system call. A byte handed out is
 * wiped from the pool, so it never holds what a key was made from. The
 * control thread is the only caller; the janitor, forked after the pool
 * was first filled, never draws.
 */
static void op_random(void *ctx, void *buf, size_t len)
{
	struct loop *l = ctx;
	uint8_t *from;

	if (len > sizeof(l->random_pool)) {
		fill_random(buf, len);
		return;
	}
	if (l->random_left < len) {
		fill_random(l->random_pool, sizeof(l->random_pool));
		l->random_left = sizeof(l->random_pool);
	}
	from = l->random_pool + sizeof(l->random_pool) - l->random_left;
	memcpy(buf, from, len);
	explicit_bzero(from, len);
	l->random_left -= len;
}

static uint64_t op_wall_clock_ns(void *ctx)
{
	return watch_clock_ns(CLOCK_REALTIME);
}

const struct braid_ops ops_table = {
	.send = op_send,
	.send_reply = op_send_reply,
	.deliver = op_deliver,
	.random = op_random,
	.wall_clock_ns = op_wall_clock_ns,
	.log = iolog_from_core,
};

void ops_source_refused(void *ctx, struct braid_peer *peer, const struct braid_endpoint *to)
{
	struct loop *l = ctx;
	struct ops_refused *r;

	for (size_t i = 0; i < l->n_refused; i++) {
		r = &l->refused[i];
		if (r->peer == peer && sendq_same_source(&r->to, to))
			return;
	}
	/* When full, the peer's next send fails over again and gets another chance. */
	if (l->n_refused < OPS_MAX_REFUSED)
		l->refused[l->n_refused++] = (struct ops_refused){ .peer = peer, .to = *to };
}

void ops_forget_refused_sources(struct loop *l)
{
	for (size_t i = 0; i < l->n_refused; i++)
		braid_peer_source_refused(l->refused[i].peer, &l->refused[i].to);
	l->n_refused = 0;
}
