#include "sdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

/* RFC 3551: 96..127 are the dynamic payload types; anything static is not ours. */
#define PT_DYNAMIC_MIN 96
#define PT_DYNAMIC_MAX 127
#define PORT_MAX 65535
/* Longest numeric address text: INET6_ADDRSTRLEN less its NUL. */
#define ADDR_MAX (INET6_ADDRSTRLEN - 1)
/* profile_idc 66 (baseline) with constraint_set0..2 set: constrained baseline, what
 * every receiver decodes and what the encoder is configured for. */
#define H264_PROFILE_IOP "42e0"
/* Opus in SDP: 48 kHz, 2 channels always (RFC 7587 7). 10 ms is the shortest packet
 * the receiver should expect; in-band FEC because the MCU's encoder sends it. */
#define OPUS_FMTP "minptime=10;useinbandfec=1"
#define TMP_SUFFIX ".tmp"

/* Levels H.264 Table A-1 defines (level_idc = 10 x level). 1b is not expressible with
 * the fixed constraint flags above, and no conference receiver needs it. */
static const int h264_levels[] = {10, 11, 12, 13, 20, 21, 22, 30, 31, 32,
                                  40, 41, 42, 50, 51, 52, 60, 61, 62};

/* ---------------------------------------------------------------- validation */

/* 1..max visible ASCII characters (no space, no control), each also in `allowed` when
 * given: SDP tokens, which a space would split and a CR or LF would let forge lines. */
static bool valid_token(const char *s, size_t max, const char *allowed)
{
    if (!s || !s[0])
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= max || c <= 0x20 || c >= 0x7f)
            return false;
        if (allowed && !strchr(allowed, c))
            return false;
    }
    return true;
}

/* 1..max bytes of well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF) without control characters. */
static bool valid_text(const char *s, size_t max)
{
    if (!s || !s[0])
        return false;
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0;
    while (u[n]) {
        unsigned c = u[n];
        size_t len;
        uint32_t cp, min;
        if (c < 0x20 || c == 0x7f)
            return false;
        if (c < 0x80) {
            len = 1, cp = c, min = 0;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        for (size_t i = 1; i < len; i++) {
            if ((u[n + i] & 0xC0) != 0x80) /* also stops at the NUL */
                return false;
            cp = (cp << 6) | (u[n + i] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        n += len;
        if (n > max)
            return false;
    }
    return true;
}

/* Address family for the o=/c= addrtype ("IP4"/"IP6"), or NULL when `s` is not a
 * numeric address: ffmpeg resolves SDP addresses with AI_NUMERICHOST only. `unicast`
 * also refuses multicast (which would need a TTL and a different sender) and the
 * unspecified address. */
static const char *addr_type(const char *s, bool unicast)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!valid_token(s, ADDR_MAX, NULL))
        return NULL;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        uint32_t h = ntohl(a4.s_addr);
        if (unicast && (IN_MULTICAST(h) || h == INADDR_ANY))
            return NULL;
        return "IP4";
    }
    if (inet_pton(AF_INET6, s, &a6) == 1) {
        if (unicast && (IN6_IS_ADDR_MULTICAST(&a6) || IN6_IS_ADDR_UNSPECIFIED(&a6)))
            return NULL;
        return "IP6";
    }
    return NULL;
}

static bool valid_level(int level_idc)
{
    for (size_t i = 0; i < sizeof h264_levels / sizeof h264_levels[0]; i++)
        if (h264_levels[i] == level_idc)
            return true;
    return false;
}

static bool has_crypto(const mcu_sdp_params_t *p)
{
    return p->crypto.suite && p->crypto.suite[0];
}

/* Port and PT in range; the RTCP port (port+1 unless muxed) must exist too. */
static bool valid_media(const mcu_sdp_media_t *m, bool rtcp_mux)
{
    int max_port = rtcp_mux ? PORT_MAX : PORT_MAX - 1;
    return m->port >= 1 && m->port <= max_port && m->pt >= PT_DYNAMIC_MIN &&
           m->pt <= PT_DYNAMIC_MAX;
}

static int validate(const mcu_sdp_params_t *p)
{
    if (!valid_text(p->session_name, MCU_SDP_NAME_MAX) ||
        !addr_type(p->origin_addr, false) || !addr_type(p->dest_addr, true) ||
        !valid_token(p->cname, MCU_SDP_CNAME_MAX, NULL))
        return MCU_ERR_INVAL;
    if (!valid_media(&p->video, p->rtcp_mux) || !valid_media(&p->audio, p->rtcp_mux) ||
        !valid_level(p->h264_level_idc) || p->framerate < 1 ||
        p->framerate > MCU_SDP_MAX_FRAMERATE || (p->video_feedback & ~MCU_SDP_FB_ALL) != 0)
        return MCU_ERR_INVAL;
    /* The receiver binds all four ports (ffmpeg binds port+1 even when muxed). */
    if (p->audio.port >= p->video.port - 1 && p->audio.port <= p->video.port + 1)
        return MCU_ERR_INVAL;
    /* One CNAME, two streams; and with one SRTP master key for both, equal SSRCs would
     * repeat the keystream. */
    if (p->video.ssrc == p->audio.ssrc)
        return MCU_ERR_INVAL;
    if (has_crypto(p) &&
        (!valid_token(p->crypto.suite, MCU_SDP_CRYPTO_SUITE_MAX,
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ||
         !valid_token(p->crypto.key, MCU_SDP_CRYPTO_KEY_MAX,
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
                      "|^:")))
        return MCU_ERR_INVAL;
    return MCU_OK;
}

/* ---------------------------------------------------------------- writing */

typedef struct sdp_out {
    char *buf;
    size_t cap, len;
    bool full;
} sdp_out_t;

/* Appends one line and its CRLF. */
static void line(sdp_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void line(sdp_out_t *o, const char *fmt, ...)
{
    if (o->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n + 2 >= o->cap - o->len) { /* +2: CRLF; >=: the NUL */
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len + n, "\r\n", 3);
    o->len += (size_t)n + 2;
}

/* What differs between the video and the audio section; the rest is shared. */
typedef struct media_desc {
    const char *kind;           /* "video", "audio" */
    const mcu_sdp_media_t *m;
    const char *encoding;       /* rtpmap: "H264/90000" */
    const char *fmtp;
    int framerate;              /* 0: no a=framerate */
    unsigned feedback;          /* MCU_SDP_FB_* */
} media_desc_t;

static void media_section(sdp_out_t *o, const mcu_sdp_params_t *p, const media_desc_t *d)
{
    int pt = d->m->pt;
    line(o, "m=%s %d RTP/%sAVP%s %d", d->kind, d->m->port, has_crypto(p) ? "S" : "",
         d->feedback ? "F" : "", pt);
    line(o, "a=rtpmap:%d %s", pt, d->encoding);
    line(o, "a=fmtp:%d %s", pt, d->fmtp);
    if (d->framerate)
        line(o, "a=framerate:%d", d->framerate);
    if (p->rtcp_mux)
        line(o, "a=rtcp-mux");
    else
        line(o, "a=rtcp:%d", d->m->port + 1);
    if (d->feedback & MCU_SDP_FB_NACK)
        line(o, "a=rtcp-fb:%d nack", pt);
    if (d->feedback & MCU_SDP_FB_PLI)
        line(o, "a=rtcp-fb:%d nack pli", pt);
    if (d->feedback & MCU_SDP_FB_FIR)
        line(o, "a=rtcp-fb:%d ccm fir", pt);
    line(o, "a=ssrc:%" PRIu32 " cname:%s", d->m->ssrc, p->cname);
    if (has_crypto(p))
        line(o, "a=crypto:1 %s inline:%s", p->crypto.suite, p->crypto.key);
    line(o, "a=recvonly");
}

int mcu_sdp_write(const mcu_sdp_params_t *p, char *out, size_t cap)
{
    if (!p || !out)
        return MCU_ERR_INVAL;
    int rc = validate(p);
    if (rc != MCU_OK)
        return rc;

    char video_fmtp[64];
    snprintf(video_fmtp, sizeof video_fmtp,
             "packetization-mode=1;profile-level-id=" H264_PROFILE_IOP "%02x",
             (unsigned)p->h264_level_idc);
    const media_desc_t video = {"video", &p->video, "H264/90000", video_fmtp,
                                p->framerate, p->video_feedback};
    const media_desc_t audio = {"audio", &p->audio, "opus/48000/2", OPUS_FMTP, 0, 0};

    sdp_out_t o = {out, cap, 0, cap == 0};
    line(&o, "v=0");
    line(&o, "o=- %" PRIu64 " %" PRIu64 " IN %s %s", p->session_id, p->session_version,
         addr_type(p->origin_addr, false), p->origin_addr);
    line(&o, "s=%s", p->session_name);
    line(&o, "c=IN %s %s", addr_type(p->dest_addr, true), p->dest_addr);
    line(&o, "t=0 0");
    media_section(&o, p, &video);
    media_section(&o, p, &audio);
    if (o.full) {
        if (cap > 0)
            out[0] = '\0';
        return MCU_ERR_NOSPACE;
    }
    return (int)o.len;
}

/* ---------------------------------------------------------------- file */

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

int mcu_sdp_write_file(const mcu_sdp_params_t *p, const char *path)
{
    char text[MCU_SDP_MAX_BYTES];
    char tmp[PATH_MAX];
    if (!path || !path[0])
        return MCU_ERR_INVAL;
    int n = mcu_sdp_write(p, text, sizeof text);
    if (n < 0)
        return n;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s" TMP_SUFFIX, path) >= sizeof tmp)
        return MCU_ERR_INVAL;

    /* A fresh file each time (O_EXCL): a stale .tmp from a crash can neither keep a
     * wider mode nor be a planted symlink. The key makes the file a secret. */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, has_crypto(p) ? 0600 : 0644);
    if (fd < 0)
        return MCU_ERR_IO;
    bool ok = write_all(fd, text, (size_t)n) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return MCU_ERR_IO;
    }
    return MCU_OK;
}
