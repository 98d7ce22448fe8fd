/* Fuzz target: RTP header parse, RFC 8285 extension walk, and write-back of the parsed
 * header (which must reproduce the fixed header and CSRCs byte for byte). */
#include <stdlib.h>
#include <string.h>

#include "mcu/error.h"
#include "mcu/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mcu_rtp_packet_t p;
    (void)mcu_rtp_is_rtcp(data, size);
    if (mcu_rtp_parse(data, size, &p) != MCU_OK)
        return 0;
    if (p.header_len + p.payload_len + p.padding_len != size)
        abort();

    mcu_rtp_ext_elem_t elems[64];
    size_t n = 0;
    mcu_rtp_ext_iter_t it;
    if (mcu_rtp_ext_iter_init(&it, &p) == MCU_OK) {
        mcu_rtp_ext_elem_t e;
        while (n < 64 && mcu_rtp_ext_next(&it, &e) > 0) {
            if (e.data < p.ext || e.data + e.len > p.ext + p.ext_len)
                abort();
            elems[n++] = e;
        }
        (void)mcu_rtp_ext_find(&p, elems[0].id, &elems[0]);
    }

    mcu_rtp_header_t h = {.marker = p.marker, .payload_type = p.payload_type, .seq = p.seq,
                          .timestamp = p.timestamp, .ssrc = p.ssrc,
                          .csrc_count = p.csrc_count, .csrc = p.csrc};
    uint8_t out[MCU_RTP_MAX_HEADER];
    int w = mcu_rtp_write_header(&h, out, sizeof out);
    if (w != MCU_RTP_HEADER_SIZE + 4 * p.csrc_count)
        abort();
    if (memcmp(out + 1, data + 1, (size_t)w - 1) != 0 || (out[0] & 0xCF) != (data[0] & 0xCF))
        abort();
    /* Write the elements found back out; whatever form is chosen must parse again. */
    h.n_ext = n;
    h.ext = elems;
    w = mcu_rtp_write_header(&h, out, sizeof out);
    if (w > 0) {
        mcu_rtp_packet_t q;
        if (mcu_rtp_parse(out, (size_t)w, &q) != MCU_OK)
            abort();
    }
    return 0;
}
