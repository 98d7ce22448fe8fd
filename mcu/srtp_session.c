#include "srtp_session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <libavutil/base64.h>

#include "error.h"
#include "log.h"
#include "srtp_crypto.h"

/* Fixed RTP header and RTCP common header (RFC 3550 5.1, 6.4). */
#define RTP_FIXED_HEADER 12
#define RTCP_HEADER 8
/* SRTCP's E flag + 31-bit index word (RFC 3711 3.4). */
#define SRTCP_INDEX_LEN 4
/* Largest packet handed to libsrtp, whose lengths are int: the protected result must
 * still fit. */
#define MAX_PACKET ((size_t)INT_MAX - MCU_SRTP_MAX_OVERHEAD)
/* Longest base64 key accepted: MCU_SRTP_MAX_KEY_LEN bytes encoded (64 characters). */
#define MAX_B64_CHARS (4 * ((MCU_SRTP_MAX_KEY_LEN + 2) / 3))
/* Object named in this module's log lines. */
#define LOG_OBJECT "srtp"

_Static_assert(MCU_SRTP_MAX_KEY_LEN >= SRTP_AES_ICM_128_KEY_LEN_WSALT &&
                   MCU_SRTP_MAX_KEY_LEN >= SRTP_AES_GCM_128_KEY_LEN_WSALT,
               "a key struct must hold every suite's key");
_Static_assert(MCU_SRTP_REPLAY_WINDOW >= 64 && MCU_SRTP_REPLAY_WINDOW < 0x8000,
               "libsrtp accepts replay windows of 64..32767 packets");
_Static_assert(MCU_SRTP_KEY_PARAMS_MAX == 7 + AV_BASE64_SIZE(MCU_SRTP_MAX_KEY_LEN),
               "inline: + base64 + NUL");

struct mcu_srtp {
    srtp_t ctx;
    mcu_srtp_suite_t suite;
    mcu_srtp_dir_t dir;
    size_t rtp_tag;             /* tag bytes on SRTP packets */
    size_t rtcp_tag;            /* ... on SRTCP packets (after the index word) */
    mcu_srtp_stats_t stats;
    mcu_log_limit_t limit_log;  /* key-limit warnings: libsrtp repeats them per packet */
};

/* ------------------------------------------------------------------ suites and keys */

typedef struct suite_info {
    const char *name;
    size_t key_len;
    size_t rtp_tag, rtcp_tag;
} suite_info_t;

static const suite_info_t suites[MCU_SRTP_SUITE_COUNT] = {
    [MCU_SRTP_AES_CM_128_HMAC_SHA1_80] = {"AES_CM_128_HMAC_SHA1_80", 30, 10, 10},
    [MCU_SRTP_AES_CM_128_HMAC_SHA1_32] = {"AES_CM_128_HMAC_SHA1_32", 30, 4, 10},
    [MCU_SRTP_AEAD_AES_128_GCM] = {"AEAD_AES_128_GCM", 28, 16, 16},
};

static const suite_info_t *suite_of(mcu_srtp_suite_t suite)
{
    return (unsigned)suite < MCU_SRTP_SUITE_COUNT ? &suites[suite] : NULL;
}

const char *mcu_srtp_suite_name(mcu_srtp_suite_t suite)
{
    const suite_info_t *si = suite_of(suite);
    return si ? si->name : NULL;
}

int mcu_srtp_suite_parse(const char *name, mcu_srtp_suite_t *out)
{
    if (!name || !out)
        return MCU_ERR_INVAL;
    for (int i = 0; i < MCU_SRTP_SUITE_COUNT; i++)
        if (strcmp(name, suites[i].name) == 0) {
            *out = (mcu_srtp_suite_t)i;
            return MCU_OK;
        }
    return MCU_ERR_UNSUPPORTED;
}

size_t mcu_srtp_key_len(mcu_srtp_suite_t suite)
{
    const suite_info_t *si = suite_of(suite);
    return si ? si->key_len : 0;
}

size_t mcu_srtp_tag_len(mcu_srtp_suite_t suite, bool rtcp)
{
    const suite_info_t *si = suite_of(suite);
    return si ? (rtcp ? si->rtcp_tag : si->rtp_tag) : 0;
}

static void wipe(void *p, size_t n)
{
    explicit_bzero(p, n);
}

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* Decodes s[0,n) as strict RFC 4648 base64 (padding optional) into out[0,cap). Returns
 * the decoded length, or -1 for anything but canonical base64 (what av_base64_decode
 * alone lets through: trailing characters after '=', non-zero unused bits). */
static int b64_decode_strict(const char *s, size_t n, uint8_t *out, size_t cap)
{
    size_t chars = 0;
    while (chars < n && b64_char(s[chars]))
        chars++;
    size_t pads = n - chars;
    if (chars == 0 || chars > MAX_B64_CHARS || chars % 4 == 1 || pads > 2)
        return -1;
    for (size_t i = chars; i < n; i++)
        if (s[i] != '=')
            return -1;
    if (pads && (chars + pads) % 4 != 0)
        return -1;
    size_t dec = chars / 4 * 3 + (chars % 4 ? chars % 4 - 1 : 0);
    if (dec > cap)
        return -1;

    char padded[MAX_B64_CHARS + 1];
    char again[MAX_B64_CHARS + 1];
    uint8_t tmp[MAX_B64_CHARS];
    memcpy(padded, s, chars);
    size_t plen = chars;
    while (plen % 4)
        padded[plen++] = '=';
    padded[plen] = '\0';
    int rc = -1;
    int got = av_base64_decode(tmp, padded, (int)sizeof tmp);
    if (got >= 0 && (size_t)got == dec &&
        av_base64_encode(again, (int)sizeof again, tmp, got) &&
        strcmp(again, padded) == 0) {
        memcpy(out, tmp, dec);
        rc = got;
    }
    wipe(padded, sizeof padded);
    wipe(again, sizeof again);
    wipe(tmp, sizeof tmp);
    return rc;
}

static int key_fail(mcu_srtp_key_t *out, const char **why, const char *msg, int err)
{
    wipe(out, sizeof *out);
    if (why)
        *why = msg;
    return err;
}

int mcu_srtp_key_parse(mcu_srtp_suite_t suite, const char *key_params, mcu_srtp_key_t *out,
                       const char **why)
{
    if (!out)
        return MCU_ERR_INVAL;
    const suite_info_t *si = suite_of(suite);
    if (!si)
        return key_fail(out, why, "unknown crypto suite", MCU_ERR_INVAL);
    if (!key_params || !*key_params)
        return key_fail(out, why, "the key parameters are empty", MCU_ERR_INVAL);

    const char *p = key_params;
    if (strncasecmp(p, "inline:", 7) == 0)
        p += 7;
    size_t klen = strcspn(p, "|;");
    if (memchr(p, ':', klen))
        return key_fail(out, why, "only the \"inline:\" key method is supported",
                        MCU_ERR_UNSUPPORTED);
    if (p[klen] == ';')
        return key_fail(out, why, "more than one key (\";\") is not supported",
                        MCU_ERR_UNSUPPORTED);
    if (p[klen] == '|') {
        const char *part = p + klen + 1;
        size_t plen = strcspn(part, "|;");
        if (memchr(part, ':', plen))
            return key_fail(out, why,
                            "a master key identifier (\"|MKI:length\") is not supported",
                            MCU_ERR_UNSUPPORTED);
        return key_fail(out, why, "a key lifetime (\"|lifetime\") is not supported",
                        MCU_ERR_UNSUPPORTED);
    }
    if (klen == 0)
        return key_fail(out, why, "the key is empty", MCU_ERR_INVAL);

    memset(out, 0, sizeof *out);
    int n = b64_decode_strict(p, klen, out->bytes, sizeof out->bytes);
    if (n < 0) {
        /* Tell a key of the wrong size apart from a malformed one when we can. */
        return key_fail(out, why,
                        klen > MAX_B64_CHARS
                            ? "the key is longer than any suite's key"
                            : "the key is not valid base64 (RFC 4648, no spaces or extra "
                              "characters)",
                        MCU_ERR_INVAL);
    }
    if ((size_t)n != si->key_len)
        return key_fail(out, why, "the key's length does not match the crypto suite",
                        MCU_ERR_INVAL);
    out->suite = suite;
    out->len = (size_t)n;
    return MCU_OK;
}

int mcu_srtp_key_generate(mcu_srtp_suite_t suite, mcu_srtp_key_t *out)
{
    if (!out)
        return MCU_ERR_INVAL;
    memset(out, 0, sizeof *out);
    const suite_info_t *si = suite_of(suite);
    if (!si)
        return MCU_ERR_INVAL;
    size_t got = 0;
    while (got < si->key_len) {
        ssize_t r = getrandom(out->bytes + got, si->key_len - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            wipe(out, sizeof *out);
            return MCU_ERR_IO;
        }
        got += (size_t)r;
    }
    out->suite = suite;
    out->len = si->key_len;
    return MCU_OK;
}

int mcu_srtp_key_format(const mcu_srtp_key_t *key, char *out, size_t cap)
{
    if (!key || !out)
        return MCU_ERR_INVAL;
    const suite_info_t *si = suite_of(key->suite);
    if (!si || key->len != si->key_len) {
        if (cap)
            out[0] = '\0';
        return MCU_ERR_INVAL;
    }
    size_t need = 7 + AV_BASE64_SIZE(key->len);
    if (cap < need) {
        if (cap)
            out[0] = '\0';
        return MCU_ERR_NOSPACE;
    }
    memcpy(out, "inline:", 7);
    if (!av_base64_encode(out + 7, (int)(cap - 7 > INT_MAX ? INT_MAX : cap - 7), key->bytes,
                          (int)key->len)) {
        out[0] = '\0';
        return MCU_ERR_NOSPACE;
    }
    return (int)strlen(out);
}

/* ------------------------------------------------------------------ libsrtp glue */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t init_status = srtp_err_status_fail;
/* libsrtp's own messages (self-test failures and the like); one limiter for all. */
static mcu_log_limit_t lib_log_limit;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *dir_name(const mcu_srtp_t *s)
{
    return s->dir == MCU_SRTP_INBOUND ? "inbound" : "outbound";
}

static void on_srtp_log(srtp_log_level_t level, const char *msg, void *data)
{
    (void)data;
    if (!msg)
        return;
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        n--;
    mcu_log_level_t lv =
        level == srtp_log_level_error || level == srtp_log_level_warning ? MCU_LOG_WARN
                                                                          : MCU_LOG_DEBUG;
    mcu_log_limited(&lib_log_limit, mono_us(), lv, "libsrtp", "%.*s", (int)n, msg);
}

/* libsrtp calls this from inside srtp_protect/srtp_unprotect, on the thread using the
 * session, so counting into the session needs no lock. */
static void on_srtp_event(srtp_event_data_t *d)
{
    mcu_srtp_t *s = d && d->session ? srtp_get_user_data(d->session) : NULL;
    if (!s)
        return;
    const char *what = NULL;
    switch (d->event) {
    case event_key_soft_limit:
        s->stats.soft_limit_events++;
        what = "the master key is near its usage limit: rekey soon";
        break;
    case event_key_hard_limit:
        s->stats.hard_limit_events++;
        what = "the master key reached its usage limit: the stream is refused until rekeyed";
        break;
    case event_packet_index_limit:
        s->stats.index_limit_events++;
        what = "the stream reached the packet index limit: rekey";
        break;
    case event_ssrc_collision:
    default:
        /* Cannot happen with one direction per session; not worth a line. */
        return;
    }
    mcu_log_limited(&s->limit_log, mono_us(), MCU_LOG_WARN, LOG_OBJECT, "%s SSRC %08x: %s",
                    dir_name(s), (unsigned)d->ssrc, what);
}

static void init_libsrtp(void)
{
    /* Installed before srtp_init so that its self-test messages are caught too. */
    srtp_install_log_handler(on_srtp_log, NULL);
    init_status = srtp_init();
    if (init_status == srtp_err_status_ok) {
        srtp_install_event_handler(on_srtp_event);
        mcu_srtp_crypto_install(); /* logs why when it keeps libsrtp's own */
    } else
        MCU_LOG_ERROR(LOG_OBJECT, "libsrtp failed to initialise (status %d)",
                      (int)init_status);
}

static void set_crypto(srtp_policy_t *p, mcu_srtp_suite_t suite)
{
    switch (suite) {
    case MCU_SRTP_AES_CM_128_HMAC_SHA1_80:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
        break;
    case MCU_SRTP_AES_CM_128_HMAC_SHA1_32:
        /* RFC 4568 6.2.2: the 32-bit tag is for SRTP only; SRTCP keeps 80 bits. */
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
        break;
    case MCU_SRTP_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
        break;
    }
}

int mcu_srtp_create(const mcu_srtp_key_t *key, mcu_srtp_dir_t dir, mcu_srtp_t **out)
{
    if (!out)
        return MCU_ERR_INVAL;
    *out = NULL;
    const suite_info_t *si = key ? suite_of(key->suite) : NULL;
    if (!si || key->len != si->key_len ||
        (dir != MCU_SRTP_INBOUND && dir != MCU_SRTP_OUTBOUND))
        return MCU_ERR_INVAL;
    pthread_once(&init_once, init_libsrtp);
    if (init_status != srtp_err_status_ok)
        return MCU_ERR_SRTP;

    mcu_srtp_t *s = calloc(1, sizeof *s);
    if (!s)
        return MCU_ERR_NOMEM;
    s->suite = key->suite;
    s->dir = dir;
    s->rtp_tag = si->rtp_tag;
    s->rtcp_tag = si->rtcp_tag;

    /* libsrtp reads the master key through a non-const pointer: hand it a copy, and
     * wipe the copy (and the policy pointing at it) once the session keys are derived. */
    uint8_t master[MCU_SRTP_MAX_KEY_LEN];
    memcpy(master, key->bytes, key->len);
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    set_crypto(&policy, key->suite);
    policy.ssrc.type = dir == MCU_SRTP_INBOUND ? ssrc_any_inbound : ssrc_any_outbound;
    policy.key = master;
    policy.window_size = MCU_SRTP_REPLAY_WINDOW;
    policy.allow_repeat_tx = dir == MCU_SRTP_OUTBOUND;
    policy.next = NULL;
    srtp_err_status_t st = srtp_create(&s->ctx, &policy);
    wipe(master, sizeof master);
    wipe(&policy, sizeof policy);
    if (st != srtp_err_status_ok) {
        MCU_LOG_WARN(LOG_OBJECT, "srtp_create failed (status %d)", (int)st);
        s->ctx = NULL;
        free(s);
        return st == srtp_err_status_alloc_fail ? MCU_ERR_NOMEM : MCU_ERR_SRTP;
    }
    srtp_set_user_data(s->ctx, s);
    *out = s;
    return MCU_OK;
}

void mcu_srtp_destroy(mcu_srtp_t **ps)
{
    mcu_srtp_t *s = ps ? *ps : NULL;
    if (!s)
        return;
    if (s->ctx)
        srtp_dealloc(s->ctx);
    wipe(s, sizeof *s);
    free(s);
    *ps = NULL;
}

/* Length of the RTP header (fixed part, CSRCs, extension) in pkt[0,len), or -1 when it
 * does not fit. */
static long rtp_header_len(const uint8_t *pkt, size_t len)
{
    if (len < RTP_FIXED_HEADER)
        return -1;
    size_t h = RTP_FIXED_HEADER + 4u * (pkt[0] & 0x0F);
    if (pkt[0] & 0x10) {
        if (len < h + 4)
            return -1;
        h += 4 + 4u * (((size_t)pkt[h + 2] << 8) | pkt[h + 3]);
    }
    return h <= len ? (long)h : -1;
}

int mcu_srtp_protect(mcu_srtp_t *s, uint8_t *pkt, size_t *len, size_t cap, bool rtcp)
{
    if (!s || !pkt || !len)
        return MCU_ERR_INVAL;
    if (s->dir != MCU_SRTP_OUTBOUND) {
        s->stats.other_failures++;
        return MCU_ERR_STATE;
    }
    if (*len > MAX_PACKET) {
        s->stats.other_failures++;
        return MCU_ERR_TOO_BIG;
    }
    if (cap < *len + MCU_SRTP_MAX_OVERHEAD)
        return MCU_ERR_NOSPACE;
    if (rtcp ? *len < RTCP_HEADER : rtp_header_len(pkt, *len) < 0) {
        s->stats.other_failures++;
        return MCU_ERR_SRTP;
    }
    int n = (int)*len;
    srtp_err_status_t st =
        rtcp ? srtp_protect_rtcp(s->ctx, pkt, &n) : srtp_protect(s->ctx, pkt, &n);
    if (st != srtp_err_status_ok || n < 0 || (size_t)n > cap) {
        s->stats.other_failures++;
        return MCU_ERR_SRTP;
    }
    *len = (size_t)n;
    if (rtcp)
        s->stats.protected_rtcp++;
    else
        s->stats.protected_rtp++;
    return MCU_OK;
}

int mcu_srtp_unprotect(mcu_srtp_t *s, uint8_t *pkt, size_t *len, bool rtcp)
{
    if (!s || !pkt || !len)
        return MCU_ERR_INVAL;
    if (s->dir != MCU_SRTP_INBOUND) {
        s->stats.other_failures++;
        return MCU_ERR_STATE;
    }
    if (*len > MAX_PACKET) {
        s->stats.other_failures++;
        return MCU_ERR_TOO_BIG;
    }
    /* libsrtp would refuse these too, but with codes (bad_param, parse_err, and
     * cipher_fail for a short GCM packet) that do not say "truncated". */
    bool short_pkt;
    if (rtcp) {
        short_pkt = *len < RTCP_HEADER + SRTCP_INDEX_LEN + s->rtcp_tag;
    } else {
        long h = rtp_header_len(pkt, *len);
        short_pkt = h < 0 || *len < (size_t)h + s->rtp_tag;
    }
    if (short_pkt) {
        s->stats.other_failures++;
        s->stats.truncated++;
        return MCU_ERR_TRUNCATED;
    }
    int n = (int)*len;
    srtp_err_status_t st =
        rtcp ? srtp_unprotect_rtcp(s->ctx, pkt, &n) : srtp_unprotect(s->ctx, pkt, &n);
    switch (st) {
    case srtp_err_status_ok:
        if (n < 0 || (size_t)n > *len)
            break;
        *len = (size_t)n;
        if (rtcp)
            s->stats.unprotected_rtcp++;
        else
            s->stats.unprotected_rtp++;
        return MCU_OK;
    case srtp_err_status_auth_fail:
    /* SRTCP whose E flag says "not encrypted" under a policy that encrypts: libsrtp
     * refuses before checking the tag. Not a packet our peer sent. */
    case srtp_err_status_cant_check:
        s->stats.auth_failures++;
        return MCU_ERR_AUTH;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
        s->stats.replay_failures++;
        return MCU_ERR_REPLAY;
    default:
        break;
    }
    s->stats.other_failures++;
    return MCU_ERR_SRTP;
}

void mcu_srtp_forget_ssrc(mcu_srtp_t *s, uint32_t ssrc)
{
    if (!s)
        return;
    /* libsrtp keys its streams by the SSRC as it appears in the packet. */
    if (srtp_remove_stream(s->ctx, htonl(ssrc)) == srtp_err_status_ok)
        s->stats.streams_removed++;
}

const mcu_srtp_stats_t *mcu_srtp_stats(const mcu_srtp_t *s)
{
    return &s->stats;
}
