// SPDX-License-Identifier: MIT
/*
 * epoll registrations and clock readings for the event loop (see watch.h).
 * Every registration carries the struct watch itself as its data, so an
 * event leads straight to its handler.
 */
#include <errno.h>
#include <sys/epoll.h>

#include "watch.h"

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

uint64_t watch_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}
