// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the allowed-IPs trie (src/core/allowedips.c) run by a
 * byte-coded program of insert, remove, remove_by_peer, lookup, walk and
 * free, each checked against a deliberately naive model: a flat list of
 * (family, masked address, cidr, peer) searched linearly. Any disagreement
 * is an abort().
 *
 * Addresses come either straight from the input or from a small pool of
 * related prefixes with a few bits flipped, so that programs build deep
 * tries with shared prefixes, splits and exact overlaps.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "allowedips.h"

enum {
	MODEL_MAX = 1024,
	N_PEERS = 4,
	WALK_MAX = MODEL_MAX,
};

struct entry {
	int family;
	uint8_t addr[16];
	uint8_t cidr;
	void *peer;
};

static struct entry model[MODEL_MAX];
static size_t model_len;
/* A fake peer is nothing but its list of prefixes: the peer and its list are one address. */
static struct allowedips_link peer_objects[N_PEERS];

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t in_u8(struct input *in)
{
	if (!in->n)
		return 0;
	--in->n;
	return *in->p++;
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_allowedips: trie and model disagree: %s\n", what);
		abort();
	}
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static unsigned int family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static void mask(uint8_t *addr, size_t len, unsigned int cidr)
{
	size_t i;

	for (i = 0; i < len; ++i, cidr = cidr > 8 ? cidr - 8 : 0)
		if (cidr < 8)
			addr[i] &= (uint8_t)(0xff00 >> cidr);
}

static bool covers(const struct entry *e, int family, const uint8_t *addr)
{
	uint8_t a[16];

	if (e->family != family)
		return false;
	memcpy(a, addr, addr_len(family));
	mask(a, addr_len(family), e->cidr);
	return !memcmp(a, e->addr, addr_len(family));
}

static struct entry *model_find(int family, const uint8_t *masked, uint8_t cidr)
{
	size_t i;

	for (i = 0; i < model_len; ++i)
		if (model[i].family == family && model[i].cidr == cidr &&
		    !memcmp(model[i].addr, masked, addr_len(family)))
			return &model[i];
	return NULL;
}

static void *model_lookup(int family, const uint8_t *addr)
{
	const struct entry *best = NULL;
	size_t i;

	for (i = 0; i < model_len; ++i)
		if (covers(&model[i], family, addr) && (!best || model[i].cidr > best->cidr))
			best = &model[i];
	return best ? best->peer : NULL;
}

/* Family: mostly IPv4 or IPv6, sometimes one the table must refuse. */
static int pick_family(uint8_t sel)
{
	if ((sel & 0x1f) == 0x1f)
		return sel & 0x20 ? AF_UNIX : 0;
	return sel & 1 ? AF_INET6 : AF_INET;
}

static void *pick_peer(uint8_t sel)
{
	sel %= N_PEERS + 1;
	return sel == N_PEERS ? NULL : &peer_objects[sel];
}

/* An address: raw input bytes, or one of a few related bases with one byte changed. */
static void pick_addr(struct input *in, uint8_t sel, uint8_t addr[16])
{
	static const uint8_t bases[4][16] = {
		{ 192, 0, 2, 1, 0x20, 0x01, 0x0d, 0xb8 },
		{ 192, 0, 2, 129, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 1 },
		{ 10, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb9, 0x80 },
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		  0xff, 0xff, 0xff },
	};
	size_t i;

	if (sel & 0x40) {
		for (i = 0; i < 16; ++i)
			addr[i] = in_u8(in);
		return;
	}
	memcpy(addr, bases[sel >> 1 & 3], 16);
	if (sel & 0x80) {
		uint8_t pos = in_u8(in);

		addr[pos % 16] ^= in_u8(in);
	}
}

static void op_insert(struct allowedips *t, struct input *in)
{
	uint8_t sel = in_u8(in), addr[16], masked[16];
	int family = pick_family(sel);
	uint8_t cidr = in_u8(in);
	void *peer = pick_peer(in_u8(in));
	struct entry *e;
	bool valid;
	int ret;

	pick_addr(in, sel, addr);
	ret = allowedips_insert(t, family, addr, cidr, peer, peer);
	valid = (family == AF_INET || family == AF_INET6) && cidr <= family_bits(family) && peer;
	if (!valid) {
		check(ret == -EINVAL, "insert of an invalid prefix is -EINVAL");
		return;
	}
	check(ret == 0, "insert of a valid prefix succeeds");
	memcpy(masked, addr, 16);
	mask(masked, addr_len(family), cidr);
	e = model_find(family, masked, cidr);
	if (e) {
		e->peer = peer;	/* a prefix another peer held moves */
		return;
	}
	if (model_len == MODEL_MAX) {
		/* The model is full: keep the trie equal to it by undoing the insert. */
		check(!allowedips_remove(t, family, addr, cidr, peer), "undo insert");
		return;
	}
	e = &model[model_len++];
	memset(e, 0, sizeof(*e));
	e->family = family;
	memcpy(e->addr, masked, 16);
	e->cidr = cidr;
	e->peer = peer;
}

static void op_remove(struct allowedips *t, struct input *in)
{
	uint8_t sel = in_u8(in), addr[16], masked[16];
	int family = pick_family(sel);
	uint8_t cidr = in_u8(in);
	void *peer = pick_peer(in_u8(in));
	struct entry *e = NULL;
	int ret;

	pick_addr(in, sel, addr);
	ret = allowedips_remove(t, family, addr, cidr, peer);
	if ((family == AF_INET || family == AF_INET6) && cidr <= family_bits(family)) {
		memcpy(masked, addr, 16);
		mask(masked, addr_len(family), cidr);
		e = model_find(family, masked, cidr);
	}
	if (!e || !peer || e->peer != peer) {
		check(ret == -ENOENT, "remove of a prefix the peer does not hold is -ENOENT");
		return;
	}
	check(ret == 0, "remove of a held prefix succeeds");
	*e = model[--model_len];
}

static void op_remove_by_peer(struct allowedips *t, struct input *in)
{
	void *peer = pick_peer(in_u8(in));
	size_t i;

	allowedips_remove_by_peer(t, peer);
	if (!peer)
		return;
	for (i = 0; i < model_len;) {
		if (model[i].peer == peer)
			model[i] = model[--model_len];
		else
			++i;
	}
}

static void op_lookup(struct allowedips *t, struct input *in)
{
	uint8_t sel = in_u8(in), addr[16];
	int family = pick_family(sel);

	pick_addr(in, sel, addr);
	if (family != AF_INET && family != AF_INET6) {
		check(!allowedips_lookup(t, family, addr), "lookup in an unknown family is NULL");
		return;
	}
	check(allowedips_lookup(t, family, addr) == model_lookup(family, addr),
	      "longest-prefix match");
}

struct walk {
	struct entry seen[WALK_MAX];
	size_t n, stop_at;
};

static int walk_fn(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk *wk = ctx;
	struct entry *e;

	check(family == AF_INET || family == AF_INET6, "walk family");
	check(cidr <= family_bits(family), "walk cidr");
	check(wk->n < WALK_MAX, "walk visits no more than the model holds");
	e = &wk->seen[wk->n++];
	memset(e, 0, sizeof(*e));
	e->family = family;
	memcpy(e->addr, addr, addr_len(family));
	e->cidr = cidr;
	return wk->n == wk->stop_at ? 7 : 0;
}

static void op_walk(struct allowedips *t, struct input *in)
{
	static struct walk wk;
	void *peer = pick_peer(in_u8(in));
	size_t i, j, held = 0;
	int ret;

	wk.n = 0;
	wk.stop_at = in_u8(in) % 8;	/* 0: never stop early */
	ret = allowedips_walk_by_peer(peer, walk_fn, &wk);
	if (!peer) {
		check(ret == 0 && wk.n == 0, "walk of no peer visits nothing");
		return;
	}
	for (i = 0; i < model_len; ++i)
		held += model[i].peer == peer;
	if (wk.stop_at && wk.stop_at <= held) {
		check(ret == 7 && wk.n == wk.stop_at, "walk stops at the first non-zero");
	} else {
		check(ret == 0 && wk.n == held, "walk visits every prefix of the peer");
	}
	/* Each visited prefix is one the model gives this peer, and none twice. */
	for (i = 0; i < wk.n; ++i) {
		const struct entry *e = model_find(wk.seen[i].family, wk.seen[i].addr,
						   wk.seen[i].cidr);

		check(e && e->peer == peer, "walked prefix is held by the peer, masked");
		for (j = 0; j < i; ++j)
			check(wk.seen[j].family != wk.seen[i].family ||
			      wk.seen[j].cidr != wk.seen[i].cidr ||
			      memcmp(wk.seen[j].addr, wk.seen[i].addr, 16),
			      "walk visits a prefix once");
	}
}

/* Every prefix in the model, looked up at its first and last address. */
static void check_all(struct allowedips *t)
{
	uint8_t addr[16];
	size_t i, j, len;
	unsigned int cidr;

	for (i = 0; i < model_len; ++i) {
		const struct entry *e = &model[i];

		len = addr_len(e->family);
		memcpy(addr, e->addr, 16);
		check(allowedips_lookup(t, e->family, addr) == model_lookup(e->family, addr),
		      "lookup of a prefix's first address");
		for (j = 0, cidr = e->cidr; j < len; ++j, cidr = cidr > 8 ? cidr - 8 : 0)
			if (cidr < 8)
				addr[j] |= (uint8_t)(0xff >> cidr);
		check(allowedips_lookup(t, e->family, addr) == model_lookup(e->family, addr),
		      "lookup of a prefix's last address");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct allowedips table = { 0 };
	struct input in = { data, size };

	model_len = 0;
	while (in.n) {
		switch (in_u8(&in) % 7) {
		case 0:
		case 1:
			op_insert(&table, &in);
			break;
		case 2:
			op_remove(&table, &in);
			break;
		case 3:
			op_remove_by_peer(&table, &in);
			break;
		case 4:
			op_lookup(&table, &in);
			break;
		case 5:
			op_walk(&table, &in);
			break;
		case 6:
			if (in_u8(&in) == 0xff) {
				allowedips_free(&table);
				model_len = 0;
			}
			break;
		}
	}
	check_all(&table);
	allowedips_free(&table);
	check(!table.root4 && !table.root6, "free empties the table");
	return 0;
}
