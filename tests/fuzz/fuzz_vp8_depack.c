/* Fuzz target: the VP8 depacketizer (RFC 7741) and the payload guess every video packet
 * goes through (codecs/codec.h). The input is a series of payloads, each prefixed by a
 * 2-byte big-endian length whose top bit ends the frame and whose next bit says packets
 * were lost before it. A frame that comes out is never larger than the bound. */
#include <stdlib.h>

#include "codecs/codec.h"
#include "codecs/vp8_rtp.h"
#include "mcu/error.h"
#include "mcu/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FRAME_END 0x8000
#define GAP_BEFORE 0x4000
#define LEN_MASK 0x3FFF

static void check(const mcu_depack_frame_t *f)
{
    if (f->len == 0 || f->len > MCU_VP8_MAX_FRAME || !f->data)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mcu_depack_t *d;
    if (mcu_depack_create(&mcu_vp8_depack_ops, &d) != MCU_OK)
        return 0;
    size_t pos = 0;
    mcu_depack_frame_t f;
    while (size - pos >= 2) {
        uint16_t hdr = mcu_rd16(data + pos);
        pos += 2;
        size_t len = hdr & LEN_MASK;
        if (len > size - pos)
            len = size - pos;
        const uint8_t *p = data + pos;
        mcu_codec_t g = mcu_codec_guess_video(p, len);
        if (g != MCU_CODEC_NONE && !mcu_codec_plausible(g, p, len))
            abort(); /* a guess is always plausible */
        (void)mcu_vp8_depack_ops.is_frame_start(p, len);
        if (hdr & GAP_BEFORE)
            mcu_depack_gap(d);
        (void)mcu_depack_push(d, p, len);
        pos += len;
        if ((hdr & FRAME_END) && mcu_depack_finish(d, false, &f) == MCU_OK)
            check(&f);
    }
    if (mcu_depack_finish(d, false, &f) == MCU_OK)
        check(&f);
    mcu_depack_destroy(&d);
    return 0;
}
