// SPDX-License-Identifier: MIT
/*
 * Multipath under a simulated clock: a client with two uplinks (A, the
 * preferred, and B) and a server with one address, braid at both ends or a
 * stock peer (no_multipath) as the server. Each direction carries a stream
 * of one packet per millisecond, numbered, so every test can say how long
 * the longest gap in delivery was: failover on a link event and on a silent
 * black-hole, failback and its hold-down, redundant mode under loss, learned
 * paths, limits, and what off leaves unchanged.
 */
#include "device.h"
#include "mpsim.h"
#include "peer.h"

/* 1. Both ends find out they are braid; the server learns both uplinks. */
static void test_hello_and_learning(void **state)
{
	struct braid_path_info info[BRAID_MAX_PATHS];
	struct mp m;
	size_t n;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_FAILOVER, false);
	establish(&m);
	stream_for(&m, 1500);
	assert_int_equal(braid_peer_get_kind(m.a_peer_b), BRAID_PEER_BRAID);
	assert_int_equal(braid_peer_get_kind(m.b_peer_a), BRAID_PEER_BRAID);
	assert_int_equal(state_of(m.a_peer_b, 0), BRAID_PATH_ACTIVE);
	assert_int_equal(state_of(m.a_peer_b, 1), BRAID_PATH_STANDBY);
	n = braid_peer_get_paths(m.b_peer_a, info, BRAID_MAX_PATHS);
	assert_int_equal(n, 2);
	assert_true(info[0].is_learned && info[1].is_learned);
	assert_int_equal(info[0].endpoint.addr.in4.sin_addr.s_addr, m.addr_a);
	assert_int_equal(info[1].endpoint.addr.in4.sin_addr.s_addr, m.addr_b);
	/* The standby carries probes only; data stays on A. */
	n = braid_peer_get_paths(m.a_peer_b, info, BRAID_MAX_PATHS);
	assert_true(info[0].tx_packets > 1000);
	assert_true(info[1].tx_packets <= 3);
	assert_true(info[1].srtt_ns > 0);
	assert_int_equal(lost(&m.up, 0, 1600), 0);
	mp_free(&m);
}

/* 2. A link event moves the traffic at once: nothing is lost in either direction. */
static void test_failover_on_link_event(void **state)
{
	struct braid_endpoint ep;
	uint32_t cut;
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_FAILOVER, false);
	establish(&m);
	stream_for(&m, 500);
	cut = m.up.next;
	sim_impair(&m.sim, m.addr_a)->blackhole = true;
	braid_device_set_link(m.a->dev, m.sim.now, 1, false);
	stream_for(&m, 1000);
	assert_int_equal(state_of(m.a_peer_b, 0), BRAID_PATH_DOWN);
	assert_int_equal(state_of(m.a_peer_b, 1), BRAID_PATH_ACTIVE);
	assert_int_equal(longest_gap(&m.up, cut - 10, m.up.next - 5), 0);
	assert_true(longest_gap(&m.down, cut - 10, m.down.next - 5) <= 1);
	assert_true(braid_peer_get_endpoint(m.b_peer_a, &ep));
	assert_int_equal(ep.addr.in4.sin_addr.s_addr, m.addr_b);
	mp_free(&m);
}

/*
 * 3. A silent black-hole (links stay up) costs about the suspect timeout,
 * then traffic returns to A within the up-delay of its recovery, losing
 * nothing on the way back. A: 10 ms each way, B: 30 ms.
 */
static void test_failover_on_silence_and_failback(void **state)
{
	uint32_t cut, back;
	unsigned int gap_up, gap_down;
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_FAILOVER, false);
	sim_impair(&m.sim, m.addr_a)->delay = 10 * MSEC;
	sim_impair(&m.sim, m.addr_b)->delay = 30 * MSEC;
	establish(&m);
	stream_for(&m, 3000);
	cut = m.up.next;
	sim_impair(&m.sim, m.addr_a)->blackhole = true;
	stream_for(&m, 2000);
	gap_up = longest_gap(&m.up, cut - 50, m.up.next - 100);
	gap_down = longest_gap(&m.down, cut - 50, m.down.next - 100);
	print_message("silent black-hole: gap %u ms up, %u ms down\n", gap_up, gap_down);
	assert_true(gap_up <= 300);
	assert_true(gap_down <= 300);
	assert_int_equal(state_of(m.a_peer_b, 0), BRAID_PATH_DOWN);
	assert_int_equal(state_of(m.a_peer_b, 1), BRAID_PATH_ACTIVE);

	back = m.up.next;
	sim_impair(&m.sim, m.addr_a)->blackhole = false;
	stream_for(&m, 3000);
	assert_int_equal(state_of(m.a_peer_b, 0), BRAID_PATH_ACTIVE);
	assert_int_equal(lost(&m.up, back, m.up.next - 100), 0);
	assert_int_equal(lost(&m.down, back, m.down.next - 100), 0);
	mp_free(&m);
}

/*
 * 4. A path that fails again soon after failback waits out a hold-down that
 * doubles each time: 0, then 2 s, 4 s, 8 s from its going down to carrying
 * traffic again, though it answers again at once.
 */
static void test_holddown_grows(void **state)
{
	uint64_t t_down, t_active;
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_FAILOVER, false);
	establish(&m);
	for (int round = 0; round < 4; round++) {
		sim_impair(&m.sim, m.addr_a)->blackhole = true;
		for (t_down = 0; !t_down;) {
			stream_for(&m, 10);
			if (state_of(m.a_peer_b, 0) == BRAID_PATH_DOWN)
				t_down = m.sim.now;
			assert_true(m.sim.now - (t_down ? t_down : m.sim.now) < 2 * SEC);
		}
		sim_impair(&m.sim, m.addr_a)->blackhole = false;
		for (t_active = 0; !t_active && m.sim.now - t_down < 20 * SEC;) {
			stream_for(&m, 10);
			if (state_of(m.a_peer_b, 0) == BRAID_PATH_ACTIVE)
				t_active = m.sim.now;
		}
		assert_true(t_active);
		print_message("round %d: back %llu ms after going down\n", round,
			      (unsigned long long)((t_active - t_down) / MSEC));
		/* First: a probe within a second, then the up-delay. Then the hold-down. */
		if (round == 0)
			assert_true(t_active - t_down <= PATH_PROBE_INTERVAL_NS + PATH_UP_DELAY_NS +
							  100 * MSEC);
		else
			assert_true(t_active - t_down >= (PATH_HOLDDOWN_MIN_NS << (round - 1)));
	}
	mp_free(&m);
}

/*
 * 5. Against a stock server: HELLOs go unanswered and it counts as stock;
 * nothing goes out on the standby uplink while A works; a black-hole of A
 * still fails over within 600 ms, through what the server sends and one
 * handshake initiation on A. A's return is found by initiations on it, and
 * traffic goes back within 3 s, losing nothing.
 */
static void test_stock_server(void **state)
{
	unsigned int gap_up, gap_down, t;
	struct braid_endpoint ep;
	uint32_t cut, back;
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_FAILOVER, true);
	sim_impair(&m.sim, m.addr_a)->delay = 10 * MSEC;
	sim_impair(&m.sim, m.addr_b)->delay = 30 * MSEC;
	establish(&m);
	stream_for(&m, 5000);
	assert_int_equal(braid_peer_get_kind(m.a_peer_b), BRAID_PEER_STOCK);
	assert_true(m.control_from[0] >= 1 && m.control_from[0] <= PATH_HELLOS);
	assert_int_equal(m.from_b_at_server, 0);
	assert_int_equal(braid_peer_get_paths(m.b_peer_a, NULL, 0), 0);

	cut = m.up.next;
	sim_impair(&m.sim, m.addr_a)->blackhole = true;
	stream_for(&m, 3000);
	gap_up = longest_gap(&m.up, cut - 50, m.up.next - 100);
	gap_down = longest_gap(&m.down, cut - 50, m.down.next - 100);
	print_message("stock server, silent black-hole: gap %u ms up, %u ms down\n", gap_up,
		      gap_down);
	assert_true(gap_up <= 600);
	assert_true(gap_down <= 600);
	assert_true(braid_peer_get_endpoint(m.b_peer_a, &ep));
	assert_int_equal(ep.addr.in4.sin_addr.s_addr, m.addr_b);
	/* On B, now active, at most one HELLO for the new session: no probes. */
	assert_true(m.control_from[1] <= 1);

	back = m.up.next;
	sim_impair(&m.sim, m.addr_a)->blackhole = false;
	for (t = 0; t < 5000 && state_of(m.a_peer_b, 0) != BRAID_PATH_ACTIVE; t += 10)
		stream_for(&m, 10);
	print_message("stock server: A carries the traffic again %u ms after its return\n", t);
	assert_true(t <= 3000);
	stream_for(&m, 500);
	assert_int_equal(lost(&m.up, back, m.up.next - 100), 0);
	assert_int_equal(lost(&m.down, back, m.down.next - 100), 0);
	assert_true(braid_peer_get_endpoint(m.b_peer_a, &ep));
	assert_int_equal(ep.addr.in4.sin_addr.s_addr, m.addr_a);
	mp_free(&m);
}

/*
 * 5a. A stock server, a link event: A's link goes away and comes back, and
 * carries the traffic again within 3 s. In between, the loop is busy past
 * the moment A's up-delay ends (no tick then), and the host's routes change
 * (the daemon sets the same paths again): the deadline that has passed
 * unserved must still be served.
 */
static void test_stock_link_event(void **state)
{
	struct braid_path_config paths[2] = { uplink(1, "wlan0", 0), uplink(2, "wwan0", 1) };
	unsigned int t;
	uint32_t back;
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_FAILOVER, true);
	sim_impair(&m.sim, m.addr_a)->delay = 10 * MSEC;
	sim_impair(&m.sim, m.addr_b)->delay = 30 * MSEC;
	establish(&m);
	stream_for(&m, 5000);
	assert_int_equal(braid_peer_get_kind(m.a_peer_b), BRAID_PEER_STOCK);
	sim_impair(&m.sim, m.addr_a)->blackhole = true;
	braid_device_set_link(m.a->dev, m.sim.now, 1, false);
	stream_for(&m, 2000);
	assert_int_equal(state_of(m.a_peer_b, 0), BRAID_PATH_DOWN);
	assert_int_equal(state_of(m.a_peer_b, 1), BRAID_PATH_ACTIVE);

	back = m.up.next;
	sim_impair(&m.sim, m.addr_a)->blackhole = false;
	braid_device_set_link(m.a->dev, m.sim.now, 1, true);
	stream_for(&m, 1000);
	m.sim.now += PATH_UP_DELAY_NS;
	assert_int_equal(braid_peer_set_paths(m.a_peer_b, m.sim.now, paths, 2), 0);
	for (t = 1000 + PATH_UP_DELAY_NS / MSEC;
	     t < 10000 && state_of(m.a_peer_b, 0) != BRAID_PATH_ACTIVE; t += 10)
		stream_for(&m, 10);
	print_message("stock server: A active %u ms after its link came back\n", t);
	/* At once once the loop is free: the up-delay has long passed. */
	assert_true(t <= 1000 + PATH_UP_DELAY_NS / MSEC + 100);
	stream_for(&m, 500);
	assert_int_equal(lost(&m.up, back, m.up.next - 100), 0);
	assert_int_equal(lost(&m.down, back, m.down.next - 100), 0);
	mp_free(&m);
}

/*
 * 5b. Traffic one way to a stock server, which answers only with a keepalive
 * every 10 s: its silence in between is not a failure. Two minutes of it
 * move nothing and lose nothing; once the path's gaps are learned (the first
 * minute), a handshake every few seconds at most.
 */
static void test_stock_one_way(void **state)
{
	uint64_t first, second = 0;
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_FAILOVER, true);
	establish(&m);
	stream_for(&m, 5000);
	first = m.initiations_from_a;
	for (int s = 0; s < 1200; s++) {
		if (s == 600)
			second = m.initiations_from_a;
		stream_up_for(&m, 100);
		assert_int_not_equal(state_of(m.a_peer_b, 0), BRAID_PATH_DOWN);
	}
	print_message("one-way to a stock server: %llu initiations the first minute, %llu the "
		      "second\n", (unsigned long long)(second - first),
		      (unsigned long long)(m.initiations_from_a - second));
	assert_true(m.initiations_from_a - second <= 12);
	assert_int_equal(lost(&m.up, 5200, m.up.next - 100), 0);
	mp_free(&m);
}

/*
 * 5c. Paths configured anew while a stock server's session runs: until one
 * has been healthy for the up-delay, traffic goes by both, and the server
 * answers by one only. The other is asked with an initiation, answers, and
 * becomes the standby.
 */
static void test_stock_fresh_paths(void **state)
{
	struct braid_path_config paths[2] = { uplink(1, "wlan0", 0), uplink(2, "wwan0", 1) };
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_FAILOVER, true);
	establish(&m);
	stream_for(&m, 5000);
	assert_int_equal(braid_peer_set_paths(m.a_peer_b, m.sim.now, NULL, 0), 0);
	assert_int_equal(braid_peer_set_paths(m.a_peer_b, m.sim.now, paths, 2), 0);
	stream_for(&m, 6000);
	assert_int_equal(state_of(m.a_peer_b, 0), BRAID_PATH_ACTIVE);
	assert_int_equal(state_of(m.a_peer_b, 1), BRAID_PATH_STANDBY);
	mp_free(&m);
}

/*
 * 6. Redundant: every packet on both uplinks, 5% loss on each, independent;
 * the inner loss is about 5% of 5%, and the server sends both ways too.
 */
static void test_redundant_under_loss(void **state)
{
	struct braid_path_info info[BRAID_MAX_PATHS];
	unsigned int lost_up, lost_down;
	struct braid_device_stats st;
	struct mp m;
	uint32_t from;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_REDUNDANT, false);
	establish(&m);
	stream_for(&m, 1000);
	sim_impair(&m.sim, m.addr_a)->loss_permille = 50;
	sim_impair(&m.sim, m.addr_b)->loss_permille = 50;
	from = m.up.next;
	stream_for(&m, 20000);
	lost_up = lost(&m.up, from, m.up.next - 10);
	lost_down = lost(&m.down, from, m.down.next - 10);
	print_message("redundant, 5%% loss per uplink: inner loss %u and %u of %u\n", lost_up,
		      lost_down, m.up.next - 10 - from);
	/* Expected 0.25% (50 of 20000); 0.5% is over four standard deviations away. */
	assert_true(lost_up <= 100);
	assert_true(lost_down <= 100);
	braid_device_get_stats(m.b->dev, &st);
	assert_true(st.drops[BRAID_DROP_DUPLICATE] > 15000);
	/* Copies that came before the client's HELLO, while the server was not yet multipath. */
	assert_true(st.drops[BRAID_DROP_REPLAY] < 10);
	assert_int_equal(braid_peer_get_paths(m.b_peer_a, info, BRAID_MAX_PATHS), 2);
	/* A's copy leaves first, so it wins, except where it was lost (5%): then B's does. */
	assert_true(info[0].wins > 15000);
	assert_true(info[1].wins > 500 && info[1].wins < 2000);
	mp_free(&m);
}

/* 7. Redundant handshake initiations are byte-identical copies; the second is a replay. */
static void test_redundant_initiation(void **state)
{
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_REDUNDANT, false);
	braid_peer_initiate_handshake(m.a_peer_b, m.sim.now);
	assert_int_equal(m.a->n_out, 2);
	assert_int_equal(m.a->out[0].len, m.a->out[1].len);
	assert_memory_equal(m.a->out[0].data, m.a->out[1].data, m.a->out[0].len);
	assert_int_not_equal(m.a->out[0].from.addr.in4.sin_addr.s_addr,
			     m.a->out[1].from.addr.in4.sin_addr.s_addr);
	sim_flush(&m.sim);
	assert_int_equal(m.b->sent_responses, 1);
	mp_free(&m);
}

/* 8. An uplink configured before its interface exists is down, then probing, then standby. */
static void test_late_uplink(void **state)
{
	struct braid_path_config paths[2] = { uplink(1, "wlan0", 0), uplink(2, "wwan0", 1) };
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_FAILOVER, false);
	paths[1].is_usable = false;
	assert_int_equal(braid_peer_set_paths(m.a_peer_b, m.sim.now, paths, 2), 0);
	establish(&m);
	assert_int_equal(state_of(m.a_peer_b, 1), BRAID_PATH_DOWN);
	stream_for(&m, 1000);
	assert_int_equal(m.from_b_at_server, 0);
	braid_device_set_link(m.a->dev, m.sim.now, 2, true);
	assert_int_equal(state_of(m.a_peer_b, 1), BRAID_PATH_PROBING);
	stream_for(&m, 1000);
	assert_int_equal(state_of(m.a_peer_b, 1), BRAID_PATH_PROBING);
	stream_for(&m, 1500);
	assert_int_equal(state_of(m.a_peer_b, 1), BRAID_PATH_STANDBY);
	assert_true(m.from_b_at_server > 0);
	mp_free(&m);
}

/* 9. Idle, each path costs at most one probe a second, and the answers keep them alive. */
static void test_idle_probe_rate(void **state)
{
	uint64_t before[2];
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_FAILOVER, false);
	establish(&m);
	sim_run_for(&m.sim, 5 * SEC);
	before[0] = m.control_from[0];
	before[1] = m.control_from[1];
	sim_run_for(&m.sim, 60 * SEC);
	print_message("idle minute: %llu probes on A, %llu on B\n",
		      (unsigned long long)(m.control_from[0] - before[0]),
		      (unsigned long long)(m.control_from[1] - before[1]));
	assert_true(m.control_from[0] - before[0] <= 61);
	assert_true(m.control_from[1] - before[1] <= 61);
	assert_true(m.control_from[1] - before[1] >= 55);
	assert_int_equal(state_of(m.a_peer_b, 0), BRAID_PATH_ACTIVE);
	assert_int_equal(state_of(m.a_peer_b, 1), BRAID_PATH_STANDBY);
	mp_free(&m);
}

/* 10. Bad configuration is refused and changes nothing; learned paths stay within the limit. */
static void test_limits(void **state)
{
	struct braid_path_config paths[BRAID_MAX_PATHS + 1];
	struct braid_path_info info[BRAID_MAX_PATHS];
	struct braid_endpoint from;
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_FAILOVER, false);
	for (int i = 0; i <= BRAID_MAX_PATHS; i++)
		paths[i] = uplink(1, "x", 0);
	assert_int_equal(braid_peer_set_paths(m.a_peer_b, m.sim.now, paths, BRAID_MAX_PATHS + 1),
			 -E2BIG);
	paths[0].endpoint.addr.sa.sa_family = AF_UNIX;
	assert_int_equal(braid_peer_set_paths(m.a_peer_b, m.sim.now, paths, 1), -EINVAL);
	assert_int_equal(braid_peer_get_paths(m.a_peer_b, info, BRAID_MAX_PATHS), 2);
	assert_string_equal(info[1].name, "wwan0");
	assert_int_equal(braid_peer_set_multipath(m.a_peer_b, m.sim.now, 7), -EINVAL);
	assert_int_equal(braid_peer_get_multipath(m.a_peer_b), BRAID_MULTIPATH_FAILOVER);

	/* The server has learned A and B; ten more sources leave it at BRAID_MAX_PATHS. */
	establish(&m);
	stream_for(&m, 1500);
	for (int i = 0; i < 10; i++) {
		uint8_t buf[64], *pkts[1] = { buf };
		size_t len = sim_ipv4_packet(buf, sim_tunnel_addr(1), sim_tunnel_addr(2), 20, 0);

		sim_endpoint(&from, 100 + i, 40000);
		braid_device_send(m.a->dev, m.sim.now, pkts, &len, 1);
		m.a->out[m.a->n_out - 1].from = from;	/* as if NAT moved it */
		sim_flush(&m.sim);
	}
	assert_int_equal(braid_peer_get_paths(m.b_peer_a, info, BRAID_MAX_PATHS), BRAID_MAX_PATHS);
	mp_free(&m);
}

/* 11. Learned paths are forgotten after BRAID_PATH_IDLE_SEC without a packet. */
static void test_learned_paths_expire(void **state)
{
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_FAILOVER, false);
	establish(&m);
	stream_for(&m, 1500);
	assert_int_equal(braid_peer_get_paths(m.b_peer_a, NULL, 0), 2);
	/* The client stops: off sends nothing but WireGuard's own messages. */
	assert_int_equal(braid_peer_set_multipath(m.a_peer_b, m.sim.now, BRAID_MULTIPATH_OFF), 0);
	/* The client's passive keepalive, 10 s after the last data, is the last thing it sends. */
	sim_run_for(&m.sim, (KEEPALIVE_TIMEOUT + BRAID_PATH_IDLE_SEC + 5) * SEC);
	assert_int_equal(braid_peer_get_paths(m.b_peer_a, NULL, 0), 0);
	mp_free(&m);
}

/* 12. Off with paths configured: WireGuard's behaviour, no control messages, one endpoint. */
static void test_off_is_wireguard(void **state)
{
	struct mp m;

	(void)state;
	mp_setup(&m, BRAID_MULTIPATH_OFF, false);
	establish(&m);
	stream_for(&m, 3000);
	assert_int_equal(m.control_from[0] + m.control_from[1] + m.control_from[2], 0);
	assert_int_equal(m.from_b_at_server, 0);
	assert_int_equal(braid_peer_get_kind(m.a_peer_b), BRAID_PEER_UNKNOWN);
	assert_int_equal(braid_peer_get_paths(m.b_peer_a, NULL, 0), 0);
	assert_int_equal(lost(&m.up, 0, m.up.next - 5), 0);
	mp_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_and_learning),
		cmocka_unit_test(test_failover_on_link_event),
		cmocka_unit_test(test_failover_on_silence_and_failback),
		cmocka_unit_test(test_holddown_grows),
		cmocka_unit_test(test_stock_server),
		cmocka_unit_test(test_stock_link_event),
		cmocka_unit_test(test_stock_one_way),
		cmocka_unit_test(test_stock_fresh_paths),
		cmocka_unit_test(test_redundant_under_loss),
		cmocka_unit_test(test_redundant_initiation),
		cmocka_unit_test(test_late_uplink),
		cmocka_unit_test(test_idle_probe_rate),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_learned_paths_expire),
		cmocka_unit_test(test_off_is_wireguard),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
