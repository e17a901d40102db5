/* SPDX-License-Identifier: MIT */
/*
 * Per-source token buckets for handshake messages: 20 per second with a
 * burst of 5, keyed by the source IPv4 address or the source IPv6 /64.
 * Memory is bounded; idle entries are collected. Control plane only.
 */
#ifndef BRAID_RATELIMITER_H
#define BRAID_RATELIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum ratelimiter_values {
	RATELIMITER_PACKETS_PER_SECOND = 20,
	RATELIMITER_PACKETS_BURSTABLE = 5,
	RATELIMITER_DEFAULT_MAX_ENTRIES = 8192,
};

struct ratelimiter;

/* seed keys the table's hash so that sources cannot aim at one bucket chain. */
struct ratelimiter *ratelimiter_new(size_t max_entries, const uint8_t seed[16]);
void ratelimiter_free(struct ratelimiter *rl);

enum ratelimiter_verdict {
	RATELIMITER_ALLOW,
	RATELIMITER_OVER_RATE,	/* src has no token left, or its family is unknown */
	RATELIMITER_FULL,	/* src is new and the table has no room: says nothing about src */
};

/* Take one token for src (an AF_INET or AF_INET6 sockaddr). */
enum ratelimiter_verdict ratelimiter_check(struct ratelimiter *rl, uint64_t now_ns,
					   const struct sockaddr *src);
/* Forget sources idle for more than a second. */
void ratelimiter_gc(struct ratelimiter *rl, uint64_t now_ns);
size_t ratelimiter_count(const struct ratelimiter *rl);

#endif
