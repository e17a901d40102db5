// SPDX-License-Identifier: MIT
/*
 * "Packet too big" answers (src/linux/icmp.c): which packets get one, and
 * that each answer is a well-formed ICMP/ICMPv6 error with valid checksums
 * that quotes the packet it is about.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "icmp.h"

static uint16_t checksum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)p[0] << 8 | p[1];
}

/* An IPv4 packet of len bytes (UDP unless proto says otherwise) from src to dst. */
static void make_v4(uint8_t *pkt, size_t len, const char *src, const char *dst, bool df,
		    uint8_t proto)
{
	memset(pkt, 0xab, len);
	memset(pkt, 0, 20);
	pkt[0] = 0x45;
	pkt[2] = len >> 8;
	pkt[3] = len;
	pkt[6] = df ? 0x40 : 0;
	pkt[8] = 64;
	pkt[9] = proto;
	inet_pton(AF_INET, src, pkt + 12);
	inet_pton(AF_INET, dst, pkt + 16);
	pkt[20] = 8;			/* ICMP echo request, when proto is ICMP */
}

static void make_v6(uint8_t *pkt, size_t len, const char *src, const char *dst, uint8_t next,
		    uint8_t first_byte)
{
	memset(pkt, 0xcd, len);
	memset(pkt, 0, 40);
	pkt[0] = 0x60;
	pkt[4] = (len - 40) >> 8;
	pkt[5] = len - 40;
	pkt[6] = next;
	pkt[7] = 64;
	inet_pton(AF_INET6, src, pkt + 8);
	inet_pton(AF_INET6, dst, pkt + 24);
	pkt[40] = first_byte;
}

static uint8_t pkt[2000], out[ICMP_TOO_BIG_MAX];

static void test_v4_frag_needed(void **state)
{
	size_t n;

	make_v4(pkt, 1500, "192.0.2.1", "192.0.2.2", true, 17);
	n = icmp_too_big(out, pkt, 1500, 1420);
	/* RFC 1812: as much of the packet as fits in 576 bytes. */
	assert_int_equal(n, 576);
	assert_int_equal(out[0], 0x45);
	assert_int_equal(get16(out + 2), 576);
	assert_int_equal(out[9], 1);
	assert_int_equal(checksum(0, out, 20), 0);
	/* From the original destination, to the original source. */
	assert_memory_equal(out + 12, pkt + 16, 4);
	assert_memory_equal(out + 16, pkt + 12, 4);
	assert_int_equal(out[20], 3);
	assert_int_equal(out[21], 4);
	assert_int_equal(get16(out + 26), 1420);
	assert_int_equal(checksum(0, out + 20, n - 20), 0);
	assert_memory_equal(out + 28, pkt, n - 28);
}

static void test_v4_short_packet_quoted_whole(void **state)
{
	size_t n;

	make_v4(pkt, 300, "192.0.2.1", "192.0.2.2", true, 6);
	n = icmp_too_big(out, pkt, 300, 200);
	assert_int_equal(n, 20 + 8 + 300);
	assert_memory_equal(out + 28, pkt, 300);
	assert_int_equal(checksum(0, out + 20, n - 20), 0);
}

static void test_v4_no_answer(void **state)
{
	/* 1: fits */
	make_v4(pkt, 1420, "192.0.2.1", "192.0.2.2", true, 17);
	assert_int_equal(icmp_too_big(out, pkt, 1420, 1420), 0);
	/* 2: no DF: the outer packet may be fragmented instead */
	make_v4(pkt, 1500, "192.0.2.1", "192.0.2.2", false, 17);
	assert_int_equal(icmp_too_big(out, pkt, 1500, 1420), 0);
	/* 3: an ICMP error itself */
	make_v4(pkt, 1500, "192.0.2.1", "192.0.2.2", true, 1);
	pkt[20] = 3;
	assert_int_equal(icmp_too_big(out, pkt, 1500, 1420), 0);
	/* 4: multicast and broadcast destinations, unanswerable sources */
	make_v4(pkt, 1500, "192.0.2.1", "224.0.0.5", true, 17);
	assert_int_equal(icmp_too_big(out, pkt, 1500, 1420), 0);
	make_v4(pkt, 1500, "192.0.2.1", "255.255.255.255", true, 17);
	assert_int_equal(icmp_too_big(out, pkt, 1500, 1420), 0);
	make_v4(pkt, 1500, "0.0.0.0", "192.0.2.2", true, 17);
	assert_int_equal(icmp_too_big(out, pkt, 1500, 1420), 0);
	/* 5: not the first fragment */
	make_v4(pkt, 1500, "192.0.2.1", "192.0.2.2", true, 17);
	pkt[7] = 10;
	assert_int_equal(icmp_too_big(out, pkt, 1500, 1420), 0);
	/* 6: a header length past the packet, or below the minimum */
	make_v4(pkt, 1500, "192.0.2.1", "192.0.2.2", true, 17);
	pkt[0] = 0x44;
	assert_int_equal(icmp_too_big(out, pkt, 1500, 1420), 0);
	/* 7: not IP at all */
	pkt[0] = 0x12;
	assert_int_equal(icmp_too_big(out, pkt, 1500, 1420), 0);
}

static void test_v4_echo_is_answered(void **state)
{
	make_v4(pkt, 1500, "192.0.2.1", "192.0.2.2", true, 1);
	assert_int_equal(icmp_too_big(out, pkt, 1500, 1420), 576);
}

static void test_v6_packet_too_big(void **state)
{
	uint8_t pseudo[40];
	uint32_t sum = 0;
	size_t n;

	make_v6(pkt, 1500, "2001:db8::1", "2001:db8::2", 17, 0);
	n = icmp_too_big(out, pkt, 1500, 1420);
	/* RFC 4443: the error must not exceed the minimum IPv6 MTU. */
	assert_int_equal(n, 1280);
	assert_int_equal(out[0] >> 4, 6);
	assert_int_equal(get16(out + 4), 1240);
	assert_int_equal(out[6], 58);
	assert_memory_equal(out + 8, pkt + 24, 16);
	assert_memory_equal(out + 24, pkt + 8, 16);
	assert_int_equal(out[40], 2);
	assert_int_equal(out[41], 0);
	assert_int_equal((uint32_t)out[44] << 24 | out[45] << 16 | out[46] << 8 | out[47], 1420);
	assert_memory_equal(out + 48, pkt, n - 48);
	/* Checksum over the pseudo-header and the whole ICMPv6 message. */
	memcpy(pseudo, out + 8, 32);
	memset(pseudo + 32, 0, 8);
	pseudo[34] = 1240 >> 8;
	pseudo[35] = 1240 & 0xff;
	pseudo[39] = 58;
	for (int i = 0; i < 40; i += 2)
		sum += (uint32_t)pseudo[i] << 8 | pseudo[i + 1];
	assert_int_equal(checksum(sum, out + 40, n - 40), 0);
}

static void test_v6_no_answer(void **state)
{
	/* 1: fits */
	make_v6(pkt, 1420, "2001:db8::1", "2001:db8::2", 17, 0);
	assert_int_equal(icmp_too_big(out, pkt, 1420, 1420), 0);
	/* 2: an ICMPv6 error (destination unreachable) */
	make_v6(pkt, 1500, "2001:db8::1", "2001:db8::2", 58, 1);
	assert_int_equal(icmp_too_big(out, pkt, 1500, 1420), 0);
	/* 3: unspecified source, multicast source or destination */
	make_v6(pkt, 1500, "::", "2001:db8::2", 17, 0);
	assert_int_equal(icmp_too_big(out, pkt, 1500, 1420), 0);
	make_v6(pkt, 1500, "2001:db8::1", "ff02::1", 17, 0);
	assert_int_equal(icmp_too_big(out, pkt, 1500, 1420), 0);
	/* 4: shorter than a header */
	assert_int_equal(icmp_too_big(out, pkt, 39, 20), 0);
}

static void test_v6_echo_is_answered(void **state)
{
	make_v6(pkt, 1500, "2001:db8::1", "2001:db8::2", 58, 128);
	assert_int_equal(icmp_too_big(out, pkt, 1500, 1420), 1280);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_frag_needed),
		cmocka_unit_test(test_v4_short_packet_quoted_whole),
		cmocka_unit_test(test_v4_no_answer),
		cmocka_unit_test(test_v4_echo_is_answered),
		cmocka_unit_test(test_v6_packet_too_big),
		cmocka_unit_test(test_v6_no_answer),
		cmocka_unit_test(test_v6_echo_is_answered),
	};

	return cmocka_run_group_tests_name("icmp", tests, NULL, NULL);
}
