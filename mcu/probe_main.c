/*
 * mcu-probe: receives one site's H.264 RTP stream on a UDP port through the MCU's own
 * receive path (RTP parse, source statistics, jitter buffer, RFC 6184 depacketizer)
 * and reports what arrives: packets, loss, jitter, frames, keyframes, and every drop by
 * reason. Optionally writes the access units to an Annex-B file for ffplay/ffprobe.
 * An operator's first check that a site's sender is sane before it joins a meeting.
 *
 *   mcu-probe --port 5004 [--pt 96] [--duration 10] [--out site.h264]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "codecs/h264_rtp.h"
#include "mcu/error.h"
#include "mcu/rtcp.h"
#include "mcu/rtp.h"
#include "mcu/rx_stream.h"
#include "mcu/site_limits.h"

/* How often the jitter buffer is polled between datagrams: one 100 fps frame. */
#define PROBE_POLL_MS 10
#define PROBE_REPORT_MS 1000

typedef struct probe {
    uv_loop_t *loop;
    uv_udp_t sock;
    uv_timer_t poll_timer;
    uv_timer_t report_timer;
    uv_timer_t stop_timer;
    uv_signal_t sigint;
    mcu_rx_stream_t *rx;
    FILE *out;
    uint64_t rtcp_packets;
    uint64_t rtcp_bad;
    uint64_t frames_written;
    uint8_t buf[MCU_RTP_MAX_DATAGRAM + 1]; /* +1: a larger datagram shows up as too big */
} probe_t;

static int64_t now_us(const probe_t *p) { return (int64_t)(uv_hrtime() / 1000); }

static void drain(probe_t *p)
{
    mcu_rx_frame_t f;
    while (mcu_rx_stream_poll(p->rx, now_us(p), &f) == MCU_OK) {
        if (p->out && !f.media.corrupt) {
            fwrite(f.media.data, 1, f.media.len, p->out);
            p->frames_written++;
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    probe_t *p = h->data;
    *buf = uv_buf_init((char *)p->buf, sizeof p->buf);
}

static void on_recv(uv_udp_t *s, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    probe_t *p = s->data;
    if (n <= 0 || !addr)
        return;
    size_t len = (flags & UV_UDP_PARTIAL) ? MCU_RTP_MAX_DATAGRAM + 1 : (size_t)n;
    const uint8_t *d = (const uint8_t *)buf->base;
    if (mcu_rtp_is_rtcp(d, len)) {
        p->rtcp_packets++;
        if (mcu_rtcp_validate(d, len) < 0)
            p->rtcp_bad++;
        return;
    }
    mcu_rx_stream_input(p->rx, d, len, now_us(p));
    drain(p);
}

static void on_poll(uv_timer_t *t) { drain(t->data); }

static void print_report(const probe_t *p, const char *prefix)
{
    const mcu_rx_stream_counters_t *c = mcu_rx_stream_counters(p->rx);
    const mcu_rtp_stats_t *src = mcu_rx_stream_source(p->rx);
    mcu_jitter_stats_t js;
    mcu_jitter_get_stats(mcu_rx_stream_jitter(p->rx), &js);
    double jitter_ms = src ? mcu_rtp_stats_jitter_units(src) / 90.0 : 0;
    printf("%s packets=%llu lost=%lld jitter=%.1fms target=%.0fms frames=%llu corrupt=%llu "
           "keyframes=%llu ssrc=%08x drops=%llu rtcp=%llu\n",
           prefix, (unsigned long long)c->packets, src ? (long long)mcu_rtp_stats_lost(src) : 0,
           jitter_ms, js.target_delay_us / 1000.0, (unsigned long long)c->frames,
           (unsigned long long)c->frames_corrupt, (unsigned long long)c->keyframes,
           src ? src->ssrc : 0, (unsigned long long)c->drops.total,
           (unsigned long long)p->rtcp_packets);
    for (int e = 1; e < MCU_ERR__COUNT; e++)
        if (c->drops.by_reason[e])
            printf("%s   dropped %llu: %s\n", prefix, (unsigned long long)c->drops.by_reason[e],
                   mcu_strerror(-e));
    fflush(stdout);
}

static void on_report(uv_timer_t *t) { print_report(t->data, "probe:"); }

static void stop(probe_t *p)
{
    uv_udp_recv_stop(&p->sock);
    uv_close((uv_handle_t *)&p->sock, NULL);
    uv_close((uv_handle_t *)&p->poll_timer, NULL);
    uv_close((uv_handle_t *)&p->report_timer, NULL);
    uv_close((uv_handle_t *)&p->stop_timer, NULL);
    uv_close((uv_handle_t *)&p->sigint, NULL);
}

static void on_stop(uv_timer_t *t) { stop(t->data); }
static void on_sigint(uv_signal_t *s, int sig) { stop(s->data); }

static void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s --port N [--pt 96] [--duration SECONDS] [--out FILE.h264]\n",
            argv0);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                          {"pt", required_argument, NULL, 't'},
                                          {"duration", required_argument, NULL, 'd'},
                                          {"out", required_argument, NULL, 'o'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int port = 0, pt = 96, duration = 0, c;
    const char *out = NULL;
    while ((c = getopt_long(argc, argv, "p:t:d:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': port = atoi(optarg); break;
        case 't': pt = atoi(optarg); break;
        case 'd': duration = atoi(optarg); break;
        case 'o': out = optarg; break;
        default: usage(argv[0]); return 2;
        }
    }
    if (port <= 0 || port > 65535 || pt < 0 || pt > 127 || duration < 0) {
        usage(argv[0]);
        return 2;
    }
    probe_t *p = calloc(1, sizeof *p);
    mcu_rx_stream_config_t cfg = {.format = &mcu_h264_depack_ops, .payload_type = (uint8_t)pt};
    mcu_config_t defaults; /* bounds as the daemon sizes them for a site's defaults */
    mcu_config_default(&defaults);
    mcu_site_limits_jitter(&defaults.sites[0], &cfg.jitter);
    int rc = mcu_rx_stream_create(&cfg, &p->rx);
    if (rc < 0) {
        fprintf(stderr, "mcu-probe: %s\n", mcu_strerror(rc));
        return 1;
    }
    if (out && !(p->out = fopen(out, "wb"))) {
        perror(out);
        return 1;
    }
    p->loop = uv_default_loop();
    struct sockaddr_in addr;
    uv_ip4_addr("0.0.0.0", port, &addr);
    uv_udp_init(p->loop, &p->sock);
    p->sock.data = p;
    if ((rc = uv_udp_bind(&p->sock, (const struct sockaddr *)&addr, UV_UDP_REUSEADDR)) < 0) {
        fprintf(stderr, "mcu-probe: bind port %d: %s\n", port, uv_strerror(rc));
        return 1;
    }
    int rcvbuf = (int)(mcu_site_limits_rcvbuf(&defaults.sites[0]) / 2); /* the kernel doubles it */
    uv_recv_buffer_size((uv_handle_t *)&p->sock, &rcvbuf);
    uv_udp_recv_start(&p->sock, on_alloc, on_recv);
    uv_timer_init(p->loop, &p->poll_timer);
    uv_timer_init(p->loop, &p->report_timer);
    uv_timer_init(p->loop, &p->stop_timer);
    uv_signal_init(p->loop, &p->sigint);
    p->poll_timer.data = p->report_timer.data = p->stop_timer.data = p->sigint.data = p;
    uv_timer_start(&p->poll_timer, on_poll, PROBE_POLL_MS, PROBE_POLL_MS);
    uv_timer_start(&p->report_timer, on_report, PROBE_REPORT_MS, PROBE_REPORT_MS);
    if (duration)
        uv_timer_start(&p->stop_timer, on_stop, (uint64_t)duration * 1000, 0);
    uv_signal_start(&p->sigint, on_sigint, SIGINT);
    printf("probe: listening for H.264/RTP (PT %d) on UDP port %d\n", pt, port);
    fflush(stdout);
    uv_run(p->loop, UV_RUN_DEFAULT);

    print_report(p, "final:");
    if (p->out) {
        fclose(p->out);
        printf("final: wrote %llu access units to %s\n", (unsigned long long)p->frames_written,
               out);
    }
    mcu_rx_stream_destroy(&p->rx);
    uv_loop_close(p->loop);
    free(p);
    return 0;
}
