/* SPDX-License-Identifier: MIT */
/*
 * A peer's paths: where its datagrams go and which local address and
 * interface they leave from. This file is the only place that reads or
 * writes them.
 *
 * Off (WireGuard's behaviour): one endpoint, set from configuration and
 * moved only by authenticated packets (roaming: handshake initiations and
 * responses, data after the replay check), never by a cookie reply. Its
 * sticky source (where the peer's last packet arrived, so a reply leaves
 * from the address the peer sent to) is forgotten when a handshake has to
 * be retried, when routing changes, and when the host refuses it.
 *
 * Multipath (braid.h explains the modes): a table of up to BRAID_MAX_PATHS
 * paths, configured ones first, then learned ones. Each path keeps its own
 * state (probing, standby, active, suspect, down), RTT and counters. The
 * rules, with the times they use (see PATH_* below):
 *  - A send that gets nothing back on its path starts the path's silence
 *    clock (unanswered_since); any authenticated packet on the path stops it.
 *  - Silent for suspect_ns = clamp(srtt + 4 rttvar + 50 ms, 100 ms, 1 s)
 *    (for a stock peer at least four of the path's usual gaps between
 *    arrivals: one-way traffic is answered only by a keepalive every 10 s):
 *    the path is suspect. An active suspect path has its traffic duplicated
 *    onto the best standby (hedging), so a silent failure costs about
 *    suspect_ns of loss; a braid peer gets PATH_SUSPECT_PROBES probes
 *    PATH_SUSPECT_PROBE_NS apart, a stock peer a handshake initiation on
 *    that path each PATH_STOCK_PROBE_NS (the one thing it always answers).
 *  - Silent for suspect_ns + max(3 srtt, 300 ms) with at least
 *    PATH_SUSPECT_PROBES unanswered probes (braid) or one unanswered
 *    initiation (stock): down. A link event takes a path down at once.
 *  - A down path is probed (a stock peer's with initiations, every
 *    PATH_STOCK_PROBE_NS at first, backing off to PATH_STOCK_PROBE_MAX_NS as
 *    the outage lasts, and only while another path carries the traffic).
 *    One that answers again, or whose link comes back, is probing;
 *    after PATH_UP_DELAY_NS of health it may carry traffic again. Failover
 *    returns to a preferred path then, unless that path went down within its
 *    hold-down (PATH_HOLDDOWN_MIN_NS, doubled per flap up to _MAX_NS).
 *  - On a switch with nothing queued, a keepalive goes out on the new path,
 *    so a stock peer's endpoint follows within one one-way delay.
 * Only a braid peer is probed when idle (1 s per path); a stock peer is never
 * sent anything on a standby path that could move its endpoint there, save
 * a handshake initiation, which moves it only if it arrives.
 */
#ifndef BRAID_PATH_H
#define BRAID_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid.h"
#include "messages.h"

enum { ENDPOINT_STR_LEN = 64 };

/* The single endpoint's slot number in a path_choice (mode off). */
enum { PATH_MAIN = 0xff };

/* Where one message goes: a first path and a mask of further ones (copies). */
struct path_choice {
	uint8_t first;		/* a slot of the table, or PATH_MAIN */
	uint8_t also;		/* bit i: a copy on slot i too */
};

/* What a message is, for choosing where it goes. */
enum path_msg {
	PATH_MSG_DATA,		/* data and keepalives: the mode decides */
	PATH_MSG_INITIATION,	/* redundant: every live path, byte for byte */
	PATH_MSG_RESPONSE,	/* back where the initiation came from */
};

struct multipath;

struct peer_paths {
	/*
	 * Off: the endpoint (addr) and its sticky source (src, src_ifindex).
	 * Multipath: the peer's configured endpoint, the remote of every path
	 * configured without one.
	 */
	struct braid_endpoint endpoint;
	bool has_endpoint;
	struct multipath *mp;	/* NULL while the peer has never been multipath */
};

struct braid_peer;

void path_init(struct peer_paths *paths);
void path_free(struct peer_paths *paths);

/*
 * Where the next message of this kind goes; false when the peer has nowhere
 * to send. Data: pkt is the inner packet (aggregate-flow hashes its flow; may
 * be NULL otherwise), len what it takes on the wire.
 */
bool path_choose(struct braid_peer *peer, uint64_t now, enum path_msg msg, const uint8_t *pkt,
		 size_t len, struct path_choice *choice);
/* The peer has somewhere to send: an endpoint, or a path. */
bool path_can_send(const struct braid_peer *peer);
/* The endpoint of a slot of a choice (PATH_MAIN included). */
const struct braid_endpoint *path_endpoint(const struct braid_peer *peer, unsigned int slot);

/* What a sent message asks of the far end, for the paths' silence clocks. */
enum path_sent {
	PATH_SENT_DATA,		/* data: a stock peer's answer (its own data) is all we hear */
	PATH_SENT_PROBE,	/* a probe of a braid peer: it answers */
	PATH_SENT_QUIET,	/* no answer is due (a reply, a HELLO, a keepalive) */
};

/* After a message of bytes went out as choice said (each copy counted). */
void path_sent(struct braid_peer *peer, uint64_t now, const struct path_choice *choice,
	       size_t bytes, enum path_sent kind);

/* Choose, hand the datagram to the caller for each path, and count it; how many copies went. */
unsigned int path_send(struct braid_peer *peer, uint64_t now, enum path_msg msg,
		       const void *buf, size_t len, uint8_t tos);
/* Send as c says; how many copies went. */
unsigned int path_send_choice(struct braid_peer *peer, uint64_t now,
			      const struct path_choice *c, const void *buf, size_t len,
			      uint8_t tos, enum path_sent kind);
/* The same on one given slot only; 0 when there is no such path. */
unsigned int path_send_on(struct braid_peer *peer, uint64_t now, unsigned int slot,
			  const void *buf, size_t len, uint8_t tos);

/* More than one endpoint in play: a mode of ours, or the far end's that we follow. */
bool path_is_multipath(const struct braid_peer *peer);

/* What an authenticated arrival is, for what it may change. */
enum path_rx {
	PATH_RX_NEW,		/* a handshake, data or keepalive seen first: it may roam and learn */
	PATH_RX_CONTROL,	/* a probe or reply: it may learn a path, never move the traffic */
	PATH_RX_COPY,		/* a copy another path brought first: only shows its path works */
};

/*
 * An authenticated packet of len bytes arrived from `from`: the slot of the
 * path it came by, -1 when none (not multipath).
 */
int path_received(struct braid_peer *peer, uint64_t now, const struct braid_endpoint *from,
		  size_t len, enum path_rx rx);

/* A handshake completed; rtt_ns is its round trip when we initiated it (else 0). */
void path_session_started(struct braid_peer *peer, uint64_t now, uint64_t rtt_ns);

/* Let the host choose source addresses again (sticky ones, not configured ones). */
void path_clear_source(struct braid_peer *peer);

/* Run what is due; the next deadline of the peer's paths (BRAID_NEVER: none). */
uint64_t path_tick(struct braid_peer *peer, uint64_t now);
uint64_t path_next_deadline(const struct braid_peer *peer);
/* Something of a multipath peer is due at at: its next path_tick() is no later. */
void path_note_deadline(struct braid_peer *peer, uint64_t at);

/* Human-readable endpoint for logs: "198.51.100.1:51820", "[2001:db8::1]:51820" or "(none)". */
const char *endpoint_str(const struct braid_endpoint *ep, char buf[ENDPOINT_STR_LEN]);
/* The endpoint the peer's traffic goes to now, for logs. */
const char *path_str(const struct braid_peer *peer, char buf[ENDPOINT_STR_LEN]);

#endif
