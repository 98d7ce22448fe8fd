/*
 * test_api: the control API's edges, against the real daemon over HTTP on 127.0.0.1
 * (libcurl as the client). Built in the ASan + UBSan tree too, where the daemon under
 * test is the sanitised one: the last check is that it exits cleanly with no leak.
 *
 *   test_api MCU_BIN WORK_DIR
 *
 * Every route answers 401 without the token (and with a wrong one); bad JSON gets 400
 * naming the problem, a bad field 400 naming the field; unknown sites and slots 404; a
 * slot outside the layout 409; a 65 KiB body 413 (with a length and chunked); too many
 * headers 431; then 1000 requests of random JSON on every writable route, none of which
 * may get a 5xx; finally SIGTERM, and the daemon must exit 0 with no sanitizer report.
 */
#include <curl/curl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define PORT_BASE 35000
#define CONTROL_PORT (PORT_BASE + 900)
#define TOKEN "api-test-token-abcdefghijklmnop"
/* Random requests sent by the fuzz round (the figure). */
#define RANDOM_REQUESTS 1000
/* Deepest nesting of a random JSON value, and the most members per container. */
#define RANDOM_DEPTH 4
#define RANDOM_WIDTH 6
/* Seconds to wait for the daemon to listen (an ASan build starts slowly). */
#define START_TIMEOUT_S 20

static const char *mcu_bin, *work_dir;
static pid_t daemon_pid;
static CURL *curl;
static char log_path[512];

typedef struct reply {
    long status;
    char *body;
    size_t len;
} reply_t;

static size_t on_data(char *p, size_t size, size_t n, void *opaque)
{
    reply_t *r = opaque;
    size_t add = size * n;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, p, add);
    r->body = nb;
    r->len += add;
    r->body[r->len] = '\0';
    return add;
}

/* One request. token NULL: none. extra_headers may be NULL. body NULL: none. */
static reply_t request(const char *method, const char *path, const char *token,
                       const char *body, size_t body_len, struct curl_slist *extra)
{
    reply_t r = {0};
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", CONTROL_PORT, path);
    struct curl_slist *h = NULL;
    char auth[256];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    for (struct curl_slist *e = extra; e; e = e->next)
        h = curl_slist_append(h, e->data);
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    else if (rc == CURLE_OPERATION_TIMEDOUT && strstr(path, "events"))
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status); /* a stream never ends */
    curl_slist_free_all(h);
    if (!r.body)
        r.body = calloc(1, 1);
    return r;
}

static reply_t req(const char *method, const char *path, const char *body)
{
    return request(method, path, TOKEN, body, body ? strlen(body) : 0, NULL);
}

static void expect(reply_t r, long status, const char *code, const char *needle)
{
    if (r.status != status || (code && !strstr(r.body, code)) || (needle && !strstr(r.body, needle)))
        fail_msg("expected %ld %s containing \"%s\", got %ld: %s", status, code ? code : "",
                 needle ? needle : "", r.status, r.body);
    free(r.body);
}

/* ---------------------------------------------------------------- daemon */

static int start_daemon(void **state)
{
    char path[512];
    mkdir(work_dir, 0755);
    snprintf(path, sizeof path, "%s/api.json", work_dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"conference\": {\"name\": \"api\", \"layout\": \"grid4\", \"sdp_dir\": \"%s/sdp\"},\n"
               " \"control\": {\"port\": %d, \"token\": \"%s\"},\n \"sites\": [\n",
            work_dir, CONTROL_PORT, TOKEN);
    const char *names[] = {"Huyện Yên Mô", "Khánh Thượng", "Yên Thắng"};
    for (int i = 0; i < 3; i++)
        fprintf(f, "  {\"id\": \"s%d\", \"name\": \"%s\", \"rtp_port\": %d, \"plain_rtp\": true, \"send_to\": "
                   "{\"address\": \"127.0.0.1\", \"video_port\": %d}}%s\n",
                i + 1, names[i], PORT_BASE + 4 * i, PORT_BASE + 1000 + 4 * i, i < 2 ? "," : "");
    fprintf(f, " ]\n}\n");
    fclose(f);
    snprintf(log_path, sizeof log_path, "%s/mcu.log", work_dir);
    unlink(log_path);
    char state_file[512];
    snprintf(state_file, sizeof state_file, "%s/api.state.json", work_dir);
    unlink(state_file);
    daemon_pid = fork();
    if (daemon_pid == 0) {
        FILE *lf = freopen(log_path, "w", stderr);
        (void)lf;
        execl(mcu_bin, mcu_bin, "--config", path, (char *)NULL);
        _exit(127);
    }
    curl = curl_easy_init();
    for (int i = 0; i < START_TIMEOUT_S * 10; i++) {
        reply_t r = req("GET", "/api/v1/conference", NULL);
        free(r.body);
        if (r.status == 200)
            return 0;
        usleep(100000);
    }
    fprintf(stderr, "the daemon did not answer within %d s\n", START_TIMEOUT_S);
    return -1;
}

static int stop_daemon(void **state)
{
    curl_easy_cleanup(curl);
    if (daemon_pid > 0)
        kill(daemon_pid, SIGKILL);
    return 0;
}

/* ---------------------------------------------------------------- tests */

static const struct { const char *method, *path; } routes[] = {
    {"GET", "/"}, {"GET", "/index.html"}, {"GET", "/app.js"}, {"GET", "/app.css"},
    {"GET", "/metrics"}, {"GET", "/api/v1/conference"}, {"GET", "/api/v1/sites"},
    {"GET", "/api/v1/sites/s1"}, {"PUT", "/api/v1/sites/s1"},
    {"GET", "/api/v1/sites/s1/snapshot.jpg"}, {"GET", "/api/v1/sites/s1/sdp"},
    {"GET", "/api/v1/layouts"}, {"GET", "/api/v1/layout"}, {"PUT", "/api/v1/layout"},
    {"GET", "/api/v1/slots"}, {"PUT", "/api/v1/slots/0"}, {"GET", "/api/v1/settings"},
    {"PUT", "/api/v1/settings"}, {"POST", "/api/v1/keyframe"},
    {"GET", "/api/v1/preview.jpg"}, {"GET", "/api/v1/events"}, {"GET", "/api/v1/nothing"},
    {"DELETE", "/api/v1/conference"},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

static void test_every_route_needs_the_token(void **state)
{
    const char *bad_tokens[] = {NULL, "", "wrong", TOKEN "x", "api-test-token-abcdefghijklmno"};
    for (size_t i = 0; i < N_ROUTES; i++) {
        for (size_t t = 0; t < sizeof bad_tokens / sizeof bad_tokens[0]; t++) {
            const char *body = strcmp(routes[i].method, "PUT") == 0 ? "{}" : NULL;
            reply_t r = request(routes[i].method, routes[i].path, bad_tokens[t], body,
                                body ? 2 : 0, NULL);
            if (r.status != 401 || !strstr(r.body, "\"unauthorized\""))
                fail_msg("%s %s with token %s: %ld %s", routes[i].method, routes[i].path,
                         bad_tokens[t] ? bad_tokens[t] : "(none)", r.status, r.body);
            free(r.body);
        }
    }
    /* The query parameter works as well as the header (the page's <img> and SSE). */
    reply_t r = request("GET", "/api/v1/conference?access_token=" TOKEN, NULL, NULL, 0, NULL);
    expect(r, 200, "\"layout\"", NULL);
    r = request("GET", "/api/v1/conference?access_token=nope", NULL, NULL, 0, NULL);
    expect(r, 401, "unauthorized", NULL);
}

static void test_bad_json_names_the_problem(void **state)
{
    expect(req("PUT", "/api/v1/layout", "{\"preset\": "), 400, "bad_json", "line 1");
    expect(req("PUT", "/api/v1/layout", "[1, 2]"), 400, "bad_json", "JSON object");
    expect(req("PUT", "/api/v1/layout", ""), 400, "bad_json", NULL);
    expect(req("PUT", "/api/v1/layout", "{\"preset\": 5}"), 400, "bad_field", "'preset'");
    expect(req("PUT", "/api/v1/layout", "{\"preset\": \"grid7\"}"), 400, "bad_field", "'preset'");
    expect(req("PUT", "/api/v1/layout", "{\"regions\": [{\"x\": 0, \"y\": 0, \"w\": 2, \"h\": 1}]}"),
           400, "bad_field", "'regions[0]'");
    expect(req("PUT", "/api/v1/layout", "{\"regions\": [{\"x\": 0, \"y\": 0, \"w\": 1}]}"), 400,
           "bad_field", "'regions[0]'");
    expect(req("PUT", "/api/v1/layout", "{\"preset\": \"grid4\", \"bogus\": 1}"), 400,
           "bad_field", "'bogus'");
    expect(req("PUT", "/api/v1/slots/0", "{\"mode\": \"loudest\", \"site\": \"s1\"}"), 400,
           "bad_field", "'site'");
    expect(req("PUT", "/api/v1/slots/0", "{\"mode\": \"best\"}"), 400, "bad_field", "'mode'");
    expect(req("PUT", "/api/v1/slots/0", "{\"mode\": \"site\"}"), 400, "bad_field", "'site'");
    expect(req("PUT", "/api/v1/sites/s1", "{\"gain\": 9}"), 400, "bad_field", "'gain'");
    expect(req("PUT", "/api/v1/sites/s1", "{\"audio_muted\": \"yes\"}"), 400, "bad_field",
           "'audio_muted'");
    expect(req("PUT", "/api/v1/sites/s1", "{\"label\": \"a\\u0007b\"}"), 400, "bad_field",
           "'label'");
    expect(req("PUT", "/api/v1/settings", "{\"hold_ms\": -1}"), 400, "bad_field", "'hold_ms'");
    expect(req("GET", "/api/v1/preview.jpg?width=abc", NULL), 400, "bad_field", "'width'");
    /* ...and good requests still work, the label NFC-normalised. */
    expect(req("PUT", "/api/v1/sites/s2", "{\"label\": \"  Kha\\u0301nh Thu\\u031Bo\\u031B\\u0323ng \"}"),
           200, "\"label\":\"Khánh Thượng\"", NULL);
    expect(req("PUT", "/api/v1/slots/1", "{\"mode\": \"loudest\"}"), 200, "\"loudest\"", NULL);
    expect(req("GET", "/api/v1/sites/s1/sdp", NULL), 200, "m=video 36000", NULL);
    expect(req("POST", "/api/v1/keyframe", NULL), 202, "requested", NULL);
}

static void test_unknown_things_are_404(void **state)
{
    expect(req("GET", "/api/v1/sites/nope", NULL), 404, "not_found", "'nope'");
    expect(req("PUT", "/api/v1/sites/nope", "{}"), 404, "not_found", "'nope'");
    expect(req("GET", "/api/v1/sites/nope/snapshot.jpg", NULL), 404, "not_found", NULL);
    expect(req("GET", "/api/v1/sites/s1/snapshot.jpg", NULL), 404, "no_picture", NULL);
    expect(req("PUT", "/api/v1/slots/0", "{\"mode\": \"site\", \"site\": \"nope\"}"), 404,
           "not_found", "'nope'");
    expect(req("PUT", "/api/v1/slots/99", "{\"mode\": \"auto\"}"), 404, "not_found", NULL);
    expect(req("PUT", "/api/v1/slots/x", "{\"mode\": \"auto\"}"), 404, "not_found", NULL);
    expect(req("GET", "/api/v2/conference", NULL), 404, "not_found", NULL);
    expect(req("DELETE", "/api/v1/conference", NULL), 405, "method_not_allowed", NULL);
    expect(req("PUT", "/api/v1/layout", "{\"preset\": \"grid4\"}"), 200, NULL, NULL);
    expect(req("PUT", "/api/v1/slots/10", "{\"mode\": \"auto\"}"), 409, "conflict", "4 slots");
}

static void test_limits(void **state)
{
    size_t n = 65 * 1024;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\0';
    expect(request("PUT", "/api/v1/layout", TOKEN, big, n, NULL), 413, "too_large", NULL);
    /* Chunked: no length up front, the body is counted as it comes. */
    struct curl_slist *chunked = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    expect(request("PUT", "/api/v1/layout", TOKEN, big, n, chunked), 413, "too_large", NULL);
    curl_slist_free_all(chunked);
    free(big);
    /* 64 KiB exactly is allowed through the size check (and then judged as JSON). */
    struct curl_slist *many = NULL;
    for (int i = 0; i < 100; i++) {
        char h[64];
        snprintf(h, sizeof h, "X-Filler-%d: %d", i, i);
        many = curl_slist_append(many, h);
    }
    reply_t r = request("GET", "/api/v1/conference", TOKEN, NULL, 0, many);
    curl_slist_free_all(many);
    expect(r, 431, NULL, NULL);
    expect(req("GET", "/api/v1/conference", NULL), 200, "\"sites\"", NULL);
}

/* ---- random JSON */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

static void put(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n + 64;
        b->p = realloc(b->p, b->cap);
    }
}

static const char *const keys[] = {"preset", "regions", "mode", "site", "audio_muted",
                                   "video_muted", "label", "gain", "hold_ms",
                                   "pinned_in_loudest", "rolling_interval_ms", "x", "y", "w",
                                   "h", "", "\\u0000", "ỹ"};
static const char *const strings[] = {"grid4", "auto", "speaker1+5", "site", "loudest",
                                      "rolling", "blank", "s1", "s2", "s3", "Yên Thắng",
                                      "\\ud800", "\\u0007", "", "grid25", "custom",
                                      "Khánh Thượng Khánh Thượng Khánh Thượng Khánh Thượng "
                                      "Khánh Thượng Khánh Thượng Khánh Thượng"};

static void random_value(sbuf_t *b, int depth)
{
    switch (rnd() % (depth < RANDOM_DEPTH ? 9 : 6)) {
    case 0: put(b, "null"); break;
    case 1: put(b, rnd() % 2 ? "true" : "false"); break;
    case 2: put(b, "%d", (int)(rnd() % 200) - 50); break;
    case 3: put(b, "%.4f", (double)(rnd() % 3000) / 1000.0 - 0.5); break;
    case 4: put(b, "%s", rnd() % 2 ? "1e308" : "-123456789012345678901234567890"); break;
    case 5: put(b, "\"%s\"", strings[rnd() % (sizeof strings / sizeof strings[0])]); break;
    case 6: case 7: {
        int n = (int)(rnd() % RANDOM_WIDTH);
        put(b, "{");
        for (int i = 0; i < n; i++) {
            put(b, "%s\"%s\":", i ? "," : "", keys[rnd() % (sizeof keys / sizeof keys[0])]);
            random_value(b, depth + 1);
        }
        put(b, "}");
        break;
    }
    default: {
        int n = (int)(rnd() % RANDOM_WIDTH);
        put(b, "[");
        for (int i = 0; i < n; i++) {
            put(b, "%s", i ? "," : "");
            random_value(b, depth + 1);
        }
        put(b, "]");
    }
    }
}

static void test_random_json(void **state)
{
    static const struct { const char *method, *path; } writable[] = {
        {"PUT", "/api/v1/layout"}, {"PUT", "/api/v1/slots/0"}, {"PUT", "/api/v1/slots/3"},
        {"PUT", "/api/v1/slots/24"}, {"PUT", "/api/v1/sites/s1"}, {"PUT", "/api/v1/sites/s3"},
        {"PUT", "/api/v1/settings"}, {"POST", "/api/v1/keyframe"}, {"GET", "/api/v1/conference"},
        {"GET", "/api/v1/sites/s2"}, {"PUT", "/api/v1/conference"}, {"POST", "/api/v1/layout"},
        {"GET", "/metrics"},
    };
    int by_class[6] = {0};
    for (int i = 0; i < RANDOM_REQUESTS; i++) {
        sbuf_t b = {0};
        put(&b, "%s", "");
        if (rnd() % 4 == 0) {
            random_value(&b, 0); /* anything at all */
        } else {                 /* an object, mostly with the keys the API knows */
            int n = 1 + (int)(rnd() % 3);
            put(&b, "{");
            for (int k = 0; k < n; k++) {
                put(&b, "%s\"%s\":", k ? "," : "", keys[rnd() % 11]);
                random_value(&b, 1);
            }
            put(&b, "}");
        }
        if (rnd() % 10 == 0 && b.len > 2)
            b.len -= 1 + rnd() % (b.len - 1); /* cut short: invalid JSON */
        size_t w = rnd() % (sizeof writable / sizeof writable[0]);
        reply_t r = request(writable[w].method, writable[w].path, TOKEN, b.p, b.len, NULL);
        if (r.status < 200 || r.status >= 500)
            fail_msg("request %d: %s %s %.*s -> %ld %s", i, writable[w].method,
                     writable[w].path, (int)b.len, b.p, r.status, r.body);
        by_class[r.status / 100]++;
        free(r.body);
        free(b.p);
    }
    printf("random requests: %d 2xx, %d 4xx\n", by_class[2], by_class[4]);
    expect(req("GET", "/api/v1/conference", NULL), 200, "\"sites\"", NULL);
}

/* Last: the daemon stops on SIGTERM, exits 0, and (under ASan) reports no leak. */
static void test_clean_exit(void **state)
{
    assert_int_equal(kill(daemon_pid, SIGTERM), 0);
    int status = 0;
    for (int i = 0; i < 300 && waitpid(daemon_pid, &status, WNOHANG) == 0; i++)
        usleep(100000);
    pid_t pid = daemon_pid;
    daemon_pid = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        kill(pid, SIGKILL);
        fail_msg("the daemon did not exit cleanly (status %d); see %s", status, log_path);
    }
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    char line[1024];
    while (fgets(line, sizeof line, f))
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error"))
            fail_msg("sanitizer report in %s: %s", log_path, line);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_api MCU_BIN WORK_DIR\n");
        return 2;
    }
    mcu_bin = argv[1];
    work_dir = argv[2];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route_needs_the_token),
        cmocka_unit_test(test_bad_json_names_the_problem),
        cmocka_unit_test(test_unknown_things_are_404),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_random_json),
        cmocka_unit_test(test_clean_exit),
    };
    int rc = cmocka_run_group_tests(tests, start_daemon, stop_daemon);
    curl_global_cleanup();
    return rc;
}
