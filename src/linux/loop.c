// SPDX-License-Identifier: MIT
/*
 * The event loop: one thread, one epoll set, every libbraid call.
 *
 * Outbound: TUN readable -> tun_reader.c reads a batch, GSO super-packets
 * split to the MTU (offload.c) -> oversized packets answered with ICMP
 * (icmp.c) -> dataplane_send() (dataplane.c): prepared here, each message
 * given its place in its socket's send queue in batch order (sendq.c,
 * through ops_reserve() in ops.c), sealed into it by the crypto workers
 * (workers.c) and this thread -> flush_tx(): udp_flush() (udp.c) sends the
 * queue with sendmmsg, runs of one peer's datagrams as single UDP_SEGMENT
 * messages -> the batch finished.
 * Inbound: UDP readable -> udp_recv_batch() (udp.c): a recvmmsg batch,
 * UDP_GRO buffers cut into their datagrams -> handshake messages to the
 * backlog (backlog.c), data to dataplane_receive(): prepared, opened on the
 * workers, finished here in order -> libbraid's deliver callback (ops.c)
 * hands the inner packets to the TUN writer (tun_writer.c) -> after the
 * batch, ops_flush_delivered() coalesces them (offload.c) into TUN writes.
 * Handshakes: at most BACKLOG_PER_TURN from the backlog per turn of the
 * loop, after the events of that turn; while any wait, epoll does not
 * sleep. What libbraid sends itself (handshakes, keepalives, cookie
 * replies) goes through ops.c into the same send queues.
 * Timers: one timerfd at the device's next deadline, moved earlier after
 * every batch that brought the deadline forward; when it fires,
 * braid_device_tick() returns the one after.
 * The service (the daemon's UAPI server) watches its sockets on the same
 * epoll set; its deadline bounds the sleep.
 *
 * Level-triggered epoll and a bounded batch per event (TUN_READER_BUDGET
 * packets, UDP_RECV_BUDGET datagrams, BACKLOG_PER_TURN handshakes) keep TUN,
 * UDP, handshakes, timers and the UAPI taking turns, so a flood on one
 * cannot starve the others. When the kernel will not take more datagrams
 * (EAGAIN), the queue waits for EPOLLOUT and TUN is not read meanwhile:
 * back-pressure instead of drops.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "icmp.h"
#include "iolog.h"
#include "loop.h"
#include "netlink.h"
#include "ops.h"

/* ---- Timer ---- */

static void arm_timer(struct loop *l, uint64_t deadline)
{
	struct itimerspec its = { 0 };

	/* Zero would disarm the timerfd; a deadline of 0 is simply in the past. */
	if (deadline != BRAID_NEVER) {
		if (!deadline)
			deadline = 1;
		its.it_value.tv_sec = deadline / NSEC_PER_SEC;
		its.it_value.tv_nsec = deadline % NSEC_PER_SEC;
	}
	if (timerfd_settime(l->timer_w.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		iolog_error("timerfd_settime: %s", strerror(errno));
	l->armed = deadline;
}

/* ---- Sending: the queues libbraid's callbacks filled (ops.c) ---- */

/* While a send queue waits for room, reading TUN would only fill it: TUN waits too. */
static void pause_tun(struct loop *l, bool pause)
{
	if (pause == l->tun_paused)
		return;
	/* EPOLLERR still arrives with no events asked for, so a deleted TUN is noticed. */
	if (watch_mod(l->epfd, &l->tun_w, pause ? 0 : EPOLLIN) == 0)
		l->tun_paused = pause;
}

static void set_blocked(struct loop *l, int fam, bool blocked)
{
	if (l->tx_blocked[fam] == blocked)
		return;
	l->tx_blocked[fam] = blocked;
	watch_mod(l->epfd, &l->udp_w[fam], blocked ? EPOLLIN | EPOLLOUT : EPOLLIN);
	pause_tun(l, l->tx_blocked[UDP_V4] || l->tx_blocked[UDP_V6]);
}

static void report_drops(struct loop *l)
{
	uint64_t dropped = l->sendq[UDP_V4].dropped + l->sendq[UDP_V6].dropped;

	if (dropped != l->tx_dropped_logged) {
		iolog_verbose("%llu outgoing datagrams dropped so far (send queue full or refused)",
			      (unsigned long long)dropped);
		l->tx_dropped_logged = dropped;
	}
}

/* Send what the last calls queued, unless the socket is known to be full. */
static void flush_tx(struct loop *l)
{
	int ret;

	for (int fam = 0; fam < UDP_FAMILIES; fam++) {
		if (l->tx_blocked[fam] || !sendq_len(&l->sendq[fam]))
			continue;
		ret = udp_flush(&l->udp, fam, &l->sendq[fam], l->send_msgs, ops_source_refused, l);
		if (ret == -EAGAIN)
			set_blocked(l, fam, true);
	}
	report_drops(l);
}

/*
 * After every call into the device: write and send what it delivered and
 * queued, tell peers which sticky sources the kernel refused meanwhile (not
 * from inside the callback, which must not re-enter the device), and bring
 * the timer forward if a deadline moved earlier. A later deadline needs
 * nothing: the timer fires early and tick() says what is next.
 */
void loop_after_device_call(struct loop *l)
{
	uint64_t next;

	ops_flush_delivered(l);
	flush_tx(l);
	ops_forget_refused_sources(l);
	next = braid_device_next_deadline(l->dev);
	if (next < l->armed)
		arm_timer(l, next);
}

static void on_timer(struct watch *w, uint32_t events)
{
	struct loop *l = container_of(w, struct loop, timer_w);
	uint64_t expirations;

	if (read(w->fd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN)
		return;
	arm_timer(l, braid_device_tick(l->dev, watch_now()));
	loop_after_device_call(l);
}

/* ---- TUN ---- */

static void stop_if_gone(struct loop *l, int err)
{
	if (err == -EBADFD || err == -EIO) {
		iolog_verbose("interface %s was deleted (TUN detached)", l->tun.name);
		l->running = false;
	} else {
		iolog_error("TUN read: %s", strerror(-err));
	}
}

/* Packets over the MTU are answered with ICMP and taken out of the batch. */
static size_t drop_oversized(struct loop *l, uint8_t *pkts[], size_t lens[], size_t n)
{
	size_t kept = 0, icmp_len;

	for (size_t i = 0; i < n; i++) {
		if (lens[i] <= l->mtu) {
			uint8_t *t = pkts[kept];

			pkts[kept] = pkts[i];
			pkts[i] = t;
			lens[kept++] = lens[i];
			continue;
		}
		icmp_len = icmp_too_big(l->icmp_buf, pkts[i], lens[i], l->mtu);
		if (icmp_len)
			tun_write(&l->tun, l->icmp_buf, icmp_len);
	}
	return kept;
}

/*
 * A batch of wire-sized packets: super-packets were split to the MTU first,
 * so only a packet that came in over it (or whose segments were cut for an
 * MTU since lowered) gets "too big".
 */
static void send_tun_batch(void *ctx, uint8_t *pkts[], size_t lens[], size_t n)
{
	struct loop *l = ctx;
	uint64_t now;

	n = drop_oversized(l, pkts, lens, n);
	if (!n)
		return;
	now = watch_now();
	/* On the wire first; the counters and timers can wait for the send. */
	if (dataplane_send(l->dp_tx, l->dev, l->workers, now, pkts, lens, n, l->mtu,
			   ops_reserve, l))
		flush_tx(l);
	dataplane_send_finish(l->dp_tx, l->dev, now);
	loop_after_device_call(l);
}

static void on_tun(struct watch *w, uint32_t events)
{
	struct loop *l = container_of(w, struct loop, tun_w);
	int n = tun_reader_run(&l->reader, &l->tun, send_tun_batch, l);

	if (n == -EAGAIN && (events & EPOLLERR))
		stop_if_gone(l, -EBADFD);
	else if (n < 0 && n != -EAGAIN)
		stop_if_gone(l, n);
}

/* ---- Handshakes: the backlog ---- */

/*
 * While the backlog is loaded, only messages with a valid cookie join it:
 * the device answers the rest with a cookie reply (or drops them) at once,
 * which costs less than queueing them, so a flood of spoofed initiations
 * cannot crowd out a peer that answered our cookie. A drop for a full
 * backlog is logged the first time, then every thousandth.
 */
static void queue_handshake(struct loop *l, uint64_t now, const struct braid_endpoint *from,
			    const uint8_t *buf, size_t len)
{
	if (backlog_is_loaded(&l->backlog) &&
	    braid_device_triage_handshake(l->dev, now, from, buf, len) != BRAID_OK)
		return;
	if (backlog_push(&l->backlog, from, buf, len))
		return;
	braid_device_count_drop(l->dev, BRAID_DROP_HANDSHAKE_BACKLOG);
	if (l->backlog.dropped == 1 || l->backlog.dropped - l->backlog_dropped_logged >= 1000) {
		iolog_verbose("%llu handshake messages dropped so far: the backlog was full",
			      (unsigned long long)l->backlog.dropped);
		l->backlog_dropped_logged = l->backlog.dropped;
	}
}

/* The oldest few waiting handshakes to the device: this turn's share. */
static void handshake_turn(struct loop *l)
{
	uint64_t now = watch_now();
	struct backlog_entry *e;

	if (backlog_is_loaded(&l->backlog))
		braid_device_set_under_load(l->dev, now);
	for (int i = 0; i < BACKLOG_PER_TURN && (e = backlog_oldest(&l->backlog)); i++) {
		braid_device_receive(l->dev, now, &e->from, e->msg, e->len);
		backlog_pop(&l->backlog);
	}
	loop_after_device_call(l);
}

/* ---- UDP ---- */

/*
 * Every datagram of a batch, a UDP_GRO buffer split into its datagrams:
 * handshakes to the backlog, the rest to the device as one batch (two or
 * more only when UDP_GRO packed more than DP_RECV_MAX).
 */
static void receive_udp(struct loop *l, int fam)
{
	struct udp_recv *b = l->udp_recv;
	int n = udp_recv_batch(&l->udp.sock[fam], b);
	uint64_t now = watch_now();
	size_t off, len, datagrams = 0;
	uint8_t *d;

	if (n < 0) {
		iolog_verbose("UDP receive: %s", strerror(-n));
		return;
	}
	/* Delivered packets stay in the receive buffers until flush_rx(). */
	tun_writer_window(&l->writer, l->udp_arena, (size_t)UDP_RECV_MSGS * UDP_BUF_LEN);
	for (int i = 0; i < n; i++) {
		for (off = 0; (len = udp_gro_next(b->lens[i], b->gso[i], off)); off += len) {
			d = b->bufs[i] + off;
			datagrams++;
			if (braid_message_is_handshake(d, len)) {
				queue_handshake(l, now, &b->from[i], d, len);
				continue;
			}
			if (dataplane_recv_full(l->dp_rx))
				dataplane_receive(l->dp_rx, l->dev, l->workers, now);
			dataplane_recv_add(l->dp_rx, &b->from[i], d, len);
		}
	}
	dataplane_receive(l->dp_rx, l->dev, l->workers, now);
	udp_recv_done(&l->udp.sock[fam], n, datagrams);
	if (n)
		loop_after_device_call(l);
}

static void on_udp(struct loop *l, int fam, uint32_t events)
{
	int ret;

	if (events & EPOLLOUT) {
		ret = udp_flush(&l->udp, fam, &l->sendq[fam], l->send_msgs, ops_source_refused, l);
		set_blocked(l, fam, ret == -EAGAIN);
	}
	if (events & (EPOLLIN | EPOLLERR))
		receive_udp(l, fam);
}

static void on_udp4(struct watch *w, uint32_t events)
{
	on_udp(container_of(w, struct loop, udp_w[UDP_V4]), UDP_V4, events);
}

static void on_udp6(struct watch *w, uint32_t events)
{
	on_udp(container_of(w, struct loop, udp_w[UDP_V6]), UDP_V6, events);
}

/* Watch the sockets (again, after a rebind closed the old ones). */
static int add_udp_watches(struct loop *l)
{
	static void (*const handle[UDP_FAMILIES])(struct watch *, uint32_t) = {
		[UDP_V4] = on_udp4, [UDP_V6] = on_udp6,
	};
	int ret = 0;

	for (int fam = 0; fam < UDP_FAMILIES && !ret; fam++) {
		l->udp_w[fam] = (struct watch){ .fd = l->udp.sock[fam].fd, .handle = handle[fam] };
		/* A queue that waited for the old socket's EPOLLOUT tries the new one. */
		l->tx_blocked[fam] = false;
		if (l->udp_w[fam].fd >= 0)
			ret = watch_add(l->epfd, &l->udp_w[fam], EPOLLIN);
	}
	pause_tun(l, false);
	return ret;
}

/* ---- Signals and link changes ---- */

static void on_signal(struct watch *w, uint32_t events)
{
	struct loop *l = container_of(w, struct loop, signal_w);
	struct signalfd_siginfo si;

	if (read(w->fd, &si, sizeof(si)) != sizeof(si))
		return;
	iolog_verbose("received signal %u, shutting down", si.ssi_signo);
	l->running = false;
}

static void set_mtu(struct loop *l, unsigned int mtu)
{
	if (mtu == l->mtu || !mtu)
		return;
	iolog_verbose("MTU is now %u", mtu);
	l->mtu = mtu;
	braid_device_set_mtu(l->dev, mtu);
}

static void on_netlink(struct watch *w, uint32_t events)
{
	struct loop *l = container_of(w, struct loop, netlink_w);
	struct link_news news;
	unsigned int mtu;

	if (netlink_read(w->fd, l->tun.ifindex, &news, &l->uplinks) < 0)
		return;
	if (news.lost && !tun_get_mtu(&l->tun, &mtu))
		set_mtu(l, mtu);
	/* Missed notifications: read the uplinks whole again. */
	if (news.lost && l->uplinks_fd >= 0 && uplinks_dump(l->uplinks_fd, &l->uplinks) < 0)
		iolog_verbose("cannot read the host's uplinks again");
	if (news.mtu_changed)
		set_mtu(l, news.mtu);
	/* The route to a peer may now leave by another interface than its sticky source's. */
	if (news.routing_changed || news.lost)
		braid_device_clear_endpoint_sources(l->dev);
	/* Multipath uplinks may have gone or come: at once, in this turn. */
	if ((news.routing_changed || news.lost || news.uplinks_changed) && l->service &&
	    l->service->host_changed) {
		l->service->host_changed(l->service->ctx, watch_now());
		loop_after_device_call(l);
	}
	/* A link moved to another namespace also vanishes from this one; it still works. */
	if ((news.deleted || news.lost) && tun_is_deleted(&l->tun)) {
		iolog_verbose("interface %s was deleted (RTM_DELLINK)", l->tun.name);
		l->running = false;
	} else if (news.deleted) {
		iolog_verbose("interface %s left this network namespace; still serving it",
			      l->tun.name);
	}
}

/* ---- What the loop's user may ask and change ---- */

uint16_t loop_listen_port(const struct loop *l)
{
	return l->udp.port;
}

uint32_t loop_fwmark(const struct loop *l)
{
	return l->udp.fwmark;
}

int loop_set_net(struct loop *l, bool set_port, uint16_t port, bool set_mark, uint32_t mark)
{
	bool rebound;
	int ret;

	ret = udp_reconfigure(&l->udp, set_port, port, set_mark, mark, &rebound);
	if (ret)
		return ret;
	if (rebound) {
		/* The old descriptors are closed, which took them out of the epoll set. */
		iolog_verbose("listening on port %u", l->udp.port);
		ret = add_udp_watches(l);
	}
	return ret;
}

/* ---- Setup and teardown ---- */

_Static_assert((int)TUN_READER_MAX <= (int)DP_SEND_MAX, "a TUN batch is one dataplane batch");

static int alloc_buffers(struct loop *l)
{
	if (tun_reader_init(&l->reader) || tun_writer_init(&l->writer) || backlog_init(&l->backlog))
		return -ENOMEM;
	l->icmp_buf = malloc(ICMP_TOO_BIG_MAX);
	l->udp_recv = calloc(1, sizeof(*l->udp_recv));
	l->send_msgs = calloc(1, sizeof(*l->send_msgs));
	l->dp_tx = calloc(1, sizeof(*l->dp_tx));
	l->dp_rx = calloc(1, sizeof(*l->dp_rx));
	/* One block, so a whole receive is one window for the TUN writer. */
	l->udp_arena = malloc((size_t)UDP_RECV_MSGS * UDP_BUF_LEN);
	if (!l->icmp_buf || !l->udp_recv || !l->send_msgs || !l->dp_tx || !l->dp_rx ||
	    !l->udp_arena)
		return -ENOMEM;
	for (int fam = 0; fam < UDP_FAMILIES; fam++)
		if (sendq_init(&l->sendq[fam]))
			return -ENOMEM;
	for (int i = 0; i < UDP_RECV_MSGS; i++)
		l->udp_recv->bufs[i] = l->udp_arena + (size_t)i * UDP_BUF_LEN;
	return 0;
}

static void free_buffers(struct loop *l)
{
	tun_reader_free(&l->reader);
	tun_writer_free(&l->writer);
	backlog_free(&l->backlog);
	free(l->udp_arena);
	free(l->udp_recv);
	free(l->icmp_buf);
	free(l->send_msgs);
	free(l->dp_tx);
	free(l->dp_rx);
	for (int fam = 0; fam < UDP_FAMILIES; fam++)
		sendq_free(&l->sendq[fam]);
}

static int open_tun(struct loop *l, const char *ifname)
{
	int ret = tun_open(&l->tun, ifname, l->use_offloads);

	switch (ret) {
	case 0:
		break;
	case -EPERM:
	case -EACCES:
		iolog_error("cannot create TUN device %s: permission denied (CAP_NET_ADMIN needed)",
			    ifname);
		return ret;
	case -EBUSY:
		iolog_error("cannot create TUN device %s: it is in use by another process", ifname);
		return ret;
	case -EINVAL:
		iolog_error("cannot create TUN device %s: %s", ifname,
			    "an interface of another kind has that name");
		return ret;
	default:
		iolog_error("cannot create TUN device %s: %s", ifname, strerror(-ret));
		return ret;
	}
	ret = tun_set_mtu(&l->tun, BRAID_DEFAULT_MTU);
	if (ret)
		iolog_error("cannot set the MTU of %s: %s", ifname, strerror(-ret));
	if (tun_get_mtu(&l->tun, &l->mtu))
		l->mtu = BRAID_DEFAULT_MTU;
	return 0;
}

static int open_device(struct loop *l)
{
	/* Every keypair gets a cipher context per worker, started or not. */
	struct braid_device_config config = { .data_threads = l->n_workers };

	l->dev = braid_device_new(&config, &ops_table, l);
	if (!l->dev)
		return -errno;
	braid_device_set_mtu(l->dev, l->mtu);
	return 0;
}

static int open_signals(struct loop *l)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	l->signal_w = (struct watch){ .fd = fd, .handle = on_signal };
	return watch_add(l->epfd, &l->signal_w, EPOLLIN);
}

/*
 * After subscribing to the notifications, so nothing falls between: the
 * uplinks as they are now. Without them multipath paths have no route check.
 */
static void open_uplinks(struct loop *l)
{
	int ret;

	l->uplinks_fd = uplinks_socket();
	ret = l->uplinks_fd < 0 ? l->uplinks_fd : uplinks_dump(l->uplinks_fd, &l->uplinks);
	if (ret)
		iolog_error("cannot read the host's uplinks (%s); multipath paths are not checked",
			    strerror(-ret));
}

static int open_watches(struct loop *l)
{
	int fd, ret;

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	l->timer_w = (struct watch){ .fd = fd, .handle = on_timer };
	ret = watch_add(l->epfd, &l->timer_w, EPOLLIN);
	if (ret)
		return ret;
	fd = netlink_open();
	if (fd < 0)
		return fd;
	l->netlink_w = (struct watch){ .fd = fd, .handle = on_netlink };
	ret = watch_add(l->epfd, &l->netlink_w, EPOLLIN);
	if (!ret)
		open_uplinks(l);
	if (!ret)
		ret = open_signals(l);
	if (!ret)
		ret = watch_add(l->epfd, &l->tun_w, EPOLLIN);
	if (!ret)
		ret = add_udp_watches(l);
	return ret;
}

static int fail(const char *what, int err)
{
	iolog_error("%s: %s", what, strerror(-err));
	return err;
}

static int open_epoll(struct loop *l)
{
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : open_watches(l);
}

/* A straight line of steps; loop_free() undoes whatever was done when one fails. */
static int init_steps(struct loop *l, const char *ifname)
{
	int ret;

	ret = alloc_buffers(l);
	if (ret)
		return fail("cannot allocate buffers", ret);
	ret = open_tun(l, ifname);
	if (ret)
		return ret;
	l->tun_w = (struct watch){ .fd = l->tun.fd, .handle = on_tun };
	ret = udp_open(&l->udp, 0, 0, l->use_offloads);
	if (ret)
		return fail("cannot open UDP sockets", ret);
	ret = open_device(l);
	if (ret)
		return fail("cannot create the device", ret);
	ret = open_epoll(l);
	if (ret)
		return fail("cannot set up the event loop", ret);
	/* Last, so that the service finds everything else in place. */
	if (l->service)
		ret = l->service->open(l->service->ctx, l->epfd, l->dev);
	return ret;
}

static void log_offloads(struct loop *l)
{
	const struct udp_sock *s4 = &l->udp.sock[UDP_V4], *s6 = &l->udp.sock[UDP_V6];

	iolog_verbose("offloads: TUN %s%s; UDP_SEGMENT %s/%s; UDP_GRO %s/%s (IPv4/IPv6)",
		      !l->tun.has_vnet_hdr ? "none" : "vnet_hdr (TSO, checksum",
		      !l->tun.has_vnet_hdr ? "" : l->tun.offloads & TUN_F_USO4 ? ", USO)" : ")",
		      s4->has_gso ? "on" : "off", s6->has_gso ? "on" : "off",
		      s4->has_gro ? "on" : "off", s6->has_gro ? "on" : "off");
}

int loop_init(struct loop *l, const struct loop_config *config)
{
	int ret;

	memset(l, 0, sizeof(*l));
	l->epfd = -1;
	l->tun.fd = -1;
	l->udp.sock[UDP_V4].fd = l->udp.sock[UDP_V6].fd = -1;
	l->timer_w.fd = l->signal_w.fd = l->netlink_w.fd = l->uplinks_fd = -1;
	l->armed = BRAID_NEVER;
	l->service = config->service;
	l->use_offloads = config->use_offloads;
	l->n_workers = config->workers;
	ret = init_steps(l, config->ifname);
	if (ret) {
		loop_free(l);
		return ret;
	}
	iolog_verbose("interface %s is up, UDP port %u, MTU %u", l->tun.name, l->udp.port, l->mtu);
	log_offloads(l);
	return 0;
}

static int epoll_timeout(struct loop *l)
{
	uint64_t next = l->service ? l->service->next_deadline(l->service->ctx) : BRAID_NEVER, now;

	/* Waiting handshakes are this loop's own work: look for events, do not sleep. */
	if (backlog_len(&l->backlog))
		return 0;
	if (next == BRAID_NEVER)
		return -1;
	now = watch_now();
	/* Round up: waking a little late is fine, spinning before the deadline is not. */
	return next <= now ? 0 : (int)((next - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
}

/* Threads for the crypto; without them (none wanted, or refused) the batches run here. */
static void start_workers(struct loop *l)
{
	if (!l->n_workers)
		return;
	l->workers = workers_new(l->n_workers);
	if (l->workers)
		iolog_verbose("%u crypto workers besides the event loop", l->n_workers);
	else
		iolog_error("cannot start %u crypto workers (%s); encrypting on one thread",
			    l->n_workers, strerror(errno));
}

int loop_run(struct loop *l)
{
	struct epoll_event events[32];
	int n;

	start_workers(l);
	l->running = true;
	loop_after_device_call(l);
	while (l->running) {
		n = epoll_wait(l->epfd, events, 32, epoll_timeout(l));
		if (n < 0 && errno != EINTR) {
			iolog_error("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n && l->running; i++) {
			struct watch *w = events[i].data.ptr;

			w->handle(w, events[i].events);
		}
		if (backlog_len(&l->backlog) && l->running)
			handshake_turn(l);
		if (l->service)
			l->service->expire(l->service->ctx, watch_now());
	}
	return 0;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

void loop_free(struct loop *l)
{
	workers_free(l->workers);
	l->workers = NULL;
	if (l->service)
		l->service->close(l->service->ctx);
	if (l->dev)
		braid_device_free(l->dev);
	l->dev = NULL;
	udp_close(&l->udp);
	tun_close(&l->tun);
	close_fd(l->timer_w.fd);
	close_fd(l->signal_w.fd);
	close_fd(l->netlink_w.fd);
	close_fd(l->uplinks_fd);
	close_fd(l->epfd);
	free_buffers(l);
	explicit_bzero(l->random_pool, sizeof(l->random_pool));
	memset(l, 0, sizeof(*l));
	l->epfd = l->tun.fd = l->udp.sock[UDP_V4].fd = l->udp.sock[UDP_V6].fd = -1;
}
