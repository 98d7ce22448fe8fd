/*
 * error: the project's one list of error codes, their messages, and per-reason
 * drop counters.
 *
 * Every function that can fail returns 0 (MCU_OK) on success or one of the negative
 * codes below. Errors from FFmpeg, libsrtp, libopus and libuv are converted to these
 * codes at the edge of the module that calls them.
 */
#ifndef MCU_ERROR_H
#define MCU_ERROR_H

#include <stddef.h>
#include <stdint.h>

/* X(name, value, message). Values are stable: they index the drop counters. */
#define MCU_ERROR_LIST(X)                                                          \
    X(MCU_OK, 0, "success")                                                        \
    X(MCU_ERR_INVAL, -1, "invalid argument")                                       \
    X(MCU_ERR_NOMEM, -2, "out of memory")                                          \
    X(MCU_ERR_TRUNCATED, -3, "packet shorter than its headers say")                \
    X(MCU_ERR_VERSION, -4, "unsupported RTP/RTCP version")                         \
    X(MCU_ERR_PADDING, -5, "padding longer than the payload")                      \
    X(MCU_ERR_EXTENSION, -6, "malformed header extension")                         \
    X(MCU_ERR_MALFORMED, -7, "malformed packet")                                   \
    X(MCU_ERR_TOO_BIG, -8, "larger than the configured bound")                     \
    X(MCU_ERR_UNSUPPORTED, -9, "unsupported payload or packet type")               \
    X(MCU_ERR_DUPLICATE, -10, "duplicate packet")                                  \
    X(MCU_ERR_LATE, -11, "packet arrived after its frame was played out")          \
    X(MCU_ERR_OVERFLOW, -12, "buffer full: flushed, keyframe needed")              \
    X(MCU_ERR_AGAIN, -13, "nothing available yet")                                 \
    X(MCU_ERR_NOSPACE, -14, "output buffer too small")                             \
    X(MCU_ERR_FRAGMENT, -15, "fragment out of order or without a start")           \
    X(MCU_ERR_PAYLOAD_TYPE, -16, "unexpected payload type")                        \
    X(MCU_ERR_SSRC, -17, "unexpected SSRC")                                        \
    X(MCU_ERR_PROBATION, -18, "source not yet validated (RFC 3550 probation)")     \
    X(MCU_ERR_EMPTY, -19, "empty payload")                                         \
    X(MCU_ERR_CONFIG, -20, "invalid configuration")                                \
    X(MCU_ERR_IO, -21, "input/output error")                                       \
    X(MCU_ERR_CODEC, -22, "codec error")                                           \
    X(MCU_ERR_SRTP, -23, "SRTP error")                                             \
    X(MCU_ERR_AUTH, -24, "authentication failed")                                  \
    X(MCU_ERR_REPLAY, -25, "replayed packet")                                      \
    X(MCU_ERR_SOURCE, -26, "packet from an unexpected source address")             \
    X(MCU_ERR_NOTFOUND, -27, "not found")                                          \
    X(MCU_ERR_BUSY, -28, "resource busy")                                          \
    X(MCU_ERR_STATE, -29, "operation not valid in this state")                     \
    X(MCU_ERR_SEQ_JUMP, -30, "sequence number jump (source restarted?)")              \
    X(MCU_ERR_WRONG_CODEC, -31, "payload of another codec than configured")

enum mcu_error {
#define MCU__ERR_ENUM(name, value, msg) name = (value),
    MCU_ERROR_LIST(MCU__ERR_ENUM)
#undef MCU__ERR_ENUM
    MCU_ERR__LAST = -31
};

/* Number of distinct codes, MCU_OK included: sizes the drop counter array. */
#define MCU_ERR__COUNT (1 - MCU_ERR__LAST)

/* Message for a code; never NULL ("unknown error" for codes outside the list). */
const char *mcu_strerror(int err);

/* Symbolic name ("MCU_ERR_TRUNCATED"); never NULL. */
const char *mcu_strerror_name(int err);

/* Counts of dropped input by reason. Zero-initialise; no resources to free. */
typedef struct mcu_drop_stats {
    uint64_t by_reason[MCU_ERR__COUNT]; /* index: -err */
    uint64_t total;
} mcu_drop_stats_t;

/* Counts one drop for `err` (< 0); codes outside the list count as MCU_ERR_MALFORMED. */
void mcu_drop_stats_count(mcu_drop_stats_t *stats, int err);

/* Drops counted for one reason. */
uint64_t mcu_drop_stats_get(const mcu_drop_stats_t *stats, int err);

#endif
