/* SPDX-License-Identifier: MIT */
/*
 * The event loop's plumbing: a file descriptor it watches with the handler
 * for its events (level-triggered epoll), and the clocks, in nanoseconds.
 * Anything that owns a watch embeds it and finds itself again with
 * container_of().
 */
#ifndef BRAID_WATCH_H
#define BRAID_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

/* The struct of type that embeds member, given a pointer to that member. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct watch {
	int fd;
	void (*handle)(struct watch *w, uint32_t events);
};

/* epoll_ctl wrappers: 0 or -errno. */
int watch_add(int epfd, struct watch *w, uint32_t events);
int watch_mod(int epfd, struct watch *w, uint32_t events);

/* Clock id in nanoseconds. */
uint64_t watch_clock_ns(clockid_t id);

/* CLOCK_MONOTONIC in nanoseconds: the clock libbraid runs on. */
static inline uint64_t watch_now(void)
{
	return watch_clock_ns(CLOCK_MONOTONIC);
}

#endif
