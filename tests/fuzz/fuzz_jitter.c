/* Fuzz target: the jitter buffer fed a fuzzed sequence of packets and polls. Each
 * 8-byte record is one event:
 *   [0]     flags: bit0 marker, bit1 poll after, bit2 reset, bit3 RTT update
 *   [1..2]  sequence number delta (signed) from the previous packet
 *   [3..4]  timestamp delta (signed, in 90 kHz ticks x 16)
 *   [5]     payload length
 *   [6..7]  time advance in 0.1 ms
 * Invariants: the packet and byte bounds hold, the target delay stays within its
 * bounds, every packet of a frame handed out is readable. */
#include <stdlib.h>
#include <string.h>

#include "codecs/h264_rtp.h"
#include "mcu/error.h"
#include "mcu/jitter.h"
#include "mcu/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RECORD 8
#define FUZZ_MAX_PACKETS 64  /* small, so overflow paths are reached */
#define FUZZ_MAX_BYTES 16384

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mcu_jitter_config_t cfg;
    bool audio = size > 0 && (data[0] & 0x80);
    if (audio)
        mcu_jitter_config_audio(&cfg, 48000);
    else
        mcu_jitter_config_video(&cfg, 90000);
    cfg.is_frame_start = mcu_h264_depack_ops.is_frame_start;
    cfg.max_packets = FUZZ_MAX_PACKETS;
    cfg.max_bytes = FUZZ_MAX_BYTES;
    mcu_jitter_t *jb;
    if (mcu_jitter_create(&cfg, &jb) != MCU_OK)
        return 0;

    uint16_t seq = 0;
    uint32_t ts = 0;
    int64_t now = 0;
    uint8_t payload[256];
    for (size_t pos = 0; pos + RECORD <= size; pos += RECORD) {
        const uint8_t *r = data + pos;
        seq = (uint16_t)(seq + (int16_t)mcu_rd16(r + 1));
        ts += (uint32_t)((int32_t)(int16_t)mcu_rd16(r + 3) * 16);
        now += mcu_rd16(r + 6) * 100;
        size_t len = r[5];
        memset(payload, r[5], len);
        if (len > 1)
            payload[0] = r[1]; /* vary what is_frame_start sees */
        if (r[0] & 0x04)
            mcu_jitter_reset(jb);
        if (r[0] & 0x08)
            mcu_jitter_set_rtt(jb, r[2] * 1000);
        (void)mcu_jitter_push(jb, seq, ts, r[0] & 1, payload, len, now);

        uint16_t missing[FUZZ_MAX_PACKETS];
        size_t nm = mcu_jitter_missing(jb, missing, FUZZ_MAX_PACKETS);
        if (nm > FUZZ_MAX_PACKETS)
            abort();
        (void)mcu_jitter_next_deadline(jb);

        if (r[0] & 0x02) {
            mcu_jitter_frame_t f;
            while (mcu_jitter_pop(jb, now, &f) == MCU_OK) {
                if (f.n_packets == 0 || f.n_packets > FUZZ_MAX_PACKETS)
                    abort();
                for (size_t i = 0; i < f.n_packets; i++) {
                    const uint8_t *p;
                    size_t l;
                    mcu_jitter_frame_packet(jb, i, &p, &l);
                    if (l && !p)
                        abort();
                    if (l)
                        (void)p[l - 1];
                }
            }
        }
        mcu_jitter_stats_t st;
        mcu_jitter_get_stats(jb, &st);
        if (st.packets_held > FUZZ_MAX_PACKETS || st.bytes_held > FUZZ_MAX_BYTES)
            abort();
        if (st.target_delay_us < (int64_t)cfg.min_delay_ms * 1000 ||
            st.target_delay_us > (int64_t)cfg.max_delay_ms * 1000)
            abort();
    }
    mcu_jitter_destroy(&jb);
    return 0;
}
