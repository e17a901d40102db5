// SPDX-License-Identifier: MIT
/*
 * rtnetlink notifications: links (our MTU, our deletion), and addresses
 * and routes, whose changes invalidate sticky source addresses and change
 * which uplinks multipath may use (uplinks.h keeps the table).
 *
 * Only messages from the kernel (port id 0) are believed: any process can
 * send to a netlink socket, and a forged RTM_DELLINK must not stop us.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netlink.h"

int netlink_open(void)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
			     RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE,
	};
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

static void read_link(struct nlmsghdr *nh, int ifindex, struct link_news *news)
{
	struct ifinfomsg *ifi = NLMSG_DATA(nh);
	int len = IFLA_PAYLOAD(nh);
	struct rtattr *rta;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return;
	/* Another link going down or up takes its routes with it. */
	if (ifi->ifi_index != ifindex) {
		news->routing_changed = true;
		return;
	}
	if (nh->nlmsg_type == RTM_DELLINK) {
		news->deleted = true;
		return;
	}
	for (rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFLA_MTU && RTA_PAYLOAD(rta) >= sizeof(unsigned int)) {
			memcpy(&news->mtu, RTA_DATA(rta), sizeof(news->mtu));
			news->mtu_changed = true;
		}
	}
}

/* NLMSG_OK/NLMSG_NEXT spelled out with sizes that cannot wrap: the last message may be unpadded. */
static void read_messages(const char *buf, size_t len, int ifindex, struct link_news *news)
{
	struct nlmsghdr *nh;
	size_t step;

	while (len >= sizeof(*nh)) {
		nh = (struct nlmsghdr *)buf;
		if (nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > len)
			return;
		switch (nh->nlmsg_type) {
		case RTM_NEWLINK:
		case RTM_DELLINK:
			read_link(nh, ifindex, news);
			break;
		case RTM_NEWADDR:
		case RTM_DELADDR:
		case RTM_NEWROUTE:
		case RTM_DELROUTE:
			news->routing_changed = true;
			break;
		}
		step = NLMSG_ALIGN(nh->nlmsg_len);
		if (step >= len)
			return;
		buf += step;
		len -= step;
	}
}

int netlink_read(int fd, int ifindex, struct link_news *news, struct uplinks *uplinks)
{
	union {
		char buf[32768];
		struct nlmsghdr align;
	} u;
	struct sockaddr_nl from;
	struct iovec iov = { .iov_base = u.buf, .iov_len = sizeof(u.buf) };
	struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from),
			      .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	memset(news, 0, sizeof(*news));
	for (;;) {
		msg.msg_namelen = sizeof(from);
		n = recvmsg(fd, &msg, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == ENOBUFS) {
				news->lost = true;
				continue;
			}
			return -errno;
		}
		if (from.nl_pid == 0 && !(msg.msg_flags & MSG_TRUNC)) {
			read_messages(u.buf, n, ifindex, news);
			news->uplinks_changed |= uplinks_update(uplinks, u.buf, n);
		}
	}
}
