/*
 * codec: the media codecs the MCU knows by name, the ones it takes in, and a guess at
 * which codec an RTP payload carries.
 *
 * Taken in (a depacketizer and a decoder): H.264 (RFC 6184) and VP8 (RFC 7741) video;
 * Opus (RFC 7587), G.722, PCMU and PCMA (RFC 3551) audio. Recognised but not taken:
 * H.265, VP9, AV1, H.263 video; G.729, GSM, G.723 audio; comfort noise (RFC 3389) and
 * DTMF events (RFC 4733), which carry no picture or voice and are ignored quietly.
 *
 * The guess (mcu_codec_guess_video) exists so that a site sending something other than
 * its configured codec is told apart from one sending garbage: the first bytes of each
 * video payload format have a structure the others rarely match (H.264's one-byte NAL
 * header, H.265's two-byte one with a zero layer id and a non-zero temporal id, VP8's
 * payload descriptor with its reserved bits clear). One packet proves little; callers
 * count (mcu/rx_stream).
 *
 * Everything here is constant data and pure functions: no state, thread-safe.
 */
#ifndef MCU_CODEC_H
#define MCU_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codecs/depack.h"

typedef enum mcu_codec {
    MCU_CODEC_NONE = 0,
    /* taken in */
    MCU_CODEC_H264,
    MCU_CODEC_VP8,
    MCU_CODEC_OPUS,
    MCU_CODEC_G722,
    MCU_CODEC_PCMU,
    MCU_CODEC_PCMA,
    /* recognised only */
    MCU_CODEC_H265,
    MCU_CODEC_VP9,
    MCU_CODEC_AV1,
    MCU_CODEC_H263,
    MCU_CODEC_G729,
    MCU_CODEC_GSM,
    MCU_CODEC_G723,
    MCU_CODEC_CN,
    MCU_CODEC_TELEPHONE_EVENT,
    MCU_CODEC__COUNT
} mcu_codec_t;

typedef struct mcu_codec_info {
    mcu_codec_t id;
    const char *name;           /* SDP encoding name (RFC 4855), as configs spell it */
    const char *display;        /* for people: "H.265", "G.722" */
    bool video;
    uint32_t clock_rate;        /* RTP clock */
    int static_pt;              /* RFC 3551 static payload type, -1 for dynamic ones */
    const mcu_depack_ops_t *depack; /* NULL: not taken */
    bool quiet;                 /* carries no media (CN, DTMF): ignored without a warning */
} mcu_codec_info_t;

/* The codec's entry; NULL for MCU_CODEC_NONE or an out-of-range value. */
const mcu_codec_info_t *mcu_codec_info(mcu_codec_t codec);

/* By SDP encoding name, case-insensitive ("h264", "OPUS", "g722"); MCU_CODEC_NONE when
 * unknown. */
mcu_codec_t mcu_codec_by_name(const char *name);

/* The codec of an RFC 3551 static payload type (0 PCMU, 3 GSM, 4 G723, 8 PCMA, 9 G722,
 * 13 CN, 18 G729, 34 H263); MCU_CODEC_NONE for others. */
mcu_codec_t mcu_codec_by_static_pt(int pt);

/* Whether a video payload could be of `codec` (H.264, H.265 or VP8; false for others):
 * only the payload's leading structure is checked, never its content. */
bool mcu_codec_plausible(mcu_codec_t codec, const uint8_t *payload, size_t len);

/* The one video codec among H.264, H.265 and VP8 the payload could be, or
 * MCU_CODEC_NONE when none or several fit. */
mcu_codec_t mcu_codec_guess_video(const uint8_t *payload, size_t len);

#endif
