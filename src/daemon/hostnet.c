// SPDX-License-Identifier: MIT
/*
 * Host set-up through rtnetlink (see hostnet.h). Each request is built the
 * way ip(8) builds the command it stands for, so the kernel keeps the same
 * state either way: the same flags (NLM_F_CREATE | NLM_F_EXCL for adds),
 * the same scope, protocol and table encoding (tables above 255 travel in
 * an attribute), and no priority for rules, so the kernel numbers them as
 * it does for `ip rule add`.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostnet.h"

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int request(struct nl_sock *nl, struct nl_buf *b, uint32_t seq)
{
	int ret = nl_transact(nl, b, seq);

	nl_buf_free(b);
	return ret;
}

/* ---- Links ---- */

int host_link_up(struct nl_sock *nl, int ifindex, unsigned int mtu)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex,
				 .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
	struct nl_buf b = { 0 };
	uint32_t seq = nl_msg(nl, &b, RTM_NEWLINK, NLM_F_ACK, &ifi, sizeof(ifi));

	nl_put_u32(&b, IFLA_MTU, mtu);
	return request(nl, &b, seq);
}

int host_link_delete(struct nl_sock *nl, int ifindex)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nl_buf b = { 0 };
	uint32_t seq = nl_msg(nl, &b, RTM_DELLINK, NLM_F_ACK, &ifi, sizeof(ifi));

	return request(nl, &b, seq);
}

static int read_mtu(const struct nlmsghdr *nh, void *ctx)
{
	const struct nlattr *tb[IFLA_MAX + 1];

	if (nh->nlmsg_type != RTM_NEWLINK)
		return 0;
	nl_parse(nh, sizeof(struct ifinfomsg), tb, IFLA_MAX);
	if (tb[IFLA_MTU])
		*(unsigned int *)ctx = nl_get_u32(tb[IFLA_MTU]);
	return 1;
}

int host_link_mtu(struct nl_sock *nl, int ifindex, unsigned int *mtu)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nl_buf b = { 0 };
	int ret;

	*mtu = 0;
	nl_msg(nl, &b, RTM_GETLINK, 0, &ifi, sizeof(ifi));
	ret = nl_dump(nl, &b, read_mtu, mtu);
	nl_buf_free(&b);
	return ret < 0 ? ret : *mtu ? 0 : -ENODEV;
}

/* ---- Addresses ---- */

int host_addr_add(struct nl_sock *nl, int ifindex, const struct prefix *p)
{
	struct ifaddrmsg ifa = { .ifa_family = (uint8_t)p->family, .ifa_prefixlen = p->len,
				 .ifa_index = (uint32_t)ifindex };
	struct nl_buf b = { 0 };
	uint32_t seq;

	/* ip(8) gives IPv4 loopback addresses host scope; everything else is universe. */
	if (p->family == AF_INET && p->addr[0] == 127)
		ifa.ifa_scope = RT_SCOPE_HOST;
	seq = nl_msg(nl, &b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, &ifa, sizeof(ifa));
	nl_put(&b, IFA_LOCAL, p->addr, addr_len(p->family));
	nl_put(&b, IFA_ADDRESS, p->addr, addr_len(p->family));
	return request(nl, &b, seq);
}

struct addr_list {
	int ifindex;
	struct prefix *out;
	unsigned int max, n;
};

static int collect_addr(const struct nlmsghdr *nh, void *ctx)
{
	struct addr_list *l = ctx;
	const struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	const struct nlattr *tb[IFA_MAX + 1], *a;

	if (nh->nlmsg_type != RTM_NEWADDR || (int)ifa->ifa_index != l->ifindex)
		return 0;
	nl_parse(nh, sizeof(*ifa), tb, IFA_MAX);
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || nl_len(a) != addr_len(ifa->ifa_family) || l->n >= l->max)
		return 0;
	l->out[l->n] = (struct prefix){ .family = ifa->ifa_family, .len = ifa->ifa_prefixlen };
	memcpy(l->out[l->n].addr, nl_data(a), nl_len(a));
	l->n++;
	return 0;
}

int host_addr_list(struct nl_sock *nl, int ifindex, int family, struct prefix *out,
		   unsigned int max, unsigned int *n)
{
	struct ifaddrmsg ifa = { .ifa_family = (uint8_t)family };
	struct addr_list l = { .ifindex = ifindex, .out = out, .max = max };
	struct nl_buf b = { 0 };
	int ret;

	nl_msg(nl, &b, RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
	ret = nl_dump(nl, &b, collect_addr, &l);
	nl_buf_free(&b);
	*n = l.n;
	return ret;
}

/* ---- Routes ---- */

static void put_table(struct nl_buf *b, uint8_t *hdr_table, uint16_t attr, uint32_t table)
{
	if (table < 256) {
		*hdr_table = (uint8_t)table;
	} else {
		*hdr_table = RT_TABLE_UNSPEC;
		nl_put_u32(b, attr, table);
	}
}

int host_route_add(struct nl_sock *nl, int ifindex, const struct prefix *p, uint32_t table)
{
	struct rtmsg rt = { .rtm_family = (uint8_t)p->family, .rtm_dst_len = p->len,
			    .rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_LINK,
			    .rtm_type = RTN_UNICAST };
	struct nl_buf b = { 0 };
	uint32_t seq = nl_msg(nl, &b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
			      &rt, sizeof(rt));
	struct rtmsg *hdr = NLMSG_DATA((struct nlmsghdr *)(b.data ? b.data + b.msg : NULL));

	if (b.failed)
		return -ENOMEM;
	put_table(&b, &hdr->rtm_table, RTA_TABLE, table);
	nl_put(&b, RTA_DST, p->addr, addr_len(p->family));
	nl_put_u32(&b, RTA_OIF, (uint32_t)ifindex);
	return request(nl, &b, seq);
}

/* The table of a route message: RTA_TABLE when present, else the header's. */
static uint32_t route_table(const struct rtmsg *rt, const struct nlattr *const *tb)
{
	return tb[RTA_TABLE] ? nl_get_u32(tb[RTA_TABLE]) : rt->rtm_table;
}

/* Do the first len bits of a and b agree? */
static bool same_bits(const uint8_t *a, const uint8_t *b, unsigned int len)
{
	unsigned int whole = len / 8, rest = len % 8;

	if (memcmp(a, b, whole))
		return false;
	return !rest || !((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest)));
}

struct route_query {
	int ifindex;
	const struct prefix *p;
	uint32_t table;
	bool found;
};

static int match_covering(const struct nlmsghdr *nh, void *ctx)
{
	struct route_query *q = ctx;
	const struct rtmsg *rt = NLMSG_DATA(nh);
	const struct nlattr *tb[RTA_MAX + 1];
	uint8_t dst[16] = { 0 };

	if (nh->nlmsg_type != RTM_NEWROUTE || rt->rtm_family != q->p->family ||
	    rt->rtm_dst_len > q->p->len || (rt->rtm_flags & RTM_F_CLONED))
		return 0;
	nl_parse(nh, sizeof(*rt), tb, RTA_MAX);
	if (route_table(rt, tb) != HOST_TABLE_MAIN || !tb[RTA_OIF] ||
	    (int)nl_get_u32(tb[RTA_OIF]) != q->ifindex)
		return 0;
	if (tb[RTA_DST] && nl_len(tb[RTA_DST]) == addr_len(rt->rtm_family))
		memcpy(dst, nl_data(tb[RTA_DST]), nl_len(tb[RTA_DST]));
	q->found = q->found || same_bits(dst, q->p->addr, rt->rtm_dst_len);
	return 0;
}

static int dump_routes(struct nl_sock *nl, int family, nl_msg_fn *fn, void *ctx)
{
	struct rtmsg rt = { .rtm_family = (uint8_t)family };
	struct nl_buf b = { 0 };
	int ret;

	nl_msg(nl, &b, RTM_GETROUTE, NLM_F_DUMP, &rt, sizeof(rt));
	ret = nl_dump(nl, &b, fn, ctx);
	nl_buf_free(&b);
	return ret;
}

int host_route_covered(struct nl_sock *nl, int ifindex, const struct prefix *p)
{
	struct route_query q = { .ifindex = ifindex, .p = p };
	int ret = dump_routes(nl, p->family, match_covering, &q);

	return ret < 0 ? ret : q.found;
}

static int match_table(const struct nlmsghdr *nh, void *ctx)
{
	struct route_query *q = ctx;
	const struct nlattr *tb[RTA_MAX + 1];

	if (nh->nlmsg_type != RTM_NEWROUTE)
		return 0;
	nl_parse(nh, sizeof(struct rtmsg), tb, RTA_MAX);
	q->found = q->found || route_table(NLMSG_DATA(nh), tb) == q->table;
	return 0;
}

int host_table_in_use(struct nl_sock *nl, uint32_t table)
{
	struct route_query q = { .table = table };
	int ret = dump_routes(nl, AF_INET, match_table, &q);

	if (!ret)
		ret = dump_routes(nl, AF_INET6, match_table, &q);
	return ret < 0 ? ret : q.found;
}

/* A route's mtu metric, or 0. */
static unsigned int metric_mtu(const struct nlattr *metrics)
{
	const struct nlattr *tb[RTAX_MAX + 1];

	if (!metrics)
		return 0;
	nl_parse_nested(metrics, tb, RTAX_MAX);
	return tb[RTAX_MTU] ? nl_get_u32(tb[RTAX_MTU]) : 0;
}

struct mtu_query {
	unsigned int mtu;
	int oif;
	bool want_default;	/* only a default route of the main table */
	bool done;
};

static int read_route_mtu(const struct nlmsghdr *nh, void *ctx)
{
	struct mtu_query *q = ctx;
	const struct rtmsg *rt = NLMSG_DATA(nh);
	const struct nlattr *tb[RTA_MAX + 1];

	if (q->done || nh->nlmsg_type != RTM_NEWROUTE)
		return 0;
	nl_parse(nh, sizeof(*rt), tb, RTA_MAX);
	if (q->want_default && (rt->rtm_dst_len || route_table(rt, tb) != HOST_TABLE_MAIN ||
				rt->rtm_type != RTN_UNICAST))
		return 0;
	q->done = true;
	q->mtu = metric_mtu(tb[RTA_METRICS]);
	if (tb[RTA_OIF])
		q->oif = (int)nl_get_u32(tb[RTA_OIF]);
	return 0;
}

static int finish_mtu(struct nl_sock *nl, struct mtu_query *q, unsigned int *mtu)
{
	*mtu = q->mtu;
	if (!*mtu && q->oif && host_link_mtu(nl, q->oif, mtu) < 0)
		*mtu = 0;
	return 0;
}

int host_route_mtu(struct nl_sock *nl, const struct prefix *addr, unsigned int *mtu)
{
	struct rtmsg rt = { .rtm_family = (uint8_t)addr->family,
			    .rtm_dst_len = (uint8_t)(addr_len(addr->family) * 8) };
	struct mtu_query q = { 0 };
	struct nl_buf b = { 0 };
	int ret;

	nl_msg(nl, &b, RTM_GETROUTE, 0, &rt, sizeof(rt));
	nl_put(&b, RTA_DST, addr->addr, addr_len(addr->family));
	ret = nl_dump(nl, &b, read_route_mtu, &q);
	nl_buf_free(&b);
	*mtu = 0;
	/* No route to it: the endpoint simply does not count, as in wg-quick. */
	if (ret == -ENETUNREACH || ret == -EHOSTUNREACH || ret == -ENETDOWN)
		return 0;
	return ret < 0 ? ret : finish_mtu(nl, &q, mtu);
}

int host_default_route_mtu(struct nl_sock *nl, unsigned int *mtu)
{
	struct mtu_query q = { .want_default = true };
	int ret = dump_routes(nl, AF_INET, read_route_mtu, &q);

	*mtu = 0;
	return ret < 0 ? ret : finish_mtu(nl, &q, mtu);
}

/* ---- Rules ---- */

static int rule_add(struct nl_sock *nl, int family, uint32_t table, bool invert, uint32_t mark,
		    bool suppress)
{
	struct fib_rule_hdr frh = { .family = (uint8_t)family, .action = FR_ACT_TO_TBL,
				    .flags = invert ? FIB_RULE_INVERT : 0 };
	struct nl_buf b = { 0 };
	uint32_t seq = nl_msg(nl, &b, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
			      &frh, sizeof(frh));
	struct fib_rule_hdr *hdr = NLMSG_DATA((struct nlmsghdr *)(b.data ? b.data + b.msg : NULL));

	if (b.failed)
		return -ENOMEM;
	put_table(&b, &hdr->table, FRA_TABLE, table);
	if (mark)
		nl_put_u32(&b, FRA_FWMARK, mark);
	if (suppress)
		nl_put_u32(&b, FRA_SUPPRESS_PREFIXLEN, 0);
	return request(nl, &b, seq);
}

int host_rule_add_not_fwmark(struct nl_sock *nl, int family, uint32_t mark)
{
	return rule_add(nl, family, mark, true, mark, false);
}

int host_rule_add_suppress(struct nl_sock *nl, int family)
{
	return rule_add(nl, family, HOST_TABLE_MAIN, false, 0, true);
}

enum { RULES_MAX = 256 };

/* A rule to delete, as the dump described it. */
struct found_rule {
	struct fib_rule_hdr frh;
	uint32_t priority, table, mark, mask, suppress;
	bool has_mark, has_mask, has_suppress;
};

struct rule_query {
	uint32_t table;
	bool suppress;
	struct found_rule *found;
	unsigned int n;
};

/* `from all lookup main suppress_prefixlength 0` and nothing else. */
static bool is_plain_suppress(const struct fib_rule_hdr *frh, const struct nlattr *const *tb,
			      uint32_t table)
{
	return table == HOST_TABLE_MAIN && tb[FRA_SUPPRESS_PREFIXLEN] &&
	       nl_get_u32(tb[FRA_SUPPRESS_PREFIXLEN]) == 0 && !frh->src_len && !frh->dst_len &&
	       !(frh->flags & FIB_RULE_INVERT) && !tb[FRA_FWMARK] && !tb[FRA_IIFNAME] &&
	       !tb[FRA_OIFNAME];
}

static int match_rule(const struct nlmsghdr *nh, void *ctx)
{
	struct rule_query *q = ctx;
	const struct fib_rule_hdr *frh = NLMSG_DATA(nh);
	const struct nlattr *tb[FRA_MAX + 1];
	struct found_rule *r;
	uint32_t table;

	if (nh->nlmsg_type != RTM_NEWRULE || q->n >= RULES_MAX)
		return 0;
	nl_parse(nh, sizeof(*frh), tb, FRA_MAX);
	table = tb[FRA_TABLE] ? nl_get_u32(tb[FRA_TABLE]) : frh->table;
	if (table != q->table && !(q->suppress && is_plain_suppress(frh, tb, table)))
		return 0;
	r = &q->found[q->n++];
	*r = (struct found_rule){ .frh = *frh, .table = table,
				  .priority = nl_get_u32(tb[FRA_PRIORITY]),
				  .has_mark = tb[FRA_FWMARK], .mark = nl_get_u32(tb[FRA_FWMARK]),
				  .has_mask = tb[FRA_FWMASK], .mask = nl_get_u32(tb[FRA_FWMASK]),
				  .has_suppress = tb[FRA_SUPPRESS_PREFIXLEN],
				  .suppress = nl_get_u32(tb[FRA_SUPPRESS_PREFIXLEN]) };
	return 0;
}

static int rule_delete(struct nl_sock *nl, const struct found_rule *r)
{
	struct fib_rule_hdr frh = r->frh;
	struct nl_buf b = { 0 };
	uint32_t seq;

	frh.table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	seq = nl_msg(nl, &b, RTM_DELRULE, NLM_F_ACK, &frh, sizeof(frh));
	nl_put_u32(&b, FRA_PRIORITY, r->priority);
	nl_put_u32(&b, FRA_TABLE, r->table);
	if (r->has_mark)
		nl_put_u32(&b, FRA_FWMARK, r->mark);
	if (r->has_mask)
		nl_put_u32(&b, FRA_FWMASK, r->mask);
	if (r->has_suppress)
		nl_put_u32(&b, FRA_SUPPRESS_PREFIXLEN, r->suppress);
	return request(nl, &b, seq);
}

int host_rules_delete(struct nl_sock *nl, int family, uint32_t table, bool suppress,
		      unsigned int *n)
{
	static struct found_rule found[RULES_MAX];
	struct rule_query q = { .table = table, .suppress = suppress, .found = found };
	struct fib_rule_hdr frh = { .family = (uint8_t)family };
	struct nl_buf b = { 0 };
	int ret;

	nl_msg(nl, &b, RTM_GETRULE, NLM_F_DUMP, &frh, sizeof(frh));
	ret = nl_dump(nl, &b, match_rule, &q);
	nl_buf_free(&b);
	for (unsigned int i = 0; !ret && i < q.n; i++)
		ret = rule_delete(nl, &found[i]);
	if (n)
		*n = q.n;
	return ret;
}

int host_set_src_valid_mark(void)
{
	int fd = open("/proc/sys/net/ipv4/conf/all/src_valid_mark", O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int ret;

	if (fd < 0)
		return -errno;
	n = write(fd, "1\n", 2);
	ret = n == 2 ? 0 : -errno;
	close(fd);
	return ret;
}
