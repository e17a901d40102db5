// SPDX-License-Identifier: MIT
/*
 * relay: a UDP impairment relay for the namespace tests, standing in for the netem this kernel
 * lacks. It sits in a middle host between two WireGuard peers and owns one socket per side:
 *
 *	host a  <---- link A ---->  relay  <---- link B ---->  host b
 *	A_PEER            A_BIND (socket A)   B_BIND (socket B)           B_PEER
 *
 * Host a uses A_BIND as its peer's endpoint, host b uses B_BIND. A datagram from A_PEER arriving
 * on socket A leaves socket B for B_PEER (direction "ab"), and the reverse ("ba"); datagrams from
 * any other source are counted as foreign and dropped. Each side may be IPv4 or IPv6.
 *
 * Per direction, every datagram goes through the impairment engine of impair.h (shared with
 * linkem), each decision a draw from one seeded PRNG (xorshift64*, the seed is printed so that a
 * failing run's decisions can be replayed):
 *	drop=PCT	lost
 *	corrupt=PCT	one random byte XORed with a random non-zero value
 *	dup=PCT		sent twice (each copy then scheduled on its own)
 *	reorder=PCT	held back until reorder-pkts=N later datagrams of the direction have
 *			left, or reorder-ms=T have passed, whichever comes first (default 3, 20)
 *	rate=MBIT queue=Nms|Nkb  serialized at MBIT Mbit/s, dropped at the tail beyond the queue
 *	delay=MS jitter=MS  sent MS +- a uniform JITTER later; like netem, jitter larger than the
 *			gap between datagrams reorders them (milliseconds may have fractions)
 * The queues holding delayed and reordered datagrams are bounded (-q datagrams and 32 MB per
 * direction); a datagram that does not fit is dropped and counted as overflow.
 *
 * Signals: SIGUSR1 prints the counters (and rewrites the -S file); SIGUSR2 starts a blackhole of
 * -b milliseconds (default 3000): every datagram received or due to leave in that time is lost,
 * like a link outage; SIGTERM or SIGINT prints the counters and exits 0.
 *
 * Counters per direction: received (from the expected source), forwarded (datagrams sent) and
 * bytes, clean_bytes (bytes of sent datagrams that were neither corrupted nor the second copy of
 * a duplicate: what a WireGuard receiver should count in rx_bytes when nothing else is lost),
 * dropped, corrupted (+ corrupted_bytes), duplicated, reordered, delayed, blackholed, overflow,
 * send_errors, foreign, queued (still held); with a rate, rate_limited (waited for the link) and
 * taildrop (the rate's queue was full).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "impair.h"

#define MAX_DATAGRAM 65536
#define RECV_BATCH 32

/* One direction: its lane (first, so a lane pointer is the direction's) and its sockets. */
struct direction {
	struct lane lane;
	int in_fd, out_fd;
	struct sockaddr_storage from;	/* the only source accepted on in_fd */
	struct sockaddr_storage to;	/* where out_fd sends */
	socklen_t to_len;
	uint64_t foreign;
};

static struct direction dirs[2];
static size_t queue_max = 8192;
static uint64_t blackhole_ns = 3000 * NSEC_PER_MSEC, blackhole_until;
static const char *stats_path;
static bool verbose;

static int relay_emit(struct lane *l, const uint8_t *data, size_t len)
{
	struct direction *d = (struct direction *)l;

	return sendto(d->out_fd, data, len, 0, (struct sockaddr *)&d->to, d->to_len) < 0 ? -1 : 0;
}

/* Any byte of the datagram: WireGuard's authentication is what must catch it. */
static bool relay_corrupt(struct lane *l, uint8_t *data, size_t len)
{
	size_t off = rng_below(len);
	uint8_t first = data[0], x = 1 + rng_below(255);

	data[off] ^= x;
	if (verbose)
		printf("relay: %s corrupt len=%zu off=%zu first=%u xor=%u\n", l->name, len, off,
		       first, x);
	return true;
}

/* ---- receiving ---- */

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a6->sin6_port == b6->sin6_port &&
	       !memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
}

/* Read what is waiting on d's socket, a bounded number of batches so both sides get turns. */
static void receive(struct direction *d)
{
	static uint8_t bufs[RECV_BATCH][MAX_DATAGRAM];
	struct sockaddr_storage src[RECV_BATCH];
	struct mmsghdr msgs[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	int round, n, i;

	for (round = 0; round < 8; round++) {
		for (i = 0; i < RECV_BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = MAX_DATAGRAM };
			msgs[i] = (struct mmsghdr){ .msg_hdr = {
				.msg_name = &src[i], .msg_namelen = sizeof(src[i]),
				.msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		n = recvmmsg(d->in_fd, msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			uint64_t now = now_ns();

			if (!same_addr(&src[i], &d->from)) {
				d->foreign++;
				continue;
			}
			lane_input(&d->lane, now, bufs[i], msgs[i].msg_len);
			lane_release_due(&d->lane, now);
		}
		if (n < RECV_BATCH)
			return;
	}
}

/* ---- counters ---- */

static void print_counters(FILE *f, const struct direction *d)
{
	const struct impair_counters *c = &d->lane.c;

	fprintf(f, "relay: %s received=%llu forwarded=%llu bytes=%llu clean_bytes=%llu "
		"dropped=%llu corrupted=%llu corrupted_bytes=%llu duplicated=%llu reordered=%llu "
		"delayed=%llu blackholed=%llu overflow=%llu send_errors=%llu foreign=%llu "
		"queued=%zu", d->lane.name,
		(unsigned long long)c->received, (unsigned long long)c->forwarded,
		(unsigned long long)c->bytes, (unsigned long long)c->clean_bytes,
		(unsigned long long)c->dropped, (unsigned long long)c->corrupted,
		(unsigned long long)c->corrupted_bytes, (unsigned long long)c->duplicated,
		(unsigned long long)c->reordered, (unsigned long long)c->delayed,
		(unsigned long long)c->blackholed, (unsigned long long)c->overflow,
		(unsigned long long)c->send_errors, (unsigned long long)d->foreign,
		lane_queued(&d->lane));
	if (d->lane.rules.rate_bps > 0)
		fprintf(f, " rate_limited=%llu taildrop=%llu", (unsigned long long)c->rate_limited,
			(unsigned long long)c->taildrop);
	fputc('\n', f);
}

/* Print to stdout and replace the stats file in one rename, so a reader never sees half. */
static void report(void)
{
	char tmp[4096];
	FILE *f;
	int i;

	for (i = 0; i < 2; i++)
		print_counters(stdout, &dirs[i]);
	fflush(stdout);
	if (!stats_path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", stats_path);
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "relay: %s: %s\n", tmp, strerror(errno));
		return;
	}
	for (i = 0; i < 2; i++)
		print_counters(f, &dirs[i]);
	if (fclose(f) || rename(tmp, stats_path))
		fprintf(stderr, "relay: writing %s: %s\n", stats_path, strerror(errno));
}

/* ---- setup ---- */

static void usage(void)
{
	fprintf(stderr,
		"usage: relay [-s SEED] [-q MAXQUEUED] [-b BLACKHOLE_MS] [-S STATSFILE] [-v]\n"
		"             A_BIND A_PEER B_BIND B_PEER [DIR:KEY=VALUE[,KEY=VALUE...]...]\n"
		"  addresses: IPV4:PORT or [IPV6]:PORT; DIR: ab (a to b), ba, both\n"
		"  keys: drop corrupt dup reorder (percent), reorder-pkts=N, reorder-ms=MS,\n"
		"        delay=MS, jitter=MS (fractions allowed), rate=MBIT, queue=Nms|Nkb\n"
		"  SIGUSR1: print counters; SIGUSR2: blackhole for BLACKHOLE_MS (default 3000);\n"
		"  SIGTERM/SIGINT: print counters and exit\n");
	exit(2);
}

static int parse_addr(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *port, *end;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *res;
	size_t hlen;

	if (text[0] == '[') {
		end = strchr(text, ']');
		if (!end || end[1] != ':')
			return -1;
		hlen = end - text - 1;
		text++;
		port = end + 2;
	} else {
		end = strrchr(text, ':');
		if (!end)
			return -1;
		hlen = end - text;
		port = end + 1;
	}
	if (hlen >= sizeof(host) || !*port)
		return -1;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (getaddrinfo(host, port, &hints, &res))
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int open_socket(const char *bind_text)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, size = 4 << 20;

	if (parse_addr(bind_text, &ss, &len)) {
		fprintf(stderr, "relay: bad address '%s'\n", bind_text);
		exit(2);
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("relay: socket");
		exit(1);
	}
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* Large buffers, so the relay is not where a burst is lost (FORCE needs CAP_NET_ADMIN). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		fprintf(stderr, "relay: bind %s: %s\n", bind_text, strerror(errno));
		exit(1);
	}
	return fd;
}

/* DIR:KEY=VALUE[,KEY=VALUE...] */
static void parse_rule(char *rule)
{
	char *colon = strchr(rule, ':');
	bool ab, ba;

	if (!colon)
		usage();
	*colon = '\0';
	ab = !strcmp(rule, "ab") || !strcmp(rule, "both");
	ba = !strcmp(rule, "ba") || !strcmp(rule, "both");
	if (!ab && !ba) {
		fprintf(stderr, "relay: direction '%s': want ab, ba or both\n", rule);
		exit(2);
	}
	if ((ab && rules_parse(&dirs[0].lane.rules, strdupa(colon + 1))) ||
	    (ba && rules_parse(&dirs[1].lane.rules, strdupa(colon + 1))))
		exit(2);
}

static void describe(const struct direction *d)
{
	const struct impair_rules *m = &d->lane.rules;

	printf("relay: %s drop=%g%% corrupt=%g%% dup=%g%% reorder=%g%% (after %u datagrams or "
	       "%g ms) delay=%g ms jitter=%g ms", d->lane.name, m->drop * 100, m->corrupt * 100,
	       m->dup * 100, m->reorder * 100, m->reorder_pkts, ms_of(m->reorder_ns),
	       ms_of(m->delay_ns), ms_of(m->jitter_ns));
	if (m->rate_bps > 0)
		printf(" rate=%g Mbit/s queue=%g ms", m->rate_bps / 1e6,
		       ms_of(rules_queue_ns(m)));
	putchar('\n');
}

static void setup_directions(char **argv)
{
	int fd_a = open_socket(argv[0]), fd_b = open_socket(argv[2]), i;
	socklen_t len;

	dirs[0] = (struct direction){ .in_fd = fd_a, .out_fd = fd_b };
	dirs[1] = (struct direction){ .in_fd = fd_b, .out_fd = fd_a };
	if (parse_addr(argv[1], &dirs[0].from, &len) ||
	    parse_addr(argv[3], &dirs[0].to, &dirs[0].to_len)) {
		fprintf(stderr, "relay: bad peer address '%s' or '%s'\n", argv[1], argv[3]);
		exit(2);
	}
	dirs[1].from = dirs[0].to;
	dirs[1].to = dirs[0].from;
	dirs[1].to_len = len;
	for (i = 0; i < 2; i++) {
		if (lane_init(&dirs[i].lane, i ? "ba" : "ab", queue_max, relay_emit,
			      relay_corrupt)) {
			fprintf(stderr, "relay: out of memory\n");
			exit(1);
		}
	}
}

/* Returns false when the relay should exit. */
static bool handle_signals(int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGUSR1:
			report();
			break;
		case SIGUSR2:
			blackhole_until = now_ns() + blackhole_ns;
			dirs[0].lane.blackhole_until = blackhole_until;
			dirs[1].lane.blackhole_until = blackhole_until;
			printf("relay: blackhole for %llu ms\n",
			       (unsigned long long)(blackhole_ns / NSEC_PER_MSEC));
			fflush(stdout);
			break;
		default:
			return false;
		}
	}
	return true;
}

/* The next time something must happen: a datagram due, or the blackhole's end (to say so). */
static uint64_t next_deadline(uint64_t now)
{
	uint64_t t = lane_next_due(&dirs[0].lane), t1 = lane_next_due(&dirs[1].lane);

	if (t1 < t)
		t = t1;
	if (blackhole_until > now && blackhole_until < t)
		t = blackhole_until;
	return t;
}

int main(int argc, char **argv)
{
	struct epoll_event evs[4];
	bool seeded = false, running = true, blackholed = false;
	int opt, ep, sfd, n, i;
	uint64_t seed = 0, now;

	impair_prog = "relay";
	while ((opt = getopt(argc, argv, "s:q:b:S:vh")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 'q':
			queue_max = parse_count("-q", optarg, 1 << 20);
			if (!queue_max)
				usage();
			break;
		case 'b':
			blackhole_ns = parse_count("-b", optarg, 3600000) * NSEC_PER_MSEC;
			break;
		case 'S':
			stats_path = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 4)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	prctl(PR_SET_TIMERSLACK, 1UL);	/* wake for a due datagram on time, not 50 us late */
	rng_seed(seeded ? seed : (seed = random_seed()));
	setup_directions(argv);
	for (i = 4; i < argc; i++)
		parse_rule(argv[i]);
	sfd = setup_signals();
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("relay: epoll_create1");
		return 1;
	}
	epoll_add(ep, dirs[0].in_fd, 0);
	epoll_add(ep, dirs[1].in_fd, 1);
	epoll_add(ep, sfd, 2);
	printf("relay: seed=%llu a=%s<->%s b=%s<->%s pid=%d\n", (unsigned long long)seed,
	       argv[1], argv[0], argv[2], argv[3], (int)getpid());
	describe(&dirs[0]);
	describe(&dirs[1]);
	fflush(stdout);
	if (stats_path)
		report();

	while (running) {
		now = now_ns();
		n = epoll_wait_until(ep, evs, 4, now, next_deadline(now));
		if (n < 0 && errno != EINTR) {
			perror("relay: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.u32 == 2)
				running = handle_signals(sfd);
			else
				receive(&dirs[evs[i].data.u32]);
		}
		now = now_ns();
		lane_release_due(&dirs[0].lane, now);
		lane_release_due(&dirs[1].lane, now);
		if (blackholed && now >= blackhole_until) {
			printf("relay: blackhole over\n");
			fflush(stdout);
		}
		blackholed = now < blackhole_until;
	}
	report();
	for (i = 0; i < 2; i++) {
		lane_clear(&dirs[i].lane);
		close(dirs[i].in_fd);
	}
	pool_clear();
	close(sfd);
	close(ep);
	return 0;
}
