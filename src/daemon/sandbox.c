// SPDX-License-Identifier: MIT
/*
 * The sandbox: a janitor process, then privilege_drop(), then the seccomp
 * filter, in that order, once the daemon holds every descriptor it needs.
 *
 * The UAPI socket /var/run/wireguard/IFNAME.sock must go when the daemon
 * does, but removing it takes write permission on a directory that root
 * owns and other daemons share. Keeping CAP_DAC_OVERRIDE for that would let
 * a compromised daemon delete any file; chowning the directory would hand
 * other interfaces' sockets to it; a directory descriptor and unlinkat()
 * still need the write permission. So before dropping anything the daemon
 * forks a janitor that keeps uid 0 (the directory's owner) and nothing else:
 * no capability, no descriptor but a pipe and stderr, a filter allowing
 * little more than read and unlink. It waits for the pipe to close -- at a
 * clean exit, or when the daemon dies in any way, SIGKILL and SIGSYS
 * included -- then removes the socket if the file is still the one the
 * daemon made (a new daemon may have replaced it), and exits. At a clean
 * exit the daemon waits for it, so the socket is gone when the daemon's
 * process ends, as wg-quick and the tests expect.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "privilege.h"
#include "sandbox.h"
#include "seccomp.h"

/* SO_MARK (fwmark) and SO_RCVBUFFORCE on new sockets; binding a port below 1024. */
#define KEEP_CAPS (PRIVILEGE_CAP(CAP_NET_ADMIN) | PRIVILEGE_CAP(CAP_NET_BIND_SERVICE))

static int fail(const char *what, int err)
{
	log_error("sandbox: %s: %s", what, strerror(-err));
	return err;
}

int sandbox_prepare(struct sandbox *sb, bool enable, const char *user)
{
	struct passwd *pw;

	*sb = (struct sandbox){ .is_enabled = enable, .janitor_fd = -1 };
	if (!enable)
		return 0;
	if (!seccomp_is_supported()) {
		log_error("sandbox: braid has no seccomp filter for this architecture;"
			  " run it with --no-sandbox (BRAID_SANDBOX=0)");
		return -ENOSYS;
	}
#ifdef BRAID_TEST_HOOKS
	sb->log_only = getenv("BRAID_TEST_SECCOMP_LOG") &&
		       !strcmp(getenv("BRAID_TEST_SECCOMP_LOG"), "1");
#endif
	/* Read /etc/localtime now: under the filter, the log's localtime_r() cannot. */
	tzset();
	if (!user && geteuid() != 0)
		return 0;
	if (!user)
		user = SANDBOX_DEFAULT_USER;
	errno = 0;
	/* One thread, at start-up: getpwnam_r() and its buffer would add nothing. */
	/* cppcheck-suppress getpwnamCalled */
	pw = getpwnam(user);
	if (!pw) {
		log_error("sandbox: cannot run as \"%s\": %s (choose one with --user or BRAID_USER)",
			  user, errno ? strerror(errno) : "no such user");
		return errno ? -errno : -ENOENT;
	}
	sb->user = user;
	sb->uid = pw->pw_uid;
	sb->gid = pw->pw_gid;
	sb->change_user = true;
	return 0;
}

/*
 * Capabilities belong to each thread: other threads lose theirs only when the
 * uid changes (privilege.c), so without a change there must be none.
 */
static bool is_single_threaded(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return true;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n <= 1;
}

/* The pipe as descriptor 3, stderr for the log, nothing else: not the TUN device, not a port. */
static int keep_only_pipe(int fd)
{
	if (fd != 3 && dup2(fd, 3) < 0)
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

static void __attribute__((noreturn)) janitor(int fd, const char *path, const struct stat *made,
					      bool log_only)
{
	struct stat st;
	ssize_t n;
	char c;

	fd = keep_only_pipe(fd);
	/* A signal to the whole process group stops the daemon, whose exit sends us to work. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	prctl(PR_SET_NAME, "braid-janitor", 0, 0, 0);
	if (privilege_drop(false, 0, 0, 0) || seccomp_install(SECCOMP_PROFILE_JANITOR, log_only)) {
		log_error("sandbox: the janitor cannot drop its privileges; %s will stay", path);
		_exit(1);
	}
	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (lstat(path, &st) == 0 && st.st_dev == made->st_dev && st.st_ino == made->st_ino &&
	    unlink(path) < 0)
		log_error("sandbox: cannot remove %s: %s", path, strerror(errno));
	_exit(0);
}

static int start_janitor(struct sandbox *sb, const char *path)
{
	struct stat made;
	int fds[2], ret;
	pid_t pid;

	if (lstat(path, &made) < 0 || pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(fds[0]);
		close(fds[1]);
		return ret;
	}
	if (pid == 0) {
		close(fds[1]);
		janitor(fds[0], path, &made, sb->log_only);
	}
	close(fds[0]);
	sb->janitor = pid;
	sb->janitor_fd = fds[1];
	return 0;
}

static void log_entered(const struct sandbox *sb)
{
	const char *filter = sb->log_only ? "logged, not enforced (test build)" : "filtered";

	if (sb->change_user)
		log_verbose("sandbox: running as %s (uid %u, gid %u) with CAP_NET_ADMIN and "
			    "CAP_NET_BIND_SERVICE only; system calls %s", sb->user,
			    (unsigned int)sb->uid, (unsigned int)sb->gid, filter);
	else
		log_verbose("sandbox: keeping uid %u with at most CAP_NET_ADMIN and "
			    "CAP_NET_BIND_SERVICE; system calls %s", (unsigned int)getuid(), filter);
}

int sandbox_enter(struct sandbox *sb, const char *uapi_path)
{
	int ret;

	if (!sb->is_enabled)
		return 0;
	if (!sb->change_user && !is_single_threaded())
		return fail("threads started before it would keep their capabilities", -EBUSY);
	ret = start_janitor(sb, uapi_path);
	if (ret)
		return fail("cannot start the janitor of the UAPI socket", ret);
	ret = privilege_drop(sb->change_user, sb->uid, sb->gid, KEEP_CAPS);
	if (ret)
		return fail("cannot drop privileges", ret);
	ret = seccomp_install(SECCOMP_PROFILE_DAEMON, sb->log_only);
	if (ret)
		return fail("cannot install the system-call filter", ret);
	log_entered(sb);
	return 0;
}

void sandbox_finish(struct sandbox *sb)
{
	if (sb->janitor_fd >= 0)
		close(sb->janitor_fd);
	sb->janitor_fd = -1;
	if (sb->janitor > 0)
		while (waitpid(sb->janitor, NULL, 0) < 0 && errno == EINTR)
			;
	sb->janitor = 0;
}

#ifdef BRAID_TEST_HOOKS
void sandbox_test_hooks(void)
{
	const char *v = getenv("BRAID_TEST_FORBIDDEN_SYSCALL");
	int fd;

	if (!v || strcmp(v, "1"))
		return;
	log_error("test hook: opening / (a system call the filter forbids)");
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	log_error("test hook: still running: no filter, or it allowed open");
}
#endif
