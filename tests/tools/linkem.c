// SPDX-License-Identifier: MIT
/*
 * linkem: a link emulator for any IP traffic (UDP and TCP alike), standing in for the netem this
 * kernel lacks. It runs in a router's network namespace and creates one TUN device per DEV
 * argument (IFF_TUN, no packet information), brings it up itself, and reads what the kernel
 * routes into it; each packet goes through the impairment engine of impair.h (shared with relay)
 * and is written back into the same device, after which the kernel routes it on normally. Its
 * input interface is then DEV, so policy rules `iif LINK lookup TABLE` that steered it into DEV
 * no longer match: no loop. The caller adds only the routing:
 *
 *	ip rule add iif rA lookup 101;  ip route add default dev la table 101	(a to b)
 *	ip rule add iif rB lookup 102;  ip route add default dev lb table 102	(b to a)
 *	(the same with ip -6 for IPv6)
 *
 * Rules per device are relay's (drop, corrupt, dup, reorder, reorder-pkts, reorder-ms, delay,
 * jitter) plus rate=MBIT and queue=Nms|Nkb, a serialization model: a packet occupies the
 * emulated link for its IP length * 8 / rate and then takes delay +- jitter to arrive.
 * corrupt=PCT XORs one byte of the transport payload (never the IP, TCP, UDP or ICMP header,
 * which the kernel would drop or misroute) and fixes the TCP/UDP/ICMP checksum, so the damage
 * reaches the receiving application, as relay's does; packets without such a payload (a bare
 * ACK) are left alone. Other protocols and non-first IPv4 fragments get a byte after the IP
 * header changed and keep their checksum, if they have one (reassembly then fails its check).
 * linkem also sets DEV's rp_filter to 0 (packets come back with DEV as input interface) and its
 * IPv6 addr_gen_mode to none (a transit device needs no link-local address).
 *
 * Signals: SIGUSR1 prints the counters and rewrites the -S file (a temporary file renamed);
 * SIGUSR2 starts a blackhole of -b milliseconds (default 3000) on every device; SIGTERM or
 * SIGINT prints the counters and exits 0 (the TUN devices disappear with the process).
 * With -c FIFO, lines written to FIFO (created if missing) act on one device or all:
 *	blackhole DEV|all [MS]	a blackhole of MS (default -b; 0 ends one) on those devices
 *	set DEV|all KEY=VALUE[,KEY=VALUE...]	change their rules from now on
 *	stats			as SIGUSR1 (commands are done in order: after "stats" has
 *				rewritten the -S file, the commands before it were applied)
 *
 * Counters per device: received, forwarded (packets written) and bytes, dropped, duplicated,
 * reordered, delayed, corrupted, blackholed, overflow (no room: -q packets or 32 MB queued),
 * rate_limited (waited for the emulated link), taildrop (the rate's queue was full),
 * write_errors, queued (held now), ignored (link-scope multicast the router sent onto DEV,
 * such as its MLD reports: not written back, not in received), tun_dropped (DEV's tx_dropped:
 * what the kernel could not queue for linkem, its txqueuelen ring being full), late_avg_us and
 * late_max_us (how late delayed packets were written after their due time: linkem's own error).
 *
 * Timing: CLOCK_MONOTONIC, epoll_pwait2 with a 1 ns timer slack; reads are batched up to
 * READ_BUDGET packets per device and turn. One thread; see tests/tools/README.md for figures.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "impair.h"

#define MAX_PACKET 65536
#define READ_BUDGET 32
#define CTL_LINE_MAX 1024

enum { TAG_SIGNAL = -1, TAG_CTL = -2 };

/* One emulated link direction: its lane (first, so a lane pointer is the device's), its TUN. */
struct device {
	struct lane lane;
	int fd;
	uint64_t ignored;		/* link-scope multicast from the router itself */
	bool blackholed;		/* as last seen by the loop, to say when one ends */
	char name[IFNAMSIZ];
};

static struct device *devs;
static int ndevs;
static size_t queue_max = 8192;
static uint64_t blackhole_ns = 3000 * NSEC_PER_MSEC;
static const char *stats_path;
static bool verbose;

/* ---- packets ---- */

static int tun_emit(struct lane *l, const uint8_t *data, size_t len)
{
	struct device *d = (struct device *)l;

	return write(d->fd, data, len) == (ssize_t)len ? 0 : -1;
}

static unsigned int get16(const uint8_t *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

/*
 * Where the transport header of an IP packet starts and its protocol; returns the IP version,
 * or 0 when the packet has no transport header (not IP, or a non-first IPv4 fragment).
 */
static int ip_transport(const uint8_t *p, size_t len, size_t *l4, unsigned int *proto)
{
	*l4 = len;
	if (len >= 20 && p[0] >> 4 == 4) {
		*l4 = (size_t)(p[0] & 15) * 4;
		*proto = p[9];
		if (*l4 < 20 || *l4 > len)
			*l4 = len;
		return *l4 < len && !(get16(p + 6) & 0x1fff) ? 4 : 0;
	}
	if (len >= 40 && p[0] >> 4 == 6) {
		*l4 = 40;
		*proto = p[6];
		return 6;
	}
	return 0;
}

/*
 * The transport payload of a packet: its first byte's offset (len when there is none) and the
 * offset of the checksum covering it (0: none we can fix; IPv6 extension headers are not
 * followed). is_udp: a zero checksum means "none".
 */
static size_t transport_payload(const uint8_t *p, size_t len, size_t *csum, bool *is_udp)
{
	size_t l4, hdr, at;
	unsigned int proto;
	int version = ip_transport(p, len, &l4, &proto);

	*csum = 0;
	*is_udp = false;
	if (!version)
		return l4;
	switch (proto) {
	case IPPROTO_TCP:
		if (len < l4 + 20)
			return len;
		hdr = (size_t)(p[l4 + 12] >> 4) * 4;
		if (hdr < 20)
			return len;
		at = 16;
		break;
	case IPPROTO_UDP:
		hdr = 8;
		at = 6;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (version != (proto == IPPROTO_ICMP ? 4 : 6))
			return l4;
		hdr = 8;
		at = 2;
		break;
	default:
		return l4;
	}
	if (l4 + hdr > len)
		return len;
	*csum = l4 + at;
	*is_udp = proto == IPPROTO_UDP;
	return l4 + hdr;
}

/* RFC 1624's incremental update, HC' = ~(~HC + ~m + m'), for one 16-bit word m -> m'. */
static void csum_replace(uint8_t *c, unsigned int m, unsigned int m_new, bool is_udp)
{
	unsigned int hc = get16(c), sum;

	if (is_udp && !hc)
		return;		/* IPv4 UDP without a checksum */
	sum = (~hc & 0xffff) + (~m & 0xffff) + m_new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	hc = ~sum & 0xffff;
	if (is_udp && !hc)
		hc = 0xffff;
	c[0] = hc >> 8;
	c[1] = hc & 0xff;
}

/* One byte of the transport payload, checksum kept valid: the damage reaches the application. */
static bool tun_corrupt(struct lane *l, uint8_t *data, size_t len)
{
	size_t csum, start, off;
	bool is_udp;
	unsigned int old, x, shift;

	start = transport_payload(data, len, &csum, &is_udp);
	if (start >= len)
		return false;
	off = start + rng_below(len - start);
	x = 1 + rng_below(255);
	old = data[off];
	data[off] ^= x;
	if (csum) {
		/* the IP header is a multiple of 4 bytes: an even offset is a word's high byte */
		shift = off % 2 ? 0 : 8;
		csum_replace(data + csum, old << shift, (unsigned int)data[off] << shift, is_udp);
	}
	if (verbose)
		printf("linkem: %s corrupt len=%zu off=%zu xor=%u csum=%s\n", l->name, len, off, x,
		       csum ? "fixed" : "kept");
	return true;
}

/*
 * Link-scope multicast (IPv4 224.0.0.0/24, IPv6 ff01::/16 and ff02::/16) that enters DEV was
 * sent by the router itself onto the emulated link (MLD reports for ff02::2 once forwarding is
 * on): it has nowhere to be routed, so it is neither impaired nor written back, only counted.
 */
static bool is_link_scope_multicast(const uint8_t *p, size_t len)
{
	if (len >= 20 && p[0] >> 4 == 4)
		return p[16] == 224 && p[17] == 0 && p[18] == 0;
	return len >= 40 && p[0] >> 4 == 6 && p[24] == 0xff && (p[25] & 0x0f) <= 2;
}

/* ---- devices ---- */

static void write_sysctl(const char *fmt, const char *dev, const char *value)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), fmt, dev);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value))
		fprintf(stderr, "linkem: %s: %s (ignored)\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Creates (or attaches to) the TUN device d->name and brings it up; returns 0 or -errno. */
static int tun_open(struct device *d)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int s, err = 0;

	d->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (d->fd < 0)
		return -errno;
	memcpy(ifr.ifr_name, d->name, sizeof(d->name));
	if (ioctl(d->fd, TUNSETIFF, &ifr))
		return -errno;
	/*
	 * Packets come back with DEV as their input interface: strict reverse-path filtering
	 * would drop them. A transit device needs no IPv6 link-local address, whose DAD and
	 * router solicitations would only be traffic of its own through the emulated link.
	 */
	write_sysctl("/proc/sys/net/ipv4/conf/%s/rp_filter", d->name, "0");
	write_sysctl("/proc/sys/net/ipv6/conf/%s/addr_gen_mode", d->name, "1");
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr))
			err = -errno;
	} else {
		err = -errno;
	}
	close(s);
	return err;
}

/* DEV[:KEY=VALUE[,KEY=VALUE...]] */
static void device_parse(struct device *d, char *arg)
{
	char *colon = strchr(arg, ':');
	int i;

	if (colon)
		*colon = '\0';
	if (!*arg || strlen(arg) >= IFNAMSIZ || strchr(arg, '/') || !strcmp(arg, "all")) {
		fprintf(stderr, "linkem: bad device name '%s'\n", arg);
		exit(2);
	}
	for (i = 0; &devs[i] != d; i++)
		if (!strcmp(devs[i].name, arg)) {
			fprintf(stderr, "linkem: device '%s' given twice\n", arg);
			exit(2);
		}
	strcpy(d->name, arg);
	if (lane_init(&d->lane, d->name, queue_max, tun_emit, tun_corrupt)) {
		fprintf(stderr, "linkem: out of memory\n");
		exit(1);
	}
	if (colon && rules_parse(&d->lane.rules, colon + 1))
		exit(2);
}

/* Sends what is due on every device. */
static void release_due(uint64_t now)
{
	int i;

	for (i = 0; i < ndevs; i++)
		lane_release_due(&devs[i].lane, now);
}

/*
 * Reads what waits in d, at most READ_BUDGET packets so that every device gets turns; what is
 * due anywhere leaves between two reads, not after the batch.
 */
static void device_read(struct device *d)
{
	static uint8_t buf[MAX_PACKET];
	ssize_t n;
	int i;

	for (i = 0; i < READ_BUDGET; i++) {
		uint64_t now;

		n = read(d->fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			fprintf(stderr, "linkem: %s: read: %s\n", d->name, strerror(errno));
			exit(1);
		}
		if (is_link_scope_multicast(buf, n)) {
			d->ignored++;
			continue;
		}
		now = now_ns();
		lane_input(&d->lane, now, buf, n);
		release_due(now);
	}
}

static void describe(const struct device *d)
{
	const struct impair_rules *m = &d->lane.rules;

	printf("linkem: %s drop=%g%% corrupt=%g%% dup=%g%% reorder=%g%% (after %u packets or "
	       "%g ms) delay=%g ms jitter=%g ms", d->name, m->drop * 100, m->corrupt * 100,
	       m->dup * 100, m->reorder * 100, m->reorder_pkts, ms_of(m->reorder_ns),
	       ms_of(m->delay_ns), ms_of(m->jitter_ns));
	if (m->rate_bps > 0)
		printf(" rate=%g Mbit/s queue=%g ms\n", m->rate_bps / 1e6,
		       ms_of(rules_queue_ns(m)));
	else
		printf(" rate=off\n");
}

/* ---- counters ---- */

/*
 * Packets the kernel dropped on their way into linkem, because DEV's queue (txqueuelen
 * packets) was full: the emulator, not the emulated link, was then the bottleneck. This is
 * DEV's tx_dropped in /proc/net/dev, which shows the reader's network namespace.
 */
static unsigned long long tun_dropped(const struct device *d)
{
	unsigned long long v[12] = { 0 };
	char line[512], *colon, *name;
	FILE *f = fopen("/proc/net/dev", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		name = line + strspn(line, " ");
		if (strcmp(name, d->name))
			continue;
		if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
			   &v[10], &v[11]) != 12)
			v[11] = 0;
		break;
	}
	fclose(f);
	return v[11];
}

static void print_counters(FILE *f, const struct device *d, unsigned long long dropped_in)
{
	const struct impair_counters *c = &d->lane.c;

	fprintf(f, "linkem: %s received=%llu forwarded=%llu bytes=%llu dropped=%llu "
		"duplicated=%llu reordered=%llu delayed=%llu corrupted=%llu blackholed=%llu "
		"overflow=%llu rate_limited=%llu taildrop=%llu write_errors=%llu queued=%zu "
		"ignored=%llu tun_dropped=%llu late_avg_us=%.1f late_max_us=%.1f\n",
		d->name, (unsigned long long)c->received, (unsigned long long)c->forwarded,
		(unsigned long long)c->bytes, (unsigned long long)c->dropped,
		(unsigned long long)c->duplicated, (unsigned long long)c->reordered,
		(unsigned long long)c->delayed, (unsigned long long)c->corrupted,
		(unsigned long long)c->blackholed, (unsigned long long)c->overflow,
		(unsigned long long)c->rate_limited, (unsigned long long)c->taildrop,
		(unsigned long long)c->send_errors, lane_queued(&d->lane),
		(unsigned long long)d->ignored, dropped_in,
		c->late_count ? c->late_ns_sum / 1e3 / c->late_count : 0.0, c->late_ns_max / 1e3);
}

/* Print to stdout and replace the stats file in one rename, so a reader never sees half. */
static void report(void)
{
	unsigned long long dropped_in[ndevs];
	char tmp[4096];
	FILE *f;
	int i;

	for (i = 0; i < ndevs; i++) {
		dropped_in[i] = tun_dropped(&devs[i]);
		print_counters(stdout, &devs[i], dropped_in[i]);
	}
	fflush(stdout);
	if (!stats_path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", stats_path);
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "linkem: %s: %s\n", tmp, strerror(errno));
		return;
	}
	for (i = 0; i < ndevs; i++)
		print_counters(f, &devs[i], dropped_in[i]);
	if (fclose(f) || rename(tmp, stats_path))
		fprintf(stderr, "linkem: writing %s: %s\n", stats_path, strerror(errno));
}

/* ---- control: signals and the FIFO ---- */

static void blackhole(struct device *d, uint64_t ns)
{
	d->lane.blackhole_until = ns ? now_ns() + ns : 0;
	if (ns)
		printf("linkem: %s blackhole for %g ms\n", d->name, ms_of(ns));
}

static bool is_target(const struct device *d, const char *target)
{
	return !strcmp(target, "all") || !strcmp(target, d->name);
}

/*
 * set: the list is applied on top of each target's rules; whether it parses does not depend on
 * them, so either the first target refuses it and nothing changes, or every target takes it.
 */
static int ctl_set(const char *target, const char *list)
{
	struct impair_rules r;
	int i, hits = 0;

	for (i = 0; i < ndevs; i++) {
		if (!is_target(&devs[i], target))
			continue;
		r = devs[i].lane.rules;
		if (rules_parse(&r, strdupa(list)))
			return -1;
		devs[i].lane.rules = r;
		describe(&devs[i]);
		hits++;
	}
	return hits;
}

static int ctl_blackhole(const char *target, uint64_t ns)
{
	int i, hits = 0;

	for (i = 0; i < ndevs; i++) {
		if (is_target(&devs[i], target)) {
			blackhole(&devs[i], ns);
			hits++;
		}
	}
	return hits;
}

static void ctl_command(char *line)
{
	char *save = NULL, *cmd = strtok_r(line, " \t\r", &save);
	char *target = strtok_r(NULL, " \t\r", &save), *arg = strtok_r(NULL, " \t\r", &save);
	uint64_t ns = blackhole_ns;
	int hits = -1;

	if (!cmd)
		return;
	if (!strcmp(cmd, "stats") && !target)
		report();
	else if (!strcmp(cmd, "blackhole") && target)
		hits = arg && parse_ms("blackhole", arg, &ns) ? -1 : ctl_blackhole(target, ns);
	else if (!strcmp(cmd, "set") && target && arg)
		hits = ctl_set(target, arg);
	else
		fprintf(stderr, "linkem: ctl: want 'blackhole DEV|all [MS]', "
			"'set DEV|all KEY=VALUE[,...]' or 'stats'\n");
	if (!hits)
		fprintf(stderr, "linkem: ctl: no device '%s'\n", target);
	fflush(stdout);
}

/* Reads the FIFO and runs each complete line; an overlong line is dropped whole. */
static void ctl_read(int fd)
{
	static char buf[CTL_LINE_MAX + 1];
	static size_t len;
	static bool skipping;
	char *nl, *line;
	ssize_t n;

	while ((n = read(fd, buf + len, CTL_LINE_MAX - len)) > 0) {
		len += n;
		buf[len] = '\0';
		line = buf;
		while ((nl = strchr(line, '\n'))) {
			*nl = '\0';
			if (!skipping)
				ctl_command(line);
			skipping = false;
			line = nl + 1;
		}
		len -= line - buf;
		memmove(buf, line, len);
		if (len == CTL_LINE_MAX) {
			if (!skipping)
				fprintf(stderr, "linkem: ctl: line too long, ignored\n");
			skipping = true;
			len = 0;
		}
	}
}

static int ctl_open(const char *path)
{
	struct stat st;
	int fd;

	if (mkfifo(path, 0600) && errno != EEXIST) {
		fprintf(stderr, "linkem: mkfifo %s: %s\n", path, strerror(errno));
		exit(1);
	}
	/* Read and write: linkem itself keeps a writer, so the FIFO never reports end of file. */
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISFIFO(st.st_mode)) {
		fprintf(stderr, "linkem: %s: not a FIFO I can open\n", path);
		exit(1);
	}
	return fd;
}

/* Returns false when linkem should exit. */
static bool handle_signals(int sfd)
{
	struct signalfd_siginfo si;
	int i;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGUSR1:
			report();
			break;
		case SIGUSR2:
			for (i = 0; i < ndevs; i++)
				blackhole(&devs[i], blackhole_ns);
			fflush(stdout);
			break;
		default:
			return false;
		}
	}
	return true;
}

/* ---- the loop ---- */

/* The next time something must happen: a packet due, or a blackhole's end (to say so). */
static uint64_t next_deadline(uint64_t now)
{
	uint64_t t = UINT64_MAX, due;
	int i;

	for (i = 0; i < ndevs; i++) {
		due = lane_next_due(&devs[i].lane);
		if (due < t)
			t = due;
		due = devs[i].lane.blackhole_until;
		if (due > now && due < t)
			t = due;
	}
	return t;
}

/* Sends what is due and says when a blackhole ended. */
static void release_all(uint64_t now)
{
	int i;

	release_due(now);
	for (i = 0; i < ndevs; i++) {
		struct device *d = &devs[i];

		if (d->blackholed && now >= d->lane.blackhole_until)
			printf("linkem: %s blackhole over\n", d->name);
		d->blackholed = now < d->lane.blackhole_until;
	}
	fflush(stdout);
}

/* Runs until SIGTERM or SIGINT. */
static void loop(int ep, int sfd, int ctl)
{
	struct epoll_event evs[16];
	uint64_t now;
	int n, i, tag;

	for (;;) {
		now = now_ns();
		n = epoll_wait_until(ep, evs, 16, now, next_deadline(now));
		if (n < 0 && errno != EINTR) {
			perror("linkem: epoll_pwait2");
			exit(1);
		}
		for (i = 0; i < n; i++) {
			tag = (int)evs[i].data.u32;
			if (tag == TAG_SIGNAL) {
				if (!handle_signals(sfd))
					return;
			} else if (tag == TAG_CTL) {
				ctl_read(ctl);
			} else {
				device_read(&devs[tag]);
			}
		}
		release_all(now_ns());
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: linkem [-s SEED] [-S STATSFILE] [-b BLACKHOLE_MS] [-q MAXQUEUED]\n"
		"              [-c FIFO] [-v] DEV[:KEY=VALUE[,KEY=VALUE...]] ...\n"
		"  keys: drop corrupt dup reorder (percent), reorder-pkts=N, reorder-ms=MS,\n"
		"        delay=MS, jitter=MS (fractions allowed), rate=MBIT, queue=Nms|Nkb\n"
		"  SIGUSR1: print counters; SIGUSR2: blackhole every device for BLACKHOLE_MS\n"
		"  (default 3000); SIGTERM/SIGINT: print counters and exit; FIFO lines:\n"
		"  'blackhole DEV|all [MS]', 'set DEV|all KEY=VALUE[,...]', 'stats'\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *ctl_path = NULL;
	bool seeded = false;
	int opt, ep, sfd, ctl = -1, i, err;
	uint64_t seed = 0;

	impair_prog = "linkem";
	while ((opt = getopt(argc, argv, "s:S:b:q:c:vh")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 'S':
			stats_path = optarg;
			break;
		case 'b':
			blackhole_ns = parse_count("-b", optarg, 3600000) * NSEC_PER_MSEC;
			break;
		case 'q':
			queue_max = parse_count("-q", optarg, 1 << 20);
			if (!queue_max)
				usage();
			break;
		case 'c':
			ctl_path = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	prctl(PR_SET_TIMERSLACK, 1UL);	/* wake for a due packet on time, not 50 us late */
	rng_seed(seeded ? seed : (seed = random_seed()));
	devs = calloc(argc, sizeof(*devs));
	if (!devs) {
		fprintf(stderr, "linkem: out of memory\n");
		return 1;
	}
	for (ndevs = 0; ndevs < argc; ndevs++)
		device_parse(&devs[ndevs], argv[ndevs]);
	sfd = setup_signals();
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("linkem: epoll_create1");
		return 1;
	}
	for (i = 0; i < ndevs; i++) {
		err = tun_open(&devs[i]);
		if (err) {
			fprintf(stderr, "linkem: %s: %s\n", devs[i].name, strerror(-err));
			return 1;
		}
		epoll_add(ep, devs[i].fd, i);
	}
	epoll_add(ep, sfd, TAG_SIGNAL);
	if (ctl_path) {
		ctl = ctl_open(ctl_path);
		epoll_add(ep, ctl, TAG_CTL);
	}
	printf("linkem: seed=%llu pid=%d devices=%d\n", (unsigned long long)seed, (int)getpid(),
	       ndevs);
	for (i = 0; i < ndevs; i++)
		describe(&devs[i]);
	if (stats_path)
		report();

	loop(ep, sfd, ctl);

	report();
	for (i = 0; i < ndevs; i++) {
		lane_clear(&devs[i].lane);
		close(devs[i].fd);
	}
	pool_clear();
	free(devs);
	if (ctl >= 0)
		close(ctl);
	close(sfd);
	close(ep);
	return 0;
}
