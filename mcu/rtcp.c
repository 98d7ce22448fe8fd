#include "rtcp.h"

#include <string.h>

#include "bytes.h"
#include "error.h"
#include "rtp.h"

#define RTCP_VERSION 2
#define RTCP_HEADER_SIZE 4       /* V/P/count, PT, length in 32-bit words minus one */
#define RTCP_WORD 4              /* every RTCP length is counted in 32-bit words */
#define RTCP_MAX_PACKET (65536u * RTCP_WORD) /* 16-bit length field, plus one word */
#define RTCP_TYPE_MIN 192        /* RFC 5761 4: 192..223 is RTCP on a shared port */
#define RTCP_TYPE_MAX 223
#define RTCP_PADDING_BIT 0x20
#define RTCP_COUNT_MASK 0x1F     /* RC / SC / FMT field */

#define SSRC_SIZE 4
#define SENDER_INFO_SIZE 20      /* NTP (8), RTP timestamp, packet and octet counts */
#define RR_FIXED_SIZE (RTCP_HEADER_SIZE + SSRC_SIZE)
#define SR_FIXED_SIZE (RR_FIXED_SIZE + SENDER_INFO_SIZE)
#define REPORT_BLOCK_SIZE 24     /* RFC 3550 6.4.1 */
#define CUM_LOST_MIN (-0x800000) /* 24-bit signed cumulative number of packets lost */
#define CUM_LOST_MAX 0x7FFFFF
#define CUM_LOST_MASK 0xFFFFFFu
#define CUM_LOST_SIGN 0x800000u

#define SDES_ITEM_END 0          /* RFC 3550 6.5: ends a chunk's item list */
#define SDES_ITEM_CNAME 1
#define SDES_ITEM_HEADER 2       /* type, length */
#define BYE_REASON_HEADER 1      /* length octet before the reason text */
#define APP_FIXED_SIZE (RTCP_HEADER_SIZE + SSRC_SIZE + 4) /* + 4-character name */
#define APP_NAME_SIZE 4

#define FB_HEADER_SIZE 12        /* RFC 4585 6.1: header, sender SSRC, media SSRC */
#define NACK_ITEM_SIZE 4         /* PID, BLP */
#define NACK_BLP_BITS 16
#define FIR_ITEM_SIZE 8          /* SSRC, seq nr, 3 reserved octets */
#define TMMB_ITEM_SIZE 8         /* SSRC, exp(6) mantissa(17) overhead(9) */
#define TMMB_MANTISSA_BITS 17
#define TMMB_OVERHEAD_BITS 9
#define TMMB_OVERHEAD_MAX ((1u << TMMB_OVERHEAD_BITS) - 1)
#define REMB_ID "REMB"
#define REMB_ID_SIZE 4
#define REMB_FIXED_SIZE 8        /* "REMB", num SSRC, exp(6) mantissa(18) */
#define REMB_MANTISSA_BITS 18
#define BITRATE_EXP_BITS 6

#define SEQ_SPACE 65536u         /* 16-bit RTP sequence numbers */
#define SEQ_HALF 32768u

static size_t align4(size_t n) { return (n + RTCP_WORD - 1) & ~(size_t)(RTCP_WORD - 1); }

/* mantissa << exp, saturated at UINT64_MAX. */
static uint64_t bitrate_decode(uint32_t mantissa, unsigned exp)
{
    if (mantissa != 0 && (uint64_t)mantissa > (UINT64_MAX >> exp))
        return UINT64_MAX;
    return (uint64_t)mantissa << exp;
}

/* Smallest exponent for which the bitrate fits `bits` bits (rounded down). */
static unsigned bitrate_exp(uint64_t bps, unsigned bits)
{
    unsigned exp = 0;
    while ((bps >> exp) >> bits)
        exp++;
    return exp;
}

/* ---- parsing ---- */

static int32_t cum_lost_decode(uint32_t raw)
{
    return (int32_t)(raw ^ CUM_LOST_SIGN) - (int32_t)CUM_LOST_SIGN;
}

static void parse_report_block(const uint8_t *p, mcu_rtcp_report_block_t *rb)
{
    rb->ssrc = mcu_rd32(p);
    rb->fraction_lost = p[4];
    rb->cumulative_lost = cum_lost_decode(mcu_rd24(p + 5));
    rb->ext_highest_seq = mcu_rd32(p + 8);
    rb->jitter = mcu_rd32(p + 12);
    rb->lsr = mcu_rd32(p + 16);
    rb->dlsr = mcu_rd32(p + 20);
}

/* SR and RR: p[0..len) is the packet without its padding. */
static int parse_report(const uint8_t *p, size_t len, bool sr, mcu_rtcp_packet_t *pkt)
{
    size_t fixed = sr ? SR_FIXED_SIZE : RR_FIXED_SIZE;
    if (len < fixed || (len - fixed) / REPORT_BLOCK_SIZE < pkt->fmt)
        return MCU_ERR_TRUNCATED;
    pkt->u.report.ssrc = mcu_rd32(p + RTCP_HEADER_SIZE);
    pkt->u.report.has_sender_info = sr;
    if (sr) {
        const uint8_t *si = p + RR_FIXED_SIZE;
        pkt->u.report.si.ntp = (uint64_t)mcu_rd32(si) << 32 | mcu_rd32(si + 4);
        pkt->u.report.si.rtp_ts = mcu_rd32(si + 8);
        pkt->u.report.si.packet_count = mcu_rd32(si + 12);
        pkt->u.report.si.octet_count = mcu_rd32(si + 16);
    }
    pkt->u.report.count = pkt->fmt;
    for (unsigned i = 0; i < pkt->fmt; i++)
        parse_report_block(p + fixed + i * REPORT_BLOCK_SIZE, &pkt->u.report.blocks[i]);
    return MCU_OK; /* bytes after the blocks: profile-specific extensions, ignored */
}

/* One SDES chunk starting at p[*pos]; *pos moves to the next 32-bit boundary. */
static int parse_sdes_chunk(const uint8_t *p, size_t len, size_t *pos,
                            mcu_rtcp_sdes_chunk_t *chunk)
{
    size_t off = *pos;
    if (len - off < SSRC_SIZE)
        return MCU_ERR_TRUNCATED;
    chunk->ssrc = mcu_rd32(p + off);
    off += SSRC_SIZE;
    for (;;) {
        if (off >= len)
            return MCU_ERR_TRUNCATED; /* no END item */
        if (p[off] == SDES_ITEM_END)
            break;
        if (len - off < SDES_ITEM_HEADER || len - off - SDES_ITEM_HEADER < p[off + 1])
            return MCU_ERR_TRUNCATED;
        if (p[off] == SDES_ITEM_CNAME && !chunk->cname) {
            chunk->cname = p + off + SDES_ITEM_HEADER;
            chunk->cname_len = p[off + 1];
        }
        off += SDES_ITEM_HEADER + p[off + 1];
    }
    off = align4(off + 1); /* END item, then null octets up to the boundary */
    if (off > len)
        return MCU_ERR_TRUNCATED;
    *pos = off;
    return MCU_OK;
}

static int parse_sdes(const uint8_t *p, size_t len, mcu_rtcp_packet_t *pkt)
{
    size_t pos = RTCP_HEADER_SIZE;
    pkt->u.sdes.count = pkt->fmt;
    for (unsigned i = 0; i < pkt->fmt; i++) {
        int err = parse_sdes_chunk(p, len, &pos, &pkt->u.sdes.chunks[i]);
        if (err < 0)
            return err;
    }
    return MCU_OK;
}

static int parse_bye(const uint8_t *p, size_t len, mcu_rtcp_packet_t *pkt)
{
    size_t pos = RTCP_HEADER_SIZE;
    if ((len - pos) / SSRC_SIZE < pkt->fmt)
        return MCU_ERR_TRUNCATED;
    pkt->u.bye.count = pkt->fmt;
    for (unsigned i = 0; i < pkt->fmt; i++, pos += SSRC_SIZE)
        pkt->u.bye.ssrcs[i] = mcu_rd32(p + pos);
    if (pos == len)
        return MCU_OK;
    if (len - pos - BYE_REASON_HEADER < p[pos])
        return MCU_ERR_TRUNCATED;
    pkt->u.bye.reason_len = p[pos];
    pkt->u.bye.reason = p + pos + BYE_REASON_HEADER;
    return MCU_OK;
}

static int parse_app(const uint8_t *p, size_t len, mcu_rtcp_packet_t *pkt)
{
    if (len < APP_FIXED_SIZE)
        return MCU_ERR_TRUNCATED;
    pkt->u.app.ssrc = mcu_rd32(p + RTCP_HEADER_SIZE);
    memcpy(pkt->u.app.name, p + RTCP_HEADER_SIZE + SSRC_SIZE, APP_NAME_SIZE);
    pkt->u.app.name[APP_NAME_SIZE] = '\0';
    return MCU_OK;
}

static bool is_fb(const mcu_rtcp_packet_t *pkt, uint8_t type, uint8_t fmt)
{
    return pkt && pkt->type == type && pkt->fmt == fmt && pkt->u.fb.fci;
}

static bool is_remb(const mcu_rtcp_packet_t *pkt)
{
    return is_fb(pkt, MCU_RTCP_PSFB, MCU_RTCP_PSFB_AFB) && pkt->u.fb.fci_len >= REMB_ID_SIZE &&
           memcmp(pkt->u.fb.fci, REMB_ID, REMB_ID_SIZE) == 0;
}

/* REMB FCI length check, shared by the parser and mcu_rtcp_remb_parse. */
static int check_remb(const mcu_rtcp_packet_t *pkt)
{
    size_t len = pkt->u.fb.fci_len;
    if (len < REMB_FIXED_SIZE || (len - REMB_FIXED_SIZE) / SSRC_SIZE < pkt->u.fb.fci[4])
        return MCU_ERR_TRUNCATED;
    return MCU_OK;
}

/* FCI items: a whole number of `item` bytes, at least `min_items` of them. */
static int check_items(size_t fci_len, size_t item, size_t min_items)
{
    if (fci_len % item != 0 || fci_len / item < min_items)
        return MCU_ERR_MALFORMED;
    return MCU_OK;
}

static int check_fci(const mcu_rtcp_packet_t *pkt)
{
    size_t len = pkt->u.fb.fci_len;
    if (pkt->type == MCU_RTCP_RTPFB) {
        switch (pkt->fmt) {
        case MCU_RTCP_RTPFB_NACK: return check_items(len, NACK_ITEM_SIZE, 1);
        case MCU_RTCP_RTPFB_TMMBR: return check_items(len, TMMB_ITEM_SIZE, 1);
        case MCU_RTCP_RTPFB_TMMBN: return check_items(len, TMMB_ITEM_SIZE, 0);
        default: return MCU_OK;
        }
    }
    switch (pkt->fmt) {
    case MCU_RTCP_PSFB_FIR: return check_items(len, FIR_ITEM_SIZE, 1);
    case MCU_RTCP_PSFB_AFB: return is_remb(pkt) ? check_remb(pkt) : MCU_OK;
    default: return MCU_OK; /* PLI: no FCI; extra bytes are tolerated */
    }
}

static int parse_fb(const uint8_t *p, size_t len, mcu_rtcp_packet_t *pkt)
{
    if (len < FB_HEADER_SIZE)
        return MCU_ERR_TRUNCATED;
    pkt->u.fb.sender_ssrc = mcu_rd32(p + RTCP_HEADER_SIZE);
    pkt->u.fb.media_ssrc = mcu_rd32(p + RTCP_HEADER_SIZE + SSRC_SIZE);
    pkt->u.fb.fci = p + FB_HEADER_SIZE;
    pkt->u.fb.fci_len = len - FB_HEADER_SIZE;
    return check_fci(pkt);
}

static int parse_body(const uint8_t *p, size_t len, mcu_rtcp_packet_t *pkt)
{
    switch (pkt->type) {
    case MCU_RTCP_SR: return parse_report(p, len, true, pkt);
    case MCU_RTCP_RR: return parse_report(p, len, false, pkt);
    case MCU_RTCP_SDES: return parse_sdes(p, len, pkt);
    case MCU_RTCP_BYE: return parse_bye(p, len, pkt);
    case MCU_RTCP_APP: return parse_app(p, len, pkt);
    case MCU_RTCP_RTPFB:
    case MCU_RTCP_PSFB: return parse_fb(p, len, pkt);
    default: return MCU_OK; /* unknown type: header fields only */
    }
}

/* Parses the packet at p[0..left); `left` runs to the end of the datagram. */
static int parse_packet(const uint8_t *p, size_t left, mcu_rtcp_packet_t *pkt)
{
    memset(pkt, 0, sizeof *pkt);
    if (left < RTCP_HEADER_SIZE)
        return MCU_ERR_TRUNCATED;
    if ((p[0] >> 6) != RTCP_VERSION)
        return MCU_ERR_VERSION;
    if (p[1] < RTCP_TYPE_MIN || p[1] > RTCP_TYPE_MAX)
        return MCU_ERR_MALFORMED;
    size_t len = ((size_t)mcu_rd16(p + 2) + 1) * RTCP_WORD;
    if (len > left)
        return MCU_ERR_TRUNCATED;
    pkt->padding = p[0] & RTCP_PADDING_BIT;
    pkt->fmt = p[0] & RTCP_COUNT_MASK;
    pkt->type = p[1];
    pkt->data = p;
    pkt->len = len;
    size_t body = len;
    if (pkt->padding) {
        uint8_t pad = p[len - 1];
        /* RFC 3550 6.4.1: only the last packet may be padded; the count includes itself. */
        if (len != left || pad == 0 || pad > len - RTCP_HEADER_SIZE)
            return MCU_ERR_PADDING;
        body -= pad;
    }
    return parse_body(p, body, pkt);
}

int mcu_rtcp_validate(const uint8_t *buf, size_t len)
{
    if (!buf)
        return MCU_ERR_INVAL;
    if (len < RTCP_HEADER_SIZE)
        return MCU_ERR_TRUNCATED;
    if (len > MCU_RTP_MAX_DATAGRAM)
        return MCU_ERR_TOO_BIG;
    mcu_rtcp_iter_t it;
    mcu_rtcp_packet_t pkt;
    int rc;
    mcu_rtcp_iter_init(&it, buf, len);
    while ((rc = mcu_rtcp_next(&it, &pkt)) > 0)
        ;
    return rc;
}

void mcu_rtcp_iter_init(mcu_rtcp_iter_t *it, const uint8_t *buf, size_t len)
{
    it->buf = buf;
    it->len = buf ? len : 0;
    it->pos = 0;
}

int mcu_rtcp_next(mcu_rtcp_iter_t *it, mcu_rtcp_packet_t *pkt)
{
    if (it->pos >= it->len)
        return 0;
    int err = parse_packet(it->buf + it->pos, it->len - it->pos, pkt);
    if (err < 0) {
        it->pos = it->len;
        return err;
    }
    it->pos += pkt->len;
    return 1;
}

/* ---- feedback accessors ---- */

/* Item i of `count` items of `size` bytes in the FCI; NULL when out of range. */
static const uint8_t *fci_item(const mcu_rtcp_packet_t *pkt, size_t i, size_t count,
                               size_t size)
{
    return i < count ? pkt->u.fb.fci + i * size : NULL;
}

size_t mcu_rtcp_nack_count(const mcu_rtcp_packet_t *pkt)
{
    if (!is_fb(pkt, MCU_RTCP_RTPFB, MCU_RTCP_RTPFB_NACK))
        return 0;
    return pkt->u.fb.fci_len / NACK_ITEM_SIZE;
}

void mcu_rtcp_nack_get(const mcu_rtcp_packet_t *pkt, size_t i, uint16_t *pid, uint16_t *blp)
{
    const uint8_t *item = fci_item(pkt, i, mcu_rtcp_nack_count(pkt), NACK_ITEM_SIZE);
    *pid = 0;
    *blp = 0;
    if (!item)
        return;
    *pid = mcu_rd16(item);
    *blp = mcu_rd16(item + 2);
}

size_t mcu_rtcp_nack_expand(const mcu_rtcp_packet_t *pkt, uint16_t *seqs, size_t max)
{
    size_t n = 0, items = mcu_rtcp_nack_count(pkt);
    for (size_t i = 0; i < items; i++) {
        uint16_t pid, blp;
        mcu_rtcp_nack_get(pkt, i, &pid, &blp);
        if (n < max)
            seqs[n] = pid;
        n++;
        for (unsigned b = 0; b < NACK_BLP_BITS; b++) {
            if (!(blp >> b & 1))
                continue;
            if (n < max)
                seqs[n] = (uint16_t)(pid + b + 1);
            n++;
        }
    }
    return n;
}

size_t mcu_rtcp_fir_count(const mcu_rtcp_packet_t *pkt)
{
    if (!is_fb(pkt, MCU_RTCP_PSFB, MCU_RTCP_PSFB_FIR))
        return 0;
    return pkt->u.fb.fci_len / FIR_ITEM_SIZE;
}

void mcu_rtcp_fir_get(const mcu_rtcp_packet_t *pkt, size_t i, uint32_t *ssrc, uint8_t *seq_nr)
{
    const uint8_t *item = fci_item(pkt, i, mcu_rtcp_fir_count(pkt), FIR_ITEM_SIZE);
    *ssrc = 0;
    *seq_nr = 0;
    if (!item)
        return;
    *ssrc = mcu_rd32(item);
    *seq_nr = item[SSRC_SIZE];
}

size_t mcu_rtcp_tmmb_count(const mcu_rtcp_packet_t *pkt)
{
    if (!is_fb(pkt, MCU_RTCP_RTPFB, MCU_RTCP_RTPFB_TMMBR) &&
        !is_fb(pkt, MCU_RTCP_RTPFB, MCU_RTCP_RTPFB_TMMBN))
        return 0;
    return pkt->u.fb.fci_len / TMMB_ITEM_SIZE;
}

void mcu_rtcp_tmmb_get(const mcu_rtcp_packet_t *pkt, size_t i, uint32_t *ssrc,
                       uint64_t *bitrate_bps, uint16_t *overhead)
{
    const uint8_t *item = fci_item(pkt, i, mcu_rtcp_tmmb_count(pkt), TMMB_ITEM_SIZE);
    *ssrc = 0;
    *bitrate_bps = 0;
    *overhead = 0;
    if (!item)
        return;
    uint32_t word = mcu_rd32(item + SSRC_SIZE);
    unsigned exp = word >> (TMMB_MANTISSA_BITS + TMMB_OVERHEAD_BITS);
    uint32_t mantissa = (word >> TMMB_OVERHEAD_BITS) & ((1u << TMMB_MANTISSA_BITS) - 1);
    *ssrc = mcu_rd32(item);
    *bitrate_bps = bitrate_decode(mantissa, exp);
    *overhead = (uint16_t)(word & TMMB_OVERHEAD_MAX);
}

int mcu_rtcp_remb_parse(const mcu_rtcp_packet_t *pkt, uint64_t *bitrate_bps,
                        uint32_t *ssrcs, size_t max_ssrcs, size_t *n_ssrcs)
{
    if (!is_fb(pkt, MCU_RTCP_PSFB, MCU_RTCP_PSFB_AFB) || !bitrate_bps || !n_ssrcs ||
        (max_ssrcs && !ssrcs))
        return MCU_ERR_INVAL;
    if (!is_remb(pkt))
        return MCU_ERR_UNSUPPORTED;
    int err = check_remb(pkt);
    if (err < 0)
        return err;
    const uint8_t *fci = pkt->u.fb.fci;
    uint32_t word = mcu_rd24(fci + REMB_ID_SIZE + 1);
    unsigned exp = word >> REMB_MANTISSA_BITS;
    uint32_t mantissa = word & ((1u << REMB_MANTISSA_BITS) - 1);
    *bitrate_bps = bitrate_decode(mantissa, exp);
    *n_ssrcs = fci[REMB_ID_SIZE];
    for (size_t i = 0; i < *n_ssrcs && i < max_ssrcs; i++)
        ssrcs[i] = mcu_rd32(fci + REMB_FIXED_SIZE + i * SSRC_SIZE);
    return MCU_OK;
}

/* ---- writing ---- */

void mcu_rtcp_writer_init(mcu_rtcp_writer_t *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf ? cap : 0;
    w->len = 0;
    w->err = MCU_OK;
}

int mcu_rtcp_writer_finish(const mcu_rtcp_writer_t *w, size_t *len)
{
    if (len)
        *len = w->err ? 0 : w->len;
    return w->err;
}

static void fail(mcu_rtcp_writer_t *w, int err)
{
    if (!w->err)
        w->err = err;
}

/* Reserves one whole packet of `size` bytes (a multiple of 4) and writes its common
 * header. NULL, with nothing written, on a sticky error or when it does not fit. */
static uint8_t *begin_packet(mcu_rtcp_writer_t *w, uint8_t type, unsigned count, size_t size)
{
    if (w->err)
        return NULL;
    if (size > RTCP_MAX_PACKET || count > RTCP_COUNT_MASK) {
        fail(w, MCU_ERR_INVAL);
        return NULL;
    }
    if (w->cap - w->len < size) {
        fail(w, MCU_ERR_NOSPACE);
        return NULL;
    }
    uint8_t *p = w->buf + w->len;
    memset(p, 0, size); /* reserved fields and null padding */
    p[0] = (uint8_t)(RTCP_VERSION << 6 | count);
    p[1] = type;
    mcu_wr16(p + 2, (uint16_t)(size / RTCP_WORD - 1));
    w->len += size;
    return p;
}

/* Checks the arguments a writer was given; false (error set) when invalid. */
static bool check_args(mcu_rtcp_writer_t *w, bool ok)
{
    if (!ok)
        fail(w, MCU_ERR_INVAL);
    return ok && !w->err;
}

static void write_report_block(uint8_t *p, const mcu_rtcp_report_block_t *rb)
{
    int32_t lost = rb->cumulative_lost;
    if (lost < CUM_LOST_MIN)
        lost = CUM_LOST_MIN;
    if (lost > CUM_LOST_MAX)
        lost = CUM_LOST_MAX;
    mcu_wr32(p, rb->ssrc);
    p[4] = rb->fraction_lost;
    mcu_wr24(p + 5, (uint32_t)lost & CUM_LOST_MASK);
    mcu_wr32(p + 8, rb->ext_highest_seq);
    mcu_wr32(p + 12, rb->jitter);
    mcu_wr32(p + 16, rb->lsr);
    mcu_wr32(p + 20, rb->dlsr);
}

/* SR when si is set, RR otherwise. */
static void write_report(mcu_rtcp_writer_t *w, uint32_t ssrc, const mcu_rtcp_sender_info_t *si,
                         const mcu_rtcp_report_block_t *blocks, size_t n)
{
    if (!check_args(w, n <= MCU_RTCP_MAX_COUNT && (blocks || n == 0)))
        return;
    size_t fixed = si ? SR_FIXED_SIZE : RR_FIXED_SIZE;
    uint8_t *p = begin_packet(w, si ? MCU_RTCP_SR : MCU_RTCP_RR, (unsigned)n,
                              fixed + n * REPORT_BLOCK_SIZE);
    if (!p)
        return;
    mcu_wr32(p + RTCP_HEADER_SIZE, ssrc);
    if (si) {
        uint8_t *s = p + RR_FIXED_SIZE;
        mcu_wr32(s, (uint32_t)(si->ntp >> 32));
        mcu_wr32(s + 4, (uint32_t)si->ntp);
        mcu_wr32(s + 8, si->rtp_ts);
        mcu_wr32(s + 12, si->packet_count);
        mcu_wr32(s + 16, si->octet_count);
    }
    for (size_t i = 0; i < n; i++)
        write_report_block(p + fixed + i * REPORT_BLOCK_SIZE, &blocks[i]);
}

void mcu_rtcp_write_sr(mcu_rtcp_writer_t *w, uint32_t ssrc, const mcu_rtcp_sender_info_t *si,
                       const mcu_rtcp_report_block_t *blocks, size_t n_blocks)
{
    if (check_args(w, si != NULL))
        write_report(w, ssrc, si, blocks, n_blocks);
}

void mcu_rtcp_write_rr(mcu_rtcp_writer_t *w, uint32_t ssrc,
                       const mcu_rtcp_report_block_t *blocks, size_t n_blocks)
{
    write_report(w, ssrc, NULL, blocks, n_blocks);
}

void mcu_rtcp_write_sdes_cname(mcu_rtcp_writer_t *w, uint32_t ssrc, const char *cname)
{
    size_t n = cname ? strlen(cname) : 0;
    if (!check_args(w, cname && n <= MCU_RTCP_MAX_SDES_TEXT))
        return;
    /* One chunk: SSRC, CNAME item, END item, null octets to the boundary. */
    size_t chunk = SSRC_SIZE + align4(SDES_ITEM_HEADER + n + 1);
    uint8_t *p = begin_packet(w, MCU_RTCP_SDES, 1, RTCP_HEADER_SIZE + chunk);
    if (!p)
        return;
    uint8_t *c = p + RTCP_HEADER_SIZE;
    mcu_wr32(c, ssrc);
    c[SSRC_SIZE] = SDES_ITEM_CNAME;
    c[SSRC_SIZE + 1] = (uint8_t)n;
    memcpy(c + SSRC_SIZE + SDES_ITEM_HEADER, cname, n);
}

void mcu_rtcp_write_bye(mcu_rtcp_writer_t *w, const uint32_t *ssrcs, size_t n,
                        const char *reason)
{
    size_t rlen = reason ? strlen(reason) : 0;
    if (!check_args(w, n <= MCU_RTCP_MAX_COUNT && (ssrcs || n == 0) &&
                           rlen <= MCU_RTCP_MAX_SDES_TEXT))
        return;
    size_t size = RTCP_HEADER_SIZE + n * SSRC_SIZE;
    if (reason)
        size += align4(BYE_REASON_HEADER + rlen);
    uint8_t *p = begin_packet(w, MCU_RTCP_BYE, (unsigned)n, size);
    if (!p)
        return;
    uint8_t *q = p + RTCP_HEADER_SIZE;
    for (size_t i = 0; i < n; i++, q += SSRC_SIZE)
        mcu_wr32(q, ssrcs[i]);
    if (reason) {
        q[0] = (uint8_t)rlen;
        memcpy(q + BYE_REASON_HEADER, reason, rlen);
    }
}

/* Reserves a feedback packet with fci_len bytes of FCI; returns the FCI or NULL. */
static uint8_t *begin_fb(mcu_rtcp_writer_t *w, uint8_t type, uint8_t fmt, uint32_t sender_ssrc,
                         uint32_t media_ssrc, size_t fci_len)
{
    if (fci_len > RTCP_MAX_PACKET) {
        fail(w, MCU_ERR_INVAL);
        return NULL;
    }
    uint8_t *p = begin_packet(w, type, fmt, FB_HEADER_SIZE + fci_len);
    if (!p)
        return NULL;
    mcu_wr32(p + RTCP_HEADER_SIZE, sender_ssrc);
    mcu_wr32(p + RTCP_HEADER_SIZE + SSRC_SIZE, media_ssrc);
    return p + FB_HEADER_SIZE;
}

/* Sequence numbers as a bitmap indexed by their serial offset from the first one,
 * shifted by half the space: bit order is then sequence order across the wrap. */
typedef struct nack_set {
    uint16_t base;
    uint64_t bits[SEQ_SPACE / 64];
} nack_set_t;

static void nack_set_fill(nack_set_t *s, const uint16_t *seqs, size_t n)
{
    memset(s->bits, 0, sizeof s->bits);
    s->base = (uint16_t)(seqs[0] - SEQ_HALF);
    for (size_t i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)(seqs[i] - s->base);
        s->bits[idx / 64] |= (uint64_t)1 << (idx % 64);
    }
}

static bool nack_set_has(const nack_set_t *s, uint32_t idx)
{
    return idx < SEQ_SPACE && (s->bits[idx / 64] >> (idx % 64) & 1);
}

/* Next PID+BLP entry at or after *idx; false when none is left. */
static bool nack_set_next(const nack_set_t *s, uint32_t *idx, uint16_t *pid, uint16_t *blp)
{
    uint32_t i = *idx;
    while (i < SEQ_SPACE && !(s->bits[i / 64] >> (i % 64)))
        i = (i / 64 + 1) * 64; /* skip the rest of an empty word */
    while (i < SEQ_SPACE && !nack_set_has(s, i))
        i++;
    if (i >= SEQ_SPACE)
        return false;
    *pid = (uint16_t)(s->base + i);
    *blp = 0;
    for (unsigned b = 0; b < NACK_BLP_BITS; b++)
        if (nack_set_has(s, i + 1 + b))
            *blp |= (uint16_t)(1u << b);
    *idx = i + 1 + NACK_BLP_BITS;
    return true;
}

void mcu_rtcp_write_nack(mcu_rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                         const uint16_t *seqs, size_t n)
{
    if (!check_args(w, seqs && n > 0))
        return;
    nack_set_t set;
    nack_set_fill(&set, seqs, n);
    size_t items = 0;
    uint32_t idx = 0;
    uint16_t pid, blp;
    while (nack_set_next(&set, &idx, &pid, &blp))
        items++;
    uint8_t *fci = begin_fb(w, MCU_RTCP_RTPFB, MCU_RTCP_RTPFB_NACK, sender_ssrc, media_ssrc,
                            items * NACK_ITEM_SIZE);
    if (!fci)
        return;
    idx = 0;
    for (uint8_t *q = fci; nack_set_next(&set, &idx, &pid, &blp); q += NACK_ITEM_SIZE) {
        mcu_wr16(q, pid);
        mcu_wr16(q + 2, blp);
    }
}

void mcu_rtcp_write_pli(mcu_rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc)
{
    begin_fb(w, MCU_RTCP_PSFB, MCU_RTCP_PSFB_PLI, sender_ssrc, media_ssrc, 0);
}

void mcu_rtcp_write_fir(mcu_rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                        uint8_t seq_nr)
{
    /* RFC 5104 4.3.1.2: the header's media SSRC is 0; the FCI names the source. */
    uint8_t *fci = begin_fb(w, MCU_RTCP_PSFB, MCU_RTCP_PSFB_FIR, sender_ssrc, 0, FIR_ITEM_SIZE);
    if (!fci)
        return;
    mcu_wr32(fci, media_ssrc);
    fci[SSRC_SIZE] = seq_nr; /* 3 reserved octets stay 0 */
}

static void write_tmmb(mcu_rtcp_writer_t *w, uint8_t fmt, uint32_t sender_ssrc,
                       const uint32_t *ssrcs, const uint64_t *bitrates,
                       const uint16_t *overheads, size_t n)
{
    bool ok = n <= RTCP_MAX_PACKET / TMMB_ITEM_SIZE &&
              ((ssrcs && bitrates && overheads) || n == 0);
    for (size_t i = 0; ok && i < n; i++)
        ok = overheads[i] <= TMMB_OVERHEAD_MAX;
    if (!check_args(w, ok))
        return;
    /* RFC 5104 4.2.1.2/4.2.2.2: the header's media SSRC is 0; each FCI names one. */
    uint8_t *fci = begin_fb(w, MCU_RTCP_RTPFB, fmt, sender_ssrc, 0, n * TMMB_ITEM_SIZE);
    if (!fci)
        return;
    for (size_t i = 0; i < n; i++, fci += TMMB_ITEM_SIZE) {
        unsigned exp = bitrate_exp(bitrates[i], TMMB_MANTISSA_BITS);
        uint32_t mantissa = (uint32_t)(bitrates[i] >> exp);
        mcu_wr32(fci, ssrcs[i]);
        mcu_wr32(fci + SSRC_SIZE, (uint32_t)exp << (TMMB_MANTISSA_BITS + TMMB_OVERHEAD_BITS) |
                                  mantissa << TMMB_OVERHEAD_BITS | overheads[i]);
    }
}

void mcu_rtcp_write_tmmbr(mcu_rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                          uint64_t bitrate_bps, uint16_t overhead)
{
    write_tmmb(w, MCU_RTCP_RTPFB_TMMBR, sender_ssrc, &media_ssrc, &bitrate_bps, &overhead, 1);
}

void mcu_rtcp_write_tmmbn(mcu_rtcp_writer_t *w, uint32_t sender_ssrc, const uint32_t *ssrcs,
                          const uint64_t *bitrates, const uint16_t *overheads, size_t n)
{
    write_tmmb(w, MCU_RTCP_RTPFB_TMMBN, sender_ssrc, ssrcs, bitrates, overheads, n);
}

void mcu_rtcp_write_remb(mcu_rtcp_writer_t *w, uint32_t sender_ssrc, uint64_t bitrate_bps,
                         const uint32_t *ssrcs, size_t n)
{
    if (!check_args(w, n <= MCU_RTCP_MAX_REMB_SSRCS && (ssrcs || n == 0)))
        return;
    /* draft-alvestrand-rmcat-remb 2.2: the header's media SSRC is 0. */
    uint8_t *fci = begin_fb(w, MCU_RTCP_PSFB, MCU_RTCP_PSFB_AFB, sender_ssrc, 0,
                            REMB_FIXED_SIZE + n * SSRC_SIZE);
    if (!fci)
        return;
    unsigned exp = bitrate_exp(bitrate_bps, REMB_MANTISSA_BITS);
    uint32_t mantissa = (uint32_t)(bitrate_bps >> exp);
    memcpy(fci, REMB_ID, REMB_ID_SIZE);
    fci[REMB_ID_SIZE] = (uint8_t)n;
    mcu_wr24(fci + REMB_ID_SIZE + 1, (uint32_t)exp << REMB_MANTISSA_BITS | mantissa);
    for (size_t i = 0; i < n; i++)
        mcu_wr32(fci + REMB_FIXED_SIZE + i * SSRC_SIZE, ssrcs[i]);
}
