#include "bench/fanout.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "codecs/h264_rtp.h"
#include "mcu/config.h"
#include "mcu/error.h"
#include "mcu/site.h"
#include "mcu/srtp_session.h"
#include "mcu/tx_stream.h"

#define NS_PER_S 1000000000.0
/* Where every receiver's packets land: one socket nobody reads (the kernel drops what
 * overflows it after the send has been paid for, which is what is measured). */
#define FANOUT_SINK_PORT_OFFSET (2 * MCU_BENCH_FANOUT_MAX)
#define FANOUT_SSRC 0x4D434656u

typedef struct fanout {
    uv_loop_t loop;
    mcu_site_t *sites[MCU_BENCH_FANOUT_MAX];
    int n_sites;
    mcu_site_events_t events;
    uint64_t send_errors;
} fanout_t;

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / NS_PER_S;
}

static int send_pkt(void *opaque, int receiver, const uint8_t *pkt, size_t len)
{
    fanout_t *f = opaque;
    int rc = mcu_site_send(f->sites[receiver], true, false, pkt, len);
    if (rc != MCU_OK)
        f->send_errors++;
    return rc;
}

static int make_site(fanout_t *f, int i, uint16_t port_base)
{
    mcu_site_config_t sc;
    mcu_config_site_default(&sc, i);
    snprintf(sc.id, sizeof sc.id, "r%d", i);
    snprintf(sc.name, sizeof sc.name, "receiver %d", i);
    sc.rtp_port = (uint16_t)(port_base + 2 * i);
    sc.audio_port = (uint16_t)(port_base + 2 * i + 1);
    sc.rtcp_mux = true;
    sc.has_send_to = true;
    sc.send_video = (struct sockaddr_in){.sin_family = AF_INET,
                                         .sin_port = htons((uint16_t)(port_base + FANOUT_SINK_PORT_OFFSET)),
                                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    sc.send_audio = sc.send_video;
    sc.has_srtp_out = true;
    int rc = mcu_srtp_key_generate(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, &sc.srtp_in);
    if (rc == MCU_OK)
        rc = mcu_srtp_key_generate(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, &sc.srtp_out);
    if (rc == MCU_OK)
        rc = mcu_site_create(&f->loop, &sc, i, &f->events, &f->sites[i]);
    explicit_bzero(&sc, sizeof sc);
    return rc;
}

static void on_site_closed(void *opaque) { (void)opaque; }

int mcu_bench_fanout(const mcu_bench_media_t *comp, const int *counts, int n, double seconds,
                     uint16_t port_base, FILE *out)
{
    int max = 0;
    for (int i = 0; i < n; i++) {
        if (counts[i] < 1 || counts[i] > MCU_BENCH_FANOUT_MAX)
            return MCU_ERR_INVAL;
        max = counts[i] > max ? counts[i] : max;
    }
    fanout_t *f = calloc(1, sizeof *f);
    if (!f)
        return MCU_ERR_NOMEM;
    int rc = uv_loop_init(&f->loop) == 0 ? MCU_OK : MCU_ERR_IO;
    int sink = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)(port_base + FANOUT_SINK_PORT_OFFSET)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (sink < 0 || bind(sink, (struct sockaddr *)&sa, sizeof sa) != 0)
        rc = MCU_ERR_IO;
    for (int i = 0; i < max && rc == MCU_OK; i++) {
        rc = make_site(f, i, port_base);
        if (rc == MCU_OK)
            f->n_sites++;
    }
    mcu_tx_stream_t *tx = NULL;
    mcu_tx_stream_config_t tc = {.ssrc = FANOUT_SSRC, .payload_type = MCU_DEFAULT_VIDEO_PT,
                                 .clock_rate = MCU_H264_CLOCK_RATE, .is_video = true,
                                 .cname = "mcu", .send = send_pkt, .opaque = f};
    if (rc == MCU_OK)
        rc = mcu_tx_stream_create(&tc, &tx);
    int added = 0;
    uint64_t frame_no = 0;
    for (int c = 0; c < n && rc == MCU_OK; c++) {
        while (added < counts[c] && rc == MCU_OK)
            rc = mcu_tx_stream_add_receiver(tx, added++);
        for (int r = 0; r < added && rc == MCU_OK; r++)
            mcu_tx_stream_set_active(tx, r, r < counts[c]);
        int frames = (int)(seconds * comp->fps);
        uint64_t packets0 = mcu_tx_stream_stats(tx)->packets;
        uint64_t errors0 = f->send_errors;
        double t0 = thread_cpu_s();
        for (int k = 0; k < frames && rc == MCU_OK; k++, frame_no++) {
            const mcu_bench_unit_t *u = &comp->video[frame_no % comp->n_video];
            int64_t now_us = (int64_t)(frame_no * 1000000 / (uint64_t)comp->fps);
            if (mcu_tx_stream_send_frame(tx, u->data, u->len,
                                         (uint32_t)(frame_no * MCU_H264_CLOCK_RATE / (uint64_t)comp->fps),
                                         now_us) < 0)
                rc = MCU_ERR_IO;
        }
        double cpu = thread_cpu_s() - t0;
        double media_s = (double)frames / comp->fps;
        uint64_t packets = mcu_tx_stream_stats(tx)->packets - packets0;
        double bps = 0;
        for (int k = 0; k < frames; k++)
            bps += (double)comp->video[k % comp->n_video].len * 8;
        json_t *rec = json_pack("{s:s,s:i,s:f,s:f,s:f,s:f,s:I}", "kind", "fanout", "receivers",
                                counts[c], "bitrate_bps", bps / media_s, "packets_per_s",
                                (double)packets / media_s, "cpu_s_per_s", cpu / media_s,
                                "us_per_packet",
                                packets ? cpu * 1e6 / ((double)packets * counts[c]) : 0.0,
                                "send_errors", (json_int_t)(f->send_errors - errors0));
        if (rec) {
            json_dumpf(rec, out, JSON_COMPACT);
            fputc('\n', out);
            fflush(out);
            json_decref(rec);
        }
    }
    mcu_tx_stream_destroy(&tx);
    for (int i = 0; i < f->n_sites; i++)
        mcu_site_close(f->sites[i], on_site_closed, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_loop_close(&f->loop);
    if (sink >= 0)
        close(sink);
    free(f);
    return rc;
}
