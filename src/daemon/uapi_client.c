// SPDX-License-Identifier: MIT
/* The client side of the UAPI socket (see uapi_client.h). */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "uapi_client.h"
#include "uapi_sock.h"

enum { REPLY_MAX = 64 << 20 };

static bool reserve(struct uapi_request *r, size_t more)
{
	size_t cap = r->cap ? r->cap : 512;
	char *grown;

	if (r->failed)
		return false;
	if (r->len + more + 1 <= r->cap)
		return true;
	while (cap < r->len + more + 1)
		cap *= 2;
	/* Not realloc: the old buffer may hold a key, and must be wiped. */
	grown = malloc(cap);
	if (!grown) {
		r->failed = true;
		return false;
	}
	if (r->buf) {
		memcpy(grown, r->buf, r->len + 1);
		explicit_bzero(r->buf, r->cap);
		free(r->buf);
	}
	r->buf = grown;
	r->cap = cap;
	return true;
}

void uapi_request_line(struct uapi_request *r, const char *line)
{
	size_t n = strlen(line);

	if (!reserve(r, n + 1))
		return;
	memcpy(r->buf + r->len, line, n);
	r->buf[r->len + n] = '\n';
	r->len += n + 1;
	r->buf[r->len] = '\0';
}

void uapi_request_add(struct uapi_request *r, const char *key, const char *fmt, ...)
{
	char value[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(value) || !reserve(r, strlen(key) + (size_t)n + 2)) {
		r->failed = true;
	} else {
		r->len += (size_t)sprintf(r->buf + r->len, "%s=%s\n", key, value);
	}
	explicit_bzero(value, sizeof(value));
}

void uapi_request_free(struct uapi_request *r)
{
	if (r->buf) {
		explicit_bzero(r->buf, r->cap);
		free(r->buf);
	}
	*r = (struct uapi_request){ 0 };
}

int uapi_client_connect(const char *ifname)
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
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

bool uapi_client_is_up(const char *ifname)
{
	int fd = uapi_client_connect(ifname);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Has the reply reached the empty line after its last errno=? */
static bool reply_complete(const char *reply, size_t len)
{
	return len >= 2 && !memcmp(reply + len - 2, "\n\n", 2) && strstr(reply, "errno=");
}

char *uapi_client_transact(const char *ifname, const char *request)
{
	size_t len = 0, cap = 4096;
	char *reply = malloc(cap), *grown;
	int fd = uapi_client_connect(ifname), err;
	ssize_t n;

	if (fd < 0 || !reply || !write_all(fd, request, strlen(request))) {
		err = fd < 0 ? errno : reply ? errno : ENOMEM;
		free(reply);
		if (fd >= 0)
			close(fd);
		errno = err;
		return NULL;
	}
	reply[0] = '\0';
	while (!reply_complete(reply, len) && len < REPLY_MAX) {
		if (cap - len < 4096) {
			grown = malloc(cap * 2);
			if (!grown)
				break;
			memcpy(grown, reply, len + 1);
			explicit_bzero(reply, cap);
			free(reply);
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
	}
	close(fd);
	return reply;
}

int uapi_client_errno(const char *reply)
{
	const char *e = NULL, *s = reply;

	/* The last errno= line: a reply to several operations has one each. */
	while (s && (s = strstr(s, "errno="))) {
		if (s == reply || s[-1] == '\n')
			e = s;
		s += 6;
	}
	return e ? atoi(e + 6) : -EPROTO;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *uapi_client_list(size_t *n)
{
	char *names[256], *out = NULL, *p;
	size_t count = 0, total = 0;
	struct dirent *de;
	DIR *dir = opendir(UAPI_SOCKET_DIR);

	*n = 0;
	if (!dir)
		return NULL;
	while ((de = readdir(dir)) && count < 256) {
		size_t len = strlen(de->d_name);

		if (len <= 5 || strcmp(de->d_name + len - 5, ".sock"))
			continue;
		names[count] = strndup(de->d_name, len - 5);
		if (names[count])
			total += len - 4, count++;
	}
	closedir(dir);
	qsort(names, count, sizeof(*names), by_name);
	if (count && (out = malloc(total)))
		for (size_t i = 0, off = 0; i < count; i++) {
			p = stpcpy(out + off, names[i]);
			off = (size_t)(p - out) + 1;
		}
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	*n = out ? count : 0;
	return out;
}
