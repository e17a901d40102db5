// SPDX-License-Identifier: MIT
/*
 * braid set and braid show: a client of the UAPI socket, for what wg(8)
 * cannot say. wg refuses keys it does not know in `set` and hides them in
 * `show`, so the multipath configuration goes through here:
 *
 *   braid set wg0 peer KEY multipath failover path wlan0 path wwan0,prio=1
 *   braid show [wg0]
 *
 * A set is one UAPI operation: all of it is applied, or, with errno=N,
 * none of it. show reads `get` and prints wg show's view with what braid
 * adds: paths, their state and RTT, the far end's kind, drop counters.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "uapi_sock.h"

/* ---- Talking to the daemon ---- */

static int connect_uapi(const char *ifname)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s.sock", UAPI_SOCKET_DIR,
			     ifname) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Send one operation and read its reply up to the empty line after errno=; NULL on failure. */
static char *transact(const char *ifname, const char *request)
{
	size_t len = 0, cap = 4096;
	char *reply = malloc(cap), *grown;
	int fd = connect_uapi(ifname);
	ssize_t n;

	if (fd < 0 || !reply || !write_all(fd, request, strlen(request))) {
		free(reply);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			grown = realloc(reply, cap * 2);
			if (!grown)
				break;
			reply = grown;
			cap *= 2;
		}
		n = read(fd, reply + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		reply[len] = '\0';
		/* The reply ends with errno=N and an empty line. */
		char *e = strstr(reply, "errno=");

		if (e && strstr(e, "\n\n"))
			break;
	}
	close(fd);
	reply[len] = '\0';
	return reply;
}

static int reply_errno(const char *reply)
{
	const char *e = reply ? strstr(reply, "errno=") : NULL;

	return e ? atoi(e + 6) : -EPROTO;
}

/* ---- braid set ---- */

static void usage_set(FILE *f)
{
	fprintf(f, "Usage: braid set INTERFACE peer PUBLIC-KEY [multipath MODE]\n"
		   "                 [replace-paths] [path SPEC]... [extra-endpoint IP:PORT]...\n"
		   "                 [peer PUBLIC-KEY ...]\n"
		   "MODE: off, failover, redundant, aggregate or aggregate-flow.\n"
		   "SPEC: an interface name or a local address, or auto, with options after commas:\n"
		   "      prio=0..255 (lower is preferred), endpoint=IP:PORT (this path's remote),\n"
		   "      rate=MBIT (aggregation sends no faster), exclude=IF1+IF2 (auto only).\n"
		   "Example (a wg-quick PostUp): braid set %%i peer KEY multipath failover \\\n"
		   "      path wlan0 path wwan0,prio=1\n");
}

struct request {
	char *buf;
	size_t len, cap;
};

static bool append_text(struct request *r, const char *text)
{
	size_t need = strlen(text);
	char *grown;

	if (r->len + need + 1 > r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 512;

		while (cap < r->len + need + 1)
			cap *= 2;
		grown = realloc(r->buf, cap);
		if (!grown)
			return false;
		r->buf = grown;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, text, need + 1);
	r->len += need;
	return true;
}

static bool append(struct request *r, const char *key, const char *value)
{
	return append_text(r, key) && append_text(r, "=") && append_text(r, value) &&
	       append_text(r, "\n");
}

/* The set request for argv (after "braid set IFNAME"), or a message in *why. */
static bool build_set(int argc, char *argv[], struct request *r, const char **why)
{
	uint8_t key[BRAID_KEY_LEN];
	char hex[2 * BRAID_KEY_LEN + 1];
	bool in_peer = false;

	*why = "out of memory";
	if (!append(r, "set", "1"))
		return false;
	for (int i = 0; i < argc; i++) {
		const char *word = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(word, "replace-paths")) {
			if (!in_peer || !append(r, "braid_replace_paths", "true"))
				goto bad;
			continue;
		}
		if (!value)
			goto bad;
		i++;
		if (!strcmp(word, "peer")) {
			if (!braid_key_from_base64(key, value)) {
				*why = "invalid public key";
				return false;
			}
			braid_key_to_hex(hex, key);
			if (!append(r, "public_key", hex))
				return false;
			in_peer = true;
		} else if (in_peer && !strcmp(word, "multipath")) {
			if (!append(r, "braid_multipath", value))
				return false;
		} else if (in_peer && !strcmp(word, "path")) {
			if (!append(r, "braid_path", value))
				return false;
		} else if (in_peer && !strcmp(word, "extra-endpoint")) {
			if (!append(r, "braid_endpoint", value))
				return false;
		} else {
			goto bad;
		}
	}
	if (!in_peer)
		goto bad;
	return append_text(r, "\n");
bad:
	*why = "invalid arguments";
	return false;
}

static int cmd_set(int argc, char *argv[])
{
	struct request r = { 0 };
	const char *why;
	char *reply;
	int err;

	if (argc == 1 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
		usage_set(stdout);
		return 0;
	}
	if (argc < 2) {
		usage_set(stderr);
		return 1;
	}
	if (!build_set(argc - 1, argv + 1, &r, &why)) {
		fprintf(stderr, "braid set: %s\n", why);
		usage_set(stderr);
		free(r.buf);
		return 1;
	}
	reply = transact(argv[0], r.buf);
	free(r.buf);
	if (!reply) {
		fprintf(stderr, "braid set: %s: cannot reach the daemon: %s\n", argv[0],
			strerror(errno));
		return 1;
	}
	err = reply_errno(reply);
	free(reply);
	if (err) {
		fprintf(stderr, "braid set: %s: the daemon refused the request: %s\n", argv[0],
			strerror(-err));
		return 1;
	}
	return 0;
}

/* ---- braid show ---- */

static const char *value_of(const char *line, const char *key)
{
	size_t n = strlen(key);

	return !strncmp(line, key, n) && line[n] == '=' ? line + n + 1 : NULL;
}

static void print_bytes(uint64_t b)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	unsigned int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u)
		printf("%.2f %s", v, units[u]);
	else
		printf("%" PRIu64 " B", b);
}

static void print_key(const char *label, const char *hex)
{
	uint8_t key[BRAID_KEY_LEN];
	char b64[45];

	if (!braid_key_from_hex(key, hex))
		return;
	braid_key_to_base64(b64, key);
	printf("  %s: %s\n", label, b64);
}

struct peer_view {
	uint64_t rx, tx, handshake_sec;
	char allowed[1024];
};

static void print_peer_tail(struct peer_view *p)
{
	time_t now = time(NULL);

	if (*p->allowed)
		printf("  allowed ips: %s\n", p->allowed);
	if (p->handshake_sec)
		printf("  latest handshake: %lld seconds ago\n",
		       (long long)(now - (time_t)p->handshake_sec));
	if (p->rx || p->tx) {
		printf("  transfer: ");
		print_bytes(p->rx);
		printf(" received, ");
		print_bytes(p->tx);
		printf(" sent\n");
	}
}

/* "wlan0,local=…,remote=…,state=active,rtt_us=…,…": one line per path. */
static void print_path(const char *value)
{
	char copy[512], *field, *save = NULL, *name;
	const char *local = "", *remote = "", *state = "", *rtt = "0", *last = "-1", *owd = "-1";
	uint64_t rx = 0, tx = 0, rate = 0;

	snprintf(copy, sizeof(copy), "%s", value);
	name = strtok_r(copy, ",", &save);
	while ((field = strtok_r(NULL, ",", &save))) {
		const char *v = strchr(field, '=');

		if (!v)
			continue;
		v++;
		if (!strncmp(field, "local=", 6))
			local = v;
		else if (!strncmp(field, "remote=", 7))
			remote = v;
		else if (!strncmp(field, "state=", 6))
			state = v;
		else if (!strncmp(field, "rtt_us=", 7))
			rtt = v;
		else if (!strncmp(field, "rx_bytes=", 9))
			rx = strtoull(v, NULL, 10);
		else if (!strncmp(field, "tx_bytes=", 9))
			tx = strtoull(v, NULL, 10);
		else if (!strncmp(field, "last_rx_ms=", 11))
			last = v;
		else if (!strncmp(field, "rate_bps=", 9))
			rate = strtoull(v, NULL, 10);
		else if (!strncmp(field, "owd_us=", 7))
			owd = v;
	}
	printf("  path %s: %s -> %s  %s", name ? name : "?", local, remote, state);
	if (strtoull(rtt, NULL, 10))
		printf(", rtt %.1f ms", strtoull(rtt, NULL, 10) / 1000.0);
	printf(", rx ");
	print_bytes(rx);
	printf(", tx ");
	print_bytes(tx);
	if (atoll(last) >= 0)
		printf(", last rx %.1f s ago", atoll(last) / 1000.0);
	if (rate)
		printf(", rate %.1f Mbit/s", rate / 1e6);
	if (atoll(owd) > 0)
		printf(", +%.1f ms one way", atoll(owd) / 1000.0);
	printf("\n");
}

/* Print one interface's get reply; 0, or the reply's errno. */
static int show_reply(const char *ifname, char *reply)
{
	struct peer_view peer = { 0 };
	char drops[1024] = "", *line, *save = NULL;
	const char *v, *err = NULL;
	bool in_peer = false;

	printf("interface: %s\n", ifname);
	for (line = strtok_r(reply, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if ((err = value_of(line, "errno")))
			break;
		if ((v = value_of(line, "public_key"))) {
			if (in_peer)
				print_peer_tail(&peer);
			else if (*drops)
				printf("  drops:%s\n", drops);
			memset(&peer, 0, sizeof(peer));
			in_peer = true;
			printf("\n");
			print_key("peer", v);
		} else if (!in_peer && (v = value_of(line, "private_key"))) {
			uint8_t priv[BRAID_KEY_LEN], pub[BRAID_KEY_LEN];
			char b64[45];

			if (braid_key_from_hex(priv, v)) {
				braid_public_key(pub, priv);
				braid_key_to_base64(b64, pub);
				printf("  public key: %s\n  private key: (hidden)\n", b64);
			}
			explicit_bzero(priv, sizeof(priv));
		} else if (!in_peer && (v = value_of(line, "listen_port"))) {
			printf("  listening port: %s\n", v);
		} else if (!in_peer && (v = value_of(line, "fwmark"))) {
			printf("  fwmark: 0x%x\n", (unsigned int)strtoul(v, NULL, 10));
		} else if (!in_peer && !strncmp(line, "braid_drop_", 11)) {
			size_t used = strlen(drops);

			snprintf(drops + used, sizeof(drops) - used, " %s", line + 11);
		} else if (in_peer && (v = value_of(line, "preshared_key"))) {
			printf("  preshared key: (hidden)\n");
		} else if (in_peer && (v = value_of(line, "endpoint"))) {
			printf("  endpoint: %s\n", v);
		} else if (in_peer && (v = value_of(line, "allowed_ip"))) {
			size_t used = strlen(peer.allowed);

			snprintf(peer.allowed + used, sizeof(peer.allowed) - used, "%s%s",
				 used ? ", " : "", v);
		} else if (in_peer && (v = value_of(line, "rx_bytes"))) {
			peer.rx = strtoull(v, NULL, 10);
		} else if (in_peer && (v = value_of(line, "tx_bytes"))) {
			peer.tx = strtoull(v, NULL, 10);
		} else if (in_peer && (v = value_of(line, "last_handshake_time_sec"))) {
			peer.handshake_sec = strtoull(v, NULL, 10);
		} else if (in_peer && (v = value_of(line, "persistent_keepalive_interval"))) {
			if (strcmp(v, "0"))
				printf("  persistent keepalive: every %s seconds\n", v);
		} else if (in_peer && (v = value_of(line, "braid_multipath"))) {
			printf("  multipath: %s", v);
		} else if (in_peer && (v = value_of(line, "braid_peer_multipath"))) {
			printf(" (far end is braid: %s)\n", v);
		} else if (in_peer && (v = value_of(line, "braid_path"))) {
			print_path(v);
		} else if (in_peer && (v = value_of(line, "braid_reorder"))) {
			printf("  reorder: %s\n", v);
		}
	}
	if (in_peer)
		print_peer_tail(&peer);
	else if (*drops)
		printf("  drops:%s\n", drops);
	return err ? atoi(err) : -EPROTO;
}

static int show_one(const char *ifname)
{
	char *reply = transact(ifname, "get=1\n\n");
	int err;

	if (!reply) {
		fprintf(stderr, "braid show: %s: cannot reach the daemon: %s\n", ifname,
			strerror(errno));
		return 1;
	}
	err = show_reply(ifname, reply);
	free(reply);
	if (err)
		fprintf(stderr, "braid show: %s: %s\n", ifname, strerror(-err));
	return err ? 1 : 0;
}

static int cmd_show(int argc, char *argv[])
{
	struct dirent *de;
	DIR *dir;
	int ret = 0, shown = 0;
	size_t len;

	if (argc > 1) {
		fprintf(stderr, "Usage: braid show [INTERFACE]\n");
		return 1;
	}
	if (argc == 1)
		return show_one(argv[0]);
	dir = opendir(UAPI_SOCKET_DIR);
	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		len = strlen(de->d_name);
		if (len <= 5 || strcmp(de->d_name + len - 5, ".sock"))
			continue;
		de->d_name[len - 5] = '\0';
		if (shown++)
			printf("\n");
		ret |= show_one(de->d_name);
	}
	closedir(dir);
	return ret;
}

int cli_main(int argc, char *argv[])
{
	if (!strcmp(argv[0], "set"))
		return cmd_set(argc - 1, argv + 1);
	if (!strcmp(argv[0], "show"))
		return cmd_show(argc - 1, argv + 1);
	return -1;
}

bool cli_is_command(const char *word)
{
	return !strcmp(word, "set") || !strcmp(word, "show");
}
