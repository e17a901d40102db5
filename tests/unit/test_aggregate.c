// SPDX-License-Identifier: MIT
/*
 * Aggregation under a simulated clock (mpsim.h): uplink A 40 Mbit/s with
 * 10 ms one way, B 20 Mbit/s with 30 ms, each a rate-limited link with a
 * queue. Streams each way are offered more than one path carries. The
 * tests check what aggregation promises: the split follows the rates, the
 * receiver puts packets back in order (and gives up on a gap after its
 * bound), a path that dies mid-burst costs at most its suspect timeout, a
 * keypair rotation mid-gap keeps the order, against a stock peer it is
 * failover, aggregate-flow keeps each flow on one path, a path left idle
 * beside a faster one keeps its rate through its jitter, a loss just
 * before a pause is given up on when the other paths' keepalives come, and
 * the receiver evens the paths' delays out.
 */
#include "device.h"
#include "mpsim.h"
#include "peer.h"
#include "path_table.h"
#include "reorder.h"

#define MBIT 1000000ULL
#define PKT 1400

static void links(struct mp *m, uint64_t rate_a, uint64_t delay_a, uint64_t rate_b,
		  uint64_t delay_b)
{
	struct sim_impair *a = sim_impair(&m->sim, m->addr_a), *b = sim_impair(&m->sim, m->addr_b);

	a->rate_bps = rate_a;
	a->delay = delay_a;
	b->rate_bps = rate_b;
	b->delay = delay_b;
}

/* Offer bps each way in packets of PKT bytes for ms milliseconds. */
static void offer(struct mp *m, uint64_t bps, unsigned int ms, bool both)
{
	uint64_t per_ms = bps / 8 / 1000, budget_up = 0, budget_down = 0;

	for (unsigned int t = 0; t < ms; t++) {
		for (budget_up += per_ms; budget_up >= PKT; budget_up -= PKT)
			send_sized(m, m->a, m->b, &m->up, PKT);
		for (budget_down += both ? per_ms : 0; budget_down >= PKT; budget_down -= PKT)
			send_sized(m, m->b, m->a, &m->down, PKT);
		sim_run_for(&m->sim, MSEC);
		collect(m, m->b, &m->up);
		collect(m, m->a, &m->down);
	}
}

static void setup_aggregate(struct mp *m, bool stock)
{
	mp_setup(m, BRAID_MULTIPATH_AGGREGATE, stock);
	links(m, 40 * MBIT, 10 * MSEC, 20 * MBIT, 30 * MSEC);
	establish(m);
	offer(m, 1 * MBIT, 2000, true);		/* HELLO answered, first probes */
}

static uint32_t delivered(const struct stream *s, uint32_t from, uint32_t to)
{
	return to - from - lost(s, from, to);
}

/*
 * 1. The split converges to the rates: offered 57 Mbit/s each way on 60, the
 * slow path takes about a third, the rate estimates land near the links',
 * and almost nothing is lost or arrives out of order at either receiver.
 */
static void test_split_follows_rates(void **state)
{
	struct braid_path_info info[BRAID_MAX_PATHS], start[BRAID_MAX_PATHS];
	struct braid_reorder_stats rs;
	uint32_t from_up, from_down;
	double share;
	struct mp m;

	(void)state;
	setup_aggregate(&m, false);
	assert_int_equal(braid_peer_get_kind(m.a_peer_b), BRAID_PEER_BRAID);
	offer(&m, 57 * MBIT, 4000, true);
	braid_peer_get_paths(m.a_peer_b, start, BRAID_MAX_PATHS);
	from_up = m.up.next;
	from_down = m.down.next;
	offer(&m, 57 * MBIT, 4000, true);
	braid_peer_get_paths(m.a_peer_b, info, BRAID_MAX_PATHS);
	share = (double)(info[1].tx_bytes - start[1].tx_bytes) /
		(double)(info[0].tx_bytes - start[0].tx_bytes + info[1].tx_bytes - start[1].tx_bytes);
	print_message("split: B carries %.1f%%; rates %.1f and %.1f Mbit/s; "
		      "delivered %u of %u up, %u of %u down; out of order %llu up\n",
		      100 * share, info[0].rate_bps / 1e6, info[1].rate_bps / 1e6,
		      delivered(&m.up, from_up, m.up.next - 200), m.up.next - 200 - from_up,
		      delivered(&m.down, from_down, m.down.next - 200),
		      m.down.next - 200 - from_down, (unsigned long long)m.up.out_of_order);
	assert_true(share > 0.2 && share < 0.45);
	assert_true(info[0].rate_bps > 25 * MBIT && info[0].rate_bps < 55 * MBIT);
	assert_true(info[1].rate_bps > 10 * MBIT && info[1].rate_bps < 30 * MBIT);
	assert_true(info[1].owd_us > 15000 && info[1].owd_us < 40000);
	/* 57 of 60 Mbit/s: the links' queues drop a few; 97% must arrive. */
	assert_true(delivered(&m.up, from_up, m.up.next - 200) * 100 >=
		    (m.up.next - 200 - from_up) * 97);
	assert_true(delivered(&m.down, from_down, m.down.next - 200) * 100 >=
		    (m.down.next - 200 - from_down) * 97);
	assert_true(braid_peer_get_reorder_stats(m.b_peer_a, &rs));
	print_message("reorder at the server: held %llu, gave up %llu, late %llu, p99 hold %llu us, "
		      "bound %llu us\n", (unsigned long long)rs.held, (unsigned long long)rs.gave_up,
		      (unsigned long long)rs.late, (unsigned long long)rs.hold_p99_us,
		      (unsigned long long)rs.bound_us);
	assert_true(rs.held > 1000);
	/* Holds end at the bound of their time; the bound never passes its maximum. */
	assert_true(rs.hold_p99_us <= PATH_REORDER_MAX_NS / 1000);
	/* Late packets (their gap given up on) only while the queues first fill: under 1%. */
	assert_true(rs.late * 100 <= rs.held);
	assert_true(m.up.out_of_order * 100 <= m.up.next);
	/* The server has no mode of its own: it aggregates as the client does, which reorders. */
	assert_int_equal(braid_peer_get_multipath(m.b_peer_a), BRAID_MULTIPATH_OFF);
	assert_true(braid_peer_get_reorder_stats(m.a_peer_b, &rs));
	print_message("reorder at the client: held %llu, out of order %llu down\n",
		      (unsigned long long)rs.held, (unsigned long long)m.down.out_of_order);
	assert_true(rs.held > 1000);
	assert_true(m.down.out_of_order * 100 <= m.down.next);
	mp_free(&m);
}

/*
 * 2. B dies mid-burst (black-holed at 50 Mbit/s, when both carry traffic):
 * the receiver gives up on what went into the hole, and what is sent from
 * 300 ms after the cut arrives by A (the offer drops to 30 Mbit/s, which A
 * carries, 100 ms after the cut).
 */
static void test_path_dies_mid_burst(void **state)
{
	struct braid_path_info info[BRAID_MAX_PATHS];
	struct braid_reorder_stats before, after;
	uint32_t cut, settled;
	struct mp m;

	(void)state;
	setup_aggregate(&m, false);
	offer(&m, 50 * MBIT, 3000, false);
	braid_peer_get_paths(m.a_peer_b, info, BRAID_MAX_PATHS);
	assert_true(info[1].tx_bytes > 3000000);
	braid_peer_get_reorder_stats(m.b_peer_a, &before);
	cut = m.up.next;
	sim_impair(&m.sim, m.addr_b)->blackhole = true;
	offer(&m, 60 * MBIT, 100, false);	/* more than A carries: B takes some, into the hole */
	offer(&m, 30 * MBIT, 200, false);
	settled = m.up.next;
	offer(&m, 30 * MBIT, 2700, false);
	braid_peer_get_reorder_stats(m.b_peer_a, &after);
	print_message("B black-holed mid-burst: %u lost in the first 300 ms (of %u), %u after; "
		      "gave up on %llu\n", lost(&m.up, cut, settled), settled - cut,
		      lost(&m.up, settled, m.up.next - 200),
		      (unsigned long long)(after.gave_up - before.gave_up));
	assert_int_equal(state_of(m.a_peer_b, 1), BRAID_PATH_DOWN);
	assert_true(lost(&m.up, cut, settled) > 0);
	assert_true(after.gave_up > before.gave_up);
	assert_int_equal(lost(&m.up, settled, m.up.next - 200), 0);

	/* B comes back: after its up-delay it carries traffic again. */
	sim_impair(&m.sim, m.addr_b)->blackhole = false;
	offer(&m, 50 * MBIT, 5000, false);
	assert_int_equal(state_of(m.a_peer_b, 1), BRAID_PATH_ACTIVE);
	mp_free(&m);
}

/* 3. A keypair rotation while packets wait: the old keypair's go first, the order holds. */
static void test_rotation_keeps_order(void **state)
{
	uint32_t from;
	struct mp m;

	(void)state;
	setup_aggregate(&m, false);
	from = m.up.next;
	/* 1 Mbit/s for 130 s: past REKEY_AFTER_TIME, a new session mid-stream. */
	offer(&m, 1 * MBIT, 130000, false);
	print_message("across a rekey: lost %u of %u, out of order %llu\n",
		      lost(&m.up, from, m.up.next - 100), m.up.next - 100 - from,
		      (unsigned long long)m.up.out_of_order);
	assert_int_equal(lost(&m.up, from, m.up.next - 100), 0);
	assert_int_equal(m.up.out_of_order, 0);
	mp_free(&m);
}

/* 4. Against a stock server aggregate is failover: one path, nothing to reorder. */
static void test_stock_is_failover(void **state)
{
	struct braid_path_info info[BRAID_MAX_PATHS];
	struct braid_reorder_stats rs;
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_AGGREGATE, true);
	links(&m, 40 * MBIT, 10 * MSEC, 20 * MBIT, 30 * MSEC);
	establish(&m);
	offer(&m, 10 * MBIT, 5000, true);
	assert_int_equal(braid_peer_get_kind(m.a_peer_b), BRAID_PEER_STOCK);
	braid_peer_get_paths(m.a_peer_b, info, BRAID_MAX_PATHS);
	assert_true(info[1].tx_packets <= 2);
	assert_false(braid_peer_get_reorder_stats(m.a_peer_b, &rs));
	assert_int_equal(m.up.out_of_order + m.down.out_of_order, 0);
	mp_free(&m);
}

/* 5. aggregate-flow: each flow on one path, the flows spread by rate, no reordering. */
static void test_flow_mode(void **state)
{
	struct braid_path_info info[BRAID_MAX_PATHS], start[BRAID_MAX_PATHS];
	struct braid_reorder_stats rs;
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_AGGREGATE_FLOW, false);
	links(&m, 40 * MBIT, 10 * MSEC, 20 * MBIT, 30 * MSEC);
	establish(&m);
	offer(&m, 1 * MBIT, 2000, false);
	braid_peer_get_paths(m.a_peer_b, start, BRAID_MAX_PATHS);
	offer(&m, 10 * MBIT, 4000, false);
	/* One flow (the same addresses and ports): one path, but for the probes. */
	braid_peer_get_paths(m.a_peer_b, info, BRAID_MAX_PATHS);
	assert_true(info[0].tx_packets - start[0].tx_packets < 100 ||
		    info[1].tx_packets - start[1].tx_packets < 100);
	assert_int_equal(m.up.out_of_order, 0);
	assert_false(braid_peer_get_reorder_stats(m.b_peer_a, &rs));
	mp_free(&m);
}

/*
 * 6. B's delay jitters by +-5 ms (as the benchmark's 30 +-5 ms link) while
 * A alone carries what is offered: B carries next to nothing, and a report
 * whose delay jittered above the floor must not take that for B's rate (it
 * did, and B was starved for seconds when the load came). Then the load
 * needs both: B takes a share at once, and climbs to its rate.
 */
static void test_idle_path_keeps_rate(void **state)
{
	struct braid_path_info info[BRAID_MAX_PATHS], start[BRAID_MAX_PATHS];
	uint64_t low = UINT64_MAX;
	double share;
	struct mp m;

	(void)state;
	setup_aggregate(&m, false);
	sim_impair(&m.sim, m.addr_b)->jitter = 5 * MSEC;
	offer(&m, 50 * MBIT, 2000, false);
	for (unsigned int i = 0; i < 10; i++) {
		offer(&m, 20 * MBIT, 500, false);
		braid_peer_get_paths(m.a_peer_b, info, BRAID_MAX_PATHS);
		low = info[1].rate_bps < low ? info[1].rate_bps : low;
	}
	braid_peer_get_paths(m.a_peer_b, start, BRAID_MAX_PATHS);
	offer(&m, 55 * MBIT, 1000, false);
	braid_peer_get_paths(m.a_peer_b, info, BRAID_MAX_PATHS);
	share = (double)(info[1].tx_bytes - start[1].tx_bytes) /
		(double)(info[0].tx_bytes - start[0].tx_bytes + info[1].tx_bytes - start[1].tx_bytes);
	print_message("B idle beside A for 5 s: lowest rate %.1f Mbit/s; then under 55 Mbit/s "
		      "it carries %.1f%% in the first second\n", low / 1e6, 100 * share);
	/* Before: 0.1 Mbit/s, and 2% in that second. */
	assert_true(low > 2 * MBIT);
	assert_true(share > 0.1);
	mp_free(&m);
}

/* Drop the first full-sized data message from the client, by whichever uplink. */
static bool drop_armed;

static bool drop_first(struct sim *sim, struct sim_host *from, struct sim_host *to,
		       struct sim_datagram *d)
{
	struct mp *m = sim->filter_ctx;

	if (drop_armed && from == m->a && d->data[0] == MESSAGE_DATA && d->len > 1000) {
		drop_armed = false;
		return false;
	}
	return count(sim, from, to, d);
}

/*
 * 7. A packet lost just before the data pauses (a flow waiting for its
 * acknowledgements): the paths that did not carry the newest packet send a
 * keepalive when the pause begins, which shows the server's reorder buffer
 * that nothing older is on its way by them: the packets after the loss go
 * within B's delay and a few ms, not after the reorder bound (~90 ms).
 */
static void test_pause_marks_paths(void **state)
{
	struct braid_reorder_stats before, after;
	uint32_t from, last = 0;
	uint64_t t0;
	struct mp m;

	(void)state;
	setup_aggregate(&m, false);
	offer(&m, 50 * MBIT, 2000, false);
	offer(&m, 0, 200, false);
	braid_peer_get_reorder_stats(m.b_peer_a, &before);
	m.sim.filter = drop_first;
	drop_armed = true;
	from = m.up.next;
	t0 = m.sim.now;
	for (unsigned int i = 0; i < 8; i++)
		send_sized(&m, m.a, m.b, &m.up, PKT);
	for (unsigned int ms = 0; ms < 200; ms++) {
		sim_run_for(&m.sim, MSEC);
		collect(&m, m.b, &m.up);
	}
	braid_peer_get_reorder_stats(m.b_peer_a, &after);
	for (uint32_t i = from; i < from + 8; i++)
		if (m.up.arrived[i] && m.up.arrived[i] - t0 > last)
			last = (uint32_t)((m.up.arrived[i] - t0) / MSEC);
	print_message("8 packets, the first lost: the last of the rest delivered after %u ms; "
		      "gave up %llu (%llu early)\n", last,
		      (unsigned long long)(after.gave_up - before.gave_up),
		      (unsigned long long)(after.gave_up_early - before.gave_up_early));
	assert_false(drop_armed);
	assert_int_equal(lost(&m.up, from, from + 8), 1);
	assert_int_equal(after.gave_up_early - before.gave_up_early, 1);
	assert_true(last < 50);
	mp_free(&m);
}

/* The median delay of what a->b delivers while offered bps for ms milliseconds. */
static uint64_t median_delay(struct mp *m, uint64_t bps, unsigned int ms)
{
	uint64_t per_ms = bps / 8 / 1000, budget = 0, *sent = calloc(STREAM_MAX, sizeof(*sent));
	uint64_t *d = calloc(STREAM_MAX, sizeof(*d)), median;
	uint32_t from = m->up.next;
	size_t n = 0;

	for (unsigned int t = 0; t < ms; t++) {
		for (budget += per_ms; budget >= PKT; budget -= PKT) {
			sent[m->up.next] = m->sim.now;
			send_sized(m, m->a, m->b, &m->up, PKT);
		}
		sim_run_for(&m->sim, MSEC);
		collect(m, m->b, &m->up);
	}
	offer(m, 0, 300, false);	/* the last ones arrive */
	for (uint32_t i = from; i < m->up.next; i++)
		if (m->up.arrived[i])
			d[n++] = m->up.arrived[i] - sent[i];
	/* Selection by counting: delays are whole milliseconds, under a second. */
	median = 0;
	for (uint64_t below = 0, v = 0; v <= 1000 && !median; v++) {
		for (size_t i = 0; i < n; i++)
			below += d[i] / MSEC == v;
		if (below * 2 >= n)
			median = v;
	}
	free(sent);
	free(d);
	return median;
}

/*
 * 8. The receiver evens the paths' delays out: what A alone carries (a light
 * flow) waits there until about when it would have come by B, so a flow's
 * delay does not jump by B's 20 ms more when its rate grows past A's (a TCP
 * in slow start would take the jump for a full queue); the sender, told so,
 * splits by queues alone.
 */
static void test_paths_evened(void **state)
{
	struct braid_reorder_stats rs;
	uint64_t light, heavy;
	struct mp m;

	(void)state;
	setup_aggregate(&m, false);
	offer(&m, 50 * MBIT, 2000, false);
	light = median_delay(&m, 5 * MBIT, 1000);
	heavy = median_delay(&m, 50 * MBIT, 1000);
	assert_true(braid_peer_get_reorder_stats(m.b_peer_a, &rs));
	print_message("median delay a->b: %llu ms at 5 Mbit/s, %llu ms at 50; fast path held "
		      "%llu us\n", (unsigned long long)light, (unsigned long long)heavy,
		      (unsigned long long)rs.even_us);
	assert_true(m.a_peer_b->paths.mp->far_evens);
	assert_true(rs.even_us > 15000 && rs.even_us < 25000);
	/* Without evening: 10 ms, then 30 and more. */
	assert_true(light >= 28 && light <= 35);
	assert_true(heavy >= light && heavy <= light + 10);
	mp_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_follows_rates),
		cmocka_unit_test(test_path_dies_mid_burst),
		cmocka_unit_test(test_rotation_keeps_order),
		cmocka_unit_test(test_stock_is_failover),
		cmocka_unit_test(test_flow_mode),
		cmocka_unit_test(test_idle_path_keeps_rate),
		cmocka_unit_test(test_pause_marks_paths),
		cmocka_unit_test(test_paths_evened),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
