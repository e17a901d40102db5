/* SPDX-License-Identifier: MIT */
/*
 * Watching the host through rtnetlink: our interface's MTU when someone
 * runs `ip link set mtu`, its deletion, and any change to routes,
 * addresses or other links, after which sticky source addresses may be
 * wrong (the route to a peer may now leave by another interface).
 */
#ifndef BRAID_NETLINK_H
#define BRAID_NETLINK_H

#include <stdbool.h>

#include "uplinks.h"

struct link_news {
	bool mtu_changed;
	unsigned int mtu;
	bool deleted;		/* an RTM_DELLINK for the index: deleted, or moved to another netns */
	bool routing_changed;	/* routes, addresses or another link changed */
	bool lost;		/* the socket overran: state must be read again by other means */
	bool uplinks_changed;	/* the uplink table changed (links, carriers, addresses) */
};

/* A non-blocking rtnetlink socket subscribed to link, address and route changes, or -errno. */
int netlink_open(void);

/* Drain the socket, report what happened to ifindex, and keep uplinks up to date. 0 or -errno. */
int netlink_read(int fd, int ifindex, struct link_news *news, struct uplinks *uplinks);

#endif
