#include "layouts/pyramid.h"

#include <stdlib.h>
#include <string.h>

#include <libavutil/buffer.h>
#include <libyuv/scale.h>

#include "codecs/pix_fmt.h"
#include "layouts/canvas.h"
#include "mcu/error.h"

/* The tag a pyramid's opaque_ref carries (its buffer's opaque): tells it from any other
 * user of opaque_ref. */
static const char pyramid_tag[] = "mcu_pyramid";

typedef struct level {
    AVBufferRef *buf;           /* from the pool: Y, U, V, rows MCU_CANVAS_ALIGN-aligned */
    uint8_t *data[3];
    int linesize[3];
    int w, h;
} level_t;

typedef struct pyramid {
    int n;
    level_t level[MCU_PYRAMID_MAX_LEVELS];
} pyramid_t;

/* Per level: a buffer pool for one size, re-made when the size changes. */
typedef struct level_pool {
    AVBufferPool *pool;
    int w, h;
    size_t bytes;
} level_pool_t;

struct mcu_pyramid_pool {
    level_pool_t level[MCU_PYRAMID_MAX_LEVELS];
};

static int align_up(int v) { return (v + MCU_CANVAS_ALIGN - 1) & ~(MCU_CANVAS_ALIGN - 1); }

int mcu_pyramid_pool_create(mcu_pyramid_pool_t **out)
{
    if (!out)
        return MCU_ERR_INVAL;
    *out = calloc(1, sizeof **out);
    return *out ? MCU_OK : MCU_ERR_NOMEM;
}

void mcu_pyramid_pool_destroy(mcu_pyramid_pool_t **p)
{
    if (!p || !*p)
        return;
    for (int k = 0; k < MCU_PYRAMID_MAX_LEVELS; k++)
        av_buffer_pool_uninit(&(*p)->level[k].pool); /* freed once every buffer is back */
    free(*p);
    *p = NULL;
}

int mcu_pyramid_halve(const uint8_t *const src[3], const int src_ls[3], int w, int h,
                      uint8_t *const dst[3], const int dst_ls[3])
{
    if (w < 4 || h < 4 || w % 4 || h % 4)
        return MCU_ERR_INVAL;
    return I420Scale(src[0], src_ls[0], src[1], src_ls[1], src[2], src_ls[2], w, h, dst[0],
                     dst_ls[0], dst[1], dst_ls[1], dst[2], dst_ls[2], w / 2, h / 2,
                     kFilterBox) == 0
               ? MCU_OK
               : MCU_ERR_INVAL;
}

/* A pooled w x h I420 buffer with aligned rows. */
static int level_get(level_pool_t *lp, int w, int h, level_t *out)
{
    const int ly = align_up(w), lc = align_up(w / 2);
    const size_t bytes = (size_t)ly * (size_t)h + 2 * (size_t)lc * (size_t)(h / 2);
    if (!lp->pool || lp->w != w || lp->h != h) {
        av_buffer_pool_uninit(&lp->pool);
        /* av_malloc aligns to at least 32 bytes; the 64-byte row alignment is for the
         * strides, each row start is then as aligned as the buffer. */
        lp->pool = av_buffer_pool_init(bytes, NULL);
        if (!lp->pool)
            return MCU_ERR_NOMEM;
        lp->w = w;
        lp->h = h;
        lp->bytes = bytes;
    }
    AVBufferRef *b = av_buffer_pool_get(lp->pool);
    if (!b)
        return MCU_ERR_NOMEM;
    *out = (level_t){.buf = b, .w = w, .h = h, .linesize = {ly, lc, lc}};
    out->data[0] = b->data;
    out->data[1] = out->data[0] + (size_t)ly * (size_t)h;
    out->data[2] = out->data[1] + (size_t)lc * (size_t)(h / 2);
    return MCU_OK;
}

static void pyramid_free(void *opaque, uint8_t *data)
{
    pyramid_t *p = (pyramid_t *)data;
    for (int k = 0; k < p->n; k++)
        av_buffer_unref(&p->level[k].buf);
    free(p);
}

int mcu_pyramid_attach(mcu_pyramid_pool_t *pool, AVFrame *pic, int levels)
{
    if (!pool || !pic || levels < 0 || levels > MCU_PYRAMID_MAX_LEVELS ||
        mcu__pix_fmt_plain((enum AVPixelFormat)pic->format) != AV_PIX_FMT_YUV420P)
        return MCU_ERR_INVAL;
    av_buffer_unref(&pic->opaque_ref);
    if (levels == 0)
        return MCU_OK;
    pyramid_t *p = calloc(1, sizeof *p);
    if (!p)
        return MCU_ERR_NOMEM;
    const uint8_t *src[3] = {pic->data[0], pic->data[1], pic->data[2]};
    int ls[3] = {pic->linesize[0], pic->linesize[1], pic->linesize[2]};
    int w = pic->width, h = pic->height, rc = MCU_OK;
    for (int k = 0; k < levels && w >= 4 && h >= 4 && w % 4 == 0 && h % 4 == 0; k++) {
        level_t *lv = &p->level[p->n];
        if ((rc = level_get(&pool->level[k], w / 2, h / 2, lv)) != MCU_OK)
            break;
        p->n++;
        if ((rc = mcu_pyramid_halve(src, ls, w, h, lv->data, lv->linesize)) != MCU_OK)
            break;
        for (int c = 0; c < 3; c++) {
            src[c] = lv->data[c];
            ls[c] = lv->linesize[c];
        }
        w /= 2;
        h /= 2;
    }
    if (rc == MCU_OK && p->n > 0) {
        pic->opaque_ref = av_buffer_create((uint8_t *)p, sizeof *p, pyramid_free,
                                           (void *)pyramid_tag, AV_BUFFER_FLAG_READONLY);
        if (!pic->opaque_ref)
            rc = MCU_ERR_NOMEM;
    }
    if (!pic->opaque_ref)
        pyramid_free(NULL, (uint8_t *)p);
    return rc;
}

bool mcu_pyramid_level(const AVFrame *pic, int k, const uint8_t *data[3], int linesize[3])
{
    if (!pic || !pic->opaque_ref || av_buffer_get_opaque(pic->opaque_ref) != pyramid_tag)
        return false;
    const pyramid_t *p = (const pyramid_t *)pic->opaque_ref->data;
    if (k < 1 || k > p->n)
        return false;
    const level_t *lv = &p->level[k - 1];
    for (int c = 0; c < 3; c++) {
        data[c] = lv->data[c];
        linesize[c] = lv->linesize[c];
    }
    return true;
}
