/*
 * rtcp: parse and write RTCP compound packets (RFC 3550, RFC 4585, RFC 5104,
 * draft-alvestrand-rmcat-remb), reduced-size RTCP (RFC 5506) tolerated.
 *
 * Parsing never copies and never allocates: a parsed packet points into the caller's
 * datagram, which must outlive it. Lists whose length is bounded only by the packet
 * (NACK, FIR, TMMBR/TMMBN items, REMB SSRCs) are read with the accessor functions.
 * Every length is checked before it is read; a compound with any malformed packet is
 * rejected whole by mcu_rtcp_validate() (RFC 3550 A.2 header validity checks, relaxed
 * for RFC 5506: the first packet need not be SR/RR).
 *
 * Writing appends to a caller-owned buffer through mcu_rtcp_writer_t; the first error
 * (MCU_ERR_NOSPACE, MCU_ERR_INVAL) sticks and later writes do nothing.
 */
#ifndef MCU_RTCP_H
#define MCU_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RTCP packet types (RFC 3550, RFC 4585). */
#define MCU_RTCP_SR 200
#define MCU_RTCP_RR 201
#define MCU_RTCP_SDES 202
#define MCU_RTCP_BYE 203
#define MCU_RTCP_APP 204
#define MCU_RTCP_RTPFB 205
#define MCU_RTCP_PSFB 206

/* Feedback message types (FMT). */
#define MCU_RTCP_RTPFB_NACK 1   /* RFC 4585 generic NACK */
#define MCU_RTCP_RTPFB_TMMBR 3  /* RFC 5104 */
#define MCU_RTCP_RTPFB_TMMBN 4  /* RFC 5104 */
#define MCU_RTCP_PSFB_PLI 1     /* RFC 4585 */
#define MCU_RTCP_PSFB_FIR 4     /* RFC 5104 */
#define MCU_RTCP_PSFB_AFB 15    /* application layer FB: REMB lives here */

/* The 5-bit count field limits report blocks, SDES chunks and BYE sources to 31. */
#define MCU_RTCP_MAX_COUNT 31
/* Bytes of an SDES item text (8-bit length field). */
#define MCU_RTCP_MAX_SDES_TEXT 255
/* Sequence numbers taken from one NACK: 17 per FCI entry; 512 is more than a second of
 * 720p video at 1.5 Mbps, so a larger NACK is a storm, not a loss report. */
#define MCU_RTCP_NACK_EXPAND_MAX 512
/* REMB carries an 8-bit SSRC count. */
#define MCU_RTCP_MAX_REMB_SSRCS 255

typedef struct mcu_rtcp_report_block {
    uint32_t ssrc;          /* source this block reports on */
    uint8_t fraction_lost;  /* fixed point, lost/expected * 256 since the last report */
    int32_t cumulative_lost; /* 24-bit signed on the wire, clamped when written */
    uint32_t ext_highest_seq;
    uint32_t jitter;        /* interarrival jitter, RTP timestamp units */
    uint32_t lsr;           /* middle 32 bits of the last SR's NTP time, 0 if none */
    uint32_t dlsr;          /* delay since that SR, 1/65536 s */
} mcu_rtcp_report_block_t;

typedef struct mcu_rtcp_sender_info {
    uint64_t ntp;           /* NTP timestamp, 32.32 fixed point */
    uint32_t rtp_ts;
    uint32_t packet_count;
    uint32_t octet_count;
} mcu_rtcp_sender_info_t;

typedef struct mcu_rtcp_sdes_chunk {
    uint32_t ssrc;
    const uint8_t *cname;   /* not NUL-terminated; NULL when the chunk has no CNAME */
    uint8_t cname_len;
} mcu_rtcp_sdes_chunk_t;

/* One parsed packet of a compound. Only the member that matches `type`/`fmt` is set. */
typedef struct mcu_rtcp_packet {
    uint8_t type;           /* MCU_RTCP_* */
    uint8_t fmt;            /* RC/SC/FMT field */
    bool padding;
    const uint8_t *data;    /* the whole packet, header included */
    size_t len;
    union {
        struct { /* SR (has_sender_info) and RR */
            uint32_t ssrc;
            bool has_sender_info;
            mcu_rtcp_sender_info_t si;
            uint8_t count;
            mcu_rtcp_report_block_t blocks[MCU_RTCP_MAX_COUNT];
        } report;
        struct {
            uint8_t count;
            mcu_rtcp_sdes_chunk_t chunks[MCU_RTCP_MAX_COUNT];
        } sdes;
        struct {
            uint8_t count;
            uint32_t ssrcs[MCU_RTCP_MAX_COUNT];
            const uint8_t *reason;  /* NULL when absent */
            uint8_t reason_len;
        } bye;
        struct { /* RTPFB and PSFB: common header, FCI left for the accessors */
            uint32_t sender_ssrc;
            uint32_t media_ssrc;
            const uint8_t *fci;
            size_t fci_len;
        } fb;
        struct {
            uint32_t ssrc;
            char name[5];
        } app;
    } u;
} mcu_rtcp_packet_t;

/* Iterates over the packets of one compound datagram. */
typedef struct mcu_rtcp_iter {
    const uint8_t *buf;
    size_t len;
    size_t pos;
} mcu_rtcp_iter_t;

/* Checks a whole compound (at most MCU_RTP_MAX_DATAGRAM bytes, version 2, lengths sum exactly to the datagram, padding only
 * on the last packet, sizes match each type's fixed part). 0 or a negative code. */
int mcu_rtcp_validate(const uint8_t *buf, size_t len);

void mcu_rtcp_iter_init(mcu_rtcp_iter_t *it, const uint8_t *buf, size_t len);

/* Parses the next packet: 1 and *pkt filled, 0 at the end, negative on malformed input
 * (the iterator then stays at the end). Unknown types are returned with only the
 * header fields set (type, fmt, data, len). */
int mcu_rtcp_next(mcu_rtcp_iter_t *it, mcu_rtcp_packet_t *pkt);

/* RTPFB NACK (RFC 4585 6.2.1): number of FCI entries, and entry i as PID + BLP. */
size_t mcu_rtcp_nack_count(const mcu_rtcp_packet_t *pkt);
void mcu_rtcp_nack_get(const mcu_rtcp_packet_t *pkt, size_t i, uint16_t *pid, uint16_t *blp);
/* Expands the NACK into sequence numbers; writes at most `max`, returns how many the
 * packet holds (may exceed max). */
size_t mcu_rtcp_nack_expand(const mcu_rtcp_packet_t *pkt, uint16_t *seqs, size_t max);

/* PSFB FIR (RFC 5104 4.3.1): entries of (SSRC, command sequence number). */
size_t mcu_rtcp_fir_count(const mcu_rtcp_packet_t *pkt);
void mcu_rtcp_fir_get(const mcu_rtcp_packet_t *pkt, size_t i, uint32_t *ssrc, uint8_t *seq_nr);

/* TMMBR/TMMBN (RFC 5104 4.2.1/4.2.2): entries of (SSRC, bitrate bps, overhead bytes).
 * bitrate = mantissa << exp, saturated at UINT64_MAX. */
size_t mcu_rtcp_tmmb_count(const mcu_rtcp_packet_t *pkt);
void mcu_rtcp_tmmb_get(const mcu_rtcp_packet_t *pkt, size_t i, uint32_t *ssrc,
                       uint64_t *bitrate_bps, uint16_t *overhead);

/* REMB (draft-alvestrand-rmcat-remb): a PSFB AFB whose FCI starts with "REMB".
 * Returns 0 and fills the fields, MCU_ERR_UNSUPPORTED if the AFB is not REMB, or a
 * negative code if malformed. `ssrcs` receives at most `max_ssrcs` entries. */
int mcu_rtcp_remb_parse(const mcu_rtcp_packet_t *pkt, uint64_t *bitrate_bps,
                        uint32_t *ssrcs, size_t max_ssrcs, size_t *n_ssrcs);

/* ---- writing ---- */

typedef struct mcu_rtcp_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;  /* first error, sticky */
} mcu_rtcp_writer_t;

void mcu_rtcp_writer_init(mcu_rtcp_writer_t *w, uint8_t *buf, size_t cap);
/* 0 and *len = bytes written, or the sticky error (and *len = 0). */
int mcu_rtcp_writer_finish(const mcu_rtcp_writer_t *w, size_t *len);

void mcu_rtcp_write_sr(mcu_rtcp_writer_t *w, uint32_t ssrc, const mcu_rtcp_sender_info_t *si,
                       const mcu_rtcp_report_block_t *blocks, size_t n_blocks);
void mcu_rtcp_write_rr(mcu_rtcp_writer_t *w, uint32_t ssrc,
                       const mcu_rtcp_report_block_t *blocks, size_t n_blocks);
/* One chunk with a CNAME item, padded with the null terminator to a 32-bit boundary. */
void mcu_rtcp_write_sdes_cname(mcu_rtcp_writer_t *w, uint32_t ssrc, const char *cname);
void mcu_rtcp_write_bye(mcu_rtcp_writer_t *w, const uint32_t *ssrcs, size_t n,
                        const char *reason);
/* Generic NACK from sequence numbers (any order, duplicates ignored); packs PID+BLP
 * pairs with wrap-around handled. */
void mcu_rtcp_write_nack(mcu_rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                         const uint16_t *seqs, size_t n);
void mcu_rtcp_write_pli(mcu_rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc);
/* FIR and TMMBR: as RFC 5104 4.3.1/4.2.1 require, the header's media SSRC is 0 and
 * `media_ssrc` goes into the FCI entry. */
void mcu_rtcp_write_fir(mcu_rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                        uint8_t seq_nr);
/* One TMMBR/TMMBN entry each; bitrate encoded with the smallest exponent that fits the
 * 17-bit mantissa (rounded down). n == 0 is allowed for TMMBN. */
void mcu_rtcp_write_tmmbr(mcu_rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                          uint64_t bitrate_bps, uint16_t overhead);
void mcu_rtcp_write_tmmbn(mcu_rtcp_writer_t *w, uint32_t sender_ssrc, const uint32_t *ssrcs,
                          const uint64_t *bitrates, const uint16_t *overheads, size_t n);
/* REMB: 18-bit mantissa, 6-bit exponent (rounded down). */
void mcu_rtcp_write_remb(mcu_rtcp_writer_t *w, uint32_t sender_ssrc, uint64_t bitrate_bps,
                         const uint32_t *ssrcs, size_t n);

#endif
