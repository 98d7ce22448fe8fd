/* Fuzz target: the Opus depacketizer (RFC 7587) and its RFC 6716 3.4 checks. The
 * input is split into payloads at each 0xFF 0xFE marker pair. */
#include <stdlib.h>
#include <string.h>

#include "codecs/opus_rtp.h"
#include "mcu/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mcu_depack_t *d;
    if (mcu_depack_create(&mcu_opus_depack_ops, &d) != MCU_OK)
        return 0;
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        bool split = i + 1 < size && data[i] == 0xFF && data[i + 1] == 0xFE;
        if (!split && i != size)
            continue;
        const uint8_t *p = data + start;
        size_t len = i - start;
        uint32_t samples = 0;
        int frames = mcu_opus_packet_check(p, len, &samples);
        int rc = mcu_depack_push(d, p, len);
        if ((frames > 0) != (rc == MCU_OK))
            abort();
        mcu_depack_frame_t f;
        if (mcu_depack_finish(d, false, &f) == MCU_OK) {
            if (f.len != len || memcmp(f.data, p, len) != 0 || f.samples != samples ||
                samples == 0 || samples > MCU_OPUS_MAX_PACKET_SAMPLES)
                abort();
        }
        start = i + 2;
        i++;
    }
    mcu_depack_destroy(&d);
    return 0;
}
