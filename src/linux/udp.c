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
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
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
	struct sockaddr_in6 got;
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
			u->fd4 = fd4;
			u->fd6 = fd6 >= 0 ? fd6 : -1;
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

int udp_open(struct udp *u, uint16_t port, uint32_t fwmark)
{
	u->fd4 = u->fd6 = -1;
	return open_pair(u, port, fwmark);
}

void udp_close(struct udp *u)
{
	if (u->fd4 >= 0)
		close(u->fd4);
	if (u->fd6 >= 0)
		close(u->fd6);
	u->fd4 = u->fd6 = -1;
}

static int set_mark(struct udp *u, uint32_t mark)
{
	int ret = 0;

	if (u->fd4 >= 0)
		ret = set_int(u->fd4, SOL_SOCKET, SO_MARK, mark);
	if (!ret && u->fd6 >= 0)
		ret = set_int(u->fd6, SOL_SOCKET, SO_MARK, mark);
	if (ret && u->fd4 >= 0)
		set_int(u->fd4, SOL_SOCKET, SO_MARK, u->fwmark);
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

static bool source_is_set(const struct braid_endpoint *to)
{
	static const struct in6_addr zero;

	if (to->addr.sa.sa_family == AF_INET)
		return to->src.in4.s_addr != 0;
	return memcmp(&to->src.in6, &zero, sizeof(zero)) != 0;
}

/* Control messages for the source address and the outer TOS byte. */
union send_cmsg {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

static struct cmsghdr *put_cmsg(struct msghdr *msg, struct cmsghdr *prev, int level, int type,
				const void *data, size_t len, size_t *used)
{
	struct cmsghdr *c = prev ? CMSG_NXTHDR(msg, prev) : CMSG_FIRSTHDR(msg);

	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), data, len);
	*used += CMSG_SPACE(len);
	return c;
}

static void build_cmsg(struct msghdr *msg, union send_cmsg *cm, const struct braid_endpoint *to,
		       bool with_source, uint8_t tos)
{
	bool v4 = to->addr.sa.sa_family == AF_INET;
	struct cmsghdr *c = NULL;
	size_t used = 0;
	int tclass = tos;

	memset(cm, 0, sizeof(*cm));
	msg->msg_control = cm->buf;
	/* CMSG_NXTHDR bounds itself by msg_controllen: the whole buffer while building. */
	msg->msg_controllen = sizeof(cm->buf);
	if (with_source && v4) {
		/* ipi_spec_dst is the source; the interface is left to routing (and fwmark). */
		struct in_pktinfo pi = { .ipi_spec_dst = to->src.in4 };

		c = put_cmsg(msg, c, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi), &used);
	} else if (with_source) {
		struct in6_pktinfo pi = { .ipi6_addr = to->src.in6 };

		/* A link-local source means nothing without its interface. */
		if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
			pi.ipi6_ifindex = to->src_ifindex;
		c = put_cmsg(msg, c, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi), &used);
	}
	if (tos)
		put_cmsg(msg, c, v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_TOS : IPV6_TCLASS,
			 &tclass, sizeof(tclass), &used);
	msg->msg_controllen = used;
	if (!used)
		msg->msg_control = NULL;
}

int udp_send(struct udp *u, const struct braid_endpoint *to, const uint8_t *buf, size_t len,
	     uint8_t tos, bool *source_stale)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	bool with_source = source_is_set(to);
	union send_cmsg cm;
	int fd;

	*source_stale = false;
	if (to->addr.sa.sa_family == AF_INET) {
		fd = u->fd4;
		msg.msg_namelen = sizeof(struct sockaddr_in);
	} else if (to->addr.sa.sa_family == AF_INET6) {
		fd = u->fd6;
		msg.msg_namelen = sizeof(struct sockaddr_in6);
	} else {
		return -EAFNOSUPPORT;
	}
	if (fd < 0)
		return -EAFNOSUPPORT;
	msg.msg_name = (void *)&to->addr;
	build_cmsg(&msg, &cm, to, with_source, tos);
	if (sendmsg(fd, &msg, MSG_DONTWAIT) >= 0)
		return 0;
	/*
	 * The sticky source is no longer ours (address removed): let routing
	 * pick. IPv4 routing answers ENETUNREACH for a source that is not
	 * local, IPv6 answers EINVAL.
	 */
	if (with_source && (errno == EINVAL || errno == ENETUNREACH || errno == EADDRNOTAVAIL)) {
		*source_stale = true;
		build_cmsg(&msg, &cm, to, false, tos);
		if (sendmsg(fd, &msg, MSG_DONTWAIT) >= 0)
			return 0;
	}
	return -errno;
}

static void read_pktinfo(struct msghdr *msg, struct braid_endpoint *from)
{
	struct cmsghdr *c;

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
		}
	}
}

int udp_recv_batch(int fd, struct udp_batch *b, struct braid_endpoint from[], size_t lens[])
{
	int n, i, kept = 0;

	for (i = 0; i < UDP_BATCH; i++) {
		struct msghdr *m = &b->msgs[i].msg_hdr;

		b->iov[i].iov_base = b->bufs[i];
		b->iov[i].iov_len = UDP_BUF_LEN;
		*m = (struct msghdr){
			.msg_name = &b->names[i], .msg_namelen = sizeof(b->names[i]),
			.msg_iov = &b->iov[i], .msg_iovlen = 1,
			.msg_control = b->cmsg[i].buf, .msg_controllen = sizeof(b->cmsg[i].buf),
		};
	}
	n = recvmmsg(fd, b->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct msghdr *m = &b->msgs[i].msg_hdr;

		if (m->msg_flags & MSG_TRUNC)
			continue;
		/* Keep the batch dense: move a buffer down over a dropped one. */
		if (kept != i) {
			uint8_t *t = b->bufs[kept];

			b->bufs[kept] = b->bufs[i];
			b->bufs[i] = t;
		}
		memset(&from[kept], 0, sizeof(from[kept]));
		memcpy(&from[kept].addr, m->msg_name,
		       m->msg_namelen < sizeof(from[kept].addr) ? m->msg_namelen
								 : sizeof(from[kept].addr));
		read_pktinfo(m, &from[kept]);
		lens[kept++] = b->msgs[i].msg_len;
	}
	return kept;
}
