#include "codecs/codec.h"

#include <strings.h>

#include "codecs/h264_rtp.h"
#include "codecs/opus_rtp.h"
#include "codecs/sample_rtp.h"
#include "codecs/vp8_rtp.h"

#define VIDEO_CLOCK 90000
#define NARROWBAND_CLOCK 8000

static const mcu_codec_info_t codecs[MCU_CODEC__COUNT] = {
    [MCU_CODEC_H264] = {MCU_CODEC_H264, "H264", "H.264", true, VIDEO_CLOCK, -1,
                        &mcu_h264_depack_ops, false},
    [MCU_CODEC_VP8] = {MCU_CODEC_VP8, "VP8", "VP8", true, VIDEO_CLOCK, -1, &mcu_vp8_depack_ops,
                       false},
    [MCU_CODEC_OPUS] = {MCU_CODEC_OPUS, "opus", "Opus", false, MCU_OPUS_CLOCK_RATE, -1,
                        &mcu_opus_depack_ops, false},
    /* RFC 3551 4.5.2: G.722's RTP clock is 8000 Hz although it samples at 16 kHz. */
    [MCU_CODEC_G722] = {MCU_CODEC_G722, "G722", "G.722", false, NARROWBAND_CLOCK, 9,
                        &mcu_g722_depack_ops, false},
    [MCU_CODEC_PCMU] = {MCU_CODEC_PCMU, "PCMU", "G.711 µ-law", false, NARROWBAND_CLOCK, 0,
                        &mcu_pcmu_depack_ops, false},
    [MCU_CODEC_PCMA] = {MCU_CODEC_PCMA, "PCMA", "G.711 A-law", false, NARROWBAND_CLOCK, 8,
                        &mcu_pcma_depack_ops, false},
    [MCU_CODEC_H265] = {MCU_CODEC_H265, "H265", "H.265", true, VIDEO_CLOCK, -1, NULL, false},
    [MCU_CODEC_VP9] = {MCU_CODEC_VP9, "VP9", "VP9", true, VIDEO_CLOCK, -1, NULL, false},
    [MCU_CODEC_AV1] = {MCU_CODEC_AV1, "AV1", "AV1", true, VIDEO_CLOCK, -1, NULL, false},
    [MCU_CODEC_H263] = {MCU_CODEC_H263, "H263", "H.263", true, VIDEO_CLOCK, 34, NULL, false},
    [MCU_CODEC_G729] = {MCU_CODEC_G729, "G729", "G.729", false, NARROWBAND_CLOCK, 18, NULL,
                        false},
    [MCU_CODEC_GSM] = {MCU_CODEC_GSM, "GSM", "GSM", false, NARROWBAND_CLOCK, 3, NULL, false},
    [MCU_CODEC_G723] = {MCU_CODEC_G723, "G723", "G.723", false, NARROWBAND_CLOCK, 4, NULL,
                        false},
    [MCU_CODEC_CN] = {MCU_CODEC_CN, "CN", "comfort noise", false, NARROWBAND_CLOCK, 13, NULL,
                      true},
    [MCU_CODEC_TELEPHONE_EVENT] = {MCU_CODEC_TELEPHONE_EVENT, "telephone-event", "DTMF", false,
                                   NARROWBAND_CLOCK, -1, NULL, true},
};

const mcu_codec_info_t *mcu_codec_info(mcu_codec_t codec)
{
    if (codec <= MCU_CODEC_NONE || codec >= MCU_CODEC__COUNT)
        return NULL;
    return &codecs[codec];
}

mcu_codec_t mcu_codec_by_name(const char *name)
{
    for (int c = MCU_CODEC_NONE + 1; name && c < MCU_CODEC__COUNT; c++)
        if (strcasecmp(codecs[c].name, name) == 0)
            return (mcu_codec_t)c;
    return MCU_CODEC_NONE;
}

mcu_codec_t mcu_codec_by_static_pt(int pt)
{
    for (int c = MCU_CODEC_NONE + 1; pt >= 0 && c < MCU_CODEC__COUNT; c++)
        if (codecs[c].static_pt == pt)
            return (mcu_codec_t)c;
    return MCU_CODEC_NONE;
}

/* ---------------------------------------------------------------- payload structure */

/* H.264 NAL unit types a conferencing sender puts on the wire (table 7-1): slices, IDR,
 * SEI, parameter sets, AUD, end of sequence/stream, filler, SPS extension, prefix and
 * subset SPS (SVC), auxiliary slice and slice extension. Not: 0 and 16-18 and 22-23
 * (reserved) or 2-4 (data partitioning, the Extended profile, which no RTP sender uses). */
static bool h264_nal_type_ok(unsigned t)
{
    return t == 1 || (t >= 5 && t <= 15) || t == 19 || t == 20;
}

/* RFC 6184 5.2/5.7/5.8. */
static bool h264_plausible(const uint8_t *p, size_t len)
{
    if (len < 2 || (p[0] & 0x80))
        return false;
    unsigned t = p[0] & 0x1F;
    switch (t) {
    case 24: /* STAP-A: a 16-bit size, then a NAL unit header */
        return len >= 4 && (p[1] << 8 | p[2]) > 0 && (size_t)(p[1] << 8 | p[2]) <= len - 3 &&
               !(p[3] & 0x80) && h264_nal_type_ok(p[3] & 0x1F);
    case 25: case 26: case 27: case 29:
        return true; /* H.264 in the interleaved mode: H.264 still, not taken */
    case 28: /* FU-A: S and E never both; R is zero */
        return (p[1] & 0xC0) != 0xC0 && !(p[1] & 0x20) && h264_nal_type_ok(p[1] & 0x1F);
    default:
        return h264_nal_type_ok(t);
    }
}

/* H.265 NAL unit types (table 7-1): VCL 0-9 and 16-21, parameter sets, AUD, EOS, EOB,
 * filler, SEI 32-40. */
static bool h265_nal_type_ok(unsigned t) { return t <= 9 || (t >= 16 && t <= 21) || (t >= 32 && t <= 40); }

/* RFC 7798 1.1.4: F = 0, LayerId 0 (no scalable sender in conferencing), TID >= 1. */
static bool h265_plausible(const uint8_t *p, size_t len)
{
    if (len < 3 || (p[0] & 0x80))
        return false;
    unsigned type = (p[0] >> 1) & 0x3F, layer = (unsigned)(p[0] & 1) << 5 | p[1] >> 3;
    if (layer != 0 || (p[1] & 7) == 0)
        return false;
    if (type == 48 || type == 50) /* AP, PACI */
        return true;
    if (type == 49) /* FU: S and E never both */
        return (p[2] & 0xC0) != 0xC0 && h265_nal_type_ok(p[2] & 0x3F);
    return h265_nal_type_ok(type);
}

/* RFC 7741 4.2/4.3: the descriptor's reserved bits are zero, its optional fields fit, and
 * a packet that begins a frame begins a VP8 frame header (RFC 6386 9.1: version 0-3, and
 * a keyframe's start code). */
static bool vp8_plausible(const uint8_t *p, size_t len)
{
    if (len < 2 || (p[0] & 0x48))
        return false;
    size_t pos = 1;
    if (p[0] & 0x80) { /* X */
        uint8_t x = p[1];
        if (x & 0x0F)
            return false;
        pos = 2;
        if (x & 0x80) /* I: PictureID of 7 or 15 bits */
            pos += pos < len && (p[pos] & 0x80) ? 2 : 1;
        if (x & 0x40) /* L: TL0PICIDX */
            pos++;
        if (x & 0x30) /* T or K */
            pos++;
    }
    if (pos >= len)
        return false;
    bool frame_start = (p[0] & 0x10) && (p[0] & 0x07) == 0;
    if (!frame_start)
        return true;
    const uint8_t *f = p + pos;
    size_t n = len - pos;
    if (n < 3 || ((f[0] >> 1) & 7) > 3)
        return false;
    if (f[0] & 1) /* interframe */
        return true;
    return n >= 6 && f[3] == 0x9D && f[4] == 0x01 && f[5] == 0x2A;
}

bool mcu_codec_plausible(mcu_codec_t codec, const uint8_t *payload, size_t len)
{
    if (!payload)
        return false;
    switch (codec) {
    case MCU_CODEC_H264: return h264_plausible(payload, len);
    case MCU_CODEC_H265: return h265_plausible(payload, len);
    case MCU_CODEC_VP8: return vp8_plausible(payload, len);
    default: return false;
    }
}

mcu_codec_t mcu_codec_guess_video(const uint8_t *payload, size_t len)
{
    static const mcu_codec_t candidates[] = {MCU_CODEC_H264, MCU_CODEC_H265, MCU_CODEC_VP8};
    mcu_codec_t found = MCU_CODEC_NONE;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (!mcu_codec_plausible(candidates[i], payload, len))
            continue;
        if (found != MCU_CODEC_NONE)
            return MCU_CODEC_NONE;
        found = candidates[i];
    }
    return found;
}
