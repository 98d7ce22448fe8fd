#include "codecs/opus_rtp.h"

#include <opus/opus.h>
#include <string.h>

#include "mcu/error.h"
#include "mcu/rtp.h"

/* RFC 6716 3.2.3/3.2.5 frame-size limits are enforced by opus_packet_parse. */
#define OPUS_MAX_FRAMES 48

typedef struct opus_depack {
    uint8_t buf[MCU_RTP_MAX_DATAGRAM]; /* the payload can be no larger */
    size_t len;
    uint32_t samples;
} opus_depack_t;

int mcu_opus_packet_check(const uint8_t *p, size_t len, uint32_t *samples)
{
    if (len == 0)
        return MCU_ERR_EMPTY;
    if (len > INT32_MAX)
        return MCU_ERR_TOO_BIG;
    const unsigned char *frames[OPUS_MAX_FRAMES];
    opus_int16 sizes[OPUS_MAX_FRAMES];
    unsigned char toc;
    int n = opus_packet_parse(p, (opus_int32)len, &toc, frames, sizes, NULL);
    if (n < 0)
        return MCU_ERR_MALFORMED;
    int ns = opus_packet_get_nb_samples(p, (opus_int32)len, MCU_OPUS_CLOCK_RATE);
    if (ns <= 0 || ns > MCU_OPUS_MAX_PACKET_SAMPLES)
        return MCU_ERR_MALFORMED;
    if (samples)
        *samples = (uint32_t)ns;
    return n;
}

static void opus_reset(void *priv)
{
    opus_depack_t *d = priv;
    d->len = 0;
    d->samples = 0;
}

static int opus_push(void *priv, const uint8_t *p, size_t len)
{
    opus_depack_t *d = priv;
    if (d->len)
        return MCU_ERR_STATE; /* one packet per frame; finish first */
    if (len > sizeof d->buf)
        return MCU_ERR_TOO_BIG;
    uint32_t samples;
    int rc = mcu_opus_packet_check(p, len, &samples);
    if (rc < 0)
        return rc;
    memcpy(d->buf, p, len);
    d->len = len;
    d->samples = samples;
    return MCU_OK;
}

static int opus_finish(void *priv, mcu_depack_frame_t *out)
{
    opus_depack_t *d = priv;
    memset(out, 0, sizeof *out);
    if (!d->len)
        return MCU_ERR_AGAIN;
    out->data = d->buf;
    out->len = d->len;
    out->keyframe = true;
    out->samples = d->samples;
    d->len = 0;
    return MCU_OK;
}

static bool opus_is_frame_start(const uint8_t *p, size_t len)
{
    (void)p;
    return len > 0;
}

const mcu_depack_ops_t mcu_opus_depack_ops = {
    .name = "opus",
    .clock_rate = MCU_OPUS_CLOCK_RATE,
    .frame_per_packet = true,
    .priv_size = sizeof(opus_depack_t),
    .is_frame_start = opus_is_frame_start,
    .push = opus_push,
    .finish = opus_finish,
    .reset = opus_reset,
};
