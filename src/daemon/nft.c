// SPDX-License-Identifier: MIT
/*
 * wg-quick's nftables table, built as nf_tables netlink messages (see
 * nft.h). Each rule is the expression list nft(8) compiles the rule's text
 * into, so `nft list table ip wg-quick-wg0` prints the same rules whichever
 * tool made them. A whole table is one batch: the kernel applies all of it
 * or none.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "nft.h"
#include "nl.h"

enum { NFT_REG1 = NFT_REG_1, UDP_PROTO = 17 };

static uint16_t nft_type(int msg)
{
	return (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | msg);
}

static void batch_mark(struct nl_sock *nl, struct nl_buf *b, int type)
{
	struct nfgenmsg g = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0,
			      .res_id = htons(NFNL_SUBSYS_NFTABLES) };

	nl_msg(nl, b, (uint16_t)type, 0, &g, sizeof(g));
}

static uint32_t nft_msg(struct nl_sock *nl, struct nl_buf *b, int msg, uint16_t flags, int family)
{
	struct nfgenmsg g = { .nfgen_family = (uint8_t)family, .version = NFNETLINK_V0 };

	return nl_msg(nl, b, nft_type(msg), flags | NLM_F_ACK, &g, sizeof(g));
}

static const char *table_name(char *buf, size_t len, const char *ifname)
{
	snprintf(buf, len, "wg-quick-%s", ifname);
	return buf;
}

/* ---- Expressions ---- */

/* Open one expression of a rule's list: returns the offsets to close, data inside elem. */
static void expr_begin(struct nl_buf *b, const char *name, size_t *elem, size_t *data)
{
	*elem = nl_nest(b, NFTA_LIST_ELEM);
	nl_put_str(b, NFTA_EXPR_NAME, name);
	*data = nl_nest(b, NFTA_EXPR_DATA);
}

static void expr_end(struct nl_buf *b, size_t elem, size_t data)
{
	nl_nest_end(b, data);
	nl_nest_end(b, elem);
}

static void meta_load(struct nl_buf *b, uint32_t key)
{
	size_t e, d;

	expr_begin(b, "meta", &e, &d);
	nl_put_be32(b, NFTA_META_DREG, NFT_REG1);
	nl_put_be32(b, NFTA_META_KEY, key);
	expr_end(b, e, d);
}

static void meta_set(struct nl_buf *b, uint32_t key)
{
	size_t e, d;

	expr_begin(b, "meta", &e, &d);
	nl_put_be32(b, NFTA_META_KEY, key);
	nl_put_be32(b, NFTA_META_SREG, NFT_REG1);
	expr_end(b, e, d);
}

static void ct_load_mark(struct nl_buf *b)
{
	size_t e, d;

	expr_begin(b, "ct", &e, &d);
	nl_put_be32(b, NFTA_CT_DREG, NFT_REG1);
	nl_put_be32(b, NFTA_CT_KEY, NFT_CT_MARK);
	expr_end(b, e, d);
}

static void ct_set_mark(struct nl_buf *b)
{
	size_t e, d;

	expr_begin(b, "ct", &e, &d);
	nl_put_be32(b, NFTA_CT_KEY, NFT_CT_MARK);
	nl_put_be32(b, NFTA_CT_SREG, NFT_REG1);
	expr_end(b, e, d);
}

static void cmp(struct nl_buf *b, uint32_t op, const void *value, size_t len)
{
	size_t e, d, v;

	expr_begin(b, "cmp", &e, &d);
	nl_put_be32(b, NFTA_CMP_SREG, NFT_REG1);
	nl_put_be32(b, NFTA_CMP_OP, op);
	v = nl_nest(b, NFTA_CMP_DATA);
	nl_put(b, NFTA_DATA_VALUE, value, len);
	nl_nest_end(b, v);
	expr_end(b, e, d);
}

static void payload_daddr(struct nl_buf *b, int family)
{
	size_t e, d;

	expr_begin(b, "payload", &e, &d);
	nl_put_be32(b, NFTA_PAYLOAD_DREG, NFT_REG1);
	nl_put_be32(b, NFTA_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
	/* The destination address: offset 16 in IPv4's header, 24 in IPv6's. */
	nl_put_be32(b, NFTA_PAYLOAD_OFFSET, family == AF_INET ? 16 : 24);
	nl_put_be32(b, NFTA_PAYLOAD_LEN, family == AF_INET ? 4 : 16);
	expr_end(b, e, d);
}

static void fib_saddr_type(struct nl_buf *b)
{
	size_t e, d;

	expr_begin(b, "fib", &e, &d);
	nl_put_be32(b, NFTA_FIB_DREG, NFT_REG1);
	nl_put_be32(b, NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
	nl_put_be32(b, NFTA_FIB_FLAGS, NFTA_FIB_F_SADDR);
	expr_end(b, e, d);
}

static void verdict_drop(struct nl_buf *b)
{
	size_t e, d, data, verdict;

	expr_begin(b, "immediate", &e, &d);
	nl_put_be32(b, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
	data = nl_nest(b, NFTA_IMMEDIATE_DATA);
	verdict = nl_nest(b, NFTA_DATA_VERDICT);
	nl_put_be32(b, NFTA_VERDICT_CODE, NF_DROP);
	nl_nest_end(b, verdict);
	nl_nest_end(b, data);
	expr_end(b, e, d);
}

/* ---- Tables, chains, rules ---- */

static void add_chain(struct nl_sock *nl, struct nl_buf *b, int family, const char *table,
		      const char *chain, uint32_t hook, int32_t priority)
{
	size_t h;

	nft_msg(nl, b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, family);
	nl_put_str(b, NFTA_CHAIN_TABLE, table);
	nl_put_str(b, NFTA_CHAIN_NAME, chain);
	h = nl_nest(b, NFTA_CHAIN_HOOK);
	nl_put_be32(b, NFTA_HOOK_HOOKNUM, hook);
	nl_put_be32(b, NFTA_HOOK_PRIORITY, (uint32_t)priority);
	nl_nest_end(b, h);
	nl_put_str(b, NFTA_CHAIN_TYPE, "filter");
}

/* Start a rule appended to chain; returns the offset of its expression list. */
static size_t rule_begin(struct nl_sock *nl, struct nl_buf *b, int family, const char *table,
			 const char *chain)
{
	nft_msg(nl, b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, family);
	nl_put_str(b, NFTA_RULE_TABLE, table);
	nl_put_str(b, NFTA_RULE_CHAIN, chain);
	return nl_nest(b, NFTA_RULE_EXPRESSIONS);
}

/* iifname != IFNAME <family> daddr ADDRESS fib saddr type != local drop */
static void rule_preraw(struct nl_sock *nl, struct nl_buf *b, int family, const char *table,
			const char *ifname, const struct prefix *addr)
{
	char name[IFNAMSIZ] = { 0 };
	uint32_t local = RTN_LOCAL;
	size_t list = rule_begin(nl, b, family, table, "preraw");

	snprintf(name, sizeof(name), "%s", ifname);
	meta_load(b, NFT_META_IIFNAME);
	cmp(b, NFT_CMP_NEQ, name, sizeof(name));
	payload_daddr(b, family);
	cmp(b, NFT_CMP_EQ, addr->addr, family == AF_INET ? 4 : 16);
	fib_saddr_type(b);
	cmp(b, NFT_CMP_NEQ, &local, sizeof(local));
	verdict_drop(b);
	nl_nest_end(b, list);
}

/* meta l4proto udp mark MARK ct mark set mark */
static void rule_postmangle(struct nl_sock *nl, struct nl_buf *b, int family, const char *table,
			    uint32_t mark)
{
	uint8_t udp = UDP_PROTO;
	size_t list = rule_begin(nl, b, family, table, "postmangle");

	meta_load(b, NFT_META_L4PROTO);
	cmp(b, NFT_CMP_EQ, &udp, sizeof(udp));
	meta_load(b, NFT_META_MARK);
	cmp(b, NFT_CMP_EQ, &mark, sizeof(mark));
	meta_load(b, NFT_META_MARK);
	ct_set_mark(b);
	nl_nest_end(b, list);
}

/* meta l4proto udp meta mark set ct mark */
static void rule_premangle(struct nl_sock *nl, struct nl_buf *b, int family, const char *table)
{
	uint8_t udp = UDP_PROTO;
	size_t list = rule_begin(nl, b, family, table, "premangle");

	meta_load(b, NFT_META_L4PROTO);
	cmp(b, NFT_CMP_EQ, &udp, sizeof(udp));
	ct_load_mark(b);
	meta_set(b, NFT_META_MARK);
	nl_nest_end(b, list);
}

static int run_batch(struct nl_sock *nl, struct nl_buf *b, uint32_t last)
{
	int ret;

	batch_mark(nl, b, NFNL_MSG_BATCH_END);
	ret = nl_transact(nl, b, last);
	nl_buf_free(b);
	return ret;
}

int nft_add_tunnel_table(const char *ifname, int family, const struct prefix *addrs,
			 unsigned int n_addrs, uint32_t mark)
{
	int pf = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	struct nl_sock nl;
	struct nl_buf b = { 0 };
	char table[64];
	uint32_t last;
	int ret = nl_open(&nl, NETLINK_NETFILTER);

	if (ret)
		return ret;
	table_name(table, sizeof(table), ifname);
	batch_mark(&nl, &b, NFNL_MSG_BATCH_BEGIN);
	nft_msg(&nl, &b, NFT_MSG_NEWTABLE, NLM_F_CREATE, pf);
	nl_put_str(&b, NFTA_TABLE_NAME, table);
	add_chain(&nl, &b, pf, table, "preraw", NF_INET_PRE_ROUTING, -300);
	add_chain(&nl, &b, pf, table, "premangle", NF_INET_PRE_ROUTING, -150);
	add_chain(&nl, &b, pf, table, "postmangle", NF_INET_POST_ROUTING, -150);
	for (unsigned int i = 0; i < n_addrs; i++)
		if (addrs[i].family == family)
			rule_preraw(&nl, &b, pf, table, ifname, &addrs[i]);
	rule_postmangle(&nl, &b, pf, table, mark);
	rule_premangle(&nl, &b, pf, table);
	last = nl.seq;
	ret = run_batch(&nl, &b, last);
	nl_close(&nl);
	return ret;
}

struct table_list {
	const char *name;
	int families[8];
	unsigned int n;
};

static int match_table_name(const struct nlmsghdr *nh, void *ctx)
{
	struct table_list *l = ctx;
	const struct nfgenmsg *g = NLMSG_DATA(nh);
	const struct nlattr *tb[NFTA_TABLE_MAX + 1];

	if (nh->nlmsg_type != nft_type(NFT_MSG_NEWTABLE) || l->n >= 8)
		return 0;
	nl_parse(nh, sizeof(*g), tb, NFTA_TABLE_MAX);
	if (tb[NFTA_TABLE_NAME] && !strncmp(nl_data(tb[NFTA_TABLE_NAME]), l->name,
					    nl_len(tb[NFTA_TABLE_NAME])) &&
	    strlen(l->name) + 1 == nl_len(tb[NFTA_TABLE_NAME]))
		l->families[l->n++] = g->nfgen_family;
	return 0;
}

int nft_delete_tunnel_tables(const char *ifname)
{
	struct nl_sock nl;
	struct nl_buf b = { 0 };
	char table[64];
	struct table_list l = { .name = table_name(table, sizeof(table), ifname) };
	int ret = nl_open(&nl, NETLINK_NETFILTER);

	if (ret)
		return ret;
	nft_msg(&nl, &b, NFT_MSG_GETTABLE, NLM_F_DUMP, NFPROTO_UNSPEC);
	/* A dump is not acknowledged: it ends with NLMSG_DONE. */
	((struct nlmsghdr *)b.data)->nlmsg_flags &= (uint16_t)~NLM_F_ACK;
	ret = b.failed ? -ENOMEM : nl_dump(&nl, &b, match_table_name, &l);
	nl_buf_free(&b);
	if (!ret && l.n) {
		batch_mark(&nl, &b, NFNL_MSG_BATCH_BEGIN);
		for (unsigned int i = 0; i < l.n; i++) {
			nft_msg(&nl, &b, NFT_MSG_DELTABLE, 0, l.families[i]);
			nl_put_str(&b, NFTA_TABLE_NAME, table);
		}
		ret = run_batch(&nl, &b, nl.seq);
	}
	nl_close(&nl);
	return ret;
}
