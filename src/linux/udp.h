/* SPDX-License-Identifier: MIT */
/*
 * The underlay: one UDP socket per address family on the listen port.
 * The IPv6 socket is IPV6_V6ONLY so each family has its own socket and its
 * own packet-info control messages. Either family may be missing (a host
 * without IPv6), not both. Sends are batched (sendmmsg, UDP_SEGMENT) and so
 * are receives (recvmmsg, UDP_GRO), each offload probed per socket.
 */
#ifndef BRAID_UDP_H
#define BRAID_UDP_H

#include <braid.h>
#include <sys/socket.h>

#include "sendq.h"

enum {
	UDP_RECV_MSGS = 64,	/* messages per recvmmsg, at most */
	UDP_BUF_LEN = 65536,	/* any UDP payload fits, a UDP_GRO one too */
	/*
	 * Datagrams one receive should bring at most. A UDP_GRO message holds
	 * up to 64: fewer messages are asked for when they come that full, so
	 * one wakeup's work stays near a quarter of a millisecond and TUN,
	 * timers and the UAPI get their turn (see TUN_READER_BUDGET).
	 */
	UDP_RECV_BUDGET = 128,
};

enum { UDP_V4, UDP_V6, UDP_FAMILIES };

struct udp_sock {
	int fd;				/* -1 when that family is unavailable */
	bool has_gso;			/* sends may use UDP_SEGMENT (until one shows otherwise) */
	bool gso_worked;		/* a UDP_SEGMENT send has gone through */
	bool has_gro;			/* receives may hold several datagrams (UDP_GRO) */
	unsigned int recv_vlen;		/* messages the next recvmmsg asks for */
};

struct udp {
	struct udp_sock sock[UDP_FAMILIES];
	uint16_t port;			/* bound port, the kernel's pick when 0 was asked */
	uint32_t fwmark;		/* SO_MARK on both sockets; 0 = none */
	bool use_offloads;		/* try UDP_SEGMENT and UDP_GRO */
};

/*
 * Receive state for one recvmmsg batch; the caller provides the buffers.
 * Message i arrived from from[i] with lens[i] bytes in bufs[i]; with UDP_GRO
 * those hold datagrams of gso[i] bytes each (the last may be shorter), 0 when
 * the message is a single datagram (see udp_gro_next()).
 */
struct udp_recv {
	struct mmsghdr msgs[UDP_RECV_MSGS];
	struct iovec iov[UDP_RECV_MSGS];
	struct sockaddr_in6 names[UDP_RECV_MSGS];
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cmsg[UDP_RECV_MSGS];
	uint8_t *bufs[UDP_RECV_MSGS];	/* each UDP_BUF_LEN bytes */
	struct braid_endpoint from[UDP_RECV_MSGS];
	size_t lens[UDP_RECV_MSGS];
	size_t gso[UDP_RECV_MSGS];
};

/* Sockets bound to port (0 = any) with fwmark, offloads tried or not: 0 or -errno. */
int udp_open(struct udp *u, uint16_t port, uint32_t fwmark, bool use_offloads);
void udp_close(struct udp *u);

/* UDP_V4 or UDP_V6 for an endpoint's family; -1 for any other. */
int udp_family_index(const struct braid_endpoint *ep);

/*
 * Change the port and/or the mark, all or nothing: new sockets are bound
 * before the old ones close, so a port in use leaves everything as it was.
 * When the port changes, *rebound is set and the caller must watch the new
 * fds. 0 or -errno.
 */
int udp_reconfigure(struct udp *u, bool set_port, uint16_t port, bool set_mark, uint32_t mark,
		    bool *rebound);

/*
 * The kernel refused to send peer's datagram from to->src, its sticky
 * source; it went out without one. to lives only during the call.
 */
typedef void udp_source_refused_fn(void *ctx, struct braid_peer *peer,
				   const struct braid_endpoint *to);

/*
 * Send what q holds on socket fam, in order, with as few system calls as
 * the kernel allows (sendmmsg, UDP_SEGMENT). A datagram whose source the
 * kernel refuses goes out without it, and refused() hears of it with the
 * endpoint it had (a cookie reply, which has no peer, is not reported); one
 * the kernel refuses otherwise is dropped and counted. 0 when q is empty,
 * -EAGAIN when the socket buffer is full (wait for EPOLLOUT, q keeps the rest).
 */
int udp_flush(struct udp *u, int fam, struct sendq *q, struct sendq_msgs *m,
	      udp_source_refused_fn *refused, void *ctx);

/*
 * The length of the datagram at off in a buffer of len bytes that UDP_GRO
 * filled with segments of gso bytes each, the last possibly shorter (gso 0:
 * not coalesced, one datagram). 0 past the end: advance off by each length.
 */
size_t udp_gro_next(size_t len, size_t gso, size_t off);

/* Messages to ask for so that, at per_msg datagrams each, about budget arrive: 1 to max. */
unsigned int udp_recv_vlen(size_t budget, size_t per_msg, unsigned int max);

/*
 * Receive up to s->recv_vlen messages into b without blocking: how many, 0
 * when none, or -errno. Then udp_recv_done() with the datagrams they held.
 */
int udp_recv_batch(struct udp_sock *s, struct udp_recv *b);
void udp_recv_done(struct udp_sock *s, int msgs, size_t datagrams);

#endif
