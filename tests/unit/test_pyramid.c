/* Halvings made ahead (layouts/pyramid): a tile drawn from a picture that carries them is
 * byte for byte the tile the composer draws halving the picture itself, for the sizes
 * and cells that need one, two and three halvings; the levels stop where the composer's
 * halvings stop; they travel with every reference of the frame and outlive their pool;
 * a foreign opaque_ref is never taken for a pyramid; mcu_composer_halvings agrees with
 * what the draw does. */
#include <stdlib.h>
#include <string.h>

#include <libavutil/buffer.h>

#include "layouts/canvas.h"
#include "layouts/composer.h"
#include "layouts/layout.h"
#include "layouts/pyramid.h"
#include "mcu/error.h"
#include "test_util.h"

static AVFrame *random_picture(test_rng_t *rng, int w, int h)
{
    AVFrame *f = av_frame_alloc();
    assert_non_null(f);
    f->format = AV_PIX_FMT_YUV420P;
    f->width = w;
    f->height = h;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    for (int k = 0; k < 3; k++)
        test_rng_fill(rng, f->data[k], (size_t)f->linesize[k] * (size_t)(k ? (h + 1) / 2 : h));
    return f;
}

static void same_tile_with_or_without(void **state)
{
    test_rng_t rng;
    test_rng_seed(&rng, 77);
    /* source size, cell: 1, 2 and 3 halvings, and none (within 2x). */
    static const struct { int w, h; mcu_rect_t cell; int levels; } cases[] = {
        {640, 360, {256, 180, 256, 180}, 1},   /* the Yen Mo grid20 tile */
        {640, 360, {0, 0, 128, 90}, 2},        /* the same site on the 640x360 profile */
        {1280, 720, {512, 360, 256, 144}, 2},
        {1920, 1080, {0, 0, 160, 90}, 2},   /* 480x270: 270 is not a multiple of 4 */
        {2560, 1440, {0, 0, 160, 90}, 3},
        {640, 360, {0, 0, 426, 240}, 0},
        {642, 362, {0, 0, 128, 72}, 0},        /* not a multiple of 4: the composer halves nothing */
    };
    mcu_composer_t *comp = NULL;
    mcu_canvas_t *a = NULL, *b = NULL;
    mcu_pyramid_pool_t *pool = NULL;
    assert_int_equal(mcu_composer_create(&comp), MCU_OK);
    assert_int_equal(mcu_canvas_create(1280, 720, &a), MCU_OK);
    assert_int_equal(mcu_canvas_create(1280, 720, &b), MCU_OK);
    assert_int_equal(mcu_pyramid_pool_create(&pool), MCU_OK);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        AVFrame *pic = random_picture(&rng, cases[i].w, cases[i].h);
        const int n = mcu_composer_halvings(pic->width, pic->height, cases[i].cell,
                                            MCU_FIT_LETTERBOX);
        assert_int_equal(n, cases[i].levels);
        /* Tile 0 halves by itself; tile 1 is given the levels. */
        assert_int_equal(mcu_composer_draw(comp, a, 0, cases[i].cell, pic, MCU_FIT_LETTERBOX),
                         MCU_OK);
        assert_int_equal(mcu_pyramid_attach(pool, pic, n), MCU_OK);
        const uint8_t *d[3];
        int ls[3];
        assert_int_equal(mcu_pyramid_level(pic, n, d, ls), n > 0);
        assert_false(mcu_pyramid_level(pic, n + 1, d, ls));
        assert_int_equal(mcu_composer_draw(comp, b, 1, cases[i].cell, pic, MCU_FIT_LETTERBOX),
                         MCU_OK);
        assert_memory_equal(a->data[0], b->data[0], a->size);
        av_frame_free(&pic);
    }
    mcu_pyramid_pool_destroy(&pool);
    mcu_canvas_destroy(&a);
    mcu_canvas_destroy(&b);
    mcu_composer_destroy(&comp);
}

static void levels_and_lifetime(void **state)
{
    test_rng_t rng;
    test_rng_seed(&rng, 5);
    mcu_pyramid_pool_t *pool = NULL;
    assert_int_equal(mcu_pyramid_pool_create(&pool), MCU_OK);
    /* 1000x600: 500x300 and 250x150; 250 is not a multiple of 4, so no third. */
    AVFrame *pic = random_picture(&rng, 1000, 600);
    assert_int_equal(mcu_pyramid_attach(pool, pic, 3), MCU_OK);
    const uint8_t *d[3];
    int ls[3];
    assert_true(mcu_pyramid_level(pic, 2, d, ls));
    assert_false(mcu_pyramid_level(pic, 3, d, ls));
    assert_false(mcu_pyramid_level(pic, 0, d, ls));
    /* Level 1 is the rounded mean of each 2x2 block. */
    assert_true(mcu_pyramid_level(pic, 1, d, ls));
    for (int y = 0; y < 300; y += 37)
        for (int x = 0; x < 500; x += 41) {
            const uint8_t *s = pic->data[0] + 2 * y * pic->linesize[0] + 2 * x;
            int sum = s[0] + s[1] + s[pic->linesize[0]] + s[pic->linesize[0] + 1];
            assert_int_equal(d[0][y * ls[0] + x], (sum + 2) >> 2);
        }
    /* A reference carries the levels; they outlive the original and the pool. */
    AVFrame *ref = av_frame_alloc();
    assert_non_null(ref);
    assert_int_equal(av_frame_ref(ref, pic), 0);
    av_frame_free(&pic);
    mcu_pyramid_pool_destroy(&pool);
    assert_null(pool);
    assert_true(mcu_pyramid_level(ref, 2, d, ls));
    assert_int_equal(d[0][0], d[0][0]); /* readable: AddressSanitizer watches */
    /* Re-attaching replaces; levels 0 drops them. */
    assert_int_equal(mcu_pyramid_pool_create(&pool), MCU_OK);
    assert_int_equal(mcu_pyramid_attach(pool, ref, 1), MCU_OK);
    assert_false(mcu_pyramid_level(ref, 2, d, ls));
    assert_int_equal(mcu_pyramid_attach(pool, ref, 0), MCU_OK);
    assert_null(ref->opaque_ref);
    assert_false(mcu_pyramid_level(ref, 1, d, ls));
    /* Someone else's opaque_ref is not a pyramid. */
    ref->opaque_ref = av_buffer_allocz(256);
    assert_non_null(ref->opaque_ref);
    assert_false(mcu_pyramid_level(ref, 1, d, ls));
    /* Refused: bad level counts, other formats, NULL. */
    assert_int_equal(mcu_pyramid_attach(pool, ref, -1), MCU_ERR_INVAL);
    assert_int_equal(mcu_pyramid_attach(pool, ref, MCU_PYRAMID_MAX_LEVELS + 1), MCU_ERR_INVAL);
    assert_int_equal(mcu_pyramid_attach(NULL, ref, 1), MCU_ERR_INVAL);
    assert_int_equal(mcu_pyramid_attach(pool, NULL, 1), MCU_ERR_INVAL);
    AVFrame *gray = av_frame_alloc();
    assert_non_null(gray);
    gray->format = AV_PIX_FMT_GRAY8;
    gray->width = gray->height = 64;
    assert_int_equal(av_frame_get_buffer(gray, 0), 0);
    assert_int_equal(mcu_pyramid_attach(pool, gray, 1), MCU_ERR_INVAL);
    assert_false(mcu_pyramid_level(NULL, 1, d, ls));
    av_frame_free(&gray);
    av_frame_free(&ref);
    mcu_pyramid_pool_destroy(&pool);
    mcu_pyramid_pool_destroy(NULL);
}

/* The crop fit draws a part of the picture: no halvings of the whole are of use. */
static void crop_fit_takes_none(void **state)
{
    assert_int_equal(mcu_composer_halvings(640, 480, (mcu_rect_t){0, 0, 256, 144}, MCU_FIT_CROP),
                     0);
    assert_int_equal(
        mcu_composer_halvings(640, 360, (mcu_rect_t){0, 0, 256, 144}, MCU_FIT_LETTERBOX), 1);
    assert_int_equal(mcu_composer_halvings(640, 360, (mcu_rect_t){0, 0, 0, 0}, MCU_FIT_LETTERBOX),
                     0);
    assert_int_equal(mcu_composer_halvings(1, 1, (mcu_rect_t){0, 0, 16, 16}, MCU_FIT_LETTERBOX),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_tile_with_or_without),
        cmocka_unit_test(levels_and_lifetime),
        cmocka_unit_test(crop_fit_takes_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
