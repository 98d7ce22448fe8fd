/* Logger: line format, level filtering, truncation, the flood limiter, and whole lines
 * from concurrent threads. stderr is captured through a real pipe (dup2), drained by a
 * reader thread so writers never block on a full pipe. */
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mcu/error.h"
#include "mcu/log.h"
#include "test_util.h"

/* "2025-03-14T09:26:53.589Z " */
#define STAMP_LEN 25

/* ------------------------------------------------------------ stderr capture */

typedef struct capture {
    int saved_fd;
    int read_fd;
    pthread_t reader;
    char *buf;
    size_t len, cap;
} capture_t;

static void *drain(void *arg)
{
    capture_t *c = arg;
    for (;;) {
        if (c->cap - c->len < 4096) {
            c->cap = c->cap ? c->cap * 2 : 65536;
            c->buf = realloc(c->buf, c->cap);
            if (!c->buf)
                abort();
        }
        ssize_t n = read(c->read_fd, c->buf + c->len, c->cap - c->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        c->len += (size_t)n;
    }
    c->buf[c->len] = '\0';
    return NULL;
}

/* No cmocka assertions between begin and end: a failure would leave stderr redirected. */
static void capture_begin(capture_t *c)
{
    int fds[2];
    memset(c, 0, sizeof *c);
    assert_int_equal(pipe(fds), 0);
    c->saved_fd = dup(STDERR_FILENO);
    assert_true(c->saved_fd >= 0);
    assert_int_equal(dup2(fds[1], STDERR_FILENO), STDERR_FILENO);
    close(fds[1]);
    c->read_fd = fds[0];
    assert_int_equal(pthread_create(&c->reader, NULL, drain, c), 0);
}

/* Restores stderr (closing the pipe's last write end, so the reader sees EOF) and
 * returns what was written, NUL-terminated. Caller frees. */
static char *capture_end(capture_t *c, size_t *len)
{
    dup2(c->saved_fd, STDERR_FILENO);
    close(c->saved_fd);
    pthread_join(c->reader, NULL);
    close(c->read_fd);
    *len = c->len;
    return c->buf;
}

/* Splits captured text into lines (in place); every line must end in "\n". */
static size_t split_lines(char *text, size_t len, char **lines, size_t max)
{
    size_t n = 0;
    char *p = text;
    assert_true(len == 0 || text[len - 1] == '\n');
    while (p < text + len) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        assert_non_null(nl);
        *nl = '\0';
        assert_true(n < max);
        lines[n++] = p;
        p = nl + 1;
    }
    return n;
}

/* The line starts with an ISO-8601 UTC time with milliseconds, between `from` and `to`
 * (seconds; the stamp is truncated, `to` taken after the line was written). */
static void assert_stamp(const char *line, time_t from, time_t to)
{
    static const char *pattern =
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z ";
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&re, line, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fail_msg("no timestamp: '%s'", line);
    struct tm tm = {0};
    assert_int_equal(sscanf(line, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec), 6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t < from - 1 || t > to)
        fail_msg("stamp of '%s' outside [%lld, %lld]", line, (long long)from - 1, (long long)to);
}

/* ------------------------------------------------------------ tests */

static void format_and_object(void **state)
{
    capture_t c;
    size_t len;
    char *lines[8];
    assert_int_equal(mcu_log_set_level(MCU_LOG_DEBUG), MCU_OK);
    time_t from = time(NULL);
    capture_begin(&c);
    errno = EBADF;
    mcu_log(MCU_LOG_WARN, "site yen-thang", "%d packets lost", 12);
    int after = errno;
    mcu_log(MCU_LOG_INFO, NULL, "listening on %u..%u", 20000u, 20071u);
    mcu_log(MCU_LOG_DEBUG, "", "no object");
    mcu_log(MCU_LOG_ERROR, "site Yên Thắng", "cname \"a\r\nb\x01\" rejected");
    MCU_LOG_INFO("profile main", "encoder at %d kbps", 900);
    char *out = capture_end(&c, &len);
    time_t to = time(NULL);

    assert_int_equal(after, EBADF);
    size_t n = split_lines(out, len, lines, 8);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++)
        assert_stamp(lines[i], from, to);
    assert_string_equal(lines[0] + STAMP_LEN, "WARN  [site yen-thang] 12 packets lost");
    assert_string_equal(lines[1] + STAMP_LEN, "INFO  listening on 20000..20071");
    assert_string_equal(lines[2] + STAMP_LEN, "DEBUG no object");
    /* CR, LF and other controls become '?': one call, one line. */
    assert_string_equal(lines[3] + STAMP_LEN, "ERROR [site Yên Thắng] cname \"a??b?\" rejected");
    assert_string_equal(lines[4] + STAMP_LEN, "INFO  [profile main] encoder at 900 kbps");
    free(out);
}

static int evaluations;

static int counted(int v)
{
    evaluations++;
    return v;
}

static void level_filtering(void **state)
{
    capture_t c;
    size_t len;
    char *lines[8];
    assert_int_equal(mcu_log_set_level(MCU_LOG_WARN), MCU_OK);
    assert_int_equal(mcu_log_get_level(), MCU_LOG_WARN);
    assert_true(mcu_log_enabled(MCU_LOG_ERROR));
    assert_true(mcu_log_enabled(MCU_LOG_WARN));
    assert_false(mcu_log_enabled(MCU_LOG_INFO));
    assert_false(mcu_log_enabled((mcu_log_level_t)-1));
    assert_int_equal(mcu_log_set_level((mcu_log_level_t)4), MCU_ERR_INVAL);
    assert_int_equal(mcu_log_set_level((mcu_log_level_t)-1), MCU_ERR_INVAL);
    assert_int_equal(mcu_log_get_level(), MCU_LOG_WARN);

    evaluations = 0;
    capture_begin(&c);
    mcu_log(MCU_LOG_DEBUG, "site a", "debug %d", 1);
    mcu_log(MCU_LOG_INFO, "site a", "info %d", 2);
    mcu_log(MCU_LOG_WARN, "site a", "warn %d", 3);
    mcu_log(MCU_LOG_ERROR, "site a", "error %d", 4);
    MCU_LOG_DEBUG("site b", "debug %d", counted(5));
    MCU_LOG_INFO("site b", "info %d", counted(6));
    MCU_LOG_WARN("site b", "warn %d", counted(7));
    MCU_LOG_ERROR("site b", "error %d", counted(8));
    char *out = capture_end(&c, &len);

    assert_int_equal(evaluations, 2); /* disabled levels never evaluate arguments */
    size_t n = split_lines(out, len, lines, 8);
    assert_int_equal(n, 4);
    assert_string_equal(lines[0] + STAMP_LEN, "WARN  [site a] warn 3");
    assert_string_equal(lines[1] + STAMP_LEN, "ERROR [site a] error 4");
    assert_string_equal(lines[2] + STAMP_LEN, "WARN  [site b] warn 7");
    assert_string_equal(lines[3] + STAMP_LEN, "ERROR [site b] error 8");
    free(out);
    mcu_log_set_level(MCU_LOG_DEFAULT_LEVEL);
}

/* Builds a message of `count` copies of `unit`. Caller frees. */
static char *repeat(const char *unit, size_t count)
{
    size_t ul = strlen(unit);
    char *s = malloc(ul * count + 1);
    assert_non_null(s);
    for (size_t i = 0; i < count; i++)
        memcpy(s + i * ul, unit, ul);
    s[ul * count] = '\0';
    return s;
}

static void truncation(void **state)
{
    static const char ell[] = "\xE2\x80\xA6";
    capture_t c;
    size_t len;
    char *lines[8];
    char *ascii = repeat("x", 5000);
    char *utf8 = repeat("ô", 2500); /* 2 bytes each: a cut can fall inside one */
    mcu_log_limit_t lim = {0};
    mcu_log_set_level(MCU_LOG_INFO);

    capture_begin(&c);
    mcu_log(MCU_LOG_INFO, "site a", "%s", ascii);
    mcu_log(MCU_LOG_INFO, "site a", "%s", utf8);
    mcu_log(MCU_LOG_INFO, "site a", "%s!", utf8 + 1); /* cut lands the other way */
    mcu_log_limited(&lim, 0, MCU_LOG_INFO, "site a", "%s", ascii);
    mcu_log_limited(&lim, 1, MCU_LOG_INFO, "site a", "%s", ascii);
    mcu_log_limited(&lim, MCU_LOG_LIMIT_INTERVAL_US, MCU_LOG_INFO, "site a", "%s", ascii);
    char *out = capture_end(&c, &len);

    size_t n = split_lines(out, len, lines, 8);
    assert_int_equal(n, 5);
    const char *head = "INFO  [site a] ";
    for (size_t i = 0; i < n; i++) {
        size_t ll = strlen(lines[i]) + 1; /* with its "\n" */
        assert_true(ll <= MCU_LOG_LINE_MAX);
        assert_true(ll > MCU_LOG_LINE_MAX - 4);
        assert_memory_equal(lines[i] + STAMP_LEN, head, strlen(head));
    }
    /* ASCII fills the line exactly. */
    for (size_t i = 0; i < n; i += 3) {
        assert_int_equal(strlen(lines[i]) + 1, MCU_LOG_LINE_MAX);
        assert_string_equal(lines[i] + strlen(lines[i]) - 4, "x\xE2\x80\xA6");
    }
    /* UTF-8 is cut between characters: whole "ô"s, then the ellipsis. */
    for (size_t i = 1; i <= 2; i++) {
        const char *body = lines[i] + STAMP_LEN + strlen(head);
        size_t bl = strlen(body) - strlen(ell);
        assert_string_equal(body + bl, ell);
        size_t skip = i == 2; /* the second one starts with a lone continuation byte */
        assert_int_equal((bl - skip) % 2, 0);
        for (size_t k = skip; k < bl; k += 2)
            assert_memory_equal(body + k, "ô", 2);
    }
    /* The suppressed count survives the cut: it goes after the ellipsis. */
    const char *tail = "x\xE2\x80\xA6 (1 similar suppressed)";
    assert_string_equal(lines[4] + strlen(lines[4]) - strlen(tail), tail);
    free(out);
    free(ascii);
    free(utf8);
}

static void limiter(void **state)
{
    capture_t c;
    size_t len;
    char *lines[8];
    mcu_log_limit_t lim = {0};
    int written = 0;
    const int64_t t0 = 5000000;
    mcu_log_set_level(MCU_LOG_INFO);

    capture_begin(&c);
    for (int i = 0; i < 1000; i++) /* 1000 calls spread over 0.999 s */
        written += mcu_log_limited(&lim, t0 + i * 999, MCU_LOG_WARN, "site yen-mo",
                                   "RTP from unexpected source %d", i);
    int first_burst = written;
    /* The interval has passed: this one gets through and reports the 999. */
    written += mcu_log_limited(&lim, t0 + MCU_LOG_LIMIT_INTERVAL_US, MCU_LOG_WARN,
                               "site yen-mo", "RTP from unexpected source %d", 1000);
    /* Nothing held back since: no suffix. */
    written += mcu_log_limited(&lim, t0 + 5 * MCU_LOG_LIMIT_INTERVAL_US / 2, MCU_LOG_WARN,
                               "site yen-mo", "RTP from unexpected source %d", 1001);
    /* A disabled level neither writes nor counts. */
    bool debug_written = mcu_log_limited(&lim, t0 + 10 * MCU_LOG_LIMIT_INTERVAL_US,
                                         MCU_LOG_DEBUG, "site yen-mo", "debug");
    char *out = capture_end(&c, &len);

    assert_int_equal(first_burst, 1);
    assert_int_equal(written, 3);
    assert_false(debug_written);
    assert_int_equal(lim.suppressed, 0);
    size_t n = split_lines(out, len, lines, 8);
    assert_int_equal(n, 3);
    assert_string_equal(lines[0] + STAMP_LEN,
                        "WARN  [site yen-mo] RTP from unexpected source 0");
    assert_string_equal(lines[1] + STAMP_LEN,
                        "WARN  [site yen-mo] RTP from unexpected source 1000 "
                        "(999 similar suppressed)");
    assert_string_equal(lines[2] + STAMP_LEN,
                        "WARN  [site yen-mo] RTP from unexpected source 1001");
    free(out);
}

/* Threads and lines per thread: enough writes to collide often on 2 cores, still
 * well under a second. */
#define THREADS 4
#define LINES_PER_THREAD 500
/* Payload lengths cycle past MCU_LOG_LINE_MAX so some lines are cut mid-payload. */
#define PAYLOAD_MAX 1500

static void *log_worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    char payload[PAYLOAD_MAX + 1];
    char object[32];
    snprintf(object, sizeof object, "worker %d", t);
    for (int k = 0; k < LINES_PER_THREAD; k++) {
        size_t pl = (size_t)(k * 37) % PAYLOAD_MAX;
        memset(payload, 'a' + t, pl);
        payload[pl] = '\0';
        mcu_log(MCU_LOG_INFO, object, "thread %d line %d %s", t, k, payload);
    }
    return NULL;
}

static void concurrent_whole_lines(void **state)
{
    capture_t c;
    size_t len;
    static char *lines[THREADS * LINES_PER_THREAD + 1];
    bool seen[THREADS][LINES_PER_THREAD] = {{false}};
    pthread_t th[THREADS];
    mcu_log_set_level(MCU_LOG_INFO);

    time_t from = time(NULL);
    capture_begin(&c);
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, log_worker, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    char *out = capture_end(&c, &len);
    time_t to = time(NULL);

    size_t n = split_lines(out, len, lines, THREADS * LINES_PER_THREAD + 1);
    assert_int_equal(n, THREADS * LINES_PER_THREAD);
    for (size_t i = 0; i < n; i++) {
        const char *line = lines[i];
        int t, t2, k, off = 0;
        assert_stamp(line, from, to);
        if (sscanf(line + STAMP_LEN, "INFO  [worker %d] thread %d line %d %n", &t, &t2, &k,
                   &off) != 3 ||
            off == 0 || t != t2 || t < 0 || t >= THREADS || k < 0 || k >= LINES_PER_THREAD)
            fail_msg("mangled line %zu: '%.80s'", i, line);
        assert_false(seen[t][k]);
        seen[t][k] = true;
        /* The payload is this thread's letter only, whole or cut with the ellipsis. */
        const char *p = line + STAMP_LEN + off;
        size_t pl = strspn(p, (char[]){(char)('a' + t), '\0'});
        size_t want = (size_t)(k * 37) % PAYLOAD_MAX;
        if (p[pl] == '\0')
            assert_int_equal(pl, want);
        else if (strcmp(p + pl, "\xE2\x80\xA6") != 0 || pl >= want)
            fail_msg("line %zu: payload of thread %d mixed with something else", i, t);
    }
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_and_object), cmocka_unit_test(level_filtering),
        cmocka_unit_test(truncation),        cmocka_unit_test(limiter),
        cmocka_unit_test(concurrent_whole_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
