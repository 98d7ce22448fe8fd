/* Bilinear plane scaling (layouts/scale_dsp): the tap tables against the documented
 * positions (exact cases: 1:1, 2:1, 1:2, an axis of one sample), the C reference against
 * exact arithmetic, and every kernel version against the reference on random planes of
 * random odd sizes from 2x shrinking to 3x enlarging, with the source in a buffer of
 * exactly its size (AddressSanitizer sees any over-read) and poison guards around every
 * output row. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "layouts/scale_dsp.h"
#include "mcu/cpu.h"
#include "mcu/error.h"
#include "test_util.h"

#define GUARD 32
#define MAX_SIDE 700       /* random planes up to this: every group count and tail */
#define PLANES 400         /* random plane pairs per version */
#define ROW_MAX 257        /* blend_rows lengths 0..ROW_MAX */
static const uint8_t POISON = 0xA5;

static int dsp_versions(mcu_scale_dsp_t *v)
{
    int n = 0;
    mcu_scale_dsp_init_flags(&v[n++], 0);
    if (mcu_cpu_detect() & MCU_CPU_AVX2)
        mcu_scale_dsp_init_flags(&v[n++], MCU_CPU_AVX2);
    return n;
}

static void axis_positions(void **state)
{
    mcu_scale_axis_t a;
    /* 1:1: every output is its own source sample. */
    assert_int_equal(mcu_scale_axis_init(&a, 37, 37), MCU_OK);
    for (int i = 0; i < 37; i++) {
        assert_int_equal(a.idx[i], i);
        assert_int_equal(a.w[i], 0);
    }
    mcu_scale_axis_free(&a);
    /* 2:1: the mean of each pair. */
    assert_int_equal(mcu_scale_axis_init(&a, 640, 320), MCU_OK);
    for (int i = 0; i < 320; i++) {
        assert_int_equal(a.idx[i], 2 * i);
        assert_int_equal(a.w[i], MCU_SCALE_ONE / 2);
    }
    assert_int_equal(a.n_groups, 320 / MCU_SCALE_GROUP);
    mcu_scale_axis_free(&a);
    /* 1:2: centres at -1/4, 1/4, 3/4 ...: the first clamps, the last holds the edge. */
    assert_int_equal(mcu_scale_axis_init(&a, 4, 8), MCU_OK);
    const int32_t idx[8] = {0, 0, 0, 1, 1, 2, 2, 3};
    const uint16_t w[8] = {0, 64, 192, 64, 192, 64, 192, 0};
    assert_memory_equal(a.idx, idx, sizeof idx);
    assert_memory_equal(a.w, w, sizeof w);
    mcu_scale_axis_free(&a);
    /* 320 -> 256, the Yen Mo grid20 tile after its 2x box: every output is in SIMD
     * groups, the last one loading the row's final 16 bytes. */
    assert_int_equal(mcu_scale_axis_init(&a, 320, 256), MCU_OK);
    assert_int_equal(a.idx[0], 0);
    assert_int_equal(a.w[0], 32);
    assert_int_equal(a.n_groups, 16);
    assert_int_equal(a.base[31], 320 - 16);
    mcu_scale_axis_free(&a);
    /* One source sample: weight 0 everywhere, the second tap never read. */
    assert_int_equal(mcu_scale_axis_init(&a, 1, 5), MCU_OK);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(a.idx[i], 0);
        assert_int_equal(a.w[i], 0);
    }
    assert_int_equal(a.n_groups, 0);
    mcu_scale_axis_free(&a);
    /* Bounds. */
    assert_int_equal(mcu_scale_axis_init(&a, 0, 4), MCU_ERR_INVAL);
    assert_int_equal(mcu_scale_axis_init(&a, 4, 0), MCU_ERR_INVAL);
    assert_int_equal(mcu_scale_axis_init(&a, 9000, 4), MCU_ERR_INVAL);
    assert_int_equal(mcu_scale_axis_init(NULL, 4, 4), MCU_ERR_INVAL);
    mcu_scale_axis_free(&a);
    mcu_scale_axis_free(NULL);
}

/* The reference is the documented formula, and a constant stays constant. */
static void reference_arithmetic(void **state)
{
    mcu_scale_dsp_t c;
    mcu_scale_dsp_init_flags(&c, 0);
    uint8_t r0[256], r1[256], out[256];
    for (int v = 0; v < 256; v++) {
        r0[v] = (uint8_t)v;
        r1[v] = (uint8_t)(255 - v);
    }
    for (int w = 0; w <= MCU_SCALE_ONE; w++) {
        c.blend_rows(out, r0, r1, 256, w);
        for (int v = 0; v < 256; v++)
            assert_int_equal(out[v], (v * (256 - w) + (255 - v) * w + 128) >> 8);
    }
    mcu_scale_axis_t a;
    assert_int_equal(mcu_scale_axis_init(&a, 200, 131), MCU_OK);
    memset(r0, 77, sizeof r0);
    c.filter_cols(out, r0, &a);
    for (int i = 0; i < 131; i++)
        assert_int_equal(out[i], 77);
    mcu_scale_axis_free(&a);
}

static void blend_rows_versions(void **state)
{
    mcu_scale_dsp_t v[2];
    int nv = dsp_versions(v);
    test_rng_t rng;
    test_rng_seed(&rng, 11);
    uint8_t a[ROW_MAX], b[ROW_MAX], ref[ROW_MAX], out[ROW_MAX + 2 * GUARD];
    for (int n = 0; n <= ROW_MAX; n++) {
        test_rng_fill(&rng, a, sizeof a);
        test_rng_fill(&rng, b, sizeof b);
        int w = n % 7 == 0 ? (int)(n % 2) * MCU_SCALE_ONE
                           : (int)test_rng_below(&rng, MCU_SCALE_ONE + 1);
        v[0].blend_rows(ref, a, b, n, w);
        for (int k = 1; k < nv; k++) {
            memset(out, POISON, sizeof out);
            v[k].blend_rows(out + GUARD, a, b, n, w);
            assert_memory_equal(out + GUARD, ref, (size_t)n);
            for (int g = 0; g < GUARD; g++) {
                assert_int_equal(out[g], POISON);
                assert_int_equal(out[GUARD + n + g], POISON);
            }
        }
    }
}

/* One random plane through every version: the same bytes, nothing outside written. */
static void scale_once(const mcu_scale_dsp_t *v, int nv, test_rng_t *rng, int sw, int sh,
                       int dw, int dh)
{
    mcu_scale_axis_t cols, rows;
    assert_int_equal(mcu_scale_axis_init(&cols, sw, dw), MCU_OK);
    assert_int_equal(mcu_scale_axis_init(&rows, sh, dh), MCU_OK);
    const int sstride = sw + (int)test_rng_below(rng, 3); /* tight, or a little padding */
    const size_t src_len = (size_t)sstride * (size_t)(sh - 1) + (size_t)sw;
    uint8_t *src = malloc(src_len); /* exactly the last row's end: over-reads are caught */
    assert_non_null(src);
    test_rng_fill(rng, src, src_len);
    if (test_rng_below(rng, 4) == 0) /* flat areas and hard edges too */
        for (size_t i = 0; i < src_len; i++)
            src[i] = (src[i] & 0x80) ? 255 : 0;
    const int dstride = dw + 2 * GUARD;
    const size_t dst_len = (size_t)dstride * (size_t)(dh + 2);
    uint8_t *ref = malloc(dst_len), *out = malloc(dst_len), *tmp = malloc((size_t)sw);
    assert_non_null(ref);
    assert_non_null(out);
    assert_non_null(tmp);
    memset(ref, POISON, dst_len);
    mcu_scale_plane(&v[0], &cols, &rows, src, sstride, ref + dstride + GUARD, dstride, tmp);
    for (int k = 1; k < nv; k++) {
        memset(out, POISON, dst_len);
        mcu_scale_plane(&v[k], &cols, &rows, src, sstride, out + dstride + GUARD, dstride, tmp);
        if (memcmp(out, ref, dst_len) != 0)
            fail_msg("%s differs from c: %dx%d -> %dx%d", v[k].name, sw, sh, dw, dh);
    }
    /* The reference wrote nothing outside its rectangle. */
    for (size_t i = 0; i < dst_len; i++) {
        const size_t y = i / (size_t)dstride, x = i % (size_t)dstride;
        const bool inside = y >= 1 && y <= (size_t)dh && x >= GUARD && x < (size_t)(GUARD + dw);
        if (!inside && ref[i] != POISON)
            fail_msg("byte written outside the output: %dx%d -> %dx%d", sw, sh, dw, dh);
    }
    free(tmp);
    free(out);
    free(ref);
    free(src);
    mcu_scale_axis_free(&cols);
    mcu_scale_axis_free(&rows);
}

/* Sizes from a 2x reduction (the composer's bilinear range) to a 3x enlargement. */
static int rand_out(test_rng_t *rng, int in)
{
    int lo = (in + 1) / 2, hi = 3 * in;
    int out = lo + (int)test_rng_below(rng, (uint32_t)(hi - lo + 1));
    return out < 1 ? 1 : out > MAX_SIDE ? MAX_SIDE : out;
}

static void plane_versions(void **state)
{
    mcu_scale_dsp_t v[2];
    int nv = dsp_versions(v);
    print_message("scale_dsp versions: %s%s\n", v[0].name, nv > 1 ? ", avx2" : "");
    test_rng_t rng;
    test_rng_seed(&rng, 2026);
    /* The sizes the composer meets, then random ones. */
    static const int fixed[][4] = {{320, 180, 256, 144}, {160, 90, 128, 72},
                                   {640, 360, 426, 240}, {320, 180, 640, 360},
                                   {2, 2, 5, 3},         {17, 1, 9, 4}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        scale_once(v, nv, &rng, fixed[i][0], fixed[i][1], fixed[i][2], fixed[i][3]);
    for (int n = 0; n < PLANES; n++) {
        int sw = 1 + (int)test_rng_below(&rng, MAX_SIDE / 2);
        int sh = 1 + (int)test_rng_below(&rng, 64);
        scale_once(v, nv, &rng, sw, sh, rand_out(&rng, sw), rand_out(&rng, sh) % 96 + 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(axis_positions),
        cmocka_unit_test(reference_arithmetic),
        cmocka_unit_test(blend_rows_versions),
        cmocka_unit_test(plane_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
