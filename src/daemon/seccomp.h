/* SPDX-License-Identifier: MIT */
/*
 * System-call filters (seccomp): what the daemon may still call once it is
 * set up, and what its janitor process may (sandbox.c). Anything else kills
 * the process.
 */
#ifndef BRAID_SECCOMP_H
#define BRAID_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>

enum seccomp_profile {
	SECCOMP_PROFILE_DAEMON,
	SECCOMP_PROFILE_JANITOR,
};

enum { SECCOMP_PROG_MAX = 512 };

struct seccomp_prog {
	struct sock_filter insn[SECCOMP_PROG_MAX];
	unsigned short len;
};

/* False when braid does not know this architecture's audit number (no filter possible). */
bool seccomp_is_supported(void);

/*
 * Build the filter for profile. tgid is the only process tgkill may signal
 * (our own, for abort()). log_only: the kernel logs what the filter would
 * kill instead (tests that look for missing system calls). -ENOSYS on an
 * unknown architecture.
 */
int seccomp_build(struct seccomp_prog *p, enum seccomp_profile profile, int tgid, bool log_only);

/*
 * Install the profile's filter on every thread of the process; needs
 * no_new_privs (or CAP_SYS_ADMIN). Irreversible. 0 or -errno.
 */
int seccomp_install(enum seccomp_profile profile, bool log_only);

#endif
