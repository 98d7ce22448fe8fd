#include "codecs/opus_codec.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <opus/opus.h>

#include "mcu/error.h"

/* Opus over RTP is mono here: sites send one microphone, the mix goes back as one. */
#define OPUS_CHANNELS 1

struct mcu_opus_dec {
    OpusDecoder *dec;
    mcu_opus_dec_stats_t stats;
};

struct mcu_opus_enc {
    OpusEncoder *enc;
};

/* libopus code -> project code; non-negative values pass through. `other` is what any
 * failure not listed means at the call site. */
static int opus_err(int err, int other)
{
    if (err >= 0)
        return err;
    switch (err) {
    case OPUS_ALLOC_FAIL: return MCU_ERR_NOMEM;
    case OPUS_BUFFER_TOO_SMALL: return MCU_ERR_NOSPACE;
    case OPUS_INVALID_PACKET: return MCU_ERR_MALFORMED;
    default: return other;
    }
}

/* A PLC or FEC duration: whole 2.5 ms frames, at most 120 ms, fitting the buffer. */
static int check_gap(size_t samples, size_t cap)
{
    if (samples == 0 || samples % MCU_OPUS_MIN_FRAME_SAMPLES != 0 ||
        samples > MCU_OPUS_MAX_PACKET_SAMPLES)
        return MCU_ERR_INVAL;
    return samples > cap ? MCU_ERR_NOSPACE : MCU_OK;
}

/* ---- decoder ---- */

int mcu_opus_dec_create(mcu_opus_dec_t **out)
{
    if (!out)
        return MCU_ERR_INVAL;
    *out = NULL;
    mcu_opus_dec_t *d = calloc(1, sizeof *d);
    if (!d)
        return MCU_ERR_NOMEM;
    int err;
    d->dec = opus_decoder_create(MCU_OPUS_CLOCK_RATE, OPUS_CHANNELS, &err);
    if (!d->dec) {
        free(d);
        return opus_err(err < 0 ? err : OPUS_INTERNAL_ERROR, MCU_ERR_CODEC);
    }
    *out = d;
    return MCU_OK;
}

void mcu_opus_dec_destroy(mcu_opus_dec_t **d)
{
    if (!d || !*d)
        return;
    opus_decoder_destroy((*d)->dec);
    free(*d);
    *d = NULL;
}

/* opus_decode for `data` (NULL: PLC) into at most `frame` samples, with stats. */
static int dec_run(mcu_opus_dec_t *d, const uint8_t *data, size_t len, int16_t *pcm,
                   size_t frame, int fec)
{
    int n = opus_decode(d->dec, data, (opus_int32)len, pcm, (int)frame, fec);
    if (n < 0) {
        d->stats.errors++;
        return opus_err(n, MCU_ERR_CODEC);
    }
    d->stats.samples += (uint64_t)n;
    return n;
}

int mcu_opus_dec_decode(mcu_opus_dec_t *d, const uint8_t *pkt, size_t len,
                        int16_t *pcm, size_t cap)
{
    if (!d || !pcm || cap == 0)
        return MCU_ERR_INVAL;
    if (!pkt || len == 0)
        return MCU_ERR_EMPTY;   /* libopus would conceal: say so instead */
    if (len > INT32_MAX)
        return MCU_ERR_TOO_BIG;
    size_t frame = cap < MCU_OPUS_MAX_PACKET_SAMPLES ? cap : MCU_OPUS_MAX_PACKET_SAMPLES;
    int n = dec_run(d, pkt, len, pcm, frame, 0);
    if (n >= 0)
        d->stats.packets++;
    return n;
}

int mcu_opus_dec_conceal(mcu_opus_dec_t *d, size_t samples, int16_t *pcm, size_t cap)
{
    if (!d || !pcm)
        return MCU_ERR_INVAL;
    int rc = check_gap(samples, cap);
    if (rc < 0)
        return rc;
    d->stats.concealed++;
    return dec_run(d, NULL, 0, pcm, samples, 0);
}

int mcu_opus_dec_decode_fec(mcu_opus_dec_t *d, const uint8_t *next, size_t len,
                            size_t samples, int16_t *pcm, size_t cap)
{
    if (!d || !pcm)
        return MCU_ERR_INVAL;
    if (!next || len == 0)
        return MCU_ERR_EMPTY;
    if (len > INT32_MAX)
        return MCU_ERR_TOO_BIG;
    int rc = check_gap(samples, cap);
    if (rc < 0)
        return rc;
    d->stats.fec++;
    return dec_run(d, next, len, pcm, samples, 1);
}

void mcu_opus_dec_reset(mcu_opus_dec_t *d)
{
    if (d)
        opus_decoder_ctl(d->dec, OPUS_RESET_STATE);
}

const mcu_opus_dec_stats_t *mcu_opus_dec_stats(const mcu_opus_dec_t *d)
{
    return &d->stats;
}

/* ---- encoder ---- */

void mcu_opus_enc_config_default(mcu_opus_enc_config_t *cfg)
{
    cfg->bitrate_bps = MCU_OPUS_ENC_DEFAULT_BITRATE;
    cfg->complexity = MCU_OPUS_ENC_DEFAULT_COMPLEXITY;
    cfg->packet_loss_pct = MCU_OPUS_ENC_DEFAULT_LOSS_PCT;
}

static bool bitrate_ok(int bps)
{
    return bps >= MCU_OPUS_ENC_MIN_BITRATE && bps <= MCU_OPUS_ENC_MAX_BITRATE;
}

static bool loss_ok(int pct) { return pct >= 0 && pct <= 100; }

int mcu_opus_enc_create(const mcu_opus_enc_config_t *cfg, mcu_opus_enc_t **out)
{
    if (!out)
        return MCU_ERR_INVAL;
    *out = NULL;
    mcu_opus_enc_config_t def;
    if (!cfg) {
        mcu_opus_enc_config_default(&def);
        cfg = &def;
    }
    if (!bitrate_ok(cfg->bitrate_bps) || cfg->complexity < 0 || cfg->complexity > 10 ||
        !loss_ok(cfg->packet_loss_pct))
        return MCU_ERR_CONFIG;
    mcu_opus_enc_t *e = calloc(1, sizeof *e);
    if (!e)
        return MCU_ERR_NOMEM;
    int err;
    e->enc = opus_encoder_create(MCU_OPUS_CLOCK_RATE, OPUS_CHANNELS, OPUS_APPLICATION_VOIP,
                                 &err);
    if (!e->enc) {
        free(e);
        return opus_err(err < 0 ? err : OPUS_INTERNAL_ERROR, MCU_ERR_CODEC);
    }
    /* Each setting is explained in the header. The speech hint keeps libopus in SILK or
     * hybrid mode, the only modes that carry in-band FEC. */
    int rc = OPUS_OK;
    if (rc == OPUS_OK) rc = opus_encoder_ctl(e->enc, OPUS_SET_BITRATE(cfg->bitrate_bps));
    if (rc == OPUS_OK) rc = opus_encoder_ctl(e->enc, OPUS_SET_COMPLEXITY(cfg->complexity));
    if (rc == OPUS_OK) rc = opus_encoder_ctl(e->enc, OPUS_SET_VBR(1));
    if (rc == OPUS_OK) rc = opus_encoder_ctl(e->enc, OPUS_SET_VBR_CONSTRAINT(1));
    if (rc == OPUS_OK) rc = opus_encoder_ctl(e->enc, OPUS_SET_DTX(0));
    if (rc == OPUS_OK) rc = opus_encoder_ctl(e->enc, OPUS_SET_INBAND_FEC(1));
    if (rc == OPUS_OK)
        rc = opus_encoder_ctl(e->enc, OPUS_SET_PACKET_LOSS_PERC(cfg->packet_loss_pct));
    if (rc == OPUS_OK) rc = opus_encoder_ctl(e->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
    if (rc != OPUS_OK) {
        opus_encoder_destroy(e->enc);
        free(e);
        return opus_err(rc, MCU_ERR_CODEC);
    }
    *out = e;
    return MCU_OK;
}

void mcu_opus_enc_destroy(mcu_opus_enc_t **e)
{
    if (!e || !*e)
        return;
    opus_encoder_destroy((*e)->enc);
    free(*e);
    *e = NULL;
}

int mcu_opus_enc_encode(mcu_opus_enc_t *e, const int16_t *pcm, uint8_t *pkt, size_t cap)
{
    if (!e || !pcm || !pkt || cap == 0)
        return MCU_ERR_INVAL;
    size_t max = cap < MCU_OPUS_MAX_PACKET_BYTES ? cap : MCU_OPUS_MAX_PACKET_BYTES;
    int n = opus_encode(e->enc, pcm, MCU_OPUS_FRAME_SAMPLES, pkt, (opus_int32)max);
    return opus_err(n, MCU_ERR_CODEC);
}

int mcu_opus_enc_set_bitrate(mcu_opus_enc_t *e, int bitrate_bps)
{
    if (!e || !bitrate_ok(bitrate_bps))
        return MCU_ERR_INVAL;
    return opus_err(opus_encoder_ctl(e->enc, OPUS_SET_BITRATE(bitrate_bps)), MCU_ERR_CODEC);
}

int mcu_opus_enc_set_packet_loss(mcu_opus_enc_t *e, int pct)
{
    if (!e || !loss_ok(pct))
        return MCU_ERR_INVAL;
    return opus_err(opus_encoder_ctl(e->enc, OPUS_SET_PACKET_LOSS_PERC(pct)), MCU_ERR_CODEC);
}

void mcu_opus_enc_reset(mcu_opus_enc_t *e)
{
    if (e)
        opus_encoder_ctl(e->enc, OPUS_RESET_STATE);
}
