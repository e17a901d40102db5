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
 * Per direction, every datagram goes through these steps, each a draw from one seeded PRNG
 * (xorshift64*, the seed is printed so that a failing run's decisions can be replayed):
 *	drop=PCT	lost
 *	corrupt=PCT	one random byte XORed with a random non-zero value
 *	dup=PCT		sent twice (each copy then scheduled on its own)
 *	reorder=PCT	held back until reorder-pkts=N later datagrams of the direction have
 *			left, or reorder-ms=T have passed, whichever comes first (default 3, 20)
 *	delay=MS jitter=MS  sent MS +- a uniform JITTER later; like netem, jitter larger than the
 *			gap between datagrams reorders them
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
 * send_errors, foreign, queued (still held).
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
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DATAGRAM 65536
#define RECV_BATCH 32
#define QUEUE_BYTES_MAX (32u << 20)
#define NSEC_PER_MSEC 1000000ULL

enum { PKT_CORRUPTED = 1, PKT_DUPLICATE = 2 };

/* One datagram waiting in a queue: for the delay heap, due_ns; for the reorder list, both. */
struct pkt {
	uint64_t due_ns;
	uint64_t seq;		/* heap: FIFO among equal due_ns; reorder: sent count to await */
	size_t len;
	unsigned int flags;
	uint8_t data[];
};

struct impairment {
	double drop, corrupt, dup, reorder;	/* probabilities, 0..1 */
	unsigned int reorder_pkts;
	uint64_t reorder_ns, delay_ns, jitter_ns;
};

struct counters {
	uint64_t received, forwarded, bytes, clean_bytes, dropped, corrupted, corrupted_bytes,
		 duplicated, reordered, delayed, blackholed, overflow, send_errors, foreign;
};

struct direction {
	const char *name;
	int in_fd, out_fd;
	struct sockaddr_storage from;	/* the only source accepted on in_fd */
	struct sockaddr_storage to;	/* where out_fd sends */
	socklen_t to_len;
	struct impairment imp;
	struct counters c;
	struct pkt **heap;		/* delayed, min-heap on (due_ns, seq) */
	size_t heap_len;
	struct pkt **held;		/* reordered, in arrival order */
	size_t held_len;
	size_t queued_bytes;
	uint64_t sent;			/* datagrams sent so far (reorder release count) */
	uint64_t next_seq;
};

static struct direction dirs[2];
static uint64_t rng_state;
static size_t queue_max = 8192;
static uint64_t blackhole_ns = 3000 * NSEC_PER_MSEC, blackhole_until;
static const char *stats_path;
static bool verbose;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* True with probability p; no draw is made for p == 0, so unused options do not shift others. */
static bool chance(double p)
{
	if (p <= 0)
		return false;
	return (rng_next() >> 11) * 0x1.0p-53 < p;
}

static uint64_t rng_below(uint64_t n)
{
	return n ? rng_next() % n : 0;
}

/* ---- queues ---- */

static bool pkt_before(const struct pkt *x, const struct pkt *y)
{
	return x->due_ns < y->due_ns || (x->due_ns == y->due_ns && x->seq < y->seq);
}

static void heap_push(struct direction *d, struct pkt *p)
{
	size_t i = d->heap_len++, parent;

	while (i && pkt_before(p, d->heap[parent = (i - 1) / 2])) {
		d->heap[i] = d->heap[parent];
		i = parent;
	}
	d->heap[i] = p;
}

static struct pkt *heap_pop(struct direction *d)
{
	struct pkt *top = d->heap[0], *last = d->heap[--d->heap_len];
	size_t i = 0, child;

	while ((child = 2 * i + 1) < d->heap_len) {
		if (child + 1 < d->heap_len && pkt_before(d->heap[child + 1], d->heap[child]))
			child++;
		if (!pkt_before(d->heap[child], last))
			break;
		d->heap[i] = d->heap[child];
		i = child;
	}
	if (d->heap_len)
		d->heap[i] = last;
	return top;
}

static size_t queued(const struct direction *d)
{
	return d->heap_len + d->held_len;
}

static struct pkt *pkt_new(struct direction *d, const uint8_t *data, size_t len,
			   unsigned int flags)
{
	struct pkt *p;

	if (queued(d) >= queue_max || d->queued_bytes + len > QUEUE_BYTES_MAX)
		return NULL;
	p = malloc(sizeof(*p) + len);
	if (!p)
		return NULL;
	memcpy(p->data, data, len);
	p->len = len;
	p->flags = flags;
	d->queued_bytes += len;
	return p;
}

static void pkt_free(struct direction *d, struct pkt *p)
{
	d->queued_bytes -= p->len;
	free(p);
}

/* ---- sending ---- */

static void send_now(struct direction *d, uint64_t now, const uint8_t *data, size_t len,
		     unsigned int flags)
{
	if (now < blackhole_until) {
		d->c.blackholed++;
		return;
	}
	if (sendto(d->out_fd, data, len, 0, (struct sockaddr *)&d->to, d->to_len) < 0) {
		d->c.send_errors++;
		return;
	}
	d->c.forwarded++;
	d->c.bytes += len;
	if (!flags)
		d->c.clean_bytes += len;
	d->sent++;
}

/* Send what is due: delayed datagrams whose time came, reordered ones whose count or time did. */
static void release_due(struct direction *d, uint64_t now)
{
	bool again = true;
	size_t i, j;

	while (again) {
		again = false;
		while (d->heap_len && d->heap[0]->due_ns <= now) {
			struct pkt *p = heap_pop(d);

			send_now(d, now, p->data, p->len, p->flags);
			pkt_free(d, p);
		}
		for (i = j = 0; i < d->held_len; i++) {
			struct pkt *p = d->held[i];

			if (d->sent >= p->seq || now >= p->due_ns) {
				send_now(d, now, p->data, p->len, p->flags);
				pkt_free(d, p);
				again = true;	/* its sending may release another */
			} else {
				d->held[j++] = p;
			}
		}
		d->held_len = j;
	}
}

/* The earliest time something queued in d must leave; UINT64_MAX when nothing is. */
static uint64_t next_due(const struct direction *d)
{
	uint64_t t = d->heap_len ? d->heap[0]->due_ns : UINT64_MAX;
	size_t i;

	for (i = 0; i < d->held_len; i++)
		if (d->held[i]->due_ns < t)
			t = d->held[i]->due_ns;
	return t;
}

/* One copy of a datagram: hold it back, delay it, or send it now. */
static void schedule(struct direction *d, uint64_t now, const uint8_t *data, size_t len,
		     unsigned int flags)
{
	const struct impairment *imp = &d->imp;
	struct pkt *p;
	uint64_t due;

	if (chance(imp->reorder)) {
		p = pkt_new(d, data, len, flags);
		if (!p) {
			d->c.overflow++;
			return;
		}
		p->seq = d->sent + imp->reorder_pkts;
		p->due_ns = now + imp->reorder_ns;
		d->held[d->held_len++] = p;
		d->c.reordered++;
		return;
	}
	due = now + imp->delay_ns;
	if (imp->jitter_ns) {
		/* uniform in [delay - jitter, delay + jitter], never before now */
		due += rng_below(2 * imp->jitter_ns + 1);
		due = due > now + imp->jitter_ns ? due - imp->jitter_ns : now;
	}
	if (due <= now) {
		send_now(d, now, data, len, flags);
		return;
	}
	p = pkt_new(d, data, len, flags);
	if (!p) {
		d->c.overflow++;
		return;
	}
	p->due_ns = due;
	p->seq = d->next_seq++;
	heap_push(d, p);
	d->c.delayed++;
}

static void impair(struct direction *d, uint64_t now, uint8_t *data, size_t len)
{
	const struct impairment *imp = &d->imp;
	unsigned int flags = 0;

	if (now < blackhole_until) {
		d->c.blackholed++;
		return;
	}
	if (chance(imp->drop)) {
		d->c.dropped++;
		return;
	}
	if (len && chance(imp->corrupt)) {
		size_t off = rng_below(len);
		uint8_t first = data[0], x = 1 + rng_below(255);

		data[off] ^= x;
		flags |= PKT_CORRUPTED;
		d->c.corrupted++;
		d->c.corrupted_bytes += len;
		if (verbose)
			printf("relay: %s corrupt len=%zu off=%zu first=%u xor=%u\n", d->name, len,
			       off, first, x);
	}
	schedule(d, now, data, len, flags);
	if (chance(imp->dup)) {
		d->c.duplicated++;
		schedule(d, now, data, len, flags | PKT_DUPLICATE);
	}
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
				d->c.foreign++;
				continue;
			}
			d->c.received++;
			impair(d, now, bufs[i], msgs[i].msg_len);
			release_due(d, now);
		}
		if (n < RECV_BATCH)
			return;
	}
}

/* ---- counters ---- */

static void print_counters(FILE *f, const struct direction *d)
{
	const struct counters *c = &d->c;

	fprintf(f, "relay: %s received=%llu forwarded=%llu bytes=%llu clean_bytes=%llu "
		"dropped=%llu corrupted=%llu corrupted_bytes=%llu duplicated=%llu reordered=%llu "
		"delayed=%llu blackholed=%llu overflow=%llu send_errors=%llu foreign=%llu "
		"queued=%zu\n", d->name,
		(unsigned long long)c->received, (unsigned long long)c->forwarded,
		(unsigned long long)c->bytes, (unsigned long long)c->clean_bytes,
		(unsigned long long)c->dropped, (unsigned long long)c->corrupted,
		(unsigned long long)c->corrupted_bytes, (unsigned long long)c->duplicated,
		(unsigned long long)c->reordered, (unsigned long long)c->delayed,
		(unsigned long long)c->blackholed, (unsigned long long)c->overflow,
		(unsigned long long)c->send_errors, (unsigned long long)c->foreign, queued(d));
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
		"        delay=MS, jitter=MS\n"
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

static double parse_percent(const char *key, const char *value)
{
	char *end;
	double v = strtod(value, &end);

	if (end == value || *end || v < 0 || v > 100) {
		fprintf(stderr, "relay: %s=%s: want a percentage 0..100\n", key, value);
		exit(2);
	}
	return v / 100;
}

static unsigned long parse_count(const char *key, const char *value, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (end == value || *end || errno || v > max || value[0] == '-') {
		fprintf(stderr, "relay: %s=%s: want a number 0..%lu\n", key, value, max);
		exit(2);
	}
	return v;
}

static void set_option(struct impairment *imp, const char *key, const char *value)
{
	if (!strcmp(key, "drop"))
		imp->drop = parse_percent(key, value);
	else if (!strcmp(key, "corrupt"))
		imp->corrupt = parse_percent(key, value);
	else if (!strcmp(key, "dup"))
		imp->dup = parse_percent(key, value);
	else if (!strcmp(key, "reorder"))
		imp->reorder = parse_percent(key, value);
	else if (!strcmp(key, "reorder-pkts"))
		imp->reorder_pkts = parse_count(key, value, 1000000);
	else if (!strcmp(key, "reorder-ms"))
		imp->reorder_ns = parse_count(key, value, 600000) * NSEC_PER_MSEC;
	else if (!strcmp(key, "delay"))
		imp->delay_ns = parse_count(key, value, 600000) * NSEC_PER_MSEC;
	else if (!strcmp(key, "jitter"))
		imp->jitter_ns = parse_count(key, value, 600000) * NSEC_PER_MSEC;
	else {
		fprintf(stderr, "relay: unknown option '%s'\n", key);
		exit(2);
	}
}

/* DIR:KEY=VALUE[,KEY=VALUE...] */
static void parse_rule(char *rule)
{
	char *colon = strchr(rule, ':'), *item, *save = NULL;
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
	for (item = strtok_r(colon + 1, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');

		if (!eq)
			usage();
		*eq = '\0';
		if (ab)
			set_option(&dirs[0].imp, item, eq + 1);
		if (ba)
			set_option(&dirs[1].imp, item, eq + 1);
	}
}

static void describe(const struct direction *d)
{
	const struct impairment *m = &d->imp;

	printf("relay: %s drop=%g%% corrupt=%g%% dup=%g%% reorder=%g%% (after %u datagrams or "
	       "%llu ms) delay=%llu ms jitter=%llu ms\n", d->name, m->drop * 100, m->corrupt * 100,
	       m->dup * 100, m->reorder * 100, m->reorder_pkts,
	       (unsigned long long)(m->reorder_ns / NSEC_PER_MSEC),
	       (unsigned long long)(m->delay_ns / NSEC_PER_MSEC),
	       (unsigned long long)(m->jitter_ns / NSEC_PER_MSEC));
}

static void setup_directions(char **argv)
{
	int fd_a = open_socket(argv[0]), fd_b = open_socket(argv[2]), i;
	socklen_t len;

	dirs[0] = (struct direction){ .name = "ab", .in_fd = fd_a, .out_fd = fd_b };
	dirs[1] = (struct direction){ .name = "ba", .in_fd = fd_b, .out_fd = fd_a };
	if (parse_addr(argv[1], &dirs[0].from, &len) ||
	    parse_addr(argv[3], &dirs[0].to, &dirs[0].to_len)) {
		fprintf(stderr, "relay: bad peer address '%s' or '%s'\n", argv[1], argv[3]);
		exit(2);
	}
	dirs[1].from = dirs[0].to;
	dirs[1].to = dirs[0].from;
	dirs[1].to_len = len;
	for (i = 0; i < 2; i++) {
		dirs[i].imp.reorder_pkts = 3;
		dirs[i].imp.reorder_ns = 20 * NSEC_PER_MSEC;
		dirs[i].heap = calloc(queue_max, sizeof(*dirs[i].heap));
		dirs[i].held = calloc(queue_max, sizeof(*dirs[i].held));
		if (!dirs[i].heap || !dirs[i].held) {
			fprintf(stderr, "relay: out of memory\n");
			exit(1);
		}
	}
}

static int setup_signals(void)
{
	static const int sigs[4] = { SIGTERM, SIGINT, SIGUSR1, SIGUSR2 };
	sigset_t set;
	int fd, i;

	/*
	 * A shell starts background jobs with SIGINT ignored, and an ignored signal never becomes
	 * pending, so signalfd would not see it: restore the defaults before blocking.
	 */
	sigemptyset(&set);
	for (i = 0; i < 4; i++) {
		signal(sigs[i], SIG_DFL);
		sigaddset(&set, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		perror("relay: signalfd");
		exit(1);
	}
	return fd;
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

static int wait_ms(uint64_t now)
{
	uint64_t t = next_due(&dirs[0]), t1 = next_due(&dirs[1]);

	if (t1 < t)
		t = t1;
	if (blackhole_until > now && blackhole_until < t)
		t = blackhole_until;
	if (t == UINT64_MAX)
		return -1;
	if (t <= now)
		return 0;
	t = (t - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
	return t > 60000 ? 60000 : (int)t;
}

static void epoll_add(int ep, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
		perror("relay: epoll_ctl");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct epoll_event evs[4];
	bool seeded = false, running = true, blackholed = false;
	int opt, ep, sfd, n, i;
	uint64_t seed = 0, now;

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
	if (!seeded) {
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

		if (fd < 0 || read(fd, &seed, sizeof(seed)) != sizeof(seed))
			seed = now_ns() ^ ((uint64_t)getpid() << 32);
		if (fd >= 0)
			close(fd);
	}
	rng_state = seed ? seed : 1;	/* xorshift must not start at zero */
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
		n = epoll_wait(ep, evs, 4, wait_ms(now_ns()));
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
		release_due(&dirs[0], now);
		release_due(&dirs[1], now);
		if (blackholed && now >= blackhole_until) {
			printf("relay: blackhole over\n");
			fflush(stdout);
		}
		blackholed = now < blackhole_until;
	}
	report();
	for (i = 0; i < 2; i++) {
		while (dirs[i].heap_len)
			pkt_free(&dirs[i], heap_pop(&dirs[i]));
		while (dirs[i].held_len)
			pkt_free(&dirs[i], dirs[i].held[--dirs[i].held_len]);
		free(dirs[i].heap);
		free(dirs[i].held);
		close(dirs[i].in_fd);
	}
	close(sfd);
	close(ep);
	return 0;
}
