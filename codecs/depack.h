/*
 * depack: the RTP depacketizer interface, one small vtable per payload format (like
 * FFmpeg's RTP dynamic handlers): const function pointers plus a private state size.
 *
 * A depacketizer receives the payloads of one frame's packets in sequence order
 * (mcu_depack_push) and then ends the frame (mcu_depack_finish), which hands out the
 * frame in the codec's native framing (H.264: Annex-B access unit; Opus: one packet).
 * The frame data is owned by the depacketizer and stays valid until the next push,
 * finish or reset on it.
 */
#ifndef MCU_DEPACK_H
#define MCU_DEPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mcu_depack_frame {
    const uint8_t *data;
    size_t len;
    bool corrupt;       /* a packet was lost or malformed: do not decode as is */
    bool keyframe;      /* decodable on its own (H.264 IDR; every Opus packet) */
    uint32_t samples;   /* audio: duration in samples at the clock rate; 0 for video */
} mcu_depack_frame_t;

typedef struct mcu_depack_ops {
    const char *name;           /* the SDP encoding name */
    uint32_t clock_rate;        /* RTP timestamp rate */
    bool frame_per_packet;      /* each packet is a whole frame (audio) */
    size_t priv_size;
    int (*init)(void *priv);
    void (*uninit)(void *priv);
    /* True when the payload certainly begins a frame, false when unknown. Lets the
     * jitter buffer tell a complete frame after a gap from one that lost its head. */
    bool (*is_frame_start)(const uint8_t *payload, size_t len);
    /* Adds one payload to the current frame; negative code on malformed input (the
     * frame is then marked corrupt, the depacketizer stays usable). */
    int (*push)(void *priv, const uint8_t *payload, size_t len);
    /* Packets are missing before the next push (a hole inside the frame): what is being
     * reassembled across packets ends where the data ends. Optional. */
    void (*gap)(void *priv);
    /* Ends the current frame. MCU_ERR_AGAIN when it holds nothing. */
    int (*finish)(void *priv, mcu_depack_frame_t *out);
    /* Drops any partial frame. */
    void (*reset)(void *priv);
} mcu_depack_ops_t;

typedef struct mcu_depack mcu_depack_t;

/* Creates a depacketizer of the given format; *out owned by the caller. */
int mcu_depack_create(const mcu_depack_ops_t *ops, mcu_depack_t **out);
/* Frees it and sets *d = NULL; NULL-safe. */
void mcu_depack_destroy(mcu_depack_t **d);

const mcu_depack_ops_t *mcu_depack_ops(const mcu_depack_t *d);
int mcu_depack_push(mcu_depack_t *d, const uint8_t *payload, size_t len);
/* Packets are missing before the next push: the frame is corrupt, and a unit being
 * reassembled ends at the hole. */
void mcu_depack_gap(mcu_depack_t *d);
/* Ends the frame; `lost` (packets known missing) marks it corrupt. */
int mcu_depack_finish(mcu_depack_t *d, bool lost, mcu_depack_frame_t *out);
void mcu_depack_reset(mcu_depack_t *d);

#endif
