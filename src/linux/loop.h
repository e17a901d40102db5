/* SPDX-License-Identifier: MIT */
/*
 * The daemon's single event loop: epoll over the TUN device, the UDP
 * sockets, one timerfd armed at the device's next deadline, a signalfd, an
 * rtnetlink socket and the UAPI sockets. Every call into libbraid happens
 * on this thread, which makes it the control plane the library asks for.
 *
 * BRAID_OFFLOADS=0 in the environment turns off vnet_hdr on TUN and
 * UDP_SEGMENT/UDP_GRO on the sockets: for comparisons and for testing the
 * paths a kernel without them takes.
 */
#ifndef BRAID_LOOP_H
#define BRAID_LOOP_H

#include <braid.h>

#include "tun.h"
#include "tun_batch.h"
#include "uapi.h"
#include "uapi_sock.h"
#include "udp.h"
#include "watch.h"

enum { LOOP_MAX_STALE = 16 };

struct loop {
	int epfd;
	struct braid_device *dev;
	struct braid_ops ops;
	struct tun tun;
	struct udp udp;
	struct uapi uapi;
	struct uapi_server server;
	struct watch tun_w, udp_w[UDP_FAMILIES], timer_w, signal_w, netlink_w;
	uint64_t armed;			/* deadline the timerfd is set for; BRAID_NEVER when idle */
	unsigned int mtu;
	bool running;
	bool use_offloads;		/* unless BRAID_OFFLOADS=0 */
	bool tun_paused;		/* not reading TUN while a send queue waits for EPOLLOUT */
	/* Peers whose sticky source the kernel refused during the current call. */
	struct braid_peer *stale[LOOP_MAX_STALE];
	size_t n_stale;
	/* Datagrams libbraid sent during a call, per socket, flushed after it. */
	struct tx_queue txq[UDP_FAMILIES];
	bool tx_blocked[UDP_FAMILIES];	/* waiting for EPOLLOUT */
	uint64_t tx_dropped_logged;
	struct tx_msgs *tx_msgs;
	struct tun_reader reader;	/* outbound: TUN reads, split, for braid_device_send() */
	struct tun_writer writer;	/* inbound: delivered packets, coalesced into TUN writes */
	uint8_t *icmp_buf;
	struct udp_batch *udp_batch;
};

/*
 * Create the interface, the sockets and the device, and start serving the
 * UAPI. 0, or -errno after logging why; on failure nothing is left behind.
 */
int loop_init(struct loop *l, const char *ifname);
/* Run until a signal or the interface's deletion; then 0. */
int loop_run(struct loop *l);
/* Close everything and remove the UAPI socket. */
void loop_free(struct loop *l);

#endif
