/* SPDX-License-Identifier: MIT */
/*
 * TUN offloads (IFF_VNET_HDR + TUNSETOFFLOAD) as pure functions over caller
 * buffers: no I/O, no allocation, no global state.
 *
 * Outbound, a TUN read yields a struct virtio_net_hdr and one packet that may
 * be a GSO super-packet; offload_split() turns it into wire-sized packets.
 * Inbound, offload_coalesce() merges consecutive TCP (and, when the kernel
 * has USO, UDP) segments of a flow into super-packets for one TUN write each.
 *
 * virtio_net_hdr fields are in host byte order: a TUN device uses native
 * endianness unless TUNSETVNETLE/TUNSETVNETBE says otherwise, and braid never
 * says otherwise.
 */
#ifndef BRAID_OFFLOAD_H
#define BRAID_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>

/* Linux 6.2 added USO; older uapi headers lack the constant, not the ABI. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

enum {
	OFFLOAD_VNET_HDR_LEN = sizeof(struct virtio_net_hdr),	/* 10 */
	OFFLOAD_BATCH_MAX = 256,	/* packets per offload_coalesce() call */
	OFFLOAD_UDP_MAX_SEGS = 64,	/* the kernel rejects more (UDP_MAX_SEGMENTS) */
	OFFLOAD_IP_MAX = 65535,		/* largest super-packet we build or accept */
	OFFLOAD_NONE = 0xffff,		/* no packet index */
};

/* offload_coalesce() flags */
enum {
	OFFLOAD_COALESCE_UDP = 1 << 0,	/* TUN_F_USO4|TUN_F_USO6 were accepted */
};

/* One's complement sums, all in memory byte order: store results with memcpy. */

/* Add len bytes at buf to a 32-bit partial sum (RFC 1071, odd tail padded with zero). */
uint32_t offload_csum_partial(const void *buf, size_t len, uint32_t sum);

/* Fold a partial sum to 16 bits and complement it: the value for a checksum field. */
uint16_t offload_csum_fold(uint32_t sum);

/* Pseudo-header partial sums (RFC 768/793, RFC 8200 8.1); len is the L4 length. */
uint32_t offload_pseudo_v4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
			   uint16_t len);
uint32_t offload_pseudo_v6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
			   uint32_t len);

/* The IPv4 header checksum over ihl_len bytes, its own field counted as zero. */
uint16_t offload_ipv4_csum(const uint8_t *iph, size_t ihl_len);

/*
 * Split what one TUN read returned: hdr (copy it out of the read buffer
 * first if that is not 2-byte aligned) and the packet pkt[0..len).
 *
 * Returns 0 when pkt itself is the one packet to send: not GSO, or GSO with a
 * payload that fits one segment; its transport checksum has been completed in
 * place if the kernel left it partial. Returns n > 0 when n segments were
 * written, segment i to segs[i] (seg_cap bytes each, length in seg_lens[i]);
 * pkt is then unchanged. Errors: -EINVAL for a header or packet that makes no
 * sense, -EOPNOTSUPP for what we do not split (UFO, IPv6 extension headers),
 * -ENOBUFS when the segments need more than max_segs buffers or seg_cap bytes.
 * hdr->hdr_len is only checked against len: the kernel may report its linear
 * length there, so header lengths come from the packet itself.
 */
int offload_split(const struct virtio_net_hdr *hdr, uint8_t *pkt, size_t len,
		  uint8_t *const segs[], size_t seg_cap, size_t seg_lens[], size_t max_segs);

/* One inbound IP packet; the OFFLOAD_VNET_HDR_LEN bytes before data are writable. */
struct offload_pkt {
	uint8_t *data;
	size_t len;
};

/* One TUN write: writev(fd, iov, iovcnt) of len bytes, virtio_net_hdr first. */
struct offload_write {
	const struct iovec *iov;
	int iovcnt;
	size_t len;
};

/*
 * Per-thread scratch for offload_coalesce(): flow table and per-packet state.
 * A zeroed value is ready; it holds nothing between calls. About 12 KiB.
 */
struct offload_coalescer {
	uint32_t gen;
	struct offload_flow_slot {
		uint32_t gen;
		uint32_t hash;
		uint16_t key_pkt;	/* a packet of this flow, to compare keys against */
		uint16_t head;		/* the open super-packet, or OFFLOAD_NONE */
	} slot[2 * OFFLOAD_BATCH_MAX];
	struct offload_item {
		uint32_t seq_next;	/* TCP sequence number the next segment must carry */
		uint16_t next;		/* next packet merged into the same write */
		uint16_t tail;		/* head only: last packet merged */
		uint16_t ip_len;	/* head only: IP length of the super-packet */
		uint16_t id_next;	/* head only: IPv4 ID the next segment must carry */
		uint16_t gso_size;
		uint16_t segs;
		uint8_t kind;
		uint8_t iph_len;
		uint8_t l4h_len;
		uint8_t csum;		/* unknown, good or bad transport checksum */
		bool is_merged;		/* written as part of an earlier packet's write */
		bool is_closed;		/* head only: nothing may follow (PSH, short) */
		bool has_psh;
	} item[OFFLOAD_BATCH_MAX];
};

/*
 * Merge a batch of decrypted inner packets, in arrival order, into TUN writes.
 *
 * Segments of one TCP flow (and, with OFFLOAD_COALESCE_UDP, one UDP flow)
 * that continue each other exactly become one GSO super-packet; everything
 * else is written alone behind a zeroed virtio_net_hdr. Per-flow order is kept;
 * each write sits at the position of its first packet. Nothing is copied:
 * a write's first iovec is the vnet_hdr (built in the first packet's headroom)
 * plus that packet, whose headers are rewritten in place; the following
 * iovecs point at the payloads of the merged packets in their own buffers.
 * So every pkts[i].data must stay valid until the writes are done.
 *
 * n <= OFFLOAD_BATCH_MAX (else -E2BIG); iov[] and writes[] must hold n
 * entries each. Merged segments' transport checksums are verified first (a
 * segment with a bad checksum is written alone for the kernel to drop, not
 * laundered by a recomputed one). Returns the number of writes.
 */
int offload_coalesce(struct offload_coalescer *c, struct offload_pkt pkts[], size_t n,
		     unsigned int flags, struct iovec iov[], struct offload_write writes[]);

#endif
