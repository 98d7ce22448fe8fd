/* Label text: decomposed (NFD) Vietnamese names come out byte-identical to their
 * precomposed (NFC) spelling, NFC input is unchanged, ASCII spaces are trimmed, and
 * malformed UTF-8, control characters, over-long names and too-small buffers are
 * rejected with a reason, without writing past the buffer. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uninorm.h>
#include <unistr.h>

#include "mcu/config.h"
#include "mcu/error.h"
#include "mcu/text.h"
#include "test_util.h"

/* Byte the tests' output buffers are pre-filled with, to see what was written. */
#define POISON 0xA5
/* Output buffer of the tests: the label, its NUL, and guard bytes after them. */
#define OUT_SIZE (MCU_TEXT_LABEL_MAX_BYTES + 1)
#define GUARD 32

/* The NFC names spelt out byte by byte, so the test does not depend on how an editor
 * saved the literals below (some save NFD). */
#define YEN_THANG_NFC "Y\xC3\xAAn Th\xE1\xBA\xAFng"                /* ê U+00EA, ắ U+1EAF */
#define KHANH_THUONG_NFC "Kh\xC3\xA1nh Th\xC6\xB0\xE1\xBB\xA3ng"   /* á U+00E1, ư U+01B0,
                                                                    * ợ U+1EE3 */
/* Base letters followed by combining marks (U+0302 circumflex, U+0306 breve, U+0301
 * acute, U+031B horn, U+0323 dot below), in canonical order. */
#define YEN_THANG_NFD "Ye\xCC\x82n Tha\xCC\x86\xCC\x81ng"
#define KHANH_THUONG_NFD "Kha\xCC\x81nh Thu\xCC\x9Bo\xCC\x9B\xCC\xA3ng"

typedef struct {
    char out[OUT_SIZE + GUARD];
    const char *why;
} result_t;

static int run(const char *in, size_t in_len, size_t out_size, result_t *r)
{
    memset(r->out, POISON, sizeof r->out);
    r->why = "not set";
    assert_true(out_size <= sizeof r->out);
    return mcu_text_normalize_label(in, in_len, r->out, out_size, &r->why);
}

/* Nothing written at or after out[out_size]. */
static void assert_guard(const result_t *r, size_t out_size)
{
    for (size_t i = out_size; i < sizeof r->out; i++)
        if ((unsigned char)r->out[i] != POISON)
            fail_msg("byte %zu written (out_size %zu)", i, out_size);
}

static void assert_normalizes(const char *in, size_t in_len, const char *want)
{
    result_t r;
    int err = run(in, in_len, OUT_SIZE, &r);
    if (err)
        fail_msg("\"%.*s\": %s (%s)", (int)in_len, in, mcu_strerror(err), r.why);
    assert_null(r.why);
    if (strcmp(r.out, want) != 0)
        fail_msg("\"%.*s\" gave \"%s\" (%zu bytes), want \"%s\" (%zu bytes)", (int)in_len, in,
                 r.out, strlen(r.out), want, strlen(want));
    assert_guard(&r, OUT_SIZE);
}

static void assert_rejected(const char *in, size_t in_len, int want_err, const char *want_why)
{
    result_t r;
    int err = run(in, in_len, OUT_SIZE, &r);
    if (err != want_err)
        fail_msg("input of %zu bytes: got %s, want %s", in_len, mcu_strerror_name(err),
                 mcu_strerror_name(want_err));
    assert_non_null(r.why);
    assert_string_equal(r.why, want_why);
    assert_int_equal(r.out[0], '\0');   /* "" on failure */
    assert_guard(&r, OUT_SIZE);
}

static void literals_are_nfc(void **state)
{
    (void)state;
    /* The source's literals really are NFC (else the tests below prove nothing). */
    assert_string_equal("Yên Thắng", YEN_THANG_NFC);
    assert_string_equal("Khánh Thượng", KHANH_THUONG_NFC);
    assert_int_equal(MCU_TEXT_LABEL_MAX_BYTES, MCU_NAME_MAX - 1);
}

static void nfd_becomes_nfc(void **state)
{
    (void)state;
    assert_normalizes(YEN_THANG_NFD, strlen(YEN_THANG_NFD), "Yên Thắng");
    assert_normalizes(KHANH_THUONG_NFD, strlen(KHANH_THUONG_NFD), "Khánh Thượng");
    /* ợ with its marks out of canonical order (dot below, class 220, before the horn,
     * class 216): reordered, then composed. */
    const char *swapped = "Kha\xCC\x81nh Thu\xCC\x9Bo\xCC\xA3\xCC\x9Bng";
    assert_normalizes(swapped, strlen(swapped), "Khánh Thượng");
    /* Partly composed: ê + combining dot below is ệ (U+1EC7). */
    const char *partial = "Huy\xC3\xAA\xCC\xA3n Y\xC3\xAAn M\xC3\xB4";
    assert_normalizes(partial, strlen(partial), "Huyện Yên Mô");
    /* Singletons: ANGSTROM SIGN is Å, KELVIN SIGN is K. */
    assert_normalizes("\xE2\x84\xAB \xE2\x84\xAA", 7, "\xC3\x85 K");
    /* NFKC would fold these; NFC keeps them: ligature fi, superscript two, NBSP. */
    assert_normalizes("\xEF\xAC\x81\xC2\xB2\xC2\xA0x", 8, "\xEF\xAC\x81\xC2\xB2\xC2\xA0x");
}

static void nfc_unchanged(void **state)
{
    (void)state;
    static const char *const same[] = {
        "Yên Thắng", "Khánh Thượng", "Huyện Yên Mô", "Ninh Bình", "Site 7 (backup)",
        "Đồng Hới", "東京",
        "\xF0\x9F\x8E\xA5 cam",   /* U+1F3A5: a 4-byte form */
        "a", "a  b",                /* inner spaces are kept */
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        assert_normalizes(same[i], strlen(same[i]), same[i]);
    /* Only in_len bytes are read: a prefix of a longer string. */
    assert_normalizes("Yên Mô, Ninh Bình", strlen("Yên Mô"), "Yên Mô");
    /* Idempotent: the output of an NFD name normalised again is itself. */
    result_t r;
    assert_int_equal(run(KHANH_THUONG_NFD, strlen(KHANH_THUONG_NFD), OUT_SIZE, &r), MCU_OK);
    char once[OUT_SIZE];
    strcpy(once, r.out);
    assert_normalizes(once, strlen(once), once);
}

static void trims_ascii_spaces(void **state)
{
    (void)state;
    assert_normalizes("  Yên Thắng  ", strlen("  Yên Thắng  "), "Yên Thắng");
    assert_normalizes(" " YEN_THANG_NFD " ", strlen(YEN_THANG_NFD) + 2, "Yên Thắng");
    /* "" and only spaces: valid, "no label". NULL with length 0 too. */
    assert_normalizes("", 0, "");
    assert_normalizes("     ", 5, "");
    assert_normalizes(NULL, 0, "");
    /* Other spaces are text, not trimmed: NBSP and the ideographic space. */
    assert_normalizes("\xC2\xA0x\xE3\x80\x80", 6, "\xC2\xA0x\xE3\x80\x80");
    /* A 127-byte name with padding around it fits: the bound is on the result. */
    char want[MCU_TEXT_LABEL_MAX_BYTES + 1], padded[3 + MCU_TEXT_LABEL_MAX_BYTES + 3 + 1];
    memset(want, 'n', MCU_TEXT_LABEL_MAX_BYTES);
    want[MCU_TEXT_LABEL_MAX_BYTES] = '\0';
    snprintf(padded, sizeof padded, "   %s   ", want);
    assert_normalizes(padded, strlen(padded), want);
    /* Padding far past MCU_TEXT_INPUT_MAX_BYTES is trimmed before the length bound. */
    size_t big = 2 * MCU_TEXT_INPUT_MAX_BYTES;
    char *spaces = malloc(big);
    assert_non_null(spaces);
    memset(spaces, ' ', big);
    memcpy(spaces + big / 2, "Mô", 3);
    assert_normalizes(spaces, big, "Mô");
    free(spaces);
}

static void rejects_malformed_utf8(void **state)
{
    (void)state;
    static const struct { const char *s; size_t n; } bad[] = {
        {"Y\xC3", 2},                 /* truncated 2-byte sequence */
        {"\xC3(", 2},                 /* continuation byte missing */
        {"\x80", 1},                  /* stray continuation */
        {"\xC0\xAF", 2},              /* overlong "/" */
        {"\xC1\xBF", 2},              /* overlong DEL */
        {"\xE0\x80\xAF", 3},          /* overlong, 3 bytes */
        {"\xF0\x80\x80\xAF", 4},      /* overlong, 4 bytes */
        {"\xED\xA0\x80", 3},          /* UTF-16 surrogate U+D800 */
        {"\xED\xBF\xBF", 3},          /* UTF-16 surrogate U+DFFF */
        {"\xF4\x90\x80\x80", 4},      /* past U+10FFFF */
        {"\xF8\x88\x80\x80\x80", 5},  /* 5-byte form */
        {"\xFE", 1},
        {"\xFF", 1},
        {"Th\xE1\xBA", 4},            /* ắ cut short at the end of in_len */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_rejected(bad[i].s, bad[i].n, MCU_ERR_INVAL, "not valid UTF-8");
    /* Cut inside a character by in_len, though the string goes on. */
    assert_rejected("Thắng", 4, MCU_ERR_INVAL, "not valid UTF-8");
    /* The edges that are valid. */
    assert_normalizes("\xF4\x8F\xBF\xBF", 4, "\xF4\x8F\xBF\xBF");   /* U+10FFFF */
    assert_normalizes("\xED\x9F\xBF", 3, "\xED\x9F\xBF");           /* U+D7FF */
}

static void rejects_control_characters(void **state)
{
    (void)state;
    static const struct { const char *s; size_t n; } bad[] = {
        {"Y\0n", 3},            /* NUL inside in_len */
        {"\x01", 1},
        {"Y\xC3\xAAn\nTh", 7},  /* a label is one line */
        {"a\tb", 3},            /* tab: not a space to trim either */
        {" \t ", 3},
        {"\r", 1},
        {"\x1B[31m", 5},        /* terminal escape */
        {"\x1F", 1},
        {"\x7F", 1},            /* DEL */
        {"\xC2\x80", 2},        /* U+0080, first C1 */
        {"\xC2\x85", 2},        /* NEL */
        {"\xC2\x9F", 2},        /* U+009F, last C1 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_rejected(bad[i].s, bad[i].n, MCU_ERR_INVAL, "contains a control character");
    /* Neighbours of the ranges are text. */
    assert_normalizes(" !~", 3, "!~");
    assert_normalizes("\xC2\xA0", 2, "\xC2\xA0");   /* U+00A0, just after C1 */
}

static void rejects_bad_arguments(void **state)
{
    (void)state;
    char out[8];
    const char *why = NULL;
    assert_int_equal(mcu_text_normalize_label(NULL, 1, out, sizeof out, &why), MCU_ERR_INVAL);
    assert_string_equal(why, "invalid argument");
    assert_int_equal(mcu_text_normalize_label("a", 1, NULL, sizeof out, &why), MCU_ERR_INVAL);
    memset(out, POISON, sizeof out);
    assert_int_equal(mcu_text_normalize_label("a", 1, out, 0, &why), MCU_ERR_INVAL);
    assert_int_equal((unsigned char)out[0], POISON);   /* out_size 0: nothing written */
    /* why is optional. */
    assert_int_equal(mcu_text_normalize_label("a", 1, out, sizeof out, NULL), MCU_OK);
    assert_string_equal(out, "a");
    assert_int_equal(mcu_text_normalize_label("\xFF", 1, out, sizeof out, NULL),
                     MCU_ERR_INVAL);
    assert_string_equal(out, "");
}

/* 42 x NFD "ắ" (5 bytes each, 3 in NFC) + n ASCII letters. */
static char *thang_run(int n_ascii, size_t *len)
{
    static const char nfd[] = "a\xCC\x86\xCC\x81";
    char *s = malloc(42 * 5 + (size_t)n_ascii + 1);
    assert_non_null(s);
    char *p = s;
    for (int i = 0; i < 42; i++, p += 5)
        memcpy(p, nfd, 5);
    memset(p, 'x', (size_t)n_ascii);
    p += n_ascii;
    *p = '\0';
    *len = (size_t)(p - s);
    return s;
}

static void length_bound(void **state)
{
    (void)state;
    char name[MCU_TEXT_LABEL_MAX_BYTES + 2];
    /* Exactly at the limit: 127 bytes. */
    memset(name, 'a', MCU_TEXT_LABEL_MAX_BYTES);
    name[MCU_TEXT_LABEL_MAX_BYTES] = '\0';
    assert_normalizes(name, MCU_TEXT_LABEL_MAX_BYTES, name);
    /* One more. */
    memset(name, 'a', MCU_TEXT_LABEL_MAX_BYTES + 1);
    name[MCU_TEXT_LABEL_MAX_BYTES + 1] = '\0';
    assert_rejected(name, MCU_TEXT_LABEL_MAX_BYTES + 1, MCU_ERR_TOO_BIG,
                    "longer than 127 bytes");
    /* The bound is on the NFC form: 211 bytes of NFD that compose to 127 pass, and to
     * 128 do not. */
    size_t len;
    char *s = thang_run(1, &len);
    assert_int_equal(len, 211);
    result_t r;
    assert_int_equal(run(s, len, OUT_SIZE, &r), MCU_OK);
    assert_int_equal(strlen(r.out), MCU_TEXT_LABEL_MAX_BYTES);
    assert_int_equal(memcmp(r.out, "\xE1\xBA\xAF", 3), 0);
    assert_int_equal(r.out[MCU_TEXT_LABEL_MAX_BYTES - 1], 'x');
    assert_guard(&r, OUT_SIZE);
    free(s);
    s = thang_run(2, &len);
    assert_rejected(s, len, MCU_ERR_TOO_BIG, "longer than 127 bytes");
    free(s);
    /* Multi-byte at the limit: 42 x "ắ" (126 bytes) + "Ư" would be 128. */
    char vi[160] = "";
    for (int i = 0; i < 42; i++)
        strcat(vi, "ắ");
    strcat(vi, "x");
    assert_normalizes(vi, strlen(vi), vi);
    vi[126] = '\0';
    strcat(vi, "Ư");
    assert_rejected(vi, strlen(vi), MCU_ERR_TOO_BIG, "longer than 127 bytes");
    /* Far too long: refused before normalisation, with the same answer. */
    size_t big = MCU_TEXT_INPUT_MAX_BYTES + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, 'y', big);
    assert_rejected(huge, big, MCU_ERR_TOO_BIG, "longer than 127 bytes");
    free(huge);
}

static void small_buffer(void **state)
{
    (void)state;
    const size_t need = strlen(YEN_THANG_NFC) + 1;   /* 12 bytes + NUL */
    assert_int_equal(need, 13);
    result_t r;
    /* Every size too small: refused, "" written, nothing past out_size. The NFD input
     * (16 bytes) is longer than the output: the size that matters is the result's. */
    for (size_t size = 1; size < need; size++) {
        assert_int_equal(run(YEN_THANG_NFD, strlen(YEN_THANG_NFD), size, &r),
                         MCU_ERR_TOO_BIG);
        assert_string_equal(r.why, "does not fit the output buffer");
        assert_int_equal(r.out[0], '\0');
        assert_guard(&r, size);
    }
    /* Exactly enough. */
    assert_int_equal(run(YEN_THANG_NFD, strlen(YEN_THANG_NFD), need, &r), MCU_OK);
    assert_string_equal(r.out, YEN_THANG_NFC);
    assert_guard(&r, need);
    /* "" fits in one byte. */
    assert_int_equal(run("  ", 2, 1, &r), MCU_OK);
    assert_int_equal(r.out[0], '\0');
    assert_guard(&r, 1);
}

/* Random bytes, random mixes of valid pieces: never a crash or an overflow (ASan), and
 * whatever is accepted is valid, control-free, trimmed, within the bound, and NFC. */
static void random_inputs(void **state)
{
    (void)state;
    /* Valid pieces first: combining marks (also after a space or at the start),
     * precomposed letters, a singleton, Hangul jamo (which compose), a 4-byte form; then
     * BAD_PIECES that make the input invalid. */
    static const char *const pieces[] = {
        "a", " ", "\xCC\x81", "\xCC\x9B", "\xCC\xA3", "\xCC\x86", "\xC3\xAA", "o", "u",
        "\xE1\xBA\xAF", "\xE2\x84\xAB", "\xF0\x9F\x8E\xA5", "\xEA\xB0\x80",
        "\xE1\x84\x80", "\xE1\x85\xA1", "\xC2\xA0",
        "\x80", "\xC3", "\n", "\xC2\x85",
    };
    enum { N_PIECES = sizeof pieces / sizeof pieces[0], BAD_PIECES = 4 };
    test_rng_t rng;
    test_rng_seed(&rng, 0x7E47);
    uint8_t in[300];
    int ok = 0;
    for (int it = 0; it < 20000; it++) {
        size_t n = 0;
        if (it % 3 == 0) {
            n = test_rng_below(&rng, sizeof in);
            test_rng_fill(&rng, in, n);
        } else {
            /* One in three of these may hold bad pieces. */
            uint32_t choices = it % 3 == 1 ? N_PIECES : N_PIECES - BAD_PIECES;
            size_t want = test_rng_below(&rng, 80);
            for (size_t k = 0; k < want; k++) {
                const char *p = pieces[test_rng_below(&rng, choices)];
                size_t l = strlen(p);
                if (n + l > sizeof in)
                    break;
                memcpy(in + n, p, l);
                n += l;
            }
        }
        size_t size = 1 + test_rng_below(&rng, OUT_SIZE);
        result_t r;
        int err = run((const char *)in, n, size, &r);
        assert_guard(&r, size);
        if (err) {
            assert_true(err == MCU_ERR_INVAL || err == MCU_ERR_TOO_BIG);
            assert_int_equal(r.out[0], '\0');
            continue;
        }
        ok++;
        size_t len = strlen(r.out);
        assert_true(len < size && len <= MCU_TEXT_LABEL_MAX_BYTES);
        const uint8_t *u = (const uint8_t *)r.out;
        assert_null(u8_check(u, len));
        assert_true(len == 0 || (u[0] != ' ' && u[len - 1] != ' '));
        for (size_t i = 0; i < len;) {
            ucs4_t c;
            int l = u8_mbtouc(&c, u + i, len - i);
            assert_true(l > 0 && c >= 0x20 && !(c >= 0x7F && c <= 0x9F));
            i += (size_t)l;
        }
        size_t nl = 0;
        uint8_t *again = u8_normalize(UNINORM_NFC, u, len, NULL, &nl);
        assert_true(len == 0 || again != NULL);
        assert_true(nl == len && (len == 0 || memcmp(again, u, len) == 0));
        free(again);
    }
    print_message("random inputs: %d of 20000 accepted\n", ok);
    assert_true(ok > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literals_are_nfc),
        cmocka_unit_test(nfd_becomes_nfc),
        cmocka_unit_test(nfc_unchanged),
        cmocka_unit_test(trims_ascii_spaces),
        cmocka_unit_test(rejects_malformed_utf8),
        cmocka_unit_test(rejects_control_characters),
        cmocka_unit_test(rejects_bad_arguments),
        cmocka_unit_test(length_bound),
        cmocka_unit_test(small_buffer),
        cmocka_unit_test(random_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
