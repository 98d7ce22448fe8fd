#include "bench/sender.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "codecs/h264_rtp.h"
#include "mcu/error.h"
#include "mcu/rtp.h"

#define NS_PER_US 1000
#define US_PER_S 1000000
/* The Opus packet period of the cached clips (ffmpeg's libopus default, WebRTC's too). */
#define SENDER_AUDIO_PERIOD_US 20000
#define SENDER_AUDIO_CLOCK 48000
#define SENDER_VIDEO_CLOCK 90000
/* A site starts this long after the previous one, like endpoints joining one by one,
 * and so that 60 sites' keyframes do not all land in the same millisecond. */
#define SENDER_STAGGER_US 7000
/* Lateness worth counting: a fifth of a 25 fps frame period. */
#define SENDER_LATE_US 5000

typedef struct site_state {
    mcu_bench_site_spec_t spec;
    int fd;
    mcu_srtp_t *srtp;
    uint16_t vseq, aseq;
    uint64_t vframe;        /* frames sent so far */
    uint64_t apkt;          /* audio packets sent so far */
    int64_t start_us;
} site_state_t;

struct mcu_bench_sender {
    site_state_t sites[MCU_BENCH_MAX_SITES];
    int n;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    _Atomic uint64_t packets, bytes, send_errors, late_over;
    _Atomic int64_t late_max_us;
    uint8_t buf[MCU_RTP_MAX_DATAGRAM + MCU_SRTP_MAX_OVERHEAD];
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / NS_PER_US;
}

static void send_rtp(mcu_bench_sender_t *s, site_state_t *st, const struct sockaddr_in *to,
                     const mcu_rtp_header_t *h, const uint8_t *payload, size_t len)
{
    int hl = mcu_rtp_write_header(h, s->buf, sizeof s->buf);
    if (hl < 0 || (size_t)hl + len > MCU_RTP_MAX_DATAGRAM) {
        s->send_errors++;
        return;
    }
    memcpy(s->buf + hl, payload, len);
    size_t n = (size_t)hl + len;
    if (mcu_srtp_protect(st->srtp, s->buf, &n, sizeof s->buf, false) != MCU_OK) {
        s->send_errors++;
        return;
    }
    if (sendto(st->fd, s->buf, n, 0, (const struct sockaddr *)to, sizeof *to) < 0) {
        s->send_errors++;
        return;
    }
    s->packets++;
    s->bytes += n;
}

typedef struct emit_ctx {
    mcu_bench_sender_t *s;
    site_state_t *st;
    uint32_t ts;
} emit_ctx_t;

static int emit_video(void *opaque, const uint8_t *payload, size_t len, bool marker)
{
    emit_ctx_t *e = opaque;
    mcu_rtp_header_t h = {.marker = marker, .payload_type = MCU_BENCH_VIDEO_PT,
                          .seq = e->st->vseq++, .timestamp = e->ts, .ssrc = e->st->spec.video_ssrc};
    send_rtp(e->s, e->st, &e->st->spec.video_to, &h, payload, len);
    return 0;
}

static int64_t video_due(const site_state_t *st)
{
    int64_t due = (int64_t)st->vframe * US_PER_S / st->spec.media->fps;
    int64_t grid = (int64_t)st->spec.burst_ms * 1000;
    if (grid > 0)
        due = (due + grid - 1) / grid * grid;
    return st->start_us + due;
}

static int64_t audio_due(const site_state_t *st)
{
    return st->start_us + (int64_t)st->apkt * SENDER_AUDIO_PERIOD_US;
}

static void note_late(mcu_bench_sender_t *s, int64_t late)
{
    if (late > SENDER_LATE_US)
        s->late_over++;
    if (late > s->late_max_us)
        s->late_max_us = late;
}

static void send_due(mcu_bench_sender_t *s, site_state_t *st, int64_t now)
{
    const mcu_bench_media_t *m = st->spec.media;
    while (video_due(st) <= now) {
        note_late(s, now - video_due(st));
        const mcu_bench_unit_t *u = &m->video[(st->spec.start_frame + st->vframe) % m->n_video];
        emit_ctx_t e = {s, st, (uint32_t)(st->vframe * SENDER_VIDEO_CLOCK / (uint64_t)m->fps)};
        mcu_h264_packetize(u->data, u->len, MCU_H264_DEFAULT_MTU, emit_video, &e);
        st->vframe++;
    }
    while (audio_due(st) <= now) {
        note_late(s, now - audio_due(st));
        const mcu_bench_unit_t *u = &m->audio[st->apkt % m->n_audio];
        mcu_rtp_header_t h = {.payload_type = MCU_BENCH_AUDIO_PT, .seq = st->aseq++,
                              .timestamp = (uint32_t)(st->apkt * SENDER_AUDIO_CLOCK *
                                                      SENDER_AUDIO_PERIOD_US / US_PER_S),
                              .ssrc = st->spec.audio_ssrc};
        send_rtp(s, st, &st->spec.audio_to, &h, u->data, u->len);
        st->apkt++;
    }
}

static void *run(void *opaque)
{
    mcu_bench_sender_t *s = opaque;
    while (!s->stop) {
        int64_t now = mono_us();
        int64_t next = now + US_PER_S;
        for (int i = 0; i < s->n; i++) {
            send_due(s, &s->sites[i], now);
            int64_t v = video_due(&s->sites[i]), a = audio_due(&s->sites[i]);
            next = v < next ? v : next;
            next = a < next ? a : next;
        }
        struct timespec ts = {.tv_sec = next / US_PER_S, .tv_nsec = (next % US_PER_S) * NS_PER_US};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
    return NULL;
}

int mcu_bench_sender_start(const mcu_bench_site_spec_t *sites, int n, mcu_bench_sender_t **out)
{
    *out = NULL;
    if (n < 1 || n > MCU_BENCH_MAX_SITES)
        return MCU_ERR_INVAL;
    mcu_bench_sender_t *s = calloc(1, sizeof *s);
    if (!s)
        return MCU_ERR_NOMEM;
    int64_t t0 = mono_us();
    for (int i = 0; i < n; i++)
        s->sites[i].fd = -1;
    s->n = n;
    int rc = MCU_OK;
    for (int i = 0; i < n && rc == MCU_OK; i++) {
        site_state_t *st = &s->sites[i];
        st->spec = sites[i];
        st->vseq = (uint16_t)(i * 1000);
        st->aseq = (uint16_t)(i * 1000 + 500);
        st->start_us = t0 + (int64_t)i * SENDER_STAGGER_US;
        if ((st->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
            rc = MCU_ERR_IO;
        else
            rc = mcu_srtp_create(&st->spec.key, MCU_SRTP_OUTBOUND, &st->srtp);
    }
    if (rc == MCU_OK && pthread_create(&s->thread, NULL, run, s) != 0)
        rc = MCU_ERR_NOMEM;
    s->started = rc == MCU_OK;
    if (rc != MCU_OK) {
        mcu_bench_sender_stop(&s);
        return rc;
    }
    *out = s;
    return MCU_OK;
}

void mcu_bench_sender_stats(mcu_bench_sender_t *s, mcu_bench_sender_stats_t *st)
{
    *st = (mcu_bench_sender_stats_t){.packets = s->packets, .bytes = s->bytes,
                                     .send_errors = s->send_errors, .late_max_us = s->late_max_us,
                                     .late_over_5ms = s->late_over};
}

void mcu_bench_sender_stop(mcu_bench_sender_t **ps)
{
    mcu_bench_sender_t *s = ps ? *ps : NULL;
    if (!s)
        return;
    if (s->started) {
        s->stop = true;
        pthread_join(s->thread, NULL);
    }
    for (int i = 0; i < s->n; i++) {
        if (s->sites[i].fd >= 0)
            close(s->sites[i].fd);
        mcu_srtp_destroy(&s->sites[i].srtp);
    }
    free(s);
    *ps = NULL;
}
