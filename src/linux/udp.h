/* SPDX-License-Identifier: MIT */
/*
 * The underlay: one UDP socket per address family on the listen port.
 * The IPv6 socket is IPV6_V6ONLY so each family has its own socket and its
 * own packet-info control messages. Either family may be missing (a host
 * without IPv6), not both.
 */
#ifndef BRAID_UDP_H
#define BRAID_UDP_H

#include <braid.h>
#include <sys/socket.h>

enum {
	UDP_BATCH = 64,			/* datagrams per recvmmsg */
	UDP_BUF_LEN = 65536,		/* any UDP payload fits: no truncation */
};

struct udp {
	int fd4, fd6;			/* -1 when that family is unavailable */
	uint16_t port;			/* bound port, the kernel's pick when 0 was asked */
	uint32_t fwmark;		/* SO_MARK on both sockets; 0 = none */
};

/* Receive state for one recvmmsg batch; the caller provides the buffers. */
struct udp_batch {
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_in6 names[UDP_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} cmsg[UDP_BATCH];
	uint8_t *bufs[UDP_BATCH];	/* each UDP_BUF_LEN bytes */
};

/* Sockets bound to port (0 = any) with fwmark: 0 or -errno. */
int udp_open(struct udp *u, uint16_t port, uint32_t fwmark);
void udp_close(struct udp *u);

/*
 * Change the port and/or the mark, all or nothing: new sockets are bound
 * before the old ones close, so a port in use leaves everything as it was.
 * When the port changes, *rebound is set and the caller must watch the new
 * fds. 0 or -errno.
 */
int udp_reconfigure(struct udp *u, bool set_port, uint16_t port, bool set_mark, uint32_t mark,
		    bool *rebound);

/*
 * Send one datagram, from to->src when it is set. When the kernel refuses
 * that source (the address is gone, or no route leaves from it), send again
 * without it and set
 * *source_stale so the caller can make the peer forget it. 0 or -errno.
 */
int udp_send(struct udp *u, const struct braid_endpoint *to, const uint8_t *buf, size_t len,
	     uint8_t tos, bool *source_stale);

/*
 * Receive up to UDP_BATCH datagrams from fd without blocking: fills from[i]
 * (sender, and the local address and interface it arrived on) and lens[i].
 * Returns how many, 0 when none is waiting, or -errno.
 */
int udp_recv_batch(int fd, struct udp_batch *b, struct braid_endpoint from[], size_t lens[]);

#endif
