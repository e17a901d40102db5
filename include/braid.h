/* SPDX-License-Identifier: MIT */
/*
 * libbraid: the WireGuard protocol as a library with no I/O.
 *
 * The caller passes in datagrams, inner IP packets and the current monotonic
 * time; the library hands back datagrams to send, inner packets to deliver
 * (through struct braid_ops) and the next deadline at which
 * braid_device_tick() wants to run. It never reads a clock, sleeps, opens a
 * socket or starts a thread.
 *
 * Two planes:
 *  - Control plane: every function taking a struct braid_device or a
 *    struct braid_peer. One call at a time per device (the caller serialises).
 *  - Data plane: braid_keypair_seal(), braid_keypair_open() and
 *    braid_keypair_put(), marked "any thread". Each thread passes its own
 *    slot number, so a keypair's cipher contexts are never shared.
 *
 * Times are nanoseconds of a monotonic clock (CLOCK_MONOTONIC or a test's
 * simulated one) and must never go backwards. Zero is a valid time.
 */
#ifndef BRAID_H
#define BRAID_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define BRAID_VERSION "0.1.0"

enum {
	BRAID_KEY_LEN = 32,
	BRAID_DEFAULT_MTU = 1420,
	/* Bytes a transport message adds to an inner packet, before padding. */
	BRAID_DATA_OVERHEAD = 32,
	/* Largest datagram braid sends: a data message around a 65535-byte inner packet. */
	BRAID_MAX_MESSAGE_LEN = 65535 + 15 + BRAID_DATA_OVERHEAD,
	/* Peers a device may hold, as the Linux kernel module allows. */
	BRAID_MAX_PEERS = 1 << 20,
};

#define BRAID_NEVER UINT64_MAX

struct braid_device;
struct braid_peer;
struct braid_keypair;

/*
 * An underlay address: where a peer is (addr), and for a packet we received,
 * which local address and interface it arrived on (src, src_ifindex), so a
 * reply leaves from the address the peer sent to. src is all zero when unknown.
 */
struct braid_endpoint {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} addr;
	union {
		struct in_addr in4;
		struct in6_addr in6;
	} src;
	int src_ifindex;
	/*
	 * Leave by src_ifindex whatever routing would prefer (a multipath
	 * uplink). Otherwise src_ifindex only says where the peer's packet came in.
	 */
	bool pin_interface;
};

/* Reasons a packet was dropped; each has a device counter. */
enum braid_drop {
	BRAID_OK = 0,
	BRAID_DROP_MALFORMED,		/* unknown type or wrong length */
	BRAID_DROP_MAC1,		/* handshake with a bad mac1 */
	BRAID_DROP_COOKIE_SENT,		/* under load without a valid mac2: answered with a cookie */
	BRAID_DROP_RATELIMITED,		/* over the per-source handshake rate */
	BRAID_DROP_HANDSHAKE,		/* handshake failed: unknown peer, bad AEAD, wrong state */
	BRAID_DROP_HANDSHAKE_REPLAY,	/* initiation timestamp not newer than the last one */
	BRAID_DROP_HANDSHAKE_FLOOD,	/* more than INITIATIONS_PER_SECOND from one peer */
	BRAID_DROP_COOKIE,		/* cookie reply not for us or not authentic */
	BRAID_DROP_UNKNOWN_INDEX,	/* receiver index matches no session */
	BRAID_DROP_KEY_EXPIRED,		/* keypair past REJECT_AFTER_TIME or _MESSAGES */
	BRAID_DROP_DECRYPT,		/* transport message failed authentication */
	BRAID_DROP_REPLAY,		/* counter seen before or behind the window */
	BRAID_DROP_DUPLICATE,		/* multipath: a copy another path brought first */
	BRAID_DROP_INNER_MALFORMED,	/* decrypted payload is not a plausible IP packet */
	BRAID_DROP_INNER_SOURCE,	/* inner source address not in the peer's allowed IPs */
	BRAID_DROP_NO_ROUTE,		/* outbound: no peer's allowed IPs hold the destination */
	BRAID_DROP_NO_ENDPOINT,		/* outbound: the peer has no endpoint yet */
	BRAID_DROP_NO_KEY,		/* outbound: our private key is unset */
	BRAID_DROP_STAGED_OVERFLOW,	/* outbound: too many packets waiting for a handshake */
	BRAID_DROP_HANDSHAKE_GAVE_UP,	/* outbound: staged packets dropped after REKEY_ATTEMPT_TIME */
	BRAID_DROP_HANDSHAKE_BACKLOG,	/* the caller's handshake backlog was full (braid_device_count_drop) */
	BRAID_DROP_NOMEM,
	BRAID_DROP_MAX
};

const char *braid_drop_name(enum braid_drop reason);

struct braid_device_stats {
	uint64_t drops[BRAID_DROP_MAX];
	uint64_t cookie_replies_sent;
	uint64_t handshakes_under_load;	/* handshake messages seen while under load */
};

struct braid_peer_stats {
	uint64_t rx_bytes;		/* whole WireGuard messages, handshakes included */
	uint64_t tx_bytes;
	uint64_t last_handshake_ns;	/* wall clock (ops->wall_clock_ns) of the last completed handshake; 0 = never */
};

enum braid_log_level { BRAID_LOG_ERROR = 1, BRAID_LOG_VERBOSE = 2 };

/*
 * What the library needs from its caller. Buffers passed to callbacks live
 * only during the call. Callbacks must not call back into the device.
 */
struct braid_ops {
	/* Send one datagram. tos is the outer TOS byte (DSCP and ECN) to use. */
	void (*send)(void *ctx, struct braid_peer *peer, const struct braid_endpoint *to,
		     const uint8_t *buf, size_t len, uint8_t tos);
	/* Send a cookie reply to a source that is not (yet) a known peer. */
	void (*send_reply)(void *ctx, const struct braid_endpoint *to,
			   const uint8_t *buf, size_t len);
	/* Hand a decrypted inner IP packet to the host; the buffer may be modified. */
	void (*deliver)(void *ctx, struct braid_peer *peer, uint8_t *pkt, size_t len);
	/* Fill buf with cryptographically secure random bytes. */
	void (*random)(void *ctx, void *buf, size_t len);
	/* CLOCK_REALTIME in nanoseconds: for TAI64N timestamps and last-handshake times. */
	uint64_t (*wall_clock_ns)(void *ctx);
	/* Optional. A message already formatted, without a trailing newline. */
	void (*log)(void *ctx, enum braid_log_level level, const char *msg);
};

struct braid_device_config {
	/* Data-plane slots beyond slot 0 (which the control plane uses). */
	unsigned int data_threads;
	/*
	 * Handshakes per second the device processes before it counts as under
	 * load and asks every source for a cookie; 0 picks the default.
	 */
	unsigned int handshake_load_rate;
	/* Sources the handshake rate limiter tracks at once; 0 picks the default. */
	unsigned int ratelimiter_entries;
	/*
	 * Behave as a stock WireGuard peer towards multipath peers: braid's
	 * control messages are dropped unanswered, like any payload that is not
	 * an IP packet. For tests and comparisons.
	 */
	bool no_multipath;
	/* Peers the device may hold; 0, or more than BRAID_MAX_PEERS, means BRAID_MAX_PEERS. */
	size_t max_peers;
};

/* ---- Device (control plane) ---- */

/* NULL on failure (errno set). ops must outlive the device. */
struct braid_device *braid_device_new(const struct braid_device_config *config,
				      const struct braid_ops *ops, void *ctx);
/* Frees every peer and wipes every secret. */
void braid_device_free(struct braid_device *dev);

/* key NULL or all zero removes the identity (and every session). */
void braid_device_set_private_key(struct braid_device *dev, const uint8_t key[BRAID_KEY_LEN]);
bool braid_device_get_private_key(const struct braid_device *dev, uint8_t key[BRAID_KEY_LEN]);
bool braid_device_get_public_key(const struct braid_device *dev, uint8_t key[BRAID_KEY_LEN]);

/* Inner MTU, used to pad outgoing messages: padding never takes a packet past it. */
void braid_device_set_mtu(struct braid_device *dev, unsigned int mtu);

/*
 * Route, encrypt and send n inner IP packets (each a whole IPv4 or IPv6
 * packet). Packets for a peer without a session are staged and a handshake
 * is started. Returns how many were dropped; the reasons are counted.
 */
size_t braid_device_send(struct braid_device *dev, uint64_t now, uint8_t *const pkts[],
			 const size_t lens[], size_t n);

/*
 * Process one received datagram (buf is modified in place). from says where
 * it came from and which local address it arrived on. BRAID_OK, or why it
 * was dropped.
 */
enum braid_drop braid_device_receive(struct braid_device *dev, uint64_t now,
				     const struct braid_endpoint *from, uint8_t *buf, size_t len);

/* Fire every timer that is due at now; return the next deadline (BRAID_NEVER if none). */
uint64_t braid_device_tick(struct braid_device *dev, uint64_t now);
/* The next deadline, without firing anything; may be early, never late. */
uint64_t braid_device_next_deadline(const struct braid_device *dev);

/*
 * The host's routes or addresses changed: forget every peer's sticky source
 * address, so replies leave by whatever route and source the host now picks
 * until the peer's next packet shows where it is reachable.
 */
void braid_device_clear_endpoint_sources(struct braid_device *dev);

/*
 * Tell the device its caller has a handshake backlog (for example a full
 * queue in front of braid_device_receive): it counts as under load for a second.
 */
void braid_device_set_under_load(struct braid_device *dev, uint64_t now);

/*
 * For a caller whose handshake backlog is overflowing: what to do with a
 * handshake message before it takes a place there. BRAID_OK: hand it to
 * braid_device_receive() in its turn (it carries a valid cookie, so its
 * source address is real; or it is not an initiation or response). Else
 * it was dealt with here and counted: a bad mac1 dropped, anything without
 * a valid cookie answered with a cookie reply at once, which costs less
 * than queueing it and leaves the places to the senders that proved their
 * address.
 */
enum braid_drop braid_device_triage_handshake(struct braid_device *dev, uint64_t now,
					      const struct braid_endpoint *from,
					      const uint8_t *buf, size_t len);

void braid_device_get_stats(const struct braid_device *dev, struct braid_device_stats *stats);
/* Count a drop the caller decided, e.g. a failed braid_keypair_open() on a worker. */
void braid_device_count_drop(struct braid_device *dev, enum braid_drop why);

/* Peers in insertion order: pass NULL for the first. */
struct braid_peer *braid_device_next_peer(const struct braid_device *dev,
					  const struct braid_peer *prev);
size_t braid_device_peer_count(const struct braid_device *dev);
/* How many peers it may hold (braid_device_config.max_peers). */
size_t braid_device_max_peers(const struct braid_device *dev);

/*
 * A walk of the peers in insertion order that may pause between peers while
 * peers are added (the walk reaches them) and removed (the walk moves past
 * them): for a caller that hands them out a few at a time. Opened on a
 * device, it must be closed before the device is freed; a zeroed cursor is
 * closed.
 */
struct braid_peer_cursor {
	struct braid_peer *prev;		/* the last one handed out; NULL: none yet */
	struct braid_peer_cursor *link;		/* the device's open cursors */
	struct braid_device *dev;
};

void braid_peer_cursor_open(struct braid_peer_cursor *c, struct braid_device *dev);
/* The next peer, or NULL at the end. */
struct braid_peer *braid_peer_cursor_next(struct braid_peer_cursor *c);
void braid_peer_cursor_close(struct braid_peer_cursor *c);
struct braid_peer *braid_device_find_peer(const struct braid_device *dev,
					  const uint8_t public_key[BRAID_KEY_LEN]);
/* Drop every peer. */
void braid_device_clear_peers(struct braid_device *dev);

/* ---- Peers (control plane) ---- */

/*
 * NULL with errno EEXIST (already a peer), EINVAL (our own public key),
 * ENOSPC (the device holds its maximum of peers) or ENOMEM.
 */
struct braid_peer *braid_peer_new(struct braid_device *dev, const uint8_t public_key[BRAID_KEY_LEN]);
/* Remove the peer from its device, drop its staged packets and wipe its keys. */
void braid_peer_free(struct braid_peer *peer);

void braid_peer_get_public_key(const struct braid_peer *peer, uint8_t key[BRAID_KEY_LEN]);
/* key NULL or all zero removes the preshared key; new handshakes use the new one. */
void braid_peer_set_preshared_key(struct braid_peer *peer, const uint8_t key[BRAID_KEY_LEN]);
/* False when the peer has none (key is then zeroed). */
bool braid_peer_get_preshared_key(const struct braid_peer *peer, uint8_t key[BRAID_KEY_LEN]);

/*
 * Set where the peer is (endpoint->addr; its src and src_ifindex are
 * ignored): the sticky source address is forgotten, and the host picks one
 * until the peer's next authenticated packet shows where it is reachable.
 */
void braid_peer_set_endpoint(struct braid_peer *peer, const struct braid_endpoint *endpoint);
/* Where the peer's traffic goes now (multipath: the path in use); false when nowhere yet. */
bool braid_peer_get_endpoint(const struct braid_peer *peer, struct braid_endpoint *endpoint);
/*
 * The peer's own endpoint: as configured, or as it roamed when the peer is
 * not multipath; the remote of every path configured without one.
 */
bool braid_peer_get_configured_endpoint(const struct braid_peer *peer,
					struct braid_endpoint *endpoint);
/*
 * The host refused to send from to->src, the sticky source (the address is
 * gone, or routing no longer allows it): the peer forgets that source, so the
 * next datagram leaves from whatever address the host picks.
 */
void braid_peer_source_refused(struct braid_peer *peer, const struct braid_endpoint *to);

/* Seconds between keepalives; 0 turns them off. When turned on, one goes out now. */
void braid_peer_set_persistent_keepalive(struct braid_peer *peer, uint64_t now, uint16_t seconds);
uint16_t braid_peer_get_persistent_keepalive(const struct braid_peer *peer);

/* family AF_INET or AF_INET6; 0, -EINVAL or -ENOMEM. A prefix held by another peer moves here. */
int braid_peer_add_allowed_ip(struct braid_peer *peer, int family, const void *addr, uint8_t cidr);
/* 0, or -ENOENT when this peer does not hold exactly this prefix. */
int braid_peer_remove_allowed_ip(struct braid_peer *peer, int family, const void *addr, uint8_t cidr);
void braid_peer_clear_allowed_ips(struct braid_peer *peer);
typedef int braid_allowed_ip_fn(void *ctx, int family, const void *addr, uint8_t cidr);
/* Call fn for each allowed IP; returns fn's first non-zero result, or 0. */
int braid_peer_foreach_allowed_ip(const struct braid_peer *peer, braid_allowed_ip_fn *fn, void *ctx);

void braid_peer_get_stats(const struct braid_peer *peer, struct braid_peer_stats *stats);

/* Start a handshake now (unless one was sent less than REKEY_TIMEOUT ago). */
void braid_peer_initiate_handshake(struct braid_peer *peer, uint64_t now);

/*
 * ---- Multipath (control plane) ----
 *
 * A peer may reach us over several paths: a local uplink (an interface
 * and/or a local address: endpoint.src_ifindex, endpoint.src) paired with a
 * remote endpoint (endpoint.addr). Paths come from the caller (configured)
 * and, once the peer is multipath, from its authenticated packets (learned;
 * forgotten after BRAID_PATH_IDLE_SEC without a packet). At most
 * BRAID_MAX_PATHS per peer.
 *
 * Modes, per peer; off is the single-endpoint behaviour of WireGuard:
 *  - failover: everything on the most preferred live path (lowest prio,
 *    then configuration order); a path goes down at once when the caller
 *    says its link did, or after an RTT-based silence; while the active path
 *    is suspect every message is also sent on the best standby. Traffic
 *    returns to a preferred path once it has been healthy for a while, later
 *    each time it flaps.
 *  - redundant: every message on every live path (sealed once); a braid
 *    receiver keeps the first copy (the replay window drops the others).
 *  - aggregate: braid at both ends; until the far end is known to be braid it
 *    behaves as failover. Each packet goes by the path where it would arrive
 *    first (its queue over its measured rate, plus its one-way delay), in
 *    runs long enough for segmentation offload; the receiver puts them back
 *    in counter order, waiting for a gap at most a bound derived from the
 *    paths' delay difference and jitter. Rates come from the far end's
 *    reports: down when a path's delay grows (its queue fills), up otherwise.
 *  - aggregate-flow: the same paths and rates, but each inner flow (its
 *    addresses, protocol and ports) keeps to one path, chosen in proportion
 *    to the rates: no reordering, and no single flow faster than one path.
 * Between two braid ends, encrypted probes (transport messages that are not
 * IP packets, which a stock WireGuard peer drops) measure each path and a
 * HELLO on the active path tells each side the other is braid; the side
 * without paths of its own then follows: it learns the paths and, if the
 * far end is redundant, sends on all of them too. Against a stock peer,
 * liveness comes only from what it sends and from handshakes, and nothing
 * is sent on a standby path that could move its endpoint there for good.
 */
enum {
	BRAID_MAX_PATHS = 8,
	BRAID_PATH_NAME_LEN = 48,	/* an interface name or an IPv6 address, and a NUL */
	BRAID_PATH_IDLE_SEC = 120,
};

enum braid_multipath {
	BRAID_MULTIPATH_OFF,
	BRAID_MULTIPATH_FAILOVER,
	BRAID_MULTIPATH_REDUNDANT,
	BRAID_MULTIPATH_AGGREGATE,
	BRAID_MULTIPATH_AGGREGATE_FLOW,
};

/* What the far end is: not yet known, braid (it answered a HELLO), or not (it did not). */
enum braid_peer_kind { BRAID_PEER_UNKNOWN, BRAID_PEER_BRAID, BRAID_PEER_STOCK };

enum braid_path_state {
	BRAID_PATH_DOWN,	/* link down, no route, or silent too long */
	BRAID_PATH_PROBING,	/* new or back: not used until it has answered for a while */
	BRAID_PATH_STANDBY,	/* live, not carrying traffic (failover) */
	BRAID_PATH_ACTIVE,	/* carrying traffic */
	BRAID_PATH_SUSPECT,	/* active, but silent past its timeout: traffic also goes elsewhere */
};

struct braid_path_config {
	/*
	 * addr: the peer's address on this path (AF_UNSPEC: the peer's endpoint);
	 * src_ifindex: the interface to send on (0: routing decides); src: the
	 * local address to send from (all zero: the host picks).
	 */
	struct braid_endpoint endpoint;
	char name[BRAID_PATH_NAME_LEN];	/* shown by braid_peer_get_paths() */
	uint8_t prio;			/* lower is preferred */
	bool is_usable;			/* its link is up and has a route */
	uint64_t rate_cap_bps;		/* aggregation sends no faster than this; 0: no limit */
};

struct braid_path_info {
	struct braid_endpoint endpoint;	/* as sent: addr remote, src/src_ifindex local */
	char name[BRAID_PATH_NAME_LEN];
	enum braid_path_state state;
	uint8_t prio;
	bool is_learned;
	uint64_t srtt_ns, rttvar_ns;	/* 0: not measured yet */
	uint32_t loss_ppm;		/* unanswered probes, smoothed */
	uint64_t tx_bytes, rx_bytes, tx_packets, rx_packets;
	uint64_t wins;			/* received copies that arrived first (redundant) */
	uint64_t last_rx_ns;		/* monotonic; BRAID_NEVER: nothing yet */
	uint64_t rate_bps;		/* aggregation: what it delivers, as measured; 0: unknown */
	int64_t owd_us;			/* its one-way delay beyond the fastest path's; -1: unknown */
};

/* The receive reorder buffer of a peer whose far end aggregates. */
struct braid_reorder_stats {
	uint64_t held;			/* packets that waited for an earlier one */
	uint64_t released;		/* of those, delivered in order */
	uint64_t gave_up;		/* missing packets no longer waited for */
	uint64_t late;			/* packets delivered after their gap was given up */
	uint64_t hold_p99_us;		/* 99% of the holds were shorter (0: none) */
	uint64_t bound_us;		/* how long a gap may wait now */
	uint64_t gave_up_early;		/* of gave_up, before the bound: every path had gone past */
	uint64_t skew_us;		/* how long a gap waits then (0: not known yet) */
	uint64_t even_us;		/* how long the fastest path's packets wait for the slowest's */
};

/* 0, or -EINVAL for an unknown mode. Paths are kept; switching off forgets the learned ones. */
int braid_peer_set_multipath(struct braid_peer *peer, uint64_t now, enum braid_multipath mode);
enum braid_multipath braid_peer_get_multipath(const struct braid_peer *peer);
enum braid_peer_kind braid_peer_get_kind(const struct braid_peer *peer);
/* False when the peer does not reorder (its far end does not aggregate per packet). */
bool braid_peer_get_reorder_stats(const struct braid_peer *peer, struct braid_reorder_stats *st);

/*
 * Replace the configured paths with these n (at most BRAID_MAX_PATHS, 0
 * clears them); learned paths stay. A path equal to one the peer has (same
 * interface, local address and remote address) keeps its state and
 * counters. 0, -EINVAL (bad family, a remote of the wrong family) or -E2BIG.
 */
int braid_peer_set_paths(struct braid_peer *peer, uint64_t now,
			 const struct braid_path_config *paths, size_t n);
/* Up to max paths, configured first in their order, then learned; returns how many there are. */
size_t braid_peer_get_paths(const struct braid_peer *peer, struct braid_path_info *paths,
			    size_t max);
/*
 * The link of interface ifindex went down or came back up (a carrier loss,
 * an address or the default route gone): every path sending on it changes
 * state now, and a failover happens in this call.
 */
void braid_device_set_link(struct braid_device *dev, uint64_t now, int ifindex, bool is_usable);

/*
 * Batches for callers with worker threads: the control plane prepares a
 * batch (routing, nonces, staging, keypair lookups, handshakes), workers
 * seal or open each job with braid_keypair_seal()/_open(), and the control
 * plane finishes it (counters, timers, replay window, delivery) in batch
 * order, so each peer's packets keep their order.
 */
struct braid_send_job {
	struct braid_keypair *kp;	/* NULL: prepare staged or dropped it; nothing to seal */
	uint64_t nonce;
	struct braid_endpoint to;	/* where the sealed message goes */
	uint8_t path;			/* to's path slot (for braid_peer_path_endpoint()) */
	uint8_t also;			/* multipath: bit i set, a copy goes to path slot i too */
	uint8_t tos;
	size_t sealed_len;		/* the caller sets it after sealing, per copy */
};

struct braid_receive_job {
	struct braid_keypair *kp;	/* NULL: not a data message, or already dropped */
	uint64_t nonce;
	size_t inner_len;
	bool opened;			/* the caller sets it from braid_keypair_open() */
};

/*
 * Control plane: where copy i of a send job goes (a slot of job->also), valid
 * until the next control-plane call.
 */
const struct braid_endpoint *braid_peer_path_endpoint(const struct braid_peer *peer,
						      unsigned int slot);
/* Control plane. Returns how many jobs have a keypair to seal with. */
size_t braid_device_send_prepare(struct braid_device *dev, uint64_t now, uint8_t *const pkts[],
				 const size_t lens[], size_t n, struct braid_send_job jobs[]);
/* Control plane, after the sealed messages are handed to the network. */
void braid_device_send_finish(struct braid_device *dev, uint64_t now,
			      struct braid_send_job jobs[], size_t n);
/*
 * Control plane. Handshake and cookie messages are processed here, at
 * once; data messages get a job. Returns how many jobs have a keypair.
 */
size_t braid_device_receive_prepare(struct braid_device *dev, uint64_t now,
				    const struct braid_endpoint from[], uint8_t *const bufs[],
				    const size_t lens[], size_t n, struct braid_receive_job jobs[]);
/* Control plane: replay check, roaming, timers and delivery of every opened job, in order. */
void braid_device_receive_finish(struct braid_device *dev, uint64_t now,
				 const struct braid_endpoint from[], uint8_t *const bufs[],
				 struct braid_receive_job jobs[], size_t n);

/* Bytes braid_keypair_seal() writes for an inner packet of len bytes at this MTU. */
size_t braid_message_len(size_t len, unsigned int mtu);
/*
 * Any thread: build the transport message for one inner packet into out
 * (braid_message_len() bytes; out must not overlap pkt). Returns its length.
 */
size_t braid_keypair_seal(struct braid_keypair *kp, unsigned int slot, uint64_t nonce,
			  uint8_t *out, const uint8_t *pkt, size_t len, unsigned int mtu);

/*
 * Any thread: authenticate and decrypt a transport message in place. On
 * success *nonce is its counter and the padded inner packet is msg[16, 16 + *inner_len).
 */
bool braid_keypair_open(struct braid_keypair *kp, unsigned int slot, uint8_t *msg, size_t len,
			uint64_t *nonce, size_t *inner_len) __attribute__((warn_unused_result));
/* The peer a keypair belongs to. */
struct braid_peer *braid_keypair_peer(const struct braid_keypair *kp);
/* Any thread: drop a reference. */
void braid_keypair_put(struct braid_keypair *kp);

/* ---- Keys ---- */

/* Derive the X25519 public key; clamps a copy of the private key first. */
void braid_public_key(uint8_t pub[BRAID_KEY_LEN], const uint8_t priv[BRAID_KEY_LEN]);
/* Turn 32 random bytes into a private key (clamped in place). */
void braid_clamp_private_key(uint8_t key[BRAID_KEY_LEN]);
/* Base64 (44 characters and a NUL) and hex (64 and a NUL). Decoders return false on bad input. */
void braid_key_to_base64(char out[45], const uint8_t key[BRAID_KEY_LEN]);
bool braid_key_from_base64(uint8_t key[BRAID_KEY_LEN], const char *in);
void braid_key_to_hex(char out[65], const uint8_t key[BRAID_KEY_LEN]);
bool braid_key_from_hex(uint8_t key[BRAID_KEY_LEN], const char *in);

/* Must be called once before anything else; false when libcrypto is unusable. */
bool braid_init(void);

#endif
