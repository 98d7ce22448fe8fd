#include "codecs/h264_rtp.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "mcu/error.h"
#include "mcu/rtp.h"

#define NAL_TYPE(b) ((b)&0x1F)
#define NAL_FORBIDDEN_BIT 0x80
#define NAL_NRI_MASK 0x60
#define FU_START 0x80
#define FU_END 0x40
#define FU_HEADER_SIZE 2        /* FU indicator + FU header */
#define STAP_HEADER_SIZE 1
#define STAP_SIZE_FIELD 2
#define START_CODE_SIZE 4
/* First growth step of the access-unit buffer: one typical P frame at 1 Mbps. */
#define AU_INITIAL_CAP (64u << 10)

static const uint8_t start_code[START_CODE_SIZE] = {0, 0, 0, 1};

/* ---------------------------------------------------------------- depacketizer */

typedef struct h264_depack {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool keyframe;
    bool truncated;     /* a NAL unit of the frame lost its tail */
    bool in_fu;         /* an FU-A NAL unit is being reassembled */
    uint8_t fu_type;
    size_t fu_start;    /* offset of its NAL header in buf */
} h264_depack_t;

static int h264_init(void *priv)
{
    (void)priv;
    return MCU_OK;
}

static void h264_uninit(void *priv)
{
    h264_depack_t *d = priv;
    free(d->buf);
    d->buf = NULL;
}

static void h264_reset(void *priv)
{
    h264_depack_t *d = priv;
    d->len = 0;
    d->keyframe = false;
    d->truncated = false;
    d->in_fu = false;
}

static int reserve(h264_depack_t *d, size_t extra)
{
    if (extra > MCU_H264_MAX_AU - d->len)
        return MCU_ERR_TOO_BIG;
    size_t need = d->len + extra;
    if (need <= d->cap)
        return MCU_OK;
    size_t cap = d->cap ? d->cap : AU_INITIAL_CAP;
    while (cap < need)
        cap *= 2;
    if (cap > MCU_H264_MAX_AU)
        cap = MCU_H264_MAX_AU;
    uint8_t *b = realloc(d->buf, cap);
    if (!b)
        return MCU_ERR_NOMEM;
    d->buf = b;
    d->cap = cap;
    return MCU_OK;
}

static int append(h264_depack_t *d, const uint8_t *p, size_t n)
{
    int rc = reserve(d, n);
    if (rc < 0)
        return rc;
    memcpy(d->buf + d->len, p, n);
    d->len += n;
    return MCU_OK;
}

/* Drops a partial FU-A NAL unit (with its start code): it is malformed. */
static void abandon_fu(h264_depack_t *d)
{
    if (d->in_fu)
        d->len = d->fu_start - START_CODE_SIZE;
    d->in_fu = false;
}

static bool nal_is_clean(const uint8_t *p, size_t n);

/* Ends a FU-A NAL unit whose later fragments were lost where its data ends: the slice's
 * first macroblocks decode, the decoder conceals the rest (the frame is corrupt and is
 * decoded only under a site's conceal policy). Trailing zero bytes go (Annex B would read
 * them as a start code's); a prefix of nothing but the header is dropped. */
static void cut_fu(h264_depack_t *d)
{
    if (!d->in_fu)
        return;
    d->in_fu = false;
    d->truncated = true;
    size_t end = d->len;
    while (end > d->fu_start && d->buf[end - 1] == 0)
        end--;
    if (end - d->fu_start < 2 || !nal_is_clean(d->buf + d->fu_start, end - d->fu_start)) {
        d->len = d->fu_start - START_CODE_SIZE;
        return;
    }
    d->len = end;
    if (d->fu_type == MCU_H264_NAL_IDR)
        d->keyframe = true;
}

/* A NAL unit as H.264 7.4.1 allows it: no 00 00 00, 00 00 01 or 00 00 02 inside (the
 * encoder inserts emulation-prevention bytes), and not ending in a zero byte (the RBSP
 * ends with its stop bit). Anything else would split or merge NAL units once written
 * out in Annex-B form. */
static bool nal_is_clean(const uint8_t *p, size_t n)
{
    if (n == 0 || p[n - 1] == 0)
        return false;
    const uint8_t *end = p + n, *z = p;
    while ((z = memchr(z, 0, (size_t)(end - z))) != NULL) {
        if (end - z >= 3 && z[1] == 0 && z[2] <= 2)
            return false;
        z++;
    }
    return true;
}

static int check_nal_header(uint8_t hdr)
{
    if (hdr & NAL_FORBIDDEN_BIT)
        return MCU_ERR_MALFORMED;
    uint8_t t = NAL_TYPE(hdr);
    if (t == 0 || t > 23)
        return MCU_ERR_UNSUPPORTED; /* reserved or not a plain NAL unit */
    return MCU_OK;
}

static int add_nal(h264_depack_t *d, const uint8_t *nal, size_t len)
{
    if (len == 0)
        return MCU_ERR_MALFORMED;
    if (len > MCU_H264_MAX_NAL)
        return MCU_ERR_TOO_BIG;
    int rc = check_nal_header(nal[0]);
    if (rc < 0)
        return rc;
    if (!nal_is_clean(nal, len))
        return MCU_ERR_MALFORMED;
    rc = reserve(d, START_CODE_SIZE + len);
    if (rc < 0)
        return rc;
    append(d, start_code, START_CODE_SIZE);
    append(d, nal, len);
    if (NAL_TYPE(nal[0]) == MCU_H264_NAL_IDR)
        d->keyframe = true;
    return MCU_OK;
}

static int push_stap_a(h264_depack_t *d, const uint8_t *p, size_t len)
{
    size_t pos = STAP_HEADER_SIZE;
    if (pos >= len)
        return MCU_ERR_MALFORMED; /* an aggregate of nothing */
    /* Validate the whole packet first so a bad one adds nothing. */
    while (pos < len) {
        if (len - pos < STAP_SIZE_FIELD)
            return MCU_ERR_TRUNCATED;
        size_t n = mcu_rd16(p + pos);
        pos += STAP_SIZE_FIELD;
        if (n == 0)
            return MCU_ERR_MALFORMED;
        if (n > len - pos)
            return MCU_ERR_TRUNCATED;
        int rc = check_nal_header(p[pos]);
        if (rc < 0)
            return rc;
        pos += n;
    }
    for (pos = STAP_HEADER_SIZE; pos < len;) {
        size_t n = mcu_rd16(p + pos);
        pos += STAP_SIZE_FIELD;
        int rc = add_nal(d, p + pos, n);
        if (rc < 0)
            return rc;
        pos += n;
    }
    return MCU_OK;
}

static int push_fu_a(h264_depack_t *d, const uint8_t *p, size_t len)
{
    if (len <= FU_HEADER_SIZE)
        return MCU_ERR_TRUNCATED;
    uint8_t fu = p[1];
    bool start = fu & FU_START, end = fu & FU_END;
    uint8_t type = NAL_TYPE(fu);
    const uint8_t *data = p + FU_HEADER_SIZE;
    size_t n = len - FU_HEADER_SIZE;

    if (start && end) {
        abandon_fu(d);
        return MCU_ERR_FRAGMENT; /* RFC 6184 5.8: S and E must not both be set */
    }
    if (start) {
        int corrupt = d->in_fu ? MCU_ERR_FRAGMENT : MCU_OK; /* previous lost its end */
        cut_fu(d);
        uint8_t hdr = (uint8_t)((p[0] & (NAL_FORBIDDEN_BIT | NAL_NRI_MASK)) | type);
        int rc = check_nal_header(hdr);
        if (rc < 0)
            return rc;
        if ((rc = reserve(d, START_CODE_SIZE + 1 + n)) < 0)
            return rc;
        append(d, start_code, START_CODE_SIZE);
        d->fu_start = d->len;
        append(d, &hdr, 1);
        append(d, data, n);
        d->in_fu = true;
        d->fu_type = type;
        return corrupt;
    }
    if (!d->in_fu)
        return MCU_ERR_FRAGMENT; /* middle or end without a start */
    if (type != d->fu_type) {
        abandon_fu(d);
        return MCU_ERR_FRAGMENT;
    }
    if (d->len - d->fu_start + n > MCU_H264_MAX_NAL) {
        abandon_fu(d);
        return MCU_ERR_TOO_BIG;
    }
    int rc = append(d, data, n);
    if (rc < 0) {
        abandon_fu(d);
        return rc;
    }
    if (end) {
        if (!nal_is_clean(d->buf + d->fu_start, d->len - d->fu_start)) {
            abandon_fu(d);
            return MCU_ERR_MALFORMED;
        }
        d->in_fu = false;
        if (d->fu_type == MCU_H264_NAL_IDR)
            d->keyframe = true;
    }
    return MCU_OK;
}

static int h264_push(void *priv, const uint8_t *p, size_t len)
{
    h264_depack_t *d = priv;
    if (len == 0)
        return MCU_ERR_EMPTY;
    if (p[0] & NAL_FORBIDDEN_BIT)
        return MCU_ERR_MALFORMED;
    uint8_t type = NAL_TYPE(p[0]);
    if (type != MCU_H264_NAL_FU_A && d->in_fu) {
        cut_fu(d); /* the FU-A in progress lost its end */
        int rc = type == MCU_H264_NAL_STAP_A ? push_stap_a(d, p, len) : add_nal(d, p, len);
        return rc < 0 ? rc : MCU_ERR_FRAGMENT;
    }
    switch (type) {
    case MCU_H264_NAL_STAP_A: return push_stap_a(d, p, len);
    case MCU_H264_NAL_FU_A: return push_fu_a(d, p, len);
    default: return add_nal(d, p, len); /* 1..23, or reserved/interleaved: rejected */
    }
}

static void h264_gap(void *priv) { cut_fu(priv); }

static int h264_finish(void *priv, mcu_depack_frame_t *out)
{
    h264_depack_t *d = priv;
    cut_fu(d);
    bool truncated = d->truncated;
    memset(out, 0, sizeof *out);
    d->truncated = false;
    if (d->len == 0) {
        d->keyframe = false;
        return truncated ? MCU_ERR_FRAGMENT : MCU_ERR_AGAIN;
    }
    out->data = d->buf;
    out->len = d->len;
    out->keyframe = d->keyframe;
    out->corrupt = truncated;
    d->len = 0;
    d->keyframe = false;
    return MCU_OK;
}

/* Whether a NAL unit certainly begins an access unit. H.264 7.4.1.2.3 lists what may
 * begin one (AUD, SPS, PPS, SEI, types 14..18, the first slice of a picture); only some
 * of them begin it for certain:
 *   AUD          must be first when present;
 *   SPS          first unless an AUD precedes (senders over RTP rarely send AUDs);
 *   non-IDR slice with first_mb_in_slice == 0 (ue(v) 0 is a lone '1' bit): P frames
 *                carry no parameter sets or SEI in front in practice.
 * An IDR slice, PPS or SEI is usually preceded by parameter sets, so a frame that
 * starts with one after a gap may have lost them: reported as unknown. */
static bool nal_starts_au(uint8_t type, const uint8_t *after_header, size_t n)
{
    switch (type) {
    case MCU_H264_NAL_AUD:
    case MCU_H264_NAL_SPS:
        return true;
    case MCU_H264_NAL_SLICE:
        return n > 0 && (after_header[0] & 0x80);
    default:
        return false;
    }
}

static bool h264_is_frame_start(const uint8_t *p, size_t len)
{
    if (len < 2)
        return false;
    uint8_t type = NAL_TYPE(p[0]);
    if (type == MCU_H264_NAL_STAP_A) {
        /* SEI may come first in an access unit (x264 puts its version SEI before the
         * parameter sets of the first IDR): an aggregate whose SEIs are followed by a unit
         * that certainly starts an access unit starts one too. */
        size_t pos = STAP_HEADER_SIZE;
        while (len - pos > STAP_SIZE_FIELD) {
            size_t n = mcu_rd16(p + pos);
            pos += STAP_SIZE_FIELD;
            if (n == 0 || n > len - pos)
                return false;
            uint8_t t = NAL_TYPE(p[pos]);
            if (t != MCU_H264_NAL_SEI)
                return nal_starts_au(t, p + pos + 1, n - 1);
            pos += n;
        }
        return false;
    }
    if (type == MCU_H264_NAL_FU_A)
        return (p[1] & FU_START) && nal_starts_au(NAL_TYPE(p[1]), p + 2, len - 2);
    return nal_starts_au(type, p + 1, len - 1);
}

const mcu_depack_ops_t mcu_h264_depack_ops = {
    .name = "H264",
    .clock_rate = MCU_H264_CLOCK_RATE,
    .frame_per_packet = false,
    .priv_size = sizeof(h264_depack_t),
    .init = h264_init,
    .uninit = h264_uninit,
    .is_frame_start = h264_is_frame_start,
    .push = h264_push,
    .gap = h264_gap,
    .finish = h264_finish,
    .reset = h264_reset,
};

/* ---------------------------------------------------------------- packetizer */

int mcu_h264_next_nal(const uint8_t *buf, size_t len, size_t *pos, const uint8_t **nal,
                      size_t *nal_len)
{
    size_t i = *pos;
    for (;;) { /* a loop, not recursion: empty NAL units may repeat without bound */
        /* Find the next start code 00 00 01. */
        while (i + 3 <= len && !(buf[i] == 0 && buf[i + 1] == 0 && buf[i + 2] == 1))
            i++;
        if (i + 3 > len) {
            *pos = len;
            return 0;
        }
        size_t begin = i + 3, end = begin;
        while (end + 3 <= len && !(buf[end] == 0 && buf[end + 1] == 0 && buf[end + 2] == 1))
            end++;
        if (end + 3 > len)
            end = len;
        i = end;
        while (end > begin && buf[end - 1] == 0)
            end--; /* trailing_zero_8bits and the next 4-byte start code's zero */
        if (end > begin) {
            *pos = i;
            *nal = buf + begin;
            *nal_len = end - begin;
            return 1;
        }
    }
}

typedef struct packetizer {
    size_t mtu;
    mcu_h264_emit_fn emit;
    void *opaque;
    uint8_t pkt[MCU_RTP_MAX_DATAGRAM];
    size_t stap_len;    /* bytes in the pending STAP-A, 0 if none */
    size_t stap_count;  /* NAL units in it */
    const uint8_t *stap_first; /* the lone NAL if stap_count == 1 */
    size_t stap_first_len;
    int emitted;
} packetizer_t;

static int emit(packetizer_t *pz, const uint8_t *p, size_t n, bool marker)
{
    int rc = pz->emit(pz->opaque, p, n, marker);
    if (rc < 0)
        return rc;
    pz->emitted++;
    return MCU_OK;
}

/* Sends the pending aggregate: a lone NAL unit goes out as a single NAL packet. */
static int flush_stap(packetizer_t *pz, bool marker)
{
    int rc = MCU_OK;
    if (pz->stap_count == 1)
        rc = emit(pz, pz->stap_first, pz->stap_first_len, marker);
    else if (pz->stap_count > 1)
        rc = emit(pz, pz->pkt, pz->stap_len, marker);
    pz->stap_len = 0;
    pz->stap_count = 0;
    return rc;
}

static int send_fu_a(packetizer_t *pz, const uint8_t *nal, size_t len, bool last_nal)
{
    size_t chunk = pz->mtu - FU_HEADER_SIZE;
    const uint8_t *data = nal + 1;
    size_t left = len - 1;
    bool first = true;
    while (left > 0) {
        size_t n = left < chunk ? left : chunk;
        bool last = n == left;
        pz->pkt[0] = (uint8_t)((nal[0] & (NAL_FORBIDDEN_BIT | NAL_NRI_MASK)) |
                               MCU_H264_NAL_FU_A);
        pz->pkt[1] = (uint8_t)((first ? FU_START : 0) | (last ? FU_END : 0) | NAL_TYPE(nal[0]));
        memcpy(pz->pkt + FU_HEADER_SIZE, data, n);
        int rc = emit(pz, pz->pkt, FU_HEADER_SIZE + n, last && last_nal);
        if (rc < 0)
            return rc;
        data += n;
        left -= n;
        first = false;
    }
    return MCU_OK;
}

/* Adds a NAL unit that fits the MTU to the pending aggregate, flushing it first when the
 * NAL unit would not fit. */
static int add_to_stap(packetizer_t *pz, const uint8_t *nal, size_t len)
{
    size_t need = STAP_SIZE_FIELD + len;
    if (pz->stap_count > 0) {
        size_t total = pz->stap_count == 1 ? STAP_HEADER_SIZE + STAP_SIZE_FIELD + pz->stap_first_len
                                           : pz->stap_len;
        if (total + need > pz->mtu) {
            int rc = flush_stap(pz, false);
            if (rc < 0)
                return rc;
        }
    }
    if (pz->stap_count == 0) {
        pz->stap_first = nal;
        pz->stap_first_len = len;
        pz->stap_count = 1;
        return MCU_OK;
    }
    if (pz->stap_count == 1) { /* turn the lone NAL unit into an aggregate */
        const uint8_t *f = pz->stap_first;
        size_t fl = pz->stap_first_len;
        pz->pkt[0] = (uint8_t)((f[0] & NAL_NRI_MASK) | MCU_H264_NAL_STAP_A);
        mcu_wr16(pz->pkt + 1, (uint16_t)fl);
        memcpy(pz->pkt + 3, f, fl);
        pz->stap_len = STAP_HEADER_SIZE + STAP_SIZE_FIELD + fl;
    }
    /* STAP-A NRI is the highest NRI of its NAL units (RFC 6184 5.7.1). */
    if ((nal[0] & NAL_NRI_MASK) > (pz->pkt[0] & NAL_NRI_MASK))
        pz->pkt[0] = (uint8_t)((pz->pkt[0] & ~NAL_NRI_MASK) | (nal[0] & NAL_NRI_MASK));
    mcu_wr16(pz->pkt + pz->stap_len, (uint16_t)len);
    memcpy(pz->pkt + pz->stap_len + STAP_SIZE_FIELD, nal, len);
    pz->stap_len += need;
    pz->stap_count++;
    return MCU_OK;
}

int mcu_h264_packetize(const uint8_t *au, size_t len, size_t mtu, mcu_h264_emit_fn emit_fn,
                       void *opaque)
{
    if (!au || !emit_fn || mtu < MCU_H264_MIN_MTU)
        return MCU_ERR_INVAL;
    if (mtu > MCU_RTP_MAX_DATAGRAM)
        mtu = MCU_RTP_MAX_DATAGRAM;
    packetizer_t st = {.mtu = mtu, .emit = emit_fn, .opaque = opaque};
    packetizer_t *pz = &st;

    const uint8_t *nal, *next;
    size_t nal_len, next_len, pos = 0;
    int rc = mcu_h264_next_nal(au, len, &pos, &nal, &nal_len) ? MCU_OK : MCU_ERR_INVAL;
    while (rc == MCU_OK && nal) {
        bool more = mcu_h264_next_nal(au, len, &pos, &next, &next_len);
        if (nal_len > mtu) {
            rc = flush_stap(pz, false);
            if (rc == MCU_OK)
                rc = send_fu_a(pz, nal, nal_len, !more);
        } else {
            rc = add_to_stap(pz, nal, nal_len);
            if (rc == MCU_OK && !more)
                rc = flush_stap(pz, true);
        }
        nal = more ? next : NULL;
        nal_len = more ? next_len : 0;
    }
    return rc < 0 ? rc : pz->emitted;
}
