/* SPDX-License-Identifier: MIT */
/* What the micro-benchmarks in bench/ share: failing, the clock, and medians. */
#ifndef BRAID_BENCH_H
#define BRAID_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__attribute__((noreturn)) static inline void die(const char *what)
{
	fprintf(stderr, "bench: %s\n", what);
	exit(1);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* For qsort() over doubles, ascending. */
static inline int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

#endif
