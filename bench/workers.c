// SPDX-License-Identifier: MIT
/*
 * How the crypto workers scale: batches of 1420-byte packets sealed by the
 * daemon's worker pool (src/linux/workers.c) with one cipher context per
 * thread, as the data plane does, with 0 workers (all on the calling
 * thread) up to one per CPU besides the caller's.
 *
 * This is the stage that multi-core is for: what one peer's bulk traffic
 * costs in AEAD, spread over the CPUs, and what handing chunks to threads
 * and waiting for them costs at each batch size. The namespace benchmark
 * (bench/run.sh) runs both tunnel ends, iperf3 and the kernel's TCP on the
 * same CPUs, so it cannot show this on a small machine.
 *
 * Variants run interleaved, round after round, so drift in clock speed or
 * neighbours hits all alike; the table shows medians.
 */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "crypto.h"
#include "workers.h"

enum {
	PACKET_LEN = 1420,
	MAX_BATCH = 1024,
	MAX_SLOTS = 64,
	ROUNDS = 9,
	CHUNK = 16,			/* as the daemon's DP_CHUNK */
};

static const size_t batch_sizes[] = { 64, 256, 1024 };

struct bench_batch {
	struct crypto_aead_ctx *ctx[MAX_SLOTS];
	uint8_t (*pkt)[PACKET_LEN + CRYPTO_TAG_LEN];
	uint64_t nonce;
};

static struct bench_batch bb;

static void seal_jobs(void *ctx, unsigned int slot, size_t begin, size_t end)
{
	struct bench_batch *b = ctx;

	for (size_t i = begin; i < end; i++)
		crypto_aead_ctx_seal(b->ctx[slot], b->pkt[i], b->pkt[i], PACKET_LEN,
				     b->nonce + i);
}

/* Packets per second sealing batches of n on w for about 0.2 s. */
static double measure(struct workers *w, size_t n)
{
	uint64_t start = now_ns(), t;
	size_t packets = 0;

	do {
		workers_run(w, seal_jobs, &bb, n, CHUNK);
		bb.nonce += n;
		packets += n;
		t = now_ns();
	} while (t - start < 200000000ULL);
	return packets * 1e9 / (t - start);
}

int main(void)
{
	enum { N_BATCHES = sizeof(batch_sizes) / sizeof(batch_sizes[0]) };
	static double rate[MAX_SLOTS][N_BATCHES][ROUNDS];
	struct workers *pool[MAX_SLOTS];
	uint8_t key[CRYPTO_KEY_LEN];
	unsigned int cpus = 1, variants, v, r, k;
	cpu_set_t set;
	double base, med;

	if (!crypto_init())
		die("crypto_init failed");
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		cpus = CPU_COUNT(&set);
	variants = cpus < MAX_SLOTS ? cpus : MAX_SLOTS;	/* 0 .. cpus-1 workers */
	for (k = 0; k < sizeof(key); k++)
		key[k] = k * 7 + 1;
	bb.pkt = calloc(MAX_BATCH, sizeof(*bb.pkt));
	if (!bb.pkt)
		die("out of memory");
	for (k = 0; k < variants; k++) {
		bb.ctx[k] = crypto_aead_ctx_new(key, true);
		pool[k] = k ? workers_new(k) : NULL;
		if (!bb.ctx[k] || (k && !pool[k]))
			die("cannot set up contexts and workers");
	}
	/* Round r starts at variant r % variants: none always runs first. */
	for (r = 0; r < ROUNDS; r++)
		for (k = 0; k < variants; k++) {
			v = (r + k) % variants;
			for (size_t b = 0; b < N_BATCHES; b++)
				rate[v][b][r] = measure(pool[v], batch_sizes[b]);
		}

	printf("Sealing batches of %d-byte packets on the crypto workers; %u CPUs; medians of %d rounds\n",
	       PACKET_LEN, cpus, ROUNDS);
	printf("  %-28s", "workers besides the caller");
	for (size_t b = 0; b < N_BATCHES; b++)
		printf("  batch %-4zu Gbit/s  speed-up", batch_sizes[b]);
	printf("\n");
	for (v = 0; v < variants; v++) {
		printf("  %-28u", v);
		for (size_t b = 0; b < N_BATCHES; b++) {
			qsort(rate[v][b], ROUNDS, sizeof(double), cmp_double);
			med = rate[v][b][ROUNDS / 2];
			base = rate[0][b][ROUNDS / 2];
			printf("  %17.2f  %7.2fx", med * PACKET_LEN * 8 / 1e9, med / base);
		}
		printf("\n");
	}
	for (k = 0; k < variants; k++) {
		workers_free(pool[k]);
		crypto_aead_ctx_free(bb.ctx[k]);
	}
	free(bb.pkt);
	return 0;
}
