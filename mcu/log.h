/*
 * log: the daemon's logger. One line per call on stderr:
 *
 *   2025-03-14T09:26:53.589Z WARN  [site yen-thang] 12 packets lost
 *   2025-03-14T09:26:53.601Z INFO  listening on 20000..20071
 *
 * ISO-8601 UTC time with milliseconds, the level (padded to 5 so messages line up), the
 * object the line speaks of in brackets (DESIGN.md: "logs carry the object they speak
 * of"; left out when NULL or empty), then the message.
 *
 * Thread-safe without a lock: each line is formatted into a stack buffer of
 * MCU_LOG_LINE_MAX bytes and handed to the kernel with one write(2), so lines from the
 * loop thread and the workers never interleave (on a pipe this is POSIX's PIPE_BUF
 * guarantee; on a file or terminal Linux serialises writes to one open file). Longer
 * lines are cut at a UTF-8 character boundary and end in "…". Control characters in the
 * object and message (a CR or LF from a peer's CNAME, say) become '?', so one call is
 * always exactly one line.
 *
 * Flood control: a mcu_log_limit_t, embedded by the caller next to what it counts (one
 * per site per reason: "site X: RTP from unexpected source"), lets through at most one
 * line per MCU_LOG_LIMIT_INTERVAL_US; the next line that gets through ends with
 * "(N similar suppressed)".
 *
 * OWNERSHIP: nothing is allocated. `object` and the format arguments are only read
 * during the call. errno is preserved across every call.
 */
#ifndef MCU_LOG_H
#define MCU_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h" /* mcu_log_level_t */

/* Longest line, "\n" included. 1 KiB holds a timestamp, an object and any message the
 * daemon composes with room to spare, stays cheap on a worker's stack, and is within
 * Linux's PIPE_BUF (4096), so a write to a supervisor's pipe is atomic too (log.c
 * asserts this at compile time). */
#define MCU_LOG_LINE_MAX 1024

/* A limiter lets one line through per second: a human tailing the log still sees every
 * kind of trouble at once, and 64 sites each flooding with a few reasons stay at a few
 * hundred lines a second at most. */
#define MCU_LOG_LIMIT_INTERVAL_US 1000000

/* Level the daemon starts at (before the config sets one). */
#define MCU_LOG_DEFAULT_LEVEL MCU_LOG_INFO

/* Flood limiter. Zero-initialise (= {0} or memset); no resources to free. It may be
 * shared between threads: its fields are atomics. */
typedef struct mcu_log_limit {
    _Atomic int64_t next_us;     /* earliest time the next line may go out */
    _Atomic uint32_t suppressed; /* lines held back since the last one */
} mcu_log_limit_t;

/* Lines above `level` are dropped. MCU_ERR_INVAL (level unchanged) when out of range. */
int mcu_log_set_level(mcu_log_level_t level);
mcu_log_level_t mcu_log_get_level(void);

/* True when a line at `level` would be written: lets callers skip costly preparation. */
bool mcu_log_enabled(mcu_log_level_t level);

/* Writes one line at `level` about `object` ("site yen-thang", "profile main",
 * "receiver 3"; NULL or "" for the daemon itself). printf-style format. */
void mcu_log(mcu_log_level_t level, const char *object, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As mcu_log, at most once per MCU_LOG_LIMIT_INTERVAL_US per limiter. `now_us` is a
 * monotonic time in microseconds, >= 0 (the loop's clock). The line that follows
 * suppressed ones ends with "(N similar suppressed)". Calls at a disabled level neither
 * write nor count. Returns true when a line was written. */
bool mcu_log_limited(mcu_log_limit_t *lim, int64_t now_us, mcu_log_level_t level,
                     const char *object, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Shorthands that skip evaluating their arguments when the level is disabled:
 *   MCU_LOG_WARN(site->label, "%u packets lost", n);
 * They share their names with the mcu_log_level_t constants on purpose: a function-like
 * macro only expands when followed by '(', so MCU_LOG_WARN alone is still the level. */
#define MCU__LOG_AT(level, object, ...)                                                \
    do {                                                                               \
        if (mcu_log_enabled(level))                                                    \
            mcu_log((level), (object), __VA_ARGS__);                                   \
    } while (0)
#define MCU_LOG_ERROR(object, ...) MCU__LOG_AT(MCU_LOG_ERROR, object, __VA_ARGS__)
#define MCU_LOG_WARN(object, ...) MCU__LOG_AT(MCU_LOG_WARN, object, __VA_ARGS__)
#define MCU_LOG_INFO(object, ...) MCU__LOG_AT(MCU_LOG_INFO, object, __VA_ARGS__)
#define MCU_LOG_DEBUG(object, ...) MCU__LOG_AT(MCU_LOG_DEBUG, object, __VA_ARGS__)

#endif
