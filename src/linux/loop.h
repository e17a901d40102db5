/* SPDX-License-Identifier: MIT */
/*
 * The event loop, one thread: epoll over the TUN device, the UDP sockets,
 * one timerfd armed at the device's next deadline, a signalfd, an rtnetlink
 * socket, and the descriptors of a service (the daemon's UAPI sockets).
 * Every call into libbraid happens on this thread, which makes it the
 * control plane the library asks for.
 *
 * Sealing and opening run on crypto workers (workers.h) too: the loop
 * prepares and finishes every batch, the workers and the loop's thread do
 * the AEAD in between. Handshake messages wait in a backlog and are handed
 * to the device a few per turn (backlog.h).
 */
#ifndef BRAID_LOOP_H
#define BRAID_LOOP_H

#include <braid.h>

#include "backlog.h"
#include "dataplane.h"
#include "ops.h"
#include "tun.h"
#include "tun_reader.h"
#include "tun_writer.h"
#include "udp.h"
#include "uplinks.h"
#include "watch.h"
#include "workers.h"

enum {
	/*
	 * Past a few workers the loop's thread, which does every system call
	 * and the routing, is the limit: more only wait. A user may still ask
	 * for up to LOOP_MAX_WORKERS.
	 */
	LOOP_DEFAULT_WORKERS = 7,
	LOOP_MAX_WORKERS = 63,
};

/*
 * Another user of the loop's thread and epoll set (the daemon's UAPI
 * server). Its watches' handlers run between the loop's own; one that has
 * called into the device calls loop_after_device_call() before it returns.
 */
struct loop_service {
	void *ctx;
	/*
	 * The last step of loop_init(): watch its descriptors on epfd; dev is
	 * the device it may call. 0, or -errno after logging why.
	 */
	int (*open)(void *ctx, int epfd, struct braid_device *dev);
	/* The earliest time expire() has work, or BRAID_NEVER: epoll sleeps no longer. */
	uint64_t (*next_deadline)(void *ctx);
	/* Once per turn of the loop, after its events. */
	void (*expire)(void *ctx, uint64_t now);
	/* The host's uplinks (loop.uplinks), addresses or routes changed. */
	void (*host_changed)(void *ctx, uint64_t now);
	/*
	 * From loop_free(), before the device goes, whether open() was called
	 * or not (so ctx must be ready to close before it opens).
	 */
	void (*close)(void *ctx);
};

struct loop_config {
	const char *ifname;
	unsigned int workers;		/* crypto threads besides the loop's; 0: none */
	/*
	 * vnet_hdr on TUN and UDP_SEGMENT/UDP_GRO on the sockets, where the
	 * kernel has them; off for comparisons and to test the plain paths.
	 */
	bool use_offloads;
	const struct loop_service *service;	/* NULL: none */
};

struct loop {
	int epfd;
	struct braid_device *dev;
	struct tun tun;
	struct udp udp;
	const struct loop_service *service;
	struct watch tun_w, udp_w[UDP_FAMILIES], timer_w, signal_w, netlink_w;
	struct uplinks uplinks;		/* the host's interfaces and addresses, for multipath */
	int uplinks_fd;			/* rtnetlink requests: dumps, route checks; -1: none */
	uint64_t armed;			/* deadline the timerfd is set for; BRAID_NEVER when idle */
	unsigned int mtu;
	bool running;
	bool use_offloads;		/* try the offloads (loop_config) */
	bool tun_paused;		/* not reading TUN while a send queue waits for EPOLLOUT */
	/* Sticky sources the kernel refused during the current call (ops.c). */
	struct ops_refused refused[OPS_MAX_REFUSED];
	size_t n_refused;
	/* Datagrams libbraid sent during a call, per socket, flushed after it. */
	struct sendq sendq[UDP_FAMILIES];
	bool tx_blocked[UDP_FAMILIES];	/* waiting for EPOLLOUT */
	uint64_t tx_dropped_logged;
	struct sendq_msgs *send_msgs;
	struct tun_reader reader;	/* outbound: TUN reads, split, for dataplane_send() */
	struct tun_writer writer;	/* inbound: delivered packets, coalesced into TUN writes */
	uint8_t *icmp_buf;
	struct udp_recv *udp_recv;
	uint8_t *udp_arena;		/* the receive buffers of udp_recv, one after another */
	unsigned int n_workers;		/* crypto workers asked for, started by loop_run() */
	struct workers *workers;	/* NULL: every batch on this thread */
	struct dp_send *dp_tx;		/* the TUN batch being sealed */
	struct dp_recv *dp_rx;		/* the UDP batch being opened */
	struct backlog backlog;		/* handshake messages waiting for their turn */
	uint64_t backlog_dropped_logged;
	uint8_t random_pool[OPS_RANDOM_POOL_LEN];	/* ops.c: unused bytes at the end */
	size_t random_left;
};

/*
 * Create the interface, the sockets and the device, then open the service.
 * 0, or -errno after logging why; on failure nothing is left behind.
 */
int loop_init(struct loop *l, const struct loop_config *config);
/*
 * Start the crypto workers, then run until a signal or the interface's
 * deletion; then 0. Threads start here, not in loop_init(), so that they
 * inherit the sandbox the caller entered in between.
 */
int loop_run(struct loop *l);
/* Close the service, then everything else. */
void loop_free(struct loop *l);

/*
 * After a call into the device from outside the loop's own handlers (a
 * service's): write and send what it delivered and queued, report refused
 * sources, and bring the timer forward if a deadline moved earlier.
 */
void loop_after_device_call(struct loop *l);

/* The port the sockets are bound to (the kernel's pick when 0 was asked for), and the fwmark. */
uint16_t loop_listen_port(const struct loop *l);
uint32_t loop_fwmark(const struct loop *l);
/*
 * Move to a new listen port (0 = any) and/or fwmark (0 = none), all or
 * nothing: 0, or -errno with the old sockets and mark kept.
 */
int loop_set_net(struct loop *l, bool set_port, uint16_t port, bool set_mark, uint32_t mark);

#endif
