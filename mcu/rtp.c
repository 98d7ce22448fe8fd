#include "rtp.h"

#include <string.h>

#include "error.h"

#define RTP_VERSION 2
#define EXT_HEADER_SIZE 4      /* profile-defined 16 bits + length in 32-bit words */
#define ONE_BYTE_MAX_ID 14     /* id 15 is reserved: stop parsing (RFC 8285 4.2) */
#define ONE_BYTE_STOP_ID 15
#define ONE_BYTE_MAX_LEN 16
#define TWO_BYTE_MAX_LEN 255

int mcu_rtp_parse(const uint8_t *buf, size_t len, mcu_rtp_packet_t *pkt)
{
    if (!buf || !pkt)
        return MCU_ERR_INVAL;
    memset(pkt, 0, sizeof *pkt);
    if (len > MCU_RTP_MAX_DATAGRAM)
        return MCU_ERR_TOO_BIG;
    if (len < MCU_RTP_HEADER_SIZE)
        return MCU_ERR_TRUNCATED;
    if ((buf[0] >> 6) != RTP_VERSION)
        return MCU_ERR_VERSION;

    pkt->padding = buf[0] & 0x20;
    pkt->extension = buf[0] & 0x10;
    pkt->csrc_count = buf[0] & 0x0F;
    pkt->marker = buf[1] & 0x80;
    pkt->payload_type = buf[1] & 0x7F;
    pkt->seq = mcu_rd16(buf + 2);
    pkt->timestamp = mcu_rd32(buf + 4);
    pkt->ssrc = mcu_rd32(buf + 8);

    size_t pos = MCU_RTP_HEADER_SIZE;
    if (len - pos < 4u * pkt->csrc_count)
        return MCU_ERR_TRUNCATED;
    for (unsigned i = 0; i < pkt->csrc_count; i++, pos += 4)
        pkt->csrc[i] = mcu_rd32(buf + pos);

    if (pkt->extension) {
        if (len - pos < EXT_HEADER_SIZE)
            return MCU_ERR_EXTENSION;
        pkt->ext_profile = mcu_rd16(buf + pos);
        size_t words = mcu_rd16(buf + pos + 2);
        pos += EXT_HEADER_SIZE;
        if (len - pos < words * 4)
            return MCU_ERR_EXTENSION;
        pkt->ext = buf + pos;
        pkt->ext_len = words * 4;
        pos += words * 4;
    }
    pkt->header_len = pos;

    size_t end = len;
    if (pkt->padding) {
        uint8_t pad = buf[len - 1];
        /* RFC 3550 5.1: the count includes itself, so 0 is invalid. */
        if (pad == 0 || pad > len - pos)
            return MCU_ERR_PADDING;
        pkt->padding_len = pad;
        end -= pad;
    }
    pkt->payload = buf + pos;
    pkt->payload_len = end - pos;
    return MCU_OK;
}

bool mcu_rtp_is_rtcp(const uint8_t *buf, size_t len)
{
    return len >= 2 && buf[1] >= 192 && buf[1] <= 223;
}

int mcu_rtp_ext_iter_init(mcu_rtp_ext_iter_t *it, const mcu_rtp_packet_t *pkt)
{
    memset(it, 0, sizeof *it);
    if (!pkt->extension)
        return MCU_ERR_UNSUPPORTED;
    if (pkt->ext_profile == MCU_RTP_EXT_ONE_BYTE)
        it->two_byte = false;
    else if ((pkt->ext_profile & MCU_RTP_EXT_TWO_BYTE_MASK) == MCU_RTP_EXT_TWO_BYTE)
        it->two_byte = true;
    else
        return MCU_ERR_UNSUPPORTED;
    it->p = pkt->ext;
    it->len = pkt->ext_len;
    return MCU_OK;
}

int mcu_rtp_ext_next(mcu_rtp_ext_iter_t *it, mcu_rtp_ext_elem_t *elem)
{
    while (it->pos < it->len && it->p[it->pos] == 0)
        it->pos++; /* padding */
    if (it->pos >= it->len)
        return 0;
    const uint8_t *p = it->p + it->pos;
    size_t left = it->len - it->pos;
    size_t hdr, dlen;
    if (it->two_byte) {
        if (left < 2)
            return MCU_ERR_EXTENSION;
        elem->id = p[0];
        dlen = p[1];
        hdr = 2;
    } else {
        elem->id = p[0] >> 4;
        if (elem->id == ONE_BYTE_STOP_ID) {
            it->pos = it->len;
            return 0;
        }
        dlen = (size_t)(p[0] & 0x0F) + 1;
        hdr = 1;
    }
    if (left - hdr < dlen)
        return MCU_ERR_EXTENSION;
    elem->len = (uint8_t)dlen;
    elem->data = p + hdr;
    it->pos += hdr + dlen;
    return 1;
}

int mcu_rtp_ext_find(const mcu_rtp_packet_t *pkt, uint8_t id, mcu_rtp_ext_elem_t *elem)
{
    mcu_rtp_ext_iter_t it;
    if (mcu_rtp_ext_iter_init(&it, pkt) != MCU_OK)
        return 0;
    int rc;
    while ((rc = mcu_rtp_ext_next(&it, elem)) > 0)
        if (elem->id == id)
            return 1;
    return rc;
}

static bool ext_fits_one_byte(const mcu_rtp_header_t *h)
{
    for (size_t i = 0; i < h->n_ext; i++) {
        const mcu_rtp_ext_elem_t *e = &h->ext[i];
        if (e->id < 1 || e->id > ONE_BYTE_MAX_ID || e->len < 1 || e->len > ONE_BYTE_MAX_LEN)
            return false;
    }
    return true;
}

/* Writes the extension block at out; returns its length or a negative code. */
static int write_ext(const mcu_rtp_header_t *h, uint8_t *out, size_t cap)
{
    bool one = ext_fits_one_byte(h);
    size_t body = 0;
    for (size_t i = 0; i < h->n_ext; i++) {
        if (h->ext[i].id == 0 || (h->ext[i].len && !h->ext[i].data))
            return MCU_ERR_INVAL;
        body += (one ? 1u : 2u) + h->ext[i].len;
    }
    size_t padded = (body + 3) & ~(size_t)3;
    if (padded / 4 > UINT16_MAX)
        return MCU_ERR_INVAL;
    if (cap < EXT_HEADER_SIZE + padded)
        return MCU_ERR_NOSPACE;
    mcu_wr16(out, one ? MCU_RTP_EXT_ONE_BYTE : MCU_RTP_EXT_TWO_BYTE);
    mcu_wr16(out + 2, (uint16_t)(padded / 4));
    uint8_t *p = out + EXT_HEADER_SIZE;
    for (size_t i = 0; i < h->n_ext; i++) {
        const mcu_rtp_ext_elem_t *e = &h->ext[i];
        if (one) {
            *p++ = (uint8_t)(e->id << 4 | (e->len - 1));
        } else {
            *p++ = e->id;
            *p++ = e->len;
        }
        if (e->len)
            memcpy(p, e->data, e->len);
        p += e->len;
    }
    memset(p, 0, padded - body);
    return (int)(EXT_HEADER_SIZE + padded);
}

int mcu_rtp_write_header(const mcu_rtp_header_t *h, uint8_t *out, size_t cap)
{
    if (!h || !out || h->csrc_count > MCU_RTP_MAX_CSRC || h->payload_type > 127 ||
        (h->csrc_count && !h->csrc) || (h->n_ext && !h->ext))
        return MCU_ERR_INVAL;
    size_t len = MCU_RTP_HEADER_SIZE + 4u * h->csrc_count;
    if (cap < len)
        return MCU_ERR_NOSPACE;
    out[0] = (uint8_t)(RTP_VERSION << 6 | (h->n_ext ? 0x10 : 0) | h->csrc_count);
    out[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->payload_type);
    mcu_wr16(out + 2, h->seq);
    mcu_wr32(out + 4, h->timestamp);
    mcu_wr32(out + 8, h->ssrc);
    for (unsigned i = 0; i < h->csrc_count; i++)
        mcu_wr32(out + MCU_RTP_HEADER_SIZE + 4 * i, h->csrc[i]);
    if (h->n_ext) {
        int n = write_ext(h, out + len, cap - len);
        if (n < 0)
            return n;
        len += (size_t)n;
    }
    return (int)len;
}
