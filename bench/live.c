#include "bench/live.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include <libavutil/base64.h>

#include "bench/metrics.h"
#include "bench/receivers.h"
#include "bench/sender.h"
#include "codecs/h264_rtp.h"
#include "mcu/error.h"

#define MS_PER_S 1000
#define RX_PORT_OFFSET 400
#define API_PORT_OFFSET 800
/* How long the daemon's API may take to answer after start (config, fonts, sockets). */
#define LIVE_API_WAIT_MS 10000
/* ffmpeg and GStreamer open their inputs one by one, each waiting for an SPS: output
 * flows only once every input has one (18 inputs with 2 s GOPs: ~20 s). The warm-up
 * starts when the output is steady, or after this. */
#define LIVE_FLOW_WAIT_MS 40000
#define LIVE_POLL_MS 100
#define LIVE_FLOW_STEADY_S 2
/* One-second CPU samples kept per window: an hour. /proc's CPU times tick at 10 ms, so a
 * second's sample is good to ~1% at 25 fps and 0.4 cores. */
#define LIVE_MAX_SECONDS 3600
/* Real time: receivers get at least this share of the frames the window should hold,
 * and the daemon decodes at least this share of the pictures the sites sent (it drops
 * access units only when its decode queue overflows). */
#define LIVE_FRAMES_OK 0.99
#define LIVE_PICTURES_OK 0.98
#define CAPACITY_GROW 1.5
#define CAPACITY_SHRINK 0.8

static void sleep_ms(int ms)
{
    nanosleep(&(struct timespec){ms / MS_PER_S, (long)(ms % MS_PER_S) * 1000000L}, NULL);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t frames_of(mcu_bench_receivers_t *rx, int r)
{
    mcu_bench_rx_counts_t c;
    mcu_bench_receivers_counts(rx, r, &c);
    return c.frames;
}

/* Waits until receiver 0 gets frames at the output rate (within 10%) for
 * LIVE_FLOW_STEADY_S seconds in a row: ffmpeg first bursts to catch up on its inputs'
 * start, and that burst is not its steady state. */
static bool wait_for_flow(mcu_bench_receivers_t *rx, mcu_bench_sut_t *sut, int fps)
{
    double t0 = mono_s(), last_t = t0;
    uint64_t last = frames_of(rx, 0);
    int steady = 0;
    while (mono_s() - t0 < LIVE_FLOW_WAIT_MS / 1e3 && mcu_bench_sut_alive(sut)) {
        sleep_ms(LIVE_POLL_MS);
        double now = mono_s();
        if (now - last_t < 1.0)
            continue;
        double rate = (double)(frames_of(rx, 0) - last) / (now - last_t);
        steady = rate >= 0.9 * fps && rate <= 1.1 * fps ? steady + 1 : 0;
        if (steady >= LIVE_FLOW_STEADY_S)
            return true;
        last = frames_of(rx, 0);
        last_t = now;
    }
    return false;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* What ffmpeg itself says it lost in the window: its RTP demuxer's "RTP: missed N
 * packets" and its decoder's "corrupt decoded frame" lines after `from` in its log. */
static void ffmpeg_losses(const char *log, long from, double *missed, double *corrupt)
{
    *missed = *corrupt = 0;
    FILE *f = fopen(log, "r");
    if (!f || fseek(f, from, SEEK_SET) != 0) {
        if (f)
            fclose(f);
        return;
    }
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        const char *m = strstr(line, "RTP: missed ");
        long n;
        if (m && sscanf(m, "RTP: missed %ld packets", &n) == 1)
            *missed += (double)n;
        if (strstr(line, "corrupt decoded frame"))
            (*corrupt)++;
    }
    fclose(f);
}

/* The clip's first SPS and PPS as sprop-parameter-sets ("" if it has none). */
static void sprop_of(const mcu_bench_media_t *m, char *out, size_t cap)
{
    out[0] = '\0';
    char sps[MCU_BENCH_SPROP_MAX / 2] = "", pps[MCU_BENCH_SPROP_MAX / 2] = "";
    for (size_t u = 0; u < m->n_video && (!sps[0] || !pps[0]); u++) {
        size_t pos = 0, len;
        const uint8_t *nal;
        while (mcu_h264_next_nal(m->video[u].data, m->video[u].len, &pos, &nal, &len) == 1) {
            int type = nal[0] & 0x1f;
            char *dst = type == MCU_H264_NAL_SPS ? sps : type == MCU_H264_NAL_PPS ? pps : NULL;
            if (dst && !dst[0] && AV_BASE64_SIZE(len) <= sizeof sps)
                av_base64_encode(dst, (int)sizeof sps, nal, (int)len);
        }
    }
    if (sps[0] && pps[0])
        snprintf(out, cap, "%s,%s", sps, pps);
}

static void fill_keys(mcu_bench_scenario_t *sc, bool one_key)
{
    for (int i = 0; i < sc->sites; i++) {
        mcu_srtp_key_generate(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, &sc->site_keys[i]);
        if (one_key && i > 0)
            sc->rx_keys[i] = sc->rx_keys[0];
        else
            mcu_srtp_key_generate(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, &sc->rx_keys[i]);
    }
    uint8_t raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        memset(raw, 0x5a, sizeof raw);
    for (size_t i = 0; i < sizeof raw; i++)
        sprintf(sc->token + 2 * i, "%02x", raw[i]);
}

static json_t *stages_json(const mcu_bench_metrics_t *a, const mcu_bench_metrics_t *b,
                           double frames, double cpu_s)
{
    json_t *o = json_object();
    double sum = 0;
    for (int i = 0; i < MCU_STAGE_COUNT; i++) {
        double s = b->stage_s[i] - a->stage_s[i];
        sum += s;
        json_object_set_new(o, mcu_stage_name((mcu_stage_t)i), json_real(s * MS_PER_S / frames));
    }
    json_object_set_new(o, "other", json_real((cpu_s - sum) * MS_PER_S / frames));
    return o;
}

static json_t *delay_hist_json(const mcu_bench_metrics_t *a, const mcu_bench_metrics_t *b)
{
    json_t *arr = json_array();
    double prev = 0;
    for (int ms = 0; ms <= MCU_CONF_DELAY_HIST_MS; ms++) {
        double cum = b->delay_le[ms] - a->delay_le[ms];
        if (cum - prev > 0)
            json_array_append_new(arr, json_pack("[i,f]", ms + 1, cum - prev));
        prev = cum;
    }
    return arr;
}

int mcu_bench_live_run(const mcu_bench_live_config_t *cfg, json_t **record)
{
    *record = NULL;
    if (cfg->sites < 1 || cfg->sites > MCU_BENCH_MAX_SITES || cfg->n_clips < 1)
        return MCU_ERR_INVAL;
    mcu_bench_scenario_t *sc = calloc(1, sizeof *sc);
    mcu_bench_site_spec_t *specs = calloc(MCU_BENCH_MAX_SITES, sizeof *specs);
    if (!sc || !specs) {
        free(sc);
        free(specs);
        return MCU_ERR_NOMEM;
    }
    *sc = (mcu_bench_scenario_t){.sites = cfg->sites, .out_w = cfg->out_w, .out_h = cfg->out_h,
                                 .out_fps = cfg->out_fps, .video_kbps = cfg->video_kbps,
                                 .audio_kbps = cfg->audio_kbps, .site_port_base = cfg->port_base,
                                 .rx_port_base = (uint16_t)(cfg->port_base + RX_PORT_OFFSET),
                                 .control_port = (uint16_t)(cfg->port_base + API_PORT_OFFSET)};
    snprintf(sc->workdir, sizeof sc->workdir, "%s", cfg->workdir);
    snprintf(sc->mcu_bin, sizeof sc->mcu_bin, "%s", cfg->mcu_bin);
    mkdir(sc->workdir, 0755);
    fill_keys(sc, mcu_bench_system_one_key(cfg->sys));
    for (int i = 0; i < cfg->sites; i++) {
        const mcu_bench_media_t *m = cfg->clips[i % cfg->n_clips];
        sprop_of(m, sc->sprop[i], sizeof sc->sprop[i]);
        /* Each site starts at its own keyframe: sites sharing a clip are GOPs apart. */
        size_t gop_hop = (size_t)(i / cfg->n_clips) * (size_t)m->fps * 2 + 1;
        specs[i] = (mcu_bench_site_spec_t){
            .media = m, .start_frame = mcu_bench_media_key_at(m, gop_hop % m->n_video),
            .key = sc->site_keys[i], .video_ssrc = MCU_BENCH_VIDEO_SSRC_BASE + (uint32_t)i,
            .audio_ssrc = MCU_BENCH_AUDIO_SSRC_BASE + (uint32_t)i};
        specs[i].video_to = (struct sockaddr_in){.sin_family = AF_INET,
                                                 .sin_port = htons((uint16_t)(cfg->port_base + MCU_BENCH_PORT_STRIDE * i)),
                                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        specs[i].audio_to = specs[i].video_to;
        specs[i].burst_ms = cfg->burst_ms;
        specs[i].audio_to.sin_port = htons((uint16_t)(cfg->port_base + MCU_BENCH_PORT_STRIDE * i + 2));
    }

    json_t *rec = json_object();
    char output[32];
    snprintf(output, sizeof output, "%dp%d", cfg->out_h, cfg->out_fps);
    json_object_set_new(rec, "kind", json_string("live"));
    if (cfg->burst_ms > 0)
        json_object_set_new(rec, "burst_ms", json_integer(cfg->burst_ms));
    json_object_set_new(rec, "system", json_string(mcu_bench_system_name(cfg->sys)));
    json_object_set_new(rec, "sites", json_integer(cfg->sites));
    json_object_set_new(rec, "input", json_string(cfg->input));
    json_object_set_new(rec, "output", json_string(output));
    json_object_set_new(rec, "receivers", json_integer(cfg->sites));
    json_object_set_new(rec, "seconds", json_real(cfg->seconds));
    json_object_set_new(rec, "receivers_srtp", json_boolean(mcu_bench_system_protects(cfg->sys)));

    const char *err = NULL;
    mcu_bench_receivers_t *rx = NULL;
    mcu_bench_sut_t *sut = NULL;
    mcu_bench_sender_t *tx = NULL;
    mcu_bench_metrics_t m0 = {0}, m1 = {0};
    bool is_mcu = cfg->sys == MCU_BENCH_SYS_MCU;
    if (mcu_bench_receivers_start(cfg->sites, sc->rx_port_base,
                                  mcu_bench_system_protects(cfg->sys) ? sc->rx_keys : NULL,
                                  &rx) != MCU_OK) {
        err = "cannot bind the receivers' ports";
        goto done;
    }
    if (mcu_bench_sut_start(cfg->sys, sc, &sut) != MCU_OK) {
        err = "cannot start the system under test";
        goto done;
    }
    if (is_mcu) {
        int waited = 0;
        while (mcu_bench_metrics_scrape(sc->control_port, sc->token, &m0) != MCU_OK) {
            if (waited >= LIVE_API_WAIT_MS || !mcu_bench_sut_alive(sut)) {
                err = "the daemon did not come up (see its log)";
                goto done;
            }
            sleep_ms(LIVE_POLL_MS);
            waited += LIVE_POLL_MS;
        }
    } else {
        sleep_ms(MS_PER_S); /* it binds its input ports */
    }
    if (mcu_bench_sender_start(specs, cfg->sites, &tx) != MCU_OK) {
        err = "cannot start the sites";
        goto done;
    }
    /* A system that never reaches the output rate is measured all the same once the
     * wait is over: how far short it falls is the answer. */
    bool steady = wait_for_flow(rx, sut, cfg->out_fps);
    json_object_set_new(rec, "steady_before_window", json_boolean(steady));
    if (!mcu_bench_sut_alive(sut) || frames_of(rx, 0) == 0) {
        err = mcu_bench_sut_alive(sut) ? "no output at all"
                                       : "the system under test exited (see its log)";
        goto done;
    }
    sleep_ms((int)(cfg->warmup_s * MS_PER_S));
    uint64_t f0[MCU_BENCH_MAX_RECEIVERS], f1[MCU_BENCH_MAX_RECEIVERS];
    mcu_bench_rx_counts_t c0, c1;
    mcu_bench_receivers_counts(rx, 0, &c0);
    for (int r = 0; r < cfg->sites; r++)
        f0[r] = frames_of(rx, r);
    mcu_bench_sender_stats_t ss0;
    mcu_bench_sender_stats(tx, &ss0);
    long log0 = file_size(mcu_bench_sut_log(sut));
    double cpu0 = mcu_bench_sut_cpu_s(sut), t0 = mono_s();
    if (is_mcu && mcu_bench_metrics_scrape(sc->control_port, sc->token, &m0) != MCU_OK) {
        err = "cannot read the daemon's metrics";
        goto done;
    }
    /* CPU per output frame second by second, for its p50 and p99 over the window. */
    double per_s[LIVE_MAX_SECONDS];
    int n_per_s = 0;
    double cpu_prev = cpu0, t_prev = t0;
    uint64_t fr_prev = f0[0];
    while (mono_s() - t0 < cfg->seconds) {
        double left = cfg->seconds - (mono_s() - t0);
        sleep_ms((int)(fmin(1.0, left) * MS_PER_S) + 1);
        double cpu_now = mcu_bench_sut_cpu_s(sut), t_now = mono_s();
        uint64_t fr_now = frames_of(rx, 0);
        if (t_now - t_prev >= 0.999 && fr_now > fr_prev && n_per_s < LIVE_MAX_SECONDS &&
            cpu_now >= 0) {
            per_s[n_per_s++] = (cpu_now - cpu_prev) * MS_PER_S / (double)(fr_now - fr_prev);
            cpu_prev = cpu_now;
            t_prev = t_now;
            fr_prev = fr_now;
        }
    }
    double cpu1 = mcu_bench_sut_cpu_s(sut), t1 = mono_s();
    if (is_mcu && mcu_bench_metrics_scrape(sc->control_port, sc->token, &m1) != MCU_OK) {
        err = "cannot read the daemon's metrics";
        goto done;
    }
    for (int r = 0; r < cfg->sites; r++)
        f1[r] = frames_of(rx, r);
    mcu_bench_receivers_counts(rx, 0, &c1);
    int64_t rss = mcu_bench_sut_peak_rss_kb(sut);
    if (!mcu_bench_sut_alive(sut) || cpu0 < 0 || cpu1 < 0) {
        err = "the system under test exited during the window (see its log)";
        goto done;
    }
    double win = t1 - t0, cpu = cpu1 - cpu0;
    double frames = (double)(f1[0] - f0[0]), min_frames = frames;
    for (int r = 1; r < cfg->sites; r++)
        min_frames = fmin(min_frames, (double)(f1[r] - f0[r]));
    double expected = win * cfg->out_fps;
    json_object_set_new(rec, "seconds", json_real(win));
    json_object_set_new(rec, "cpu_s", json_real(cpu));
    json_object_set_new(rec, "cores_used", json_real(cpu / win));
    json_object_set_new(rec, "frames_out", json_real(frames));
    json_object_set_new(rec, "frames_out_min_receiver", json_real(min_frames));
    json_object_set_new(rec, "expected_frames", json_real(expected));
    json_object_set_new(rec, "fps_out", json_real(frames / win));
    json_object_set_new(rec, "cpu_ms_per_frame", frames > 0 ? json_real(cpu * MS_PER_S / frames)
                                                            : json_null());
    if (n_per_s > 0) {
        qsort(per_s, (size_t)n_per_s, sizeof *per_s, cmp_double);
        json_object_set_new(rec, "cpu_ms_per_frame_p50", json_real(per_s[n_per_s / 2]));
        json_object_set_new(rec, "cpu_ms_per_frame_p99", json_real(per_s[(n_per_s * 99) / 100]));
    }
    json_object_set_new(rec, "out_kbps", json_real((double)(c1.video_bytes + c1.audio_bytes -
                                                             c0.video_bytes - c0.audio_bytes) *
                                                    8 / win / 1000));
    json_object_set_new(rec, "receiver_srtp_failures", json_integer((json_int_t)c1.srtp_failures));
    json_object_set_new(rec, "peak_rss_kb", json_integer(rss));
    mcu_bench_sender_stats_t ss;
    mcu_bench_sender_stats(tx, &ss);
    json_object_set_new(rec, "sender_late_max_ms", json_real(ss.late_max_us / 1e3));
    json_object_set_new(rec, "input_packets_sent", json_real((double)(ss.packets - ss0.packets)));
    if (cfg->sys == MCU_BENCH_SYS_FFMPEG) {
        double missed, corrupt;
        ffmpeg_losses(mcu_bench_sut_log(sut), log0, &missed, &corrupt);
        json_object_set_new(rec, "input_packets_lost", json_real(missed));
        json_object_set_new(rec, "input_pictures_damaged", json_real(corrupt));
    }
    bool realtime = min_frames >= LIVE_FRAMES_OK * expected;
    if (is_mcu) {
        double missed = m1.missed_ticks - m0.missed_ticks;
        double pics = m1.pictures_decoded - m0.pictures_decoded;
        double sent = 0;
        for (int i = 0; i < cfg->sites; i++)
            sent += win * cfg->clips[i % cfg->n_clips]->fps;
        json_object_set_new(rec, "missed_ticks", json_real(missed));
        json_object_set_new(rec, "late_ticks", json_real(m1.late_ticks - m0.late_ticks));
        json_object_set_new(rec, "audio_ticks_missed", json_real(m1.audio_missed - m0.audio_missed));
        json_object_set_new(rec, "input_pictures_decoded", json_real(pics));
        json_object_set_new(rec, "input_pictures_sent", json_real(sent));
        json_object_set_new(rec, "input_pictures_damaged",
                            json_real(m1.pictures_damaged - m0.pictures_damaged));
        json_object_set_new(rec, "delay_p50_ms",
                            json_real(mcu_bench_metrics_delay_quantile(&m0, &m1, 0.5)));
        json_object_set_new(rec, "delay_p99_ms",
                            json_real(mcu_bench_metrics_delay_quantile(&m0, &m1, 0.99)));
        json_object_set_new(rec, "delay_hist_ms", delay_hist_json(&m0, &m1));
        double ticks = m1.tile_ticks - m0.tile_ticks;
        json_object_set_new(rec, "repeated_pct",
                            json_real(ticks > 0 ? 100.0 * (m1.repeated_ticks - m0.repeated_ticks) /
                                                      ticks
                                                : 0));
        double daemon_frames = m1.frames_sent - m0.frames_sent;
        if (daemon_frames > 0)
            json_object_set_new(rec, "stages", stages_json(&m0, &m1, daemon_frames, cpu));
        double p99 = mcu_bench_metrics_delay_quantile(&m0, &m1, 0.99);
        realtime = realtime && missed == 0 && pics >= LIVE_PICTURES_OK * sent &&
                   !(p99 > MCU_BENCH_LIVE_DELAY_P99_OK_MS);
    } else {
        json_object_set_new(rec, "missed_ticks", json_real(fmax(0, expected - frames)));
    }
    json_object_set_new(rec, "realtime", json_boolean(realtime));
done:
    mcu_bench_sender_stop(&tx);
    mcu_bench_sut_stop(&sut);
    mcu_bench_receivers_stop(&rx);
    json_object_set_new(rec, "ok", json_boolean(err == NULL));
    if (err) {
        json_object_set_new(rec, "error", json_string(err));
        json_object_set_new(rec, "realtime", json_false());
    }
    free(specs);
    free(sc);
    *record = rec;
    return MCU_OK;
}

bool mcu_bench_live_realtime(const json_t *rec)
{
    return json_is_true(json_object_get(rec, "ok")) && json_is_true(json_object_get(rec, "realtime"));
}

int mcu_bench_capacity(const mcu_bench_live_config_t *cfg, int start, int target, int max_trials,
                       FILE *trials_out, json_t **record)
{
    int lo = 0, hi = MCU_BENCH_MAX_SITES + 1, n = start < 1 ? 1 : start;
    json_t *trials = json_array();
    for (int t = 0; t < max_trials && hi - lo > 1; t++) {
        mcu_bench_live_config_t c = *cfg;
        c.sites = n;
        json_t *rec = NULL;
        if (mcu_bench_live_run(&c, &rec) != MCU_OK)
            break;
        bool ok = mcu_bench_live_realtime(rec);
        if (trials_out) {
            json_dumpf(rec, trials_out, JSON_COMPACT);
            fputc('\n', trials_out);
            fflush(trials_out);
        }
        json_array_append_new(trials, json_pack("{s:i,s:O,s:O,s:b}", "sites", n, "missed_ticks",
                                                json_object_get(rec, "missed_ticks"),
                                                "cpu_ms_per_frame",
                                                json_object_get(rec, "cpu_ms_per_frame"), "ok", ok));
        json_decref(rec);
        if (ok)
            lo = n;
        else
            hi = n;
        /* Up by half while it holds, down by a fifth while it does not, then halve the
         * gap: four or five minute-long trials bracket the answer within ~10%. */
        int next = hi > MCU_BENCH_MAX_SITES ? (int)ceil(n * CAPACITY_GROW)
                   : lo == 0                 ? (int)floor(n * CAPACITY_SHRINK)
                                             : (lo + hi) / 2;
        if (next > MCU_BENCH_MAX_SITES)
            next = MCU_BENCH_MAX_SITES;
        if (next <= lo)
            next = lo + 1;
        if (next >= hi)
            next = hi - 1;
        if (next < 1 || next == n)
            break;
        n = next;
    }
    char output[32];
    snprintf(output, sizeof output, "%dp%d", cfg->out_h, cfg->out_fps);
    /* first_failing_sites: the smallest N seen to fail (null: none failed within the
     * trials, so max_sites is a lower bound). */
    *record = json_pack("{s:s,s:s,s:s,s:i,s:o,s:i,s:b,s:f,s:o}", "kind", "capacity", "input",
                        cfg->input, "output", output, "max_sites", lo, "first_failing_sites",
                        hi <= MCU_BENCH_MAX_SITES ? json_integer(hi) : json_null(),
                        "target_sites", target, "bounded_by_config", lo == MCU_BENCH_MAX_SITES,
                        "seconds", cfg->seconds, "trials", trials);
    return *record ? MCU_OK : MCU_ERR_NOMEM;
}
