// SPDX-License-Identifier: MIT
/*
 * Seccomp filters in classic BPF.
 *
 * A filter first checks the architecture: a system call of another ABI (an
 * i386 `int 0x80` or an x32 call from an x86_64 process) has other numbers
 * and would slip past a list meant for the native one. Then one test per
 * allowed system call; anything else meets the default action,
 * SECCOMP_RET_KILL_PROCESS: the daemon dies of SIGSYS rather than go on
 * doing what it never does. A few calls are allowed only with safe
 * arguments:
 *  - ioctl: only the requests braid makes (not TIOCSTI into a terminal);
 *  - mmap, mprotect: never PROT_EXEC, so no new executable code;
 *  - socket: IPv4 and IPv6 only (new UDP sockets for a listen-port change;
 *    not a fresh rtnetlink socket to reconfigure the host with). Other
 *    families fail with EAFNOSUPPORT rather than kill: glibc's
 *    if_nametoindex() tries AF_UNIX first, then falls back to AF_INET;
 *  - tgkill: only to this process, which is what abort() does;
 *  - clone: threads only (CLONE_THREAD), no new process. clone3 keeps its
 *    flags in memory, out of a filter's sight: it fails with ENOSYS, and
 *    glibc's pthread_create() falls back to clone.
 * unlink fails with EACCES instead: the daemon closing its UAPI socket tries
 * to remove it, which the janitor process does for it (sandbox.c).
 *
 * Why not libseccomp: what the library does best (several ABIs in one
 * process, 64-bit argument comparisons, names resolved at run time) is not
 * needed here, and a flat list with five argument checks is about as long
 * in BPF as in the library's calls. The kernel (5.11+) caches the verdict
 * of system calls allowed whatever their arguments, so the packet path
 * does not run the filter at all.
 *
 * The lists follow the code of src/linux and src/daemon after setup (and
 * what glibc and libcrypto do for it), checked with strace and with the
 * whole namespace test suite run in log-only mode. A new system call
 * on the run-time path belongs here, or the daemon dies with SIGSYS on its
 * first use: tests/netns/privilege.sh says how to find one.
 */
#include <endian.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp.h"

#if defined(__x86_64__) && !defined(__ILP32__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__i386__)
#define NATIVE_ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__) && __BYTE_ORDER == __LITTLE_ENDIAN
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__arm__) && __BYTE_ORDER == __LITTLE_ENDIAN
#define NATIVE_ARCH AUDIT_ARCH_ARM
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH AUDIT_ARCH_RISCV64
#elif defined(__powerpc64__) && __BYTE_ORDER == __LITTLE_ENDIAN
#define NATIVE_ARCH AUDIT_ARCH_PPC64LE
#elif defined(__s390x__)
#define NATIVE_ARCH AUDIT_ARCH_S390X
#endif

/* s390 passes clone's flags second (the kernel's CLONE_BACKWARDS2). */
#ifdef __s390x__
#define CLONE_FLAGS_ARG 1
#else
#define CLONE_FLAGS_ARG 0
#endif

/* The low 32 bits of argument i: ioctl requests, prot and clone flags, families, pids all fit. */
#if __BYTE_ORDER == __LITTLE_ENDIAN
#define ARG_LO(i) (offsetof(struct seccomp_data, args[i]))
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args[i]) + 4)
#endif

enum verdict {
	ALLOW,
	ALLOW_IOCTLS,		/* request in the profile's list */
	ALLOW_NO_EXEC,		/* prot (argument 2) without PROT_EXEC */
	ALLOW_INET,		/* domain (argument 0) AF_INET or AF_INET6, else EAFNOSUPPORT */
	ALLOW_OWN_TGID,		/* tgid (argument 0) is ours */
	ALLOW_THREAD,		/* clone flags with CLONE_THREAD */
	FAIL_EACCES,
	FAIL_ENOSYS,
};

struct rule {
	long nr;
	enum verdict verdict;
};

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif

/* After setup: the packet path first, then the UAPI, rebinding, threads, memory, exit. */
static const struct rule daemon_rules[] = {
	{ __NR_read, ALLOW },			/* TUN, timerfd, signalfd, UAPI clients */
	{ __NR_writev, ALLOW },			/* TUN (vnet_hdr + packet) */
	{ __NR_recvmmsg, ALLOW },
	{ __NR_sendmmsg, ALLOW },
#ifdef __NR_recvmmsg_time64
	{ __NR_recvmmsg_time64, ALLOW },
#endif
#ifdef __NR_epoll_wait
	{ __NR_epoll_wait, ALLOW },
#endif
	{ __NR_epoll_pwait, ALLOW },		/* epoll_wait() where the ABI has no epoll_wait */
	{ __NR_epoll_ctl, ALLOW },
	{ __NR_timerfd_settime, ALLOW },
#ifdef __NR_timerfd_settime64
	{ __NR_timerfd_settime64, ALLOW },
#endif
	{ __NR_clock_gettime, ALLOW },		/* when the vDSO cannot answer */
#ifdef __NR_clock_gettime64
	{ __NR_clock_gettime64, ALLOW },
#endif
	{ __NR_getrandom, ALLOW },		/* ephemeral keys, indices, cookie secrets */
	{ __NR_write, ALLOW },			/* the log on stderr */
	{ __NR_recvmsg, ALLOW },		/* rtnetlink notifications */
	{ __NR_accept4, ALLOW },		/* UAPI */
	{ __NR_sendto, ALLOW },			/* UAPI replies: send() */
#ifdef __NR_send
	{ __NR_send, ALLOW },
#endif
	{ __NR_close, ALLOW },
	/* New UDP sockets on a listen-port change; the MTU through an ifreq socket. */
	{ __NR_socket, ALLOW_INET },
	{ __NR_setsockopt, ALLOW },
	{ __NR_bind, ALLOW },
	{ __NR_getsockname, ALLOW },
	{ __NR_ioctl, ALLOW_IOCTLS },
#ifdef __NR_socketcall
	{ __NR_socketcall, ALLOW },		/* i386: every socket call may come this way */
#endif
	/* Crypto worker threads (src/linux/workers.c), if started after the sandbox. */
	{ __NR_clone, ALLOW_THREAD },
#ifdef __NR_clone3
	{ __NR_clone3, FAIL_ENOSYS },
#endif
	{ __NR_set_robust_list, ALLOW },
#ifdef __NR_rseq
	{ __NR_rseq, ALLOW },
#endif
	/* malloc and free; thread stacks. */
	{ __NR_brk, ALLOW },
#ifdef __NR_mmap
	{ __NR_mmap, ALLOW_NO_EXEC },
#endif
#ifdef __NR_mmap2
	{ __NR_mmap2, ALLOW_NO_EXEC },
#endif
	{ __NR_mprotect, ALLOW_NO_EXEC },
	{ __NR_munmap, ALLOW },
	{ __NR_mremap, ALLOW },
	{ __NR_madvise, ALLOW },
	/* pthread_once() wakes waiters after each first run, as in libcrypto's lazy set-ups. */
	{ __NR_futex, ALLOW },
#ifdef __NR_futex_time64
	{ __NR_futex_time64, ALLOW },
#endif
	/* stdin, and stdout/stderr when silent, to /dev/null after start-up. */
#ifdef __NR_dup2
	{ __NR_dup2, ALLOW },
#endif
	{ __NR_dup3, ALLOW },
	/* The UAPI socket's removal at exit: the janitor's job. */
#ifdef __NR_unlink
	{ __NR_unlink, FAIL_EACCES },
#endif
	{ __NR_unlinkat, FAIL_EACCES },
	{ __NR_wait4, ALLOW },			/* the janitor, at exit */
	{ __NR_exit_group, ALLOW },
	{ __NR_exit, ALLOW },
	{ __NR_restart_syscall, ALLOW },
	{ __NR_rt_sigreturn, ALLOW },
#ifdef __NR_sigreturn
	{ __NR_sigreturn, ALLOW },
#endif
	/* abort() on a bug: a core dump rather than SIGSYS. */
	{ __NR_getpid, ALLOW },
	{ __NR_gettid, ALLOW },
	{ __NR_rt_sigprocmask, ALLOW },
	{ __NR_rt_sigaction, ALLOW },
	{ __NR_tgkill, ALLOW_OWN_TGID },
#ifdef ASAN_BUILD
	/* ASan's runtime, in make SAN=1 builds only: CPU counts and per-thread signal stacks. */
	{ __NR_sched_getaffinity, ALLOW },
	{ __NR_sigaltstack, ALLOW },
#endif
};

static const unsigned int daemon_ioctls[] = {
	TUNGETIFF,		/* has the interface been deleted? */
	SIOCGIFMTU,		/* the MTU, after lost link notifications */
	SIOCGIFINDEX,		/* UAPI endpoints with a zone: if_nametoindex() */
	SIOCGIFNAME,		/* and if_indextoname() */
};

/* The janitor waits on a pipe, then removes one file (if it is still ours) and logs. */
static const struct rule janitor_rules[] = {
	{ __NR_read, ALLOW },
	{ __NR_write, ALLOW },
#ifdef __NR_newfstatat
	{ __NR_newfstatat, ALLOW },
#endif
#ifdef __NR_fstatat64
	{ __NR_fstatat64, ALLOW },
#endif
#ifdef __NR_lstat
	{ __NR_lstat, ALLOW },
#endif
#ifdef __NR_statx
	{ __NR_statx, ALLOW },
#endif
#ifdef __NR_unlink
	{ __NR_unlink, ALLOW },
#endif
	{ __NR_unlinkat, ALLOW },
	{ __NR_clock_gettime, ALLOW },
#ifdef __NR_clock_gettime64
	{ __NR_clock_gettime64, ALLOW },
#endif
	{ __NR_exit_group, ALLOW },
	{ __NR_exit, ALLOW },
	{ __NR_restart_syscall, ALLOW },
	{ __NR_rt_sigreturn, ALLOW },
#ifdef __NR_sigreturn
	{ __NR_sigreturn, ALLOW },
#endif
	{ __NR_getpid, ALLOW },
	{ __NR_gettid, ALLOW },
	{ __NR_rt_sigprocmask, ALLOW },
	{ __NR_rt_sigaction, ALLOW },
	{ __NR_tgkill, ALLOW_OWN_TGID },
#ifdef ASAN_BUILD
	/* ASan's runtime, in make SAN=1 builds only: CPU counts and per-thread signal stacks. */
	{ __NR_sched_getaffinity, ALLOW },
	{ __NR_sigaltstack, ALLOW },
#endif
};

struct profile {
	const struct rule *rules;
	size_t n_rules;
	const unsigned int *ioctls;
	size_t n_ioctls;
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct profile profiles[] = {
	[SECCOMP_PROFILE_DAEMON] = { daemon_rules, ARRAY_LEN(daemon_rules),
				     daemon_ioctls, ARRAY_LEN(daemon_ioctls) },
	[SECCOMP_PROFILE_JANITOR] = { janitor_rules, ARRAY_LEN(janitor_rules), NULL, 0 },
};

struct builder {
	struct seccomp_prog *p;
	uint32_t deny;			/* the default action */
	int tgid;
	const struct profile *profile;
	bool overflow;
};

static void emit(struct builder *b, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
	if (b->p->len == SECCOMP_PROG_MAX) {
		b->overflow = true;
		return;
	}
	b->p->insn[b->p->len++] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
}

static void ret(struct builder *b, uint32_t action)
{
	emit(b, BPF_RET | BPF_K, action, 0, 0);
}

static void load(struct builder *b, uint32_t offset)
{
	emit(b, BPF_LD | BPF_W | BPF_ABS, offset, 0, 0);
}

/* Allow when the low word of an argument is one of values[]; otherwise, the action given. */
static void allow_values(struct builder *b, unsigned int arg, const unsigned int *values,
			 size_t n, uint32_t otherwise)
{
	load(b, ARG_LO(arg));
	for (size_t i = 0; i < n; i++)
		emit(b, BPF_JMP | BPF_JEQ | BPF_K, values[i], (uint8_t)(n - i), 0);
	ret(b, otherwise);
	ret(b, SECCOMP_RET_ALLOW);
}

/* The instructions that decide a call already known to be rule r's; each ends in a return. */
static void verdict(struct builder *b, const struct rule *r)
{
	static const unsigned int inet[] = { AF_INET, AF_INET6 };
	unsigned int tgid = (unsigned int)b->tgid;

	switch (r->verdict) {
	case ALLOW:
		ret(b, SECCOMP_RET_ALLOW);
		break;
	case ALLOW_IOCTLS:
		allow_values(b, 1, b->profile->ioctls, b->profile->n_ioctls, b->deny);
		break;
	case ALLOW_NO_EXEC:
		load(b, ARG_LO(2));
		emit(b, BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1);
		ret(b, b->deny);
		ret(b, SECCOMP_RET_ALLOW);
		break;
	case ALLOW_THREAD:
		load(b, ARG_LO(CLONE_FLAGS_ARG));
		emit(b, BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 1, 0);
		ret(b, b->deny);
		ret(b, SECCOMP_RET_ALLOW);
		break;
	case ALLOW_INET:
		allow_values(b, 0, inet, 2, SECCOMP_RET_ERRNO | EAFNOSUPPORT);
		break;
	case ALLOW_OWN_TGID:
		allow_values(b, 0, &tgid, 1, b->deny);
		break;
	case FAIL_EACCES:
		ret(b, SECCOMP_RET_ERRNO | EACCES);
		break;
	case FAIL_ENOSYS:
		ret(b, SECCOMP_RET_ERRNO | ENOSYS);
		break;
	}
}

/* A = the system call number on entry; a call that is not r's skips r's instructions. */
static void rule(struct builder *b, const struct rule *r)
{
	unsigned short at = b->p->len;
	unsigned int skip;

	emit(b, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)r->nr, 0, 0);
	verdict(b, r);
	skip = b->p->len - at - 1;
	if (skip > 255)
		b->overflow = true;
	else if (!b->overflow)
		b->p->insn[at].jf = (uint8_t)skip;
}

bool seccomp_is_supported(void)
{
#ifdef NATIVE_ARCH
	return true;
#else
	return false;
#endif
}

int seccomp_build(struct seccomp_prog *p, enum seccomp_profile profile, int tgid, bool log_only)
{
#ifdef NATIVE_ARCH
	struct builder b = {
		.p = p,
		.deny = log_only ? SECCOMP_RET_LOG : SECCOMP_RET_KILL_PROCESS,
		.tgid = tgid,
		.profile = &profiles[profile],
	};

	p->len = 0;
	load(&b, offsetof(struct seccomp_data, arch));
	emit(&b, BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0);
	ret(&b, SECCOMP_RET_KILL_PROCESS);
	load(&b, offsetof(struct seccomp_data, nr));
#ifdef __X32_SYSCALL_BIT
	/* x32 calls share the x86_64 audit number and differ by this bit. */
	emit(&b, BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 1);
	ret(&b, SECCOMP_RET_KILL_PROCESS);
#endif
	for (size_t i = 0; i < b.profile->n_rules; i++)
		rule(&b, &b.profile->rules[i]);
	ret(&b, b.deny);
	return b.overflow ? -E2BIG : 0;
#else
	return -ENOSYS;
#endif
}

int seccomp_install(enum seccomp_profile profile, bool log_only)
{
	static struct seccomp_prog p;
	struct sock_fprog prog;
	long r;
	int ret;

	ret = seccomp_build(&p, profile, getpid(), log_only);
	if (ret)
		return ret;
	prog = (struct sock_fprog){ .len = p.len, .filter = p.insn };
	/* TSYNC: threads started before now get the filter too (or this fails). */
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
	if (r < 0)
		return -errno;
	return r > 0 ? -EBUSY : 0;
}
