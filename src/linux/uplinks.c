// SPDX-License-Identifier: MIT
/*
 * The host's uplinks from rtnetlink (see uplinks.h). Only messages from the
 * kernel reach here: the notification socket checks the sender, and a
 * request socket hears only its replies.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uplinks.h"

static struct uplink *find(struct uplinks *u, int ifindex)
{
	for (unsigned int i = 0; i < u->n; i++)
		if (u->link[i].ifindex == ifindex)
			return &u->link[i];
	return NULL;
}

static struct uplink *find_or_add(struct uplinks *u, int ifindex)
{
	struct uplink *l = find(u, ifindex);

	if (l || u->n == UPLINKS_MAX)
		return l;
	l = &u->link[u->n++];
	memset(l, 0, sizeof(*l));
	l->ifindex = ifindex;
	return l;
}

static bool update_link(struct uplinks *u, const struct nlmsghdr *nh)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	int len = IFLA_PAYLOAD(nh);
	struct uplink *l, before;
	const struct rtattr *rta;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)) || ifi->ifi_index <= 0)
		return false;
	if (nh->nlmsg_type == RTM_DELLINK) {
		l = find(u, ifi->ifi_index);
		if (!l)
			return false;
		*l = u->link[--u->n];
		return true;
	}
	l = find_or_add(u, ifi->ifi_index);
	if (!l)
		return false;
	before = *l;
	l->is_up = (ifi->ifi_flags & IFF_UP) && (ifi->ifi_flags & IFF_RUNNING);
	for (rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		size_t n = RTA_PAYLOAD(rta);

		if (rta->rta_type != IFLA_IFNAME || !n || n > sizeof(l->name))
			continue;
		memset(l->name, 0, sizeof(l->name));
		memcpy(l->name, RTA_DATA(rta), n);
		l->name[sizeof(l->name) - 1] = '\0';
	}
	return memcmp(&before, l, sizeof(before)) != 0;
}

static void drop_addr(struct uplink *l, const struct uplink_addr *a)
{
	for (unsigned int i = 0; i < l->n_addrs; i++) {
		if (l->addrs[i].family == a->family &&
		    !memcmp(l->addrs[i].addr, a->addr, sizeof(a->addr))) {
			l->addrs[i] = l->addrs[--l->n_addrs];
			return;
		}
	}
}

/* The address of an RTM_NEWADDR/DELADDR and whether a path may use it. */
static bool read_addr(const struct nlmsghdr *nh, struct uplink_addr *a, bool *usable)
{
	const struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	int len = IFA_PAYLOAD(nh);
	const struct rtattr *rta;
	uint32_t flags = ifa->ifa_flags;
	size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;
	bool have = false;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)) ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return false;
	memset(a, 0, sizeof(*a));
	a->family = ifa->ifa_family;
	a->prefixlen = ifa->ifa_prefixlen;
	for (rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFA_FLAGS && RTA_PAYLOAD(rta) >= sizeof(flags))
			memcpy(&flags, RTA_DATA(rta), sizeof(flags));
		if (RTA_PAYLOAD(rta) < alen)
			continue;
		/* IPv4: IFA_LOCAL is ours (IFA_ADDRESS may be a point-to-point peer). */
		if (rta->rta_type == IFA_LOCAL || (rta->rta_type == IFA_ADDRESS && !have)) {
			memcpy(a->addr, RTA_DATA(rta), alen);
			have = true;
		}
	}
	*usable = ifa->ifa_scope == RT_SCOPE_UNIVERSE &&
		  !(flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED));
	return have;
}

static bool update_addr(struct uplinks *u, const struct nlmsghdr *nh)
{
	const struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	struct uplink_addr a;
	struct uplink *l;
	unsigned int before;
	bool usable;

	if (!read_addr(nh, &a, &usable))
		return false;
	l = find_or_add(u, (int)ifa->ifa_index);
	if (!l)
		return false;
	before = l->n_addrs;
	drop_addr(l, &a);
	if (nh->nlmsg_type == RTM_NEWADDR && usable && l->n_addrs < UPLINK_ADDRS_MAX)
		l->addrs[l->n_addrs++] = a;
	return l->n_addrs != before || nh->nlmsg_type == RTM_NEWADDR;
}

/* NLMSG_OK/NLMSG_NEXT with sizes that cannot wrap: the last message may be unpadded. */
bool uplinks_update(struct uplinks *u, const void *buf, size_t len)
{
	const char *p = buf;
	const struct nlmsghdr *nh;
	bool changed = false;
	size_t step;

	while (len >= sizeof(*nh)) {
		nh = (const struct nlmsghdr *)p;
		if (nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > len)
			break;
		switch (nh->nlmsg_type) {
		case RTM_NEWLINK:
		case RTM_DELLINK:
			changed |= update_link(u, nh);
			break;
		case RTM_NEWADDR:
		case RTM_DELADDR:
			changed |= update_addr(u, nh);
			break;
		}
		step = NLMSG_ALIGN(nh->nlmsg_len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return changed;
}

const struct uplink *uplinks_by_index(const struct uplinks *u, int ifindex)
{
	return find((struct uplinks *)u, ifindex);
}

const struct uplink *uplinks_by_name(const struct uplinks *u, const char *name)
{
	for (unsigned int i = 0; i < u->n; i++)
		if (!strncmp(u->link[i].name, name, sizeof(u->link[i].name)))
			return &u->link[i];
	return NULL;
}

const struct uplink *uplinks_by_addr(const struct uplinks *u, int family, const void *addr)
{
	size_t alen = family == AF_INET ? 4 : 16;

	for (unsigned int i = 0; i < u->n; i++)
		for (unsigned int j = 0; j < u->link[i].n_addrs; j++)
			if (u->link[i].addrs[j].family == family &&
			    !memcmp(u->link[i].addrs[j].addr, addr, alen))
				return &u->link[i];
	return NULL;
}

const struct uplink_addr *uplink_global_addr(const struct uplink *l, int family)
{
	for (unsigned int i = 0; i < l->n_addrs; i++)
		if (l->addrs[i].family == family)
			return &l->addrs[i];
	return NULL;
}

/* ---- Requests ---- */

int uplinks_socket(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd, ret;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

struct request {
	struct nlmsghdr nh;
	union {
		struct rtgenmsg gen;
		struct rtmsg rt;
	};
	char attrs[64];
};

static void put_attr(struct request *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static int send_request(int fd, struct request *r)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	if (sendto(fd, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	return 0;
}

/*
 * Read the replies to request seq into buf: for a dump, until NLMSG_DONE.
 * The kernel answers rtnetlink requests while the request is sent (and fills
 * a dump's next part as each is read), so what is not there never comes: an
 * empty read or three end it.
 */
static int read_replies(int fd, uint32_t seq, struct uplinks *u, struct nlmsghdr *reply,
			size_t reply_len)
{
	union {
		char buf[16384];
		struct nlmsghdr align;
	} b;
	const struct nlmsghdr *nh;
	ssize_t n;
	size_t left;
	int idle = 0;

	for (;;) {
		struct iovec iov = { .iov_base = b.buf, .iov_len = sizeof(b.buf) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

		/* recvmsg, not recv: the daemon's system-call filter allows only the former. */
		n = recvmsg(fd, &msg, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) && ++idle < 3)
				continue;
			return -errno;
		}
		for (nh = &b.align, left = (size_t)n; NLMSG_OK(nh, left); nh = NLMSG_NEXT(nh, left)) {
			if (nh->nlmsg_seq != seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE)
				return 0;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				return nh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) ? e->error : -EPROTO;
			}
			if (reply) {
				memcpy(reply, nh, nh->nlmsg_len < reply_len ? nh->nlmsg_len : reply_len);
				return 0;
			}
			uplinks_update(u, nh, nh->nlmsg_len);
		}
	}
}

static uint32_t next_seq(void)
{
	static uint32_t seq;

	return ++seq;
}

static int dump(int fd, uint16_t type, struct uplinks *u)
{
	struct request r = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct rtgenmsg)), .nlmsg_type = type,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = next_seq() },
		.gen = { .rtgen_family = AF_UNSPEC },
	};
	int ret = send_request(fd, &r);

	return ret ? ret : read_replies(fd, r.nh.nlmsg_seq, u, NULL, 0);
}

int uplinks_dump(int fd, struct uplinks *u)
{
	int ret;

	memset(u, 0, sizeof(*u));
	ret = dump(fd, RTM_GETLINK, u);
	return ret ? ret : dump(fd, RTM_GETADDR, u);
}

/*
 * The output interface of a route message of at most size bytes (a longer one
 * was cut there): RTA_OIF, or the first hop of RTA_MULTIPATH.
 */
static bool route_leaves_by(const struct nlmsghdr *nh, size_t size, int ifindex)
{
	const struct rtmsg *rt = NLMSG_DATA(nh);
	size_t total = nh->nlmsg_len < size ? nh->nlmsg_len : size;
	const struct rtattr *rta;
	uint32_t oif;
	int len;

	if (nh->nlmsg_type != RTM_NEWROUTE || total < NLMSG_SPACE(sizeof(*rt)))
		return false;
	len = (int)(total - NLMSG_SPACE(sizeof(*rt)));
	for (rta = RTM_RTA(rt); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == RTA_OIF && RTA_PAYLOAD(rta) >= sizeof(oif)) {
			memcpy(&oif, RTA_DATA(rta), sizeof(oif));
			return (int)oif == ifindex;
		}
		if (rta->rta_type == RTA_MULTIPATH && RTA_PAYLOAD(rta) >= sizeof(struct rtnexthop)) {
			const struct rtnexthop *nh0 = RTA_DATA(rta);

			return nh0->rtnh_ifindex == ifindex;
		}
	}
	return false;
}

int uplinks_route_via(int fd, int ifindex, const struct braid_endpoint *remote, uint32_t mark)
{
	bool v4 = remote->addr.sa.sa_family == AF_INET;
	struct request r = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)), .nlmsg_type = RTM_GETROUTE,
			.nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = next_seq() },
		.rt = { .rtm_family = v4 ? AF_INET : AF_INET6, .rtm_dst_len = v4 ? 32 : 128,
			.rtm_flags = RTM_F_FIB_MATCH },
	};
	union {
		char buf[512];
		struct nlmsghdr nh;
	} reply = { .nh.nlmsg_type = NLMSG_NOOP };
	uint32_t oif = (uint32_t)ifindex;
	int ret;

	if (v4)
		put_attr(&r, RTA_DST, &remote->addr.in4.sin_addr, 4);
	else
		put_attr(&r, RTA_DST, &remote->addr.in6.sin6_addr, 16);
	put_attr(&r, RTA_OIF, &oif, sizeof(oif));
	if (v4 && remote->src.in4.s_addr) {
		put_attr(&r, RTA_SRC, &remote->src.in4, 4);
		r.rt.rtm_src_len = 32;
	} else if (!v4 && !IN6_IS_ADDR_UNSPECIFIED(&remote->src.in6)) {
		put_attr(&r, RTA_SRC, &remote->src.in6, 16);
		r.rt.rtm_src_len = 128;
	}
	if (mark)
		put_attr(&r, RTA_MARK, &mark, sizeof(mark));
	ret = send_request(fd, &r);
	if (!ret)
		ret = read_replies(fd, r.nh.nlmsg_seq, NULL, &reply.nh, sizeof(reply));
	if (ret == -ENETUNREACH || ret == -EHOSTUNREACH || ret == -EINVAL || ret == -ENODEV)
		return 0;
	if (ret)
		return ret;
	return route_leaves_by(&reply.nh, sizeof(reply), ifindex);
}
