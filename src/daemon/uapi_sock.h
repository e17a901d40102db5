/* SPDX-License-Identifier: MIT */
/*
 * The UAPI socket /var/run/wireguard/IFNAME.sock and its connections. All
 * I/O is non-blocking on the event loop: a client that sends nothing, or one
 * byte a second, holds only its own buffer, and is dropped after
 * UAPI_IDLE_TIMEOUT without progress. Operations run a slice at a time from
 * uapi_sock_expire(), which the loop calls every turn.
 */
#ifndef BRAID_UAPI_SOCK_H
#define BRAID_UAPI_SOCK_H

#include <sys/un.h>

#include "uapi.h"
#include "watch.h"

#define UAPI_SOCKET_DIR "/var/run/wireguard"

enum {
	UAPI_MAX_CLIENTS = 32,
	UAPI_IDLE_TIMEOUT_MS = 5000,
};

struct uapi_client;

struct uapi_server {
	struct watch w;
	int epfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct uapi *uapi;
	struct uapi_client *clients;
	struct uapi_client *committing;	/* whose set is being applied: one at a time */
	unsigned int n_clients;
	/* Called after each operation: the device may have new deadlines or stale state. */
	void (*changed)(void *ctx);
	void *ctx;
};

/* 0 when no live process serves ifname's socket; -EADDRINUSE when one answers. */
int uapi_sock_check(const char *ifname);

/*
 * Create the directory (0755) and the socket (under umask 077), replacing a
 * stale one, and watch it on epfd. 0 or -errno (-EADDRINUSE: a live daemon).
 */
int uapi_sock_listen(struct uapi_server *s, int epfd, const char *ifname, struct uapi *u);

/* Close every connection and the listening socket, and remove the socket file. */
void uapi_sock_close(struct uapi_server *s);

/* 0 while an operation has a slice to run; else when an idle client must go, or BRAID_NEVER. */
uint64_t uapi_sock_next_deadline(const struct uapi_server *s);
/* Run a slice of each operation that may run, and drop the clients idle too long. */
void uapi_sock_expire(struct uapi_server *s, uint64_t now);

#endif
