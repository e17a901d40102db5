// SPDX-License-Identifier: MIT
/*
 * UAPI socket server.
 *
 * Each connection buffers its input until a whole operation has arrived
 * (uapi_frame), runs it, and queues the reply. Nothing blocks: reads and
 * writes stop at EAGAIN and resume on the next epoll event. A client that
 * does not read its replies stops being read from once UAPI_OUT_MAX bytes
 * wait for it, so no client can make the daemon's memory grow without bound
 * beyond one request.
 *
 * Input may hold private keys, so buffers are wiped before they are freed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "uapi_sock.h"

enum {
	READ_CHUNK = 65536,
	READS_PER_EVENT = 16,		/* then let other clients and packets run */
	UAPI_OUT_MAX = 1 << 20,
};

struct uapi_client {
	struct watch w;
	struct uapi_server *server;
	struct uapi_client *next;
	char *in;
	size_t in_len, in_cap, scanned;
	struct uapi_buf out;
	size_t out_sent;
	uint64_t deadline;
	bool closing;			/* read nothing more; close once the reply is out */
};

static uint64_t idle_deadline(void)
{
	return watch_now() + UAPI_IDLE_TIMEOUT_MS * NSEC_PER_MSEC;
}

static void client_free(struct uapi_client *c)
{
	struct uapi_server *s = c->server;
	struct uapi_client **p;

	for (p = &s->clients; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	s->n_clients--;
	close(c->w.fd);
	if (c->in) {
		explicit_bzero(c->in, c->in_cap);
		free(c->in);
	}
	uapi_buf_free(&c->out);
	free(c);
}

static size_t out_pending(const struct uapi_client *c)
{
	return c->out.len - c->out_sent;
}

/* Make room for one more read, wiping the old buffer: requests carry keys. */
static bool in_reserve(struct uapi_client *c)
{
	size_t cap = c->in_cap ? c->in_cap : READ_CHUNK;
	char *in;

	if (c->in_cap - c->in_len >= READ_CHUNK)
		return true;
	while (cap - c->in_len < READ_CHUNK)
		cap *= 2;
	in = malloc(cap);
	if (!in)
		return false;
	if (c->in) {
		memcpy(in, c->in, c->in_len);
		explicit_bzero(c->in, c->in_cap);
		free(c->in);
	}
	c->in = in;
	c->in_cap = cap;
	return true;
}

static void consume(struct uapi_client *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	explicit_bzero(c->in + c->in_len - n, n);
	c->in_len -= n;
}

/* Run every complete operation buffered, while the client keeps reading replies. */
static void run_operations(struct uapi_client *c)
{
	struct uapi_server *s = c->server;
	ssize_t n;
	bool keep;

	while (!c->closing && out_pending(c) < UAPI_OUT_MAX) {
		n = uapi_frame(c->in, c->in_len, &c->scanned);
		if (!n)
			break;
		if (n < 0) {
			log_error("UAPI: line or request too long");
			uapi_reply_errno(&c->out, -EPROTO);
			c->closing = true;
			break;
		}
		keep = uapi_execute(s->uapi, watch_now(), c->in, n, &c->out);
		consume(c, n);
		if (s->changed)
			s->changed(s->ctx);
		if (!keep || c->out.failed)
			c->closing = true;
	}
}

/* False when the connection is broken and must go now. */
static bool client_read(struct uapi_client *c)
{
	ssize_t n;

	for (int i = 0; i < READS_PER_EVENT && !c->closing; i++) {
		if (out_pending(c) >= UAPI_OUT_MAX)
			break;
		if (!in_reserve(c))
			return false;
		n = read(c->w.fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (n > 0) {
			c->in_len += n;
			c->deadline = idle_deadline();
			run_operations(c);
			continue;
		}
		if (n == 0) {
			/* The client closed its side inside an operation: answer, apply nothing. */
			if (c->in_len) {
				log_error("UAPI: truncated request");
				uapi_reply_errno(&c->out, -EPROTO);
			}
			c->closing = true;
			break;
		}
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK;
	}
	return true;
}

static bool client_flush(struct uapi_client *c)
{
	ssize_t n;

	while (out_pending(c)) {
		n = send(c->w.fd, c->out.data + c->out_sent, out_pending(c),
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		c->out_sent += n;
		c->deadline = idle_deadline();
	}
	/* All sent: reuse the buffer from its start, wiping what went out. */
	if (c->out.len) {
		explicit_bzero(c->out.data, c->out.len);
		c->out.len = c->out_sent = 0;
	}
	return true;
}

static void client_handle(struct watch *w, uint32_t events)
{
	struct uapi_client *c = container_of(w, struct uapi_client, w);
	bool ok = true;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		ok = client_read(c);
	if (ok)
		ok = client_flush(c);
	/* Replies drained: operations held back by UAPI_OUT_MAX may run now. */
	if (ok && !out_pending(c) && c->in_len) {
		run_operations(c);
		ok = client_flush(c);
	}
	if (!ok || (c->closing && !out_pending(c))) {
		client_free(c);
		return;
	}
	watch_mod(c->server->epfd, &c->w,
		  out_pending(c) ? EPOLLOUT : c->closing ? 0 : EPOLLIN);
}

/*
 * When every slot is taken, the connection that made progress longest ago
 * goes: a pile of idle connections must not lock wg out until they expire.
 */
static void evict_oldest(struct uapi_server *s)
{
	struct uapi_client *c, *oldest = s->clients;

	for (c = s->clients; c; c = c->next)
		if (c->deadline < oldest->deadline)
			oldest = c;
	log_error("UAPI: too many connections; dropping the least active one");
	client_free(oldest);
}

static void accept_one(struct uapi_server *s, int fd)
{
	struct uapi_client *c;

	if (s->n_clients >= UAPI_MAX_CLIENTS)
		evict_oldest(s);
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->w.fd = fd;
	c->w.handle = client_handle;
	c->server = s;
	c->deadline = idle_deadline();
	if (watch_add(s->epfd, &c->w, EPOLLIN)) {
		close(fd);
		free(c);
		return;
	}
	c->next = s->clients;
	s->clients = c;
	s->n_clients++;
}

static void server_handle(struct watch *w, uint32_t events)
{
	struct uapi_server *s = container_of(w, struct uapi_server, w);
	int fd;

	for (;;) {
		fd = accept4(s->w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_error("UAPI: accept: %s", strerror(errno));
			return;
		}
		accept_one(s, fd);
	}
}

static int socket_path(char *path, size_t len, const char *ifname)
{
	int n = snprintf(path, len, "%s/%s.sock", UAPI_SOCKET_DIR, ifname);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int unix_socket(const char *path, struct sockaddr_un *sa)
{
	int fd;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strncpy(sa->sun_path, path, sizeof(sa->sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	return fd;
}

/* A socket is live when something accepts a connection on it. */
static int check_path(const char *path)
{
	struct sockaddr_un sa;
	int fd, ret;

	fd = unix_socket(path, &sa);
	if (fd < 0)
		return fd;
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	/* EAGAIN: the listener's backlog is full, so it is alive. */
	ret = !ret || errno == EAGAIN || errno == EINPROGRESS ? -EADDRINUSE : 0;
	close(fd);
	return ret;
}

int uapi_sock_check(const char *ifname)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int ret = socket_path(path, sizeof(path), ifname);

	return ret ? ret : check_path(path);
}

static int make_dir(void)
{
	if (mkdir(UAPI_SOCKET_DIR, 0755) == 0) {
		/* mkdir honours the umask; the directory must be listable by wg users. */
		chmod(UAPI_SOCKET_DIR, 0755);
		return 0;
	}
	return errno == EEXIST ? 0 : -errno;
}

static int bind_socket(struct uapi_server *s)
{
	struct sockaddr_un sa;
	mode_t old_umask;
	int fd, ret;

	fd = unix_socket(s->path, &sa);
	if (fd < 0)
		return fd;
	/* A stale socket (nothing answers) is replaced. */
	if (unlink(s->path) < 0 && errno != ENOENT) {
		ret = -errno;
		goto fail;
	}
	old_umask = umask(0077);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (ret < 0 || listen(fd, 16) < 0) {
		ret = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return ret;
}

int uapi_sock_listen(struct uapi_server *s, int epfd, const char *ifname, struct uapi *u)
{
	int ret, fd;

	s->w.fd = -1;
	s->epfd = epfd;
	s->uapi = u;
	s->clients = NULL;
	s->n_clients = 0;
	ret = socket_path(s->path, sizeof(s->path), ifname);
	if (!ret)
		ret = make_dir();
	if (!ret)
		ret = check_path(s->path);
	if (ret)
		return ret;
	fd = bind_socket(s);
	if (fd < 0)
		return fd;
	s->w.fd = fd;
	s->w.handle = server_handle;
	ret = watch_add(epfd, &s->w, EPOLLIN);
	if (ret) {
		close(fd);
		unlink(s->path);
		s->w.fd = -1;
	}
	return ret;
}

void uapi_sock_close(struct uapi_server *s)
{
	while (s->clients)
		client_free(s->clients);
	if (s->w.fd >= 0) {
		close(s->w.fd);
		unlink(s->path);
	}
	s->w.fd = -1;
}

uint64_t uapi_sock_next_deadline(const struct uapi_server *s)
{
	uint64_t next = BRAID_NEVER;

	for (const struct uapi_client *c = s->clients; c; c = c->next)
		if (c->deadline < next)
			next = c->deadline;
	return next;
}

void uapi_sock_expire(struct uapi_server *s, uint64_t now)
{
	struct uapi_client *c = s->clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->deadline <= now) {
			log_verbose("UAPI: dropping an idle connection");
			client_free(c);
		}
	}
}
