/*
 * libFuzzer target for the RTCP parser: validates the compound, walks it with the
 * iterator, runs every accessor on the packets they apply to, and writes an equivalent
 * packet back with the writer. Invariants that abort when broken: validate agrees with
 * the iterator, and everything the writer produces validates and parses back the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcu/error.h"
#include "mcu/rtcp.h"
#include "mcu/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Room for the largest NACK expansion we rewrite; bigger lists are truncated. */
#define FUZZ_MAX_SEQS 4096
/* TMMBN entries rewritten from one packet. */
#define FUZZ_MAX_TMMB 256
/* Output buffer: larger than any packet built from the bounded lists above. */
#define FUZZ_OUT_SIZE 65536

static uint8_t out[FUZZ_OUT_SIZE];

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* The writer's output, when it produced any, is one valid packet of `type`. */
static void check_output(const mcu_rtcp_writer_t *w, uint8_t type, mcu_rtcp_packet_t *back)
{
    size_t len;
    if (mcu_rtcp_writer_finish(w, &len) != MCU_OK || len == 0)
        return;
    /* A rewrite may exceed the datagram bound; then only the parse is checked. */
    check(mcu_rtcp_validate(out, len) ==
          (len > MCU_RTP_MAX_DATAGRAM ? MCU_ERR_TOO_BIG : MCU_OK));
    mcu_rtcp_iter_t it;
    mcu_rtcp_iter_init(&it, out, len);
    check(mcu_rtcp_next(&it, back) == 1);
    check(back->type == type);
}

static void rewrite_report(const mcu_rtcp_packet_t *p, mcu_rtcp_writer_t *w)
{
    mcu_rtcp_packet_t back;
    if (p->u.report.has_sender_info)
        mcu_rtcp_write_sr(w, p->u.report.ssrc, &p->u.report.si, p->u.report.blocks,
                          p->u.report.count);
    else
        mcu_rtcp_write_rr(w, p->u.report.ssrc, p->u.report.blocks, p->u.report.count);
    check(w->err == MCU_OK);
    check_output(w, p->type, &back);
    check(back.u.report.ssrc == p->u.report.ssrc && back.u.report.count == p->u.report.count);
    check(back.u.report.si.ntp == p->u.report.si.ntp);
    for (unsigned i = 0; i < p->u.report.count; i++) {
        const mcu_rtcp_report_block_t *a = &p->u.report.blocks[i], *b = &back.u.report.blocks[i];
        check(a->ssrc == b->ssrc && a->fraction_lost == b->fraction_lost &&
              a->cumulative_lost == b->cumulative_lost &&
              a->ext_highest_seq == b->ext_highest_seq && a->jitter == b->jitter &&
              a->lsr == b->lsr && a->dlsr == b->dlsr);
    }
}

/* NUL-terminated copy of wire text (which may itself hold NULs). */
static void text_copy(char dst[MCU_RTCP_MAX_SDES_TEXT + 1], const uint8_t *src, size_t len)
{
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void rewrite_sdes(const mcu_rtcp_packet_t *p, mcu_rtcp_writer_t *w)
{
    char text[MCU_RTCP_MAX_SDES_TEXT + 1];
    for (unsigned i = 0; i < p->u.sdes.count; i++) {
        const mcu_rtcp_sdes_chunk_t *c = &p->u.sdes.chunks[i];
        if (!c->cname)
            continue;
        text_copy(text, c->cname, c->cname_len);
        mcu_rtcp_write_sdes_cname(w, c->ssrc, text);
        check(w->err == MCU_OK);
    }
    mcu_rtcp_packet_t back;
    check_output(w, MCU_RTCP_SDES, &back);
}

static void rewrite_bye(const mcu_rtcp_packet_t *p, mcu_rtcp_writer_t *w)
{
    char text[MCU_RTCP_MAX_SDES_TEXT + 1];
    if (p->u.bye.reason)
        text_copy(text, p->u.bye.reason, p->u.bye.reason_len);
    mcu_rtcp_write_bye(w, p->u.bye.ssrcs, p->u.bye.count, p->u.bye.reason ? text : NULL);
    check(w->err == MCU_OK);
    mcu_rtcp_packet_t back;
    check_output(w, MCU_RTCP_BYE, &back);
    check(back.u.bye.count == p->u.bye.count);
}

static void rewrite_nack(const mcu_rtcp_packet_t *p, mcu_rtcp_writer_t *w)
{
    static uint16_t seqs[FUZZ_MAX_SEQS], again[FUZZ_MAX_SEQS];
    size_t n = mcu_rtcp_nack_count(p);
    for (size_t i = 0; i <= n; i++) { /* one past the end on purpose */
        uint16_t pid, blp;
        mcu_rtcp_nack_get(p, i, &pid, &blp);
    }
    size_t total = mcu_rtcp_nack_expand(p, seqs, FUZZ_MAX_SEQS);
    check(total >= n);
    size_t kept = total < FUZZ_MAX_SEQS ? total : FUZZ_MAX_SEQS;
    mcu_rtcp_write_nack(w, p->u.fb.sender_ssrc, p->u.fb.media_ssrc, seqs, kept);
    mcu_rtcp_packet_t back;
    check_output(w, MCU_RTCP_RTPFB, &back);
    /* Duplicates are dropped, so never more sequence numbers than went in. */
    check(mcu_rtcp_nack_expand(&back, again, FUZZ_MAX_SEQS) <= kept);
}

static void rewrite_tmmb(const mcu_rtcp_packet_t *p, mcu_rtcp_writer_t *w)
{
    static uint32_t ssrcs[FUZZ_MAX_TMMB];
    static uint64_t rates[FUZZ_MAX_TMMB];
    static uint16_t overheads[FUZZ_MAX_TMMB];
    size_t n = mcu_rtcp_tmmb_count(p);
    size_t kept = n < FUZZ_MAX_TMMB ? n : FUZZ_MAX_TMMB;
    for (size_t i = 0; i <= n; i++) {
        uint32_t ssrc;
        uint64_t bps;
        uint16_t overhead;
        mcu_rtcp_tmmb_get(p, i, &ssrc, &bps, &overhead);
        if (i < kept) {
            ssrcs[i] = ssrc;
            rates[i] = bps;
            overheads[i] = overhead;
        }
    }
    if (p->fmt == MCU_RTCP_RTPFB_TMMBR && kept > 0)
        mcu_rtcp_write_tmmbr(w, p->u.fb.sender_ssrc, ssrcs[0], rates[0], overheads[0]);
    else
        mcu_rtcp_write_tmmbn(w, p->u.fb.sender_ssrc, ssrcs, rates, overheads, kept);
    check(w->err == MCU_OK);
    mcu_rtcp_packet_t back;
    check_output(w, MCU_RTCP_RTPFB, &back);
    uint32_t ssrc;
    uint64_t bps;
    uint16_t overhead;
    mcu_rtcp_tmmb_get(&back, 0, &ssrc, &bps, &overhead);
    check(kept == 0 || (ssrc == ssrcs[0] && bps <= rates[0] && overhead == overheads[0]));
}

static void rewrite_fir(const mcu_rtcp_packet_t *p, mcu_rtcp_writer_t *w)
{
    size_t n = mcu_rtcp_fir_count(p);
    for (size_t i = 0; i <= n; i++) {
        uint32_t ssrc;
        uint8_t seq;
        mcu_rtcp_fir_get(p, i, &ssrc, &seq);
        if (i < n)
            mcu_rtcp_write_fir(w, p->u.fb.sender_ssrc, ssrc, seq);
    }
    mcu_rtcp_packet_t back;
    check_output(w, MCU_RTCP_PSFB, &back);
}

static void rewrite_afb(const mcu_rtcp_packet_t *p, mcu_rtcp_writer_t *w)
{
    uint32_t ssrcs[MCU_RTCP_MAX_REMB_SSRCS];
    uint64_t bps;
    size_t n;
    if (mcu_rtcp_remb_parse(p, &bps, ssrcs, MCU_RTCP_MAX_REMB_SSRCS, &n) != MCU_OK)
        return;
    check(n <= MCU_RTCP_MAX_REMB_SSRCS);
    mcu_rtcp_write_remb(w, p->u.fb.sender_ssrc, bps, ssrcs, n);
    check(w->err == MCU_OK);
    mcu_rtcp_packet_t back;
    uint64_t bps2;
    size_t n2;
    check_output(w, MCU_RTCP_PSFB, &back);
    check(mcu_rtcp_remb_parse(&back, &bps2, ssrcs, MCU_RTCP_MAX_REMB_SSRCS, &n2) == MCU_OK);
    check(n2 == n && bps2 <= bps);
}

static void rewrite(const mcu_rtcp_packet_t *p)
{
    mcu_rtcp_writer_t w;
    mcu_rtcp_writer_init(&w, out, sizeof out);
    switch (p->type) {
    case MCU_RTCP_SR:
    case MCU_RTCP_RR: rewrite_report(p, &w); break;
    case MCU_RTCP_SDES: rewrite_sdes(p, &w); break;
    case MCU_RTCP_BYE: rewrite_bye(p, &w); break;
    case MCU_RTCP_RTPFB:
        if (p->fmt == MCU_RTCP_RTPFB_NACK)
            rewrite_nack(p, &w);
        else if (p->fmt == MCU_RTCP_RTPFB_TMMBR || p->fmt == MCU_RTCP_RTPFB_TMMBN)
            rewrite_tmmb(p, &w);
        break;
    case MCU_RTCP_PSFB:
        if (p->fmt == MCU_RTCP_PSFB_PLI)
            mcu_rtcp_write_pli(&w, p->u.fb.sender_ssrc, p->u.fb.media_ssrc);
        else if (p->fmt == MCU_RTCP_PSFB_FIR)
            rewrite_fir(p, &w);
        else if (p->fmt == MCU_RTCP_PSFB_AFB)
            rewrite_afb(p, &w);
        break;
    default: break;
    }
    check(w.err == MCU_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int vrc = mcu_rtcp_validate(data, size);
    mcu_rtcp_iter_t it;
    mcu_rtcp_packet_t pkt;
    int rc;
    mcu_rtcp_iter_init(&it, data, size);
    while ((rc = mcu_rtcp_next(&it, &pkt)) > 0) {
        check(pkt.data >= data && pkt.len <= size && pkt.data + pkt.len <= data + size);
        rewrite(&pkt);
    }
    /* validate rejects the empty and the oversized datagram; the iterator has nothing
     * to give in the first case and parses the second. */
    check(rc == vrc || (size == 0 && rc == 0) ||
          (size > MCU_RTP_MAX_DATAGRAM && vrc == MCU_ERR_TOO_BIG));
    check(mcu_rtcp_next(&it, &pkt) == 0);
    return 0;
}
