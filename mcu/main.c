/*
 * mcu: the conference daemon.
 *
 *   mcu [--config FILE] [--log-level LEVEL] [--duration SECONDS] [--stats-file FILE]
 *   mcu --check-config FILE
 *   mcu --version
 *
 * Without --config it runs the built-in 18-site Yên Mô scenario (see mcu/config.h for
 * its ports). A config error names the key and the line and exits with code 2 before
 * anything starts. SIGINT/SIGTERM stop it cleanly. SIGHUP reloads the config file:
 * calls stay up, what can change live changes (names, layout default, speaker settings,
 * the control token), and an invalid file, or one that changes what needs a restart,
 * is logged and the running config kept.
 *
 * The control server (mcu/control_api) listens on control.listen:control.port.
 */
#include <getopt.h>
#include <libavutil/log.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "mcu/conference.h"
#include "mcu/config.h"
#include "mcu/control_api.h"
#include "mcu/error.h"
#include "mcu/heap.h"
#include "mcu/io_batch.h"
#include "mcu/log.h"

#define EXIT_CONFIG 2
/* Worker threads: one per core (libuv's default of 4 would oversubscribe 2 cores). */
#define MIN_WORKERS 2
/* Statistics line in the log every this many seconds. */
#define STATS_LOG_INTERVAL_MS 10000

typedef struct app {
    uv_loop_t *loop;
    mcu_conference_t *conf;
    mcu_control_api_t *api;
    mcu_io_batch_t *io_batch;
    int io_batch_us;
    const char *config_path;
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t stop_timer, stats_timer;
    const char *stats_file;
} app_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: mcu [--config FILE] [--log-level error|warn|info|debug]\n"
               "           [--duration SECONDS] [--stats-file FILE] [--list-sites]\n"
               "       mcu --check-config FILE\n"
               "       mcu --version\n");
}

static void print_config_error(const char *path, const mcu_config_error_t *e)
{
    fprintf(stderr, "mcu: %s:%d: %s%s%s\n", path ? path : "(built-in)", e->line, e->key,
            e->key[0] ? ": " : "", e->message);
}

static void write_stats(const app_t *a, FILE *f)
{
    mcu_conference_stats_t st;
    mcu_conference_get_stats(a->conf, &st);
    fprintf(f,
            "{\"video_ticks\": %llu, \"missed_ticks\": %llu, \"late_ticks\": %llu, "
            "\"frames_out\": %llu, "
            "\"forced_idrs\": %llu, \"audio_ticks\": %llu, \"audio_missed\": %llu, "
            "\"delay_p50_ms\": %.1f, \"delay_p99_ms\": %.1f, \"cpu_s_per_frame\": %.4f, "
            "\"sites\": [",
            (unsigned long long)st.video_ticks, (unsigned long long)st.missed_ticks,
            (unsigned long long)st.late_ticks, (unsigned long long)st.frames_out, (unsigned long long)st.forced_idrs,
            (unsigned long long)st.audio_ticks, (unsigned long long)st.audio_missed,
            st.delay_p50_us / 1000.0, st.delay_p99_us / 1000.0, st.cpu_s_per_frame);
    for (int i = 0; i < mcu_conference_n_sites(a->conf); i++) {
        mcu_conference_site_stats_t ss;
        mcu_conference_get_site_stats(a->conf, i, &ss);
        fprintf(f,
                "%s{\"id\": \"%s\", \"rtp_in\": %llu, \"dropped\": %llu, \"pictures\": %llu, "
                "\"damaged\": %llu, \"rejected_source\": %llu, \"srtp_auth_failures\": %llu, "
                "\"srtp_replays\": %llu, \"latches\": %llu, \"ssrc_rejected\": %llu, "
                "\"nack_requested\": %llu, \"nack_recovered\": %llu, \"rtx_packets\": %llu, "
                "\"plis_sent\": %llu, \"tmmbrs_sent\": %llu, \"shown_ticks\": %llu, "
                "\"frozen_ticks\": %llu, \"padding\": %llu, \"socket_drops\": %llu, "
                "\"concealed\": %llu, \"plis_and_firs\": %llu, \"repeated_ticks\": %llu, "
                "\"playout_delay_ms\": %.1f}",
                i ? ", " : "", ss.id, (unsigned long long)ss.rtp_in,
                (unsigned long long)ss.dropped, (unsigned long long)ss.pictures,
                (unsigned long long)ss.damaged, (unsigned long long)ss.rejected_source,
                (unsigned long long)ss.srtp_auth_failures, (unsigned long long)ss.srtp_replays,
                (unsigned long long)ss.latches, (unsigned long long)ss.ssrc_rejected,
                (unsigned long long)ss.nack_seqs_sent, (unsigned long long)ss.nack_recovered,
                (unsigned long long)ss.rtx_packets, (unsigned long long)ss.plis_sent,
                (unsigned long long)ss.tmmbrs_sent, (unsigned long long)ss.shown_ticks,
                (unsigned long long)ss.frozen_ticks, (unsigned long long)ss.padding,
                (unsigned long long)ss.socket_drops, (unsigned long long)ss.concealed,
                (unsigned long long)(ss.plis_sent + ss.firs_sent),
                (unsigned long long)ss.repeated_ticks, ss.playout_delay_us / 1000.0);
    }
    fprintf(f, "]}\n");
}

static void shutdown_app(app_t *a)
{
    if (uv_is_closing((uv_handle_t *)&a->sigint))
        return;
    if (a->stats_file) {
        FILE *f = fopen(a->stats_file, "w");
        if (f) {
            write_stats(a, f);
            fclose(f);
        }
    }
    write_stats(a, stderr);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->sighup, NULL);
    mcu_control_api_stop(a->api); /* first: no request reaches a stopping conference */
    uv_close((uv_handle_t *)&a->stop_timer, NULL);
    uv_close((uv_handle_t *)&a->stats_timer, NULL);
    mcu_io_batch_stop(a->io_batch);
    a->io_batch = NULL;
    mcu_conference_stop(a->conf);
}

/* Moderates the loop's I/O on the configured grid (io_batch.h), replacing any earlier. */
static void set_io_batch(app_t *a, int period_us)
{
    if (period_us == a->io_batch_us) /* io_batch_us is 0 while none runs */
        return;
    mcu_io_batch_stop(a->io_batch);
    a->io_batch = NULL;
    a->io_batch_us = 0;
    if (mcu_io_batch_start(a->loop, period_us, &a->io_batch) == MCU_OK)
        a->io_batch_us = period_us;
    else
        MCU_LOG_WARN("loop", "I/O moderation off: cannot start a %d us grid", period_us);
}

static void on_signal(uv_signal_t *s, int sig) { shutdown_app(s->data); }

static void on_sighup(uv_signal_t *s, int sig)
{
    app_t *a = s->data;
    if (!a->config_path) {
        MCU_LOG_WARN("config", "SIGHUP: running the built-in scenario, nothing to reload");
        return;
    }
    mcu_config_t *cfg = malloc(sizeof *cfg);
    mcu_config_error_t err;
    char why[256];
    if (!cfg)
        return;
    if (mcu_config_load(a->config_path, cfg, &err) != MCU_OK) {
        MCU_LOG_ERROR("config", "reload refused, running config kept: %s:%d: %s%s%s",
                      a->config_path, err.line, err.key, err.key[0] ? ": " : "", err.message);
    } else if (mcu_conference_reload(a->conf, cfg, why, sizeof why) != MCU_OK) {
        MCU_LOG_ERROR("config", "reload refused, running config kept: %s", why);
    } else {
        if (a->api)
            mcu_control_api_reload(a->api, cfg);
        mcu_log_set_level(cfg->log_level);
        set_io_batch(a, cfg->io_batch_us);
        MCU_LOG_INFO("config", "reloaded %s", a->config_path);
    }
    free(cfg);
}
static void on_stop_timer(uv_timer_t *t) { shutdown_app(t->data); }
static void on_stats_timer(uv_timer_t *t)
{
    if (mcu_log_enabled(MCU_LOG_INFO))
        write_stats(t->data, stderr);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"check-config", required_argument, NULL, 'k'},
        {"log-level", required_argument, NULL, 'l'}, {"duration", required_argument, NULL, 'd'},
        {"stats-file", required_argument, NULL, 's'}, {"version", no_argument, NULL, 'v'},
        {"list-sites", no_argument, NULL, 'L'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *check_path = NULL, *level = NULL;
    app_t app = {0};
    double duration = 0;
    bool list_sites = false;
    mcu_heap_configure();
    int c;
    while ((c = getopt_long(argc, argv, "c:k:l:d:s:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'k': check_path = optarg; break;
        case 'l': level = optarg; break;
        case 'd': duration = atof(optarg); break;
        case 's': app.stats_file = optarg; break;
        case 'v': printf("mcu %s\n", MCU_VERSION); return 0;
        case 'L': list_sites = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_CONFIG;
        }
    }
    if (optind < argc || duration < 0) {
        usage(stderr);
        return EXIT_CONFIG;
    }

    mcu_config_t *cfg = malloc(sizeof *cfg);
    mcu_config_error_t err;
    const char *path = check_path ? check_path : config_path;
    if (!cfg)
        return 1;
    if (path) {
        if (mcu_config_load(path, cfg, &err) != MCU_OK) {
            print_config_error(path, &err);
            return EXIT_CONFIG;
        }
    } else {
        mcu_config_default(cfg);
    }
    if (level) {
        int l = mcu_log_level_from_name(level);
        if (l < 0) {
            fprintf(stderr, "mcu: --log-level: must be error, warn, info or debug\n");
            return EXIT_CONFIG;
        }
        cfg->log_level = (mcu_log_level_t)l;
    }
    if (list_sites) {
        /* One line per site for scripts: id, video RTP port, audio RTP port, name. */
        for (int i = 0; i < cfg->n_sites; i++)
            printf("%s\t%u\t%u\t%s\n", cfg->sites[i].id, cfg->sites[i].rtp_port,
                   cfg->sites[i].audio_port, cfg->sites[i].name);
        free(cfg);
        return 0;
    }
    if (check_path) {
        printf("mcu: %s: valid (%d sites, %d profiles)\n", check_path, cfg->n_sites,
               cfg->n_profiles);
        return 0;
    }

    mcu_log_set_level(cfg->log_level);
    /* FFmpeg's and x264's own chatter only when debugging; their errors always. */
    av_log_set_level(cfg->log_level >= MCU_LOG_DEBUG ? AV_LOG_INFO : AV_LOG_ERROR);
    if (!getenv("UV_THREADPOOL_SIZE")) {
        char n[24];
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        snprintf(n, sizeof n, "%ld", cores > MIN_WORKERS ? cores : MIN_WORKERS);
        setenv("UV_THREADPOOL_SIZE", n, 1);
    }
    app.loop = uv_default_loop();
    app.config_path = config_path;
    int rc = mcu_conference_create(app.loop, cfg, &app.conf);
    if (rc == MCU_OK)
        rc = mcu_conference_write_sdp(app.conf);
    if (rc == MCU_OK && cfg->control.port)
        rc = mcu_control_api_create(app.loop, app.conf, cfg, &app.api);
    if (rc != MCU_OK) {
        MCU_LOG_ERROR("conference", "cannot start: %s", mcu_strerror(rc));
        mcu_control_api_stop(app.api);
        mcu_conference_stop(app.conf);
        uv_run(app.loop, UV_RUN_DEFAULT);
        mcu_control_api_destroy(&app.api);
        mcu_conference_destroy(&app.conf);
        free(cfg);
        return 1;
    }
    uv_signal_init(app.loop, &app.sigint);
    uv_signal_init(app.loop, &app.sigterm);
    uv_signal_init(app.loop, &app.sighup);
    app.sighup.data = &app;
    uv_signal_start(&app.sighup, on_sighup, SIGHUP);
    uv_timer_init(app.loop, &app.stop_timer);
    uv_timer_init(app.loop, &app.stats_timer);
    app.sigint.data = app.sigterm.data = app.stop_timer.data = app.stats_timer.data = &app;
    uv_signal_start(&app.sigint, on_signal, SIGINT);
    uv_signal_start(&app.sigterm, on_signal, SIGTERM);
    if (duration > 0)
        uv_timer_start(&app.stop_timer, on_stop_timer, (uint64_t)(duration * 1000), 0);
    uv_timer_start(&app.stats_timer, on_stats_timer, STATS_LOG_INTERVAL_MS,
                   STATS_LOG_INTERVAL_MS);
    MCU_LOG_INFO("conference", "\"%s\": %d sites, %d profiles, SDP in %s/", cfg->name,
                 cfg->n_sites, cfg->n_profiles, cfg->sdp_dir);
    set_io_batch(&app, cfg->io_batch_us);
    mcu_conference_start(app.conf);
    uv_run(app.loop, UV_RUN_DEFAULT);
    mcu_control_api_destroy(&app.api);
    mcu_conference_destroy(&app.conf);
    uv_loop_close(app.loop);
    free(cfg);
    return 0;
}
