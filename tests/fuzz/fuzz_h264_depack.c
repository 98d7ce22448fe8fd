/* Fuzz target: the H.264 depacketizer (RFC 6184). The input is a series of payloads,
 * each prefixed by a 2-byte big-endian length whose top bit ends the frame. Every
 * access unit that comes out intact must survive packetize -> depacketize unchanged. */
#include <stdlib.h>
#include <string.h>

#include "codecs/h264_rtp.h"
#include "mcu/error.h"
#include "mcu/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FRAME_END 0x8000
#define LEN_MASK 0x7FFF

typedef struct sink {
    mcu_depack_t *d;
} sink_t;

static int to_depack(void *opaque, const uint8_t *payload, size_t len, bool marker)
{
    sink_t *s = opaque;
    if (len > MCU_H264_DEFAULT_MTU)
        abort();
    if (mcu_depack_push(s->d, payload, len) != MCU_OK)
        abort(); /* our own packets are always well formed */
    return MCU_OK;
}

static void check_roundtrip(const mcu_depack_frame_t *f)
{
    if (f->corrupt || f->len == 0)
        return;
    uint8_t *copy = malloc(f->len);
    memcpy(copy, f->data, f->len);
    size_t len = f->len;
    sink_t s;
    if (mcu_depack_create(&mcu_h264_depack_ops, &s.d) != MCU_OK)
        abort();
    int n = mcu_h264_packetize(copy, len, MCU_H264_DEFAULT_MTU, to_depack, &s);
    if (n > 0) {
        mcu_depack_frame_t g;
        if (mcu_depack_finish(s.d, false, &g) != MCU_OK || g.len != len ||
            memcmp(g.data, copy, len) != 0)
            abort();
    }
    mcu_depack_destroy(&s.d);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mcu_depack_t *d;
    if (mcu_depack_create(&mcu_h264_depack_ops, &d) != MCU_OK)
        return 0;
    size_t pos = 0;
    mcu_depack_frame_t f;
    while (size - pos >= 2) {
        uint16_t hdr = mcu_rd16(data + pos);
        pos += 2;
        size_t len = hdr & LEN_MASK;
        if (len > size - pos)
            len = size - pos;
        (void)mcu_h264_depack_ops.is_frame_start(data + pos, len);
        (void)mcu_depack_push(d, data + pos, len);
        pos += len;
        if ((hdr & FRAME_END) && mcu_depack_finish(d, false, &f) == MCU_OK)
            check_roundtrip(&f);
    }
    if (mcu_depack_finish(d, false, &f) == MCU_OK)
        check_roundtrip(&f);
    mcu_depack_destroy(&d);
    return 0;
}
