/* SPDX-License-Identifier: MIT */
/*
 * Least privilege for the daemon. Once the TUN device, the UDP sockets and
 * the UAPI socket are open, braid becomes an unprivileged user (BRAID_USER
 * or --user; "nobody" by default when started as root) that keeps only
 * CAP_NET_ADMIN (SO_MARK for fwmark, SO_RCVBUFFORCE on new sockets) and
 * CAP_NET_BIND_SERVICE (a listen port below 1024), sets no_new_privs, and
 * runs under a seccomp filter of the system calls it still makes. A small
 * janitor process stays behind with uid 0 and no capabilities, only to
 * remove the UAPI socket when the daemon is gone: the daemon can no longer
 * write to /var/run/wireguard. BRAID_SANDBOX=0 or --no-sandbox turns all of
 * this off, as sanitizer builds (SAN=1) need: their run-time libraries make
 * system calls of their own, at exit in particular.
 */
#ifndef BRAID_SANDBOX_H
#define BRAID_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Present on every Debian system (base-passwd: uid 65534, group nogroup) and
 * owning no files. Other services may run as nobody too, which could then
 * signal braid (ptrace is refused: braid holds capabilities they lack, and is
 * not dumpable); a host that cares creates a system user for braid
 * (`adduser --system --group braid`) and sets BRAID_USER=braid.
 */
#define SANDBOX_DEFAULT_USER "nobody"

struct sandbox {
	bool is_enabled;
	bool change_user;	/* false when started unprivileged: keep our uid */
	bool log_only;		/* test builds: the kernel logs what the filter would kill */
	uid_t uid;
	gid_t gid;
	const char *user;
	pid_t janitor;		/* 0 when there is none */
	int janitor_fd;		/* our end of its pipe; -1 when none */
};

/*
 * Before anything is created: resolve the user (NULL: the default when
 * root, our own user otherwise). 0, or -errno after logging why.
 */
int sandbox_prepare(struct sandbox *sb, bool enable, const char *user);

/*
 * Once set up, before serving: start the janitor for uapi_path (the socket
 * file it will remove), drop privileges, install the filter. Threads
 * started before it end up as unprivileged as the rest, those started after
 * it inherit it all (seccomp.c allows making threads); threads before it
 * and no user change (started unprivileged) is refused. 0, or -errno after
 * logging why (then exit: the process may be half-way).
 */
int sandbox_enter(struct sandbox *sb, const char *uapi_path);

/* At exit, after the UAPI socket is closed: let the janitor remove it, and wait until it has. */
void sandbox_finish(struct sandbox *sb);

#ifdef BRAID_TEST_HOOKS
/* Test builds: BRAID_TEST_FORBIDDEN_SYSCALL=1 makes the daemon open "/" now. */
void sandbox_test_hooks(void);
#endif

#endif
