// SPDX-License-Identifier: MIT
/*
 * flood: handshake initiations with a valid mac1, from spoofed sources, for
 * testing a WireGuard responder's defences inside network namespaces.
 *
 *   mac1 = MAC(HASH("mac1----" || Spub_victim), initiation[0..116))
 *
 * Everything else in the 148-byte initiation is random: the victim accepts
 * mac1, spends one X25519 on the random ephemeral (es) and then fails to
 * open encrypted_static. mac2 is zero: a spoofed source never sees the
 * cookie reply, so a victim that asks for cookies drops the flood cheaply.
 *
 * Packets are whole IPv4 or IPv6 datagrams written to a raw socket
 * (IPPROTO_RAW: the header is ours), sent with sendmmsg in batches. Sources
 * are drawn at random from a prefix (-s), or from a fixed set of -S of them
 * used in turn, or one address (a /32 or /128); ports at random from a range
 * (-p). A pool of distinct messages is made up front, with the UDP checksum
 * of each payload, so a packet costs a header and a checksum fold.
 *
 * The flood always ends by itself: after -d seconds (at most MAX_SECONDS) or
 * -n packets, whichever comes first. Destinations and sources must lie in
 * the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
 * 2001:db8::/32): the tool refuses anything that could leave a test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "messages.h"

enum {
	MAX_SECONDS = 600,
	DEFAULT_SECONDS = 10,
	MAX_BATCH = 256,
	DEFAULT_BATCH = 64,
	DEFAULT_POOL = 4096,
	MAX_POOL = 1 << 20,
	MAX_SOURCES = 1 << 20,
	IP4_HDR_LEN = 20,
	IP6_HDR_LEN = 40,
	UDP_HDR_LEN = 8,
	MAX_PACKET_LEN = IP6_HDR_LEN + UDP_HDR_LEN + MESSAGE_INITIATION_LEN,
	MAC1_OFFSET = offsetof(struct message_handshake_initiation, macs),
};

#define DEFAULT_COUNT 10000000ULL

struct addr {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t bytes[16];		/* network order; IPv4 in the first 4 */
};

struct prefix {
	struct addr base;
	unsigned int len;
};

struct options {
	uint8_t victim_public[NOISE_PUBLIC_KEY_LEN];
	struct addr dst;
	uint16_t dst_port;
	struct prefix src;
	unsigned int fixed_sources;	/* 0: a fresh random source per packet */
	uint16_t port_lo, port_hi;
	double rate;			/* packets per second; 0: as fast as possible */
	double seconds;
	uint64_t count;
	unsigned int batch;
	unsigned int pool;
	bool bad_mac1;
	bool progress;
};

struct pool_msg {
	uint8_t msg[MESSAGE_INITIATION_LEN];
	uint32_t sum;			/* ones' complement partial sum of msg */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: flood -k VICTIM_PUBLIC_KEY -t ADDR:PORT -s PREFIX [options]\n"
"Send WireGuard handshake initiations with a valid mac1 from spoofed sources (root).\n"
"  -k KEY        the victim's public key, base64 as wg prints it (or @FILE to read it)\n"
"  -t ADDR:PORT  the victim: 198.51.100.2:10002 or [2001:db8:1::2]:10002\n"
"  -s PREFIX     sources: 203.0.113.0/24, 2001:db8:100::/40; a /32 or /128 is one source\n"
"  -S N          N fixed sources drawn once from PREFIX, used in turn (default: a fresh\n"
"                random address from PREFIX for every packet)\n"
"  -p LO[-HI]    source ports (default 1024-65535, one at random per packet)\n"
"  -r RATE       packets per second (default 0: as fast as the socket takes them)\n"
"  -d SECONDS    stop after this long (default %d, at most %d)\n"
"  -n COUNT      stop after this many packets (default %llu)\n"
"  -b BATCH      packets per sendmmsg (default %d, at most %d)\n"
"  -P POOL       distinct messages to cycle through (default %d)\n"
"  -x            corrupt mac1 (a control: a correct victim answers none of these)\n"
"  -v            print the count every second\n"
"Ends with one line: flood: sent=N seconds=T rate=R errors=E\n",
		DEFAULT_SECONDS, MAX_SECONDS, DEFAULT_COUNT, DEFAULT_BATCH, MAX_BATCH, DEFAULT_POOL);
}

static __attribute__((noreturn)) void die(const char *what)
{
	fprintf(stderr, "flood: %s\n", what);
	exit(2);
}

/* ---- parsing ---- */

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* A WireGuard key: 43 base64 characters and one '='. */
static bool parse_key(uint8_t key[NOISE_PUBLIC_KEY_LEN], const char *s)
{
	uint32_t acc = 0;
	int bits = 0, v;
	size_t i, n = 0;

	if (strlen(s) != 44 || s[43] != '=')
		return false;
	for (i = 0; i < 43; i++) {
		v = b64_value(s[i]);
		if (v < 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			key[n++] = acc >> bits;
		}
	}
	/* The two bits left over must be zero in a canonical encoding. */
	return n == NOISE_PUBLIC_KEY_LEN && (acc & ((1u << bits) - 1)) == 0;
}

static bool read_key(uint8_t key[NOISE_PUBLIC_KEY_LEN], const char *arg)
{
	char line[128];
	FILE *f;
	bool ok;

	if (arg[0] != '@')
		return parse_key(key, arg);
	f = fopen(arg + 1, "r");
	if (!f)
		return false;
	ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	if (!ok)
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return parse_key(key, line);
}

static bool parse_addr(struct addr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->bytes) == 1) {
		a->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, a->bytes) == 1) {
		a->family = AF_INET6;
		return true;
	}
	return false;
}

static bool parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		return false;
	*out = strtoull(s, &end, 10);
	return !errno && !*end && *out <= max;
}

/* "a.b.c.d:port" or "[v6]:port" */
static bool parse_endpoint(struct addr *a, uint16_t *port, const char *s)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned long long p;
	char *colon, *host = buf;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	colon = strrchr(buf, ':');
	if (!colon)
		return false;
	*colon = '\0';
	if (buf[0] == '[') {
		if (colon[-1] != ']')
			return false;
		colon[-1] = '\0';
		host = buf + 1;
	}
	if (!parse_uint(colon + 1, 65535, &p) || !p)
		return false;
	*port = p;
	return parse_addr(a, host) && (buf[0] == '[') == (a->family == AF_INET6);
}

static bool parse_prefix(struct prefix *pfx, const char *s)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned long long len;
	char *slash;
	unsigned int max, i;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (!parse_addr(&pfx->base, buf))
		return false;
	max = pfx->base.family == AF_INET ? 32 : 128;
	if (!slash)
		len = max;
	else if (!parse_uint(slash + 1, max, &len))
		return false;
	pfx->len = len;
	/* Clear the host bits, so that the base is the prefix itself. */
	for (i = len; i < max; i++)
		pfx->base.bytes[i / 8] &= ~(0x80 >> (i % 8));
	return true;
}

static bool parse_ports(uint16_t *lo, uint16_t *hi, const char *s)
{
	char buf[16], *dash;
	unsigned long long a, b;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (!parse_uint(buf, 65535, &a) || !a)
		return false;
	b = a;
	if (dash && (!parse_uint(dash + 1, 65535, &b) || b < a))
		return false;
	*lo = a;
	*hi = b;
	return true;
}

static bool parse_double(const char *s, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return !errno && end != s && !*end && *out >= 0 && *out <= max;
}

/* The documentation ranges; nothing else may be a source or a destination. */
static bool is_documentation(const struct addr *a)
{
	static const uint8_t v4[][3] = { { 192, 0, 2 }, { 198, 51, 100 }, { 203, 0, 113 } };
	static const uint8_t v6[4] = { 0x20, 0x01, 0x0d, 0xb8 };
	size_t i;

	if (a->family == AF_INET6)
		return !memcmp(a->bytes, v6, sizeof(v6));
	for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
		if (!memcmp(a->bytes, v4[i], 3))
			return true;
	return false;
}

static bool prefix_is_documentation(const struct prefix *p)
{
	return p->len >= (p->base.family == AF_INET ? 24u : 32u) && is_documentation(&p->base);
}

static void parse_options(struct options *o, int argc, char **argv)
{
	bool have_key = false, have_dst = false, have_src = false;
	unsigned long long v;
	int c;

	*o = (struct options){ .port_lo = 1024, .port_hi = 65535, .seconds = DEFAULT_SECONDS,
			       .count = DEFAULT_COUNT, .batch = DEFAULT_BATCH,
			       .pool = DEFAULT_POOL };
	while ((c = getopt(argc, argv, "k:t:s:S:p:r:d:n:b:P:xvh")) != -1) {
		switch (c) {
		case 'k':
			if (!read_key(o->victim_public, optarg))
				die("-k: not a WireGuard public key (44 base64 characters)");
			have_key = true;
			break;
		case 't':
			if (!parse_endpoint(&o->dst, &o->dst_port, optarg))
				die("-t: want ADDR:PORT or [ADDR]:PORT");
			have_dst = true;
			break;
		case 's':
			if (!parse_prefix(&o->src, optarg))
				die("-s: want ADDRESS/LEN");
			have_src = true;
			break;
		case 'S':
			if (!parse_uint(optarg, MAX_SOURCES, &v) || !v)
				die("-S: want 1 to 1048576 sources");
			o->fixed_sources = v;
			break;
		case 'p':
			if (!parse_ports(&o->port_lo, &o->port_hi, optarg))
				die("-p: want PORT or LO-HI (1 to 65535)");
			break;
		case 'r':
			if (!parse_double(optarg, 1e8, &o->rate))
				die("-r: want packets per second (0 for no limit)");
			break;
		case 'd':
			if (!parse_double(optarg, MAX_SECONDS, &o->seconds) || o->seconds <= 0)
				die("-d: want seconds, more than 0 and at most 600");
			break;
		case 'n':
			if (!parse_uint(optarg, UINT64_MAX, &v) || !v)
				die("-n: want a packet count");
			o->count = v;
			break;
		case 'b':
			if (!parse_uint(optarg, MAX_BATCH, &v) || !v)
				die("-b: want 1 to 256");
			o->batch = v;
			break;
		case 'P':
			if (!parse_uint(optarg, MAX_POOL, &v) || !v)
				die("-P: want 1 to 1048576 messages");
			o->pool = v;
			break;
		case 'x':
			o->bad_mac1 = true;
			break;
		case 'v':
			o->progress = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc || !have_key || !have_dst || !have_src) {
		usage(stderr);
		exit(2);
	}
	if (o->src.base.family != o->dst.family)
		die("-s and -t must be of the same address family");
	if (!is_documentation(&o->dst))
		die("-t: the victim must be in 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24"
		    " or 2001:db8::/32");
	if (!prefix_is_documentation(&o->src))
		die("-s: sources must lie inside 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24"
		    " or 2001:db8::/32");
}

/* ---- randomness: xoshiro256** (Blackman and Vigna), seeded by getrandom, picks sources ---- */

struct rng {
	uint64_t s[4];
};

static uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t result = rotl64(r->s[1] * 5, 7) * 9, t = r->s[1] << 17;

	r->s[2] ^= r->s[0];
	r->s[3] ^= r->s[1];
	r->s[1] ^= r->s[2];
	r->s[0] ^= r->s[3];
	r->s[2] ^= t;
	r->s[3] = rotl64(r->s[3], 45);
	return result;
}

static void os_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("getrandom failed");
		}
		p += n;
		len -= n;
	}
}

/* A random address inside the prefix: the prefix bits kept, the host bits drawn. */
static void random_source(struct addr *a, const struct prefix *p, struct rng *r)
{
	unsigned int max = p->base.family == AF_INET ? 32 : 128, i;
	uint8_t rnd[16];
	uint64_t x;

	x = rng_next(r);
	memcpy(rnd, &x, 8);
	x = rng_next(r);
	memcpy(rnd + 8, &x, 8);
	*a = p->base;
	for (i = p->len; i < max; i++)
		a->bytes[i / 8] |= rnd[i / 8] & (0x80 >> (i % 8));
	/* IPv4: avoid the prefix's network and broadcast addresses when it has others. */
	if (p->base.family == AF_INET && p->len <= 30) {
		uint32_t host_mask = 0xffffffffu >> p->len, v;

		memcpy(&v, a->bytes, 4);
		v = ntohl(v);
		if ((v & host_mask) == 0 || (v & host_mask) == host_mask)
			v = (v & ~host_mask) | 1;
		v = htonl(v);
		memcpy(a->bytes, &v, 4);
	}
}

/* ---- checksums ---- */

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ---- packets ---- */

static void make_pool(struct pool_msg *pool, const struct options *o)
{
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];
	static const char label[] = "mac1----";
	unsigned int i;

	crypto_hash(mac1_key, (const uint8_t *)label, strlen(label), o->victim_public,
		    NOISE_PUBLIC_KEY_LEN);
	for (i = 0; i < o->pool; i++) {
		uint8_t *m = pool[i].msg;

		/* Random sender index, ephemeral, encrypted static and timestamp. */
		os_random(m, MAC1_OFFSET);
		braid_put_le32(m, MESSAGE_HANDSHAKE_INITIATION);
		crypto_mac(m + MAC1_OFFSET, mac1_key, sizeof(mac1_key), m, MAC1_OFFSET);
		if (o->bad_mac1)
			m[MAC1_OFFSET] ^= 0x01;
		memset(m + MAC1_OFFSET + COOKIE_LEN, 0, COOKIE_LEN);	/* mac2: no cookie */
		pool[i].sum = sum16(0, m, MESSAGE_INITIATION_LEN);
	}
}

/* Write one IP/UDP/initiation datagram into pkt; returns its length. */
static size_t build_packet(uint8_t *pkt, const struct pool_msg *pm, const struct addr *src,
			   uint16_t sport, const struct options *o, uint16_t ip_id)
{
	const size_t udp_len = UDP_HDR_LEN + MESSAGE_INITIATION_LEN;
	size_t ip_len = o->dst.family == AF_INET ? IP4_HDR_LEN : IP6_HDR_LEN, alen;
	uint8_t *udp = pkt + ip_len;
	uint32_t sum;
	uint16_t csum;

	if (o->dst.family == AF_INET) {
		alen = 4;
		pkt[0] = 0x45;
		pkt[1] = HANDSHAKE_DSCP;
		pkt[2] = (ip_len + udp_len) >> 8;
		pkt[3] = (ip_len + udp_len) & 0xff;
		pkt[4] = ip_id >> 8;
		pkt[5] = ip_id & 0xff;
		pkt[6] = 0;
		pkt[7] = 0;
		pkt[8] = 64;
		pkt[9] = IPPROTO_UDP;
		pkt[10] = 0;
		pkt[11] = 0;
		memcpy(pkt + 12, src->bytes, 4);
		memcpy(pkt + 16, o->dst.bytes, 4);
		csum = fold(sum16(0, pkt, IP4_HDR_LEN));
		pkt[10] = csum >> 8;
		pkt[11] = csum & 0xff;
	} else {
		alen = 16;
		pkt[0] = 0x60 | HANDSHAKE_DSCP >> 4;
		pkt[1] = (HANDSHAKE_DSCP & 0x0f) << 4;
		pkt[2] = 0;
		pkt[3] = 0;
		pkt[4] = udp_len >> 8;
		pkt[5] = udp_len & 0xff;
		pkt[6] = IPPROTO_UDP;
		pkt[7] = 64;
		memcpy(pkt + 8, src->bytes, 16);
		memcpy(pkt + 24, o->dst.bytes, 16);
	}
	udp[0] = sport >> 8;
	udp[1] = sport & 0xff;
	udp[2] = o->dst_port >> 8;
	udp[3] = o->dst_port & 0xff;
	udp[4] = udp_len >> 8;
	udp[5] = udp_len & 0xff;
	udp[6] = 0;
	udp[7] = 0;
	memcpy(udp + UDP_HDR_LEN, pm->msg, MESSAGE_INITIATION_LEN);

	/* Pseudo-header (addresses, protocol, length), the UDP header, then the payload's sum. */
	sum = sum16(0, src->bytes, alen);
	sum = sum16(sum, o->dst.bytes, alen);
	sum += IPPROTO_UDP + udp_len;
	sum = sum16(sum, udp, UDP_HDR_LEN);
	sum += pm->sum;
	csum = fold(sum);
	if (!csum)
		csum = 0xffff;	/* zero means "no checksum" */
	udp[6] = csum >> 8;
	udp[7] = csum & 0xff;
	return ip_len + udp_len;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

static int open_raw(const struct options *o)
{
	int fd = socket(o->dst.family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	int size = 4 << 20;

	if (fd < 0) {
		perror("flood: raw socket (needs CAP_NET_RAW)");
		exit(2);
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	return fd;
}

/* What one flood needs: the options, the messages, the sources and the batch being sent. */
struct flood {
	struct options o;
	struct pool_msg *pool;
	struct addr *sources;		/* o.fixed_sources of them, or NULL */
	struct rng rng;
	int fd;
	struct sockaddr_storage dst_sa;
	uint8_t pkts[MAX_BATCH][MAX_PACKET_LEN];
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	uint64_t next_pool, next_source;
	uint16_t ip_id;
};

static void flood_init(struct flood *f)
{
	const struct options *o = &f->o;
	socklen_t dst_len;
	unsigned int i;

	os_random(f->rng.s, sizeof(f->rng.s));
	f->pool = calloc(o->pool, sizeof(*f->pool));
	if (!f->pool)
		die("out of memory");
	make_pool(f->pool, o);
	if (o->fixed_sources) {
		f->sources = calloc(o->fixed_sources, sizeof(*f->sources));
		if (!f->sources)
			die("out of memory");
		for (i = 0; i < o->fixed_sources; i++)
			random_source(&f->sources[i], &o->src, &f->rng);
	}
	memset(&f->dst_sa, 0, sizeof(f->dst_sa));
	if (o->dst.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&f->dst_sa;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, o->dst.bytes, 4);
		dst_len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&f->dst_sa;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, o->dst.bytes, 16);
		dst_len = sizeof(*sin6);
	}
	f->fd = open_raw(o);
	for (i = 0; i < o->batch; i++) {
		memset(&f->msgs[i], 0, sizeof(f->msgs[i]));
		f->iov[i].iov_base = f->pkts[i];
		f->msgs[i].msg_hdr.msg_iov = &f->iov[i];
		f->msgs[i].msg_hdr.msg_iovlen = 1;
		f->msgs[i].msg_hdr.msg_name = &f->dst_sa;
		f->msgs[i].msg_hdr.msg_namelen = dst_len;
	}
}

/* Fill the first n packets of the batch: next message of the pool, next source, a random port. */
static void fill_batch(struct flood *f, unsigned int n)
{
	const struct options *o = &f->o;
	uint32_t ports = (uint32_t)o->port_hi - o->port_lo + 1;
	struct addr src;
	unsigned int i;
	uint16_t sport;

	for (i = 0; i < n; i++) {
		if (f->sources) {
			src = f->sources[f->next_source];
			f->next_source = (f->next_source + 1) % o->fixed_sources;
		} else {
			random_source(&src, &o->src, &f->rng);
		}
		sport = o->port_lo + rng_next(&f->rng) % ports;
		f->iov[i].iov_len = build_packet(f->pkts[i], &f->pool[f->next_pool], &src, sport, o,
						 ++f->ip_id);
		f->next_pool = (f->next_pool + 1) % o->pool;
	}
}

/*
 * Send until the deadline, the count or a signal. With a rate, each batch holds only the packets
 * due by now and the loop sleeps until the next one is due. Returns the packets the socket took.
 */
static uint64_t flood_run(struct flood *f, uint64_t *errors, double *elapsed)
{
	const struct options *o = &f->o;
	double start = now_s(), now, next_report = start + 1;
	uint64_t sent = 0, due;
	unsigned int n;
	int ret;

	*errors = 0;
	while (!stop && sent < o->count) {
		now = now_s();
		if (now >= start + o->seconds)
			break;
		if (o->progress && now >= next_report) {
			fprintf(stderr, "flood: t=%.0fs sent=%" PRIu64 "\n", now - start, sent);
			next_report += 1;
		}
		n = o->batch;
		if (o->rate > 0) {
			due = (uint64_t)((now - start) * o->rate) + 1;
			if (due <= sent) {
				sleep_s((sent + 1) / o->rate - (now - start));
				continue;
			}
			if (due - sent < n)
				n = due - sent;
		}
		if (o->count - sent < n)
			n = o->count - sent;
		fill_batch(f, n);
		ret = sendmmsg(f->fd, f->msgs, n, 0);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			++*errors;
			if (errno != ENOBUFS && errno != EAGAIN) {
				perror("flood: sendmmsg");
				break;
			}
			sleep_s(0.0001);	/* the device queue is full: let it drain */
			continue;
		}
		sent += ret;
	}
	*elapsed = now_s() - start;
	return sent;
}

int main(int argc, char **argv)
{
	static struct flood f;
	uint64_t sent, errors;
	double elapsed;

	parse_options(&f.o, argc, argv);
	if (!crypto_init())
		die("libcrypto lacks BLAKE2s (OpenSSL 3.0 or later is needed)");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	flood_init(&f);
	sent = flood_run(&f, &errors, &elapsed);
	close(f.fd);
	printf("flood: sent=%" PRIu64 " seconds=%.3f rate=%.0f errors=%" PRIu64 "\n", sent,
	       elapsed, elapsed > 0 ? sent / elapsed : 0.0, errors);
	free(f.sources);
	free(f.pool);
	return 0;
}
