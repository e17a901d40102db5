// SPDX-License-Identifier: MIT
/*
 * The daemon contract wg-quick relies on (wireguard-go's main.go behaves the
 * same): unless asked to stay in the foreground, fork; the child creates the
 * interface, the sockets and the UAPI socket, and only then does the parent
 * exit, with the child's status. So when `braid wg0` returns 0, `wg setconf
 * wg0` works; when it returns 1, the reason is already on stderr.
 *
 * The child creates everything itself, so nothing has to cross the fork.
 * The status travels over a pipe; if the child dies before writing it, the
 * parent reports the child's exit status instead. "Ready" comes after the
 * sandbox (sandbox.h) is entered, so a failure to drop privileges is an
 * error at start, not a daemon left running as root.
 *
 * The UAPI server (uapi_sock.h) runs as the event loop's service: the loop
 * opens it last, serves its sockets on its own epoll set, and closes it
 * first; after every operation the loop flushes what the device queued and
 * re-arms its timer.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "iolog.h"
#include "loop.h"
#include "multipath.h"
#include "resolver.h"
#include "sandbox.h"
#include "uapi.h"
#include "uapi_sock.h"

/* The UAPI server: a service of the loop, on its thread and its epoll set. */
struct service {
	const char *ifname;
	struct uapi uapi;
	struct uapi_server server;
	struct mp_config mp;		/* the braid_path specs the UAPI set */
};

/* Static: the loop holds large arrays and lives as long as the process. */
static struct loop loop;
static struct sandbox sandbox;
static struct service service = { .server.w.fd = -1 };
static struct resolver resolver = { .w.fd = -1 };

/* ---- The UAPI server's view of the loop (struct uapi_host_ops) ---- */

static uint16_t host_get_listen_port(void *ctx)
{
	return loop_listen_port(ctx);
}

static uint32_t host_get_fwmark(void *ctx)
{
	return loop_fwmark(ctx);
}

static int host_set_net(void *ctx, bool set_port, uint16_t port, bool set_mark, uint32_t mark)
{
	return loop_set_net(ctx, set_port, port, set_mark, mark);
}

static const struct uapi_host_ops host_ops = {
	.get_listen_port = host_get_listen_port,
	.get_fwmark = host_get_fwmark,
	.set_net = host_set_net,
};

/* An operation may have queued packets and moved deadlines: the loop catches up. */
static void after_operation(void *ctx)
{
	loop_after_device_call(ctx);
}

/* ---- The UAPI server as the loop's service (struct loop_service) ---- */

static int service_open(void *ctx, int epfd, struct braid_device *dev)
{
	struct service *s = ctx;
	int ret;

	s->mp.uplinks = &loop.uplinks;
	s->mp.route_fd = loop.uplinks_fd;
	s->mp.tun_ifindex = loop.tun.ifindex;
	s->uapi = (struct uapi){ .dev = dev, .host = &host_ops, .host_ctx = &loop, .mp = &s->mp,
				 .resolver = &resolver };
	resolver.changed = after_operation;
	resolver.ctx = &loop;
	ret = resolver_open(&resolver, epfd, dev);
	if (ret)
		log_error("cannot watch the resolver: %s", strerror(-ret));
	s->server.changed = after_operation;
	s->server.ctx = &loop;
	ret = uapi_sock_listen(&s->server, epfd, s->ifname, &s->uapi);
	if (ret == -EADDRINUSE)
		log_error("%s/%s.sock is served by a running process", UAPI_SOCKET_DIR, s->ifname);
	else if (ret)
		log_error("cannot create the UAPI socket %s: %s", UAPI_SOCKET_DIR, strerror(-ret));
	return ret;
}

static uint64_t service_next_deadline(void *ctx)
{
	struct service *s = ctx;
	uint64_t a = uapi_sock_next_deadline(&s->server), b = resolver_next_deadline(&resolver);

	return a < b ? a : b;
}

static void service_expire(void *ctx, uint64_t now)
{
	struct service *s = ctx;

	uapi_sock_expire(&s->server, now);
	resolver_expire(&resolver, now);
}

/* Uplinks came or went, addresses or routes changed: every multipath peer's paths again. */
static void service_host_changed(void *ctx, uint64_t now)
{
	struct service *s = ctx;

	s->mp.fwmark = loop_fwmark(&loop);
	mp_config_apply_all(&s->mp, s->uapi.dev, now);
}

static void service_close(void *ctx)
{
	struct service *s = ctx;

	uapi_sock_close(&s->server);
	mp_config_free(&s->mp);
	resolver_stop(&resolver);
}

static const struct loop_service service_ops = {
	.ctx = &service,
	.open = service_open,
	.next_deadline = service_next_deadline,
	.expire = service_expire,
	.host_changed = service_host_changed,
	.close = service_close,
};

/* ---- Starting ---- */

/* Before the sandbox, which forbids opening files: /dev/null for detach_stdio(). */
static int open_null(void)
{
	if (chdir("/") < 0)
		log_verbose("chdir /: %s", strerror(errno));
	return open("/dev/null", O_RDWR | O_CLOEXEC);
}

/* A daemon keeps stderr for its log (unless silent), but not the caller's terminal input. */
static void detach_stdio(enum log_level level, int null)
{
	if (null < 0)
		return;
	dup2(null, STDIN_FILENO);
	if (level == LOG_SILENT) {
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
}

static void report_ready(int ready_fd, uint8_t status)
{
	ssize_t n;

	if (ready_fd < 0)
		return;
	do
		n = write(ready_fd, &status, 1);
	while (n < 0 && errno == EINTR);
	close(ready_fd);
}

static int serve(const struct daemon_options *opts, int ready_fd)
{
	const struct loop_config config = {
		.ifname = opts->ifname,
		.workers = opts->threads,
		.use_offloads = opts->offloads,
		.service = &service_ops,
	};
	int ret, null = -1;

	/* Before the TUN device: a live daemon for this name must not lose its interface. */
	if (uapi_sock_check(opts->ifname) == -EADDRINUSE) {
		log_error("%s/%s.sock is served by a running process: is %s already up?",
			  UAPI_SOCKET_DIR, opts->ifname, opts->ifname);
		report_ready(ready_fd, 1);
		return 1;
	}
	service.ifname = opts->ifname;
	/* Before anything is open and before any thread: the resolver inherits nothing. */
	ret = resolver_start(&resolver, sandbox.change_user, sandbox.uid, sandbox.gid);
	if (ret)
		log_error("cannot start the resolver (endpoint names will not be resolved again): "
			  "%s", strerror(-ret));
	ret = loop_init(&loop, &config);
	if (ret) {
		report_ready(ready_fd, 1);
		return 1;
	}
	if (ready_fd >= 0)
		null = open_null();
	ret = sandbox_enter(&sandbox, service.server.path);
	report_ready(ready_fd, ret ? 1 : 0);
	if (!ret) {
		detach_stdio(opts->log_level, null);
#ifdef BRAID_TEST_HOOKS
		sandbox_test_hooks();
#endif
		ret = loop_run(&loop);
	}
	loop_free(&loop);
	/* The socket is closed: the janitor may remove it now. */
	sandbox_finish(&sandbox);
	if (null >= 0)
		close(null);
	log_verbose("shut down");
	return ret ? 1 : 0;
}

static int wait_for_child(int ready_fd, pid_t pid)
{
	uint8_t status;
	ssize_t n;
	int ws;

	do
		n = read(ready_fd, &status, 1);
	while (n < 0 && errno == EINTR);
	close(ready_fd);
	if (n == 1)
		return status;
	/* The child ended without a word: pass on how it ended. */
	if (waitpid(pid, &ws, 0) == pid && WIFEXITED(ws))
		return WEXITSTATUS(ws) ? WEXITSTATUS(ws) : 1;
	return 1;
}

int daemon_run(const struct daemon_options *opts)
{
	const char *problem = tun_name_problem(opts->ifname);
	int fds[2];
	pid_t pid;

	log_init(opts->log_level, opts->ifname);
	/* The I/O layer and libbraid (ops->log) log through this log too. */
	iolog_set_sink(log_from_core, NULL, opts->log_level);
	if (problem) {
		log_error("invalid interface name \"%s\": %s", opts->ifname, problem);
		return 1;
	}
	if (sandbox_prepare(&sandbox, opts->sandbox, opts->user))
		return 1;
	if (!braid_init()) {
		log_error("libcrypto lacks an algorithm WireGuard needs (OpenSSL 3.0 or later?)");
		return 1;
	}
	/* A UAPI client that hangs up must not kill us; sends use MSG_NOSIGNAL too. */
	signal(SIGPIPE, SIG_IGN);
	if (opts->foreground)
		return serve(opts, -1);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		log_error("pipe: %s", strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return 1;
	}
	if (pid > 0) {
		close(fds[1]);
		return wait_for_child(fds[0], pid);
	}
	close(fds[0]);
	setsid();
	return serve(opts, fds[1]);
}
