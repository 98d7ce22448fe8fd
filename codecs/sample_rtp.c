#include "codecs/sample_rtp.h"

#include <string.h>

#include "mcu/error.h"

/* Bytes of the longest packet: one byte per RTP clock tick for all three encodings. */
#define MAX_BYTES (MCU_SAMPLE_RTP_CLOCK * MCU_SAMPLE_RTP_MAX_MS / 1000)

typedef struct sample_depack {
    uint8_t buf[MAX_BYTES];
    size_t len;
} sample_depack_t;

static void sample_reset(void *priv) { ((sample_depack_t *)priv)->len = 0; }

static int sample_push(void *priv, const uint8_t *p, size_t len)
{
    sample_depack_t *d = priv;
    if (d->len)
        return MCU_ERR_STATE; /* one packet per frame; finish first */
    if (len == 0)
        return MCU_ERR_EMPTY;
    if (len > MAX_BYTES)
        return MCU_ERR_TOO_BIG;
    memcpy(d->buf, p, len);
    d->len = len;
    return MCU_OK;
}

static int sample_finish(void *priv, mcu_depack_frame_t *out)
{
    sample_depack_t *d = priv;
    memset(out, 0, sizeof *out);
    if (!d->len)
        return MCU_ERR_AGAIN;
    out->data = d->buf;
    out->len = d->len;
    out->keyframe = true;
    out->samples = (uint32_t)d->len; /* RTP clock units */
    d->len = 0;
    return MCU_OK;
}

static bool sample_is_frame_start(const uint8_t *p, size_t len)
{
    (void)p;
    return len > 0;
}

#define SAMPLE_OPS(NAME)                                                                  \
    {                                                                                     \
        .name = NAME, .clock_rate = MCU_SAMPLE_RTP_CLOCK, .frame_per_packet = true,       \
        .priv_size = sizeof(sample_depack_t), .is_frame_start = sample_is_frame_start,    \
        .push = sample_push, .finish = sample_finish, .reset = sample_reset,              \
    }

const mcu_depack_ops_t mcu_pcmu_depack_ops = SAMPLE_OPS("PCMU");
const mcu_depack_ops_t mcu_pcma_depack_ops = SAMPLE_OPS("PCMA");
const mcu_depack_ops_t mcu_g722_depack_ops = SAMPLE_OPS("G722");
