#include "layouts/canvas.h"

#include <stdlib.h>
#include <string.h>

#include <libavutil/buffer.h>

#include "mcu/error.h"

static int align_up(int v) { return (v + MCU_CANVAS_ALIGN - 1) & ~(MCU_CANVAS_ALIGN - 1); }

static int size_ok(int v)
{
    return v >= MCU_CANVAS_MIN_SIDE && v <= MCU_CANVAS_MAX_SIDE && v % 2 == 0;
}

static void free_pixels(void *opaque, uint8_t *data) { free(data); }

/* An aligned pixel buffer of c's size, reference counted (freed with its last ref). */
static AVBufferRef *alloc_pixels(const mcu_canvas_t *c)
{
    void *mem = NULL;
    if (posix_memalign(&mem, MCU_CANVAS_ALIGN, c->size) != 0)
        return NULL;
    AVBufferRef *b = av_buffer_create(mem, c->size, free_pixels, NULL, 0);
    if (!b)
        free(mem);
    return b;
}

static void point_planes(mcu_canvas_t *c)
{
    size_t y_size = (size_t)c->stride[0] * (size_t)c->height;
    size_t c_size = (size_t)c->stride[1] * (size_t)(c->height / 2);
    c->data[0] = c->buf->data;
    c->data[1] = c->data[0] + y_size;
    c->data[2] = c->data[1] + c_size;
}

int mcu_canvas_create(int width, int height, mcu_canvas_t **out)
{
    if (!out)
        return MCU_ERR_INVAL;
    *out = NULL;
    if (!size_ok(width) || !size_ok(height))
        return MCU_ERR_INVAL;

    mcu_canvas_t *c = calloc(1, sizeof *c);
    if (!c)
        return MCU_ERR_NOMEM;
    c->width = width;
    c->height = height;
    c->stride[0] = align_up(width);
    c->stride[1] = c->stride[2] = align_up(width / 2);
    /* Strides are multiples of the alignment, so every plane size is too and the planes
     * laid end to end each start aligned. At most 8192 * 8192 * 1.5 bytes: fits size_t. */
    size_t y_size = (size_t)c->stride[0] * (size_t)height;
    size_t c_size = (size_t)c->stride[1] * (size_t)(height / 2);
    c->size = y_size + 2 * c_size;
    if (!(c->buf = alloc_pixels(c))) {
        free(c);
        return MCU_ERR_NOMEM;
    }
    point_planes(c);
    /* Padding bytes included, so nothing in the buffer is ever uninitialised. */
    memset(c->data[0], MCU_CANVAS_INIT_Y, y_size);
    memset(c->data[1], MCU_CANVAS_INIT_U, c_size);
    memset(c->data[2], MCU_CANVAS_INIT_V, c_size);
    *out = c;
    return MCU_OK;
}

void mcu_canvas_destroy(mcu_canvas_t **c)
{
    if (!c || !*c)
        return;
    av_buffer_unref(&(*c)->buf); /* the pixels go with the last frame that holds them */
    free(*c);
    *c = NULL;
}

int mcu_canvas_make_writable(mcu_canvas_t *c)
{
    if (!c)
        return MCU_ERR_INVAL;
    if (av_buffer_is_writable(c->buf))
        return MCU_OK;
    AVBufferRef *b = alloc_pixels(c);
    if (!b)
        return MCU_ERR_NOMEM;
    memcpy(b->data, c->buf->data, c->size);
    av_buffer_unref(&c->buf);
    c->buf = b;
    point_planes(c);
    return MCU_OK;
}

static void fill_plane(uint8_t *p, int stride, int x, int y, int w, int h, uint8_t value)
{
    p += (size_t)y * (size_t)stride + (size_t)x;
    for (int row = 0; row < h; row++, p += stride)
        memset(p, value, (size_t)w);
}

int mcu_canvas_fill(mcu_canvas_t *c, mcu_rect_t r, uint8_t y, uint8_t u, uint8_t v)
{
    if (!c || r.x < 0 || r.y < 0 || r.w < 0 || r.h < 0 || (r.x | r.y | r.w | r.h) & 1 ||
        r.x > c->width - r.w || r.y > c->height - r.h)
        return MCU_ERR_INVAL;
    fill_plane(c->data[0], c->stride[0], r.x, r.y, r.w, r.h, y);
    fill_plane(c->data[1], c->stride[1], r.x / 2, r.y / 2, r.w / 2, r.h / 2, u);
    fill_plane(c->data[2], c->stride[2], r.x / 2, r.y / 2, r.w / 2, r.h / 2, v);
    return MCU_OK;
}

int mcu_canvas_as_avframe(const mcu_canvas_t *c, AVFrame *f)
{
    if (!c || !f || f->buf[0] || f->extended_buf)
        return MCU_ERR_INVAL;
    if (!(f->buf[0] = av_buffer_ref(c->buf)))
        return MCU_ERR_NOMEM;
    for (int p = 0; p < AV_NUM_DATA_POINTERS; p++) {
        f->data[p] = p < 3 ? c->data[p] : NULL;
        f->linesize[p] = p < 3 ? c->stride[p] : 0;
    }
    f->extended_data = f->data;
    f->width = c->width;
    f->height = c->height;
    f->format = AV_PIX_FMT_YUV420P;
    f->color_range = AVCOL_RANGE_MPEG;
    f->sample_aspect_ratio = (AVRational){1, 1};
    return MCU_OK;
}
