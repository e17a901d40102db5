// SPDX-License-Identifier: MIT
/*
 * Endpoint names resolved again by a helper process (see resolver.h).
 *
 * The socketpair is SOCK_SEQPACKET: one request or answer per message, so
 * neither side parses a stream. Requests are "SEQ NAME:PORT", answers
 * "SEQ ok ENDPOINT" or "SEQ error WHY". The daemon's end is non-blocking and
 * uses only read() and write(), which its system-call filter allows.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "privilege.h"
#include "resolver.h"
#include "uapi.h"

enum { MSG_MAX = 512, LOOKUP_TIMEOUT_SEC = 30 };

bool resolver_name_is_valid(const char *value, size_t len)
{
	const char *colon = len ? memrchr(value, ':', len) : NULL;
	size_t host_len, port_len;
	unsigned long port = 0;

	if (!colon || len >= RESOLVER_NAME_LEN)
		return false;
	host_len = (size_t)(colon - value);
	port_len = len - host_len - 1;
	if (!host_len || host_len > 253 || !port_len || port_len > 5)
		return false;
	for (size_t i = 0; i < host_len; i++)
		if (!isalnum((unsigned char)value[i]) && value[i] != '.' && value[i] != '-' &&
		    value[i] != '_')
			return false;
	for (size_t i = 0; i < port_len; i++) {
		if (!isdigit((unsigned char)colon[1 + i]))
			return false;
		port = port * 10 + (unsigned long)(colon[1 + i] - '0');
	}
	return port > 0 && port <= 65535;
}

/* ---- The resolver process ---- */

/* Descriptor 3 for the socket, 2 for the log, nothing else of the daemon's. */
static int keep_only(int fd)
{
	if (fd != 3 && (dup2(fd, 3) < 0 || close(fd) < 0))
		_exit(1);
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0)
#endif
		for (long i = 4, max = sysconf(_SC_OPEN_MAX); i < max; i++)
			close((int)i);
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	return 3;
}

static void answer(int fd, const char *request)
{
	const struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
					.ai_protocol = IPPROTO_UDP };
	char msg[MSG_MAX], host[RESOLVER_NAME_LEN], addr[INET6_ADDRSTRLEN];
	const char *space = strchr(request, ' '), *colon;
	struct addrinfo *res = NULL, *a;
	unsigned long seq = strtoul(request, NULL, 10);
	int ret;

	colon = space ? strrchr(space, ':') : NULL;
	if (!colon || (size_t)(colon - space - 1) >= sizeof(host))
		return;
	memcpy(host, space + 1, (size_t)(colon - space - 1));
	host[colon - space - 1] = '\0';
	ret = getaddrinfo(host, colon + 1, &hints, &res);
	for (a = ret ? NULL : res; a && a->ai_family != AF_INET && a->ai_family != AF_INET6; )
		a = a->ai_next;
	if (a && a->ai_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)a->ai_addr;

		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		snprintf(msg, sizeof(msg), "%lu ok %s:%u", seq, addr, ntohs(in->sin_port));
	} else if (a) {
		const struct sockaddr_in6 *in6 = (const void *)a->ai_addr;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		snprintf(msg, sizeof(msg), "%lu ok [%s]:%u", seq, addr, ntohs(in6->sin6_port));
	} else {
		snprintf(msg, sizeof(msg), "%lu error %s", seq,
			 ret ? gai_strerror(ret) : "no IPv4 or IPv6 address");
	}
	if (res)
		freeaddrinfo(res);
	if (write(fd, msg, strlen(msg)) < 0)
		_exit(1);
}

static void __attribute__((noreturn)) serve(int fd, pid_t parent, bool change_user, uid_t uid,
					    gid_t gid)
{
	char request[MSG_MAX + 1];
	ssize_t n;

	fd = keep_only(fd);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(0);
	prctl(PR_SET_NAME, "braid-resolver", 0, 0, 0);
	/* A signal to the whole group stops the daemon; its end of the socket closing stops us. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (privilege_drop(change_user, uid, gid, 0)) {
		log_error("resolver: cannot drop privileges; endpoint names stay as resolved");
		_exit(1);
	}
	for (;;) {
		n = read(fd, request, MSG_MAX);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		request[n] = '\0';
		answer(fd, request);
	}
}

int resolver_start(struct resolver *r, bool change_user, uid_t uid, gid_t gid)
{
	pid_t parent = getpid();
	int fds[2], ret;

	*r = (struct resolver){ .w.fd = -1 };
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
		return -errno;
	r->pid = fork();
	if (r->pid < 0) {
		ret = -errno;
		close(fds[0]);
		close(fds[1]);
		r->pid = 0;
		return ret;
	}
	if (r->pid == 0) {
		close(fds[0]);
		serve(fds[1], parent, change_user, uid, gid);
	}
	close(fds[1]);
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
		ret = -errno;
		close(fds[0]);
		resolver_stop(r);
		return ret;
	}
	r->w.fd = fds[0];
	return 0;
}

/*
 * No kill() and no waitpid(): the daemon's filter allows neither, and neither
 * is needed. The resolver exits when its socket closes, or at once when the
 * daemon's main thread ends (PR_SET_PDEATHSIG), and is reaped by whoever
 * inherits it.
 */
void resolver_stop(struct resolver *r)
{
	if (r->w.fd >= 0)
		close(r->w.fd);
	r->w.fd = -1;
	r->pid = 0;
	free(r->names);
	r->names = NULL;
	r->n = r->cap = 0;
}

/* ---- Names ---- */

static struct resolver_name *find(const struct resolver *r, const uint8_t key[BRAID_KEY_LEN])
{
	for (size_t i = 0; i < r->n; i++)
		if (!memcmp(r->names[i].public_key, key, BRAID_KEY_LEN))
			return &r->names[i];
	return NULL;
}

int resolver_set_name(struct resolver *r, const uint8_t key[BRAID_KEY_LEN], const char *name,
		      uint64_t now)
{
	struct resolver_name *e = find(r, key);

	if (!*name) {
		resolver_forget(r, key);
		return 0;
	}
	if (!e) {
		if (r->n == RESOLVER_MAX_NAMES)
			return -ENOSPC;
		if (r->n == r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 8;
			struct resolver_name *grown = realloc(r->names, cap * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			r->names = grown;
			r->cap = cap;
		}
		e = &r->names[r->n++];
	}
	*e = (struct resolver_name){ .heard_ns = now,
				     .retry_ns = RESOLVER_RETRY_SEC * NSEC_PER_SEC };
	memcpy(e->public_key, key, BRAID_KEY_LEN);
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (r->dev) {
		struct braid_peer *peer = braid_device_find_peer(r->dev, key);
		struct braid_peer_stats st;

		if (peer) {
			braid_peer_get_stats(peer, &st);
			e->rx_bytes = st.rx_bytes;
			e->tx_bytes = st.tx_bytes;
		}
	}
	return 0;
}

void resolver_forget(struct resolver *r, const uint8_t key[BRAID_KEY_LEN])
{
	struct resolver_name *e = find(r, key);

	if (e)
		*e = r->names[--r->n];
}

void resolver_forget_all(struct resolver *r)
{
	r->n = 0;
}

const char *resolver_name_of(const struct resolver *r, const uint8_t key[BRAID_KEY_LEN])
{
	const struct resolver_name *e = find(r, key);

	return e ? e->name : NULL;
}

/* ---- Deciding when, and taking the answers ---- */

uint64_t resolver_next_deadline(const struct resolver *r)
{
	return r->n && r->w.fd >= 0 ? r->next_check_ns : BRAID_NEVER;
}

static void ask(struct resolver *r, struct resolver_name *e, uint64_t now)
{
	char msg[MSG_MAX];
	int len = snprintf(msg, sizeof(msg), "%u %s", r->seq + 1, e->name);

	if (write(r->w.fd, msg, (size_t)len) != len) {
		log_verbose("resolver: cannot ask for %s: %s", e->name, strerror(errno));
		return;
	}
	log_verbose("peer %s: nothing heard for %llu s while sending: resolving it again",
		    e->name, (unsigned long long)((now - e->heard_ns) / NSEC_PER_SEC));
	e->seq = ++r->seq;
	e->in_flight = true;
	e->asked_ns = now;
	e->next_try_ns = now + e->retry_ns;
	e->retry_ns = e->retry_ns * 2 < RESOLVER_RETRY_MAX_SEC * NSEC_PER_SEC ?
		      e->retry_ns * 2 : RESOLVER_RETRY_MAX_SEC * NSEC_PER_SEC;
}

static void check(struct resolver *r, struct resolver_name *e, uint64_t now)
{
	struct braid_peer *peer = braid_device_find_peer(r->dev, e->public_key);
	struct braid_peer_stats st;

	if (!peer)
		return;
	braid_peer_get_stats(peer, &st);
	if (st.rx_bytes != e->rx_bytes) {
		e->rx_bytes = st.rx_bytes;
		e->heard_ns = now;
		e->retry_ns = RESOLVER_RETRY_SEC * NSEC_PER_SEC;
	}
	if (st.tx_bytes != e->tx_bytes) {
		e->tx_bytes = st.tx_bytes;
		e->sent_ns = now;
	}
	if (e->in_flight && now >= e->asked_ns + LOOKUP_TIMEOUT_SEC * NSEC_PER_SEC)
		e->in_flight = false;
	if (!e->in_flight && e->sent_ns > e->heard_ns && now >= e->next_try_ns &&
	    now - e->heard_ns >= RESOLVER_SILENCE_SEC * NSEC_PER_SEC)
		ask(r, e, now);
}

void resolver_expire(struct resolver *r, uint64_t now)
{
	if (r->w.fd < 0 || !r->dev || now < r->next_check_ns)
		return;
	r->next_check_ns = now + RESOLVER_CHECK_SEC * NSEC_PER_SEC;
	for (size_t i = 0; i < r->n; i++)
		check(r, &r->names[i], now);
}

/* An answer: a new address becomes the peer's endpoint, and a handshake starts. */
static void take(struct resolver *r, struct resolver_name *e, const char *result, uint64_t now)
{
	struct braid_endpoint ep, cur;
	struct braid_peer *peer = braid_device_find_peer(r->dev, e->public_key);

	r->lookups++;
	e->in_flight = false;
	if (strncmp(result, "ok ", 3)) {
		log_verbose("peer %s: cannot resolve it: %s", e->name, result + 6);
		return;
	}
	if (!peer || !uapi_parse_endpoint(&ep, result + 3, strlen(result + 3)))
		return;
	if (braid_peer_get_configured_endpoint(peer, &cur) &&
	    cur.addr.sa.sa_family == ep.addr.sa.sa_family &&
	    !memcmp(&cur.addr, &ep.addr, ep.addr.sa.sa_family == AF_INET ?
		    sizeof(ep.addr.in4) : sizeof(ep.addr.in6))) {
		log_verbose("peer %s: still %s", e->name, result + 3);
		return;
	}
	log_verbose("peer %s: now at %s", e->name, result + 3);
	braid_peer_set_endpoint(peer, &ep);
	braid_peer_initiate_handshake(peer, now);
	e->retry_ns = RESOLVER_RETRY_SEC * NSEC_PER_SEC;
	e->next_try_ns = now + e->retry_ns;
	if (r->changed)
		r->changed(r->ctx);
}

static void on_answer(struct watch *w, uint32_t events)
{
	struct resolver *r = container_of(w, struct resolver, w);
	char msg[MSG_MAX + 1], *space;
	unsigned long seq;
	ssize_t n;

	for (;;) {
		n = read(w->fd, msg, MSG_MAX);
		if (n <= 0)
			break;
		msg[n] = '\0';
		seq = strtoul(msg, &space, 10);
		if (*space != ' ')
			continue;
		for (size_t i = 0; i < r->n; i++)
			if (r->names[i].in_flight && r->names[i].seq == seq)
				take(r, &r->names[i], space + 1, watch_now());
	}
	if (n == 0) {
		log_error("resolver: the resolver process is gone; endpoint names stay as "
			  "resolved");
		close(w->fd);
		w->fd = -1;
	}
}

int resolver_open(struct resolver *r, int epfd, struct braid_device *dev)
{
	r->dev = dev;
	r->w.handle = on_answer;
	return r->w.fd >= 0 ? watch_add(epfd, &r->w, EPOLLIN) : 0;
}
