/*
 * http_server: the control server's HTTP side. libmicrohttpd parses HTTP in its own
 * threads (one per connection, capped); every API request is handed to the libuv loop
 * through a bounded queue and a uv_async, answered there, and handed back. The loop
 * never waits on a socket; a connection thread waits for its answer.
 *
 *   connection thread                         loop thread
 *   limits, auth, body (<= 64 KiB) ─queue──►  handler(req) ... mcu_http_respond(req)
 *   waits (<= MCU_HTTP_ANSWER_TIMEOUT_MS) ◄───┘  (now, or later: a JPEG job)
 *
 * Also served without the loop: the static page (embedded assets, after auth), and the
 * Server-Sent Events stream: the loop publishes events into a bounded ring
 * (mcu_http_publish), each SSE connection's thread follows the ring.
 *
 * Limits, each a constant below: body size (413), header count (431; libmicrohttpd
 * itself answers 431 when the headers overflow the connection's memory), connections,
 * idle time, queued requests (503), SSE clients (503).
 * Auth: every route, static files included, needs the bearer token, as an
 * "Authorization: Bearer" header or an access_token query parameter (RFC 6750 2.1,
 * 2.3; the page needs the latter for <img> and EventSource). Compared in constant time.
 * No CORS headers: the API is same-origin only.
 *
 * Ownership: the server copies its config (the token too). A request belongs to the
 * server; the handler must call mcu_http_respond* exactly once for each request it is
 * given, and must not touch the request afterwards. Responses given after the
 * connection gave up (timeout, shutdown) are dropped. mcu_http_stop (on the loop) stops
 * accepting and joins every connection thread; mcu_http_destroy frees the server after
 * the loop has run the async handle's close callback.
 */
#ifndef MCU_HTTP_SERVER_H
#define MCU_HTTP_SERVER_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Request bodies: a custom layout with 25 regions is about 2 KiB; 64 KiB is generous
 * and small enough to hold per connection. */
#define MCU_HTTP_MAX_BODY (64 * 1024)
/* Headers per request: a browser sends about 15. */
#define MCU_HTTP_MAX_HEADERS 64
/* Connection memory (libmicrohttpd's pool, which holds the request line and headers):
 * 32 KiB, its default; a request whose headers overflow it gets 431. */
#define MCU_HTTP_CONN_MEMORY (32 * 1024)
/* Connections at once (each is a thread): a control room, a few pages, scripts. */
#define MCU_HTTP_MAX_CONNECTIONS 32
/* Per client address: one busy page must not take every connection. */
#define MCU_HTTP_MAX_PER_IP 24
/* Idle connections close after this (HTTP keep-alive included). */
#define MCU_HTTP_IDLE_TIMEOUT_S 30
/* Requests waiting for the loop: more means the loop is stuck; answer 503. */
#define MCU_HTTP_MAX_QUEUED 64
/* A connection waits this long for the loop's answer, then answers 503. */
#define MCU_HTTP_ANSWER_TIMEOUT_MS 10000
/* SSE: events kept for slow readers (about 2 minutes of stats at 2 per second plus
 * changes); a reader further behind is disconnected and reconnects. */
#define MCU_HTTP_SSE_RING 256
/* SSE clients at once (each holds a connection thread). */
#define MCU_HTTP_MAX_SSE 16
/* A comment line this often keeps proxies and the idle timeout from closing a quiet
 * stream. */
#define MCU_HTTP_SSE_KEEPALIVE_S 15
/* Query parameters kept per request (the API uses one or two). */
#define MCU_HTTP_MAX_QUERY 8

typedef struct mcu_http_server mcu_http_server_t;
typedef struct mcu_http_request mcu_http_request_t;

/* A static file served at `path` (the control page), after auth. */
typedef struct mcu_http_asset {
    const char *path;
    const char *content_type;
    const unsigned char *data;
    size_t len;
} mcu_http_asset_t;

typedef void (*mcu_http_handler_fn)(void *opaque, mcu_http_request_t *req);

typedef struct mcu_http_config {
    struct sockaddr_in addr;    /* address and port to listen on */
    const char *token;          /* required, copied */
    mcu_http_handler_fn handler; /* every non-static request, on the loop */
    void *opaque;
    const mcu_http_asset_t *assets; /* n_assets entries; must outlive the server */
    size_t n_assets;
} mcu_http_config_t;

typedef struct mcu_http_stats {
    uint64_t requests;
    uint64_t by_class[6];       /* responses by status class: [2] 2xx .. [5] 5xx */
    uint64_t unauthorized;
    uint64_t rejected_busy;     /* 503: queue full, too many SSE clients, timeout */
    int sse_clients;
} mcu_http_stats_t;

/* Listens and starts serving. MCU_ERR_IO (cannot listen: the message is logged),
 * MCU_ERR_INVAL, MCU_ERR_NOMEM. */
int mcu_http_start(uv_loop_t *loop, const mcu_http_config_t *cfg, mcu_http_server_t **out);
/* Stops accepting, ends SSE streams and joins the connection threads (on the loop). */
void mcu_http_stop(mcu_http_server_t *s);
/* After the loop has finished (or before start failed); sets *s = NULL. */
void mcu_http_destroy(mcu_http_server_t **s);
/* A new token (config reload); connections already answered are unaffected. */
void mcu_http_set_token(mcu_http_server_t *s, const char *token);
void mcu_http_get_stats(mcu_http_server_t *s, mcu_http_stats_t *st);

/* ---- For the handler, on the loop. */
const char *mcu_http_method(const mcu_http_request_t *r);   /* "GET", "PUT", ... */
const char *mcu_http_path(const mcu_http_request_t *r);     /* no query, percent-decoded */
const char *mcu_http_body(const mcu_http_request_t *r, size_t *len); /* NUL-terminated */
/* A query parameter's value, or NULL. */
const char *mcu_http_query(const mcu_http_request_t *r, const char *key);

/* Answers. `body` (malloc'd) is taken over; may be NULL with len 0. */
void mcu_http_respond(mcu_http_request_t *r, int status, const char *content_type,
                      char *body, size_t len);
/* Takes the reference to j. */
void mcu_http_respond_json(mcu_http_request_t *r, int status, json_t *j);
/* {"error": {"code": code, "message": ...}} */
void mcu_http_respond_error(mcu_http_request_t *r, int status, const char *code,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Turns the request into an SSE stream: `hello` (JSON text, copied) is its first event,
 * then every event published from now on. 503 if MCU_HTTP_MAX_SSE streams are open. */
void mcu_http_respond_sse(mcu_http_request_t *r, const char *hello_json);

/* ---- SSE, on the loop. */
/* Publishes an event to every stream: "event: <type>", a sequential "id", "data: <json>". */
void mcu_http_publish(mcu_http_server_t *s, const char *type, const char *json);
int mcu_http_sse_clients(mcu_http_server_t *s);

#endif
