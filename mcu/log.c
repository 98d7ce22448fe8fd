#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

_Static_assert(MCU_LOG_LINE_MAX <= PIPE_BUF, "a log line must be one atomic pipe write");

/* U+2026 HORIZONTAL ELLIPSIS in UTF-8: marks a line cut at MCU_LOG_LINE_MAX. */
#define ELLIPSIS "\xE2\x80\xA6"
#define ELLIPSIS_LEN (sizeof ELLIPSIS - 1)
/* Room for " (4294967295 similar suppressed)". */
#define SUFFIX_MAX 48

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

static _Atomic int current_level = MCU_LOG_DEFAULT_LEVEL;

int mcu_log_set_level(mcu_log_level_t level)
{
    if ((int)level < MCU_LOG_ERROR || (int)level > MCU_LOG_DEBUG)
        return MCU_ERR_INVAL;
    atomic_store_explicit(&current_level, (int)level, memory_order_relaxed);
    return MCU_OK;
}

mcu_log_level_t mcu_log_get_level(void)
{
    return (mcu_log_level_t)atomic_load_explicit(&current_level, memory_order_relaxed);
}

bool mcu_log_enabled(mcu_log_level_t level)
{
    /* Levels outside the enum are a caller's bug: dropped, never indexed. */
    return (int)level >= MCU_LOG_ERROR &&
           (int)level <= atomic_load_explicit(&current_level, memory_order_relaxed);
}

/* A line being built: text in buf[0, len), never more than `limit` bytes of it, which
 * leaves room after the limit for the ellipsis' place, the suffix and "\n". */
typedef struct line {
    char buf[MCU_LOG_LINE_MAX];
    size_t len;
    size_t limit;
    bool cut;
} line_t;

static void line_vadd(line_t *l, const char *fmt, va_list ap)
{
    if (l->cut)
        return;
    size_t room = l->limit - l->len;
    int n = vsnprintf(l->buf + l->len, room + 1, fmt, ap); /* +1: its NUL */
    if (n < 0)
        return;
    if ((size_t)n > room) {
        l->len = l->limit;
        l->cut = true;
    } else {
        l->len += (size_t)n;
    }
}

static void line_add(line_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void line_add(line_t *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line_vadd(l, fmt, ap);
    va_end(ap);
}

/* One write(2) for the whole line; retried only for what a signal interrupted. A full
 * non-blocking stderr loses the line rather than stall a worker. */
static void write_line(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void log_v(mcu_log_level_t level, const char *object, const char *suffix,
                  const char *fmt, va_list ap)
{
    line_t l;
    size_t suffix_len = strlen(suffix);
    l.len = 0;
    l.limit = sizeof l.buf - 1 - suffix_len; /* -1: the "\n" */
    l.cut = false;

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    line_add(&l, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ts.tv_nsec / 1000000), level_names[level]);
    if (object && object[0])
        line_add(&l, "[%s] ", object);
    line_vadd(&l, fmt, ap);

    /* Peers' strings (CNAMEs, names) may carry CR or LF: never let one call make two
     * lines. UTF-8 bytes (>= 0x80) pass untouched. */
    for (size_t i = 0; i < l.len; i++) {
        unsigned char c = (unsigned char)l.buf[i];
        if (c < 0x20 || c == 0x7f)
            l.buf[i] = '?';
    }
    if (l.cut) {
        /* Make room for the ellipsis, then back off to the start of the character the
         * cut falls in, so the line stays valid UTF-8. */
        l.len = l.limit - ELLIPSIS_LEN;
        while (l.len > 0 && ((unsigned char)l.buf[l.len] & 0xC0) == 0x80)
            l.len--;
        memcpy(l.buf + l.len, ELLIPSIS, ELLIPSIS_LEN);
        l.len += ELLIPSIS_LEN;
    }
    memcpy(l.buf + l.len, suffix, suffix_len);
    l.len += suffix_len;
    l.buf[l.len++] = '\n';
    write_line(l.buf, l.len);
}

void mcu_log(mcu_log_level_t level, const char *object, const char *fmt, ...)
{
    if (!mcu_log_enabled(level))
        return;
    int saved_errno = errno;
    va_list ap;
    va_start(ap, fmt);
    log_v(level, object, "", fmt, ap);
    va_end(ap);
    errno = saved_errno;
}

bool mcu_log_limited(mcu_log_limit_t *lim, int64_t now_us, mcu_log_level_t level,
                     const char *object, const char *fmt, ...)
{
    if (!mcu_log_enabled(level))
        return false;
    /* Whoever moves next_us forward owns this interval's line; everyone else counts. */
    int64_t next = atomic_load_explicit(&lim->next_us, memory_order_relaxed);
    if (now_us < next ||
        !atomic_compare_exchange_strong(&lim->next_us, &next,
                                        now_us + MCU_LOG_LIMIT_INTERVAL_US)) {
        atomic_fetch_add_explicit(&lim->suppressed, 1, memory_order_relaxed);
        return false;
    }
    uint32_t n = atomic_exchange_explicit(&lim->suppressed, 0, memory_order_relaxed);
    char suffix[SUFFIX_MAX] = "";
    if (n > 0)
        snprintf(suffix, sizeof suffix, " (%" PRIu32 " similar suppressed)", n);

    int saved_errno = errno;
    va_list ap;
    va_start(ap, fmt);
    log_v(level, object, suffix, fmt, ap);
    va_end(ap);
    errno = saved_errno;
    return true;
}
