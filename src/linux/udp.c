// SPDX-License-Identifier: MIT
/*
 * UDP sockets for the underlay.
 *
 * Rules every socket follows:
 *  - Outer packets never carry DF (IP_PMTUDISC_DONT, IPV6_DONTFRAG off): a
 *    smaller-MTU path fragments them instead of black-holing the tunnel.
 *  - Packet info is received, so a reply leaves from the address the peer
 *    sent to (the sticky source) on hosts with several addresses.
 *  - Large buffers, forced past rmem_max/wmem_max when we may.
 *  - Offloads are probed per socket when it opens: UDP_GRO (receive several
 *    datagrams of one flow in one buffer) and UDP_SEGMENT (send a run of
 *    same-size datagrams as one). A kernel or route without them costs speed,
 *    never packets: every failed UDP_SEGMENT send is sent again one by one.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

#include "iolog.h"
#include "udp.h"

/* About 5,000 full-size datagrams: several milliseconds at 10 Gbit/s. */
#define SOCKET_BUFFER_LEN (8 << 20)

static void set_buffer(int fd, int force_opt, int opt)
{
	int len = SOCKET_BUFFER_LEN;

	if (setsockopt(fd, SOL_SOCKET, force_opt, &len, sizeof(len)) < 0)
		setsockopt(fd, SOL_SOCKET, opt, &len, sizeof(len));
}

static int set_int(int fd, int level, int opt, int value)
{
	return setsockopt(fd, level, opt, &value, sizeof(value)) < 0 ? -errno : 0;
}

static int set_family_options(int fd, int family)
{
	int ret;

	if (family == AF_INET) {
		ret = set_int(fd, IPPROTO_IP, IP_PKTINFO, 1);
		if (!ret)
			ret = set_int(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT);
		return ret;
	}
	ret = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	if (!ret)
		ret = set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
	if (!ret)
		ret = set_int(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DONT);
	if (!ret)
		ret = set_int(fd, IPPROTO_IPV6, IPV6_DONTFRAG, 0);
	return ret;
}

static int bind_port(int fd, int family, uint16_t port, uint16_t *bound)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				    .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in sa4 = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_ANY) };
	struct sockaddr_in6 got = { 0 };
	socklen_t len = sizeof(got);
	int ret;

	if (family == AF_INET)
		ret = bind(fd, (struct sockaddr *)&sa4, sizeof(sa4));
	else
		ret = bind(fd, (struct sockaddr *)&sa6, sizeof(sa6));
	if (ret < 0 || getsockname(fd, (struct sockaddr *)&got, &len) < 0)
		return -errno;
	/* sin_port and sin6_port sit at the same offset. */
	*bound = ntohs(got.sin6_port);
	return 0;
}

/*
 * UDP_GRO may be refused (before Linux 5.0): then every datagram arrives
 * alone. A kernel that knows UDP_SEGMENT accepts it as a socket option; that
 * a route can use it shows only at the first send (udp_flush()).
 */
static void probe_offloads(struct udp_sock *s, bool use_offloads)
{
	s->has_gro = use_offloads && !set_int(s->fd, SOL_UDP, UDP_GRO, 1);
	s->has_gso = use_offloads && !set_int(s->fd, SOL_UDP, UDP_SEGMENT, 0);
	s->gso_worked = false;
	s->recv_vlen = UDP_RECV_MSGS;
}

/* A bound socket, or -errno. */
static int open_socket(int family, uint16_t port, uint32_t mark, uint16_t *bound)
{
	int fd, ret;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
	set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);
	ret = set_family_options(fd, family);
	if (!ret && mark)
		ret = set_int(fd, SOL_SOCKET, SO_MARK, mark);
	if (!ret)
		ret = bind_port(fd, family, port, bound);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* The family is missing on this host, as opposed to a real failure. */
static bool family_unavailable(int err)
{
	return err == -EAFNOSUPPORT || err == -EADDRNOTAVAIL || err == -EPROTONOSUPPORT;
}

static void set_socks(struct udp *u, int fd4, int fd6)
{
	memset(u->sock, 0, sizeof(u->sock));
	u->sock[UDP_V4].fd = fd4;
	u->sock[UDP_V6].fd = fd6;
	for (int f = 0; f < UDP_FAMILIES; f++)
		if (u->sock[f].fd >= 0)
			probe_offloads(&u->sock[f], u->use_offloads);
}

/*
 * Bind both families to one port. With port 0 the IPv4 socket picks it and
 * IPv6 must follow; if that port is taken for IPv6, try another one.
 */
static int open_pair(struct udp *u, uint16_t port, uint32_t mark)
{
	uint16_t p4 = port, p6 = port;
	int fd4, fd6, tries;

	for (tries = 0; tries < (port ? 1 : 32); tries++) {
		fd4 = open_socket(AF_INET, port, mark, &p4);
		if (fd4 < 0 && !family_unavailable(fd4))
			return fd4;
		fd6 = open_socket(AF_INET6, fd4 >= 0 ? p4 : port, mark, &p6);
		if (fd6 >= 0 || (fd4 >= 0 && family_unavailable(fd6))) {
			set_socks(u, fd4 >= 0 ? fd4 : -1, fd6 >= 0 ? fd6 : -1);
			u->port = fd4 >= 0 ? p4 : p6;
			u->fwmark = mark;
			return 0;
		}
		if (fd4 >= 0)
			close(fd4);
		if (fd6 != -EADDRINUSE || port)
			return fd4 >= 0 ? fd6 : -EAFNOSUPPORT;
	}
	return -EADDRINUSE;
}

int udp_open(struct udp *u, uint16_t port, uint32_t fwmark, bool use_offloads)
{
	u->use_offloads = use_offloads;
	set_socks(u, -1, -1);
	return open_pair(u, port, fwmark);
}

void udp_close(struct udp *u)
{
	for (int f = 0; f < UDP_FAMILIES; f++) {
		if (u->sock[f].fd >= 0)
			close(u->sock[f].fd);
		u->sock[f].fd = -1;
	}
}

int udp_family_index(const struct braid_endpoint *ep)
{
	if (ep->addr.sa.sa_family == AF_INET)
		return UDP_V4;
	return ep->addr.sa.sa_family == AF_INET6 ? UDP_V6 : -1;
}

static int set_mark(struct udp *u, uint32_t mark)
{
	int fd4 = u->sock[UDP_V4].fd, fd6 = u->sock[UDP_V6].fd, ret = 0;

	if (fd4 >= 0)
		ret = set_int(fd4, SOL_SOCKET, SO_MARK, mark);
	if (!ret && fd6 >= 0)
		ret = set_int(fd6, SOL_SOCKET, SO_MARK, mark);
	if (ret && fd4 >= 0)
		set_int(fd4, SOL_SOCKET, SO_MARK, u->fwmark);
	if (!ret)
		u->fwmark = mark;
	return ret;
}

int udp_reconfigure(struct udp *u, bool set_port, uint16_t port, bool set_mark_, uint32_t mark,
		    bool *rebound)
{
	struct udp fresh;
	int ret;

	*rebound = false;
	if (!set_mark_)
		mark = u->fwmark;
	/* Port 0 asks for a new random port, as in wireguard-go. */
	if (set_port && (!port || port != u->port)) {
		fresh.use_offloads = u->use_offloads;
		ret = open_pair(&fresh, port, mark);
		if (ret)
			return ret;
		udp_close(u);
		*u = fresh;
		*rebound = true;
		return 0;
	}
	if (set_mark_ && mark != u->fwmark)
		return set_mark(u, mark);
	return 0;
}

static const char *family_name(const struct braid_endpoint *to)
{
	return to->addr.sa.sa_family == AF_INET6 ? "IPv6" : "IPv4";
}

/*
 * A UDP_SEGMENT message failed: its datagrams go out one by one, which
 * either works or shows the real problem. EIO means the route's device
 * cannot segment for us (no checksum offload, IPsec); EINVAL and the like
 * on a socket where it never worked mean the kernel will not (a device MTU
 * below the segment size refuses every segmented send): stop using
 * UDP_SEGMENT on this socket for good then. Later failures (a stale
 * source, one smaller-MTU route) only split their own run.
 */
static void gso_failed(struct udp_sock *s, struct sendq *q, size_t count, int err)
{
	const struct sendq_dgram *d = sendq_at(q, 0);

	if (err == EIO ||
	    (!s->gso_worked && (err == EINVAL || err == EMSGSIZE || err == EOPNOTSUPP))) {
		iolog_verbose("%s: UDP_SEGMENT refused (%s); sending datagrams one by one",
			      family_name(&d->to), strerror(err));
		s->has_gso = false;
	}
	q->split_until = q->head + count;
}

/* The oldest message, a single datagram, failed with err: retry it without a source, or drop it. */
static void send_failed(struct sendq *q, int err, udp_source_refused_fn *refused,
			void *ctx)
{
	struct sendq_dgram *d = sendq_at(q, 0);

	/*
	 * A multipath uplink that cannot send (its link or address is gone):
	 * the core hears of it and takes the path down; the datagram is not
	 * sent by another route, where it would leave by another uplink.
	 */
	if (d->to.pin_interface && (err == EINVAL || err == ENETUNREACH || err == EADDRNOTAVAIL ||
				    err == ENETDOWN || err == ENODEV)) {
		if (d->peer)
			refused(ctx, d->peer, &d->to);
		q->dropped++;
		sendq_pop(q, 1);
		return;
	}
	/*
	 * The sticky source is no longer ours (address removed): let routing
	 * pick. IPv4 routing answers ENETUNREACH for a source that is not
	 * local, IPv6 answers EINVAL.
	 */
	if (sendq_has_source(&d->to) &&
	    (err == EINVAL || err == ENETUNREACH || err == EADDRNOTAVAIL)) {
		if (d->peer)
			refused(ctx, d->peer, &d->to);
		sendq_forget_source(q);
		return;
	}
	iolog_verbose("send to %s endpoint failed: %s", family_name(&d->to), strerror(err));
	q->dropped++;
	sendq_pop(q, 1);
}

static void sent(struct udp_sock *s, struct sendq *q, const struct sendq_msgs *m, int n)
{
	size_t datagrams = 0;

	for (int i = 0; i < n; i++) {
		datagrams += m->count[i];
		if (m->gso_size[i])
			s->gso_worked = true;
	}
	sendq_pop(q, datagrams);
}

int udp_flush(struct udp *u, int fam, struct sendq *q, struct sendq_msgs *m,
	      udp_source_refused_fn *refused, void *ctx)
{
	struct udp_sock *s = &u->sock[fam];
	size_t n;
	int r;

	/* Each round sends, drops or rewrites at least the oldest message: this ends. */
	while (sendq_len(q)) {
		if (s->fd < 0) {
			q->dropped += sendq_len(q);
			sendq_pop(q, sendq_len(q));
			break;
		}
		n = sendq_build(q, s->has_gso, m);
		r = sendmmsg(s->fd, m->msgs, n, MSG_DONTWAIT);
		if (r > 0) {
			sent(s, q, m, r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* Kept for EPOLLOUT; their peers may be gone by then. */
			sendq_forget_peers(q);
			return -EAGAIN;
		}
		if (m->gso_size[0])
			gso_failed(s, q, m->count[0], r < 0 ? errno : EIO);
		else
			send_failed(q, r < 0 ? errno : EIO, refused, ctx);
	}
	return 0;
}

static void read_gro(const struct cmsghdr *c, size_t *gso)
{
	uint16_t v16;
	int v = 0;

	/* The kernel passes an int; take a 16-bit one too rather than guess. */
	if (c->cmsg_len >= CMSG_LEN(sizeof(int))) {
		memcpy(&v, CMSG_DATA(c), sizeof(v));
	} else if (c->cmsg_len >= CMSG_LEN(sizeof(v16))) {
		memcpy(&v16, CMSG_DATA(c), sizeof(v16));
		v = v16;
	}
	*gso = v > 0 ? (size_t)v : 0;
}

static void read_cmsgs(struct msghdr *msg, struct braid_endpoint *from, size_t *gso)
{
	struct cmsghdr *c;

	*gso = 0;
	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			/* ipi_addr is the header's destination: the address the peer sent to. */
			from->src.in4 = pi.ipi_addr;
			from->src_ifindex = pi.ipi_ifindex;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			from->src.in6 = pi.ipi6_addr;
			from->src_ifindex = pi.ipi6_ifindex;
		} else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			read_gro(c, gso);
		}
	}
}

static void prepare_batch(struct udp_recv *b)
{
	for (int i = 0; i < UDP_RECV_MSGS; i++) {
		struct msghdr *m = &b->msgs[i].msg_hdr;

		b->iov[i].iov_base = b->bufs[i];
		b->iov[i].iov_len = UDP_BUF_LEN;
		*m = (struct msghdr){
			.msg_name = &b->names[i], .msg_namelen = sizeof(b->names[i]),
			.msg_iov = &b->iov[i], .msg_iovlen = 1,
			.msg_control = b->cmsg[i].buf, .msg_controllen = sizeof(b->cmsg[i].buf),
		};
	}
}

int udp_recv_batch(struct udp_sock *s, struct udp_recv *b)
{
	int n, i, kept = 0;

	prepare_batch(b);
	n = recvmmsg(s->fd, b->msgs, s->recv_vlen, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct msghdr *m = &b->msgs[i].msg_hdr;
		struct braid_endpoint *from = &b->from[kept];

		if (m->msg_flags & MSG_TRUNC)
			continue;
		/* Keep the batch dense: move a buffer down over a dropped one. */
		if (kept != i) {
			uint8_t *t = b->bufs[kept];

			b->bufs[kept] = b->bufs[i];
			b->bufs[i] = t;
		}
		memset(from, 0, sizeof(*from));
		memcpy(&from->addr, m->msg_name,
		       m->msg_namelen < sizeof(from->addr) ? m->msg_namelen : sizeof(from->addr));
		read_cmsgs(m, from, &b->gso[kept]);
		b->lens[kept++] = b->msgs[i].msg_len;
	}
	return kept;
}

void udp_recv_done(struct udp_sock *s, int msgs, size_t datagrams)
{
	size_t per_msg;

	if (msgs <= 0 || !datagrams)
		return;
	/* Expect the next messages to be as full as these were. */
	per_msg = (datagrams + msgs - 1) / msgs;
	s->recv_vlen = udp_recv_vlen(UDP_RECV_BUDGET, per_msg, UDP_RECV_MSGS);
}

size_t udp_gro_next(size_t len, size_t gso, size_t off)
{
	if (off >= len)
		return 0;
	if (!gso || gso > len - off)
		return len - off;
	return gso;
}

unsigned int udp_recv_vlen(size_t budget, size_t per_msg, unsigned int max)
{
	size_t vlen = per_msg ? budget / per_msg : max;

	if (vlen < 1)
		return 1;
	return vlen > max ? max : (unsigned int)vlen;
}
