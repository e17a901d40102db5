// SPDX-License-Identifier: MIT
/*
 * Cryptokey routing table: one path-compressed binary trie per family.
 *
 * Addresses are big-endian bit strings; a node holds a prefix (key, cidr)
 * and its children extend it, the child taken by the first bit past cidr.
 * Nodes exist only where a peer holds a prefix or where two branches part,
 * so every node without a peer has exactly two children. Each step down
 * lengthens the prefix, which bounds a lookup by the address length (at
 * most 33 or 129 nodes) whatever was inserted.
 *
 * Keys are kept as two host-order 64-bit words (bits 0-63, 64-127 of the
 * address; IPv4 uses the top 32 bits of the first word) so that matching a
 * prefix is a mask and a compare, and the first differing bit is a clz.
 *
 * Every node holding a prefix is also on its peer's list (a circular list
 * whose head the peer embeds), so a peer's walk and removal visit only its
 * own nodes: the trie is keyed by prefix, the lists by peer.
 *
 * Nodes are carved from chunks of ALLOWEDIPS_CHUNK_NODES (a node removed
 * goes on a free list for the next insert), so that a table of millions of
 * prefixes is freed, when it empties or the device goes, by freeing a few
 * hundred chunks rather than each node.
 *
 * Every traversal is iterative, using parent pointers.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "allowedips.h"
#include "messages.h"

struct allowedips_node {
	struct allowedips_node *bit[2];
	struct allowedips_node *parent;
	void *peer;
	struct allowedips_link peer_link;	/* on peer's list; unlinked when peer is NULL */
	uint64_t key[2];
	uint8_t cidr;
	bool is_v6;
};

enum { ALLOWEDIPS_CHUNK_NODES = 4096 };

struct allowedips_chunk {
	struct allowedips_chunk *next;
	struct allowedips_node nodes[ALLOWEDIPS_CHUNK_NODES];
};

struct addr_family {
	int af;
	uint8_t bits;
};

static bool family_of(int af, struct addr_family *f)
{
	if (af == AF_INET)
		*f = (struct addr_family){ AF_INET, 32 };
	else if (af == AF_INET6)
		*f = (struct addr_family){ AF_INET6, 128 };
	else
		return false;
	return true;
}

static struct allowedips_node **root_of(struct allowedips *table, int af)
{
	return af == AF_INET ? &table->root4 : &table->root6;
}

static struct allowedips_node *node_of(const struct allowedips_link *link)
{
	return (struct allowedips_node *)((char *)link - offsetof(struct allowedips_node, peer_link));
}

static void list_append(struct allowedips_link *list, struct allowedips_node *node)
{
	if (!list->next)
		list->next = list->prev = list;
	node->peer_link.prev = list->prev;
	node->peer_link.next = list;
	list->prev->next = &node->peer_link;
	list->prev = &node->peer_link;
}

/* Take node off its peer's list; a node without a peer is on none. */
static void list_unlink(struct allowedips_node *node)
{
	if (!node->peer)
		return;
	node->peer_link.prev->next = node->peer_link.next;
	node->peer_link.next->prev = node->peer_link.prev;
	node->peer_link.next = node->peer_link.prev = NULL;
	node->peer = NULL;
}

/* Give node to peer, at the end of its list, unless it holds node already. */
static void set_peer(struct allowedips_node *node, void *peer, struct allowedips_link *list)
{
	if (node->peer == peer)
		return;
	list_unlink(node);
	node->peer = peer;
	list_append(list, node);
}

/* The top cidr bits of a 64-bit word; shifting by 64 is undefined, hence 0. */
static uint64_t mask64(unsigned int cidr)
{
	return cidr ? ~0ULL << (64 - cidr) : 0;
}

static void key_from_addr(uint64_t key[2], const struct addr_family *f, const uint8_t *addr,
			  uint8_t cidr)
{
	uint64_t w[2] = { 0, 0 };
	int i;

	for (i = 0; i < f->bits / 8; ++i)
		w[i / 8] |= (uint64_t)addr[i] << (56 - 8 * (i % 8));
	key[0] = w[0] & mask64(cidr < 64 ? cidr : 64);
	key[1] = w[1] & mask64(cidr > 64 ? cidr - 64 : 0);
}

static void key_to_addr(uint8_t *addr, const struct addr_family *f, const uint64_t key[2])
{
	if (f->bits == 32) {
		braid_put_be32(addr, (uint32_t)(key[0] >> 32));
	} else {
		braid_put_be64(addr, key[0]);
		braid_put_be64(addr + 8, key[1]);
	}
}

/* Bit i of the key, counting from the most significant; i < 128. */
static unsigned int key_bit(const uint64_t key[2], unsigned int i)
{
	return i < 64 ? (key[0] >> (63 - i)) & 1 : (key[1] >> (127 - i)) & 1;
}

/* Whether the node's prefix covers key: its first node->cidr bits agree. */
static bool prefix_matches(const struct allowedips_node *node, const uint64_t key[2])
{
	if (node->cidr <= 64)
		return ((key[0] ^ node->key[0]) & mask64(node->cidr)) == 0;
	return key[0] == node->key[0] &&
	       ((key[1] ^ node->key[1]) & mask64(node->cidr - 64)) == 0;
}

/* Length of the common leading bits of two keys, at most limit. */
static uint8_t common_bits(const uint64_t a[2], const uint64_t b[2], uint8_t limit)
{
	uint64_t x = a[0] ^ b[0];
	unsigned int n;

	if (x)
		n = __builtin_clzll(x);
	else if ((x = a[1] ^ b[1]))
		n = 64 + __builtin_clzll(x);
	else
		n = 128;
	return n < limit ? n : limit;
}

/* The pointer that holds node: its parent's child slot, or the root. */
static struct allowedips_node **slot_of(struct allowedips_node **root,
					struct allowedips_node *node)
{
	struct allowedips_node *parent = node->parent;

	if (!parent)
		return root;
	return &parent->bit[parent->bit[1] == node];
}

static struct allowedips_node *node_alloc(struct allowedips *table)
{
	struct allowedips_chunk *chunk;
	struct allowedips_node *node = table->free_nodes;

	if (node) {
		table->free_nodes = node->bit[0];
	} else {
		if (!table->chunks || table->chunk_used == ALLOWEDIPS_CHUNK_NODES) {
			chunk = malloc(sizeof(*chunk));
			if (!chunk)
				return NULL;
			chunk->next = table->chunks;
			table->chunks = chunk;
			table->chunk_used = 0;
		}
		node = &table->chunks->nodes[table->chunk_used++];
	}
	memset(node, 0, sizeof(*node));
	return node;
}

/* Every node at once: the chunks go back. */
static void release_nodes(struct allowedips *table)
{
	struct allowedips_chunk *chunk, *next;

	for (chunk = table->chunks; chunk; chunk = next) {
		next = chunk->next;
		free(chunk);
	}
	table->chunks = NULL;
	table->chunk_used = 0;
	table->free_nodes = NULL;
}

/* A node leaves the trie; the last one out gives every chunk back. */
static void node_free(struct allowedips *table, struct allowedips_node *node)
{
	node->bit[0] = table->free_nodes;
	table->free_nodes = node;
	if (!table->root4 && !table->root6)
		release_nodes(table);
}

/* A node without a peer (set_peer() gives it one). */
static struct allowedips_node *node_new(struct allowedips *table, const uint64_t key[2],
					uint8_t cidr, bool is_v6, struct allowedips_node *parent)
{
	struct allowedips_node *node = node_alloc(table);

	if (!node)
		return NULL;
	node->key[0] = key[0];
	node->key[1] = key[1];
	node->cidr = cidr;
	node->is_v6 = is_v6;
	node->parent = parent;
	return node;
}

/*
 * Drop node if it no longer earns its place: no peer and fewer than two
 * children. A single child takes its slot. Returns whether it was freed.
 */
static bool compact(struct allowedips *table, struct allowedips_node *node)
{
	struct allowedips_node *child;

	if (node->peer || (node->bit[0] && node->bit[1]))
		return false;
	child = node->bit[0] ? node->bit[0] : node->bit[1];
	*slot_of(node->is_v6 ? &table->root6 : &table->root4, node) = child;
	if (child)
		child->parent = node->parent;
	node_free(table, node);
	return true;
}

/* Where a post-order walk starts under node: its first leaf. */
static struct allowedips_node *first_leaf(struct allowedips_node *node)
{
	while (node->bit[0] || node->bit[1])
		node = node->bit[0] ? node->bit[0] : node->bit[1];
	return node;
}

/* The post-order successor of node, computed before node may be freed. */
static struct allowedips_node *postorder_next(struct allowedips_node *node)
{
	struct allowedips_node *parent = node->parent;

	if (!parent)
		return NULL;
	if (parent->bit[0] == node && parent->bit[1])
		return first_leaf(parent->bit[1]);
	return parent;
}

/* Take every node off its peer's list; the nodes themselves go with their chunks. */
static void unlink_trie(struct allowedips_node *root)
{
	struct allowedips_node *node;

	for (node = root ? first_leaf(root) : NULL; node; node = postorder_next(node))
		list_unlink(node);
}

void allowedips_free(struct allowedips *table)
{
	unlink_trie(table->root4);
	unlink_trie(table->root6);
	allowedips_forget(table);
}

void allowedips_forget(struct allowedips *table)
{
	table->root4 = table->root6 = NULL;
	release_nodes(table);
}

/*
 * Walk down while the node's prefix covers the new one. Then either the
 * prefix exists (take it over), hangs below an empty slot (new leaf), is
 * a prefix of the node in the way (new node above it), or parts from it
 * at some bit (new branch node holding both).
 */
static int insert(struct allowedips *table, const uint64_t key[2], uint8_t cidr, bool is_v6,
		  void *peer, struct allowedips_link *list)
{
	struct allowedips_node **slot = is_v6 ? &table->root6 : &table->root4;
	struct allowedips_node *node, *parent = NULL, *leaf, *branch;
	uint8_t common = 0;

	while ((node = *slot)) {
		common = common_bits(node->key, key, node->cidr < cidr ? node->cidr : cidr);
		if (common < node->cidr)
			break;
		if (node->cidr == cidr) {
			set_peer(node, peer, list);
			return 0;
		}
		parent = node;
		slot = &node->bit[key_bit(key, node->cidr)];
	}

	leaf = node_new(table, key, cidr, is_v6, parent);
	if (!leaf)
		return -ENOMEM;
	if (!node) {
		*slot = leaf;
		set_peer(leaf, peer, list);
		return 0;
	}
	if (common == cidr) {
		leaf->bit[key_bit(node->key, cidr)] = node;
		node->parent = leaf;
		*slot = leaf;
		set_peer(leaf, peer, list);
		return 0;
	}
	/* The prefix of both, cut at the first bit where they differ. */
	branch = node_new(table, key, common, is_v6, parent);
	if (!branch) {
		node_free(table, leaf);
		return -ENOMEM;
	}
	set_peer(leaf, peer, list);
	branch->key[0] &= mask64(common < 64 ? common : 64);
	branch->key[1] &= mask64(common > 64 ? common - 64 : 0);
	branch->bit[key_bit(key, common)] = leaf;
	branch->bit[key_bit(node->key, common)] = node;
	leaf->parent = branch;
	node->parent = branch;
	*slot = branch;
	return 0;
}

int allowedips_insert(struct allowedips *table, int family, const uint8_t *addr,
		      uint8_t cidr, void *peer, struct allowedips_link *list)
{
	struct addr_family f;
	uint64_t key[2];

	if (!family_of(family, &f) || cidr > f.bits || !addr || !peer || !list)
		return -EINVAL;
	key_from_addr(key, &f, addr, cidr);
	return insert(table, key, cidr, family == AF_INET6, peer, list);
}

static struct allowedips_node *find_exact(struct allowedips_node *node, const uint64_t key[2],
					  uint8_t cidr)
{
	while (node && node->cidr <= cidr && prefix_matches(node, key)) {
		if (node->cidr == cidr)
			return node;
		node = node->bit[key_bit(key, node->cidr)];
	}
	return NULL;
}

int allowedips_remove(struct allowedips *table, int family, const uint8_t *addr,
		      uint8_t cidr, void *peer)
{
	struct allowedips_node *node, *parent;
	struct addr_family f;
	uint64_t key[2];

	/* A prefix that cannot be expressed is not held by anyone. */
	if (!family_of(family, &f) || cidr > f.bits || !addr || !peer)
		return -ENOENT;
	key_from_addr(key, &f, addr, cidr);
	node = find_exact(*root_of(table, family), key, cidr);
	if (!node || node->peer != peer)
		return -ENOENT;

	list_unlink(node);
	parent = node->parent;
	/* A leaf leaves its parent with one child; if that parent is a bare branch, it goes too. */
	if (compact(table, node) && parent)
		compact(table, parent);
	return 0;
}

void allowedips_remove_by_peer(struct allowedips *table, struct allowedips_link *list)
{
	struct allowedips_node *node, *parent;

	if (!list || !list->next)
		return;
	while (list->next != list) {
		node = node_of(list->next);
		list_unlink(node);
		parent = node->parent;
		/* As in allowedips_remove(): the node, then a bare branch it leaves behind. */
		if (compact(table, node) && parent)
			compact(table, parent);
	}
}

void *allowedips_lookup(const struct allowedips *table, int family, const uint8_t *addr)
{
	const struct allowedips_node *node;
	struct addr_family f;
	uint64_t key[2];
	void *best = NULL;

	if (!family_of(family, &f))
		return NULL;
	key_from_addr(key, &f, addr, f.bits);
	node = family == AF_INET ? table->root4 : table->root6;
	while (node && prefix_matches(node, key)) {
		if (node->peer)
			best = node->peer;
		if (node->cidr == f.bits)
			break;
		node = node->bit[key_bit(key, node->cidr)];
	}
	return best;
}

int allowedips_walk_by_peer(const struct allowedips_link *list, allowedips_walk_fn *fn,
			    void *ctx)
{
	const struct allowedips_link *link;
	const struct allowedips_node *node;
	struct addr_family f;
	uint8_t addr[16];
	int ret;

	if (!list || !list->next)
		return 0;
	for (link = list->next; link != list; link = link->next) {
		node = node_of(link);
		family_of(node->is_v6 ? AF_INET6 : AF_INET, &f);
		key_to_addr(addr, &f, node->key);
		ret = fn(ctx, f.af, addr, node->cidr);
		if (ret)
			return ret;
	}
	return 0;
}
