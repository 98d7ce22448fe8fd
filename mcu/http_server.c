#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mcu/config.h"
#include "mcu/error.h"
#include "mcu/log.h"

struct mcu_http_request {
    mcu_http_server_t *srv;
    int refs;                   /* connection thread + loop; under srv->mu */
    bool answered;              /* the loop responded */
    bool abandoned;             /* the connection gave up waiting */
    char method[16];
    char *path;
    char *body;
    size_t body_len;
    int n_query;
    char *query_key[MCU_HTTP_MAX_QUERY], *query_val[MCU_HTTP_MAX_QUERY];
    /* The answer. */
    int status;
    char content_type[64];
    char *resp;
    size_t resp_len;
    char *sse_hello;            /* non-NULL: become an SSE stream */
    uint64_t sse_from;
};

/* Per connection, across the access handler's calls for one request. */
typedef struct conn_ctx {
    bool responded;             /* an early answer (auth, limits) is queued */
    bool too_large;
    char *body;
    size_t body_len;
} conn_ctx_t;

struct mcu_http_server {
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    uv_async_t async;
    mcu_http_handler_fn handler;
    void *opaque;
    const mcu_http_asset_t *assets;
    size_t n_assets;
    pthread_mutex_t mu;
    pthread_cond_t cond;        /* answers, new events, closing */
    char token[MCU_TOKEN_MAX];
    bool closing;
    mcu_http_request_t *queue[MCU_HTTP_MAX_QUEUED];
    int n_queued;
    char *ring[MCU_HTTP_SSE_RING];  /* formatted events; seq % MCU_HTTP_SSE_RING */
    uint64_t ring_next;         /* the next event's id */
    mcu_http_stats_t stats;
};

/* ---------------------------------------------------------------- requests */

static void request_free(mcu_http_request_t *r)
{
    free(r->path);
    free(r->body);
    for (int i = 0; i < r->n_query; i++) {
        free(r->query_key[i]);
        free(r->query_val[i]);
    }
    free(r->resp);
    free(r->sse_hello);
    free(r);
}

/* Under srv->mu. */
static void request_unref_locked(mcu_http_request_t *r)
{
    if (--r->refs == 0)
        request_free(r);
}

const char *mcu_http_method(const mcu_http_request_t *r) { return r->method; }
const char *mcu_http_path(const mcu_http_request_t *r) { return r->path; }

const char *mcu_http_body(const mcu_http_request_t *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body ? r->body : "";
}

const char *mcu_http_query(const mcu_http_request_t *r, const char *key)
{
    for (int i = 0; i < r->n_query; i++)
        if (strcmp(r->query_key[i], key) == 0)
            return r->query_val[i] ? r->query_val[i] : "";
    return NULL;
}

void mcu_http_respond(mcu_http_request_t *r, int status, const char *content_type, char *body,
                      size_t len)
{
    mcu_http_server_t *s = r->srv;
    pthread_mutex_lock(&s->mu);
    if (r->abandoned) {
        free(body);
    } else {
        r->status = status;
        snprintf(r->content_type, sizeof r->content_type, "%s", content_type ? content_type : "");
        r->resp = body;
        r->resp_len = len;
        r->answered = true;
        pthread_cond_broadcast(&s->cond);
    }
    request_unref_locked(r);
    pthread_mutex_unlock(&s->mu);
}

void mcu_http_respond_json(mcu_http_request_t *r, int status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(j);
    if (!text) {
        mcu_http_respond_error(r, 500, "internal", "out of memory");
        return;
    }
    size_t n = strlen(text);
    mcu_http_respond(r, status, "application/json", text, n);
}

void mcu_http_respond_error(mcu_http_request_t *r, int status, const char *code,
                            const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(j);
    mcu_http_respond(r, status, "application/json", text, text ? strlen(text) : 0);
}

void mcu_http_respond_sse(mcu_http_request_t *r, const char *hello_json)
{
    mcu_http_server_t *s = r->srv;
    size_t n = strlen(hello_json) + 64;
    char *hello = malloc(n);
    pthread_mutex_lock(&s->mu);
    if (!r->abandoned && hello && s->stats.sse_clients < MCU_HTTP_MAX_SSE) {
        snprintf(hello, n, "retry: 2000\nevent: hello\ndata: %s\n\n", hello_json);
        r->sse_hello = hello;
        r->sse_from = s->ring_next; /* no event between hello and the stream is lost */
        s->stats.sse_clients++;
        r->status = 200;
        r->answered = true;
        pthread_cond_broadcast(&s->cond);
        request_unref_locked(r);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    pthread_mutex_unlock(&s->mu);
    free(hello);
    mcu_http_respond_error(r, 503, "unavailable", "too many event streams (at most %d)",
                           MCU_HTTP_MAX_SSE);
}

/* ---------------------------------------------------------------- SSE */

void mcu_http_publish(mcu_http_server_t *s, const char *type, const char *json)
{
    size_t n = strlen(type) + strlen(json) + 64;
    char *ev = malloc(n);
    if (!ev)
        return;
    pthread_mutex_lock(&s->mu);
    snprintf(ev, n, "event: %s\nid: %llu\ndata: %s\n\n", type, (unsigned long long)s->ring_next,
             json);
    size_t slot = s->ring_next % MCU_HTTP_SSE_RING;
    free(s->ring[slot]);
    s->ring[slot] = ev;
    s->ring_next++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

int mcu_http_sse_clients(mcu_http_server_t *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->stats.sse_clients;
    pthread_mutex_unlock(&s->mu);
    return n;
}

typedef struct sse_stream {
    mcu_http_server_t *srv;
    uint64_t next;              /* next ring event to send */
    char *pending;              /* text being sent */
    size_t off;
} sse_stream_t;

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    sse_stream_t *x = cls;
    mcu_http_server_t *s = x->srv;
    for (;;) {
        if (x->pending) {
            size_t left = strlen(x->pending + x->off);
            size_t n = left < max ? left : max;
            memcpy(buf, x->pending + x->off, n);
            x->off += n;
            if (x->off >= strlen(x->pending)) {
                free(x->pending);
                x->pending = NULL;
                x->off = 0;
            }
            return (ssize_t)n;
        }
        pthread_mutex_lock(&s->mu);
        uint64_t oldest = s->ring_next > MCU_HTTP_SSE_RING ? s->ring_next - MCU_HTTP_SSE_RING : 0;
        if (s->closing || x->next < oldest) {
            /* Shutting down, or too slow to follow: the client reconnects. */
            pthread_mutex_unlock(&s->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (x->next == s->ring_next) {
            struct timespec ts;
            deadline_in(&ts, MCU_HTTP_SSE_KEEPALIVE_S * 1000L);
            int rc = 0;
            while (x->next == s->ring_next && !s->closing && rc != ETIMEDOUT)
                rc = pthread_cond_timedwait(&s->cond, &s->mu, &ts);
            if (rc == ETIMEDOUT && x->next == s->ring_next)
                x->pending = strdup(": keepalive\n\n");
        } else {
            x->pending = strdup(s->ring[x->next % MCU_HTTP_SSE_RING]);
            x->next++;
        }
        pthread_mutex_unlock(&s->mu);
        if (!x->pending && !s->closing)
            continue;
        if (!x->pending)
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
}

static void sse_free(void *cls)
{
    sse_stream_t *x = cls;
    pthread_mutex_lock(&x->srv->mu);
    x->srv->stats.sse_clients--;
    pthread_mutex_unlock(&x->srv->mu);
    free(x->pending);
    free(x);
}

/* ---------------------------------------------------------------- responses */

static void count_status(mcu_http_server_t *s, unsigned status)
{
    pthread_mutex_lock(&s->mu);
    s->stats.requests++;
    if (status / 100 < 6)
        s->stats.by_class[status / 100]++;
    if (status == 503)
        s->stats.rejected_busy++;
    if (status == 401)
        s->stats.unauthorized++;
    pthread_mutex_unlock(&s->mu);
}

static enum MHD_Result queue(mcu_http_server_t *s, struct MHD_Connection *conn, unsigned status,
                             const char *type, char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body ? body : (char *)"",
                                        body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    if (type && *type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"mcu\"");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    count_status(s, status);
    return ret;
}

static enum MHD_Result queue_error(mcu_http_server_t *s, struct MHD_Connection *conn,
                                   unsigned status, const char *code, const char *msg)
{
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(j);
    return queue(s, conn, status, "application/json", text, text ? strlen(text) : 0);
}

/* ---------------------------------------------------------------- access handler */

static bool token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < lb; i++)
        diff |= (unsigned char)(a[i < la ? i : 0] ^ b[i]);
    return diff == 0 && la > 0;
}

static bool authorized(mcu_http_server_t *s, struct MHD_Connection *conn)
{
    const char *tok = NULL;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        tok = auth + 7;
    else
        tok = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "access_token");
    if (!tok)
        return false;
    pthread_mutex_lock(&s->mu);
    bool ok = token_equal(tok, s->token);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    mcu_http_request_t *r = cls;
    if (r->n_query >= MCU_HTTP_MAX_QUERY || strcmp(key, "access_token") == 0)
        return MHD_YES;
    r->query_key[r->n_query] = strdup(key);
    r->query_val[r->n_query] = value ? strdup(value) : NULL;
    r->n_query++;
    return MHD_YES;
}

static const mcu_http_asset_t *find_asset(mcu_http_server_t *s, const char *url)
{
    for (size_t i = 0; i < s->n_assets; i++)
        if (strcmp(s->assets[i].path, url) == 0)
            return &s->assets[i];
    return NULL;
}

/* Hands a complete request to the loop and waits for its answer. */
static enum MHD_Result dispatch(mcu_http_server_t *s, struct MHD_Connection *conn,
                                const char *url, const char *method, conn_ctx_t *cc)
{
    mcu_http_request_t *r = calloc(1, sizeof *r);
    if (!r)
        return queue_error(s, conn, 503, "unavailable", "out of memory");
    r->srv = s;
    snprintf(r->method, sizeof r->method, "%s", method);
    r->path = strdup(url);
    r->body = cc->body;
    r->body_len = cc->body_len;
    cc->body = NULL;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_query, r);
    pthread_mutex_lock(&s->mu);
    if (!r->path || s->closing || s->n_queued >= MCU_HTTP_MAX_QUEUED) {
        pthread_mutex_unlock(&s->mu);
        request_free(r);
        return queue_error(s, conn, 503, "unavailable", "the control server is busy");
    }
    r->refs = 2;
    s->queue[s->n_queued++] = r;
    pthread_mutex_unlock(&s->mu);
    uv_async_send(&s->async);

    struct timespec ts;
    deadline_in(&ts, MCU_HTTP_ANSWER_TIMEOUT_MS);
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    while (!r->answered && !s->closing && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->cond, &s->mu, &ts);
    if (!r->answered) {
        r->abandoned = true;
        request_unref_locked(r);
        pthread_mutex_unlock(&s->mu);
        return queue_error(s, conn, 503, "unavailable", "no answer from the conference");
    }
    int status = r->status;
    char type[64];
    snprintf(type, sizeof type, "%s", r->content_type);
    char *body = r->resp;
    size_t len = r->resp_len;
    r->resp = NULL;
    char *hello = r->sse_hello;
    r->sse_hello = NULL;
    uint64_t from = r->sse_from;
    request_unref_locked(r);
    pthread_mutex_unlock(&s->mu);

    if (!hello)
        return queue(s, conn, (unsigned)status, type, body, len);
    free(body);
    sse_stream_t *x = calloc(1, sizeof *x);
    if (!x) {
        free(hello);
        pthread_mutex_lock(&s->mu);
        s->stats.sse_clients--;
        pthread_mutex_unlock(&s->mu);
        return queue_error(s, conn, 503, "unavailable", "out of memory");
    }
    x->srv = s;
    x->next = from;
    x->pending = hello;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, x, sse_free);
    if (!resp) {
        sse_free(x);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    enum MHD_Result ret = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    count_status(s, 200);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    mcu_http_server_t *s = cls;
    conn_ctx_t *cc = *con_cls;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        if (!cc)
            return MHD_NO;
        *con_cls = cc;
        cc->responded = true; /* unless we get through the checks below */
        if (MHD_get_connection_values(conn, MHD_HEADER_KIND, NULL, NULL) > MCU_HTTP_MAX_HEADERS)
            return queue_error(s, conn, 431, "headers_too_large", "too many header fields");
        if (!authorized(s, conn))
            return queue_error(s, conn, 401, "unauthorized",
                               "a bearer token is required (Authorization header or "
                               "access_token parameter)");
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > MCU_HTTP_MAX_BODY)
            return queue_error(s, conn, 413, "too_large", "the body is larger than 64 KiB");
        cc->responded = false;
        return MHD_YES;
    }
    if (cc->responded) {
        *upload_size = 0; /* an early answer is queued: discard the body */
        return MHD_YES;
    }
    if (*upload_size) {
        if (cc->body_len + *upload_size > MCU_HTTP_MAX_BODY) {
            cc->too_large = true;
        } else {
            char *nb = realloc(cc->body, cc->body_len + *upload_size + 1);
            if (!nb)
                return MHD_NO;
            memcpy(nb + cc->body_len, upload_data, *upload_size);
            cc->body = nb;
            cc->body_len += *upload_size;
            cc->body[cc->body_len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    cc->responded = true;
    if (cc->too_large)
        return queue_error(s, conn, 413, "too_large", "the body is larger than 64 KiB");
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
        const mcu_http_asset_t *a = find_asset(s, url);
        if (a) {
            struct MHD_Response *resp = MHD_create_response_from_buffer(
                a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
            if (!resp)
                return MHD_NO;
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
            MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
            MHD_add_response_header(resp, "Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; "
                                    "script-src 'self' 'unsafe-inline'; style-src 'self'");
            enum MHD_Result ret = MHD_queue_response(conn, 200, resp);
            MHD_destroy_response(resp);
            count_status(s, 200);
            return ret;
        }
    }
    return dispatch(s, conn, url, method, cc);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_ctx_t *cc = *con_cls;
    if (cc) {
        free(cc->body);
        free(cc);
        *con_cls = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    MCU_LOG_DEBUG("http", "%s", line);
}

/* ---------------------------------------------------------------- loop side */

static void on_async(uv_async_t *a)
{
    mcu_http_server_t *s = a->data;
    mcu_http_request_t *batch[MCU_HTTP_MAX_QUEUED];
    pthread_mutex_lock(&s->mu);
    int n = s->n_queued;
    memcpy(batch, s->queue, (size_t)n * sizeof *batch);
    s->n_queued = 0;
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < n; i++)
        s->handler(s->opaque, batch[i]);
}

int mcu_http_start(uv_loop_t *loop, const mcu_http_config_t *cfg, mcu_http_server_t **out)
{
    *out = NULL;
    if (!cfg->token || !cfg->token[0] || !cfg->handler)
        return MCU_ERR_INVAL;
    mcu_http_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return MCU_ERR_NOMEM;
    s->loop = loop;
    s->handler = cfg->handler;
    s->opaque = cfg->opaque;
    s->assets = cfg->assets;
    s->n_assets = cfg->n_assets;
    snprintf(s->token, sizeof s->token, "%s", cfg->token);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    uv_async_init(loop, &s->async, on_async);
    s->async.data = s;
    struct sockaddr_in addr = cfg->addr;
    s->mhd = MHD_start_daemon(
        MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
            MHD_USE_ERROR_LOG,
        ntohs(addr.sin_port), NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)MCU_HTTP_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)MCU_HTTP_MAX_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)MCU_HTTP_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)MCU_HTTP_CONN_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_END);
    *out = s;
    if (!s->mhd) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &addr.sin_addr, a, sizeof a);
        MCU_LOG_ERROR("http", "cannot listen on %s:%u", a, ntohs(addr.sin_port));
        return MCU_ERR_IO;
    }
    return MCU_OK;
}

void mcu_http_stop(mcu_http_server_t *s)
{
    if (!s || uv_is_closing((uv_handle_t *)&s->async))
        return;
    pthread_mutex_lock(&s->mu);
    s->closing = true;
    pthread_cond_broadcast(&s->cond);
    /* Requests the loop never took: their connections give up (closing). */
    for (int i = 0; i < s->n_queued; i++)
        request_unref_locked(s->queue[i]);
    s->n_queued = 0;
    pthread_mutex_unlock(&s->mu);
    if (s->mhd) {
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
    }
    uv_close((uv_handle_t *)&s->async, NULL);
}

void mcu_http_destroy(mcu_http_server_t **ps)
{
    mcu_http_server_t *s = ps ? *ps : NULL;
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    for (int i = 0; i < MCU_HTTP_SSE_RING; i++)
        free(s->ring[i]);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
    *ps = NULL;
}

void mcu_http_set_token(mcu_http_server_t *s, const char *token)
{
    pthread_mutex_lock(&s->mu);
    snprintf(s->token, sizeof s->token, "%s", token);
    pthread_mutex_unlock(&s->mu);
}

void mcu_http_get_stats(mcu_http_server_t *s, mcu_http_stats_t *st)
{
    pthread_mutex_lock(&s->mu);
    *st = s->stats;
    pthread_mutex_unlock(&s->mu);
}
