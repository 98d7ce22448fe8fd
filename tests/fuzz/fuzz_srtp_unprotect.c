/* Fuzz target: SRTP and SRTCP unprotect of arbitrary bytes for every suite (never
 * accepted unless it is a genuine packet, never reads or writes outside the packet),
 * then a round trip: a valid RTP and RTCP packet built from the input is protected by
 * an outbound session and must unprotect back to the same bytes.
 *
 * The sessions are made once with fixed keys. Every stream an input creates is
 * forgotten before the input returns, so each input meets the same session state and
 * a crash found by the fuzzer reproduces from that input alone. */
#include <stdlib.h>
#include <string.h>

#include "mcu/error.h"
#include "mcu/srtp_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs are cut to this: the largest datagram the MCU accepts, with room to spare. */
#define FUZZ_MAX_INPUT 2048
#define N_SUITES 3

static mcu_srtp_t *in_sess[N_SUITES], *out_sess[N_SUITES];
static _Alignas(8) uint8_t buf[FUZZ_MAX_INPUT + MCU_SRTP_MAX_OVERHEAD];
static _Alignas(8) uint8_t plain[FUZZ_MAX_INPUT];

/* The same fixed keys as the corpus generator: a corpus packet of suite i is genuine. */
static void setup(void)
{
    if (in_sess[0])
        return;
    for (int i = 0; i < N_SUITES; i++) {
        mcu_srtp_key_t k;
        memset(&k, 0, sizeof k);
        k.suite = (mcu_srtp_suite_t)i;
        k.len = mcu_srtp_key_len(k.suite);
        for (size_t j = 0; j < k.len; j++)
            k.bytes[j] = (uint8_t)(0xA0 + 16 * i + j);
        if (mcu_srtp_create(&k, MCU_SRTP_INBOUND, &in_sess[i]) != MCU_OK ||
            mcu_srtp_create(&k, MCU_SRTP_OUTBOUND, &out_sess[i]) != MCU_OK)
            abort();
    }
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t ssrc_of(const uint8_t *pkt, bool rtcp)
{
    return be32(pkt + (rtcp ? 4 : 8));
}

/* Unprotects a copy of the input; only the four failure codes may come back, and an
 * accepted packet (the input was a genuine one) shrinks. */
static void feed(mcu_srtp_t *in, const uint8_t *data, size_t size, bool rtcp)
{
    memcpy(buf, data, size);
    size_t len = size;
    int rc = mcu_srtp_unprotect(in, buf, &len, rtcp);
    if (rc == MCU_OK) {
        if (len >= size)
            abort();
        mcu_srtp_forget_ssrc(in, ssrc_of(buf, rtcp));
    } else if (rc != MCU_ERR_AUTH && rc != MCU_ERR_REPLAY && rc != MCU_ERR_TRUNCATED &&
               rc != MCU_ERR_SRTP) {
        abort();
    } else if (len != size) {
        abort();
    }
}

/* Makes plain[0,len) a packet protect must take: version 2, and for RTP a header
 * (CSRCs, extension) that fits, else one without CSRCs and extension. */
static size_t make_valid(const uint8_t *data, size_t size, bool rtcp)
{
    size_t min = rtcp ? 8 : 12;
    size_t len = size < min ? min : size;
    memset(plain, 0, min);
    memcpy(plain, data, size);
    plain[0] = (uint8_t)(0x80 | (plain[0] & 0x3F));
    if (!rtcp) {
        size_t h = 12 + 4u * (plain[0] & 0x0F);
        if (plain[0] & 0x10)
            h = h + 4 <= len ? h + 4 + 4u * ((size_t)plain[h + 2] << 8 | plain[h + 3])
                             : len + 1;
        if (h > len)
            plain[0] &= 0xE0;
    }
    return len;
}

static void round_trip(int i, const uint8_t *data, size_t size, bool rtcp)
{
    size_t len = make_valid(data, size, rtcp);
    memcpy(buf, plain, len);
    size_t plen = len;
    if (mcu_srtp_protect(out_sess[i], buf, &plen, sizeof buf, rtcp) != MCU_OK)
        abort();
    if (plen <= len || plen > len + MCU_SRTP_MAX_OVERHEAD)
        abort();
    int rc = mcu_srtp_unprotect(in_sess[i], buf, &plen, rtcp);
    if (rc != MCU_OK || plen != len || memcmp(buf, plain, len) != 0)
        abort();
    mcu_srtp_forget_ssrc(out_sess[i], ssrc_of(plain, rtcp));
    mcu_srtp_forget_ssrc(in_sess[i], ssrc_of(plain, rtcp));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size > FUZZ_MAX_INPUT)
        size = FUZZ_MAX_INPUT;
    for (int i = 0; i < N_SUITES; i++) {
        feed(in_sess[i], data, size, false);
        feed(in_sess[i], data, size, true);
        round_trip(i, data, size, false);
        round_trip(i, data, size, true);
    }
    return 0;
}
