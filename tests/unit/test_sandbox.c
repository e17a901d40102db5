// SPDX-License-Identifier: MIT
/*
 * The sandbox's parts that need no daemon (src/daemon/seccomp.c, privilege.c):
 *  - the seccomp programs, run through a small classic-BPF interpreter on
 *    made-up system calls: other ABIs killed, each argument check both ways,
 *    the default action, every jump inside the program;
 *  - the daemon's filter installed for real in a child process: allowed
 *    calls work, unlink fails with EACCES, if_nametoindex() gets past the
 *    refused AF_UNIX socket, openat kills it with SIGSYS;
 *  - threads: made under the filter (clone with CLONE_THREAD only), and
 *    started before privilege_drop(), which must leave them nothing;
 *  - privilege_drop() in a child, when the tests run as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "privilege.h"
#include "seccomp.h"

#define OWN_TGID 4242
#define KILL SECCOMP_RET_KILL_PROCESS
#define ALLOW SECCOMP_RET_ALLOW

/* Just the instructions seccomp.c emits; anything else fails the test. */
static uint32_t run(const struct seccomp_prog *p, const struct seccomp_data *d)
{
	const uint8_t *data = (const uint8_t *)d;
	uint32_t a = 0;

	for (unsigned int pc = 0; pc < p->len; pc++) {
		const struct sock_filter *f = &p->insn[pc];

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			assert_true(f->k + 4 <= sizeof(*d));
			memcpy(&a, data + f->k, 4);
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += a >= f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += a & f->k ? f->jt : f->jf;
			break;
		case BPF_RET | BPF_K:
			return f->k;
		default:
			fail_msg("instruction %u: unexpected code 0x%x", pc, f->code);
		}
	}
	fail_msg("ran off the end of the program");
	return 0;
}

static uint32_t call(const struct seccomp_prog *p, long nr, uint64_t a0, uint64_t a1,
		     uint64_t a2)
{
	/* The native audit number is the one the first comparison accepts. */
	struct seccomp_data d = {
		.nr = (int)nr,
		.arch = p->insn[1].k,
		.args = { a0, a1, a2 },
	};

	return run(p, &d);
}

static void build(struct seccomp_prog *p, enum seccomp_profile profile, bool log_only)
{
	assert_int_equal(seccomp_build(p, profile, OWN_TGID, log_only), 0);
	assert_true(p->len > 4);
}

static void test_every_jump_lands_inside(void **state)
{
	static struct seccomp_prog p;

	for (int profile = 0; profile < 2; profile++) {
		build(&p, profile, false);
		for (unsigned int pc = 0; pc < p.len; pc++) {
			const struct sock_filter *f = &p.insn[pc];

			if (BPF_CLASS(f->code) == BPF_JMP) {
				assert_true(pc + 1 + f->jt < p.len);
				assert_true(pc + 1 + f->jf < p.len);
			}
		}
		assert_int_equal(p.insn[p.len - 1].code, BPF_RET | BPF_K);
	}
}

static void test_other_abis_are_killed(void **state)
{
	static struct seccomp_prog p;
	struct seccomp_data d = { .nr = __NR_read };

	build(&p, SECCOMP_PROFILE_DAEMON, true);
	d.arch = p.insn[1].k ^ 1;
	assert_int_equal(run(&p, &d), KILL);
	d.arch = AUDIT_ARCH_I386 == p.insn[1].k ? AUDIT_ARCH_X86_64 : AUDIT_ARCH_I386;
	assert_int_equal(run(&p, &d), KILL);
#ifdef __X32_SYSCALL_BIT
	d.arch = p.insn[1].k;
	d.nr = __X32_SYSCALL_BIT | __NR_read;
	assert_int_equal(run(&p, &d), KILL);
#endif
}

static void test_daemon_profile(void **state)
{
	static struct seccomp_prog p;

	build(&p, SECCOMP_PROFILE_DAEMON, false);
	/* 1 */ assert_int_equal(call(&p, __NR_read, 0, 0, 0), ALLOW);
	/* 2 */ assert_int_equal(call(&p, __NR_sendmmsg, 0, 0, 0), ALLOW);
	/* 3 */ assert_int_equal(call(&p, __NR_recvmmsg, 0, 0, 0), ALLOW);
	/* 4 */ assert_int_equal(call(&p, __NR_openat, 0, 0, 0), KILL);
	/* 5 */ assert_int_equal(call(&p, __NR_execve, 0, 0, 0), KILL);
	/* 6 */ assert_int_equal(call(&p, __NR_ptrace, 0, 0, 0), KILL);
	/* 7 */ assert_int_equal(call(&p, __NR_prctl, 0, 0, 0), KILL);
	/* 8 */ assert_int_equal(call(&p, __NR_ioctl, 3, TUNGETIFF, 0), ALLOW);
	/* 9 */ assert_int_equal(call(&p, __NR_ioctl, 3, SIOCGIFMTU, 0), ALLOW);
	assert_int_equal(call(&p, __NR_ioctl, 3, SIOCGIFINDEX, 0), ALLOW);
	assert_int_equal(call(&p, __NR_ioctl, 3, SIOCSIFMTU, 0), KILL);
	/* 10: the kernel truncates the request to 32 bits, and so does the check. */
	assert_int_equal(call(&p, __NR_ioctl, 3, (1ULL << 32) | TUNGETIFF, 0), ALLOW);
	/* 11 */ assert_int_equal(call(&p, __NR_ioctl, 0, TIOCSTI, 0), KILL);
	/* 12 */ assert_int_equal(call(&p, __NR_ioctl, 3, TUNSETIFF, 0), KILL);
	/* 13 */ assert_int_equal(call(&p, __NR_socket, AF_INET, SOCK_DGRAM, 0), ALLOW);
	/* 14 */ assert_int_equal(call(&p, __NR_socket, AF_INET6, SOCK_DGRAM, 0), ALLOW);
	/* 15-17: refused, not killed, so that glibc's if_nametoindex() falls back to AF_INET. */
	assert_int_equal(call(&p, __NR_socket, AF_NETLINK, SOCK_RAW, 0),
			 SECCOMP_RET_ERRNO | EAFNOSUPPORT);
	assert_int_equal(call(&p, __NR_socket, AF_PACKET, SOCK_RAW, 0),
			 SECCOMP_RET_ERRNO | EAFNOSUPPORT);
	assert_int_equal(call(&p, __NR_socket, AF_UNIX, SOCK_DGRAM, 0),
			 SECCOMP_RET_ERRNO | EAFNOSUPPORT);
#ifdef __NR_mmap
	/* 18 */ assert_int_equal(call(&p, __NR_mmap, 0, 4096, PROT_READ | PROT_WRITE), ALLOW);
	/* 19 */ assert_int_equal(call(&p, __NR_mmap, 0, 4096, PROT_READ | PROT_EXEC), KILL);
#endif
	/* 20 */ assert_int_equal(call(&p, __NR_mprotect, 0, 4096, PROT_READ), ALLOW);
	/* 21 */ assert_int_equal(call(&p, __NR_mprotect, 0, 4096, PROT_EXEC), KILL);
	/* 22 */ assert_int_equal(call(&p, __NR_tgkill, OWN_TGID, OWN_TGID, SIGABRT), ALLOW);
	/* 23 */ assert_int_equal(call(&p, __NR_tgkill, 1, 1, SIGKILL), KILL);
	/* 24 */ assert_int_equal(call(&p, __NR_unlinkat, 0, 0, 0), SECCOMP_RET_ERRNO | EACCES);
	/* 25 */ assert_int_equal(call(&p, __NR_kill, 1, SIGKILL, 0), KILL);
	/* 26 */ assert_int_equal(call(&p, __NR_setresuid, 0, 0, 0), KILL);
	/* 27 */ assert_int_equal(call(&p, __NR_capset, 0, 0, 0), KILL);
#ifndef __s390x__
	/* 28: pthread_create()'s flags */
	assert_int_equal(call(&p, __NR_clone, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
			      CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
			      CLONE_CHILD_CLEARTID, 0, 0), ALLOW);
	/* 29: fork() */
	assert_int_equal(call(&p, __NR_clone, CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD,
			      0, 0), KILL);
#endif
#ifdef __NR_clone3
	/* 30 */ assert_int_equal(call(&p, __NR_clone3, 0, 0, 0), SECCOMP_RET_ERRNO | ENOSYS);
#endif
#ifdef __NR_fork
	/* 31 */ assert_int_equal(call(&p, __NR_fork, 0, 0, 0), KILL);
#endif
}

static void test_janitor_profile(void **state)
{
	static struct seccomp_prog p;

	build(&p, SECCOMP_PROFILE_JANITOR, false);
	assert_int_equal(call(&p, __NR_read, 3, 0, 1), ALLOW);
	assert_int_equal(call(&p, __NR_unlinkat, 0, 0, 0), ALLOW);
	assert_int_equal(call(&p, __NR_socket, AF_INET, SOCK_DGRAM, 0), KILL);
	assert_int_equal(call(&p, __NR_ioctl, 3, TUNGETIFF, 0), KILL);
	assert_int_equal(call(&p, __NR_openat, 0, 0, 0), KILL);
	assert_int_equal(call(&p, __NR_sendmmsg, 0, 0, 0), KILL);
}

static void test_log_only(void **state)
{
	static struct seccomp_prog p;

	build(&p, SECCOMP_PROFILE_DAEMON, true);
	assert_int_equal(call(&p, __NR_openat, 0, 0, 0), SECCOMP_RET_LOG);
	assert_int_equal(call(&p, __NR_ioctl, 0, TIOCSTI, 0), SECCOMP_RET_LOG);
	assert_int_equal(call(&p, __NR_read, 0, 0, 0), ALLOW);
}

/* Run fn in a child with no_new_privs; its wait status. */
static int in_child(void (*fn)(void))
{
	pid_t pid = fork();
	int ws;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(90);
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	return ws;
}

/* Under the filter: exit_group itself, since a sanitizer's _exit() makes calls of its own. */
static void quit(int status)
{
	syscall(SYS_exit_group, status);
}

static void allowed_then_unlink(void)
{
	char c;

	if (seccomp_install(SECCOMP_PROFILE_DAEMON, false))
		quit(91);
	if (getpid() <= 0 || write(STDERR_FILENO, &c, 0) < 0)
		quit(92);
	if (unlink("/nonexistent/braid-test") == 0 || errno != EACCES)
		quit(93);
	/* glibc's interface lookups go from AF_UNIX (refused) to AF_INET. */
	if (if_nametoindex("lo") != 1)
		quit(94);
	quit(0);
}

static void forbidden(void)
{
	if (seccomp_install(SECCOMP_PROFILE_DAEMON, false))
		quit(91);
	syscall(__NR_openat, AT_FDCWD, "/", O_RDONLY | O_DIRECTORY);
	quit(95);
}

static void *thread_main(void *arg)
{
	int *fd = arg;
	char c;

	/* Wait (read) until the test lets go (close): the thread lives through what it tests. */
	return read(*fd, &c, 1) < 0 ? arg : NULL;
}

static void thread_under_filter(void)
{
	int fds[2];
	pthread_t t;
	void *result = &t;

	if (pipe(fds) < 0 || seccomp_install(SECCOMP_PROFILE_DAEMON, false))
		quit(91);
	if (pthread_create(&t, NULL, thread_main, &fds[0]))
		quit(92);
	close(fds[1]);
	if (pthread_join(t, &result) || result)
		quit(93);
	quit(0);
}

static void test_installed_filter(void **state)
{
	int ws;

	if (!seccomp_is_supported())
		skip();
	ws = in_child(allowed_then_unlink);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 0);
	ws = in_child(forbidden);
	assert_true(WIFSIGNALED(ws));
	assert_int_equal(WTERMSIG(ws), SIGSYS);
}

/* The filter allows what ASan's runtime needs (seccomp.c); TSan's makes more calls. */
#if defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

static void test_threads_under_filter(void **state)
{
	int ws;

	/* ThreadSanitizer's pthread_create() makes system calls of its own. */
#ifdef SANITIZED
	skip();
#endif
	if (!seccomp_is_supported())
		skip();
	ws = in_child(thread_under_filter);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 0);
}

static void drop_to_nobody(void)
{
	uint64_t keep = PRIVILEGE_CAP(CAP_NET_ADMIN) | PRIVILEGE_CAP(CAP_NET_BIND_SERVICE);

	if (privilege_drop(true, 65534, 65534, keep))
		_exit(96);
	if (getuid() != 65534 || geteuid() != 65534 || getgid() != 65534)
		_exit(97);
	if (setresuid(0, 0, 0) == 0)
		_exit(98);
	if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0 ||
	    prctl(PR_CAPBSET_READ, CAP_NET_ADMIN, 0, 0, 0) != 1)
		_exit(99);
}

static pthread_t early;
static int early_fds[2];

static void start_early_thread(void)
{
	if (pipe(early_fds) < 0 || pthread_create(&early, NULL, thread_main, &early_fds[0]))
		_exit(80);
}

static void join_early_thread(void)
{
	close(early_fds[1]);
	if (pthread_join(early, NULL))
		_exit(81);
}

/* A thread started before the drop loses every capability with the uid change. */
static void drop_with_thread(void)
{
	start_early_thread();
	drop_to_nobody();
	join_early_thread();
}

/* Without a uid change it would keep them all: the check must refuse. */
static void keep_uid_with_thread(void)
{
	start_early_thread();
	if (privilege_drop(false, 0, 0, PRIVILEGE_CAP(CAP_NET_ADMIN)) != -EPERM)
		_exit(82);
	join_early_thread();
}

static void test_privilege_drop(void **state)
{
	void (*const cases[])(void) = { drop_to_nobody, drop_with_thread, keep_uid_with_thread };
	int ws;

	if (geteuid() != 0)
		skip();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ws = in_child(cases[i]);
		assert_true(WIFEXITED(ws));
		assert_int_equal(WEXITSTATUS(ws), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_jump_lands_inside),
		cmocka_unit_test(test_other_abis_are_killed),
		cmocka_unit_test(test_daemon_profile),
		cmocka_unit_test(test_janitor_profile),
		cmocka_unit_test(test_log_only),
		cmocka_unit_test(test_installed_filter),
		cmocka_unit_test(test_threads_under_filter),
		cmocka_unit_test(test_privilege_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
