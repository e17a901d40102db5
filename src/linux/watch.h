/* SPDX-License-Identifier: MIT */
/* A file descriptor the event loop watches, with the handler for its events. */
#ifndef BRAID_WATCH_H
#define BRAID_WATCH_H

#include <stdint.h>

struct watch {
	int fd;
	void (*handle)(struct watch *w, uint32_t events);
};

/* epoll_ctl wrappers: 0 or -errno. */
int watch_add(int epfd, struct watch *w, uint32_t events);
int watch_mod(int epfd, struct watch *w, uint32_t events);
void watch_del(int epfd, struct watch *w);

/* CLOCK_MONOTONIC in nanoseconds: the clock libbraid runs on. */
uint64_t watch_now(void);

#endif
