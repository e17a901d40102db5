// SPDX-License-Identifier: MIT
/*
 * UAPI socket server.
 *
 * Each connection has a session (uapi.h): what it reads is parsed line by
 * line as it arrives, and a complete operation runs a slice at a time, one
 * slice per connection per turn of the event loop (uapi_sock_expire()), so
 * that TUN, UDP and timers take their turns in between however large the
 * operation. One set runs at a time (its slices would otherwise interleave
 * with another's); gets run whenever they have room for their reply. Nothing
 * blocks: reads and writes stop at EAGAIN and resume on the next epoll event.
 * A client that does not read its replies stops being read from (and a get
 * stops being written) once UAPI_REPLY_HIGH bytes wait for it, so no client
 * can make the daemon's memory grow beyond its own operation.
 *
 * A set that has begun to apply is finished even if its client goes away
 * (half a configuration is worse than either); the client's socket is
 * closed at once and the reply dropped.
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
	/* A slice: this many peers applied, removed or written, about a millisecond or two. */
	SLICE_BUDGET = 1024,
};

struct uapi_client {
	struct watch w;
	struct uapi_server *server;
	struct uapi_client *next;
	struct uapi_session *session;
	char *in;
	size_t in_len, in_cap;
	struct uapi_buf out;
	size_t out_sent;
	uint64_t deadline;		/* for its idle timeout, while it is the one to act */
	bool detached;			/* socket gone; its set finishes, the reply is dropped */
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
	if (s->committing == c)
		s->committing = NULL;
	s->n_clients--;
	if (!c->detached)
		close(c->w.fd);
	uapi_session_free(c->session);
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

static bool is_running(const struct uapi_client *c)
{
	return uapi_session_has_op(c->session);
}

/*
 * Whether its operation may run a slice now: room for the reply, and for a
 * set, no other set running.
 */
static bool may_run(const struct uapi_client *c)
{
	const struct uapi_server *s = c->server;

	if (!is_running(c) || (!c->detached && out_pending(c) >= UAPI_REPLY_HIGH))
		return false;
	return !uapi_session_op_is_set(c->session) || !s->committing || s->committing == c;
}

/* The client's socket goes; a set it started still finishes. */
static void detach(struct uapi_client *c)
{
	if (!c->detached) {
		close(c->w.fd);
		c->detached = true;
	}
	uapi_buf_free(&c->out);
	c->out_sent = 0;
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

/* Parse what is buffered, up to an operation to run; false when the connection must close. */
static bool parse_input(struct uapi_client *c)
{
	ssize_t n = uapi_session_feed(c->session, c->in, c->in_len, &c->out);

	if (n < 0)
		return false;
	consume(c, n);
	return !c->out.failed;
}

static bool wants_input(const struct uapi_client *c)
{
	return !c->detached && !is_running(c) && uapi_session_keep(c->session) &&
	       out_pending(c) < UAPI_REPLY_HIGH;
}

/* False when the connection is broken and must go now. */
static bool client_read(struct uapi_client *c)
{
	ssize_t n;

	for (int i = 0; i < READS_PER_EVENT && wants_input(c); i++) {
		if (!in_reserve(c))
			return false;
		n = read(c->w.fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (n > 0) {
			c->in_len += n;
			c->deadline = idle_deadline();
			parse_input(c);
			continue;
		}
		if (n == 0) {
			/* The client closed its side: an operation it cut off is answered, not applied. */
			uapi_session_end(c->session, c->in_len, &c->out);
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

	if (c->detached)
		return true;
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

/* After anything happened to c: drop it, or watch what it waits for. False: it is gone. */
static bool client_settle(struct uapi_client *c, bool ok)
{
	bool done = !is_running(c) && !uapi_session_keep(c->session);

	if (ok && c->out.failed)
		ok = false;
	if (!ok && is_running(c) && uapi_session_op_is_set(c->session)) {
		detach(c);
		return true;
	}
	if (!ok || (c->detached && !is_running(c)) || (done && !out_pending(c))) {
		client_free(c);
		return false;
	}
	if (!c->detached)
		watch_mod(c->server->epfd, &c->w,
			  (out_pending(c) ? EPOLLOUT : 0) | (wants_input(c) ? EPOLLIN : 0));
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
	/* Replies drained: operations held back may be read and parsed now. */
	if (ok && !out_pending(c) && c->in_len && !is_running(c))
		ok = parse_input(c);
	/* A hang-up with nothing more to read: nothing can be sent either. */
	if (ok && (events & (EPOLLHUP | EPOLLERR)) && !wants_input(c) && !c->detached)
		ok = false;
	client_settle(c, ok);
}

/* One slice of c's operation, then what it leads to. */
static void client_step(struct uapi_client *c, uint64_t now)
{
	struct uapi_server *s = c->server;
	bool ok = true;

	if (uapi_session_op_is_set(c->session))
		s->committing = c;
	if (uapi_session_run(c->session, now, &c->out, SLICE_BUDGET)) {
		if (s->committing == c)
			s->committing = NULL;
		c->deadline = idle_deadline();
		if (!c->detached)
			ok = parse_input(c);
	}
	if (s->changed)
		s->changed(s->ctx);
	if (ok)
		ok = client_flush(c);
	client_settle(c, ok);
}

/*
 * When every slot is taken, the connection that made progress longest ago
 * goes: a pile of idle connections must not lock wg out until they expire.
 * One whose operation runs stays; if all do, the newcomer is refused.
 */
static bool evict_oldest(struct uapi_server *s)
{
	struct uapi_client *c, *oldest = NULL;

	for (c = s->clients; c; c = c->next)
		if (!is_running(c) && (!oldest || c->deadline < oldest->deadline))
			oldest = c;
	if (!oldest)
		return false;
	log_error("UAPI: too many connections; dropping the least active one");
	client_free(oldest);
	return true;
}

static void accept_one(struct uapi_server *s, int fd)
{
	struct uapi_client *c;

	if (s->n_clients >= UAPI_MAX_CLIENTS && !evict_oldest(s)) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->session = uapi_session_new(s->uapi);
	if (!c || !c->session) {
		free(c);
		close(fd);
		return;
	}
	c->w.fd = fd;
	c->w.handle = client_handle;
	c->server = s;
	c->deadline = idle_deadline();
	if (watch_add(s->epfd, &c->w, EPOLLIN)) {
		close(fd);
		uapi_session_free(c->session);
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
	s->committing = NULL;
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

/*
 * Whether the client is the one that must act: one that sends nothing, or
 * does not read its replies; not one whose operation waits for another set.
 */
static bool may_idle(const struct uapi_client *c)
{
	return !c->detached && (!is_running(c) || out_pending(c) >= UAPI_REPLY_HIGH);
}

uint64_t uapi_sock_next_deadline(const struct uapi_server *s)
{
	uint64_t next = BRAID_NEVER;

	for (const struct uapi_client *c = s->clients; c; c = c->next) {
		/* Work to do: no sleeping. */
		if (may_run(c))
			return 0;
		if (may_idle(c) && c->deadline < next)
			next = c->deadline;
	}
	return next;
}

void uapi_sock_expire(struct uapi_server *s, uint64_t now)
{
	struct uapi_client *c = s->clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (may_run(c)) {
			client_step(c, now);
		} else if (may_idle(c) && c->deadline <= now) {
			log_verbose("UAPI: dropping an idle connection");
			client_settle(c, false);
		}
	}
}
