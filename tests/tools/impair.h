// SPDX-License-Identifier: MIT
/*
 * impair.h: the impairment engine shared by relay (UDP datagrams between two sockets) and linkem
 * (IP packets through TUN devices). It is header-only, every function static, so that each tool
 * stays one .c file built by the Makefile's pattern rule; the tool supplies how a packet leaves
 * (lane->emit) and how one is corrupted (lane->corrupt).
 *
 * A lane is one direction of traffic: its rules, counters and queues. Each packet entering a lane
 * goes through these steps in this order; every random decision is a draw from one seeded PRNG
 * (xorshift64*), made only when its option is set, so a seed replays a run's decisions:
 *	blackhole	lost while the lane's blackhole lasts (also when due to leave in it)
 *	drop=PCT	lost
 *	corrupt=PCT	the tool changes one byte (lane->corrupt)
 *	reorder=PCT	held back until reorder-pkts=N later packets of the lane have left, or
 *			reorder-ms=T have passed, whichever comes first (default 3, 20); it then
 *			leaves at once, skipping the rate limit and the delay
 *	rate=MBIT	serialized at MBIT Mbit/s (IP bytes) behind the packets before it, as on a
 *			link of that speed; one that would wait more than queue=Nms or queue=Nkb
 *			(default 50 ms) is dropped at the tail
 *	delay=MS jitter=MS  leaves MS +- a uniform JITTER after its serialization ended (or after
 *			its arrival without rate); FIFO among equal due times, so without jitter
 *			the lane keeps its order; like netem, jitter wider than the gap between
 *			packets reorders them
 *	dup=PCT		a second copy, then scheduled on its own from the reorder step on
 * Times are CLOCK_MONOTONIC nanoseconds; millisecond options take fractions (delay=0.5).
 * Queued packets are bounded per lane (queue_max packets and IMPAIR_QUEUE_BYTES_MAX bytes); one
 * that does not fit is dropped and counted as overflow. Packets up to POOL_DATA bytes live in
 * slots of a pool that grows in chunks and is reused, so the steady state allocates nothing.
 */
#ifndef IMPAIR_H
#define IMPAIR_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define IMPAIR_QUEUE_BYTES_MAX (32u << 20)
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL
#define MSEC_OPTION_MAX 600000.0

enum { PKT_CORRUPTED = 1, PKT_DUPLICATE = 2 };

/* One packet waiting in a lane: for the delay heap, due_ns; for the reorder list, both. */
struct pkt {
	uint64_t due_ns;
	uint64_t seq;		/* heap: FIFO among equal due_ns; reorder: sent count to await */
	struct pkt *next_free;	/* pool free list */
	uint32_t len;
	uint16_t flags;
	uint16_t pooled;
	uint8_t data[];
};

#define POOL_SLOT 2048
#define POOL_DATA (POOL_SLOT - sizeof(struct pkt))
#define POOL_CHUNK_SLOTS 256
#define POOL_CHUNKS_MAX 4096

struct impair_rules {
	double drop, corrupt, dup, reorder;	/* probabilities, 0..1 */
	unsigned int reorder_pkts;
	uint64_t reorder_ns, delay_ns, jitter_ns;
	double rate_bps;			/* 0: no rate limit */
	uint64_t queue_ns, queue_bytes;		/* the rate queue's limit: one of them is set */
};

struct impair_counters {
	uint64_t received, forwarded, bytes, clean_bytes, dropped, corrupted, corrupted_bytes,
		 duplicated, reordered, delayed, rate_limited, taildrop, blackholed, overflow,
		 send_errors;
	uint64_t late_ns_sum, late_ns_max;	/* how late queued packets left, after due_ns */
	uint64_t late_count;
};

struct lane;

/* Sends one packet now; returns 0, or -1 when the system refused it. */
typedef int lane_emit_fn(struct lane *l, const uint8_t *data, size_t len);

/* Changes one byte of data (drawing from the PRNG); returns false when it found none to change. */
typedef bool lane_corrupt_fn(struct lane *l, uint8_t *data, size_t len);

struct lane {
	const char *name;
	struct impair_rules rules;
	struct impair_counters c;
	lane_emit_fn *emit;
	lane_corrupt_fn *corrupt;
	struct pkt **heap;		/* delayed, min-heap on (due_ns, seq) */
	size_t heap_len;
	struct pkt **held;		/* reordered, in arrival order */
	size_t held_len;
	size_t queue_max, queued_bytes;
	uint64_t sent;			/* packets sent so far (reorder release count) */
	uint64_t next_seq;
	uint64_t link_free_ns;		/* rate: when the emulated link has sent what it holds */
	uint64_t blackhole_until;
};

static const char *impair_prog = "impair";	/* prefix of messages: the tool's name */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/*
 * epoll_wait until deadline (UINT64_MAX: none) with nanosecond resolution: epoll_wait's
 * milliseconds are too coarse for delay=0.5. Set the timer slack low (prctl) to get it.
 */
static int epoll_wait_until(int ep, struct epoll_event *evs, int max, uint64_t now,
			    uint64_t deadline)
{
	struct timespec ts, *timeout = NULL;
	uint64_t wait;

	if (deadline != UINT64_MAX) {
		wait = deadline > now ? deadline - now : 0;
		if (wait > 60 * NSEC_PER_SEC)
			wait = 60 * NSEC_PER_SEC;
		ts = (struct timespec){ .tv_sec = wait / NSEC_PER_SEC,
					.tv_nsec = wait % NSEC_PER_SEC };
		timeout = &ts;
	}
	return epoll_pwait2(ep, evs, max, timeout, NULL);
}

/* ---- what both tools' main loops need ---- */

/*
 * SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 through a signalfd. A shell starts background jobs with
 * SIGINT ignored, and an ignored signal never becomes pending, so signalfd would not see it:
 * the defaults are restored before blocking.
 */
static int setup_signals(void)
{
	static const int sigs[4] = { SIGTERM, SIGINT, SIGUSR1, SIGUSR2 };
	sigset_t set;
	int fd, i;

	sigemptyset(&set);
	for (i = 0; i < 4; i++) {
		signal(sigs[i], SIG_DFL);
		sigaddset(&set, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: signalfd: %s\n", impair_prog, strerror(errno));
		exit(1);
	}
	return fd;
}

static void epoll_add(int ep, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
		fprintf(stderr, "%s: epoll_ctl: %s\n", impair_prog, strerror(errno));
		exit(1);
	}
}

static unsigned long parse_count(const char *key, const char *value, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (end == value || *end || errno || v > max || value[0] == '-') {
		fprintf(stderr, "%s: %s=%s: want a number 0..%lu\n", impair_prog, key, value, max);
		exit(2);
	}
	return v;
}

/* A seed for the PRNG when none is given (it is printed, so a run can be repeated). */
static uint64_t random_seed(void)
{
	uint64_t seed = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, &seed, sizeof(seed)) != sizeof(seed))
		seed = now_ns() ^ ((uint64_t)getpid() << 32);
	if (fd >= 0)
		close(fd);
	return seed;
}

/* ---- the PRNG ---- */

static uint64_t rng_state = 1;

/* Seeds the generator; xorshift must not start at zero. */
static void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 1;
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

/* ---- the packet pool ---- */

static struct pkt *pool_free_list;
static void *pool_chunks[POOL_CHUNKS_MAX];
static size_t pool_nchunks;

static int pool_grow(void)
{
	uint8_t *chunk;
	size_t i;

	if (pool_nchunks == POOL_CHUNKS_MAX)
		return -1;
	chunk = malloc((size_t)POOL_CHUNK_SLOTS * POOL_SLOT);
	if (!chunk)
		return -1;
	pool_chunks[pool_nchunks++] = chunk;
	for (i = 0; i < POOL_CHUNK_SLOTS; i++) {
		struct pkt *p = (struct pkt *)(chunk + i * POOL_SLOT);

		p->next_free = pool_free_list;
		pool_free_list = p;
	}
	return 0;
}

/* A packet buffer for len bytes (a pool slot when it fits), or NULL without memory. */
static struct pkt *pool_get(size_t len)
{
	struct pkt *p;

	if (len > POOL_DATA) {
		p = malloc(sizeof(*p) + len);
		if (p)
			p->pooled = 0;
		return p;
	}
	if (!pool_free_list && pool_grow())
		return NULL;
	p = pool_free_list;
	pool_free_list = p->next_free;
	p->pooled = 1;
	return p;
}

static void pool_put(struct pkt *p)
{
	if (!p->pooled) {
		free(p);
		return;
	}
	p->next_free = pool_free_list;
	pool_free_list = p;
}

/* Releases the pool's memory; every packet must have been put back. */
static void pool_clear(void)
{
	while (pool_nchunks)
		free(pool_chunks[--pool_nchunks]);
	pool_free_list = NULL;
}

/* ---- the rules ---- */

static void rules_init(struct impair_rules *r)
{
	*r = (struct impair_rules){ .reorder_pkts = 3, .reorder_ns = 20 * NSEC_PER_MSEC,
				    .queue_ns = 50 * NSEC_PER_MSEC };
}

static int parse_number(const char *key, const char *value, double max, const char *unit,
			double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	if (end == value || *end || errno || !(v >= 0 && v <= max)) {
		fprintf(stderr, "%s: %s=%s: want %s 0..%g\n", impair_prog, key, value, unit, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_ms(const char *key, const char *value, uint64_t *ns)
{
	double v;

	if (parse_number(key, value, MSEC_OPTION_MAX, "milliseconds", &v))
		return -1;
	*ns = (uint64_t)(v * NSEC_PER_MSEC + 0.5);
	return 0;
}

/* queue=Nms or queue=Nkb (1024 bytes, as tc counts them): the last one given counts. */
static int parse_queue(struct impair_rules *r, const char *value)
{
	size_t n = strlen(value);
	uint64_t ns;
	char num[64];
	double kb;

	if (n > 2 && n < sizeof(num) && !strcmp(value + n - 2, "ms")) {
		memcpy(num, value, n - 2);
		num[n - 2] = '\0';
		if (parse_ms("queue", num, &ns))
			return -1;
		r->queue_ns = ns;
		r->queue_bytes = 0;
		return 0;
	}
	if (n > 2 && n < sizeof(num) && !strcmp(value + n - 2, "kb")) {
		memcpy(num, value, n - 2);
		num[n - 2] = '\0';
		if (parse_number("queue", num, 1 << 20, "kilobytes", &kb))
			return -1;
		r->queue_bytes = (uint64_t)(kb * 1024);
		r->queue_ns = 0;
		return 0;
	}
	fprintf(stderr, "%s: queue=%s: want Nms or Nkb\n", impair_prog, value);
	return -1;
}

static double *rules_percent(struct impair_rules *r, const char *key)
{
	if (!strcmp(key, "drop"))
		return &r->drop;
	if (!strcmp(key, "corrupt"))
		return &r->corrupt;
	if (!strcmp(key, "dup"))
		return &r->dup;
	if (!strcmp(key, "reorder"))
		return &r->reorder;
	return NULL;
}

/* Sets one KEY=VALUE; returns 0, or -1 after saying what is wrong on stderr. */
static int rules_set(struct impair_rules *r, const char *key, const char *value)
{
	double *percent = rules_percent(r, key), v;

	if (percent) {
		if (parse_number(key, value, 100, "a percentage", &v))
			return -1;
		*percent = v / 100;
	} else if (!strcmp(key, "reorder-pkts")) {
		if (parse_number(key, value, 1000000, "a whole number", &v))
			return -1;
		if (v != (double)(unsigned int)v) {
			fprintf(stderr, "%s: %s=%s: want a whole number\n", impair_prog, key,
				value);
			return -1;
		}
		r->reorder_pkts = (unsigned int)v;
	} else if (!strcmp(key, "reorder-ms")) {
		return parse_ms(key, value, &r->reorder_ns);
	} else if (!strcmp(key, "delay")) {
		return parse_ms(key, value, &r->delay_ns);
	} else if (!strcmp(key, "jitter")) {
		return parse_ms(key, value, &r->jitter_ns);
	} else if (!strcmp(key, "rate")) {
		if (parse_number(key, value, 100000, "Mbit/s", &v))
			return -1;
		r->rate_bps = v * 1e6;
	} else if (!strcmp(key, "queue")) {
		return parse_queue(r, value);
	} else {
		fprintf(stderr, "%s: unknown option '%s'\n", impair_prog, key);
		return -1;
	}
	return 0;
}

/* Applies KEY=VALUE[,KEY=VALUE...] (list is cut up in place); returns 0 or -1 (said why). */
static int rules_parse(struct impair_rules *r, char *list)
{
	char *item, *save = NULL;

	for (item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');

		if (!eq) {
			fprintf(stderr, "%s: '%s': want KEY=VALUE\n", impair_prog, item);
			return -1;
		}
		*eq = '\0';
		if (rules_set(r, item, eq + 1))
			return -1;
	}
	return 0;
}

/* How long a packet may wait for the link before it is dropped at the tail. */
static uint64_t rules_queue_ns(const struct impair_rules *r)
{
	if (r->queue_ns || !r->queue_bytes)
		return r->queue_ns;
	return (uint64_t)(r->queue_bytes * 8 * 1e9 / r->rate_bps);
}

static double ms_of(uint64_t ns)
{
	return (double)ns / NSEC_PER_MSEC;
}

/* ---- a lane's queues ---- */

/* Sets up l with its hooks and room for queue_max queued packets; returns 0 or -ENOMEM. */
static int lane_init(struct lane *l, const char *name, size_t queue_max, lane_emit_fn *emit,
		     lane_corrupt_fn *corrupt)
{
	*l = (struct lane){ .name = name, .emit = emit, .corrupt = corrupt,
			    .queue_max = queue_max };
	rules_init(&l->rules);
	l->heap = calloc(queue_max, sizeof(*l->heap));
	l->held = calloc(queue_max, sizeof(*l->held));
	return l->heap && l->held ? 0 : -ENOMEM;
}

static bool pkt_before(const struct pkt *x, const struct pkt *y)
{
	return x->due_ns < y->due_ns || (x->due_ns == y->due_ns && x->seq < y->seq);
}

static void heap_push(struct lane *l, struct pkt *p)
{
	size_t i = l->heap_len++, parent;

	while (i && pkt_before(p, l->heap[parent = (i - 1) / 2])) {
		l->heap[i] = l->heap[parent];
		i = parent;
	}
	l->heap[i] = p;
}

static struct pkt *heap_pop(struct lane *l)
{
	struct pkt *top = l->heap[0], *last = l->heap[--l->heap_len];
	size_t i = 0, child;

	while ((child = 2 * i + 1) < l->heap_len) {
		if (child + 1 < l->heap_len && pkt_before(l->heap[child + 1], l->heap[child]))
			child++;
		if (!pkt_before(l->heap[child], last))
			break;
		l->heap[i] = l->heap[child];
		i = child;
	}
	if (l->heap_len)
		l->heap[i] = last;
	return top;
}

static size_t lane_queued(const struct lane *l)
{
	return l->heap_len + l->held_len;
}

static struct pkt *pkt_new(struct lane *l, const uint8_t *data, size_t len, unsigned int flags)
{
	struct pkt *p;

	if (lane_queued(l) >= l->queue_max || l->queued_bytes + len > IMPAIR_QUEUE_BYTES_MAX)
		return NULL;
	p = pool_get(len);
	if (!p)
		return NULL;
	memcpy(p->data, data, len);
	p->len = len;
	p->flags = flags;
	l->queued_bytes += len;
	return p;
}

static void pkt_free(struct lane *l, struct pkt *p)
{
	l->queued_bytes -= p->len;
	pool_put(p);
}

/* Frees what l still holds and its queues. */
static void lane_clear(struct lane *l)
{
	while (l->heap_len)
		pkt_free(l, heap_pop(l));
	while (l->held_len)
		pkt_free(l, l->held[--l->held_len]);
	free(l->heap);
	free(l->held);
	l->heap = l->held = NULL;
}

/* ---- sending ---- */

static void lane_send(struct lane *l, uint64_t now, const uint8_t *data, size_t len,
		      unsigned int flags)
{
	if (now < l->blackhole_until) {
		l->c.blackholed++;
		return;
	}
	if (l->emit(l, data, len)) {
		l->c.send_errors++;
		return;
	}
	l->c.forwarded++;
	l->c.bytes += len;
	if (!flags)
		l->c.clean_bytes += len;
	l->sent++;
}

static void lane_late(struct lane *l, uint64_t late_ns)
{
	l->c.late_ns_sum += late_ns;
	l->c.late_count++;
	if (late_ns > l->c.late_ns_max)
		l->c.late_ns_max = late_ns;
}

/* Sends what is due: delayed packets whose time came, reordered ones whose count or time did. */
static void lane_release_due(struct lane *l, uint64_t now)
{
	bool again = true;
	size_t i, j;

	while (again) {
		again = false;
		while (l->heap_len && l->heap[0]->due_ns <= now) {
			struct pkt *p = heap_pop(l);

			lane_late(l, now - p->due_ns);
			lane_send(l, now, p->data, p->len, p->flags);
			pkt_free(l, p);
		}
		for (i = j = 0; i < l->held_len; i++) {
			struct pkt *p = l->held[i];

			if (l->sent >= p->seq || now >= p->due_ns) {
				lane_send(l, now, p->data, p->len, p->flags);
				pkt_free(l, p);
				again = true;	/* its sending may release another */
			} else {
				l->held[j++] = p;
			}
		}
		l->held_len = j;
	}
}

/* The earliest time something queued in l must leave; UINT64_MAX when nothing is. */
static uint64_t lane_next_due(const struct lane *l)
{
	uint64_t t = l->heap_len ? l->heap[0]->due_ns : UINT64_MAX;
	size_t i;

	for (i = 0; i < l->held_len; i++)
		if (l->held[i]->due_ns < t)
			t = l->held[i]->due_ns;
	return t;
}

/* When a packet of len bytes that may start at start has left a link of the lane's rate. */
static uint64_t serialized(const struct lane *l, uint64_t start, size_t len)
{
	return start + (uint64_t)(len * 8 * 1e9 / l->rules.rate_bps + 0.5);
}

/* One copy of a packet: hold it back, or serialize and delay it, or send it now. */
static void lane_schedule(struct lane *l, uint64_t now, const uint8_t *data, size_t len,
			  unsigned int flags)
{
	const struct impair_rules *r = &l->rules;
	uint64_t start = now, base = now, due;
	struct pkt *p;

	if (chance(r->reorder)) {
		p = pkt_new(l, data, len, flags);
		if (!p) {
			l->c.overflow++;
			return;
		}
		p->seq = l->sent + r->reorder_pkts;
		p->due_ns = now + r->reorder_ns;
		l->held[l->held_len++] = p;
		l->c.reordered++;
		return;
	}
	if (r->rate_bps > 0) {
		if (l->link_free_ns > now)
			start = l->link_free_ns;
		if (start - now > rules_queue_ns(r)) {
			l->c.taildrop++;
			return;
		}
		base = serialized(l, start, len);
	}
	due = base + r->delay_ns;
	if (r->jitter_ns) {
		/* uniform in [delay - jitter, delay + jitter], never before base */
		due += rng_below(2 * r->jitter_ns + 1);
		due = due > base + r->jitter_ns ? due - r->jitter_ns : base;
	}
	if (due <= now) {
		lane_send(l, now, data, len, flags);
		return;
	}
	p = pkt_new(l, data, len, flags);
	if (!p) {
		l->c.overflow++;
		return;
	}
	if (r->rate_bps > 0) {
		if (start > now)
			l->c.rate_limited++;
		l->link_free_ns = base;
	}
	p->due_ns = due;
	p->seq = l->next_seq++;
	heap_push(l, p);
	if (due > base || !(r->rate_bps > 0))
		l->c.delayed++;
}

/* A packet that arrived in l: the whole chain of impairments. data may be changed in place. */
static void lane_input(struct lane *l, uint64_t now, uint8_t *data, size_t len)
{
	const struct impair_rules *r = &l->rules;
	unsigned int flags = 0;

	l->c.received++;
	if (now < l->blackhole_until) {
		l->c.blackholed++;
		return;
	}
	if (chance(r->drop)) {
		l->c.dropped++;
		return;
	}
	if (len && chance(r->corrupt) && l->corrupt(l, data, len)) {
		flags |= PKT_CORRUPTED;
		l->c.corrupted++;
		l->c.corrupted_bytes += len;
	}
	lane_schedule(l, now, data, len, flags);
	if (chance(r->dup)) {
		l->c.duplicated++;
		lane_schedule(l, now, data, len, flags | PKT_DUPLICATE);
	}
}

#endif
