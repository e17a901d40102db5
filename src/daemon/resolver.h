/* SPDX-License-Identifier: MIT */
/*
 * Endpoints by name: the daemon resolves a peer's endpoint name again when
 * handshakes with that peer keep failing, as wireguard-tools' contrib
 * reresolve-dns.sh does by hand from a timer.
 *
 * Where the lookups happen. The daemon cannot resolve names itself: its
 * seccomp filter forbids opening files (/etc/hosts, resolv.conf,
 * nsswitch.conf, NSS modules), and a blocking getaddrinfo() on the event
 * loop would stall every packet for as long as a DNS server takes. So before
 * the daemon creates anything, it forks a resolver: a process that becomes
 * the daemon's unprivileged user with no capabilities and no_new_privs,
 * keeps no descriptor but one end of a socketpair and stderr, and answers
 * "resolve this name" with a numeric address, one request at a time. It dies
 * with the daemon (the socketpair closes; PR_SET_PDEATHSIG too). Its system
 * calls are not filtered: getaddrinfo's depend on nsswitch.conf and the NSS
 * modules it loads; what stands between a compromised resolver and the host
 * is the user and the missing capabilities, and it holds nothing worth
 * taking (not the TUN device, not the sockets, no key).
 *
 * Which names. `braid up` and `braid set ... endpoint NAME:PORT` resolve the
 * name themselves, send the address as `endpoint=`, and the name as the UAPI
 * extension `braid_endpoint_name=NAME:PORT` (an empty value forgets it; a
 * plain `endpoint=` without it, as wg sends, forgets it too: the user chose
 * an address). `get` reports it back.
 *
 * When. A peer's name is resolved again when braid has sent it something
 * (data, handshake initiations) and heard nothing back for
 * RESOLVER_SILENCE_SEC: longer than a healthy peer ever stays silent while
 * we send (its keepalive comes after 10 s, a new handshake after 15 s,
 * retried every 5 s). While it stays silent, again after
 * RESOLVER_RETRY_SEC, the wait doubling up to RESOLVER_RETRY_MAX_SEC; the
 * first packet heard resets it. A new address becomes the peer's endpoint
 * and a handshake starts at once. A lookup unanswered for 30 s is given up.
 */
#ifndef BRAID_RESOLVER_H
#define BRAID_RESOLVER_H

#include <braid.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "watch.h"

enum {
	RESOLVER_NAME_LEN = 264,		/* a DNS name (253), ':' and a port, a NUL */
	RESOLVER_MAX_NAMES = 1024,
	RESOLVER_CHECK_SEC = 2,
	RESOLVER_SILENCE_SEC = 20,
	RESOLVER_RETRY_SEC = 20,
	RESOLVER_RETRY_MAX_SEC = 300,
};

struct resolver_name {
	uint8_t public_key[BRAID_KEY_LEN];
	char name[RESOLVER_NAME_LEN];
	uint64_t rx_bytes, tx_bytes;	/* at the last check */
	uint64_t heard_ns;		/* when rx_bytes last moved (or the name was set) */
	uint64_t sent_ns;		/* when tx_bytes last moved */
	uint64_t next_try_ns;		/* no new lookup before */
	uint64_t retry_ns;		/* the current wait between lookups */
	uint64_t asked_ns;		/* when the lookup in flight was asked for */
	uint32_t seq;			/* of the lookup in flight */
	bool in_flight;
};

struct resolver {
	struct watch w;			/* our end of the socketpair; fd -1: no resolver */
	pid_t pid;
	struct braid_device *dev;
	void (*changed)(void *ctx);	/* after a call into the device */
	void *ctx;
	struct resolver_name *names;
	size_t n, cap;
	uint64_t next_check_ns;
	uint32_t seq;
	uint64_t lookups;		/* answers received, for the log and tests */
};

/* Is value a name this module takes: "host:port" with a DNS name and a numeric port? */
bool resolver_name_is_valid(const char *value, size_t len);

/*
 * Fork the resolver process; it becomes uid/gid when change_user (else keeps
 * ours) with no capabilities. Before any thread starts. 0 or -errno.
 */
int resolver_start(struct resolver *r, bool change_user, uid_t uid, gid_t gid);
/* Watch the resolver's answers on the loop's epoll set: 0 or -errno. */
int resolver_open(struct resolver *r, int epfd, struct braid_device *dev);
/* Close our end (the resolver then exits); forget every name. */
void resolver_stop(struct resolver *r);

/* Remember (name "" forgets) a peer's endpoint name: 0 or -ENOMEM / -ENOSPC. */
int resolver_set_name(struct resolver *r, const uint8_t key[BRAID_KEY_LEN], const char *name,
		      uint64_t now);
void resolver_forget(struct resolver *r, const uint8_t key[BRAID_KEY_LEN]);
void resolver_forget_all(struct resolver *r);
/* The peer's name, or NULL. */
const char *resolver_name_of(const struct resolver *r, const uint8_t key[BRAID_KEY_LEN]);

/* The next time resolver_expire() has work (BRAID_NEVER without names). */
uint64_t resolver_next_deadline(const struct resolver *r);
/* Look at every named peer; ask for the lookups that are due. */
void resolver_expire(struct resolver *r, uint64_t now);

#endif
