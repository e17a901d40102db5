/* SPDX-License-Identifier: MIT */
/*
 * Watching our interface through rtnetlink (RTMGRP_LINK): its MTU when
 * someone runs `ip link set mtu`, and its deletion.
 */
#ifndef BRAID_NETLINK_H
#define BRAID_NETLINK_H

#include <stdbool.h>

struct link_news {
	bool mtu_changed;
	unsigned int mtu;
	bool deleted;		/* an RTM_DELLINK for the index: deleted, or moved to another netns */
	bool lost;		/* the socket overran: state must be read again by other means */
};

/* A non-blocking rtnetlink socket subscribed to link changes, or -errno. */
int netlink_open(void);

/* Drain the socket and report what happened to ifindex. 0 or -errno. */
int netlink_read(int fd, int ifindex, struct link_news *news);

#endif
