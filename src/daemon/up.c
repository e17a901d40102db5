// SPDX-License-Identifier: MIT
/*
 * braid up and braid down (see up.h), step for step what wg-quick(8) does,
 * with the host set up over netlink (hostnet.c, nft.c) instead of ip(8),
 * nft(8) and wg(8):
 *
 *   up:   PreUp; the daemon; the configuration (one UAPI set: everything or
 *         nothing); addresses; MTU (given, or the largest towards the
 *         endpoints less 80) and link up; DNS through resolvconf; a route
 *         for each allowed IP, longest first, into Table (or main, unless a
 *         route into the interface covers it already); for a /0 without
 *         Table, policy routing instead: an fwmark (51820, or the next table
 *         without routes), a default route in that table, the rules `not
 *         fwmark M table M` and `table main suppress_prefixlength 0`, the
 *         nftables table wg-quick-IFNAME, src_valid_mark; PostUp.
 *   down: PreDown; SaveConfig; those rules; the interface (the daemon exits
 *         with it); DNS; the nftables table; PostDown.
 *
 * The file is read and checked whole first, names resolved included, so a
 * bad file changes nothing. A step that fails after the daemon started
 * undoes everything, as wg-quick's trap does. Each step is printed as the
 * command it stands for, after "[#] ", as wg-quick prints its commands.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "devinfo.h"
#include "hostnet.h"
#include "nft.h"
#include "setconf.h"
#include "uapi_client.h"
#include "up.h"

enum {
	FIRST_FWMARK_TABLE = 51820,
	TUNNEL_OVERHEAD = 80,		/* wg-quick's: IPv6 40 + UDP 8 + WireGuard 32 */
	MAX_ADDRS = 64,
};

struct up {
	const char *cmd;		/* "braid up" or "braid down", for messages */
	struct conf *c;
	const char *ifname;
	int ifindex;
	struct nl_sock nl;
	uint32_t table;			/* CONF_TABLE_SET: its number */
	bool dns_set, firewall_set;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[#] ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int __attribute__((format(printf, 2, 3))) complain(const struct up *u, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s: ", u->cmd, u->ifname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static const char *fam(int family)
{
	return family == AF_INET ? "-4" : "-6";
}

/* ---- Programs: hooks, the daemon, resolvconf ---- */

/* Run argv with input on its stdin (NULL: ours); its exit status, or -1. */
static int run(char *const argv[], const char *input)
{
	int fds[2] = { -1, -1 }, status;
	pid_t pid;

	if (input && pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (input && dup2(fds[0], STDIN_FILENO) < 0)
			_exit(127);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (input) {
		close(fds[0]);
		if (write(fds[1], input, strlen(input)) < 0)
			status = -1;
		close(fds[1]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* "%i" replaced by the interface's name, as wg-quick does. */
static char *expand_hook(const char *hook, const char *ifname)
{
	size_t n = 0, len = strlen(ifname);
	char *out, *o;

	for (const char *s = hook; (s = strstr(s, "%i")); s += 2)
		n++;
	out = malloc(strlen(hook) + n * len + 1);
	if (!out)
		return NULL;
	for (o = out; *hook; ) {
		if (hook[0] == '%' && hook[1] == 'i') {
			o = stpcpy(o, ifname);
			hook += 2;
		} else {
			*o++ = *hook++;
		}
	}
	*o = '\0';
	return out;
}

/* Each hook through bash, in order; the first that fails stops them. */
static int run_hooks(const struct up *u, const struct conf_list *hooks)
{
	for (size_t i = 0; i < hooks->n; i++) {
		char *cmd = expand_hook(hooks->item[i], u->ifname);
		char *argv[] = { "bash", "-c", cmd, NULL };
		int status;

		if (!cmd)
			return complain(u, "out of memory");
		say("%s", cmd);
		status = run(argv, NULL);
		free(cmd);
		if (status)
			return complain(u, "hook failed (exit status %d)", status);
	}
	return 0;
}

static bool have_program(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");

		if (len && snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, name) <
				   (int)sizeof(buf) && access(buf, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

/* This very program, as the daemon: `braid IFNAME`, which returns once its socket is ready. */
static int start_daemon(const struct up *u)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *argv[] = { self, (char *)u->ifname, NULL };

	if (n <= 0)
		return complain(u, "cannot find the braid program: %s", strerror(errno));
	self[n] = '\0';
	say("braid %s", u->ifname);
	if (run(argv, NULL))
		return complain(u, "the daemon did not start");
	return 0;
}

/* resolvconf's interface-order may want a prefix, as wg-quick reads it. */
static void resolvconf_name(const struct up *u, char *out, size_t len)
{
	FILE *f = fopen("/etc/resolvconf/interface-order", "re");
	char line[256];

	snprintf(out, len, "%s", u->ifname);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				  "0123456789-");

		if (n && line[n] == '*' && (line[n + 1] == '\n' || !line[n + 1])) {
			snprintf(out, len, "%.*s.%s", (int)n, line, u->ifname);
			break;
		}
	}
	fclose(f);
}

static int set_dns(struct up *u)
{
	const struct conf *c = u->c;
	char name[64], *input = NULL;
	size_t len = 0;
	FILE *f;
	int status;

	if (!c->dns.n)
		return 0;
	f = open_memstream(&input, &len);
	if (!f)
		return complain(u, "out of memory");
	for (size_t i = 0; i < c->dns.n; i++)
		fprintf(f, "nameserver %s\n", c->dns.item[i]);
	for (size_t i = 0; i < c->dns_search.n; i++)
		fprintf(f, "%s%s", i ? " " : "search ", c->dns_search.item[i]);
	fprintf(f, "%s", c->dns_search.n ? "\n" : "");
	fclose(f);
	resolvconf_name(u, name, sizeof(name));
	say("resolvconf -a %s -m 0 -x", name);
	status = run((char *[]){ "resolvconf", "-a", name, "-m", "0", "-x", NULL }, input);
	free(input);
	if (status)
		return complain(u, "resolvconf failed (exit status %d)", status);
	u->dns_set = true;
	return 0;
}

static void unset_dns(const struct up *u)
{
	char name[64];

	if (!u->c->dns.n)
		return;
	resolvconf_name(u, name, sizeof(name));
	say("resolvconf -d %s -f", name);
	run((char *[]){ "resolvconf", "-d", name, "-f", NULL }, NULL);
}

/* ---- Tables ---- */

/* A table's number: digits, or a name from iproute2's rt_tables files. */
static bool table_in_file(const char *path, const char *name, uint32_t *id)
{
	FILE *f = fopen(path, "re");
	char line[256], word[128];
	unsigned long n;
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%lu %127s", &n, word) == 2 && !strcmp(word, name);
	fclose(f);
	if (found)
		*id = (uint32_t)n;
	return found;
}

static bool table_in_dir(const char *dir, const char *name, uint32_t *id)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "%s/rt_tables", dir);
	if (table_in_file(path, name, id))
		return true;
	snprintf(path, sizeof(path), "%s/rt_tables.d", dir);
	d = opendir(path);
	while (d && !found && (de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len > 5 && !strcmp(de->d_name + len - 5, ".conf")) {
			snprintf(path, sizeof(path), "%s/rt_tables.d/%s", dir, de->d_name);
			found = table_in_file(path, name, id);
		}
	}
	if (d)
		closedir(d);
	return found;
}

static bool table_number(const char *name, uint32_t *id)
{
	char *end;
	unsigned long n = strtoul(name, &end, 10);

	if (*name >= '0' && *name <= '9' && !*end) {
		*id = (uint32_t)n;
		return true;
	}
	if (!strcmp(name, "main") || !strcmp(name, "local") || !strcmp(name, "default")) {
		*id = !strcmp(name, "main") ? 254 : !strcmp(name, "local") ? 255 : 253;
		return true;
	}
	return table_in_dir("/etc/iproute2", name, id) ||
	       table_in_dir("/usr/share/iproute2", name, id) ||
	       table_in_dir("/usr/lib/iproute2", name, id);
}

/* ---- Checks before anything changes ---- */

static void report(const char *cmd, const struct conf *c, const char *arg,
		   const struct conf_error *err)
{
	if (err->line)
		fprintf(stderr, "%s: %s:%u: %s\n", cmd, c->path ? c->path : arg, err->line,
			err->msg);
	else
		fprintf(stderr, "%s: %s\n", cmd, err->msg);
}

/* wg-quick's warning: a file others may read holds a private key. */
static void warn_if_readable(const struct conf *c)
{
	char dir[PATH_MAX];
	struct stat f, d;

	snprintf(dir, sizeof(dir), "%s", c->path);
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = '\0';
	if (!stat(c->path, &f) && !stat(*dir ? dir : "/", &d) && (f.st_mode & d.st_mode & 07))
		fprintf(stderr, "Warning: `%s' is world accessible\n", c->path);
}

/* ---- Host set-up ---- */

static int add_addresses(struct up *u)
{
	char text[64];
	int ret;

	for (size_t i = 0; i < u->c->n_addresses; i++) {
		const struct prefix *p = &u->c->addresses[i];

		devinfo_format_prefix(text, sizeof(text), p);
		say("ip %s address add %s dev %s", fam(p->family), text, u->ifname);
		ret = host_addr_add(&u->nl, u->ifindex, p);
		if (ret)
			return complain(u, "cannot add address %s: %s", text, strerror(-ret));
	}
	return 0;
}

/* "198.51.100.1:51820" or "[2001:db8::1]:51820" to its address. */
static bool endpoint_addr(const char *endpoint, struct prefix *p)
{
	char host[CONF_ENDPOINT_LEN], port[16];

	memset(p, 0, sizeof(*p));
	if (conf_split_endpoint(endpoint, host, sizeof(host), port, sizeof(port)))
		return false;
	*strchrnul(host, '%') = '\0';
	p->family = strchr(host, ':') ? AF_INET6 : AF_INET;
	p->len = p->family == AF_INET ? 32 : 128;
	return inet_pton(p->family, host, p->addr) == 1;
}

/* wg-quick's MTU: the largest towards an endpoint, else the default route's, else 1500; less 80. */
static unsigned int auto_mtu(struct up *u, const struct dev_info *d)
{
	unsigned int best = 0, mtu;
	struct prefix p;

	for (size_t i = 0; i < d->n_peers; i++)
		if (endpoint_addr(d->peers[i].endpoint, &p) &&
		    !host_route_mtu(&u->nl, &p, &mtu) && mtu > best)
			best = mtu;
	if (!best && !host_default_route_mtu(&u->nl, &mtu))
		best = mtu;
	return (best ? best : 1500) - TUNNEL_OVERHEAD;
}

static int set_mtu_up(struct up *u, const struct dev_info *d)
{
	unsigned int mtu = u->c->has_mtu ? u->c->mtu : auto_mtu(u, d);
	int ret;

	say("ip link set mtu %u up dev %s", mtu, u->ifname);
	ret = host_link_up(&u->nl, u->ifindex, mtu);
	if (ret)
		return complain(u, "cannot set MTU %u and bring the link up: %s", mtu,
				strerror(-ret));
	return 0;
}

static int set_fwmark(struct up *u, uint32_t mark)
{
	struct uapi_request r = { 0 };
	char *reply;
	int err;

	say("wg set %s fwmark %u", u->ifname, mark);
	uapi_request_line(&r, "set=1");
	uapi_request_add(&r, "fwmark", "%u", mark);
	uapi_request_line(&r, "");
	reply = r.failed ? NULL : uapi_client_transact(u->ifname, r.buf);
	uapi_request_free(&r);
	err = reply ? uapi_client_errno(reply) : -errno;
	free(reply);
	return err ? complain(u, "cannot set fwmark %u: %s", mark, strerror(-err)) : 0;
}

/* The fwmark full-tunnel routing uses: the device's, or the first free table from 51820. */
static int pick_fwmark(struct up *u, uint32_t *mark)
{
	struct dev_info d;
	int ret = devinfo_get(&d, u->ifname);

	if (ret)
		return complain(u, "the daemon does not answer: %s", strerror(-ret));
	*mark = d.fwmark;
	devinfo_free(&d);
	if (*mark)
		return 0;
	for (*mark = FIRST_FWMARK_TABLE; (ret = host_table_in_use(&u->nl, *mark)) == 1; ++*mark)
		;
	if (ret < 0)
		return complain(u, "cannot read the routing tables: %s", strerror(-ret));
	return set_fwmark(u, *mark);
}

static int add_firewall(struct up *u, int family, uint32_t mark)
{
	struct prefix addrs[MAX_ADDRS];
	unsigned int n = 0;
	int ret = host_addr_list(&u->nl, u->ifindex, family, addrs, MAX_ADDRS, &n);

	if (!ret) {
		say("nft -f (table %s wg-quick-%s)", family == AF_INET ? "ip" : "ip6", u->ifname);
		ret = nft_add_tunnel_table(u->ifname, family, addrs, n, mark);
	}
	if (ret)
		return complain(u, "cannot add the nftables table: %s", strerror(-ret));
	u->firewall_set = true;
	return 0;
}

/* A /0 without Table: everything into the tunnel but the tunnel's own packets. */
static int add_default(struct up *u, const struct prefix *p)
{
	uint32_t mark = 0;
	int ret = pick_fwmark(u, &mark);

	if (ret)
		return ret;
	say("ip %s route add %s/0 dev %s table %u", fam(p->family),
	    p->family == AF_INET ? "0.0.0.0" : "::", u->ifname, mark);
	ret = host_route_add(&u->nl, u->ifindex, p, mark);
	if (!ret) {
		say("ip %s rule add not fwmark %u table %u", fam(p->family), mark, mark);
		ret = host_rule_add_not_fwmark(&u->nl, p->family, mark);
	}
	if (!ret) {
		say("ip %s rule add table main suppress_prefixlength 0", fam(p->family));
		ret = host_rule_add_suppress(&u->nl, p->family);
	}
	if (ret)
		return complain(u, "cannot set up policy routing: %s", strerror(-ret));
	if (p->family == AF_INET) {
		say("sysctl -q net.ipv4.conf.all.src_valid_mark=1");
		ret = host_set_src_valid_mark();
		if (ret)
			return complain(u, "cannot set src_valid_mark: %s", strerror(-ret));
	}
	return add_firewall(u, p->family, mark);
}

static int add_route(struct up *u, const struct prefix *p)
{
	char text[64];
	int ret;

	if (u->c->table == CONF_TABLE_OFF)
		return 0;
	devinfo_format_prefix(text, sizeof(text), p);
	if (u->c->table == CONF_TABLE_SET) {
		say("ip %s route add %s dev %s table %u", fam(p->family), text, u->ifname,
		    u->table);
		ret = host_route_add(&u->nl, u->ifindex, p, u->table);
	} else if (!p->len) {
		return add_default(u, p);
	} else {
		ret = host_route_covered(&u->nl, u->ifindex, p);
		if (ret == 0) {
			say("ip %s route add %s dev %s", fam(p->family), text, u->ifname);
			ret = host_route_add(&u->nl, u->ifindex, p, HOST_TABLE_MAIN);
		}
		ret = ret > 0 ? 0 : ret;
	}
	return ret ? complain(u, "cannot add a route to %s: %s", text, strerror(-ret)) : 0;
}

/* Longest prefixes first, as wg-quick sorts them (`sort -nr -k 2 -t /`). */
static int by_length(const void *a, const void *b)
{
	const struct prefix *x = a, *y = b;
	char tx[64], ty[64];

	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	devinfo_format_prefix(tx, sizeof(tx), x);
	devinfo_format_prefix(ty, sizeof(ty), y);
	return strcmp(ty, tx);
}

static int add_routes(struct up *u, const struct dev_info *d)
{
	struct prefix *all = NULL;
	size_t n = 0;
	int ret = 0;

	for (size_t i = 0; i < d->n_peers; i++)
		n += d->peers[i].n_allowed_ips;
	all = calloc(n ? n : 1, sizeof(*all));
	if (!all)
		return complain(u, "out of memory");
	n = 0;
	for (size_t i = 0; i < d->n_peers; i++)
		for (size_t j = 0; j < d->peers[i].n_allowed_ips; j++)
			all[n++] = d->peers[i].allowed_ips[j];
	qsort(all, n, sizeof(*all), by_length);
	for (size_t i = 0; !ret && !interrupted && i < n; i++)
		ret = add_route(u, &all[i]);
	free(all);
	return ret;
}

/* ---- Taking it down ---- */

static bool has_default_route(const struct dev_info *d)
{
	for (size_t i = 0; i < d->n_peers; i++)
		for (size_t j = 0; j < d->peers[i].n_allowed_ips; j++)
			if (!d->peers[i].allowed_ips[j].len)
				return true;
	return false;
}

static void delete_rules(struct up *u, int family, uint32_t mark)
{
	unsigned int n = 0;
	int ret = host_rules_delete(&u->nl, family, mark, true, &n);

	if (n)
		say("ip %s rule delete table %u (and suppress_prefixlength 0): %u rules%s",
		    fam(family), mark, n, ret ? " (failed)" : "");
}

/* wg-quick's del_if: the rules of a full tunnel, then the interface. */
static void delete_interface(struct up *u)
{
	struct dev_info d;
	int ret;

	if (u->c->table == CONF_TABLE_AUTO && !devinfo_get(&d, u->ifname)) {
		if (d.fwmark && has_default_route(&d)) {
			delete_rules(u, AF_INET, d.fwmark);
			delete_rules(u, AF_INET6, d.fwmark);
		}
		devinfo_free(&d);
	}
	say("ip link delete dev %s", u->ifname);
	ret = host_link_delete(&u->nl, u->ifindex);
	if (ret && ret != -ENODEV)
		complain(u, "cannot delete the interface: %s", strerror(-ret));
}

static void remove_firewall(const struct up *u)
{
	int ret = nft_delete_tunnel_tables(u->ifname);

	/* No nf_tables in this kernel: nothing could have been added either. */
	if (ret && ret != -EPROTONOSUPPORT && ret != -ENOENT)
		complain(u, "cannot remove the nftables table: %s", strerror(-ret));
}

/* The daemon ends with its interface; wait (5 s at most) until its socket is gone. */
static void wait_for_daemon(const struct up *u)
{
	for (int i = 0; i < 100 && uapi_client_is_up(u->ifname); i++)
		usleep(50000);
}

static void undo(struct up *u)
{
	if (u->dns_set)
		unset_dns(u);
	if (u->firewall_set)
		remove_firewall(u);
	delete_interface(u);
	wait_for_daemon(u);
}

/* ---- braid up ---- */

/* Everything that could fail without touching the host: the request, the table, resolvconf. */
static int prepare(struct up *u, struct uapi_request *r, const char *arg)
{
	struct conf_error err = { 0 };

	if (u->c->table == CONF_TABLE_SET && !table_number(u->c->table_name, &u->table)) {
		err.line = u->c->table_line;
		snprintf(err.msg, sizeof(err.msg), "unknown routing table `%s'", u->c->table_name);
	} else if (u->c->dns.n && !have_program("resolvconf")) {
		snprintf(err.msg, sizeof(err.msg), "DNS is set, but there is no resolvconf program"
			 " (Debian: openresolv, resolvconf or systemd-resolved)");
	} else if (if_nametoindex(u->ifname)) {
		snprintf(err.msg, sizeof(err.msg), "`%s' already exists", u->ifname);
	} else if (!setconf_request(u->c, r, &err)) {
		return 0;
	}
	report(u->cmd, u->c, arg, &err);
	return -1;
}

static int configure(struct up *u, const struct uapi_request *r)
{
	char *reply = uapi_client_transact(u->ifname, r->buf);
	int err = reply ? uapi_client_errno(reply) : -errno;

	say("wg setconf %s (%s)", u->ifname, u->c->path);
	free(reply);
	if (err)
		return complain(u, "the daemon refused the configuration: %s", strerror(-err));
	return 0;
}

/* From the daemon's start to PostUp; -1 after a failure (the caller undoes). */
static int bring_up(struct up *u, const struct uapi_request *r)
{
	struct dev_info d;
	int ret;

	u->ifindex = (int)if_nametoindex(u->ifname);
	if (!u->ifindex)
		return complain(u, "the daemon made no interface");
	ret = nl_open(&u->nl, NETLINK_ROUTE);
	if (ret)
		return complain(u, "rtnetlink: %s", strerror(-ret));
	if (configure(u, r) || add_addresses(u))
		return -1;
	ret = devinfo_get(&d, u->ifname);
	if (ret)
		return complain(u, "the daemon does not answer: %s", strerror(-ret));
	ret = set_mtu_up(u, &d);
	if (!ret && !interrupted)
		ret = set_dns(u);
	if (!ret && !interrupted)
		ret = add_routes(u, &d);
	devinfo_free(&d);
	if (!ret && !interrupted)
		ret = run_hooks(u, &u->c->post_up);
	if (interrupted)
		return complain(u, "interrupted");
	return ret;
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int up_main(int argc, char *argv[])
{
	struct conf c;
	struct conf_error err;
	struct uapi_request r = { 0 };
	struct up u = { .cmd = "braid up", .c = &c, .nl.fd = -1 };
	int ret;

	if (argc != 1 || !strcmp(argv[0], "-h") || !strcmp(argv[0], "--help")) {
		fprintf(argc == 1 ? stdout : stderr, "Usage: braid up CONFIG-FILE | INTERFACE\n"
			"  (braid.conf(5): wg-quick's format, plus Multipath, Path and "
			"MultipathEndpoint)\n");
		return argc != 1;
	}
	if (conf_load(&c, argv[0], &err)) {
		report(u.cmd, &c, argv[0], &err);
		return 1;
	}
	u.ifname = c.ifname;
	warn_if_readable(&c);
	ret = prepare(&u, &r, argv[0]);
	catch_signals();
	if (!ret)
		ret = run_hooks(&u, &c.pre_up);
	if (!ret && !interrupted && !(ret = start_daemon(&u))) {
		ret = bring_up(&u, &r);
		if (ret) {
			if (u.nl.fd < 0)
				nl_open(&u.nl, NETLINK_ROUTE);
			undo(&u);
		}
	}
	uapi_request_free(&r);
	nl_close(&u.nl);
	conf_free(&c);
	return ret || interrupted ? 1 : 0;
}

/* ---- braid down ---- */

/* SaveConfig: the file again from the running interface, before it goes. */
static int save_config(struct up *u)
{
	struct prefix addrs[MAX_ADDRS];
	unsigned int n4 = 0, n6 = 0, mtu = 0;
	struct dev_info d;
	int ret = devinfo_get(&d, u->ifname);

	if (!ret)
		ret = host_addr_list(&u->nl, u->ifindex, AF_INET, addrs, MAX_ADDRS, &n4);
	if (!ret)
		ret = host_addr_list(&u->nl, u->ifindex, AF_INET6, addrs + n4, MAX_ADDRS - n4, &n6);
	if (!ret && u->c->has_mtu)
		ret = host_link_mtu(&u->nl, u->ifindex, &mtu);
	say("wg showconf %s > %s", u->ifname, u->c->path);
	if (!ret)
		ret = setconf_save(u->c, &d, addrs, n4 + n6, mtu);
	devinfo_free(&d);
	return ret ? complain(u, "cannot save the configuration: %s", strerror(-ret)) : 0;
}

/* The configuration of a bare interface name may be gone: down works without it. */
static int load_for_down(struct conf *c, const char *arg)
{
	struct conf_error err;
	int ret = conf_load(c, arg, &err);

	if (ret == -ENOENT && conf_is_ifname(arg)) {
		memset(c, 0, sizeof(*c));
		snprintf(c->ifname, sizeof(c->ifname), "%s", arg);
		return 0;
	}
	if (ret)
		report("braid down", c, arg, &err);
	return ret;
}

int down_main(int argc, char *argv[])
{
	struct conf c;
	struct up u = { .cmd = "braid down", .c = &c, .nl.fd = -1 };
	int ret;

	if (argc != 1 || !strcmp(argv[0], "-h") || !strcmp(argv[0], "--help")) {
		fprintf(argc == 1 ? stdout : stderr, "Usage: braid down CONFIG-FILE | INTERFACE\n");
		return argc != 1;
	}
	if (load_for_down(&c, argv[0]))
		return 1;
	u.ifname = c.ifname;
	u.ifindex = (int)if_nametoindex(u.ifname);
	if (!u.ifindex || !uapi_client_is_up(u.ifname)) {
		complain(&u, "not a braid interface");
		conf_free(&c);
		return 1;
	}
	ret = nl_open(&u.nl, NETLINK_ROUTE);
	if (ret) {
		complain(&u, "rtnetlink: %s", strerror(-ret));
		conf_free(&c);
		return 1;
	}
	ret = run_hooks(&u, &c.pre_down);
	if (!ret && c.save_config)
		ret = save_config(&u);
	/* Whatever the hooks did, the interface goes: a half-down tunnel helps nobody. */
	delete_interface(&u);
	unset_dns(&u);
	remove_firewall(&u);
	wait_for_daemon(&u);
	if (run_hooks(&u, &c.post_down))
		ret = -1;
	nl_close(&u.nl);
	conf_free(&c);
	return ret ? 1 : 0;
}
