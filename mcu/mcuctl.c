/*
 * mcuctl: the command-line client of the MCU's HTTP control API (API v1: the same routes
 * the control-room page uses). One request per command, except `events`, which follows
 * the server-sent event stream. Standalone: libcurl + jansson only, no project headers.
 *
 *   mcuctl [--url URL] [--token TOKEN | --token-file FILE] [--json] COMMAND [ARGS]
 *
 *   --url URL          default $MCU_URL, else http://127.0.0.1:8080
 *   --token TOKEN      default: --token-file if given, else $MCU_TOKEN, else the first
 *                      line of the token file
 *   --token-file FILE  default $MCU_TOKEN_FILE, else ./mcu-control.token
 *   --json             print the server's JSON instead of the readable form (sdp,
 *                      metrics and a snapshot written to stdout are printed as they are)
 *   -h, --help         this text
 *   Options may come before or after the command; `--` ends them (for a label that
 *   starts with '-'). Prefer $MCU_TOKEN or the token file to --token, which other users
 *   can read in the process list.
 *
 *   status                         conference name, layout, active speaker, settings,
 *                                  then the sites table
 *   sites                          the sites table only: id, state, slots, talking,
 *                                  level, fps, resolution, video loss %, bitrate in and
 *                                  out (kbps), muted, label
 *   site ID                        one site in detail
 *   layout                         the current layout: preset, auto, slot count
 *   layout PRESET|auto             choose a preset (grid1 .. grid25, speaker1+5, ...)
 *   layout --regions "x,y,w,h;..." custom regions, fractions of the canvas (0..1)
 *   layouts                        every preset with its slot count
 *   slot N MODE [SITE]             MODE: site|loudest|rolling|blank|auto;
 *                                  `slot 0 yen-thang` is short for `slot 0 site yen-thang`
 *   slots                          every slot: index, mode, pinned site, who is showing
 *   mute ID [audio|video|both]     default audio
 *   unmute ID [audio|video|both]   default audio
 *   label ID TEXT                  set the tile label ("" restores the configured name)
 *   gain ID VALUE                  audio gain, 0..4 (1 = as sent)
 *   settings [hold_ms=N] [pinned_in_loudest=true|false] [rolling_interval_ms=N]
 *                                  no argument: print them; else change the ones given
 *   keyframe                       ask the encoder for a keyframe now
 *   sdp ID [-o FILE]               the SDP the MCU sends that site, to stdout or FILE
 *   snapshot [ID] [-o FILE] [--width N]
 *                                  no ID: the composite (snapshot.jpg); with ID: that
 *                                  site's latest picture (ID.jpg); -o - writes to stdout
 *   events [--count N]             follow the event stream, one line per event:
 *                                  "TYPE JSON" (--json: {"event","id","data"} per line);
 *                                  stop after N events if given
 *   metrics                        the Prometheus metrics text
 *
 * Exit status: 0 ok; 1 the server answered an error (printed from its JSON error body as
 * "mcuctl: HTTP 404 not_found: <message>") or an answer that cannot be used (too large,
 * not JSON) or saved; 2 usage error (the message says which argument), including no
 * usable token; 3 cannot connect, or the connection failed or closed before the answer
 * (or, for `events`, before --count events).
 *
 * The token is sent only in the Authorization header, never in the URL (URLs end up in
 * logs and shell history).
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- bounds and defaults ------------------------------------------------------------ */

/* Largest answer accepted: far above the biggest legitimate one (the conference JSON of a
 * hundred sites is ~100 KiB; a full-size JPEG of a 1080p canvas is well under 2 MiB), small
 * enough that a runaway or hostile server cannot make us eat the machine's memory. For
 * `events` the same bound applies to one line and to one event's data. */
#define MCUCTL_MAX_BODY ((size_t)16 * 1024 * 1024)
/* First allocation of a response buffer; it doubles from there up to the bound. */
#define MCUCTL_BUF_INITIAL ((size_t)4096)
/* Connecting to a daemon on the LAN takes milliseconds; 5 s means it is not there. */
#define MCUCTL_CONNECT_TIMEOUT_S 5L
/* Every API answer is prepared from in-memory state; 30 s means the daemon is stuck.
 * Not applied to `events`, which stays open for as long as the operator wants. */
#define MCUCTL_REQUEST_TIMEOUT_S 30L
/* `events`: the server writes at least a ": keepalive" comment every 15 s; three missed
 * keepalives means the connection is dead even if TCP has not noticed yet. */
#define MCUCTL_EVENTS_IDLE_S 45L
/* Longest token accepted: far longer than any generated token, and it keeps the
 * Authorization header well under the server's header limit (it answers 431 beyond). */
#define MCUCTL_MAX_TOKEN 4096
/* Slot indexes are 0..24 in the API (grid25 has 25 cells; beyond that: 404). */
#define MCUCTL_MAX_SLOT 24
/* Custom regions: one per slot, so at most 25. */
#define MCUCTL_MAX_REGIONS (MCUCTL_MAX_SLOT + 1)
/* Gain range of the API (0 = silent, 1 = as sent, 4 = +12 dB). */
#define MCUCTL_GAIN_MAX 4.0
/* ?width= of the JPEG routes: 16 is the API's minimum. The maximum is the canvas width,
 * which only the server knows; this cap only keeps the number sane (8K is 7680). */
#define MCUCTL_MIN_WIDTH 16L
#define MCUCTL_MAX_WIDTH 16384L
/* --count: any positive int; a day of 500 ms stats events is 172800, far below. */
#define MCUCTL_MAX_COUNT ((long)INT_MAX)
/* Millisecond settings are ints on the server; its own range checks apply on top. */
#define MCUCTL_MAX_MS ((long)INT_MAX)
/* Positional arguments after the command: settings takes the most (three key=value). */
#define MCUCTL_MAX_POSITIONAL 8
/* Of an error answer that is not the API's JSON (a proxy's page, say), print this many
 * bytes: enough for a one-line reason, not a page of HTML. */
#define MCUCTL_ERROR_SNIPPET 200
/* Width of the site-id column: at least the header, at most this (longer ids overflow
 * their cell and push the row to the right rather than being cut). */
#define MCUCTL_ID_COL_MIN 4
#define MCUCTL_ID_COL_MAX 32
/* Significant digits of numbers in request bodies: DBL_DIG, so "0.7" goes out as 0.7
 * rather than jansson's default 17 digits (0.69999999999999996). */
#define MCUCTL_REAL_DIGITS 15
/* Content-Type kept from an answer: "text/event-stream; charset=utf-8" and the like. */
#define MCUCTL_CONTENT_TYPE_MAX 128

#define MCUCTL_DEFAULT_URL "http://127.0.0.1:8080"
#define MCUCTL_DEFAULT_TOKEN_FILE "./mcu-control.token"
#define MCUCTL_API "/api/v1"

enum {
    MCUCTL_EXIT_OK = 0,
    MCUCTL_EXIT_SERVER = 1, /* the server answered an error, or an unusable answer */
    MCUCTL_EXIT_USAGE = 2,
    MCUCTL_EXIT_CONNECT = 3,
};

static const char mcuctl_help_text[] =
    "usage: mcuctl [--url URL] [--token TOKEN | --token-file FILE] [--json] COMMAND [ARGS]\n"
    "\n"
    "  --url URL          default $MCU_URL, else " MCUCTL_DEFAULT_URL "\n"
    "  --token TOKEN      default $MCU_TOKEN, else the first line of the token file\n"
    "  --token-file FILE  default $MCU_TOKEN_FILE, else " MCUCTL_DEFAULT_TOKEN_FILE "\n"
    "  --json             print the server's JSON instead of the readable form\n"
    "                     (sdp, metrics and a snapshot to stdout are printed as they are)\n"
    "  -h, --help         this text\n"
    "Options may come before or after the command; `--` ends them. Prefer $MCU_TOKEN or\n"
    "the token file to --token, which others can read in the process list.\n"
    "\n"
    "commands:\n"
    "  status                         conference, layout, active speaker, then the sites\n"
    "  sites                          the sites table: id, state, slots, talking, level,\n"
    "                                 fps, resolution, video loss %, kbps in/out, muted, label\n"
    "  site ID                        one site in detail\n"
    "  layout                         the current layout: preset, slot count\n"
    "  layout PRESET|auto             choose a preset (see `layouts`) or automatic\n"
    "  layout --regions \"x,y,w,h;...\" custom regions, fractions of the canvas (0..1)\n"
    "  layouts                        every preset with its slot count\n"
    "  slot N MODE [SITE]             MODE: site|loudest|rolling|blank|auto (N: 0..24);\n"
    "                                 `slot 0 yen-thang` is short for `slot 0 site yen-thang`\n"
    "  slots                          every slot: index, mode, pinned site, showing\n"
    "  mute ID [audio|video|both]     default audio\n"
    "  unmute ID [audio|video|both]   default audio\n"
    "  label ID TEXT                  set the tile label (\"\" restores the configured name)\n"
    "  gain ID VALUE                  audio gain 0..4 (1 = as sent)\n"
    "  settings [hold_ms=N] [pinned_in_loudest=true|false] [rolling_interval_ms=N]\n"
    "                                 no argument: print them; else change those given\n"
    "  keyframe                       ask the encoder for a keyframe now\n"
    "  sdp ID [-o FILE]               the SDP the MCU sends that site (stdout or FILE)\n"
    "  snapshot [ID] [-o FILE] [--width N]\n"
    "                                 no ID: the composite, to snapshot.jpg; with ID: that\n"
    "                                 site's latest picture, to ID.jpg; -o - for stdout\n"
    "  events [--count N]             follow the event stream: one \"TYPE JSON\" line per\n"
    "                                 event (--json: one JSON object per line); stop\n"
    "                                 after N events if given\n"
    "  metrics                        the Prometheus metrics text\n"
    "\n"
    "In the sites table TALK is \"speaker\" for the active speaker, \"yes\" for another\n"
    "site talking; dBFS is the audio level; LOSS% is video packet loss.\n"
    "Put `--` before a label that starts with '-': mcuctl label ID -- -TEXT\n"
    "\n"
    "exit status: 0 ok; 1 the server answered an error; 2 usage error (or no token);\n"
    "             3 cannot connect (or the connection was lost)\n";

/* ---- small helpers -------------------------------------------------------------------- */

static int mcuctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int mcuctl_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mcuctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'mcuctl --help'.\n", stderr);
    va_end(ap);
    return MCUCTL_EXIT_USAGE;
}

static int mcuctl_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int mcuctl_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mcuctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static int mcuctl_oom(void) { return mcuctl_fail(MCUCTL_EXIT_SERVER, "out of memory"); }

/* malloc'd printf; NULL when out of memory. */
static char *mcuctl_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *mcuctl_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    int m = vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (m != n) {
        free(s);
        return NULL;
    }
    return s;
}

/* Whole-string base-10 integer in [min, max]. */
static bool mcuctl_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Whole-string finite decimal number in [min, max] (no "inf", "nan"). */
static bool mcuctl_parse_double(const char *s, double min, double max, double *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Writes server-supplied text to a terminal without letting it drive the terminal:
 * C0 controls, DEL and the UTF-8 encodings of C1 controls (U+0080..U+009F) become '?'.
 * Other UTF-8 passes through as-is. Returns the number of code points written (UTF-8
 * continuation bytes are not counted), the width used to pad table cells. */
static size_t mcuctl_put_clean(FILE *f, const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            fputc('?', f);
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            fputc('?', f);
            p++;
        } else {
            fputc(*p, f);
        }
        if ((*p & 0xc0) != 0x80)
            n++;
    }
    return n;
}

/* The same cleaning, in place, for server text that goes into a formatted message
 * (a Content-Type, a JSON parser's "near '...'" excerpt). */
static void mcuctl_clean_inplace(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            p[0] = '?';
            p[1] = '?';
            p++;
        }
    }
}

/* One table cell, left-aligned, padded to `width` columns. Columns are counted as code
 * points, not real display widths (no wcwidth): right for the precomposed (NFC) Latin and
 * Vietnamese text of site names ("Xã Yên Thắng"), off for combining marks (counted, but
 * take no column) and wide CJK characters (two columns). That is why the label, the one
 * free-text field, is the last column: a misjudged width there cannot shift the others. */
static void mcuctl_cell(const char *s, int width)
{
    size_t n = mcuctl_put_clean(stdout, s ? s : "-");
    for (size_t i = n; i < (size_t)(width > 0 ? width : 0); i++)
        fputc(' ', stdout);
}

/* Right-aligned cell for numbers (already formatted, ASCII). */
static void mcuctl_rcell(const char *s, int width) { printf("%*s", width, s); }

/* ---- JSON access, tolerant of missing fields (printed as "-") --------------------------- */

static const char *mcuctl_jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool mcuctl_jnum(const json_t *o, const char *key, double *out)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

/* 1 true, 0 false, -1 missing or not a boolean. */
static int mcuctl_jbool(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? (json_is_true(v) ? 1 : 0) : -1;
}

static const char *mcuctl_yes_no(int b) { return b < 0 ? "-" : b ? "yes" : "no"; }

/* Prints a JSON value on stdout followed by a newline; false on failure. */
static bool mcuctl_print_json(const json_t *v)
{
    if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        return false;
    fputc('\n', stdout);
    return true;
}

/* ---- growing, bounded buffer ------------------------------------------------------------- */

typedef struct mcuctl_buf {
    char *data;     /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    bool over;      /* an append would have passed MCUCTL_MAX_BODY */
    bool oom;
} mcuctl_buf_t;

static bool mcuctl_buf_append(mcuctl_buf_t *b, const char *p, size_t n)
{
    if (n > MCUCTL_MAX_BODY - b->len) {
        b->over = true;
        return false;
    }
    size_t need = b->len + n + 1; /* + NUL */
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : MCUCTL_BUF_INITIAL;
        while (cap < need)
            cap *= 2; /* cannot overflow: need <= MCUCTL_MAX_BODY + 1 */
        char *d = realloc(b->data, cap);
        if (!d) {
            b->oom = true;
            return false;
        }
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

static void mcuctl_buf_clear(mcuctl_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static void mcuctl_buf_free(mcuctl_buf_t *b)
{
    free(b->data);
    *b = (mcuctl_buf_t){0};
}

/* ---- the client ------------------------------------------------------------------------- */

typedef struct mcuctl_client {
    CURL *curl;
    char *base_url;         /* without a trailing '/' */
    const char *token_arg;  /* --token */
    const char *token_file; /* --token-file */
    char *token;            /* resolved on the first request */
    char token_from[PATH_MAX + 16]; /* where it came from, for the 401 hint */
    bool json;
    char errbuf[CURL_ERROR_SIZE];
} mcuctl_client_t;

typedef struct mcuctl_response {
    long status;
    char content_type[MCUCTL_CONTENT_TYPE_MAX];
    mcuctl_buf_t body;
} mcuctl_response_t;

static void mcuctl_response_free(mcuctl_response_t *r) { mcuctl_buf_free(&r->body); }

/* A bearer token is sent in a header: refuse anything that is not visible ASCII, so a
 * stray CR/LF or space from a file cannot split or corrupt the request. */
static int mcuctl_token_check(const char *tok, const char *from)
{
    if (!*tok)
        return mcuctl_usage_error("the token from %s is empty", from);
    if (strlen(tok) > MCUCTL_MAX_TOKEN)
        return mcuctl_usage_error("the token from %s is longer than %d bytes", from,
                                  MCUCTL_MAX_TOKEN);
    for (const unsigned char *p = (const unsigned char *)tok; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return mcuctl_usage_error("the token from %s contains a space, control or "
                                      "non-ASCII character", from);
    return MCUCTL_EXIT_OK;
}

/* --token, else --token-file, else $MCU_TOKEN, else the first line of $MCU_TOKEN_FILE /
 * ./mcu-control.token: what is on the command line wins over the environment. */
static int mcuctl_client_token(mcuctl_client_t *c)
{
    if (c->token)
        return MCUCTL_EXIT_OK;
    const char *tok = c->token_arg;
    const char *from = "--token";
    const char *env = getenv("MCU_TOKEN");
    if (!tok && !c->token_file && env && *env) { /* "" counts as unset */
        tok = env;
        from = "$MCU_TOKEN";
    }
    if (tok) {
        snprintf(c->token_from, sizeof c->token_from, "%s", from);
        int ex = mcuctl_token_check(tok, from);
        if (ex)
            return ex;
        c->token = strdup(tok);
        return c->token ? MCUCTL_EXIT_OK : mcuctl_oom();
    }

    const char *path = c->token_file;
    const char *path_from = "--token-file";
    env = getenv("MCU_TOKEN_FILE");
    if (!path && env && *env) {
        path = env;
        path_from = "$MCU_TOKEN_FILE";
    }
    if (!path) {
        path = MCUCTL_DEFAULT_TOKEN_FILE;
        path_from = "the default token file";
    }
    snprintf(c->token_from, sizeof c->token_from, "file %s", path);
    FILE *f = fopen(path, "r");
    if (!f)
        return mcuctl_usage_error("no token: no --token or $MCU_TOKEN, and cannot read %s "
                                  "%s: %s", path_from, path, strerror(errno));
    char line[MCUCTL_MAX_TOKEN + 2]; /* + newline + NUL: a longer line is detected */
    bool got = fgets(line, sizeof line, f) != NULL;
    bool err = ferror(f) != 0;
    fclose(f);
    if (err)
        return mcuctl_usage_error("cannot read the token file %s", path);
    if (!got)
        return mcuctl_usage_error("the token file %s is empty", path);
    size_t n = strlen(line);
    if (n == sizeof line - 1 && line[n - 1] != '\n')
        return mcuctl_usage_error("the first line of the token file %s is longer than %d "
                                  "bytes", path, MCUCTL_MAX_TOKEN);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                     line[n - 1] == '\t'))
        line[--n] = '\0';
    int ex = mcuctl_token_check(line, c->token_from);
    if (ex)
        return ex;
    c->token = strdup(line);
    return c->token ? MCUCTL_EXIT_OK : mcuctl_oom();
}

static size_t mcuctl_on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    mcuctl_buf_t *b = ud;
    size_t n = size * nmemb; /* size is always 1 */
    return mcuctl_buf_append(b, p, n) ? n : 0; /* 0 aborts with CURLE_WRITE_ERROR */
}

/* A curl failure that is not ours (not the body bound): cannot connect, or the
 * connection broke. Returns the exit status. */
static int mcuctl_transport_error(mcuctl_client_t *c, CURLcode rc, const char *after)
{
    const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
        return mcuctl_usage_error("bad URL %s: %s", c->base_url, detail);
    curl_off_t connect_us = 0;
    if (curl_easy_getinfo(c->curl, CURLINFO_CONNECT_TIME_T, &connect_us) != CURLE_OK)
        connect_us = 0;
    bool connected = connect_us > 0 && rc != CURLE_COULDNT_CONNECT &&
                     rc != CURLE_COULDNT_RESOLVE_HOST && rc != CURLE_COULDNT_RESOLVE_PROXY;
    if (!connected)
        return mcuctl_fail(MCUCTL_EXIT_CONNECT, "cannot connect to %s: %s", c->base_url,
                           detail);
    if (rc == CURLE_OPERATION_TIMEDOUT && !after)
        return mcuctl_fail(MCUCTL_EXIT_CONNECT, "no answer from %s within %ld s: %s",
                           c->base_url, MCUCTL_REQUEST_TIMEOUT_S, detail);
    return mcuctl_fail(MCUCTL_EXIT_CONNECT, "connection to %s failed%s%s: %s", c->base_url,
                       after ? " " : "", after ? after : "", detail);
}

#define MCUCTL_SETOPT(h, opt, val)                                                          \
    do {                                                                                    \
        if ((rc = curl_easy_setopt((h), (opt), (val))) != CURLE_OK)                         \
            goto setopt_failed;                                                             \
    } while (0)

/* Builds the request headers; NULL when out of memory. */
static struct curl_slist *mcuctl_headers(const mcuctl_client_t *c, const char *accept,
                                         bool json_body)
{
    struct curl_slist *h = NULL, *t;
    char *auth = mcuctl_format("Authorization: Bearer %s", c->token);
    char *acc = mcuctl_format("Accept: %s", accept);
    if (!auth || !acc)
        goto fail;
    if (!(t = curl_slist_append(h, auth)))
        goto fail;
    h = t;
    if (!(t = curl_slist_append(h, acc)))
        goto fail;
    h = t;
    /* No "Expect: 100-continue" round trip: bodies are small. */
    if (!(t = curl_slist_append(h, "Expect:")))
        goto fail;
    h = t;
    /* With no body, "Content-Type:" removes the form type curl would put on a POST. */
    if (!(t = curl_slist_append(h, json_body ? "Content-Type: application/json"
                                             : "Content-Type:")))
        goto fail;
    h = t;
    free(auth);
    free(acc);
    return h;
fail:
    free(auth);
    free(acc);
    curl_slist_free_all(h);
    return NULL;
}

/* Common options of every request. */
static CURLcode mcuctl_common_opts(mcuctl_client_t *c, const char *url,
                                   struct curl_slist *hdrs)
{
    CURLcode rc;
    curl_easy_reset(c->curl);
    c->errbuf[0] = '\0';
    MCUCTL_SETOPT(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
    MCUCTL_SETOPT(c->curl, CURLOPT_URL, url);
    MCUCTL_SETOPT(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    MCUCTL_SETOPT(c->curl, CURLOPT_NOSIGNAL, 1L);
    MCUCTL_SETOPT(c->curl, CURLOPT_CONNECTTIMEOUT, MCUCTL_CONNECT_TIMEOUT_S);
    MCUCTL_SETOPT(c->curl, CURLOPT_HTTPHEADER, hdrs);
    MCUCTL_SETOPT(c->curl, CURLOPT_USERAGENT, "mcuctl/1");
    return CURLE_OK;
setopt_failed:
    return rc;
}

/* One request. `path` starts with '/' and may carry a query; `body` (may be NULL) is sent
 * as JSON. On MCUCTL_EXIT_OK the response holds the status and the body, whatever the
 * status; any other return is an exit status, already reported. */
static int mcuctl_http(mcuctl_client_t *c, const char *method, const char *path,
                       const json_t *body, const char *accept, mcuctl_response_t *r)
{
    int ex = mcuctl_client_token(c);
    if (ex)
        return ex;
    *r = (mcuctl_response_t){0};
    char *url = mcuctl_format("%s%s", c->base_url, path);
    char *payload = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                                JSON_REAL_PRECISION(MCUCTL_REAL_DIGITS))
                         : NULL;
    struct curl_slist *hdrs = mcuctl_headers(c, accept, body != NULL);
    if (!url || (body && !payload) || !hdrs) {
        ex = mcuctl_oom();
        goto out;
    }

    CURLcode rc = mcuctl_common_opts(c, url, hdrs);
    if (rc != CURLE_OK)
        goto setopt_failed;
    MCUCTL_SETOPT(c->curl, CURLOPT_TIMEOUT, MCUCTL_REQUEST_TIMEOUT_S);
    MCUCTL_SETOPT(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MCUCTL_MAX_BODY);
    MCUCTL_SETOPT(c->curl, CURLOPT_WRITEFUNCTION, mcuctl_on_body);
    MCUCTL_SETOPT(c->curl, CURLOPT_WRITEDATA, &r->body);
    if (strcmp(method, "GET") != 0) {
        MCUCTL_SETOPT(c->curl, CURLOPT_POST, 1L);
        MCUCTL_SETOPT(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                      (curl_off_t)(payload ? strlen(payload) : 0));
        MCUCTL_SETOPT(c->curl, CURLOPT_POSTFIELDS, payload ? payload : "");
        if (strcmp(method, "POST") != 0)
            MCUCTL_SETOPT(c->curl, CURLOPT_CUSTOMREQUEST, method);
    }

    rc = curl_easy_perform(c->curl);
    if (r->body.oom) {
        ex = mcuctl_oom();
        goto out;
    }
    if (r->body.over || rc == CURLE_FILESIZE_EXCEEDED) {
        ex = mcuctl_fail(MCUCTL_EXIT_SERVER, "the answer to %s %s is larger than %zu MiB",
                         method, path, MCUCTL_MAX_BODY >> 20);
        goto out;
    }
    if (rc != CURLE_OK) {
        ex = mcuctl_transport_error(c, rc, NULL);
        goto out;
    }
    if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status) != CURLE_OK) {
        ex = mcuctl_fail(MCUCTL_EXIT_SERVER, "libcurl gave no HTTP status");
        goto out;
    }
    char *ct = NULL;
    if (curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) {
        snprintf(r->content_type, sizeof r->content_type, "%s", ct);
        mcuctl_clean_inplace(r->content_type);
    }
    if (!r->body.data && !mcuctl_buf_append(&r->body, "", 0)) { /* always a string */
        ex = mcuctl_oom();
        goto out;
    }
    ex = MCUCTL_EXIT_OK;
    goto out;

setopt_failed:
    ex = mcuctl_fail(MCUCTL_EXIT_SERVER, "libcurl: %s", curl_easy_strerror(rc));
out:
    if (ex != MCUCTL_EXIT_OK)
        mcuctl_response_free(r);
    curl_slist_free_all(hdrs);
    free(payload);
    free(url);
    return ex;
}

/* Reports a non-2xx answer from its JSON error body (or a snippet of whatever it is)
 * and returns MCUCTL_EXIT_SERVER; MCUCTL_EXIT_OK for a 2xx. */
static int mcuctl_check_status(const mcuctl_client_t *c, const mcuctl_buf_t *body,
                               long status)
{
    if (status >= 200 && status < 300)
        return MCUCTL_EXIT_OK;
    json_t *root = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    const json_t *err = json_object_get(root, "error");
    const char *code = mcuctl_jstr(err, "code");
    const char *msg = mcuctl_jstr(err, "message");
    fprintf(stderr, "mcuctl: HTTP %ld", status);
    if (code) {
        fputc(' ', stderr);
        mcuctl_put_clean(stderr, code);
    }
    if (msg) {
        fputs(": ", stderr);
        mcuctl_put_clean(stderr, msg);
    } else if (!code && (body->len == 0 || !body->data)) {
        fprintf(stderr, " (empty answer: is %s the MCU control API?)", c->base_url);
    } else if (!code) {
        /* Not the API's error body: a short, cleaned snippet of its first line. */
        char snip[MCUCTL_ERROR_SNIPPET + 1];
        size_t n = 0;
        while (n < body->len && n < MCUCTL_ERROR_SNIPPET && body->data[n] != '\n' &&
               body->data[n] != '\r' && body->data[n] != '\0') {
            snip[n] = body->data[n];
            n++;
        }
        snip[n] = '\0';
        fputs(" (not the API's error format): ", stderr);
        mcuctl_put_clean(stderr, snip);
    }
    fputc('\n', stderr);
    json_decref(root);
    if (status == 401)
        fprintf(stderr, "mcuctl: the token was taken from %s\n", c->token_from);
    return MCUCTL_EXIT_SERVER;
}

/* A request whose answer is JSON: on MCUCTL_EXIT_OK, *out holds the parsed answer and
 * `r` the raw one (for --json). */
static int mcuctl_call(mcuctl_client_t *c, const char *method, const char *path,
                       const json_t *body, json_t **out, mcuctl_response_t *r)
{
    *out = NULL;
    int ex = mcuctl_http(c, method, path, body, "application/json", r);
    if (ex)
        return ex;
    ex = mcuctl_check_status(c, &r->body, r->status);
    if (ex) {
        mcuctl_response_free(r);
        return ex;
    }
    json_error_t jerr;
    *out = json_loadb(r->body.data, r->body.len, 0, &jerr);
    if (!*out) {
        mcuctl_response_free(r);
        mcuctl_clean_inplace(jerr.text);
        return mcuctl_fail(MCUCTL_EXIT_SERVER, "the answer to %s %s is not JSON (line %d, "
                           "column %d: %s)", method, path, jerr.line, jerr.column, jerr.text);
    }
    return MCUCTL_EXIT_OK;
}

/* Prints the raw answer as the server sent it, ending with a newline. */
static void mcuctl_print_raw(const mcuctl_buf_t *b)
{
    fwrite(b->data, 1, b->len, stdout);
    if (b->len == 0 || b->data[b->len - 1] != '\n')
        fputc('\n', stdout);
}

/* "/api/v1/sites/<percent-encoded id><suffix>"; NULL when out of memory. */
static char *mcuctl_site_path(const mcuctl_client_t *c, const char *id, const char *suffix)
{
    char *esc = curl_easy_escape(c->curl, id, (int)strlen(id));
    if (!esc)
        return NULL;
    char *p = mcuctl_format(MCUCTL_API "/sites/%s%s", esc, suffix);
    curl_free(esc);
    return p;
}

/* {"key": value}, taking `value` (which may be NULL: then the body is NULL too); NULL
 * when out of memory. */
static json_t *mcuctl_one_field(const char *key, json_t *value)
{
    json_t *o = json_object();
    if (!o) {
        json_decref(value);
        return NULL;
    }
    if (json_object_set_new(o, key, value) != 0) { /* it releases `value` */
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Prints the readable form of a parsed JSON answer. */
typedef void (*mcuctl_print_fn)(const json_t *root);

/* A JSON request whose whole answer is shown: as the server sent it with --json, else
 * through `print`. Takes `body` (NULL: none). Returns the exit status. */
static int mcuctl_show(mcuctl_client_t *c, const char *method, const char *path,
                       json_t *body, mcuctl_print_fn print)
{
    mcuctl_response_t r;
    json_t *root;
    int ex = mcuctl_call(c, method, path, body, &root, &r);
    json_decref(body);
    if (ex)
        return ex;
    if (c->json)
        mcuctl_print_raw(&r.body);
    else
        print(root);
    json_decref(root);
    mcuctl_response_free(&r);
    return MCUCTL_EXIT_OK;
}

/* Picks (a new reference to) the part of the conference that --json prints; NULL when
 * the conference has no such part. */
typedef json_t *(*mcuctl_pick_fn)(const json_t *conf);

/* GET /conference for the views no route returns alone (layout, slots, settings): with
 * --json the part `pick` builds, else the conference through `print`. `what` names the
 * part in the error when it is missing. Returns the exit status. */
static int mcuctl_show_conference(mcuctl_client_t *c, mcuctl_pick_fn pick, const char *what,
                                  mcuctl_print_fn print)
{
    mcuctl_response_t r;
    json_t *conf;
    int ex = mcuctl_call(c, "GET", MCUCTL_API "/conference", NULL, &conf, &r);
    if (ex)
        return ex;
    if (c->json) {
        json_t *o = pick(conf);
        bool ok = o && mcuctl_print_json(o);
        json_decref(o);
        if (!ok)
            ex = mcuctl_fail(MCUCTL_EXIT_SERVER, "the conference has no %s", what);
    } else {
        print(conf);
    }
    json_decref(conf);
    mcuctl_response_free(&r);
    return ex;
}

/* ---- readable output ---------------------------------------------------------------------- */

/* Code points of a UTF-8 string (see mcuctl_cell). */
static size_t mcuctl_utf8_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xc0) != 0x80;
    return n;
}

static int mcuctl_id_width(const json_t *sites)
{
    size_t w = MCUCTL_ID_COL_MIN;
    size_t i;
    const json_t *s;
    json_array_foreach(sites, i, s) {
        const char *id = mcuctl_jstr(s, "id");
        size_t n = id ? mcuctl_utf8_len(id) : 1;
        if (n > w)
            w = n;
    }
    return (int)(w > MCUCTL_ID_COL_MAX ? MCUCTL_ID_COL_MAX : w);
}

/* "0,3" from an array of slot indexes; "-" if none. */
static void mcuctl_slot_list(const json_t *slots, char *out, size_t size)
{
    size_t used = 0, i;
    const json_t *v;
    out[0] = '\0';
    json_array_foreach(slots, i, v) {
        if (!json_is_integer(v))
            continue;
        int n = snprintf(out + used, size - used, "%s%lld", used ? "," : "",
                         (long long)json_integer_value(v));
        if (n < 0 || (size_t)n >= size - used) {
            out[used] = '\0';
            break;
        }
        used += (size_t)n;
    }
    if (!used)
        snprintf(out, size, "-");
}

static const char *mcuctl_muted(const json_t *site)
{
    int a = mcuctl_jbool(site, "audio_muted") == 1;
    int v = mcuctl_jbool(site, "video_muted") == 1;
    return a && v ? "both" : a ? "audio" : v ? "video" : "-";
}

/* Formats a number or "-" when the field is missing. */
static void mcuctl_fmt_num(char *out, size_t size, const json_t *o, const char *key,
                           const char *fmt, double scale)
{
    double v;
    if (mcuctl_jnum(o, key, &v))
        snprintf(out, size, fmt, v * scale);
    else
        snprintf(out, size, "-");
}

/* The sites table: fixed-width columns except the id column, which is as wide as the
 * longest id (up to MCUCTL_ID_COL_MAX), and the label, which comes last (see
 * mcuctl_cell about UTF-8 widths). */
static void mcuctl_print_sites_table(const json_t *sites)
{
    int idw = mcuctl_id_width(sites);
    mcuctl_cell("ID", idw);
    printf("  %-9s  %-6s  %-7s  %6s  %5s  %-9s  %5s  %7s  %8s  %-5s  %s\n", "STATE", "SLOTS",
           "TALK", "dBFS", "FPS", "RES", "LOSS%", "IN kbps", "OUT kbps", "MUTED", "LABEL");
    size_t i;
    const json_t *s;
    json_array_foreach(sites, i, s) {
        const json_t *video = json_object_get(s, "video");
        const json_t *audio = json_object_get(s, "audio");
        char slots[32], level[16], fps[16], res[32], loss[16], in[16], out[16];
        mcuctl_slot_list(json_object_get(s, "slots"), slots, sizeof slots);
        mcuctl_fmt_num(level, sizeof level, s, "audio_level_dbfs", "%.1f", 1.0);
        mcuctl_fmt_num(fps, sizeof fps, video, "fps", "%.1f", 1.0);
        /* "loss" is taken as a fraction 0..1 (as RTCP reports it), shown in percent. */
        mcuctl_fmt_num(loss, sizeof loss, video, "loss", "%.1f", 100.0);
        mcuctl_fmt_num(out, sizeof out, s, "bitrate_out_bps", "%.0f", 1e-3);
        double w, h, vb, ab;
        if (mcuctl_jnum(video, "width", &w) && mcuctl_jnum(video, "height", &h) && w > 0 &&
            h > 0)
            snprintf(res, sizeof res, "%.0fx%.0f", w, h);
        else
            snprintf(res, sizeof res, "-");
        bool has_vb = mcuctl_jnum(video, "bitrate_in_bps", &vb);
        bool has_ab = mcuctl_jnum(audio, "bitrate_in_bps", &ab);
        if (has_vb || has_ab)
            snprintf(in, sizeof in, "%.0f", ((has_vb ? vb : 0) + (has_ab ? ab : 0)) / 1e3);
        else
            snprintf(in, sizeof in, "-");
        const char *talk = mcuctl_jbool(s, "active_speaker") == 1 ? "speaker"
                           : mcuctl_jbool(s, "talking") == 1      ? "yes"
                                                                  : "-";
        const char *label = mcuctl_jstr(s, "label");
        if (!label || !*label)
            label = mcuctl_jstr(s, "name");

        mcuctl_cell(mcuctl_jstr(s, "id"), idw);
        fputs("  ", stdout);
        mcuctl_cell(mcuctl_jstr(s, "state"), 9);
        printf("  %-6s  %-7s  ", slots, talk);
        mcuctl_rcell(level, 6);
        fputs("  ", stdout);
        mcuctl_rcell(fps, 5);
        printf("  %-9s  ", res);
        mcuctl_rcell(loss, 5);
        fputs("  ", stdout);
        mcuctl_rcell(in, 7);
        fputs("  ", stdout);
        mcuctl_rcell(out, 8);
        printf("  %-5s  ", mcuctl_muted(s));
        mcuctl_cell(label, 0);
        fputc('\n', stdout);
    }
}

/* "grid20 (auto), 20 slots" */
static void mcuctl_print_layout_line(const json_t *layout)
{
    double n;
    mcuctl_cell(mcuctl_jstr(layout, "preset"), 0);
    if (mcuctl_jbool(layout, "auto") == 1)
        fputs(" (auto)", stdout);
    if (mcuctl_jnum(layout, "slots", &n))
        printf(", %.0f slot%s", n, n == 1 ? "" : "s");
    fputc('\n', stdout);
}

/* Custom regions are not a name: list them. */
static void mcuctl_print_cells(const json_t *layout)
{
    const char *preset = mcuctl_jstr(layout, "preset");
    if (!preset || strcmp(preset, "custom") != 0)
        return;
    size_t i;
    const json_t *cell;
    json_array_foreach(json_object_get(layout, "cells"), i, cell) {
        double x = NAN, y = NAN, w = NAN, h = NAN;
        mcuctl_jnum(cell, "x", &x);
        mcuctl_jnum(cell, "y", &y);
        mcuctl_jnum(cell, "w", &w);
        mcuctl_jnum(cell, "h", &h);
        printf("  slot %2zu  x=%.4g y=%.4g w=%.4g h=%.4g\n", i, x, y, w, h);
    }
}

static void mcuctl_print_slot(const json_t *slot)
{
    double idx;
    if (mcuctl_jnum(slot, "index", &idx))
        printf("slot %.0f: ", idx);
    mcuctl_cell(mcuctl_jstr(slot, "mode"), 0);
    const char *site = mcuctl_jstr(slot, "site");
    if (site) {
        fputc(' ', stdout);
        mcuctl_cell(site, 0);
    }
    fputs(", showing ", stdout);
    mcuctl_cell(mcuctl_jstr(slot, "showing"), 0);
    fputc('\n', stdout);
}

static void mcuctl_print_slots_table(const json_t *slots)
{
    printf("%4s  %-7s  %-*s  %s\n", "SLOT", "MODE", MCUCTL_ID_COL_MAX / 2, "PINNED",
           "SHOWING");
    size_t i;
    const json_t *s;
    json_array_foreach(slots, i, s) {
        double idx;
        char ix[24];
        if (mcuctl_jnum(s, "index", &idx))
            snprintf(ix, sizeof ix, "%.0f", idx);
        else
            snprintf(ix, sizeof ix, "%zu", i);
        printf("%4s  ", ix);
        mcuctl_cell(mcuctl_jstr(s, "mode"), 7);
        fputs("  ", stdout);
        mcuctl_cell(mcuctl_jstr(s, "site"), MCUCTL_ID_COL_MAX / 2);
        fputs("  ", stdout);
        mcuctl_cell(mcuctl_jstr(s, "showing"), 0);
        fputc('\n', stdout);
    }
}

static void mcuctl_print_settings(const json_t *st)
{
    char hold[32], roll[32];
    mcuctl_fmt_num(hold, sizeof hold, st, "hold_ms", "%.0f", 1.0);
    mcuctl_fmt_num(roll, sizeof roll, st, "rolling_interval_ms", "%.0f", 1.0);
    printf("hold_ms=%s pinned_in_loudest=%s rolling_interval_ms=%s\n", hold,
           mcuctl_jbool(st, "pinned_in_loudest") < 0
               ? "-"
               : (mcuctl_jbool(st, "pinned_in_loudest") ? "true" : "false"),
           roll);
}

/* "H264; unsupported codec: H.265; dropped: wrong_codec 312, payload_type 4" */
static void mcuctl_print_media_codec(const char *head, const json_t *m)
{
    fputs(head, stdout);
    mcuctl_cell(mcuctl_jstr(m, "codec"), 0);
    const char *problem = mcuctl_jstr(m, "problem");
    if (problem) {
        fputs("; ", stdout);
        mcuctl_cell(problem, 0);
    }
    const json_t *drops = json_object_get(m, "drops");
    const char *reason;
    const json_t *n;
    bool first = true;
    json_object_foreach((json_t *)drops, reason, n) {
        if (!json_is_integer(n))
            continue;
        fputs(first ? "; dropped: " : ", ", stdout);
        mcuctl_cell(reason, 0);
        printf(" %lld", (long long)json_integer_value(n));
        first = false;
    }
    fputs("\n", stdout);
}

static void mcuctl_print_site_detail(const json_t *s)
{
    const json_t *video = json_object_get(s, "video");
    const json_t *audio = json_object_get(s, "audio");
    char buf[64], buf2[64];
    double v;

    fputs("id              ", stdout);
    mcuctl_cell(mcuctl_jstr(s, "id"), 0);
    if (mcuctl_jnum(s, "index", &v))
        printf(" (index %.0f)", v);
    fputs("\nname            ", stdout);
    mcuctl_cell(mcuctl_jstr(s, "name"), 0);
    fputs("\nlabel           ", stdout);
    mcuctl_cell(mcuctl_jstr(s, "label"), 0);
    fputs("\nstate           ", stdout);
    mcuctl_cell(mcuctl_jstr(s, "state"), 0);
    mcuctl_slot_list(json_object_get(s, "slots"), buf, sizeof buf);
    printf("\nslots           %s\n", buf);
    mcuctl_fmt_num(buf, sizeof buf, s, "audio_level_dbfs", "%.1f", 1.0);
    printf("talking         %s, level %s dBFS, active speaker %s\n",
           mcuctl_yes_no(mcuctl_jbool(s, "talking")), buf,
           mcuctl_yes_no(mcuctl_jbool(s, "active_speaker")));
    printf("muted           audio %s, video %s\n",
           mcuctl_yes_no(mcuctl_jbool(s, "audio_muted")),
           mcuctl_yes_no(mcuctl_jbool(s, "video_muted")));
    mcuctl_fmt_num(buf, sizeof buf, s, "gain", "%.2f", 1.0);
    printf("gain            %s\n", buf);

    double w, h;
    if (mcuctl_jnum(video, "width", &w) && mcuctl_jnum(video, "height", &h))
        printf("video in        %.0fx%.0f", w, h);
    else
        fputs("video in        -", stdout);
    mcuctl_fmt_num(buf, sizeof buf, video, "fps", "%.1f", 1.0);
    mcuctl_fmt_num(buf2, sizeof buf2, video, "bitrate_in_bps", "%.0f", 1e-3);
    printf(", %s fps, %s kbps\n", buf, buf2);
    mcuctl_fmt_num(buf, sizeof buf, video, "loss", "%.1f", 100.0);
    mcuctl_fmt_num(buf2, sizeof buf2, video, "packets_lost", "%.0f", 1.0);
    printf("                loss %s %%, %s packets lost", buf, buf2);
    mcuctl_fmt_num(buf, sizeof buf, video, "jitter_ms", "%.1f", 1.0);
    printf(", jitter %s ms\n", buf);
    mcuctl_fmt_num(buf, sizeof buf, video, "last_keyframe_ms_ago", "%.0f", 1.0);
    printf("                last keyframe %s%s\n", buf,
           strcmp(buf, "-") ? " ms ago" : " (none yet)");
    mcuctl_fmt_num(buf, sizeof buf, audio, "bitrate_in_bps", "%.0f", 1e-3);
    mcuctl_fmt_num(buf2, sizeof buf2, audio, "loss", "%.1f", 100.0);
    printf("audio in        %s kbps, loss %s %%", buf, buf2);
    mcuctl_fmt_num(buf, sizeof buf, audio, "jitter_ms", "%.1f", 1.0);
    printf(", jitter %s ms\n", buf);
    mcuctl_fmt_num(buf, sizeof buf, s, "bitrate_out_bps", "%.0f", 1e-3);
    printf("out             %s kbps\n", buf);
    mcuctl_print_media_codec("video codec     ", video);
    mcuctl_print_media_codec("audio codec     ", audio);
}

/* "alice: audio muted, video on" */
static void mcuctl_print_mutes(const json_t *s)
{
    mcuctl_cell(mcuctl_jstr(s, "id"), 0);
    int a = mcuctl_jbool(s, "audio_muted"), v = mcuctl_jbool(s, "video_muted");
    printf(": audio %s, video %s\n", a < 0 ? "-" : a ? "muted" : "on",
           v < 0 ? "-" : v ? "muted" : "on");
}

/* ---- arguments ------------------------------------------------------------------------ */

enum {
    MCUCTL_OPT_OUT = 1u << 0,
    MCUCTL_OPT_WIDTH = 1u << 1,
    MCUCTL_OPT_COUNT = 1u << 2,
    MCUCTL_OPT_REGIONS = 1u << 3,
};

typedef struct mcuctl_args {
    const char *url, *token, *token_file;
    bool json, help;
    const char *out, *width, *count, *regions;
    unsigned given; /* MCUCTL_OPT_* seen */
    const char *cmd;
    const char *pos[MCUCTL_MAX_POSITIONAL];
    int npos;
} mcuctl_args_t;

/* Matches "--name VALUE" or "--name=VALUE" (or `alias VALUE`). 1 matched, 0 not this
 * option, -1 matched but the value is missing. */
static int mcuctl_opt(int argc, char **argv, int *i, const char *name, const char *alias,
                      const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) == 0 && a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (strcmp(a, name) != 0 && !(alias && strcmp(a, alias) == 0))
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 1;
}

/* "-5" and "-.5" are values (a bad gain, say), not options. */
static bool mcuctl_is_option(const char *a)
{
    return a[0] == '-' && a[1] != '\0' && !isdigit((unsigned char)a[1]) && a[1] != '.';
}

static int mcuctl_parse_args(int argc, char **argv, mcuctl_args_t *a)
{
    static const struct {
        const char *name, *alias;
        unsigned bit; /* 0: global */
        size_t off;
    } opts[] = {
        {"--url", NULL, 0, offsetof(mcuctl_args_t, url)},
        {"--token", NULL, 0, offsetof(mcuctl_args_t, token)},
        {"--token-file", NULL, 0, offsetof(mcuctl_args_t, token_file)},
        {"--output", "-o", MCUCTL_OPT_OUT, offsetof(mcuctl_args_t, out)},
        {"--width", NULL, MCUCTL_OPT_WIDTH, offsetof(mcuctl_args_t, width)},
        {"--count", NULL, MCUCTL_OPT_COUNT, offsetof(mcuctl_args_t, count)},
        {"--regions", NULL, MCUCTL_OPT_REGIONS, offsetof(mcuctl_args_t, regions)},
    };
    bool only_positional = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_positional && mcuctl_is_option(arg)) {
            if (strcmp(arg, "--") == 0) {
                only_positional = true;
                continue;
            }
            if (strcmp(arg, "--json") == 0) {
                a->json = true;
                continue;
            }
            if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
                a->help = true;
                continue;
            }
            bool matched = false;
            for (size_t k = 0; k < sizeof opts / sizeof opts[0] && !matched; k++) {
                const char *val = NULL;
                int m = mcuctl_opt(argc, argv, &i, opts[k].name, opts[k].alias, &val);
                if (m < 0)
                    return mcuctl_usage_error("option %s needs a value", arg);
                if (m > 0) {
                    *(const char **)((char *)a + opts[k].off) = val;
                    a->given |= opts[k].bit;
                    matched = true;
                }
            }
            if (!matched)
                return mcuctl_usage_error("unknown option '%s'", arg);
            continue;
        }
        if (!a->cmd) {
            a->cmd = arg;
            continue;
        }
        if (a->npos == MCUCTL_MAX_POSITIONAL)
            return mcuctl_usage_error("too many arguments for '%s'", a->cmd);
        a->pos[a->npos++] = arg;
    }
    return MCUCTL_EXIT_OK;
}

static int mcuctl_need_id(const char *id, const char *cmd)
{
    if (!*id)
        return mcuctl_usage_error("%s: the site id is empty", cmd);
    return MCUCTL_EXIT_OK;
}

/* ---- commands -------------------------------------------------------------------------- */

typedef int (*mcuctl_run_fn)(mcuctl_client_t *c, const mcuctl_args_t *a);

/* The conference overview, then the sites table. */
static void mcuctl_print_status(const json_t *conf)
{
    const json_t *sites = json_object_get(conf, "sites");
    fputs("conference      ", stdout);
    mcuctl_cell(mcuctl_jstr(conf, "name"), 0);
    fputs("\nlayout          ", stdout);
    mcuctl_print_layout_line(json_object_get(conf, "layout"));
    fputs("active speaker  ", stdout);
    mcuctl_cell(mcuctl_jstr(conf, "active_speaker"), 0);
    fputs("\nsettings        ", stdout);
    mcuctl_print_settings(json_object_get(conf, "settings"));
    size_t live = 0, nosig = 0, waiting = 0, i;
    const json_t *s;
    json_array_foreach(sites, i, s) {
        const char *st = mcuctl_jstr(s, "state");
        live += st && !strcmp(st, "live");
        nosig += st && !strcmp(st, "no_signal");
        waiting += st && !strcmp(st, "waiting");
    }
    printf("sites           %zu (%zu live, %zu no signal, %zu waiting)\n\n",
           json_array_size(sites), live, nosig, waiting);
    mcuctl_print_sites_table(sites);
}

static int mcuctl_cmd_status(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    (void)a;
    return mcuctl_show(c, "GET", MCUCTL_API "/conference", NULL, mcuctl_print_status);
}

/* The answer of GET /sites: {"sites": [...]}. */
static void mcuctl_print_sites(const json_t *root)
{
    mcuctl_print_sites_table(json_object_get(root, "sites"));
}

static int mcuctl_cmd_sites(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    (void)a;
    return mcuctl_show(c, "GET", MCUCTL_API "/sites", NULL, mcuctl_print_sites);
}

/* GET (body NULL) or PUT /api/v1/sites/{id}; takes `body`, prints the site through
 * `print`. */
static int mcuctl_show_site(mcuctl_client_t *c, const char *id, json_t *body,
                            mcuctl_print_fn print)
{
    char *path = mcuctl_site_path(c, id, "");
    if (!path) {
        json_decref(body);
        return mcuctl_oom();
    }
    int ex = mcuctl_show(c, body ? "PUT" : "GET", path, body, print);
    free(path);
    return ex;
}

static int mcuctl_cmd_site(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    int ex = mcuctl_need_id(a->pos[0], "site");
    if (ex)
        return ex;
    return mcuctl_show_site(c, a->pos[0], NULL, mcuctl_print_site_detail);
}

/* "x,y,w,h;x,y,w,h;..." -> [{"x":..,"y":..,"w":..,"h":..}, ...]. Empty regions (a
 * trailing ';') are skipped. Only the syntax and the 0..1 range are checked here; whether
 * the regions make sense on the canvas is the server's call. */
static int mcuctl_parse_regions(const char *spec, json_t **out)
{
    static const char *const names[4] = {"x", "y", "w", "h"};
    json_t *arr = json_array();
    if (!arr)
        return mcuctl_oom();
    const char *p = spec;
    int region = 0;
    while (*p) {
        while (*p == ' ')
            p++;
        if (*p == ';') { /* an empty region: "a;;b" or a trailing ';' */
            p++;
            continue;
        }
        if (!*p)
            break;
        if (++region > MCUCTL_MAX_REGIONS) {
            json_decref(arr);
            return mcuctl_usage_error("--regions: more than %d regions (one per slot)",
                                      MCUCTL_MAX_REGIONS);
        }
        json_t *cell = json_object();
        if (!cell || json_array_append_new(arr, cell) != 0) {
            json_decref(arr);
            return mcuctl_oom();
        }
        for (int k = 0; k < 4; k++) {
            char *end = NULL;
            errno = 0;
            double v = strtod(p, &end);
            if (end == p || errno || !isfinite(v) || v < 0.0 || v > 1.0 ||
                (k >= 2 && v <= 0.0)) {
                json_decref(arr);
                return mcuctl_usage_error("--regions: region %d, field '%s': must be a "
                                          "number in %s (fraction of the canvas), as "
                                          "\"x,y,w,h;x,y,w,h;...\"", region, names[k],
                                          k >= 2 ? "(0, 1]" : "[0, 1]");
            }
            if (json_object_set_new(cell, names[k], json_real(v)) != 0) {
                json_decref(arr);
                return mcuctl_oom();
            }
            p = end;
            while (*p == ' ')
                p++;
            char want = k < 3 ? ',' : ';';
            if (*p == want) {
                p++;
            } else if (!(k == 3 && *p == '\0')) {
                json_decref(arr);
                return mcuctl_usage_error("--regions: region %d needs 4 numbers x,y,w,h "
                                          "separated by ',' (regions by ';')", region);
            }
        }
    }
    if (region == 0) {
        json_decref(arr);
        return mcuctl_usage_error("--regions: no region given");
    }
    *out = arr;
    return MCUCTL_EXIT_OK;
}

/* "layout grid4, 4 slots" (and the regions of a custom one) from the answer of PUT
 * /layout or from the conference: both carry "layout". */
static void mcuctl_print_layout_answer(const json_t *root)
{
    fputs("layout ", stdout);
    mcuctl_print_layout_line(json_object_get(root, "layout"));
    mcuctl_print_cells(json_object_get(root, "layout"));
}

/* --json of `layout`: the same shape as the PUT answer and the "layout" event. */
static json_t *mcuctl_pick_layout(const json_t *conf)
{
    return json_pack("{sOsO}", "layout", json_object_get(conf, "layout"), "slots",
                     json_object_get(conf, "slots"));
}

static int mcuctl_cmd_layout(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    if (a->regions && a->npos > 0)
        return mcuctl_usage_error("layout: give either a preset or --regions, not both");
    if (!a->regions && a->npos == 0) /* no route returns just the layout */
        return mcuctl_show_conference(c, mcuctl_pick_layout, "layout/slots",
                                      mcuctl_print_layout_answer);

    json_t *body;
    if (a->regions) {
        json_t *regions = NULL;
        int ex = mcuctl_parse_regions(a->regions, &regions);
        if (ex)
            return ex;
        body = mcuctl_one_field("regions", regions);
    } else {
        if (!*a->pos[0])
            return mcuctl_usage_error("layout: the preset name is empty");
        json_t *name = json_string(a->pos[0]);
        if (!name)
            return mcuctl_usage_error("layout: the preset name is not valid UTF-8");
        body = mcuctl_one_field("preset", name);
    }
    if (!body)
        return mcuctl_oom();
    return mcuctl_show(c, "PUT", MCUCTL_API "/layout", body, mcuctl_print_layout_answer);
}

/* The answer of GET /layouts: every preset with its slot count. */
static void mcuctl_print_layouts(const json_t *root)
{
    printf("%-14s  %5s  %s\n", "PRESET", "SLOTS", "SPEAKER");
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(root, "presets"), i, p) {
        char n[16];
        mcuctl_fmt_num(n, sizeof n, p, "slots", "%.0f", 1.0);
        mcuctl_cell(mcuctl_jstr(p, "name"), 14);
        printf("  %5s  %s\n", n, mcuctl_yes_no(mcuctl_jbool(p, "speaker")));
    }
}

static int mcuctl_cmd_layouts(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    (void)a;
    return mcuctl_show(c, "GET", MCUCTL_API "/layouts", NULL, mcuctl_print_layouts);
}

static const char *const mcuctl_slot_modes[] = {"site", "loudest", "rolling", "blank", "auto"};

static bool mcuctl_is_slot_mode(const char *s)
{
    for (size_t i = 0; i < sizeof mcuctl_slot_modes / sizeof mcuctl_slot_modes[0]; i++)
        if (strcmp(s, mcuctl_slot_modes[i]) == 0)
            return true;
    return false;
}

static int mcuctl_cmd_slot(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    long n;
    if (!mcuctl_parse_long(a->pos[0], 0, MCUCTL_MAX_SLOT, &n))
        return mcuctl_usage_error("slot: index '%s' must be an integer 0..%d", a->pos[0],
                                  MCUCTL_MAX_SLOT);
    const char *mode = a->pos[1];
    const char *site = a->npos == 3 ? a->pos[2] : NULL;
    if (!mcuctl_is_slot_mode(mode)) {
        if (site)
            return mcuctl_usage_error("slot: mode '%s' must be one of site, loudest, "
                                      "rolling, blank, auto", mode);
        site = mode; /* `slot 0 yen-thang` = `slot 0 site yen-thang` */
        mode = "site";
    } else if (!strcmp(mode, "site") && !site) {
        return mcuctl_usage_error("slot: mode 'site' needs a SITE id (slot N site SITE)");
    } else if (strcmp(mode, "site") != 0 && site) {
        return mcuctl_usage_error("slot: mode '%s' takes no site (only 'site' pins one)",
                                  mode);
    }
    if (site) {
        int ex = mcuctl_need_id(site, "slot");
        if (ex)
            return ex;
    }
    json_t *body = json_pack("{ss}", "mode", mode);
    if (!body)
        return mcuctl_oom();
    if (site && json_object_set_new(body, "site", json_string(site)) != 0) {
        json_decref(body);
        return mcuctl_usage_error("slot: the site id is not valid UTF-8");
    }
    char path[64];
    snprintf(path, sizeof path, MCUCTL_API "/slots/%ld", n);
    return mcuctl_show(c, "PUT", path, body, mcuctl_print_slot);
}

/* --json of `slots`: the same shape as the "slots" event. */
static json_t *mcuctl_pick_slots(const json_t *conf)
{
    return json_pack("{sO}", "slots", json_object_get(conf, "slots"));
}

static void mcuctl_print_conf_slots(const json_t *conf)
{
    mcuctl_print_slots_table(json_object_get(conf, "slots"));
}

static int mcuctl_cmd_slots(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    (void)a;
    return mcuctl_show_conference(c, mcuctl_pick_slots, "slots", mcuctl_print_conf_slots);
}

static int mcuctl_mute(mcuctl_client_t *c, const mcuctl_args_t *a, bool on)
{
    int ex = mcuctl_need_id(a->pos[0], a->cmd);
    if (ex)
        return ex;
    const char *what = a->npos > 1 ? a->pos[1] : "audio";
    bool audio = !strcmp(what, "audio") || !strcmp(what, "both");
    bool video = !strcmp(what, "video") || !strcmp(what, "both");
    if (!audio && !video)
        return mcuctl_usage_error("%s: '%s' must be audio, video or both", a->cmd, what);
    json_t *body = json_object();
    if (!body || (audio && json_object_set_new(body, "audio_muted", json_boolean(on))) ||
        (video && json_object_set_new(body, "video_muted", json_boolean(on)))) {
        json_decref(body);
        return mcuctl_oom();
    }
    return mcuctl_show_site(c, a->pos[0], body, mcuctl_print_mutes);
}

static int mcuctl_cmd_mute(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    return mcuctl_mute(c, a, true);
}

static int mcuctl_cmd_unmute(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    return mcuctl_mute(c, a, false);
}

static void mcuctl_print_label(const json_t *s)
{
    mcuctl_cell(mcuctl_jstr(s, "id"), 0);
    fputs(": label \"", stdout);
    mcuctl_cell(mcuctl_jstr(s, "label"), 0);
    fputs("\"\n", stdout);
}

static int mcuctl_cmd_label(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    int ex = mcuctl_need_id(a->pos[0], "label");
    if (ex)
        return ex;
    json_t *text = json_string(a->pos[1]); /* NULL for invalid UTF-8 */
    if (!text)
        return mcuctl_usage_error("label: the text is not valid UTF-8");
    json_t *body = mcuctl_one_field("label", text);
    if (!body)
        return mcuctl_oom();
    return mcuctl_show_site(c, a->pos[0], body, mcuctl_print_label);
}

static void mcuctl_print_gain(const json_t *s)
{
    char g[32];
    mcuctl_fmt_num(g, sizeof g, s, "gain", "%.2f", 1.0);
    mcuctl_cell(mcuctl_jstr(s, "id"), 0);
    printf(": gain %s\n", g);
}

static int mcuctl_cmd_gain(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    int ex = mcuctl_need_id(a->pos[0], "gain");
    if (ex)
        return ex;
    double g;
    if (!mcuctl_parse_double(a->pos[1], 0.0, MCUCTL_GAIN_MAX, &g))
        return mcuctl_usage_error("gain: '%s' must be a number 0..%g", a->pos[1],
                                  MCUCTL_GAIN_MAX);
    json_t *body = json_pack("{sf}", "gain", g);
    if (!body)
        return mcuctl_oom();
    return mcuctl_show_site(c, a->pos[0], body, mcuctl_print_gain);
}

/* --json of `settings` with no argument: the conference's "settings" as they are. */
static json_t *mcuctl_pick_settings(const json_t *conf)
{
    return json_incref(json_object_get(conf, "settings"));
}

static void mcuctl_print_conf_settings(const json_t *conf)
{
    mcuctl_print_settings(json_object_get(conf, "settings"));
}

static int mcuctl_cmd_settings(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    if (a->npos == 0)
        return mcuctl_show_conference(c, mcuctl_pick_settings, "settings",
                                      mcuctl_print_conf_settings);

    json_t *body = json_object();
    if (!body)
        return mcuctl_oom();
    for (int i = 0; i < a->npos; i++) {
        const char *kv = a->pos[i];
        const char *eq = strchr(kv, '=');
        size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
        const char *val = eq ? eq + 1 : NULL;
        json_t *v = NULL;
        const char *key;
        if (klen == strlen("hold_ms") && !strncmp(kv, "hold_ms", klen)) {
            key = "hold_ms";
        } else if (klen == strlen("rolling_interval_ms") &&
                   !strncmp(kv, "rolling_interval_ms", klen)) {
            key = "rolling_interval_ms";
        } else if (klen == strlen("pinned_in_loudest") &&
                   !strncmp(kv, "pinned_in_loudest", klen)) {
            key = "pinned_in_loudest";
        } else {
            json_decref(body);
            return mcuctl_usage_error("settings: unknown setting '%.*s' (hold_ms, "
                                      "pinned_in_loudest, rolling_interval_ms)", (int)klen,
                                      kv);
        }
        if (!val) {
            json_decref(body);
            return mcuctl_usage_error("settings: '%s' needs a value: %s=VALUE", kv, key);
        }
        if (json_object_get(body, key)) {
            json_decref(body);
            return mcuctl_usage_error("settings: '%s' given twice", key);
        }
        if (!strcmp(key, "pinned_in_loudest")) {
            if (strcmp(val, "true") != 0 && strcmp(val, "false") != 0) {
                json_decref(body);
                return mcuctl_usage_error("settings: pinned_in_loudest '%s' must be true "
                                          "or false", val);
            }
            v = json_boolean(!strcmp(val, "true"));
        } else {
            long ms;
            if (!mcuctl_parse_long(val, 0, MCUCTL_MAX_MS, &ms)) {
                json_decref(body);
                return mcuctl_usage_error("settings: %s '%s' must be an integer number of "
                                          "milliseconds 0..%ld", key, val, MCUCTL_MAX_MS);
            }
            v = json_integer(ms);
        }
        if (json_object_set_new(body, key, v) != 0) {
            json_decref(body);
            return mcuctl_oom();
        }
    }
    return mcuctl_show(c, "PUT", MCUCTL_API "/settings", body, mcuctl_print_settings);
}

static void mcuctl_print_keyframe(const json_t *root)
{
    puts(mcuctl_jbool(root, "requested") == 1 ? "keyframe requested"
                                              : "keyframe not requested");
}

static int mcuctl_cmd_keyframe(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    (void)a;
    return mcuctl_show(c, "POST", MCUCTL_API "/keyframe", NULL, mcuctl_print_keyframe);
}

/* Writes a whole answer to FILE ("-" = stdout). The body is complete in memory before
 * the file is opened, so a failed request never leaves a truncated file behind. */
static int mcuctl_save(const char *file, const mcuctl_buf_t *b)
{
    if (!strcmp(file, "-")) {
        fwrite(b->data, 1, b->len, stdout);
        return MCUCTL_EXIT_OK;
    }
    FILE *f = fopen(file, "wb");
    if (!f)
        return mcuctl_fail(MCUCTL_EXIT_SERVER, "cannot write %s: %s", file, strerror(errno));
    bool ok = fwrite(b->data, 1, b->len, f) == b->len;
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok)
        return mcuctl_fail(MCUCTL_EXIT_SERVER, "cannot write %s: %s", file, strerror(err));
    return MCUCTL_EXIT_OK;
}

/* After saving to a file: "wrote FILE (N bytes)", or {"file":..,"bytes":..} with --json. */
static int mcuctl_print_wrote(const mcuctl_client_t *c, const char *file, size_t bytes)
{
    if (!strcmp(file, "-"))
        return MCUCTL_EXIT_OK;
    if (c->json) {
        json_t *o = json_pack("{sssI}", "file", file, "bytes", (json_int_t)bytes);
        bool ok = o && mcuctl_print_json(o);
        json_decref(o);
        return ok ? MCUCTL_EXIT_OK : mcuctl_oom();
    }
    fputs("wrote ", stdout);
    mcuctl_cell(file, 0);
    printf(" (%zu bytes)\n", bytes);
    return MCUCTL_EXIT_OK;
}

/* GET of a non-JSON resource into memory; checks status. */
static int mcuctl_fetch(mcuctl_client_t *c, const char *path, const char *accept,
                        mcuctl_response_t *r)
{
    int ex = mcuctl_http(c, "GET", path, NULL, accept, r);
    if (ex)
        return ex;
    ex = mcuctl_check_status(c, &r->body, r->status);
    if (ex)
        mcuctl_response_free(r);
    return ex;
}

static int mcuctl_cmd_sdp(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    int ex = mcuctl_need_id(a->pos[0], "sdp");
    if (ex)
        return ex;
    if (a->out && !*a->out)
        return mcuctl_usage_error("sdp: -o needs a file name");
    char *path = mcuctl_site_path(c, a->pos[0], "/sdp");
    if (!path)
        return mcuctl_oom();
    mcuctl_response_t r;
    ex = mcuctl_fetch(c, path, "application/sdp", &r);
    free(path);
    if (ex)
        return ex;
    if (strncmp(r.body.data, "v=", 2) != 0) /* RFC 8866 5: an SDP starts with "v=" */
        ex = mcuctl_fail(MCUCTL_EXIT_SERVER, "the answer is not an SDP (no \"v=\" line "
                         "first; Content-Type %s)",
                         r.content_type[0] ? r.content_type : "none");
    else if (!(ex = mcuctl_save(a->out ? a->out : "-", &r.body)))
        ex = mcuctl_print_wrote(c, a->out ? a->out : "-", r.body.len);
    mcuctl_response_free(&r);
    return ex;
}

static int mcuctl_cmd_snapshot(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    const char *id = a->npos ? a->pos[0] : NULL;
    if (id) {
        int ex = mcuctl_need_id(id, "snapshot");
        if (ex)
            return ex;
    }
    if (a->out && !*a->out)
        return mcuctl_usage_error("snapshot: -o needs a file name");
    long width = 0;
    if (a->width && !mcuctl_parse_long(a->width, MCUCTL_MIN_WIDTH, MCUCTL_MAX_WIDTH, &width))
        return mcuctl_usage_error("snapshot: --width '%s' must be an integer %ld..%ld",
                                  a->width, MCUCTL_MIN_WIDTH, MCUCTL_MAX_WIDTH);
    char query[32] = "";
    if (width)
        snprintf(query, sizeof query, "?width=%ld", width);

    char *path = id ? mcuctl_site_path(c, id, "/snapshot.jpg")
                    : mcuctl_format(MCUCTL_API "/preview.jpg");
    char *full = path ? mcuctl_format("%s%s", path, query) : NULL;
    /* Default file: snapshot.jpg or ID.jpg, with '/' and a leading '.' replaced so an
     * odd id can neither leave the current directory nor make a hidden file. */
    char *file = a->out ? strdup(a->out) : id ? mcuctl_format("%s.jpg", id)
                                               : strdup("snapshot.jpg");
    free(path);
    if (!full || !file) {
        free(full);
        free(file);
        return mcuctl_oom();
    }
    if (!a->out) {
        for (char *p = file; *p; p++)
            if (*p == '/')
                *p = '_';
        if (file[0] == '.')
            file[0] = '_';
    }
    mcuctl_response_t r;
    int ex = mcuctl_fetch(c, full, "image/jpeg", &r);
    free(full);
    if (ex) {
        free(file);
        return ex;
    }
    const unsigned char *d = (const unsigned char *)r.body.data;
    if (r.body.len < 3 || d[0] != 0xff || d[1] != 0xd8 || d[2] != 0xff) {
        ex = mcuctl_fail(MCUCTL_EXIT_SERVER, "the answer is not a JPEG picture "
                         "(Content-Type %s, %zu bytes)",
                         r.content_type[0] ? r.content_type : "none", r.body.len);
    } else {
        ex = mcuctl_save(file, &r.body);
        if (!ex)
            ex = mcuctl_print_wrote(c, file, r.body.len);
    }
    mcuctl_response_free(&r);
    free(file);
    return ex;
}

static int mcuctl_cmd_metrics(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    (void)a;
    mcuctl_response_t r;
    int ex = mcuctl_fetch(c, "/metrics", "text/plain; version=0.0.4", &r);
    if (ex)
        return ex;
    fwrite(r.body.data, 1, r.body.len, stdout);
    mcuctl_response_free(&r);
    return MCUCTL_EXIT_OK;
}

/* ---- events (server-sent events, WHATWG HTML 9.2 parsing rules) ------------------------ */

typedef struct mcuctl_sse {
    mcuctl_client_t *c;
    bool checked;        /* status and Content-Type looked at (first body bytes) */
    bool streaming;      /* 200 text/event-stream: parse; else collect the error body */
    mcuctl_buf_t err;    /* error body */
    mcuctl_buf_t line;   /* the line being read */
    mcuctl_buf_t data;   /* data lines of the event being read, '\n'-joined */
    mcuctl_buf_t type;   /* its "event:" field; "" = "message" */
    mcuctl_buf_t id;     /* the last event id ("id:" persists across events) */
    bool cr;             /* the last byte was '\r': a following '\n' ends nothing */
    bool first_line;     /* strip a leading byte-order mark */
    long count, limit;   /* events printed; stop at limit (0 = never) */
    bool done;           /* limit reached */
    int fail;            /* exit status of a failure found in the callback */
} mcuctl_sse_t;

/* Writes JSON text as the server sent it (numbers keep their digits; re-encoding through
 * jansson would print -12.3 as -12.300000000000001), on one line: the '\n' between
 * multi-line "data:" fields, and tabs, become spaces, which JSON allows between tokens
 * (validated JSON has no raw control character inside a string). C1 controls inside
 * strings become \u00XX escapes: still the same JSON, and harmless on a terminal. */
static void mcuctl_put_json_line(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r')
            fputc(' ', stdout);
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            printf("\\u%04x", (unsigned)*++p);
        else
            fputc(*p, stdout);
    }
}

/* A JSON string literal for `s` (or null); false if `s` is not UTF-8. */
static bool mcuctl_put_json_string(const char *s)
{
    json_t *v = s ? json_string(s) : json_null();
    char *text = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    if (!text)
        return false;
    mcuctl_put_json_line(text);
    free(text);
    return true;
}

static bool mcuctl_sse_dispatch(mcuctl_sse_t *s)
{
    if (s->data.len == 0) { /* no data: nothing to dispatch (HTML 9.2.6) */
        mcuctl_buf_clear(&s->type);
        return true;
    }
    s->data.data[--s->data.len] = '\0'; /* the last '\n' */
    const char *type = s->type.len ? s->type.data : "message";
    json_error_t jerr;
    json_t *data = json_loadb(s->data.data, s->data.len, JSON_DECODE_ANY, &jerr);
    bool is_json = data != NULL;
    json_decref(data); /* parsed only to validate: the text is printed as sent */
    if (!is_json) {
        mcuctl_clean_inplace(jerr.text);
        fprintf(stderr, "mcuctl: event %ld (", s->count + 1);
        mcuctl_put_clean(stderr, type);
        fprintf(stderr, "): data is not JSON (%s)\n", jerr.text);
    }
    if (s->c->json) {
        /* {"event":TYPE,"id":ID|null,"data":DATA}; DATA as a string if it is not JSON. */
        fputs("{\"event\":", stdout);
        bool ok = mcuctl_put_json_string(type);
        fputs(",\"id\":", stdout);
        ok = ok && mcuctl_put_json_string(s->id.len ? s->id.data : NULL);
        fputs(",\"data\":", stdout);
        if (is_json)
            mcuctl_put_json_line(s->data.data);
        else
            ok = ok && mcuctl_put_json_string(s->data.data);
        fputs("}\n", stdout);
        if (!ok) {
            s->fail = mcuctl_fail(MCUCTL_EXIT_SERVER, "event %ld has a type, id or data "
                                  "that is not UTF-8", s->count + 1);
            return false;
        }
    } else {
        mcuctl_put_clean(stdout, type);
        fputc(' ', stdout);
        if (is_json)
            mcuctl_put_json_line(s->data.data);
        else
            mcuctl_put_clean(stdout, s->data.data); /* against the contract; one line */
        fputc('\n', stdout);
    }
    if (fflush(stdout) != 0) {
        s->fail = mcuctl_fail(MCUCTL_EXIT_SERVER, "writing to stdout: %s", strerror(errno));
        return false;
    }
    mcuctl_buf_clear(&s->type);
    mcuctl_buf_clear(&s->data);
    s->count++;
    if (s->limit && s->count >= s->limit) {
        s->done = true;
        return false;
    }
    return true;
}

/* One complete line (without its terminator). false stops the stream. */
static bool mcuctl_sse_line(mcuctl_sse_t *s)
{
    char *line = s->line.data ? s->line.data : "";
    size_t len = s->line.len;
    if (s->first_line) {
        s->first_line = false;
        if (len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
            line += 3;
            len -= 3;
        }
    }
    if (len == 0)
        return mcuctl_sse_dispatch(s);
    if (line[0] == ':') /* comment: ": keepalive" */
        return true;
    char *colon = memchr(line, ':', len);
    size_t flen = colon ? (size_t)(colon - line) : len;
    const char *val = colon ? colon + 1 : "";
    size_t vlen = colon ? len - flen - 1 : 0;
    if (vlen && *val == ' ') {
        val++;
        vlen--;
    }
    bool ok = true;
    if (flen == 5 && !memcmp(line, "event", 5)) {
        mcuctl_buf_clear(&s->type);
        ok = mcuctl_buf_append(&s->type, val, vlen);
    } else if (flen == 4 && !memcmp(line, "data", 4)) {
        ok = mcuctl_buf_append(&s->data, val, vlen) && mcuctl_buf_append(&s->data, "\n", 1);
    } else if (flen == 2 && !memcmp(line, "id", 2) && !memchr(val, '\0', vlen)) {
        mcuctl_buf_clear(&s->id);
        ok = mcuctl_buf_append(&s->id, val, vlen);
    } /* "retry" and unknown fields are ignored */
    if (!ok) {
        s->fail = s->data.oom || s->type.oom || s->id.oom
                      ? mcuctl_oom()
                      : mcuctl_fail(MCUCTL_EXIT_SERVER, "event %ld is larger than %zu MiB",
                                    s->count + 1, MCUCTL_MAX_BODY >> 20);
        return false;
    }
    return true;
}

static size_t mcuctl_on_sse(char *ptr, size_t size, size_t nmemb, void *ud)
{
    const char *p = ptr;
    mcuctl_sse_t *s = ud;
    size_t n = size * nmemb;
    if (!s->checked) {
        s->checked = true;
        long status = 0;
        char *ct = NULL;
        if (curl_easy_getinfo(s->c->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
            curl_easy_getinfo(s->c->curl, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK) {
            s->fail = mcuctl_fail(MCUCTL_EXIT_SERVER, "libcurl gave no HTTP status");
            return 0;
        }
        if (status == 200) {
            if (!ct || strncasecmp(ct, "text/event-stream", strlen("text/event-stream"))) {
                char shown[MCUCTL_CONTENT_TYPE_MAX];
                snprintf(shown, sizeof shown, "%s", ct ? ct : "none");
                mcuctl_clean_inplace(shown);
                s->fail = mcuctl_fail(MCUCTL_EXIT_SERVER, "the answer is not an event "
                                      "stream (Content-Type %s)", shown);
                return 0;
            }
            s->streaming = true;
        }
    }
    if (!s->streaming) {
        if (mcuctl_buf_append(&s->err, p, n))
            return n;
        s->fail = s->err.oom ? mcuctl_oom()
                             : mcuctl_fail(MCUCTL_EXIT_SERVER, "the error answer is larger "
                                           "than %zu MiB", MCUCTL_MAX_BODY >> 20);
        return 0;
    }
    const char *end = p + n;
    while (p < end) {
        if (s->cr) {
            s->cr = false;
            if (*p == '\n') {
                p++;
                continue;
            }
        }
        /* The run up to the next line terminator. */
        const char *q = p;
        while (q < end && *q != '\r' && *q != '\n')
            q++;
        if (q > p && !mcuctl_buf_append(&s->line, p, (size_t)(q - p))) {
            s->fail = s->line.oom ? mcuctl_oom()
                                  : mcuctl_fail(MCUCTL_EXIT_SERVER, "a line of the event "
                                                "stream is longer than %zu MiB",
                                                MCUCTL_MAX_BODY >> 20);
            return 0;
        }
        if (q == end)
            break;
        s->cr = *q == '\r';
        p = q + 1;
        bool go = mcuctl_sse_line(s);
        mcuctl_buf_clear(&s->line);
        if (!go)
            return 0; /* done or failed: abort the transfer */
    }
    return n;
}

static int mcuctl_cmd_events(mcuctl_client_t *c, const mcuctl_args_t *a)
{
    long limit = 0;
    if (a->count && !mcuctl_parse_long(a->count, 1, MCUCTL_MAX_COUNT, &limit))
        return mcuctl_usage_error("events: --count '%s' must be a positive integer",
                                  a->count);
    int ex = mcuctl_client_token(c);
    if (ex)
        return ex;
    mcuctl_sse_t s = {.c = c, .limit = limit, .first_line = true};
    char *url = mcuctl_format("%s" MCUCTL_API "/events", c->base_url);
    struct curl_slist *hdrs = mcuctl_headers(c, "text/event-stream", false);
    if (!url || !hdrs) {
        ex = mcuctl_oom();
        goto out;
    }
    CURLcode rc = mcuctl_common_opts(c, url, hdrs);
    if (rc != CURLE_OK)
        goto setopt_failed;
    /* No CURLOPT_TIMEOUT: the stream lasts as long as wanted. A silent connection is
     * dropped after MCUCTL_EVENTS_IDLE_S instead. */
    MCUCTL_SETOPT(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    MCUCTL_SETOPT(c->curl, CURLOPT_LOW_SPEED_TIME, MCUCTL_EVENTS_IDLE_S);
    MCUCTL_SETOPT(c->curl, CURLOPT_WRITEFUNCTION, mcuctl_on_sse);
    MCUCTL_SETOPT(c->curl, CURLOPT_WRITEDATA, &s);

    rc = curl_easy_perform(c->curl);
    if (s.done) {
        ex = MCUCTL_EXIT_OK;
    } else if (s.fail) {
        ex = s.fail;
    } else if (rc != CURLE_OK) {
        char after[64];
        snprintf(after, sizeof after, "after %ld event%s", s.count, s.count == 1 ? "" : "s");
        if (rc == CURLE_OPERATION_TIMEDOUT && s.streaming)
            ex = mcuctl_fail(MCUCTL_EXIT_CONNECT, "nothing from %s for %ld s (%s): "
                             "connection lost", c->base_url, MCUCTL_EVENTS_IDLE_S, after);
        else
            ex = mcuctl_transport_error(c, rc, s.streaming ? after : NULL);
    } else {
        long status = 0;
        if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
            status = 0;
        if (!s.streaming && status == 200)
            ex = mcuctl_fail(MCUCTL_EXIT_SERVER, "the event stream answer is empty");
        else if (!s.streaming)
            ex = mcuctl_check_status(c, &s.err, status);
        else
            ex = mcuctl_fail(MCUCTL_EXIT_CONNECT, "%s closed the event stream after %ld "
                             "event%s", c->base_url, s.count, s.count == 1 ? "" : "s");
    }
    goto out;

setopt_failed:
    ex = mcuctl_fail(MCUCTL_EXIT_SERVER, "libcurl: %s", curl_easy_strerror(rc));
out:
    curl_slist_free_all(hdrs);
    free(url);
    mcuctl_buf_free(&s.err);
    mcuctl_buf_free(&s.line);
    mcuctl_buf_free(&s.data);
    mcuctl_buf_free(&s.type);
    mcuctl_buf_free(&s.id);
    return ex;
}

/* ---- dispatch ------------------------------------------------------------------------- */

typedef struct mcuctl_command {
    const char *name;
    mcuctl_run_fn run;
    int min_args, max_args;
    unsigned opts; /* MCUCTL_OPT_* allowed */
    const char *usage;
} mcuctl_command_t;

static const mcuctl_command_t mcuctl_commands[] = {
    {"status", mcuctl_cmd_status, 0, 0, 0, "status"},
    {"sites", mcuctl_cmd_sites, 0, 0, 0, "sites"},
    {"site", mcuctl_cmd_site, 1, 1, 0, "site ID"},
    {"layout", mcuctl_cmd_layout, 0, 1, MCUCTL_OPT_REGIONS,
     "layout [PRESET|auto] | layout --regions \"x,y,w,h;...\""},
    {"layouts", mcuctl_cmd_layouts, 0, 0, 0, "layouts"},
    {"slot", mcuctl_cmd_slot, 2, 3, 0, "slot N MODE [SITE]"},
    {"slots", mcuctl_cmd_slots, 0, 0, 0, "slots"},
    {"mute", mcuctl_cmd_mute, 1, 2, 0, "mute ID [audio|video|both]"},
    {"unmute", mcuctl_cmd_unmute, 1, 2, 0, "unmute ID [audio|video|both]"},
    {"label", mcuctl_cmd_label, 2, 2, 0, "label ID TEXT"},
    {"gain", mcuctl_cmd_gain, 2, 2, 0, "gain ID VALUE"},
    {"settings", mcuctl_cmd_settings, 0, 3, 0,
     "settings [hold_ms=N] [pinned_in_loudest=true|false] [rolling_interval_ms=N]"},
    {"keyframe", mcuctl_cmd_keyframe, 0, 0, 0, "keyframe"},
    {"sdp", mcuctl_cmd_sdp, 1, 1, MCUCTL_OPT_OUT, "sdp ID [-o FILE]"},
    {"snapshot", mcuctl_cmd_snapshot, 0, 1, MCUCTL_OPT_OUT | MCUCTL_OPT_WIDTH,
     "snapshot [ID] [-o FILE] [--width N]"},
    {"events", mcuctl_cmd_events, 0, 0, MCUCTL_OPT_COUNT, "events [--count N]"},
    {"metrics", mcuctl_cmd_metrics, 0, 0, 0, "metrics"},
};

static const char *mcuctl_opt_name(unsigned bit)
{
    switch (bit) {
    case MCUCTL_OPT_OUT: return "-o/--output";
    case MCUCTL_OPT_WIDTH: return "--width";
    case MCUCTL_OPT_COUNT: return "--count";
    default: return "--regions";
    }
}

/* The base URL: --url, $MCU_URL or the default; http(s) only; no trailing '/'. */
static int mcuctl_base_url(const char *arg, char **out)
{
    const char *url = arg, *from = "--url";
    if (!url) {
        url = getenv("MCU_URL");
        from = "$MCU_URL";
    }
    if (!url || !*url) {
        url = MCUCTL_DEFAULT_URL;
        from = "the default";
    }
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return mcuctl_usage_error("URL '%s' (from %s) must start with http:// or https://",
                                  url, from);
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return mcuctl_usage_error("URL from %s contains a space or control character",
                                      from);
    char *u = strdup(url);
    if (!u)
        return mcuctl_oom();
    size_t n = strlen(u);
    while (n > 0 && u[n - 1] == '/')
        u[--n] = '\0';
    *out = u;
    return MCUCTL_EXIT_OK;
}

int main(int argc, char **argv)
{
    mcuctl_args_t a = {0};
    int ex = mcuctl_parse_args(argc, argv, &a);
    if (ex)
        return ex;
    if (a.help || (a.cmd && !strcmp(a.cmd, "help"))) {
        fputs(mcuctl_help_text, stdout);
        return MCUCTL_EXIT_OK;
    }
    if (!a.cmd)
        return mcuctl_usage_error("no command given");

    const mcuctl_command_t *cmd = NULL;
    for (size_t i = 0; i < sizeof mcuctl_commands / sizeof mcuctl_commands[0]; i++)
        if (!strcmp(a.cmd, mcuctl_commands[i].name))
            cmd = &mcuctl_commands[i];
    if (!cmd)
        return mcuctl_usage_error("unknown command '%s'", a.cmd);
    unsigned bad = a.given & ~cmd->opts;
    if (bad)
        return mcuctl_usage_error("option %s is not valid for '%s' (usage: mcuctl %s)",
                                  mcuctl_opt_name(bad & -bad), cmd->name, cmd->usage);
    if (a.npos < cmd->min_args)
        return mcuctl_usage_error("%s: missing argument (usage: mcuctl %s)", cmd->name,
                                  cmd->usage);
    if (a.npos > cmd->max_args)
        return mcuctl_usage_error("%s: unexpected argument '%s' (usage: mcuctl %s)",
                                  cmd->name, a.pos[cmd->max_args], cmd->usage);

    mcuctl_client_t c = {.token_arg = a.token, .token_file = a.token_file, .json = a.json};
    ex = mcuctl_base_url(a.url, &c.base_url);
    if (ex)
        return ex;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(c.base_url);
        return mcuctl_fail(MCUCTL_EXIT_SERVER, "cannot initialise libcurl");
    }
    c.curl = curl_easy_init();
    if (!c.curl) {
        ex = mcuctl_fail(MCUCTL_EXIT_SERVER, "cannot initialise libcurl");
    } else {
        ex = cmd->run(&c, &a);
        curl_easy_cleanup(c.curl);
    }
    curl_global_cleanup();
    free(c.token);
    free(c.base_url);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mcuctl: writing to stdout: %s\n", strerror(errno));
        if (!ex)
            ex = MCUCTL_EXIT_SERVER;
    }
    return ex;
}
