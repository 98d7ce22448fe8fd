/*
 * rtp: parse and write RTP headers (RFC 3550 section 5.1) with CSRCs, padding and
 * header extensions (RFC 8285 one-byte and two-byte forms).
 *
 * Parsing never copies: mcu_rtp_packet_t points into the caller's datagram, which must
 * outlive it. Every length is checked before it is read; malformed input returns a
 * negative code from error.h and never reads outside [buf, buf + len).
 */
#ifndef MCU_RTP_H
#define MCU_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcu/bytes.h"

/* Fixed header: V/P/X/CC, M/PT, sequence number, timestamp, SSRC. */
#define MCU_RTP_HEADER_SIZE 12
#define MCU_RTP_MAX_CSRC 15
/* Largest datagram accepted. Ethernet MTU: the MCU never asks for IP fragmentation,
 * and a larger datagram on a media port is either broken or hostile. */
#define MCU_RTP_MAX_DATAGRAM 1500
/* Largest header the writer produces: fixed + 15 CSRCs + extension block. */
#define MCU_RTP_MAX_HEADER (MCU_RTP_HEADER_SIZE + 4 * MCU_RTP_MAX_CSRC + 4 + 256)

/* RFC 8285 profile identifiers in the extension header. */
#define MCU_RTP_EXT_ONE_BYTE 0xBEDE
#define MCU_RTP_EXT_TWO_BYTE_MASK 0xFFF0 /* 0x100X: X = appbits */
#define MCU_RTP_EXT_TWO_BYTE 0x1000

typedef struct mcu_rtp_packet {
    bool padding;
    bool extension;
    bool marker;
    uint8_t csrc_count;
    uint8_t payload_type;
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    uint32_t csrc[MCU_RTP_MAX_CSRC];
    uint16_t ext_profile;       /* "defined by profile" field; 0 when no extension */
    const uint8_t *ext;         /* extension data (after its 4-byte header) */
    size_t ext_len;             /* bytes, a multiple of 4 */
    const uint8_t *payload;
    size_t payload_len;         /* padding excluded */
    uint8_t padding_len;        /* padding bytes, count byte included */
    size_t header_len;          /* bytes before the payload */
} mcu_rtp_packet_t;

/* Parses one RTP packet. 0 or a negative code (MCU_ERR_TRUNCATED, MCU_ERR_VERSION,
 * MCU_ERR_PADDING, MCU_ERR_EXTENSION, MCU_ERR_TOO_BIG). A packet whose payload is empty
 * after padding is valid here; payload handlers decide whether that is an error. */
int mcu_rtp_parse(const uint8_t *buf, size_t len, mcu_rtp_packet_t *pkt);

/* RFC 5761 section 4: on a multiplexed port, second byte 192..223 is RTCP. */
bool mcu_rtp_is_rtcp(const uint8_t *buf, size_t len);

/* One RFC 8285 element. */
typedef struct mcu_rtp_ext_elem {
    uint8_t id;                 /* 1..14 one-byte form, 1..255 two-byte form */
    uint8_t len;                /* data bytes: 1..16 one-byte form, 0..255 two-byte */
    const uint8_t *data;
} mcu_rtp_ext_elem_t;

typedef struct mcu_rtp_ext_iter {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool two_byte;
} mcu_rtp_ext_iter_t;

/* Starts iterating the RFC 8285 elements of a parsed packet. MCU_ERR_UNSUPPORTED when
 * the packet's extension is not in an RFC 8285 form (or absent). */
int mcu_rtp_ext_iter_init(mcu_rtp_ext_iter_t *it, const mcu_rtp_packet_t *pkt);
/* 1 and *elem filled, 0 at the end (or the one-byte form's id 15 stop), negative when an
 * element runs past the block. Padding bytes (0) between elements are skipped. */
int mcu_rtp_ext_next(mcu_rtp_ext_iter_t *it, mcu_rtp_ext_elem_t *elem);
/* Finds element `id`: 1 and *elem filled, 0 when absent, negative when malformed. */
int mcu_rtp_ext_find(const mcu_rtp_packet_t *pkt, uint8_t id, mcu_rtp_ext_elem_t *elem);

/* What to write. CSRC and extension elements are optional. */
typedef struct mcu_rtp_header {
    bool marker;
    uint8_t payload_type;
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    uint8_t csrc_count;
    const uint32_t *csrc;
    size_t n_ext;
    const mcu_rtp_ext_elem_t *ext; /* written in the one-byte form when every element
                                      fits it, else the two-byte form */
} mcu_rtp_header_t;

/* Writes the header into out[0..cap). Returns its length (> 0) or a negative code
 * (MCU_ERR_NOSPACE, MCU_ERR_INVAL for an id/len no form can carry). */
int mcu_rtp_write_header(const mcu_rtp_header_t *h, uint8_t *out, size_t cap);

#endif
