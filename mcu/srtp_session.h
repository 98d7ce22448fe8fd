/*
 * srtp_session: SRTP and SRTCP (RFC 3711) protection over libsrtp2, with SDES keys
 * (RFC 4568 "a=crypto" key-params) parsed, generated and formatted here.
 *
 * One mcu_srtp_t is one libsrtp session with one master key, used in one direction:
 *   INBOUND   unprotects SRTP and SRTCP from any SSRC sent with the key. libsrtp keeps
 *             a template and creates a per-SSRC stream (replay window, rollover counter)
 *             only once a packet of that SSRC has authenticated, so forged packets
 *             cannot make it allocate anything.
 *   OUTBOUND  protects SRTP and SRTCP for any SSRC; a per-SSRC stream is created on the
 *             first packet of that SSRC. Protecting the same sequence number again is
 *             allowed (libsrtp's allow_repeat_tx) because NACK repair (mcu/tx_stream.h)
 *             resends the stored packet: the same SSRC, sequence number and bytes, so
 *             the same keystream encrypts the same plaintext and nothing leaks. A
 *             different payload under a reused sequence number would be a two-time pad:
 *             callers must only repeat a sequence number with the identical packet.
 * A key must never protect two packets with the same SSRC and index in different
 * sessions either (two receivers, or both directions): use one key per direction per
 * peer.
 *
 * Suites: AES_CM_128_HMAC_SHA1_80 and _32 (RFC 4568 6.2.1/6.2.2; for _32 only SRTP has
 * the short tag, SRTCP keeps the 80-bit one) and AEAD_AES_128_GCM (RFC 7714, 16-byte
 * tag for both).
 *
 * Replay protection: SRTP uses a window of MCU_SRTP_REPLAY_WINDOW packets per SSRC in
 * both directions (libsrtp's sender also refuses an index older than its window, which
 * would refuse a NACK retransmission of an older packet). SRTCP's window is libsrtp's
 * fixed 128 packets (it is not configurable), plenty for a few RTCP packets a second.
 *
 * Bounds: packets are at most INT_MAX - MCU_SRTP_MAX_OVERHEAD bytes (libsrtp counts
 * lengths in int); protect needs MCU_SRTP_MAX_OVERHEAD writable bytes after the packet.
 * Per-SSRC state grows with each SSRC seen (a few hundred bytes each): the owner removes
 * SSRCs it stops tracking with mcu_srtp_forget_ssrc. Packets should start on a 4-byte
 * boundary (libsrtp reads them as 32-bit words).
 *
 * Ownership and threads: the session owns its libsrtp context and keeps no copy of the
 * master key (the copy handed to libsrtp is wiped as soon as libsrtp has derived its
 * session keys). Key structs hold key material: callers wipe them (explicit_bzero) when
 * done. Packets are only touched during a call. A session is used by one thread at a
 * time; different sessions may be used from different threads at once. libsrtp is
 * initialised once per process, on the first mcu_srtp_create, with the AES-ICM and
 * HMAC-SHA1 of mcu/srtp_crypto.h in place of its own.
 */
#ifndef MCU_SRTP_SESSION_H
#define MCU_SRTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <srtp2/srtp.h>

/* Largest master key + salt libsrtp takes (AES-256 key 32 + salt 14). The suites below
 * use at most 30; the array is sized for libsrtp's largest so a key struct never needs
 * to change if a 256-bit suite is added. */
#define MCU_SRTP_MAX_KEY_LEN 46

/* Inbound (and outbound) SRTP replay window, in packets. The fastest stream is ~830
 * packets/s (8 Mbit/s video in 1200-byte payloads, mcu/tx_stream.h) and a NACK
 * retransmission may arrive up to MCU_TX_HISTORY_MS = 1000 ms after the original was
 * sent, so up to ~830 newer packets may have been accepted before it; libsrtp's default
 * of 128 would refuse it as too old. 1024 also matches MCU_TX_HISTORY_PACKETS, so a
 * sender never refuses to protect a packet still in its history. Costs 128 bytes of
 * bitmap per SSRC; libsrtp accepts 64..32767. */
#define MCU_SRTP_REPLAY_WINDOW 1024

/* Most bytes protect may add: authentication tag and MKI (libsrtp's trailer bound) and,
 * for SRTCP, the 4-byte E flag + SRTCP index. */
#define MCU_SRTP_MAX_OVERHEAD (SRTP_MAX_TRAILER_LEN + 4)

/* Longest "inline:<base64>" that mcu_srtp_key_format writes, NUL included:
 * 7 + base64 of MCU_SRTP_MAX_KEY_LEN bytes (64 characters) + 1. */
#define MCU_SRTP_KEY_PARAMS_MAX (7 + 4 * ((MCU_SRTP_MAX_KEY_LEN + 2) / 3) + 1)

typedef enum mcu_srtp_suite {
    MCU_SRTP_AES_CM_128_HMAC_SHA1_80,   /* RFC 4568 default; key+salt 30 bytes */
    MCU_SRTP_AES_CM_128_HMAC_SHA1_32,   /* 30 bytes; 32-bit RTP tag, 80-bit SRTCP tag (RFC 4568 6.2) */
    MCU_SRTP_AEAD_AES_128_GCM,          /* RFC 7714; key 16 + salt 12 = 28 bytes, 16-byte tag */
} mcu_srtp_suite_t;

/* Number of suites (valid values are 0 .. MCU_SRTP_SUITE_COUNT - 1). */
#define MCU_SRTP_SUITE_COUNT 3

/* "AES_CM_128_HMAC_SHA1_80" etc (the SDP a=crypto names). NULL for an invalid value. */
const char *mcu_srtp_suite_name(mcu_srtp_suite_t suite);
/* MCU_OK, or MCU_ERR_UNSUPPORTED for any other name (case-sensitive, as RFC 4568). */
int mcu_srtp_suite_parse(const char *name, mcu_srtp_suite_t *out);
/* Master key + salt bytes of the suite: 30, 30, 28 (0 for an invalid value). */
size_t mcu_srtp_key_len(mcu_srtp_suite_t suite);
/* Authentication tag bytes protect appends: SRTP 10, 4, 16; SRTCP 10, 10, 16 (SRTCP
 * also adds the 4-byte E flag + index). 0 for an invalid value. */
size_t mcu_srtp_tag_len(mcu_srtp_suite_t suite, bool rtcp);

typedef struct mcu_srtp_key {
    mcu_srtp_suite_t suite;
    uint8_t bytes[MCU_SRTP_MAX_KEY_LEN];   /* master key || master salt */
    size_t len;
} mcu_srtp_key_t;

/* Parses RFC 4568 key-params: "inline:<base64 key||salt>" ("inline" in any case, as
 * SDP's ABNF) or the bare base64. The base64 is RFC 4648 with its '=' padding (which may
 * be left out), nothing else: no whitespace, no trailing junk, no non-zero bits in the
 * unused low bits of the last character. The optional "|lifetime" and "|MKI:length"
 * parts, and a second key after ';', are refused (MCU_ERR_UNSUPPORTED, *why says so), as
 * are bad base64 and a decoded length other than mcu_srtp_key_len(suite)
 * (MCU_ERR_INVAL). *why (may be NULL) gets a static English sentence on error. *out is
 * zeroed on error. */
int mcu_srtp_key_parse(mcu_srtp_suite_t suite, const char *key_params, mcu_srtp_key_t *out,
                       const char **why);
/* A fresh random key for the suite from getrandom(2). MCU_ERR_IO if that fails,
 * MCU_ERR_INVAL for an invalid suite. */
int mcu_srtp_key_generate(mcu_srtp_suite_t suite, mcu_srtp_key_t *out);
/* Writes "inline:<base64>" with a NUL into out[0,cap); returns the length without the NUL,
 * or MCU_ERR_NOSPACE (out gets "" when cap > 0). MCU_SRTP_KEY_PARAMS_MAX always fits.
 * MCU_ERR_INVAL for a key whose length does not match its suite. */
int mcu_srtp_key_format(const mcu_srtp_key_t *key, char *out, size_t cap);

typedef enum mcu_srtp_dir { MCU_SRTP_INBOUND, MCU_SRTP_OUTBOUND } mcu_srtp_dir_t;

typedef struct mcu_srtp_stats {
    uint64_t protected_rtp, protected_rtcp;
    uint64_t unprotected_rtp, unprotected_rtcp;
    uint64_t auth_failures;     /* tag did not verify: forged, corrupted or wrong key */
    uint64_t replay_failures;   /* index already seen or older than the window */
    uint64_t other_failures;    /* truncated, bad header, key expired, libsrtp errors */
    uint64_t soft_limit_events; /* a stream reached the key's soft limit (libsrtp event) */
    uint64_t hard_limit_events; /* ... the hard limit: that stream's key is used up */
    uint64_t streams_removed;   /* mcu_srtp_forget_ssrc calls that removed a stream */
    uint64_t truncated;         /* of other_failures: shorter than header + tag */
    uint64_t index_limit_events; /* a stream reached libsrtp's packet index limit */
} mcu_srtp_stats_t;

typedef struct mcu_srtp mcu_srtp_t;

/* One libsrtp session with one key (copied into libsrtp's derived keys, not kept).
 * INBOUND: ssrc_any_inbound template, replay window MCU_SRTP_REPLAY_WINDOW. OUTBOUND:
 * ssrc_any_outbound, allow_repeat_tx = 1, the same window. MCU_ERR_INVAL for a bad key
 * or direction, MCU_ERR_NOMEM, MCU_ERR_SRTP when libsrtp fails to initialise or to
 * create the session. *out is NULL on error. */
int mcu_srtp_create(const mcu_srtp_key_t *key, mcu_srtp_dir_t dir, mcu_srtp_t **out);
/* Frees the session and sets *s = NULL. NULL and *s == NULL are fine. */
void mcu_srtp_destroy(mcu_srtp_t **s);

/* Protects in place (OUTBOUND sessions). *len: plaintext length in, protected length
 * out. cap: bytes writable at pkt, must be >= *len + MCU_SRTP_MAX_OVERHEAD (else
 * MCU_ERR_NOSPACE, nothing done and nothing counted). RTP needs at least a full header
 * (fixed, CSRCs, extension) and RTCP at least 8 bytes. MCU_OK or MCU_ERR_SRTP (key
 * expired, bad packet, index too old for the window); MCU_ERR_STATE on an INBOUND
 * session; MCU_ERR_TOO_BIG above the int bound; MCU_ERR_INVAL for NULL arguments. On
 * failure the packet's bytes are unspecified. */
int mcu_srtp_protect(mcu_srtp_t *s, uint8_t *pkt, size_t *len, size_t cap, bool rtcp);
/* Unprotects in place (INBOUND sessions). MCU_OK (*len updated), MCU_ERR_AUTH,
 * MCU_ERR_REPLAY, MCU_ERR_TRUNCATED (shorter than a header + tag), or MCU_ERR_SRTP;
 * MCU_ERR_STATE on an OUTBOUND session; MCU_ERR_TOO_BIG above the int bound;
 * MCU_ERR_INVAL for NULL arguments. Every failure is counted in the stats and never
 * changes the session's state for other packets (no stream is created, no replay or
 * rollover state moves); the packet's bytes are unspecified after a failure. An SRTCP
 * packet without the E flag (sent unencrypted) is MCU_ERR_AUTH: the suites here always
 * encrypt SRTCP, and libsrtp refuses to check such a packet. */
int mcu_srtp_unprotect(mcu_srtp_t *s, uint8_t *pkt, size_t *len, bool rtcp);
/* Frees libsrtp's stream for an SSRC the caller no longer tracks (bounded state per
 * site). Its replay and rollover state goes with it: a later packet of that SSRC starts
 * a new stream from the template, so old packets of a forgotten SSRC authenticate
 * again; only forget SSRCs whose packets the caller drops anyway. No-op when the SSRC
 * has no stream. */
void mcu_srtp_forget_ssrc(mcu_srtp_t *s, uint32_t ssrc);
const mcu_srtp_stats_t *mcu_srtp_stats(const mcu_srtp_t *s);

#endif
