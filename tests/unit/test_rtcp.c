/*
 * RTCP parser and writer tests. Every byte vector below is written by hand from the
 * packet diagram of the RFC section named above it; each is parsed (every field checked)
 * and written back with the writer (byte-exact).
 */
#include "test_util.h"

#include <string.h>

#include "mcu/error.h"
#include "mcu/rtcp.h"
#include "mcu/rtp.h"

/* Bytes written before a writer test, to see that nothing past the packet is touched. */
#define POISON 0xEE
#define WBUF_SIZE 512

/* ---- hand-written vectors ---- */

/* RFC 3550 6.4.1: SR with one report block (28 + 24 bytes, length 12). */
static const uint8_t SR_1BLOCK[] = {
    0x81, 0xC8, 0x00, 0x0C, /* V=2 P=0 RC=1, PT=200 SR, length=12 */
    0x11, 0x22, 0x33, 0x44, /* SSRC of sender */
    0xE8, 0x4C, 0x2B, 0x5A, /* NTP timestamp, most significant word */
    0x80, 0x00, 0x00, 0x00, /* NTP timestamp, least significant word (0.5 s) */
    0x00, 0x01, 0xE2, 0x40, /* RTP timestamp 123456 */
    0x00, 0x00, 0x03, 0xE8, /* sender's packet count 1000 */
    0x00, 0x0F, 0x42, 0x40, /* sender's octet count 1000000 */
    /* report block 1 */
    0xAA, 0xBB, 0xCC, 0xDD, /* SSRC_1 */
    0x40,                   /* fraction lost 64/256 */
    0x00, 0x00, 0x05,       /* cumulative number of packets lost 5 */
    0x00, 0x01, 0x30, 0x39, /* extended highest sequence number: cycles 1, seq 12345 */
    0x00, 0x00, 0x00, 0x64, /* interarrival jitter 100 */
    0x2B, 0x5A, 0x80, 0x00, /* last SR (LSR) */
    0x00, 0x01, 0x80, 0x00, /* delay since last SR (DLSR) 1.5 s */
};

/* RFC 3550 6.4.2: RR with two report blocks (8 + 2 * 24 bytes, length 13). */
static const uint8_t RR_2BLOCKS[] = {
    0x82, 0xC9, 0x00, 0x0D, /* V=2 P=0 RC=2, PT=201 RR, length=13 */
    0x01, 0x02, 0x03, 0x04, /* SSRC of packet sender */
    /* report block 1 */
    0x0A, 0x0B, 0x0C, 0x0D, /* SSRC_1 */
    0x00,                   /* fraction lost 0 */
    0x00, 0x00, 0x00,       /* cumulative lost 0 */
    0x00, 0x00, 0xFF, 0xFF, /* extended highest sequence number 65535 */
    0x00, 0x00, 0x00, 0x10, /* jitter 16 */
    0x00, 0x00, 0x00, 0x00, /* LSR: no SR received */
    0x00, 0x00, 0x00, 0x00, /* DLSR */
    /* report block 2 */
    0x1A, 0x1B, 0x1C, 0x1D, /* SSRC_2 */
    0xFF,                   /* fraction lost 255/256 */
    0x00, 0x01, 0x00,       /* cumulative lost 256 */
    0x00, 0x02, 0x00, 0x05, /* extended highest sequence number: cycles 2, seq 5 */
    0x00, 0x00, 0x03, 0xE8, /* jitter 1000 */
    0x12, 0x34, 0x56, 0x78, /* LSR */
    0x00, 0x00, 0x80, 0x00, /* DLSR 0.5 s */
};

/* RFC 3550 6.5 / 6.5.1: SDES, one chunk with a CNAME item (length 5). */
static const uint8_t SDES_CNAME[] = {
    0x81, 0xCA, 0x00, 0x05, /* V=2 P=0 SC=1, PT=202 SDES, length=5 */
    0x11, 0x22, 0x33, 0x44, /* SSRC/CSRC_1 */
    0x01, 0x0B,             /* CNAME=1, length 11 */
    'm', 'c', 'u', '@', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
    0x00,                   /* END item */
    0x00, 0x00,             /* null octets up to the 32-bit boundary */
};

/* RFC 3550 6.6: BYE, one source, with a reason (length 4). */
static const uint8_t BYE_REASON[] = {
    0x81, 0xCB, 0x00, 0x04, /* V=2 P=0 SC=1, PT=203 BYE, length=4 */
    0x11, 0x22, 0x33, 0x44, /* SSRC/CSRC */
    0x08,                   /* length of the reason */
    's', 'h', 'u', 't', 'd', 'o', 'w', 'n',
    0x00, 0x00, 0x00,       /* padding to the 32-bit boundary */
};

/* RFC 4585 6.1 + 6.2.1: generic NACK, PID 1000 with BLP bits 0 and 2 (length 3). */
static const uint8_t NACK_BLP[] = {
    0x81, 0xCD, 0x00, 0x03, /* V=2 P=0 FMT=1 NACK, PT=205 RTPFB, length=3 */
    0x11, 0x22, 0x33, 0x44, /* SSRC of packet sender */
    0x55, 0x66, 0x77, 0x88, /* SSRC of media source */
    0x03, 0xE8,             /* PID 1000 */
    0x00, 0x05,             /* BLP 0b101: 1001 and 1003 lost too */
};

/* RFC 4585 6.1 + 6.3.1: PLI, no FCI (length 2). */
static const uint8_t PLI[] = {
    0x81, 0xCE, 0x00, 0x02, /* V=2 P=0 FMT=1 PLI, PT=206 PSFB, length=2 */
    0x11, 0x22, 0x33, 0x44, /* SSRC of packet sender */
    0x55, 0x66, 0x77, 0x88, /* SSRC of media source */
};

/* RFC 5104 4.3.1.1: FIR with one entry (length 4). */
static const uint8_t FIR[] = {
    0x84, 0xCE, 0x00, 0x04, /* V=2 P=0 FMT=4 FIR, PT=206 PSFB, length=4 */
    0x11, 0x22, 0x33, 0x44, /* SSRC of packet sender */
    0x00, 0x00, 0x00, 0x00, /* SSRC of media source: not used, 0 (4.3.1.2) */
    0x55, 0x66, 0x77, 0x88, /* FCI: SSRC */
    0x07,                   /* FCI: command sequence number 7 */
    0x00, 0x00, 0x00,       /* FCI: reserved */
};

/* RFC 5104 4.2.1.1: TMMBR, one entry, 1 000 000 bps = 125000 << 3, overhead 40. */
static const uint8_t TMMBR[] = {
    0x83, 0xCD, 0x00, 0x04, /* V=2 P=0 FMT=3 TMMBR, PT=205 RTPFB, length=4 */
    0x11, 0x22, 0x33, 0x44, /* SSRC of packet sender */
    0x00, 0x00, 0x00, 0x00, /* SSRC of media source: not used, 0 (4.2.1.2) */
    0x55, 0x66, 0x77, 0x88, /* FCI: SSRC */
    /* MxTBR Exp 000011 (3) | Mantissa 1 1110 1000 0100 1000 (125000) |
     * Measured Overhead 0 0010 1000 (40) */
    0x0F, 0xD0, 0x90, 0x28,
};

/* RFC 5104 4.2.2.1: TMMBN with two entries (length 6). */
static const uint8_t TMMBN[] = {
    0x84, 0xCD, 0x00, 0x06, /* V=2 P=0 FMT=4 TMMBN, PT=205 RTPFB, length=6 */
    0x11, 0x22, 0x33, 0x44, /* SSRC of packet sender */
    0x00, 0x00, 0x00, 0x00, /* SSRC of media source: not used, 0 (4.2.2.2) */
    0x55, 0x66, 0x77, 0x88, /* FCI 1: SSRC */
    /* exp 000001 (1) | mantissa 1 1111 0100 0000 0000 (128000) | overhead 60:
     * 256000 bps */
    0x07, 0xE8, 0x00, 0x3C,
    0x99, 0xAA, 0xBB, 0xCC, /* FCI 2: SSRC */
    /* exp 0 | mantissa 0 1111 1010 0000 0000 (64000) | overhead 0: 64000 bps */
    0x01, 0xF4, 0x00, 0x00,
};

/* draft-alvestrand-rmcat-remb 2.2: REMB, 2 500 000 bps = 156250 << 4, two SSRCs. */
static const uint8_t REMB[] = {
    0x8F, 0xCE, 0x00, 0x06, /* V=2 P=0 FMT=15 AFB, PT=206 PSFB, length=6 */
    0x11, 0x22, 0x33, 0x44, /* SSRC of packet sender */
    0x00, 0x00, 0x00, 0x00, /* SSRC of media source: unused, 0 */
    'R', 'E', 'M', 'B',     /* unique identifier */
    0x02,                   /* Num SSRC 2 */
    /* BR Exp 000100 (4) | BR Mantissa 10 0110 0010 0101 1010 (156250) */
    0x12, 0x62, 0x5A,
    0x55, 0x66, 0x77, 0x88, /* SSRC feedback 1 */
    0x99, 0xAA, 0xBB, 0xCC, /* SSRC feedback 2 */
};

/* RFC 3550 6.7: APP, subtype 3, name "TEST", 4 bytes of data (length 3). */
static const uint8_t APP[] = {
    0x83, 0xCC, 0x00, 0x03, /* V=2 P=0 subtype=3, PT=204 APP, length=3 */
    0x11, 0x22, 0x33, 0x44, /* SSRC/CSRC */
    'T', 'E', 'S', 'T',     /* name (ASCII) */
    0xDE, 0xAD, 0xBE, 0xEF, /* application-dependent data */
};

/* RFC 3550 6.4.2: RR with no report block (length 1). */
static const uint8_t RR_EMPTY[] = {
    0x80, 0xC9, 0x00, 0x01, /* V=2 P=0 RC=0, PT=201 RR, length=1 */
    0x01, 0x02, 0x03, 0x04, /* SSRC of packet sender */
};

/* ---- helpers ---- */

/* Validates v, parses it as exactly one packet into *pkt. */
static void parse_one(const uint8_t *v, size_t len, mcu_rtcp_packet_t *pkt)
{
    mcu_rtcp_iter_t it;
    mcu_rtcp_packet_t end;
    assert_int_equal(mcu_rtcp_validate(v, len), MCU_OK);
    mcu_rtcp_iter_init(&it, v, len);
    assert_int_equal(mcu_rtcp_next(&it, pkt), 1);
    assert_ptr_equal(pkt->data, v);
    assert_int_equal(pkt->len, len);
    assert_int_equal(mcu_rtcp_next(&it, &end), 0);
}

static void writer_start(mcu_rtcp_writer_t *w, uint8_t *buf)
{
    memset(buf, POISON, WBUF_SIZE);
    mcu_rtcp_writer_init(w, buf, WBUF_SIZE);
}

/* The writer holds exactly `v` and nothing after it was touched. */
static void assert_written(const mcu_rtcp_writer_t *w, const uint8_t *v, size_t len)
{
    size_t n = 0;
    assert_int_equal(mcu_rtcp_writer_finish(w, &n), MCU_OK);
    assert_int_equal(n, len);
    assert_memory_equal(w->buf, v, len);
    for (size_t i = len; i < w->cap; i++)
        assert_int_equal(w->buf[i], POISON);
}

/* v is rejected by validate and by the iterator, which then stays at the end. */
static int expect_malformed(const uint8_t *v, size_t len)
{
    mcu_rtcp_iter_t it;
    mcu_rtcp_packet_t pkt;
    int rc, vrc = mcu_rtcp_validate(v, len);
    assert_true(vrc < 0);
    mcu_rtcp_iter_init(&it, v, len);
    while ((rc = mcu_rtcp_next(&it, &pkt)) > 0)
        ;
    if (len > 0)
        assert_int_equal(rc, vrc);
    assert_int_equal(it.pos, it.len);
    assert_int_equal(mcu_rtcp_next(&it, &pkt), 0);
    return vrc;
}

static void assert_block(const mcu_rtcp_report_block_t *b, uint32_t ssrc, uint8_t frac,
                         int32_t lost, uint32_t ehs, uint32_t jitter, uint32_t lsr,
                         uint32_t dlsr)
{
    assert_int_equal(b->ssrc, ssrc);
    assert_int_equal(b->fraction_lost, frac);
    assert_int_equal(b->cumulative_lost, lost);
    assert_int_equal(b->ext_highest_seq, ehs);
    assert_int_equal(b->jitter, jitter);
    assert_int_equal(b->lsr, lsr);
    assert_int_equal(b->dlsr, dlsr);
}

static const mcu_rtcp_sender_info_t SR_INFO = {
    .ntp = 0xE84C2B5A80000000ull, .rtp_ts = 123456, .packet_count = 1000,
    .octet_count = 1000000,
};
static const mcu_rtcp_report_block_t SR_BLOCK = {
    .ssrc = 0xAABBCCDD, .fraction_lost = 64, .cumulative_lost = 5,
    .ext_highest_seq = 0x00013039, .jitter = 100, .lsr = 0x2B5A8000, .dlsr = 0x00018000,
};
static const mcu_rtcp_report_block_t RR_BLOCKS[2] = {
    {.ssrc = 0x0A0B0C0D, .ext_highest_seq = 65535, .jitter = 16},
    {.ssrc = 0x1A1B1C1D, .fraction_lost = 255, .cumulative_lost = 256,
     .ext_highest_seq = 0x00020005, .jitter = 1000, .lsr = 0x12345678, .dlsr = 0x8000},
};

/* ---- SR / RR ---- */

static void test_sr_parse(void **state)
{
    (void)state;
    mcu_rtcp_packet_t p;
    parse_one(SR_1BLOCK, sizeof SR_1BLOCK, &p);
    assert_int_equal(p.type, MCU_RTCP_SR);
    assert_int_equal(p.fmt, 1);
    assert_false(p.padding);
    assert_int_equal(p.u.report.ssrc, 0x11223344);
    assert_true(p.u.report.has_sender_info);
    assert_true(p.u.report.si.ntp == 0xE84C2B5A80000000ull);
    assert_int_equal(p.u.report.si.rtp_ts, 123456);
    assert_int_equal(p.u.report.si.packet_count, 1000);
    assert_int_equal(p.u.report.si.octet_count, 1000000);
    assert_int_equal(p.u.report.count, 1);
    assert_block(&p.u.report.blocks[0], 0xAABBCCDD, 64, 5, 0x00013039, 100, 0x2B5A8000,
                 0x00018000);
}

static void test_sr_write(void **state)
{
    (void)state;
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    writer_start(&w, buf);
    mcu_rtcp_write_sr(&w, 0x11223344, &SR_INFO, &SR_BLOCK, 1);
    assert_written(&w, SR_1BLOCK, sizeof SR_1BLOCK);
}

static void test_rr_parse(void **state)
{
    (void)state;
    mcu_rtcp_packet_t p;
    parse_one(RR_2BLOCKS, sizeof RR_2BLOCKS, &p);
    assert_int_equal(p.type, MCU_RTCP_RR);
    assert_int_equal(p.fmt, 2);
    assert_int_equal(p.u.report.ssrc, 0x01020304);
    assert_false(p.u.report.has_sender_info);
    assert_int_equal(p.u.report.count, 2);
    assert_block(&p.u.report.blocks[0], 0x0A0B0C0D, 0, 0, 65535, 16, 0, 0);
    assert_block(&p.u.report.blocks[1], 0x1A1B1C1D, 255, 256, 0x00020005, 1000, 0x12345678,
                 0x8000);
}

static void test_rr_write(void **state)
{
    (void)state;
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    writer_start(&w, buf);
    mcu_rtcp_write_rr(&w, 0x01020304, RR_BLOCKS, 2);
    assert_written(&w, RR_2BLOCKS, sizeof RR_2BLOCKS);
}

/* A negative cumulative lost (duplicates) is sign-extended; out of range values clamp. */
static void test_negative_cumulative_lost(void **state)
{
    (void)state;
    static const int32_t in[] = {-1, -5, -0x800000, -0x900000, 0x7FFFFF, 0x1000000};
    static const int32_t out[] = {-1, -5, -0x800000, -0x800000, 0x7FFFFF, 0x7FFFFF};
    static const uint8_t wire[][3] = {
        {0xFF, 0xFF, 0xFF}, {0xFF, 0xFF, 0xFB}, {0x80, 0x00, 0x00},
        {0x80, 0x00, 0x00}, {0x7F, 0xFF, 0xFF}, {0x7F, 0xFF, 0xFF},
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        uint8_t buf[WBUF_SIZE];
        mcu_rtcp_writer_t w;
        mcu_rtcp_report_block_t b = {.ssrc = 7, .cumulative_lost = in[i]};
        mcu_rtcp_packet_t p;
        size_t n;
        writer_start(&w, buf);
        mcu_rtcp_write_rr(&w, 1, &b, 1);
        assert_int_equal(mcu_rtcp_writer_finish(&w, &n), MCU_OK);
        assert_memory_equal(buf + 8 + 5, wire[i], 3); /* RR header + SSRC, block + 5 */
        parse_one(buf, n, &p);
        assert_int_equal(p.u.report.blocks[0].cumulative_lost, out[i]);
    }
}

/* Random report blocks survive write + parse, SR and RR, 0..31 blocks. */
static void test_report_roundtrip_random(void **state)
{
    (void)state;
    test_rng_t rng;
    test_rng_seed(&rng, 3550);
    for (int iter = 0; iter < 200; iter++) {
        mcu_rtcp_report_block_t b[MCU_RTCP_MAX_COUNT];
        size_t n = test_rng_below(&rng, MCU_RTCP_MAX_COUNT + 1);
        for (size_t i = 0; i < n; i++) {
            b[i].ssrc = test_rng_u32(&rng);
            b[i].fraction_lost = (uint8_t)test_rng_u32(&rng);
            b[i].cumulative_lost = (int32_t)test_rng_below(&rng, 0x1000000) - 0x800000;
            b[i].ext_highest_seq = test_rng_u32(&rng);
            b[i].jitter = test_rng_u32(&rng);
            b[i].lsr = test_rng_u32(&rng);
            b[i].dlsr = test_rng_u32(&rng);
        }
        mcu_rtcp_sender_info_t si = {(uint64_t)test_rng_u32(&rng) << 32 | test_rng_u32(&rng),
                                     test_rng_u32(&rng), test_rng_u32(&rng),
                                     test_rng_u32(&rng)};
        bool sr = iter & 1;
        uint8_t buf[1024];
        mcu_rtcp_writer_t w;
        mcu_rtcp_packet_t p;
        size_t len;
        mcu_rtcp_writer_init(&w, buf, sizeof buf);
        if (sr)
            mcu_rtcp_write_sr(&w, 99, &si, b, n);
        else
            mcu_rtcp_write_rr(&w, 99, b, n);
        assert_int_equal(mcu_rtcp_writer_finish(&w, &len), MCU_OK);
        parse_one(buf, len, &p);
        assert_int_equal(p.type, sr ? MCU_RTCP_SR : MCU_RTCP_RR);
        assert_int_equal(p.u.report.count, n);
        if (sr) {
            assert_true(p.u.report.si.ntp == si.ntp);
            assert_int_equal(p.u.report.si.rtp_ts, si.rtp_ts);
            assert_int_equal(p.u.report.si.packet_count, si.packet_count);
            assert_int_equal(p.u.report.si.octet_count, si.octet_count);
        }
        for (size_t i = 0; i < n; i++)
            assert_block(&p.u.report.blocks[i], b[i].ssrc, b[i].fraction_lost,
                         b[i].cumulative_lost, b[i].ext_highest_seq, b[i].jitter, b[i].lsr,
                         b[i].dlsr);
    }
}

/* ---- SDES / BYE / APP ---- */

static void test_sdes_parse(void **state)
{
    (void)state;
    mcu_rtcp_packet_t p;
    parse_one(SDES_CNAME, sizeof SDES_CNAME, &p);
    assert_int_equal(p.type, MCU_RTCP_SDES);
    assert_int_equal(p.u.sdes.count, 1);
    assert_int_equal(p.u.sdes.chunks[0].ssrc, 0x11223344);
    assert_int_equal(p.u.sdes.chunks[0].cname_len, 11);
    assert_ptr_equal(p.u.sdes.chunks[0].cname, SDES_CNAME + 10);
    assert_memory_equal(p.u.sdes.chunks[0].cname, "mcu@example", 11);
}

static void test_sdes_write(void **state)
{
    (void)state;
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    writer_start(&w, buf);
    mcu_rtcp_write_sdes_cname(&w, 0x11223344, "mcu@example");
    assert_written(&w, SDES_CNAME, sizeof SDES_CNAME);
}

/* RFC 3550 6.5: chunks with other items before the CNAME, and a chunk without one. */
static void test_sdes_items_and_chunks(void **state)
{
    (void)state;
    static const uint8_t v[] = {
        0x82, 0xCA, 0x00, 0x05, /* V=2 P=0 SC=2, PT=202, length=5 */
        0x00, 0x00, 0x00, 0x01, /* chunk 1: SSRC 1 */
        0x02, 0x01, 'N',        /* NAME=2, length 1 */
        0x01, 0x02, 'a', 'b',   /* CNAME=1, length 2 */
        0x00,                   /* END, already on the boundary */
        0x00, 0x00, 0x00, 0x02, /* chunk 2: SSRC 2 */
        0x06, 0x00,             /* TOOL=6, length 0 */
        0x00, 0x00,             /* END + null octet */
    };
    mcu_rtcp_packet_t p;
    parse_one(v, sizeof v, &p);
    assert_int_equal(p.u.sdes.count, 2);
    assert_int_equal(p.u.sdes.chunks[0].ssrc, 1);
    assert_int_equal(p.u.sdes.chunks[0].cname_len, 2);
    assert_memory_equal(p.u.sdes.chunks[0].cname, "ab", 2);
    assert_int_equal(p.u.sdes.chunks[1].ssrc, 2);
    assert_null(p.u.sdes.chunks[1].cname);
}

static void test_bye_parse(void **state)
{
    (void)state;
    mcu_rtcp_packet_t p;
    parse_one(BYE_REASON, sizeof BYE_REASON, &p);
    assert_int_equal(p.type, MCU_RTCP_BYE);
    assert_int_equal(p.u.bye.count, 1);
    assert_int_equal(p.u.bye.ssrcs[0], 0x11223344);
    assert_int_equal(p.u.bye.reason_len, 8);
    assert_memory_equal(p.u.bye.reason, "shutdown", 8);
}

static void test_bye_write(void **state)
{
    (void)state;
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    uint32_t ssrc = 0x11223344;
    writer_start(&w, buf);
    mcu_rtcp_write_bye(&w, &ssrc, 1, "shutdown");
    assert_written(&w, BYE_REASON, sizeof BYE_REASON);
}

static void test_bye_no_reason(void **state)
{
    (void)state;
    static const uint8_t v[] = {
        0x82, 0xCB, 0x00, 0x02, /* V=2 P=0 SC=2, PT=203 BYE, length=2 */
        0x00, 0x00, 0x00, 0x01, /* SSRC 1 */
        0x00, 0x00, 0x00, 0x02, /* SSRC 2 */
    };
    uint32_t ssrcs[2] = {1, 2};
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    mcu_rtcp_packet_t p;
    parse_one(v, sizeof v, &p);
    assert_int_equal(p.u.bye.count, 2);
    assert_int_equal(p.u.bye.ssrcs[1], 2);
    assert_null(p.u.bye.reason);
    writer_start(&w, buf);
    mcu_rtcp_write_bye(&w, ssrcs, 2, NULL);
    assert_written(&w, v, sizeof v);
}

/* APP is returned with its header parsed and the next packet follows it. */
static void test_app_skipped(void **state)
{
    (void)state;
    uint8_t v[sizeof RR_EMPTY + sizeof APP + sizeof PLI];
    memcpy(v, RR_EMPTY, sizeof RR_EMPTY);
    memcpy(v + sizeof RR_EMPTY, APP, sizeof APP);
    memcpy(v + sizeof RR_EMPTY + sizeof APP, PLI, sizeof PLI);
    mcu_rtcp_iter_t it;
    mcu_rtcp_packet_t p;
    assert_int_equal(mcu_rtcp_validate(v, sizeof v), MCU_OK);
    mcu_rtcp_iter_init(&it, v, sizeof v);
    assert_int_equal(mcu_rtcp_next(&it, &p), 1);
    assert_int_equal(p.type, MCU_RTCP_RR);
    assert_int_equal(mcu_rtcp_next(&it, &p), 1);
    assert_int_equal(p.type, MCU_RTCP_APP);
    assert_int_equal(p.fmt, 3);
    assert_int_equal(p.len, sizeof APP);
    assert_int_equal(p.u.app.ssrc, 0x11223344);
    assert_string_equal(p.u.app.name, "TEST");
    assert_int_equal(mcu_rtcp_next(&it, &p), 1);
    assert_int_equal(p.type, MCU_RTCP_PSFB);
    assert_int_equal(p.fmt, MCU_RTCP_PSFB_PLI);
    assert_int_equal(mcu_rtcp_next(&it, &p), 0);
}

/* RFC 3611 XR (207): an unknown type comes back with only its header. */
static void test_unknown_type(void **state)
{
    (void)state;
    static const uint8_t v[] = {
        0x80, 0xCF, 0x00, 0x02, /* V=2 P=0, PT=207 XR, length=2 */
        0x11, 0x22, 0x33, 0x44, 0x01, 0x02, 0x03, 0x04,
    };
    mcu_rtcp_packet_t p;
    parse_one(v, sizeof v, &p);
    assert_int_equal(p.type, 207);
    assert_int_equal(p.len, sizeof v);
}

/* ---- feedback ---- */

static void test_nack_parse(void **state)
{
    (void)state;
    mcu_rtcp_packet_t p;
    uint16_t pid, blp;
    parse_one(NACK_BLP, sizeof NACK_BLP, &p);
    assert_int_equal(p.type, MCU_RTCP_RTPFB);
    assert_int_equal(p.fmt, MCU_RTCP_RTPFB_NACK);
    assert_int_equal(p.u.fb.sender_ssrc, 0x11223344);
    assert_int_equal(p.u.fb.media_ssrc, 0x55667788);
    assert_int_equal(p.u.fb.fci_len, 4);
    assert_int_equal(mcu_rtcp_nack_count(&p), 1);
    mcu_rtcp_nack_get(&p, 0, &pid, &blp);
    assert_int_equal(pid, 1000);
    assert_int_equal(blp, 0x0005);
    mcu_rtcp_nack_get(&p, 1, &pid, &blp); /* out of range: zeroes */
    assert_int_equal(pid, 0);
    assert_int_equal(blp, 0);
    /* The other accessors see nothing in a NACK. */
    assert_int_equal(mcu_rtcp_fir_count(&p), 0);
    assert_int_equal(mcu_rtcp_tmmb_count(&p), 0);
}

static void test_nack_write(void **state)
{
    (void)state;
    static const uint16_t seqs[] = {1003, 1000, 1001, 1003};
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    writer_start(&w, buf);
    mcu_rtcp_write_nack(&w, 0x11223344, 0x55667788, seqs, 4);
    assert_written(&w, NACK_BLP, sizeof NACK_BLP);
}

static void test_nack_expand(void **state)
{
    (void)state;
    static const uint8_t v[] = {
        0x81, 0xCD, 0x00, 0x04, /* FMT=1 NACK, PT=205, length=4 */
        0x00, 0x00, 0x00, 0x01, /* sender SSRC */
        0x00, 0x00, 0x00, 0x02, /* media SSRC */
        0x00, 0x0A, 0x80, 0x01, /* PID 10, BLP bits 0 and 15: 11, 26 */
        0xFF, 0xFF, 0x00, 0x03, /* PID 65535, BLP bits 0 and 1: 0, 1 (wrap) */
    };
    static const uint16_t want[] = {10, 11, 26, 65535, 0, 1};
    mcu_rtcp_packet_t p;
    uint16_t seqs[8];
    parse_one(v, sizeof v, &p);
    assert_int_equal(mcu_rtcp_nack_count(&p), 2);
    assert_int_equal(mcu_rtcp_nack_expand(&p, seqs, 8), 6);
    assert_memory_equal(seqs, want, sizeof want);
    /* Fewer slots than sequence numbers: fills what fits, reports the total. */
    memset(seqs, 0, sizeof seqs);
    assert_int_equal(mcu_rtcp_nack_expand(&p, seqs, 2), 6);
    assert_int_equal(seqs[0], 10);
    assert_int_equal(seqs[1], 11);
    assert_int_equal(seqs[2], 0);
    assert_int_equal(mcu_rtcp_nack_expand(&p, NULL, 0), 6);
}

/* Sequence numbers on both sides of 65535 -> 0, unsorted, with duplicates. */
static void test_nack_write_wrap(void **state)
{
    (void)state;
    static const uint16_t seqs[] = {65534, 0, 65535, 2, 1, 65534, 20};
    static const uint8_t want[] = {
        0x81, 0xCD, 0x00, 0x04, /* FMT=1 NACK, PT=205, length=4 */
        0x00, 0x00, 0x00, 0x01, /* sender SSRC */
        0x00, 0x00, 0x00, 0x02, /* media SSRC */
        0xFF, 0xFE, 0x00, 0x0F, /* PID 65534, BLP 65535, 0, 1, 2 */
        0x00, 0x14, 0x00, 0x00, /* PID 20 */
    };
    /* First given is after the wrap: 65530 is still older (serial arithmetic). */
    static const uint16_t seqs2[] = {1, 65530};
    static const uint8_t want2[] = {
        0x81, 0xCD, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
        0xFF, 0xFA, 0x00, 0x40, /* PID 65530, BLP bit 6: 65530 + 7 = 1 */
    };
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    writer_start(&w, buf);
    mcu_rtcp_write_nack(&w, 1, 2, seqs, sizeof seqs / sizeof seqs[0]);
    assert_written(&w, want, sizeof want);
    writer_start(&w, buf);
    mcu_rtcp_write_nack(&w, 1, 2, seqs2, 2);
    assert_written(&w, want2, sizeof want2);
}

/* Random sets spanning less than 32768, anywhere in the sequence space: the NACK holds
 * each once, in serial order. */
static void test_nack_roundtrip_random(void **state)
{
    (void)state;
    test_rng_t rng;
    test_rng_seed(&rng, 4585);
    static uint8_t buf[65536];
    for (int iter = 0; iter < 100; iter++) {
        uint16_t base = (uint16_t)test_rng_u32(&rng);
        uint32_t span = 1 + test_rng_below(&rng, iter < 50 ? 64 : 32767);
        size_t n = 1 + test_rng_below(&rng, 300);
        uint16_t seqs[300], got[600];
        bool want[32768] = {false};
        size_t distinct = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t off = test_rng_below(&rng, span);
            seqs[i] = (uint16_t)(base + off);
            distinct += !want[off];
            want[off] = true;
        }
        mcu_rtcp_writer_t w;
        mcu_rtcp_packet_t p;
        size_t len;
        mcu_rtcp_writer_init(&w, buf, sizeof buf);
        mcu_rtcp_write_nack(&w, 1, 2, seqs, n);
        assert_int_equal(mcu_rtcp_writer_finish(&w, &len), MCU_OK);
        parse_one(buf, len, &p);
        assert_int_equal(mcu_rtcp_nack_expand(&p, got, 600), distinct);
        uint32_t prev = 0;
        for (size_t i = 0; i < distinct; i++) {
            uint32_t off = (uint16_t)(got[i] - base);
            assert_true(off < span && want[off]);
            assert_true(i == 0 || off > prev);
            prev = off;
        }
    }
}

static void test_pli_parse(void **state)
{
    (void)state;
    mcu_rtcp_packet_t p;
    parse_one(PLI, sizeof PLI, &p);
    assert_int_equal(p.type, MCU_RTCP_PSFB);
    assert_int_equal(p.fmt, MCU_RTCP_PSFB_PLI);
    assert_int_equal(p.u.fb.sender_ssrc, 0x11223344);
    assert_int_equal(p.u.fb.media_ssrc, 0x55667788);
    assert_int_equal(p.u.fb.fci_len, 0);
    assert_int_equal(mcu_rtcp_nack_count(&p), 0);
    assert_int_equal(mcu_rtcp_fir_count(&p), 0);
}

static void test_pli_write(void **state)
{
    (void)state;
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    writer_start(&w, buf);
    mcu_rtcp_write_pli(&w, 0x11223344, 0x55667788);
    assert_written(&w, PLI, sizeof PLI);
}

static void test_fir_parse(void **state)
{
    (void)state;
    mcu_rtcp_packet_t p;
    uint32_t ssrc;
    uint8_t seq;
    parse_one(FIR, sizeof FIR, &p);
    assert_int_equal(p.type, MCU_RTCP_PSFB);
    assert_int_equal(p.fmt, MCU_RTCP_PSFB_FIR);
    assert_int_equal(p.u.fb.sender_ssrc, 0x11223344);
    assert_int_equal(p.u.fb.media_ssrc, 0);
    assert_int_equal(mcu_rtcp_fir_count(&p), 1);
    mcu_rtcp_fir_get(&p, 0, &ssrc, &seq);
    assert_int_equal(ssrc, 0x55667788);
    assert_int_equal(seq, 7);
    mcu_rtcp_fir_get(&p, 1, &ssrc, &seq); /* out of range: zeroes */
    assert_int_equal(ssrc, 0);
    assert_int_equal(seq, 0);
}

static void test_fir_write(void **state)
{
    (void)state;
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    writer_start(&w, buf);
    mcu_rtcp_write_fir(&w, 0x11223344, 0x55667788, 7);
    assert_written(&w, FIR, sizeof FIR);
}

static void test_tmmbr_parse(void **state)
{
    (void)state;
    mcu_rtcp_packet_t p;
    uint32_t ssrc;
    uint64_t bps;
    uint16_t overhead;
    parse_one(TMMBR, sizeof TMMBR, &p);
    assert_int_equal(p.type, MCU_RTCP_RTPFB);
    assert_int_equal(p.fmt, MCU_RTCP_RTPFB_TMMBR);
    assert_int_equal(p.u.fb.sender_ssrc, 0x11223344);
    assert_int_equal(p.u.fb.media_ssrc, 0);
    assert_int_equal(mcu_rtcp_tmmb_count(&p), 1);
    mcu_rtcp_tmmb_get(&p, 0, &ssrc, &bps, &overhead);
    assert_int_equal(ssrc, 0x55667788);
    assert_true(bps == 1000000);
    assert_int_equal(overhead, 40);
}

static void test_tmmbr_write(void **state)
{
    (void)state;
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    writer_start(&w, buf);
    mcu_rtcp_write_tmmbr(&w, 0x11223344, 0x55667788, 1000000, 40);
    assert_written(&w, TMMBR, sizeof TMMBR);
}

static void test_tmmbn_parse(void **state)
{
    (void)state;
    mcu_rtcp_packet_t p;
    uint32_t ssrc;
    uint64_t bps;
    uint16_t overhead;
    parse_one(TMMBN, sizeof TMMBN, &p);
    assert_int_equal(p.type, MCU_RTCP_RTPFB);
    assert_int_equal(p.fmt, MCU_RTCP_RTPFB_TMMBN);
    assert_int_equal(p.u.fb.sender_ssrc, 0x11223344);
    assert_int_equal(mcu_rtcp_tmmb_count(&p), 2);
    mcu_rtcp_tmmb_get(&p, 0, &ssrc, &bps, &overhead);
    assert_int_equal(ssrc, 0x55667788);
    assert_true(bps == 256000);
    assert_int_equal(overhead, 60);
    mcu_rtcp_tmmb_get(&p, 1, &ssrc, &bps, &overhead);
    assert_int_equal(ssrc, 0x99AABBCC);
    assert_true(bps == 64000);
    assert_int_equal(overhead, 0);
    mcu_rtcp_tmmb_get(&p, 2, &ssrc, &bps, &overhead); /* out of range: zeroes */
    assert_int_equal(ssrc, 0);
    assert_true(bps == 0);
}

static void test_tmmbn_write(void **state)
{
    (void)state;
    static const uint32_t ssrcs[] = {0x55667788, 0x99AABBCC};
    static const uint64_t rates[] = {256000, 64000};
    static const uint16_t overheads[] = {60, 0};
    static const uint8_t empty[] = {
        0x84, 0xCD, 0x00, 0x02, /* FMT=4 TMMBN, PT=205, length=2: empty bounding set */
        0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00,
    };
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    mcu_rtcp_packet_t p;
    writer_start(&w, buf);
    mcu_rtcp_write_tmmbn(&w, 0x11223344, ssrcs, rates, overheads, 2);
    assert_written(&w, TMMBN, sizeof TMMBN);
    writer_start(&w, buf);
    mcu_rtcp_write_tmmbn(&w, 0x11223344, NULL, NULL, NULL, 0);
    assert_written(&w, empty, sizeof empty);
    parse_one(empty, sizeof empty, &p);
    assert_int_equal(mcu_rtcp_tmmb_count(&p), 0);
}

/* Smallest exponent, mantissa rounded down; decoding saturates at UINT64_MAX. */
static void test_tmmb_exponent(void **state)
{
    (void)state;
    static const struct { uint64_t in, out; } cases[] = {
        {0, 0}, {131071, 131071}, {131072, 131072}, {131073, 131072},
        {1000001, 1000000}, {UINT64_MAX, 0x1FFFFull << 47},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[WBUF_SIZE];
        mcu_rtcp_writer_t w;
        mcu_rtcp_packet_t p;
        size_t len;
        uint32_t ssrc;
        uint64_t bps;
        uint16_t overhead;
        writer_start(&w, buf);
        mcu_rtcp_write_tmmbr(&w, 1, 2, cases[i].in, 511);
        assert_int_equal(mcu_rtcp_writer_finish(&w, &len), MCU_OK);
        parse_one(buf, len, &p);
        mcu_rtcp_tmmb_get(&p, 0, &ssrc, &bps, &overhead);
        assert_true(bps == cases[i].out);
        assert_int_equal(overhead, 511);
    }
    /* exp 63, mantissa 0x1FFFF: far beyond 64 bits. */
    uint8_t v[sizeof TMMBR];
    memcpy(v, TMMBR, sizeof v);
    v[16] = 0xFF;
    v[17] = 0xFF;
    v[18] = 0xFE;
    mcu_rtcp_packet_t p;
    uint32_t ssrc;
    uint64_t bps;
    uint16_t overhead;
    parse_one(v, sizeof v, &p);
    mcu_rtcp_tmmb_get(&p, 0, &ssrc, &bps, &overhead);
    assert_true(bps == UINT64_MAX);
}

static void test_remb_parse(void **state)
{
    (void)state;
    mcu_rtcp_packet_t p;
    uint64_t bps;
    uint32_t ssrcs[4];
    size_t n;
    parse_one(REMB, sizeof REMB, &p);
    assert_int_equal(p.type, MCU_RTCP_PSFB);
    assert_int_equal(p.fmt, MCU_RTCP_PSFB_AFB);
    assert_int_equal(p.u.fb.sender_ssrc, 0x11223344);
    assert_int_equal(p.u.fb.media_ssrc, 0);
    assert_int_equal(mcu_rtcp_remb_parse(&p, &bps, ssrcs, 4, &n), MCU_OK);
    assert_true(bps == 2500000);
    assert_int_equal(n, 2);
    assert_int_equal(ssrcs[0], 0x55667788);
    assert_int_equal(ssrcs[1], 0x99AABBCC);
    /* Room for one SSRC: the count still says two. */
    ssrcs[1] = 0;
    assert_int_equal(mcu_rtcp_remb_parse(&p, &bps, ssrcs, 1, &n), MCU_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ssrcs[1], 0);
}

static void test_remb_write(void **state)
{
    (void)state;
    static const uint32_t ssrcs[] = {0x55667788, 0x99AABBCC};
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    writer_start(&w, buf);
    mcu_rtcp_write_remb(&w, 0x11223344, 2500000, ssrcs, 2);
    assert_written(&w, REMB, sizeof REMB);
}

/* An AFB that is not REMB, and a packet that is not an AFB. */
static void test_remb_other(void **state)
{
    (void)state;
    static const uint8_t afb[] = {
        0x8F, 0xCE, 0x00, 0x03, /* FMT=15 AFB, PT=206, length=3 */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        'A', 'B', 'C', 'D',     /* some other application */
    };
    mcu_rtcp_packet_t p;
    uint64_t bps;
    size_t n;
    parse_one(afb, sizeof afb, &p);
    assert_int_equal(mcu_rtcp_remb_parse(&p, &bps, NULL, 0, &n), MCU_ERR_UNSUPPORTED);
    parse_one(PLI, sizeof PLI, &p);
    assert_true(mcu_rtcp_remb_parse(&p, &bps, NULL, 0, &n) < 0);
    /* REMB exponent: 18-bit mantissa, rounded down. */
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    size_t len;
    writer_start(&w, buf);
    mcu_rtcp_write_remb(&w, 1, 262143 * 2 + 1, NULL, 0);
    assert_int_equal(mcu_rtcp_writer_finish(&w, &len), MCU_OK);
    parse_one(buf, len, &p);
    assert_int_equal(mcu_rtcp_remb_parse(&p, &bps, NULL, 0, &n), MCU_OK);
    assert_true(bps == 262143 * 2);
    assert_int_equal(n, 0);
}

/* ---- compounds ---- */

/* RFC 3550 6.1: SR followed by SDES, parsed in order. */
static void test_compound_sr_sdes(void **state)
{
    (void)state;
    uint8_t v[sizeof SR_1BLOCK + sizeof SDES_CNAME];
    memcpy(v, SR_1BLOCK, sizeof SR_1BLOCK);
    memcpy(v + sizeof SR_1BLOCK, SDES_CNAME, sizeof SDES_CNAME);
    mcu_rtcp_iter_t it;
    mcu_rtcp_packet_t p;
    assert_int_equal(mcu_rtcp_validate(v, sizeof v), MCU_OK);
    mcu_rtcp_iter_init(&it, v, sizeof v);
    assert_int_equal(mcu_rtcp_next(&it, &p), 1);
    assert_int_equal(p.type, MCU_RTCP_SR);
    assert_ptr_equal(p.data, v);
    assert_int_equal(p.len, sizeof SR_1BLOCK);
    assert_int_equal(p.u.report.blocks[0].ssrc, 0xAABBCCDD);
    assert_int_equal(mcu_rtcp_next(&it, &p), 1);
    assert_int_equal(p.type, MCU_RTCP_SDES);
    assert_ptr_equal(p.data, v + sizeof SR_1BLOCK);
    assert_memory_equal(p.u.sdes.chunks[0].cname, "mcu@example", 11);
    assert_int_equal(mcu_rtcp_next(&it, &p), 0);
    assert_int_equal(mcu_rtcp_next(&it, &p), 0);

    /* The writer makes the same compound. */
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    writer_start(&w, buf);
    mcu_rtcp_write_sr(&w, 0x11223344, &SR_INFO, &SR_BLOCK, 1);
    mcu_rtcp_write_sdes_cname(&w, 0x11223344, "mcu@example");
    assert_written(&w, v, sizeof v);
}

/* RFC 5506: a lone PLI, no SR/RR first, is a valid reduced-size RTCP packet. */
static void test_reduced_size_pli(void **state)
{
    (void)state;
    mcu_rtcp_packet_t p;
    parse_one(PLI, sizeof PLI, &p);
    assert_int_equal(p.type, MCU_RTCP_PSFB);
    assert_int_equal(p.fmt, MCU_RTCP_PSFB_PLI);
}

/* RFC 3550 6.4.1: padding on the last packet; the count byte is included. */
static void test_padding_last(void **state)
{
    (void)state;
    static const uint8_t v[] = {
        0x80, 0xC9, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04, /* RR, no block */
        0xA0, 0xC9, 0x00, 0x02, /* V=2 P=1 RC=0, PT=201, length=2 */
        0x05, 0x06, 0x07, 0x08, /* SSRC */
        0x00, 0x00, 0x00, 0x04, /* 4 octets of padding, count included */
    };
    mcu_rtcp_iter_t it;
    mcu_rtcp_packet_t p;
    assert_int_equal(mcu_rtcp_validate(v, sizeof v), MCU_OK);
    mcu_rtcp_iter_init(&it, v, sizeof v);
    assert_int_equal(mcu_rtcp_next(&it, &p), 1);
    assert_int_equal(mcu_rtcp_next(&it, &p), 1);
    assert_true(p.padding);
    assert_int_equal(p.u.report.ssrc, 0x05060708);
    assert_int_equal(p.len, 12);
}

/* ---- writer errors ---- */

/* One packet of each writer with fixed arguments; KIND_SIZE[k] bytes each. */
#define N_KINDS 10
static const size_t KIND_SIZE[N_KINDS] = {52, 56, 24, 20, 20, 12, 20, 20, 20, 28};

static void write_kind(mcu_rtcp_writer_t *w, int k)
{
    static const uint32_t ssrcs[2] = {1, 2};
    static const uint16_t seqs[2] = {1, 40}; /* 39 apart: two NACK entries */
    static const uint64_t rate = 1000;
    static const uint16_t overhead = 0;
    switch (k) {
    case 0: mcu_rtcp_write_sr(w, 1, &SR_INFO, &SR_BLOCK, 1); break;
    case 1: mcu_rtcp_write_rr(w, 1, RR_BLOCKS, 2); break;
    case 2: mcu_rtcp_write_sdes_cname(w, 1, "mcu@example"); break;
    case 3: mcu_rtcp_write_bye(w, ssrcs, 1, "shutdown"); break;
    case 4: mcu_rtcp_write_nack(w, 1, 2, seqs, 2); break;
    case 5: mcu_rtcp_write_pli(w, 1, 2); break;
    case 6: mcu_rtcp_write_fir(w, 1, 2, 3); break;
    case 7: mcu_rtcp_write_tmmbr(w, 1, 2, rate, overhead); break;
    case 8: mcu_rtcp_write_tmmbn(w, 1, ssrcs, &rate, &overhead, 1); break;
    default: mcu_rtcp_write_remb(w, 1, rate, ssrcs, 2); break;
    }
}

/* A packet that does not fit is not written at all, and the error sticks. */
static void test_writer_nospace(void **state)
{
    (void)state;
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    size_t len = 99;
    memset(buf, POISON, sizeof buf);
    mcu_rtcp_writer_init(&w, buf, sizeof RR_2BLOCKS + sizeof SR_1BLOCK - 1);
    mcu_rtcp_write_rr(&w, 0x01020304, RR_BLOCKS, 2);
    assert_int_equal(w.err, MCU_OK);
    mcu_rtcp_write_sr(&w, 0x11223344, &SR_INFO, &SR_BLOCK, 1); /* one byte short */
    assert_int_equal(w.err, MCU_ERR_NOSPACE);
    assert_int_equal(w.len, sizeof RR_2BLOCKS);
    mcu_rtcp_write_pli(&w, 1, 2); /* would fit, but the error is sticky */
    assert_int_equal(w.len, sizeof RR_2BLOCKS);
    assert_int_equal(mcu_rtcp_writer_finish(&w, &len), MCU_ERR_NOSPACE);
    assert_int_equal(len, 0);
    assert_memory_equal(buf, RR_2BLOCKS, sizeof RR_2BLOCKS);
    for (size_t i = sizeof RR_2BLOCKS; i < sizeof buf; i++)
        assert_int_equal(buf[i], POISON);

    /* Each writer, one byte short, then with exactly enough room. */
    for (int k = 0; k < N_KINDS; k++) {
        memset(buf, POISON, sizeof buf);
        mcu_rtcp_writer_init(&w, buf, KIND_SIZE[k] - 1);
        write_kind(&w, k);
        assert_int_equal(w.err, MCU_ERR_NOSPACE);
        assert_int_equal(w.len, 0);
        for (size_t i = 0; i < sizeof buf; i++)
            assert_int_equal(buf[i], POISON);
        mcu_rtcp_writer_init(&w, buf, KIND_SIZE[k]);
        write_kind(&w, k);
        assert_int_equal(w.err, MCU_OK);
        assert_int_equal(w.len, KIND_SIZE[k]);
        assert_int_equal(mcu_rtcp_validate(buf, w.len), MCU_OK);
    }
}

static void expect_inval(mcu_rtcp_writer_t *w, uint8_t *buf)
{
    assert_int_equal(w->err, MCU_ERR_INVAL);
    assert_int_equal(w->len, 0);
    for (size_t i = 0; i < WBUF_SIZE; i++)
        assert_int_equal(buf[i], POISON);
}

static void test_writer_inval(void **state)
{
    (void)state;
    uint8_t buf[WBUF_SIZE];
    mcu_rtcp_writer_t w;
    mcu_rtcp_report_block_t blocks[MCU_RTCP_MAX_COUNT + 1] = {{0}};
    uint32_t ssrcs[MCU_RTCP_MAX_REMB_SSRCS + 1] = {0};
    char text[MCU_RTCP_MAX_SDES_TEXT + 2];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';

    writer_start(&w, buf);
    mcu_rtcp_write_sr(&w, 1, &SR_INFO, blocks, MCU_RTCP_MAX_COUNT + 1);
    expect_inval(&w, buf);
    writer_start(&w, buf);
    mcu_rtcp_write_sr(&w, 1, NULL, blocks, 1);
    expect_inval(&w, buf);
    writer_start(&w, buf);
    mcu_rtcp_write_rr(&w, 1, blocks, MCU_RTCP_MAX_COUNT + 1);
    expect_inval(&w, buf);
    writer_start(&w, buf);
    mcu_rtcp_write_sdes_cname(&w, 1, text); /* 256 characters */
    expect_inval(&w, buf);
    writer_start(&w, buf);
    mcu_rtcp_write_sdes_cname(&w, 1, NULL);
    expect_inval(&w, buf);
    writer_start(&w, buf);
    mcu_rtcp_write_bye(&w, ssrcs, MCU_RTCP_MAX_COUNT + 1, NULL);
    expect_inval(&w, buf);
    writer_start(&w, buf);
    mcu_rtcp_write_bye(&w, ssrcs, 1, text);
    expect_inval(&w, buf);
    writer_start(&w, buf);
    mcu_rtcp_write_nack(&w, 1, 2, NULL, 0);
    expect_inval(&w, buf);
    writer_start(&w, buf);
    mcu_rtcp_write_tmmbr(&w, 1, 2, 1000, 512); /* overhead has 9 bits */
    expect_inval(&w, buf);
    writer_start(&w, buf);
    mcu_rtcp_write_remb(&w, 1, 1000, ssrcs, MCU_RTCP_MAX_REMB_SSRCS + 1);
    expect_inval(&w, buf);

    /* The limits themselves are fine. */
    uint8_t big[4096];
    size_t len;
    mcu_rtcp_writer_init(&w, big, sizeof big);
    mcu_rtcp_write_rr(&w, 1, blocks, MCU_RTCP_MAX_COUNT);
    text[MCU_RTCP_MAX_SDES_TEXT] = '\0';
    mcu_rtcp_write_sdes_cname(&w, 1, text);
    mcu_rtcp_write_remb(&w, 1, 1000, ssrcs, MCU_RTCP_MAX_REMB_SSRCS);
    assert_int_equal(mcu_rtcp_writer_finish(&w, &len), MCU_OK);
    /* Larger than any datagram the MCU accepts, but every packet parses. */
    assert_true(len > MCU_RTP_MAX_DATAGRAM);
    assert_int_equal(mcu_rtcp_validate(big, len), MCU_ERR_TOO_BIG);
    mcu_rtcp_iter_t it;
    mcu_rtcp_packet_t pkt;
    int n = 0, rc;
    mcu_rtcp_iter_init(&it, big, len);
    while ((rc = mcu_rtcp_next(&it, &pkt)) > 0)
        n++;
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
}

/* ---- malformed input ---- */

static void test_bad_short_datagram(void **state)
{
    (void)state;
    static const uint8_t v[] = {0x80, 0xC9, 0x00, 0x01};
    for (size_t len = 0; len < 4; len++)
        assert_true(mcu_rtcp_validate(v, len) < 0);
    for (size_t len = 1; len < 4; len++)
        assert_int_equal(expect_malformed(v, len), MCU_ERR_TRUNCATED);
    assert_true(mcu_rtcp_validate(NULL, 0) < 0);
}

static void test_bad_length_beyond_datagram(void **state)
{
    (void)state;
    static const uint8_t v[] = {
        0x81, 0xCE, 0x00, 0x03, /* PLI, length=3 says 16 bytes; 12 follow */
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
    };
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_TRUNCATED);
    /* A valid packet followed by 2 stray bytes. */
    uint8_t v2[sizeof PLI + 2] = {0};
    memcpy(v2, PLI, sizeof PLI);
    v2[sizeof PLI] = 0x80;
    assert_int_equal(expect_malformed(v2, sizeof v2), MCU_ERR_TRUNCATED);
}

static void test_bad_sr_truncated(void **state)
{
    (void)state;
    static const uint8_t v[] = {
        0x81, 0xC8, 0x00, 0x06, /* SR RC=1, length=6: 28 bytes, no room for the block */
        0x11, 0x22, 0x33, 0x44, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5,
    };
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_TRUNCATED);
}

static void test_bad_rr_block_truncated(void **state)
{
    (void)state;
    /* RR_2BLOCKS with length 12: the second block is 4 bytes short. */
    uint8_t v[sizeof RR_2BLOCKS - 4];
    memcpy(v, RR_2BLOCKS, sizeof v);
    v[3] = 0x0C;
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_TRUNCATED);
}

static void test_bad_version(void **state)
{
    (void)state;
    uint8_t v[sizeof PLI];
    memcpy(v, PLI, sizeof v);
    v[0] = 0x41; /* V=1 */
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_VERSION);
    /* Version 2 in the second packet only. */
    uint8_t v2[sizeof RR_EMPTY + sizeof PLI];
    memcpy(v2, RR_EMPTY, sizeof RR_EMPTY);
    memcpy(v2 + sizeof RR_EMPTY, v, sizeof v);
    assert_int_equal(expect_malformed(v2, sizeof v2), MCU_ERR_VERSION);
}

/* RFC 5761 4: second byte outside 192..223 is RTP, not RTCP. */
static void test_bad_type(void **state)
{
    (void)state;
    uint8_t v[sizeof PLI];
    memcpy(v, PLI, sizeof v);
    v[1] = 96;
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_MALFORMED);
}

static void test_bad_padding_not_last(void **state)
{
    (void)state;
    uint8_t v[sizeof RR_EMPTY + sizeof PLI];
    memcpy(v, RR_EMPTY, sizeof RR_EMPTY);
    memcpy(v + sizeof RR_EMPTY, PLI, sizeof PLI);
    v[0] |= 0x20; /* P=1 on the RR */
    v[sizeof RR_EMPTY - 1] = 4; /* a count that would otherwise be acceptable */
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_PADDING);
}

static void test_bad_padding_count(void **state)
{
    (void)state;
    uint8_t v[] = {
        0xA0, 0xC9, 0x00, 0x02, /* V=2 P=1 RC=0, PT=201, length=2 */
        0x01, 0x02, 0x03, 0x04, /* SSRC */
        0x00, 0x00, 0x00, 0x00, /* padding count 0 */
    };
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_PADDING);
    v[11] = 9; /* more than the 8 bytes after the header */
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_PADDING);
    v[11] = 255;
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_PADDING);
    v[11] = 8; /* fits, but eats the RR's SSRC */
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_TRUNCATED);
}

static void test_bad_fb_short(void **state)
{
    (void)state;
    static const uint8_t v[] = {
        0x81, 0xCE, 0x00, 0x01, /* PLI, length=1: 8 bytes, media SSRC missing */
        0x11, 0x22, 0x33, 0x44,
    };
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_TRUNCATED);
}

static void test_bad_nack_fci(void **state)
{
    (void)state;
    static const uint8_t v[] = {
        0xA1, 0xCD, 0x00, 0x04, /* V=2 P=1 FMT=1 NACK, PT=205, length=4 */
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
        0x03, 0xE8, 0x00, 0x05,
        0x00, 0x00, 0x00, 0x02, /* 2 octets of padding: FCI is 6 bytes */
    };
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_MALFORMED);
    static const uint8_t empty[] = {
        0x81, 0xCD, 0x00, 0x02, /* NACK with no FCI entry */
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
    };
    assert_int_equal(expect_malformed(empty, sizeof empty), MCU_ERR_MALFORMED);
}

static void test_bad_fir_fci(void **state)
{
    (void)state;
    static const uint8_t v[] = {
        0x84, 0xCE, 0x00, 0x03, /* FIR, length=3: 4 bytes of FCI */
        0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00,
        0x55, 0x66, 0x77, 0x88,
    };
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_MALFORMED);
    /* TMMBR with 12 bytes of FCI. */
    static const uint8_t t[] = {
        0x83, 0xCD, 0x00, 0x05, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00,
        0x55, 0x66, 0x77, 0x88, 0x0F, 0xD0, 0x90, 0x28, 0x55, 0x66, 0x77, 0x88,
    };
    assert_int_equal(expect_malformed(t, sizeof t), MCU_ERR_MALFORMED);
}

static void test_bad_remb_count(void **state)
{
    (void)state;
    uint8_t v[sizeof REMB];
    memcpy(v, REMB, sizeof v);
    v[16] = 3; /* Num SSRC 3, two present */
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_TRUNCATED);
    /* An accessor given such a packet directly also refuses it. */
    mcu_rtcp_packet_t p = {.type = MCU_RTCP_PSFB, .fmt = MCU_RTCP_PSFB_AFB, .data = v,
                           .len = sizeof v};
    p.u.fb.fci = v + 12;
    p.u.fb.fci_len = sizeof v - 12;
    uint64_t bps;
    uint32_t ssrcs[4];
    size_t n;
    assert_int_equal(mcu_rtcp_remb_parse(&p, &bps, ssrcs, 4, &n), MCU_ERR_TRUNCATED);
    /* "REMB" but no room for the count and bitrate. */
    static const uint8_t s[] = {
        0x8F, 0xCE, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 'R', 'E', 'M', 'B',
    };
    assert_int_equal(expect_malformed(s, sizeof s), MCU_ERR_TRUNCATED);
}

static void test_bad_sdes(void **state)
{
    (void)state;
    uint8_t v[sizeof SDES_CNAME];
    memcpy(v, SDES_CNAME, sizeof v);
    v[9] = 20; /* CNAME length 20: runs past the chunk and the packet */
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_TRUNCATED);
    memcpy(v, SDES_CNAME, sizeof v);
    v[9] = 14; /* item ends at the packet end: no END item */
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_TRUNCATED);
    memcpy(v, SDES_CNAME, sizeof v);
    v[0] = 0x82; /* SC=2, one chunk present */
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_TRUNCATED);
}

static void test_bad_bye_reason(void **state)
{
    (void)state;
    uint8_t v[sizeof BYE_REASON];
    memcpy(v, BYE_REASON, sizeof v);
    v[8] = 12; /* reason longer than the 11 bytes left */
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_TRUNCATED);
    memcpy(v, BYE_REASON, sizeof v);
    v[0] = 0x85; /* SC=5: SSRC list past the end */
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_TRUNCATED);
}

static void test_bad_app_short(void **state)
{
    (void)state;
    static const uint8_t v[] = {0x80, 0xCC, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44};
    assert_int_equal(expect_malformed(v, sizeof v), MCU_ERR_TRUNCATED);
}

/* Random bytes and random corruptions of valid vectors never crash or read outside. */
static void test_random_garbage(void **state)
{
    (void)state;
    static const struct { const uint8_t *v; size_t len; } seeds[] = {
        {SR_1BLOCK, sizeof SR_1BLOCK}, {RR_2BLOCKS, sizeof RR_2BLOCKS},
        {SDES_CNAME, sizeof SDES_CNAME}, {BYE_REASON, sizeof BYE_REASON},
        {NACK_BLP, sizeof NACK_BLP}, {FIR, sizeof FIR}, {TMMBN, sizeof TMMBN},
        {REMB, sizeof REMB},
    };
    test_rng_t rng;
    test_rng_seed(&rng, 5506);
    for (int iter = 0; iter < 20000; iter++) {
        size_t k = test_rng_below(&rng, sizeof seeds / sizeof seeds[0]);
        size_t len = seeds[k].len - test_rng_below(&rng, 4);
        uint8_t *v = test_malloc(len ? len : 1);
        memcpy(v, seeds[k].v, len);
        for (int flips = 1 + (int)test_rng_below(&rng, 3); flips > 0; flips--)
            v[test_rng_below(&rng, (uint32_t)len)] = (uint8_t)test_rng_u32(&rng);
        int vrc = mcu_rtcp_validate(v, len);
        mcu_rtcp_iter_t it;
        mcu_rtcp_packet_t p;
        int rc;
        mcu_rtcp_iter_init(&it, v, len);
        while ((rc = mcu_rtcp_next(&it, &p)) > 0) {
            uint16_t seqs[64];
            uint32_t ssrcs[8];
            uint64_t bps;
            size_t n;
            mcu_rtcp_nack_expand(&p, seqs, 64);
            mcu_rtcp_remb_parse(&p, &bps, ssrcs, 8, &n);
        }
        assert_int_equal(rc, vrc);
        test_free(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sr_parse),
        cmocka_unit_test(test_sr_write),
        cmocka_unit_test(test_rr_parse),
        cmocka_unit_test(test_rr_write),
        cmocka_unit_test(test_negative_cumulative_lost),
        cmocka_unit_test(test_report_roundtrip_random),
        cmocka_unit_test(test_sdes_parse),
        cmocka_unit_test(test_sdes_write),
        cmocka_unit_test(test_sdes_items_and_chunks),
        cmocka_unit_test(test_bye_parse),
        cmocka_unit_test(test_bye_write),
        cmocka_unit_test(test_bye_no_reason),
        cmocka_unit_test(test_app_skipped),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_nack_parse),
        cmocka_unit_test(test_nack_write),
        cmocka_unit_test(test_nack_expand),
        cmocka_unit_test(test_nack_write_wrap),
        cmocka_unit_test(test_nack_roundtrip_random),
        cmocka_unit_test(test_pli_parse),
        cmocka_unit_test(test_pli_write),
        cmocka_unit_test(test_fir_parse),
        cmocka_unit_test(test_fir_write),
        cmocka_unit_test(test_tmmbr_parse),
        cmocka_unit_test(test_tmmbr_write),
        cmocka_unit_test(test_tmmbn_parse),
        cmocka_unit_test(test_tmmbn_write),
        cmocka_unit_test(test_tmmb_exponent),
        cmocka_unit_test(test_remb_parse),
        cmocka_unit_test(test_remb_write),
        cmocka_unit_test(test_remb_other),
        cmocka_unit_test(test_compound_sr_sdes),
        cmocka_unit_test(test_reduced_size_pli),
        cmocka_unit_test(test_padding_last),
        cmocka_unit_test(test_writer_nospace),
        cmocka_unit_test(test_writer_inval),
        cmocka_unit_test(test_bad_short_datagram),
        cmocka_unit_test(test_bad_length_beyond_datagram),
        cmocka_unit_test(test_bad_sr_truncated),
        cmocka_unit_test(test_bad_rr_block_truncated),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_bad_type),
        cmocka_unit_test(test_bad_padding_not_last),
        cmocka_unit_test(test_bad_padding_count),
        cmocka_unit_test(test_bad_fb_short),
        cmocka_unit_test(test_bad_nack_fci),
        cmocka_unit_test(test_bad_fir_fci),
        cmocka_unit_test(test_bad_remb_count),
        cmocka_unit_test(test_bad_sdes),
        cmocka_unit_test(test_bad_bye_reason),
        cmocka_unit_test(test_bad_app_short),
        cmocka_unit_test(test_random_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
