// SPDX-License-Identifier: MIT
/*
 * The event loop: one thread, one epoll set, every libbraid call.
 *
 * Outbound: TUN readable -> read a batch -> answer oversized packets with
 * ICMP -> braid_device_send(). Inbound: UDP readable -> recvmmsg batch ->
 * braid_device_receive() per datagram -> ops.deliver writes to TUN.
 * Timers: one timerfd at the device's next deadline, moved earlier after
 * every batch that brought the deadline forward; when it fires,
 * braid_device_tick() returns the one after.
 *
 * Level-triggered epoll and one batch per event keep TUN, UDP and the UAPI
 * taking turns, so a flood on one cannot starve the others.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "icmp.h"
#include "log.h"
#include "loop.h"
#include "netlink.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

int watch_add(int epfd, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

int watch_mod(int epfd, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

void watch_del(int epfd, struct watch *w)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t watch_now(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* ---- braid_ops: what libbraid calls back ---- */

static void note_stale_source(struct loop *l, struct braid_peer *peer)
{
	for (size_t i = 0; i < l->n_stale; i++)
		if (l->stale[i] == peer)
			return;
	/* When full, the peer's next send fails over again and gets another chance. */
	if (l->n_stale < LOOP_MAX_STALE)
		l->stale[l->n_stale++] = peer;
}

static void send_error(const struct braid_endpoint *to, int err)
{
	log_verbose("send to %s endpoint failed: %s",
		    to->addr.sa.sa_family == AF_INET6 ? "IPv6" : "IPv4", strerror(-err));
}

static void op_send(void *ctx, struct braid_peer *peer, const struct braid_endpoint *to,
		    const uint8_t *buf, size_t len, uint8_t tos)
{
	struct loop *l = ctx;
	bool stale;
	int ret;

	ret = udp_send(&l->udp, to, buf, len, tos, &stale);
	if (stale && peer)
		note_stale_source(l, peer);
	if (ret)
		send_error(to, ret);
}

static void op_send_reply(void *ctx, const struct braid_endpoint *to, const uint8_t *buf,
			  size_t len)
{
	op_send(ctx, NULL, to, buf, len, 0);
}

static void op_deliver(void *ctx, struct braid_peer *peer, uint8_t *pkt, size_t len)
{
	struct loop *l = ctx;
	int ret = tun_write(&l->tun, pkt, len);

	/* EIO: the link is down; the packet is dropped as the kernel would. */
	if (ret == -EBADFD) {
		log_error("interface %s is gone", l->tun.name);
		l->running = false;
	} else if (ret && ret != -EIO) {
		log_verbose("TUN write failed: %s", strerror(-ret));
	}
}

static void op_random(void *ctx, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Without randomness no key or index is safe: stop rather than guess. */
			log_error("getrandom: %s", strerror(errno));
			abort();
		}
		p += n;
		len -= n;
	}
}

static uint64_t op_wall_clock_ns(void *ctx)
{
	return clock_ns(CLOCK_REALTIME);
}

/* ---- Timer ---- */

static void arm_timer(struct loop *l, uint64_t deadline)
{
	struct itimerspec its = { 0 };

	/* Zero would disarm the timerfd; a deadline of 0 is simply in the past. */
	if (deadline != BRAID_NEVER) {
		if (!deadline)
			deadline = 1;
		its.it_value.tv_sec = deadline / 1000000000ULL;
		its.it_value.tv_nsec = deadline % 1000000000ULL;
	}
	if (timerfd_settime(l->timer_w.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_error("timerfd_settime: %s", strerror(errno));
	l->armed = deadline;
}

/*
 * After every call into the device: make peers forget a source address the
 * kernel refused (not from inside the callback, which must not re-enter the
 * device), and bring the timer forward if a deadline moved earlier. A later
 * deadline needs nothing: the timer fires early and tick() says what is next.
 */
static void after_device_call(struct loop *l)
{
	struct braid_endpoint ep;
	uint64_t next;

	for (size_t i = 0; i < l->n_stale; i++) {
		if (braid_peer_get_endpoint(l->stale[i], &ep)) {
			memset(&ep.src, 0, sizeof(ep.src));
			ep.src_ifindex = 0;
			braid_peer_set_endpoint(l->stale[i], &ep);
		}
	}
	l->n_stale = 0;
	next = braid_device_next_deadline(l->dev);
	if (next < l->armed)
		arm_timer(l, next);
}

static void timer_handle(struct watch *w, uint32_t events)
{
	struct loop *l = container_of(w, struct loop, timer_w);
	uint64_t expirations;

	if (read(w->fd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN)
		return;
	arm_timer(l, braid_device_tick(l->dev, watch_now()));
	after_device_call(l);
}

/* ---- TUN ---- */

static void stop_if_gone(struct loop *l, int err)
{
	if (err == -EBADFD || err == -EIO) {
		log_verbose("interface %s was deleted (TUN detached)", l->tun.name);
		l->running = false;
	} else {
		log_error("TUN read: %s", strerror(-err));
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

static void tun_handle(struct watch *w, uint32_t events)
{
	struct loop *l = container_of(w, struct loop, tun_w);
	int n = tun_read_batch(&l->tun, l->tun_bufs, l->tun_lens, TUN_BATCH);

	if (n < 0) {
		stop_if_gone(l, n);
		return;
	}
	if (!n && (events & EPOLLERR)) {
		stop_if_gone(l, -EBADFD);
		return;
	}
	n = drop_oversized(l, l->tun_bufs, l->tun_lens, n);
	if (n) {
		braid_device_send(l->dev, watch_now(), l->tun_bufs, l->tun_lens, n);
		after_device_call(l);
	}
}

/* ---- UDP ---- */

static void udp_handle_fd(struct loop *l, int fd)
{
	struct udp_batch *b = l->udp_batch;
	int n = udp_recv_batch(fd, b, l->udp_from, l->udp_lens);

	if (n < 0) {
		log_verbose("UDP receive: %s", strerror(-n));
		return;
	}
	for (int i = 0; i < n; i++)
		braid_device_receive(l->dev, watch_now(), &l->udp_from[i], b->bufs[i],
				     l->udp_lens[i]);
	if (n)
		after_device_call(l);
}

static void udp4_handle(struct watch *w, uint32_t events)
{
	udp_handle_fd(container_of(w, struct loop, udp4_w), w->fd);
}

static void udp6_handle(struct watch *w, uint32_t events)
{
	udp_handle_fd(container_of(w, struct loop, udp6_w), w->fd);
}

static int watch_udp(struct loop *l)
{
	int ret = 0;

	l->udp4_w = (struct watch){ .fd = l->udp.fd4, .handle = udp4_handle };
	l->udp6_w = (struct watch){ .fd = l->udp.fd6, .handle = udp6_handle };
	if (l->udp.fd4 >= 0)
		ret = watch_add(l->epfd, &l->udp4_w, EPOLLIN);
	if (!ret && l->udp.fd6 >= 0)
		ret = watch_add(l->epfd, &l->udp6_w, EPOLLIN);
	return ret;
}

/* ---- Signals and link changes ---- */

static void signal_handle(struct watch *w, uint32_t events)
{
	struct loop *l = container_of(w, struct loop, signal_w);
	struct signalfd_siginfo si;

	if (read(w->fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_verbose("received signal %u, shutting down", si.ssi_signo);
	l->running = false;
}

static void set_mtu(struct loop *l, unsigned int mtu)
{
	if (mtu == l->mtu || !mtu)
		return;
	log_verbose("MTU is now %u", mtu);
	l->mtu = mtu;
	braid_device_set_mtu(l->dev, mtu);
}

static void netlink_handle(struct watch *w, uint32_t events)
{
	struct loop *l = container_of(w, struct loop, netlink_w);
	struct link_news news;
	unsigned int mtu;

	if (netlink_read(w->fd, l->tun.ifindex, &news) < 0)
		return;
	if (news.lost && !tun_get_mtu(&l->tun, &mtu))
		set_mtu(l, mtu);
	if (news.mtu_changed)
		set_mtu(l, news.mtu);
	/* A link moved to another namespace also vanishes from this one; it still works. */
	if ((news.deleted || news.lost) && tun_is_deleted(&l->tun)) {
		log_verbose("interface %s was deleted (RTM_DELLINK)", l->tun.name);
		l->running = false;
	} else if (news.deleted) {
		log_verbose("interface %s left this network namespace; still serving it",
			    l->tun.name);
	}
}

/* ---- UAPI glue ---- */

static uint16_t host_get_listen_port(void *ctx)
{
	struct loop *l = ctx;

	return l->udp.port;
}

static uint32_t host_get_fwmark(void *ctx)
{
	struct loop *l = ctx;

	return l->udp.fwmark;
}

static int host_set_net(void *ctx, bool set_port, uint16_t port, bool set_mark, uint32_t mark)
{
	struct loop *l = ctx;
	bool rebound;
	int ret;

	ret = udp_reconfigure(&l->udp, set_port, port, set_mark, mark, &rebound);
	if (ret)
		return ret;
	if (rebound) {
		/* The old descriptors are closed, which took them out of the epoll set. */
		log_verbose("listening on port %u", l->udp.port);
		ret = watch_udp(l);
	}
	return ret;
}

static const struct uapi_host_ops host_ops = {
	.get_listen_port = host_get_listen_port,
	.get_fwmark = host_get_fwmark,
	.set_net = host_set_net,
};

static void uapi_changed(void *ctx)
{
	after_device_call(ctx);
}

/* ---- Setup and teardown ---- */

static int alloc_buffers(struct loop *l)
{
	for (int i = 0; i < TUN_BATCH; i++) {
		l->tun_bufs[i] = malloc(TUN_BUF_LEN);
		if (!l->tun_bufs[i])
			return -ENOMEM;
	}
	l->icmp_buf = malloc(ICMP_TOO_BIG_MAX);
	l->udp_batch = calloc(1, sizeof(*l->udp_batch));
	if (!l->icmp_buf || !l->udp_batch)
		return -ENOMEM;
	for (int i = 0; i < UDP_BATCH; i++) {
		l->udp_batch->bufs[i] = malloc(UDP_BUF_LEN);
		if (!l->udp_batch->bufs[i])
			return -ENOMEM;
	}
	return 0;
}

static void free_buffers(struct loop *l)
{
	for (int i = 0; i < TUN_BATCH; i++)
		free(l->tun_bufs[i]);
	if (l->udp_batch)
		for (int i = 0; i < UDP_BATCH; i++)
			free(l->udp_batch->bufs[i]);
	free(l->udp_batch);
	free(l->icmp_buf);
}

static int open_tun(struct loop *l, const char *ifname)
{
	int ret = tun_open(&l->tun, ifname);

	switch (ret) {
	case 0:
		break;
	case -EPERM:
	case -EACCES:
		log_error("cannot create TUN device %s: permission denied (CAP_NET_ADMIN needed)",
			  ifname);
		return ret;
	case -EBUSY:
		log_error("cannot create TUN device %s: it is in use by another process", ifname);
		return ret;
	case -EINVAL:
		log_error("cannot create TUN device %s: an interface of another kind has that name",
			  ifname);
		return ret;
	default:
		log_error("cannot create TUN device %s: %s", ifname, strerror(-ret));
		return ret;
	}
	ret = tun_set_mtu(&l->tun, BRAID_DEFAULT_MTU);
	if (ret)
		log_error("cannot set the MTU of %s: %s", ifname, strerror(-ret));
	if (tun_get_mtu(&l->tun, &l->mtu))
		l->mtu = BRAID_DEFAULT_MTU;
	return 0;
}

static int open_device(struct loop *l)
{
	struct braid_device_config config = { 0 };

	l->ops = (struct braid_ops){
		.send = op_send,
		.send_reply = op_send_reply,
		.deliver = op_deliver,
		.random = op_random,
		.wall_clock_ns = op_wall_clock_ns,
		.log = log_from_core,
	};
	l->dev = braid_device_new(&config, &l->ops, l);
	if (!l->dev)
		return -errno;
	braid_device_set_mtu(l->dev, l->mtu);
	l->uapi = (struct uapi){ .dev = l->dev, .host = &host_ops, .host_ctx = l };
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
	l->signal_w = (struct watch){ .fd = fd, .handle = signal_handle };
	return watch_add(l->epfd, &l->signal_w, EPOLLIN);
}

static int open_watches(struct loop *l)
{
	int fd, ret;

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	l->timer_w = (struct watch){ .fd = fd, .handle = timer_handle };
	ret = watch_add(l->epfd, &l->timer_w, EPOLLIN);
	if (ret)
		return ret;
	fd = netlink_open();
	if (fd < 0)
		return fd;
	l->netlink_w = (struct watch){ .fd = fd, .handle = netlink_handle };
	ret = watch_add(l->epfd, &l->netlink_w, EPOLLIN);
	if (!ret)
		ret = open_signals(l);
	if (!ret)
		ret = watch_add(l->epfd, &l->tun_w, EPOLLIN);
	if (!ret)
		ret = watch_udp(l);
	return ret;
}

static int fail(const char *what, int err)
{
	log_error("%s: %s", what, strerror(-err));
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

	/* Before the TUN device: a live daemon for this name must not lose its interface. */
	ret = uapi_sock_check(ifname);
	if (ret == -EADDRINUSE) {
		log_error("%s/%s.sock is served by a running process: is %s already up?",
			  UAPI_SOCKET_DIR, ifname, ifname);
		return ret;
	}
	ret = alloc_buffers(l);
	if (ret)
		return fail("cannot allocate buffers", ret);
	ret = open_tun(l, ifname);
	if (ret)
		return ret;
	l->tun_w = (struct watch){ .fd = l->tun.fd, .handle = tun_handle };
	ret = udp_open(&l->udp, 0, 0);
	if (ret)
		return fail("cannot open UDP sockets", ret);
	ret = open_device(l);
	if (ret)
		return fail("cannot create the device", ret);
	ret = open_epoll(l);
	if (ret)
		return fail("cannot set up the event loop", ret);
	l->server.changed = uapi_changed;
	l->server.ctx = l;
	ret = uapi_sock_listen(&l->server, l->epfd, ifname, &l->uapi);
	if (ret == -EADDRINUSE)
		log_error("%s/%s.sock is served by a running process", UAPI_SOCKET_DIR, ifname);
	else if (ret)
		fail("cannot create the UAPI socket " UAPI_SOCKET_DIR, ret);
	return ret;
}

int loop_init(struct loop *l, const char *ifname)
{
	int ret;

	memset(l, 0, sizeof(*l));
	l->epfd = -1;
	l->tun.fd = -1;
	l->udp.fd4 = l->udp.fd6 = -1;
	l->timer_w.fd = l->signal_w.fd = l->netlink_w.fd = -1;
	l->server.w.fd = -1;
	l->armed = BRAID_NEVER;
	ret = init_steps(l, ifname);
	if (ret)
		loop_free(l);
	else
		log_verbose("interface %s is up, UDP port %u, MTU %u", l->tun.name,
			    l->udp.port, l->mtu);
	return ret;
}

static int epoll_timeout(struct loop *l)
{
	uint64_t next = uapi_sock_next_deadline(&l->server), now;

	if (next == BRAID_NEVER)
		return -1;
	now = watch_now();
	/* Round up: waking a little late is fine, spinning before the deadline is not. */
	return next <= now ? 0 : (int)((next - now + 999999) / 1000000);
}

int loop_run(struct loop *l)
{
	struct epoll_event events[32];
	int n;

	l->running = true;
	after_device_call(l);
	while (l->running) {
		n = epoll_wait(l->epfd, events, 32, epoll_timeout(l));
		if (n < 0 && errno != EINTR) {
			log_error("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n && l->running; i++) {
			struct watch *w = events[i].data.ptr;

			w->handle(w, events[i].events);
		}
		uapi_sock_expire(&l->server, watch_now());
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
	uapi_sock_close(&l->server);
	if (l->dev)
		braid_device_free(l->dev);
	l->dev = NULL;
	udp_close(&l->udp);
	tun_close(&l->tun);
	close_fd(l->timer_w.fd);
	close_fd(l->signal_w.fd);
	close_fd(l->netlink_w.fd);
	close_fd(l->epfd);
	free_buffers(l);
	memset(l, 0, sizeof(*l));
	l->epfd = l->tun.fd = l->udp.fd4 = l->udp.fd6 = -1;
}
