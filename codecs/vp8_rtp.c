#include "codecs/vp8_rtp.h"

#include <stdlib.h>
#include <string.h>

#include "mcu/error.h"

#define DESC_X 0x80
#define DESC_S 0x10
#define DESC_PID 0x07
#define EXT_I 0x80
#define EXT_L 0x40
#define EXT_T 0x20
#define EXT_K 0x10
#define PICTURE_ID_LONG 0x80
/* VP8 frame header (RFC 6386 9.1): the inverse key-frame bit. */
#define FRAME_INTER 0x01
/* First growth step of the frame buffer: a P frame of a 720p call. */
#define FRAME_INITIAL_CAP (32u << 10)

typedef struct vp8_depack {
    uint8_t *buf;
    size_t cap, len;
    bool started;       /* the frame's first packet was a start */
    bool keyframe;
    bool broken;        /* a piece did not fit or did not parse */
} vp8_depack_t;

static void vp8_uninit(void *priv)
{
    vp8_depack_t *d = priv;
    free(d->buf);
    d->buf = NULL;
}

static void vp8_reset(void *priv)
{
    vp8_depack_t *d = priv;
    d->len = 0;
    d->started = d->keyframe = d->broken = false;
}

/* Bytes of payload descriptor at the head of p, or a negative code. */
static int descriptor_len(const uint8_t *p, size_t len)
{
    if (len < 1)
        return MCU_ERR_EMPTY;
    size_t pos = 1;
    if (p[0] & DESC_X) {
        if (len < 2)
            return MCU_ERR_TRUNCATED;
        uint8_t x = p[1];
        pos = 2;
        if (x & EXT_I) {
            if (pos >= len)
                return MCU_ERR_TRUNCATED;
            pos += (p[pos] & PICTURE_ID_LONG) ? 2 : 1;
        }
        if (x & EXT_L)
            pos++;
        if (x & (EXT_T | EXT_K))
            pos++;
    }
    if (pos >= len)
        return MCU_ERR_TRUNCATED; /* a descriptor with no frame data after it */
    return (int)pos;
}

static bool vp8_is_frame_start(const uint8_t *p, size_t len)
{
    return len > 0 && (p[0] & DESC_S) && (p[0] & DESC_PID) == 0 && descriptor_len(p, len) > 0;
}

static int vp8_push(void *priv, const uint8_t *p, size_t len)
{
    vp8_depack_t *d = priv;
    int hdr = descriptor_len(p, len);
    if (hdr < 0)
        return hdr;
    const uint8_t *data = p + hdr;
    size_t n = len - (size_t)hdr;
    bool start = (p[0] & DESC_S) && (p[0] & DESC_PID) == 0;
    if (start && d->len == 0) {
        d->started = true;
        d->keyframe = !(data[0] & FRAME_INTER);
    }
    if (n > MCU_VP8_MAX_FRAME - d->len) {
        d->broken = true;
        return MCU_ERR_TOO_BIG;
    }
    if (d->len + n > d->cap) {
        size_t cap = d->cap ? d->cap : FRAME_INITIAL_CAP;
        while (cap < d->len + n)
            cap *= 2;
        if (cap > MCU_VP8_MAX_FRAME)
            cap = MCU_VP8_MAX_FRAME;
        uint8_t *b = realloc(d->buf, cap);
        if (!b) {
            d->broken = true;
            return MCU_ERR_NOMEM;
        }
        d->buf = b;
        d->cap = cap;
    }
    memcpy(d->buf + d->len, data, n);
    d->len += n;
    return MCU_OK;
}

static int vp8_finish(void *priv, mcu_depack_frame_t *out)
{
    vp8_depack_t *d = priv;
    memset(out, 0, sizeof *out);
    if (d->len == 0) {
        vp8_reset(d);
        return MCU_ERR_AGAIN;
    }
    out->data = d->buf;
    out->len = d->len;
    out->keyframe = d->started && d->keyframe;
    out->corrupt = !d->started || d->broken;
    d->len = 0;
    d->started = d->keyframe = d->broken = false;
    return MCU_OK;
}

const mcu_depack_ops_t mcu_vp8_depack_ops = {
    .name = "VP8",
    .clock_rate = 90000,
    .frame_per_packet = false,
    .priv_size = sizeof(vp8_depack_t),
    .uninit = vp8_uninit,
    .is_frame_start = vp8_is_frame_start,
    .push = vp8_push,
    .finish = vp8_finish,
    .reset = vp8_reset,
};
