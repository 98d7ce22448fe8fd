/* SRTP sessions over libsrtp: suite names, SDES key parsing and formatting, protect and
 * unprotect for every suite, replay window, retransmission, authentication failures,
 * garbage, truncation, sequence wrap, per-receiver keys, forgetting SSRCs, bounds. */
#include <stdlib.h>
#include <string.h>

#include "mcu/error.h"
#include "mcu/srtp_session.h"
#include "test_util.h"

#define SSRC_A 0x11223344u
#define SSRC_B 0x55667788u
#define PAYLOAD 100
/* Room for the largest datagram plus what protect may add. */
#define PKT_CAP (1500 + MCU_SRTP_MAX_OVERHEAD)

static const mcu_srtp_suite_t all_suites[] = {
    MCU_SRTP_AES_CM_128_HMAC_SHA1_80,
    MCU_SRTP_AES_CM_128_HMAC_SHA1_32,
    MCU_SRTP_AEAD_AES_128_GCM,
};
#define N_SUITES (sizeof all_suites / sizeof all_suites[0])

/* A packet buffer; libsrtp wants packets on a 4-byte boundary. */
typedef struct pkt {
    _Alignas(8) uint8_t b[PKT_CAP];
    size_t len;
} pkt_t;

static mcu_srtp_key_t fixed_key(mcu_srtp_suite_t suite, uint8_t seed)
{
    mcu_srtp_key_t k;
    memset(&k, 0, sizeof k);
    k.suite = suite;
    k.len = mcu_srtp_key_len(suite);
    for (size_t i = 0; i < k.len; i++)
        k.bytes[i] = (uint8_t)(seed * 31 + i * 7 + 1);
    return k;
}

static mcu_srtp_t *session(mcu_srtp_suite_t suite, uint8_t seed, mcu_srtp_dir_t dir)
{
    mcu_srtp_key_t k = fixed_key(suite, seed);
    mcu_srtp_t *s = NULL;
    assert_int_equal(mcu_srtp_create(&k, dir, &s), MCU_OK);
    assert_non_null(s);
    return s;
}

/* RTP: v=2, PT 96, seq, ts, ssrc, then `payload` bytes derived from seq. */
static void build_rtp(pkt_t *p, uint16_t seq, uint32_t ts, uint32_t ssrc, size_t payload)
{
    memset(p, 0, sizeof *p);
    uint8_t *b = p->b;
    b[0] = 0x80;
    b[1] = 96;
    b[2] = (uint8_t)(seq >> 8);
    b[3] = (uint8_t)seq;
    b[4] = (uint8_t)(ts >> 24);
    b[5] = (uint8_t)(ts >> 16);
    b[6] = (uint8_t)(ts >> 8);
    b[7] = (uint8_t)ts;
    b[8] = (uint8_t)(ssrc >> 24);
    b[9] = (uint8_t)(ssrc >> 16);
    b[10] = (uint8_t)(ssrc >> 8);
    b[11] = (uint8_t)ssrc;
    for (size_t i = 0; i < payload; i++)
        b[12 + i] = (uint8_t)(seq * 13 + i);
    p->len = 12 + payload;
}

/* RTCP receiver report without report blocks: 0x80 201 length 1, sender SSRC. */
static void build_rr(pkt_t *p, uint32_t ssrc)
{
    memset(p, 0, sizeof *p);
    uint8_t rr[8] = {0x80, 201, 0x00, 0x01, (uint8_t)(ssrc >> 24), (uint8_t)(ssrc >> 16),
                     (uint8_t)(ssrc >> 8), (uint8_t)ssrc};
    memcpy(p->b, rr, sizeof rr);
    p->len = sizeof rr;
}

static void protect_ok(mcu_srtp_t *out, pkt_t *p, bool rtcp)
{
    assert_int_equal(mcu_srtp_protect(out, p->b, &p->len, sizeof p->b, rtcp), MCU_OK);
}

static int unprotect_copy(mcu_srtp_t *in, const pkt_t *p, pkt_t *dst, bool rtcp)
{
    *dst = *p;
    return mcu_srtp_unprotect(in, dst->b, &dst->len, rtcp);
}

/* Offset of the SRTCP E flag + index word: before the tag in RFC 3711, after it in
 * RFC 7714 (AEAD). */
static size_t e_flag_at(mcu_srtp_suite_t suite, size_t protected_len)
{
    size_t tag = mcu_srtp_tag_len(suite, true);
    return suite == MCU_SRTP_AEAD_AES_128_GCM ? protected_len - 4 : protected_len - tag - 4;
}

static uint64_t all_failures(const mcu_srtp_stats_t *st)
{
    return st->auth_failures + st->replay_failures + st->other_failures;
}

/* ------------------------------------------------------------------ names and keys */

static void suite_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SUITES; i++) {
        const char *name = mcu_srtp_suite_name(all_suites[i]);
        assert_non_null(name);
        mcu_srtp_suite_t back;
        assert_int_equal(mcu_srtp_suite_parse(name, &back), MCU_OK);
        assert_int_equal(back, all_suites[i]);
    }
    assert_string_equal(mcu_srtp_suite_name(MCU_SRTP_AES_CM_128_HMAC_SHA1_80),
                        "AES_CM_128_HMAC_SHA1_80");
    assert_string_equal(mcu_srtp_suite_name(MCU_SRTP_AES_CM_128_HMAC_SHA1_32),
                        "AES_CM_128_HMAC_SHA1_32");
    assert_string_equal(mcu_srtp_suite_name(MCU_SRTP_AEAD_AES_128_GCM), "AEAD_AES_128_GCM");
    assert_null(mcu_srtp_suite_name((mcu_srtp_suite_t)3));
    assert_null(mcu_srtp_suite_name((mcu_srtp_suite_t)-1));

    mcu_srtp_suite_t s = MCU_SRTP_AEAD_AES_128_GCM;
    assert_int_equal(mcu_srtp_suite_parse("aes_cm_128_hmac_sha1_80", &s), MCU_ERR_UNSUPPORTED);
    assert_int_equal(mcu_srtp_suite_parse("F8_128_HMAC_SHA1_80", &s), MCU_ERR_UNSUPPORTED);
    assert_int_equal(mcu_srtp_suite_parse("AES_256_CM_HMAC_SHA1_80", &s),
                     MCU_ERR_UNSUPPORTED);
    assert_int_equal(mcu_srtp_suite_parse("AES_CM_128_HMAC_SHA1_80 ", &s),
                     MCU_ERR_UNSUPPORTED);
    assert_int_equal(mcu_srtp_suite_parse("", &s), MCU_ERR_UNSUPPORTED);
    assert_int_equal(s, MCU_SRTP_AEAD_AES_128_GCM); /* untouched on failure */

    assert_int_equal(mcu_srtp_key_len(MCU_SRTP_AES_CM_128_HMAC_SHA1_80), 30);
    assert_int_equal(mcu_srtp_key_len(MCU_SRTP_AES_CM_128_HMAC_SHA1_32), 30);
    assert_int_equal(mcu_srtp_key_len(MCU_SRTP_AEAD_AES_128_GCM), 28);
    assert_int_equal(mcu_srtp_key_len((mcu_srtp_suite_t)7), 0);
    assert_int_equal(mcu_srtp_tag_len(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, false), 10);
    assert_int_equal(mcu_srtp_tag_len(MCU_SRTP_AES_CM_128_HMAC_SHA1_32, false), 4);
    assert_int_equal(mcu_srtp_tag_len(MCU_SRTP_AES_CM_128_HMAC_SHA1_32, true), 10);
    assert_int_equal(mcu_srtp_tag_len(MCU_SRTP_AEAD_AES_128_GCM, true), 16);
}

/* RFC 4568 section 4's example key (30 bytes of ASCII). */
#define RFC_B64 "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
#define RFC_BYTES "YS___semctl () {\t220;}\n}\nunles"

static void expect_refused(const char *params, mcu_srtp_suite_t suite, int err)
{
    mcu_srtp_key_t k;
    const char *why = NULL;
    assert_int_equal(mcu_srtp_key_parse(suite, params, &k, &why), err);
    assert_non_null(why);
    assert_true(strlen(why) > 10);
    assert_int_equal(k.len, 0);
    /* why may be NULL. */
    assert_int_equal(mcu_srtp_key_parse(suite, params, &k, NULL), err);
}

static void key_parse_forms(void **state)
{
    (void)state;
    const mcu_srtp_suite_t s80 = MCU_SRTP_AES_CM_128_HMAC_SHA1_80;
    mcu_srtp_key_t k;
    const char *why = "unset";
    assert_int_equal(mcu_srtp_key_parse(s80, "inline:" RFC_B64, &k, &why), MCU_OK);
    assert_string_equal(why, "unset"); /* only written on error */
    assert_int_equal(k.suite, s80);
    assert_int_equal(k.len, 30);
    assert_memory_equal(k.bytes, RFC_BYTES, 30);

    memset(&k, 0, sizeof k);
    assert_int_equal(mcu_srtp_key_parse(s80, RFC_B64, &k, NULL), MCU_OK);
    assert_memory_equal(k.bytes, RFC_BYTES, 30);
    assert_int_equal(mcu_srtp_key_parse(MCU_SRTP_AES_CM_128_HMAC_SHA1_32, "INLINE:" RFC_B64,
                                        &k, NULL),
                     MCU_OK);
    assert_int_equal(k.suite, MCU_SRTP_AES_CM_128_HMAC_SHA1_32);

    /* Lifetime and MKI parts, several keys, other key methods: unsupported. */
    expect_refused("inline:" RFC_B64 "|2^31", s80, MCU_ERR_UNSUPPORTED);
    expect_refused("inline:" RFC_B64 "|1:4", s80, MCU_ERR_UNSUPPORTED);
    expect_refused("inline:" RFC_B64 "|2^20|1:32", s80, MCU_ERR_UNSUPPORTED);
    expect_refused("inline:" RFC_B64 ";inline:" RFC_B64, s80, MCU_ERR_UNSUPPORTED);
    expect_refused("uri:https://example.org/key", s80, MCU_ERR_UNSUPPORTED);
    const char *why_life = NULL, *why_mki = NULL;
    mcu_srtp_key_parse(s80, "inline:" RFC_B64 "|2^31", &k, &why_life);
    mcu_srtp_key_parse(s80, "inline:" RFC_B64 "|1:4", &k, &why_mki);
    assert_non_null(strstr(why_life, "lifetime"));
    assert_non_null(strstr(why_mki, "MKI"));

    /* Wrong length for the suite: the 30-byte key for GCM, 28 or 31 bytes for AES-CM. */
    expect_refused("inline:" RFC_B64, MCU_SRTP_AEAD_AES_128_GCM, MCU_ERR_INVAL);
    expect_refused("inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubA==", s80, MCU_ERR_INVAL);
    expect_refused("inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcw==", s80,
                   MCU_ERR_INVAL);
    expect_refused("inline:" RFC_B64 RFC_B64, s80, MCU_ERR_INVAL);

    /* Bad base64: whitespace, junk, misplaced padding, empty. */
    expect_refused("inline: " RFC_B64, s80, MCU_ERR_INVAL);
    expect_refused("inline:WVNfX19zZW1jdGwgKCkg ewkyMjA7fQp9CnVubGVz", s80, MCU_ERR_INVAL);
    expect_refused("inline:" RFC_B64 "\n", s80, MCU_ERR_INVAL);
    expect_refused("inline:" RFC_B64 " ", s80, MCU_ERR_INVAL);
    expect_refused("inline:" RFC_B64 "!", s80, MCU_ERR_INVAL);
    expect_refused("inline:" RFC_B64 "=", s80, MCU_ERR_INVAL);
    expect_refused("inline:WVNf=X19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", s80, MCU_ERR_INVAL);
    expect_refused("inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGV-", s80, MCU_ERR_INVAL);
    expect_refused("inline:", s80, MCU_ERR_INVAL);
    expect_refused("", s80, MCU_ERR_INVAL);
    expect_refused(NULL, s80, MCU_ERR_INVAL);
    expect_refused("inline:" RFC_B64, (mcu_srtp_suite_t)9, MCU_ERR_INVAL);

    /* GCM: 28 bytes end in "==": accepted without the padding, refused with non-zero
     * unused bits in the last character (two encodings of one key are not allowed). */
    mcu_srtp_key_t g = fixed_key(MCU_SRTP_AEAD_AES_128_GCM, 3);
    char text[MCU_SRTP_KEY_PARAMS_MAX];
    int n = mcu_srtp_key_format(&g, text, sizeof text);
    assert_int_equal(n, 7 + 40);
    assert_string_equal(text + n - 2, "==");
    text[n - 2] = '\0';
    assert_int_equal(mcu_srtp_key_parse(MCU_SRTP_AEAD_AES_128_GCM, text, &k, NULL), MCU_OK);
    assert_memory_equal(k.bytes, g.bytes, 28);
    /* The 38th character carries 2 bits of the last byte and 4 unused (zero) bits. */
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *pos = strchr(alphabet, text[n - 3]);
    assert_non_null(pos);
    assert_int_equal((pos - alphabet) & 0x0F, 0);
    text[n - 3] = alphabet[(pos - alphabet) | 1];
    expect_refused(text, MCU_SRTP_AEAD_AES_128_GCM, MCU_ERR_INVAL);
}

static void key_format_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SUITES; i++) {
        mcu_srtp_key_t a, b, c;
        assert_int_equal(mcu_srtp_key_generate(all_suites[i], &a), MCU_OK);
        assert_int_equal(mcu_srtp_key_generate(all_suites[i], &b), MCU_OK);
        assert_int_equal(a.len, mcu_srtp_key_len(all_suites[i]));
        assert_int_equal(a.suite, all_suites[i]);
        assert_memory_not_equal(a.bytes, b.bytes, a.len);

        char text[MCU_SRTP_KEY_PARAMS_MAX];
        int n = mcu_srtp_key_format(&a, text, sizeof text);
        assert_int_equal(n, 7 + 40); /* 28 and 30 bytes both take 40 characters */
        assert_int_equal((size_t)n, strlen(text));
        assert_memory_equal(text, "inline:", 7);
        assert_int_equal(mcu_srtp_key_parse(all_suites[i], text, &c, NULL), MCU_OK);
        assert_int_equal(c.len, a.len);
        assert_memory_equal(c.bytes, a.bytes, a.len);

        /* Exactly enough room, and one byte less. */
        char small[48];
        assert_int_equal(mcu_srtp_key_format(&a, small, (size_t)n + 1), n);
        assert_string_equal(small, text);
        assert_int_equal(mcu_srtp_key_format(&a, small, (size_t)n), MCU_ERR_NOSPACE);
        assert_string_equal(small, "");
    }
    mcu_srtp_key_t bad = fixed_key(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, 1);
    bad.len = 28;
    char text[MCU_SRTP_KEY_PARAMS_MAX];
    assert_int_equal(mcu_srtp_key_format(&bad, text, sizeof text), MCU_ERR_INVAL);
    assert_int_equal(mcu_srtp_key_generate((mcu_srtp_suite_t)5, &bad), MCU_ERR_INVAL);
}

/* ------------------------------------------------------------------ protect/unprotect */

static void round_trip_each_suite(void **state)
{
    (void)state;
    size_t rtp_len[N_SUITES];
    for (size_t i = 0; i < N_SUITES; i++) {
        mcu_srtp_t *out = session(all_suites[i], 1, MCU_SRTP_OUTBOUND);
        mcu_srtp_t *in = session(all_suites[i], 1, MCU_SRTP_INBOUND);
        size_t tag = mcu_srtp_tag_len(all_suites[i], false);
        for (uint16_t seq = 1; seq <= 5; seq++) {
            pkt_t plain, p, got;
            build_rtp(&plain, seq, 3000u * seq, SSRC_A, PAYLOAD);
            p = plain;
            protect_ok(out, &p, false);
            assert_int_equal(p.len, plain.len + tag);
            rtp_len[i] = p.len;
            /* Header in clear, payload encrypted. */
            assert_memory_equal(p.b, plain.b, 12);
            assert_memory_not_equal(p.b + 12, plain.b + 12, PAYLOAD);
            assert_int_equal(unprotect_copy(in, &p, &got, false), MCU_OK);
            assert_int_equal(got.len, plain.len);
            assert_memory_equal(got.b, plain.b, plain.len);
        }
        /* A header with 2 CSRCs and a one-byte-form extension stays readable. */
        pkt_t plain, p, got;
        build_rtp(&plain, 6, 18000, SSRC_A, 0);
        plain.b[0] = 0x80 | 0x10 | 2;
        uint8_t ext[] = {1, 2, 3, 4, 5, 6, 7, 8, 0xBE, 0xDE, 0x00, 0x01, 0x10, 0xAA, 0, 0};
        memcpy(plain.b + 12, ext, sizeof ext);
        memset(plain.b + 12 + sizeof ext, 0x5A, 40);
        plain.len = 12 + sizeof ext + 40;
        p = plain;
        protect_ok(out, &p, false);
        assert_memory_equal(p.b, plain.b, 12 + sizeof ext);
        assert_int_equal(unprotect_copy(in, &p, &got, false), MCU_OK);
        assert_int_equal(got.len, plain.len);
        assert_memory_equal(got.b, plain.b, plain.len);

        /* RTCP: the RR grows by the E flag + index and the (80-bit or GCM) tag. */
        for (int k = 0; k < 3; k++) {
            pkt_t rr, q;
            build_rr(&rr, SSRC_A);
            p = rr;
            protect_ok(out, &p, true);
            assert_int_equal(p.len, 8 + 4 + mcu_srtp_tag_len(all_suites[i], true));
            assert_int_equal(p.b[e_flag_at(all_suites[i], p.len)] & 0x80, 0x80);
            assert_int_equal(unprotect_copy(in, &p, &q, true), MCU_OK);
            assert_int_equal(q.len, 8);
            assert_memory_equal(q.b, rr.b, 8);
        }
        const mcu_srtp_stats_t *so = mcu_srtp_stats(out), *si = mcu_srtp_stats(in);
        assert_int_equal(so->protected_rtp, 6);
        assert_int_equal(so->protected_rtcp, 3);
        assert_int_equal(si->unprotected_rtp, 6);
        assert_int_equal(si->unprotected_rtcp, 3);
        assert_int_equal(all_failures(si), 0);
        assert_int_equal(all_failures(so), 0);
        mcu_srtp_destroy(&out);
        mcu_srtp_destroy(&in);
        assert_null(out);
        assert_null(in);
    }
    /* _32's RTP tag is 6 bytes shorter than _80's; GCM's is 16 bytes. */
    assert_int_equal(rtp_len[0] - rtp_len[1], 6);
    assert_int_equal(rtp_len[2], 12 + PAYLOAD + 16);
}

/* ------------------------------------------------------------------ replay */

static void replay_duplicate(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SUITES; i++) {
        mcu_srtp_t *out = session(all_suites[i], 2, MCU_SRTP_OUTBOUND);
        mcu_srtp_t *in = session(all_suites[i], 2, MCU_SRTP_INBOUND);
        pkt_t p, got, rr;
        build_rtp(&p, 100, 0, SSRC_A, PAYLOAD);
        protect_ok(out, &p, false);
        assert_int_equal(unprotect_copy(in, &p, &got, false), MCU_OK);
        assert_int_equal(unprotect_copy(in, &p, &got, false), MCU_ERR_REPLAY);
        assert_int_equal(mcu_srtp_stats(in)->replay_failures, 1);
        build_rr(&rr, SSRC_A);
        protect_ok(out, &rr, true);
        assert_int_equal(unprotect_copy(in, &rr, &got, true), MCU_OK);
        assert_int_equal(unprotect_copy(in, &rr, &got, true), MCU_ERR_REPLAY);
        assert_int_equal(mcu_srtp_stats(in)->replay_failures, 2);
        /* The next packet is unaffected. */
        build_rtp(&p, 101, 0, SSRC_A, PAYLOAD);
        protect_ok(out, &p, false);
        assert_int_equal(unprotect_copy(in, &p, &got, false), MCU_OK);
        assert_int_equal(mcu_srtp_stats(in)->unprotected_rtp, 2);
        mcu_srtp_destroy(&out);
        mcu_srtp_destroy(&in);
    }
}

#define WINDOW_PKTS 2001

static void replay_window(void **state)
{
    (void)state;
    mcu_srtp_t *out = session(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, 3, MCU_SRTP_OUTBOUND);
    pkt_t *sent = malloc(sizeof(pkt_t) * WINDOW_PKTS);
    assert_non_null(sent);
    for (uint16_t seq = 0; seq < WINDOW_PKTS; seq++) {
        build_rtp(&sent[seq], seq, 90u * seq, SSRC_A, 20);
        protect_ok(out, &sent[seq], false);
    }
    pkt_t got;

    /* 2000 first, then 0: 2000 packets behind, outside the window. */
    mcu_srtp_t *in = session(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, 3, MCU_SRTP_INBOUND);
    assert_int_equal(unprotect_copy(in, &sent[2000], &got, false), MCU_OK);
    assert_int_equal(unprotect_copy(in, &sent[0], &got, false), MCU_ERR_REPLAY);
    /* The window's edge: 1023 behind is inside, 1024 behind is not. */
    assert_int_equal(unprotect_copy(in, &sent[2000 - MCU_SRTP_REPLAY_WINDOW], &got, false),
                     MCU_ERR_REPLAY);
    assert_int_equal(
        unprotect_copy(in, &sent[2000 - MCU_SRTP_REPLAY_WINDOW + 1], &got, false), MCU_OK);
    assert_int_equal(unprotect_copy(in, &sent[1100], &got, false), MCU_OK);
    assert_int_equal(mcu_srtp_stats(in)->replay_failures, 2);
    mcu_srtp_destroy(&in);

    /* In order, but packet 500 arrives 900 packets late (a retransmission). */
    in = session(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, 3, MCU_SRTP_INBOUND);
    for (int seq = 0; seq < WINDOW_PKTS; seq++) {
        if (seq != 500)
            assert_int_equal(unprotect_copy(in, &sent[seq], &got, false), MCU_OK);
        if (seq == 1400) {
            pkt_t plain;
            build_rtp(&plain, 500, 90u * 500, SSRC_A, 20);
            assert_int_equal(unprotect_copy(in, &sent[500], &got, false), MCU_OK);
            assert_int_equal(got.len, plain.len);
            assert_memory_equal(got.b, plain.b, plain.len);
        }
    }
    assert_int_equal(mcu_srtp_stats(in)->unprotected_rtp, WINDOW_PKTS);
    assert_int_equal(all_failures(mcu_srtp_stats(in)), 0);
    mcu_srtp_destroy(&in);
    mcu_srtp_destroy(&out);
    free(sent);
}

static void retransmission(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SUITES; i++) {
        mcu_srtp_t *out = session(all_suites[i], 4, MCU_SRTP_OUTBOUND);
        mcu_srtp_t *in = session(all_suites[i], 4, MCU_SRTP_INBOUND);
        pkt_t plain, first, again, p, got;
        build_rtp(&plain, 10, 900, SSRC_A, PAYLOAD);
        first = plain;
        protect_ok(out, &first, false);
        /* 1000 newer packets reach the receiver; the first copy of 10 was lost. */
        for (uint16_t seq = 11; seq <= 1010; seq++) {
            build_rtp(&p, seq, 900u + seq, SSRC_A, 30);
            protect_ok(out, &p, false);
            assert_int_equal(unprotect_copy(in, &p, &got, false), MCU_OK);
        }
        /* NACK repair: the same packet protected again is accepted by the sender
         * (allow_repeat_tx), gives the same bytes, and the receiver takes it. */
        again = plain;
        protect_ok(out, &again, false);
        assert_int_equal(again.len, first.len);
        assert_memory_equal(again.b, first.b, first.len);
        assert_int_equal(unprotect_copy(in, &again, &got, false), MCU_OK);
        assert_int_equal(got.len, plain.len);
        assert_memory_equal(got.b, plain.b, plain.len);
        /* The original arriving after all is a duplicate. */
        assert_int_equal(unprotect_copy(in, &first, &got, false), MCU_ERR_REPLAY);

        mcu_srtp_destroy(&out);
        mcu_srtp_destroy(&in);
    }

    /* The sender's replay window bounds what it will protect again: with 1100 the
     * newest, 1023 behind is fine, 1024 behind is refused (so the window must cover the
     * retransmission history). */
    mcu_srtp_t *out = session(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, 4, MCU_SRTP_OUTBOUND);
    pkt_t p;
    for (uint16_t seq = 0; seq <= 1100; seq++) {
        build_rtp(&p, seq, 0, SSRC_A, 30);
        protect_ok(out, &p, false);
    }
    build_rtp(&p, 1100 - (MCU_SRTP_REPLAY_WINDOW - 1), 0, SSRC_A, 30);
    assert_int_equal(mcu_srtp_protect(out, p.b, &p.len, sizeof p.b, false), MCU_OK);
    build_rtp(&p, 1100 - MCU_SRTP_REPLAY_WINDOW, 0, SSRC_A, 30);
    assert_int_equal(mcu_srtp_protect(out, p.b, &p.len, sizeof p.b, false), MCU_ERR_SRTP);
    assert_int_equal(mcu_srtp_stats(out)->other_failures, 1);
    mcu_srtp_destroy(&out);
}

/* ------------------------------------------------------------------ authentication */

static void auth_bit_flips(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SUITES; i++) {
        mcu_srtp_t *out = session(all_suites[i], 5, MCU_SRTP_OUTBOUND);
        mcu_srtp_t *in = session(all_suites[i], 5, MCU_SRTP_INBOUND);
        pkt_t plain, p, bad, got;
        build_rtp(&plain, 7, 70, SSRC_A, PAYLOAD);
        p = plain;
        protect_ok(out, &p, false);
        size_t tag = mcu_srtp_tag_len(all_suites[i], false);
        size_t flips[] = {12, 12 + PAYLOAD / 2, p.len - tag, p.len - 1, 1};
        for (size_t f = 0; f < sizeof flips / sizeof flips[0]; f++) {
            bad = p;
            bad.b[flips[f]] ^= 0x04;
            assert_int_equal(mcu_srtp_unprotect(in, bad.b, &bad.len, false), MCU_ERR_AUTH);
        }
        assert_int_equal(mcu_srtp_stats(in)->auth_failures, 5);
        /* None of that changed anything: the genuine packet is still fresh. */
        assert_int_equal(unprotect_copy(in, &p, &got, false), MCU_OK);
        assert_memory_equal(got.b, plain.b, plain.len);

        pkt_t rr;
        build_rr(&rr, SSRC_A);
        protect_ok(out, &rr, true);
        size_t rtcp_flips[] = {5, 8, rr.len - 1};
        for (size_t f = 0; f < 3; f++) {
            bad = rr;
            bad.b[rtcp_flips[f]] ^= 0x01;
            assert_int_equal(mcu_srtp_unprotect(in, bad.b, &bad.len, true), MCU_ERR_AUTH);
        }
        /* The E flag cleared ("sent unencrypted"): refused as unauthentic. */
        bad = rr;
        bad.b[e_flag_at(all_suites[i], bad.len)] &= 0x7F;
        assert_int_equal(mcu_srtp_unprotect(in, bad.b, &bad.len, true), MCU_ERR_AUTH);
        assert_int_equal(mcu_srtp_stats(in)->auth_failures, 9);
        assert_int_equal(unprotect_copy(in, &rr, &got, true), MCU_OK);
        assert_int_equal(mcu_srtp_stats(in)->replay_failures, 0);
        mcu_srtp_destroy(&out);
        mcu_srtp_destroy(&in);
    }
}

static void wrong_key(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SUITES; i++) {
        mcu_srtp_t *out = session(all_suites[i], 6, MCU_SRTP_OUTBOUND);
        mcu_srtp_t *in = session(all_suites[i], 7, MCU_SRTP_INBOUND);
        pkt_t p, rr, got;
        build_rtp(&p, 1, 0, SSRC_A, PAYLOAD);
        protect_ok(out, &p, false);
        build_rr(&rr, SSRC_A);
        protect_ok(out, &rr, true);
        assert_int_equal(unprotect_copy(in, &p, &got, false), MCU_ERR_AUTH);
        assert_int_equal(unprotect_copy(in, &rr, &got, true), MCU_ERR_AUTH);
        assert_int_equal(mcu_srtp_stats(in)->auth_failures, 2);
        /* No stream was created for the SSRC: there is nothing to forget. */
        mcu_srtp_forget_ssrc(in, SSRC_A);
        assert_int_equal(mcu_srtp_stats(in)->streams_removed, 0);
        mcu_srtp_destroy(&out);
        mcu_srtp_destroy(&in);
    }
}

static void garbage_never_accepted(void **state)
{
    (void)state;
    test_rng_t rng;
    test_rng_seed(&rng, 0x5127);
    mcu_srtp_t *in[N_SUITES];
    for (size_t i = 0; i < N_SUITES; i++)
        in[i] = session(all_suites[i], 8, MCU_SRTP_INBOUND);
    /* Give each session a known stream too, so garbage also meets per-SSRC state. */
    for (size_t i = 0; i < N_SUITES; i++) {
        mcu_srtp_t *out = session(all_suites[i], 8, MCU_SRTP_OUTBOUND);
        pkt_t p, got;
        build_rtp(&p, 1, 0, SSRC_A, PAYLOAD);
        protect_ok(out, &p, false);
        assert_int_equal(unprotect_copy(in[i], &p, &got, false), MCU_OK);
        mcu_srtp_destroy(&out);
    }
    pkt_t p;
    uint64_t tried[N_SUITES] = {0};
    for (int it = 0; it < 10000; it++) {
        size_t i = (size_t)it % N_SUITES;
        bool rtcp = (it / N_SUITES) % 2;
        size_t len = test_rng_below(&rng, 1501);
        test_rng_fill(&rng, p.b, len);
        int shape = (int)test_rng_below(&rng, 4);
        if (len >= 12 && shape >= 1) {
            /* Plausible headers get further into libsrtp. */
            p.b[0] = (uint8_t)(rtcp ? 0x80 : 0x80 | (p.b[0] & 0x1F));
            if (rtcp)
                p.b[1] = 200 + (uint8_t)test_rng_below(&rng, 5);
            if (shape >= 2) {
                p.b[8] = 0x11; /* RTP: SSRC_A, the known stream */
                p.b[9] = 0x22;
                p.b[10] = 0x33;
                p.b[11] = 0x44;
                p.b[4] = 0x11; /* RTCP: SSRC_A */
                p.b[5] = 0x22;
                p.b[6] = 0x33;
                p.b[7] = 0x44;
            }
            if (shape == 3 && !rtcp)
                p.b[0] = 0x80; /* no CSRC, no extension */
        }
        p.len = len;
        int rc = mcu_srtp_unprotect(in[i], p.b, &p.len, rtcp);
        assert_true(rc == MCU_ERR_AUTH || rc == MCU_ERR_REPLAY || rc == MCU_ERR_TRUNCATED ||
                    rc == MCU_ERR_SRTP);
        tried[i]++;
    }
    for (size_t i = 0; i < N_SUITES; i++) {
        const mcu_srtp_stats_t *st = mcu_srtp_stats(in[i]);
        assert_int_equal(all_failures(st), tried[i]);
        assert_int_equal(st->unprotected_rtp, 1);
        assert_int_equal(st->unprotected_rtcp, 0);
        assert_true(st->auth_failures > 0);
        assert_true(st->truncated > 0);
        mcu_srtp_destroy(&in[i]);
    }
}

static void truncated_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SUITES; i++) {
        mcu_srtp_t *out = session(all_suites[i], 9, MCU_SRTP_OUTBOUND);
        mcu_srtp_t *in = session(all_suites[i], 9, MCU_SRTP_INBOUND);
        pkt_t p, rr, cut, got;
        build_rtp(&p, 1, 0, SSRC_A, 0); /* header-only: header + tag is all there is */
        protect_ok(out, &p, false);
        size_t tag = mcu_srtp_tag_len(all_suites[i], false);
        assert_int_equal(p.len, 12 + tag);
        for (size_t n = 0; n < p.len; n++) {
            cut = p;
            cut.len = n;
            assert_int_equal(mcu_srtp_unprotect(in, cut.b, &cut.len, false),
                             MCU_ERR_TRUNCATED);
        }
        /* CSRC count and extension length pointing past the end. */
        cut = p;
        cut.b[0] = 0x8F;
        assert_int_equal(mcu_srtp_unprotect(in, cut.b, &cut.len, false), MCU_ERR_TRUNCATED);
        cut = p;
        cut.b[0] = 0x90;
        cut.b[12] = 0xBE;
        cut.b[13] = 0xDE;
        cut.b[14] = 0x00;
        cut.b[15] = 0x40;
        assert_int_equal(mcu_srtp_unprotect(in, cut.b, &cut.len, false), MCU_ERR_TRUNCATED);

        build_rr(&rr, SSRC_A);
        protect_ok(out, &rr, true);
        for (size_t n = 0; n < rr.len; n++) {
            cut = rr;
            cut.len = n;
            assert_int_equal(mcu_srtp_unprotect(in, cut.b, &cut.len, true),
                             MCU_ERR_TRUNCATED);
        }
        const mcu_srtp_stats_t *st = mcu_srtp_stats(in);
        assert_int_equal(st->truncated, p.len + 2 + rr.len);
        assert_int_equal(st->other_failures, st->truncated);
        /* The whole packets are still accepted. */
        assert_int_equal(unprotect_copy(in, &p, &got, false), MCU_OK);
        assert_int_equal(got.len, 12);
        assert_int_equal(unprotect_copy(in, &rr, &got, true), MCU_OK);
        assert_int_equal(got.len, 8);

        /* Protect refuses what is not a whole header. */
        build_rtp(&cut, 2, 0, SSRC_A, 0);
        cut.len = 11;
        assert_int_equal(mcu_srtp_protect(out, cut.b, &cut.len, sizeof cut.b, false),
                         MCU_ERR_SRTP);
        cut.len = 7;
        assert_int_equal(mcu_srtp_protect(out, cut.b, &cut.len, sizeof cut.b, true),
                         MCU_ERR_SRTP);
        assert_int_equal(mcu_srtp_stats(out)->other_failures, 2);
        mcu_srtp_destroy(&out);
        mcu_srtp_destroy(&in);
    }
}

/* ------------------------------------------------------------------ streams */

static void sequence_wrap(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SUITES; i++) {
        mcu_srtp_t *out = session(all_suites[i], 10, MCU_SRTP_OUTBOUND);
        mcu_srtp_t *in = session(all_suites[i], 10, MCU_SRTP_INBOUND);
        uint16_t seq = 65500;
        int delivered = 0;
        for (int k = 0; k < 36 + 501; k++, seq++) {
            pkt_t plain, p, got;
            build_rtp(&plain, seq, 3000u * (uint32_t)k, SSRC_B, 60);
            p = plain;
            protect_ok(out, &p, false);
            if (k % 10 == 9)
                continue; /* lost on the way */
            assert_int_equal(unprotect_copy(in, &p, &got, false), MCU_OK);
            assert_int_equal(got.len, plain.len);
            assert_memory_equal(got.b, plain.b, plain.len);
            delivered++;
        }
        assert_int_equal(seq, 501);
        assert_int_equal(mcu_srtp_stats(in)->unprotected_rtp, (uint64_t)delivered);
        assert_int_equal(all_failures(mcu_srtp_stats(in)), 0);
        mcu_srtp_destroy(&out);
        mcu_srtp_destroy(&in);
    }
}

static void two_receivers(void **state)
{
    (void)state;
    const mcu_srtp_suite_t s = MCU_SRTP_AES_CM_128_HMAC_SHA1_80;
    mcu_srtp_key_t k1, k2;
    assert_int_equal(mcu_srtp_key_generate(s, &k1), MCU_OK);
    assert_int_equal(mcu_srtp_key_generate(s, &k2), MCU_OK);
    mcu_srtp_t *out1, *out2, *in1, *in2;
    assert_int_equal(mcu_srtp_create(&k1, MCU_SRTP_OUTBOUND, &out1), MCU_OK);
    assert_int_equal(mcu_srtp_create(&k2, MCU_SRTP_OUTBOUND, &out2), MCU_OK);
    assert_int_equal(mcu_srtp_create(&k1, MCU_SRTP_INBOUND, &in1), MCU_OK);
    assert_int_equal(mcu_srtp_create(&k2, MCU_SRTP_INBOUND, &in2), MCU_OK);
    for (uint16_t seq = 1; seq <= 20; seq++) {
        /* One packet from the encoder, a copy protected per receiver. */
        pkt_t plain, p1, p2, got;
        build_rtp(&plain, seq, 0, SSRC_A, PAYLOAD);
        p1 = p2 = plain;
        protect_ok(out1, &p1, false);
        protect_ok(out2, &p2, false);
        assert_memory_not_equal(p1.b + 12, p2.b + 12, PAYLOAD);
        assert_int_equal(unprotect_copy(in1, &p2, &got, false), MCU_ERR_AUTH);
        assert_int_equal(unprotect_copy(in2, &p1, &got, false), MCU_ERR_AUTH);
        assert_int_equal(unprotect_copy(in1, &p1, &got, false), MCU_OK);
        assert_memory_equal(got.b, plain.b, plain.len);
        assert_int_equal(unprotect_copy(in2, &p2, &got, false), MCU_OK);
        assert_memory_equal(got.b, plain.b, plain.len);
    }
    assert_int_equal(mcu_srtp_stats(in1)->auth_failures, 20);
    assert_int_equal(mcu_srtp_stats(in2)->unprotected_rtp, 20);
    mcu_srtp_destroy(&out1);
    mcu_srtp_destroy(&out2);
    mcu_srtp_destroy(&in1);
    mcu_srtp_destroy(&in2);
}

static void forget_ssrc(void **state)
{
    (void)state;
    mcu_srtp_t *out = session(MCU_SRTP_AEAD_AES_128_GCM, 11, MCU_SRTP_OUTBOUND);
    mcu_srtp_t *in = session(MCU_SRTP_AEAD_AES_128_GCM, 11, MCU_SRTP_INBOUND);
    pkt_t a, b, got;
    build_rtp(&a, 40000, 0, SSRC_A, PAYLOAD);
    protect_ok(out, &a, false);
    build_rtp(&b, 5, 0, SSRC_B, PAYLOAD);
    protect_ok(out, &b, false);
    assert_int_equal(unprotect_copy(in, &a, &got, false), MCU_OK);
    assert_int_equal(unprotect_copy(in, &b, &got, false), MCU_OK);
    assert_int_equal(unprotect_copy(in, &a, &got, false), MCU_ERR_REPLAY);

    mcu_srtp_forget_ssrc(in, SSRC_A);
    assert_int_equal(mcu_srtp_stats(in)->streams_removed, 1);
    mcu_srtp_forget_ssrc(in, SSRC_A); /* already gone */
    mcu_srtp_forget_ssrc(in, 0xDEADBEEF);
    assert_int_equal(mcu_srtp_stats(in)->streams_removed, 1);
    /* A new stream for SSRC_A comes from the template (with a fresh replay window, so
     * even the old packet is taken again); SSRC_B kept its state. */
    assert_int_equal(unprotect_copy(in, &a, &got, false), MCU_OK);
    assert_int_equal(unprotect_copy(in, &b, &got, false), MCU_ERR_REPLAY);
    build_rtp(&a, 40001, 0, SSRC_A, PAYLOAD);
    protect_ok(out, &a, false);
    assert_int_equal(unprotect_copy(in, &a, &got, false), MCU_OK);

    /* Outbound: forgetting restarts the sender's stream for that SSRC too. */
    mcu_srtp_forget_ssrc(out, SSRC_B);
    assert_int_equal(mcu_srtp_stats(out)->streams_removed, 1);
    build_rtp(&b, 6, 0, SSRC_B, PAYLOAD);
    protect_ok(out, &b, false);
    assert_int_equal(unprotect_copy(in, &b, &got, false), MCU_OK);
    mcu_srtp_destroy(&out);
    mcu_srtp_destroy(&in);
}

/* ------------------------------------------------------------------ bounds and misuse */

static void bounds_and_misuse(void **state)
{
    (void)state;
    mcu_srtp_t *out = session(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, 12, MCU_SRTP_OUTBOUND);
    mcu_srtp_t *in = session(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, 12, MCU_SRTP_INBOUND);
    pkt_t plain, p, got;
    build_rtp(&plain, 1, 0, SSRC_A, PAYLOAD);
    p = plain;
    /* cap one byte short of len + MCU_SRTP_MAX_OVERHEAD: nothing done. */
    assert_int_equal(
        mcu_srtp_protect(out, p.b, &p.len, p.len + MCU_SRTP_MAX_OVERHEAD - 1, false),
        MCU_ERR_NOSPACE);
    assert_int_equal(p.len, plain.len);
    assert_memory_equal(p.b, plain.b, sizeof p.b);
    assert_int_equal(mcu_srtp_stats(out)->protected_rtp, 0);
    assert_int_equal(
        mcu_srtp_protect(out, p.b, &p.len, p.len + MCU_SRTP_MAX_OVERHEAD, false), MCU_OK);
    build_rr(&p, SSRC_A);
    assert_int_equal(mcu_srtp_protect(out, p.b, &p.len, 8 + MCU_SRTP_MAX_OVERHEAD - 1, true),
                     MCU_ERR_NOSPACE);

    /* Wrong direction. */
    p = plain;
    assert_int_equal(mcu_srtp_protect(in, p.b, &p.len, sizeof p.b, false), MCU_ERR_STATE);
    assert_int_equal(mcu_srtp_unprotect(out, p.b, &p.len, false), MCU_ERR_STATE);
    assert_int_equal(mcu_srtp_stats(in)->other_failures, 1);

    /* NULLs. */
    assert_int_equal(mcu_srtp_protect(NULL, p.b, &p.len, sizeof p.b, false), MCU_ERR_INVAL);
    assert_int_equal(mcu_srtp_unprotect(in, NULL, &p.len, false), MCU_ERR_INVAL);
    assert_int_equal(mcu_srtp_unprotect(in, p.b, NULL, false), MCU_ERR_INVAL);
    mcu_srtp_forget_ssrc(NULL, 1);

    /* Bad keys and directions are refused at create, *out left NULL. */
    mcu_srtp_key_t k = fixed_key(MCU_SRTP_AEAD_AES_128_GCM, 1);
    mcu_srtp_t *s = (mcu_srtp_t *)&k;
    k.len = 30;
    assert_int_equal(mcu_srtp_create(&k, MCU_SRTP_INBOUND, &s), MCU_ERR_INVAL);
    assert_null(s);
    k.len = 28;
    assert_int_equal(mcu_srtp_create(&k, (mcu_srtp_dir_t)5, &s), MCU_ERR_INVAL);
    k.suite = (mcu_srtp_suite_t)3;
    assert_int_equal(mcu_srtp_create(&k, MCU_SRTP_INBOUND, &s), MCU_ERR_INVAL);
    assert_int_equal(mcu_srtp_create(NULL, MCU_SRTP_INBOUND, &s), MCU_ERR_INVAL);
    mcu_srtp_destroy(&s);
    mcu_srtp_destroy(NULL);

    /* The session still works after all that. */
    build_rtp(&p, 2, 0, SSRC_A, PAYLOAD);
    protect_ok(out, &p, false);
    assert_int_equal(unprotect_copy(in, &p, &got, false), MCU_OK);
    mcu_srtp_destroy(&out);
    mcu_srtp_destroy(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(suite_names),
        cmocka_unit_test(key_parse_forms),
        cmocka_unit_test(key_format_round_trip),
        cmocka_unit_test(round_trip_each_suite),
        cmocka_unit_test(replay_duplicate),
        cmocka_unit_test(replay_window),
        cmocka_unit_test(retransmission),
        cmocka_unit_test(auth_bit_flips),
        cmocka_unit_test(wrong_key),
        cmocka_unit_test(garbage_never_accepted),
        cmocka_unit_test(truncated_refused),
        cmocka_unit_test(sequence_wrap),
        cmocka_unit_test(two_receivers),
        cmocka_unit_test(forget_ssrc),
        cmocka_unit_test(bounds_and_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
