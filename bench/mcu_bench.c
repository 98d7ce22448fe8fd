/*
 * mcu-bench: the capacity benchmark. How many sites this box carries, how far that is
 * from the physical floor, and what the tools people use instead would need for the
 * same job, measured on real encoded media through the real network path.
 *
 *   mcu-bench machine                          the machine record
 *   mcu-bench live     [run options]           one real-time run (mcu|ffmpeg|gstreamer)
 *   mcu-bench capacity [run options] --target N [--max-trials K]
 *   mcu-bench pipeline [run options] --frames F [--paced]
 *                                                the floor and the in-process throughput
 *   mcu-bench fanout   --composite FILE --receivers 1,10,100,500 [--seconds S]
 *   mcu-bench kernels  [--seconds-per-case S]
 *   mcu-bench conceal  --input-dir DIR --input 360p25 [--seconds S] [--loss PCT] [--seed N]
 *                      [--policy conceal|freeze] [--max-freeze-ms MS] [--max-damage X]
 *                                                a site that loses packets and repairs none
 *   mcu-bench report   FILE.jsonl OUT.md
 *
 * run options: --system S --sites N --input-dir DIR --input 360p25 [--clips K]
 *              --output 720p25 [--video-kbps K] [--seconds S] [--warmup S]
 *              [--port-base P] [--workdir DIR] [--mcu PATH] [--round K]
 *              [--burst-ms MS]   the sites' video through a bursty link
 * Inputs are DIR/<input>-<k>.ts, k = 1..clips (scripts/bench.sh makes and caches them).
 * Every measurement is one JSON object per line on stdout (see bench/report.h);
 * scripts/bench.sh collects them into bench/results/<date>-<host>.jsonl and the report.
 */
#include <getopt.h>
#include <jansson.h>
#include <libavutil/avutil.h>
#include <libavutil/log.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench/conceal.h"
#include "bench/fanout.h"
#include "bench/kernels.h"
#include "bench/live.h"
#include "bench/pipeline.h"
#include "bench/report.h"
#include "codecs/h264_enc.h"
#include "mcu/error.h"
#include "mcu/heap.h"
#include "mcu/log.h"

/* Ports of live runs: sites, receivers +400, the daemon's API +800. Below Linux's
 * ephemeral range (32768..), so no client socket of another program can hold them. */
#define BENCH_PORT_BASE 23000
/* The fan-out's receiver sites: 2 ports each, up to 512 of them, then the sink. */
#define BENCH_FANOUT_PORT_BASE 26000
#define BENCH_DEFAULT_SECONDS 60
#define BENCH_DEFAULT_WARMUP 5
/* The profiles' video rates: the daemon's main profile (900 kbit/s at 720p) and its
 * low-bandwidth one at a quarter of the pixels. */
#define BENCH_KBPS_720 900
#define BENCH_KBPS_360 400
#define BENCH_AUDIO_KBPS 32
#define BENCH_MAX_COUNTS 32

static void usage(void)
{
    fprintf(stderr,
            "usage: mcu-bench machine | live | capacity | pipeline | fanout | kernels | report\n"
            "  run options: --system mcu|ffmpeg|gstreamer --sites N --input-dir DIR\n"
            "               --input 360p25 [--clips K] --output 720p25 [--video-kbps K]\n"
            "               [--seconds S] [--warmup S] [--port-base P] [--workdir DIR]\n"
            "               [--mcu PATH] [--target N] [--max-trials K] [--frames F]\n"
            "               [--round K] [--paced] [--burst-ms MS]\n"
            "  fanout:      --composite FILE --receivers 1,10,100,500 [--seconds S]\n"
            "  kernels:     [--seconds-per-case S]\n"
            "  conceal:     --input-dir DIR --input 360p25 [--seconds S] [--loss PCT] [--seed N]\n"
            "               [--policy conceal|freeze] [--max-freeze-ms MS] [--max-damage X]\n"
            "  report:      FILE.jsonl OUT.md\n");
}

static void emit(json_t *rec)
{
    if (!rec)
        return;
    json_dumpf(rec, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
    fputc('\n', stdout);
    fflush(stdout);
    json_decref(rec);
}

/* "720p25" -> 1280x720 at 25 fps (16:9, even width). */
static int parse_format(const char *s, int *w, int *h, int *fps)
{
    if (sscanf(s, "%dp%d", h, fps) != 2 || *h < 90 || *h > 1080 || *fps < 5 || *fps > 60)
        return MCU_ERR_INVAL;
    *w = (*h * 16 / 9 + 1) & ~1;
    return MCU_OK;
}

static char *first_line(const char *cmd, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (!p)
        return out;
    if (fgets(out, (int)cap, p))
        out[strcspn(out, "\n")] = '\0';
    pclose(p);
    return out;
}

static void machine(void)
{
    struct utsname u;
    uname(&u);
    char model[256] = "", flags[4096] = "", line[8192];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (!model[0] && strncmp(line, "model name", 10) == 0)
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
        if (!flags[0] && strncmp(line, "flags", 5) == 0)
            snprintf(flags, sizeof flags, "%s", strchr(line, ':') + 2);
    }
    if (f)
        fclose(f);
    model[strcspn(model, "\n")] = '\0';
    char simd[256] = "";
    static const char *const wanted[] = {"sse4_2", "avx", "avx2", "avx512f", "avx512bw", NULL};
    for (int i = 0; wanted[i]; i++) {
        char pat[32];
        snprintf(pat, sizeof pat, " %s ", wanted[i]);
        char padded[sizeof flags + 2];
        snprintf(padded, sizeof padded, " %s", flags);
        padded[strcspn(padded, "\n")] = ' ';
        if (strstr(padded, pat))
            snprintf(simd + strlen(simd), sizeof simd - strlen(simd), "%s%s", simd[0] ? " " : "",
                     wanted[i]);
    }
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    char date[16], gst[128], commit[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d", localtime(&now));
    first_line("gst-launch-1.0 --version 2>/dev/null | sed -n 's/.*GStreamer //p'", gst, sizeof gst);
    first_line("git rev-parse --short HEAD 2>/dev/null", commit, sizeof commit);
    char encoder[160];
    snprintf(encoder, sizeof encoder, "x264 %s, zerolatency, Constrained Baseline, %d thread",
             MCU_H264_ENC_DEFAULT_PRESET, MCU_H264_ENC_DEFAULT_THREADS);
    emit(json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:f,s:s,s:s,s:s,s:s,s:s}", "kind", "machine",
                   "host", u.nodename, "date", date, "cpu", model, "cores",
                   (int)sysconf(_SC_NPROCESSORS_ONLN), "simd", simd, "mem_gib",
                   (double)pages * (double)psize / (1u << 30), "ffmpeg", av_version_info(),
                   "gstreamer", gst, "commit", commit, "kernel", u.release, "encoder",
                   encoder));
}

typedef struct opts {
    mcu_bench_live_config_t live;
    char input_dir[PATH_MAX];
    int clips, target, max_trials, frames;
    int video_kbps;
    char composite[PATH_MAX];
    int counts[BENCH_MAX_COUNTS], n_counts;
    double seconds_per_case;
    bool seconds_given;
    int round;                  /* --round: tags live and pipeline records (0: none) */
    bool paced;                 /* --paced: the pipeline at the output rate */
    mcu_bench_conceal_config_t conceal;
} opts_t;

/* bench.sh runs the scenario several rounds over: a record says which one it is from, so
 * that the report takes its ratios within a round (bench/report.h). */
static json_t *tag_round(json_t *rec, int round)
{
    if (rec && round > 0)
        json_object_set_new(rec, "round", json_integer(round));
    return rec;
}

static int load_clips(opts_t *o)
{
    for (int k = 0; k < o->clips; k++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s-%d.ts", o->input_dir, o->live.input, k + 1);
        int rc = mcu_bench_media_load(path, &o->live.clips[k]);
        if (rc != MCU_OK) {
            fprintf(stderr, "mcu-bench: cannot load %s: %s\n", path, mcu_strerror(rc));
            return rc;
        }
        o->live.n_clips++;
    }
    return MCU_OK;
}

static int parse(int argc, char **argv, opts_t *o)
{
    static const struct option lo[] = {
        {"system", required_argument, NULL, 'S'},     {"sites", required_argument, NULL, 'n'},
        {"input-dir", required_argument, NULL, 'd'},  {"input", required_argument, NULL, 'i'},
        {"clips", required_argument, NULL, 'k'},      {"output", required_argument, NULL, 'o'},
        {"video-kbps", required_argument, NULL, 'b'}, {"seconds", required_argument, NULL, 's'},
        {"warmup", required_argument, NULL, 'w'},     {"port-base", required_argument, NULL, 'p'},
        {"workdir", required_argument, NULL, 'W'},    {"mcu", required_argument, NULL, 'm'},
        {"target", required_argument, NULL, 't'},     {"max-trials", required_argument, NULL, 'T'},
        {"frames", required_argument, NULL, 'f'},     {"composite", required_argument, NULL, 'c'},
        {"receivers", required_argument, NULL, 'r'},
        {"seconds-per-case", required_argument, NULL, 'C'},
        {"round", required_argument, NULL, 'R'},      {"paced", no_argument, NULL, 'P'},
        {"loss", required_argument, NULL, 'L'},       {"seed", required_argument, NULL, 'E'},
        {"policy", required_argument, NULL, 'Y'},
        {"max-freeze-ms", required_argument, NULL, 'Z'},
        {"max-damage", required_argument, NULL, 'D'},
        {"burst-ms", required_argument, NULL, 'B'},
        {NULL, 0, NULL, 0}};
    const char *output = "720p25";
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'S':
            if (mcu_bench_system_parse(optarg, &o->live.sys) != MCU_OK)
                return MCU_ERR_INVAL;
            break;
        case 'n': o->live.sites = atoi(optarg); break;
        case 'd': snprintf(o->input_dir, sizeof o->input_dir, "%s", optarg); break;
        case 'i': snprintf(o->live.input, sizeof o->live.input, "%s", optarg); break;
        case 'k': o->clips = atoi(optarg); break;
        case 'o': output = optarg; break;
        case 'b': o->video_kbps = atoi(optarg); break;
        case 's': o->live.seconds = atof(optarg); o->seconds_given = true; break;
        case 'w': o->live.warmup_s = atof(optarg); break;
        case 'p': o->live.port_base = (uint16_t)atoi(optarg); break;
        case 'W': snprintf(o->live.workdir, sizeof o->live.workdir, "%s", optarg); break;
        case 'm': snprintf(o->live.mcu_bin, sizeof o->live.mcu_bin, "%s", optarg); break;
        case 't': o->target = atoi(optarg); break;
        case 'T': o->max_trials = atoi(optarg); break;
        case 'f': o->frames = atoi(optarg); break;
        case 'c': snprintf(o->composite, sizeof o->composite, "%s", optarg); break;
        case 'r':
            for (char *t = strtok(optarg, ","); t && o->n_counts < BENCH_MAX_COUNTS;
                 t = strtok(NULL, ","))
                o->counts[o->n_counts++] = atoi(t);
            break;
        case 'C': o->seconds_per_case = atof(optarg); break;
        case 'R': o->round = atoi(optarg); break;
        case 'P': o->paced = true; break;
        case 'L': o->conceal.loss_pct = atof(optarg); break;
        case 'E': o->conceal.seed = strtoull(optarg, NULL, 10); break;
        case 'Y':
            if (strcmp(optarg, "conceal") && strcmp(optarg, "freeze"))
                return MCU_ERR_INVAL;
            o->conceal.policy = strcmp(optarg, "freeze") ? MCU_LOSS_CONCEAL : MCU_LOSS_FREEZE;
            break;
        case 'Z': o->conceal.max_freeze_ms = atoi(optarg); break;
        case 'D': o->conceal.max_damage = (float)atof(optarg); break;
        case 'B': o->live.burst_ms = atoi(optarg); break;
        default: return MCU_ERR_INVAL;
        }
    }
    if (parse_format(output, &o->live.out_w, &o->live.out_h, &o->live.out_fps) != MCU_OK) {
        fprintf(stderr, "mcu-bench: --output wants <height>p<fps>, e.g. 720p25\n");
        return MCU_ERR_INVAL;
    }
    o->live.video_kbps = o->video_kbps > 0 ? o->video_kbps
                         : o->live.out_h >= 720 ? BENCH_KBPS_720 : BENCH_KBPS_360;
    o->live.audio_kbps = BENCH_AUDIO_KBPS;
    return MCU_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    mcu_heap_configure(); /* as the daemon: the pipeline runs its modules */
    signal(SIGPIPE, SIG_IGN);
    mcu_log_set_level(MCU_LOG_WARN);
    av_log_set_level(AV_LOG_ERROR); /* x264's closing summary is not a measurement */
    const char *cmd = argv[1];
    if (strcmp(cmd, "machine") == 0) {
        machine();
        return 0;
    }
    if (strcmp(cmd, "report") == 0) {
        if (argc != 4) {
            usage();
            return 2;
        }
        int rc = mcu_bench_report(argv[2], argv[3]);
        if (rc != MCU_OK)
            fprintf(stderr, "mcu-bench: report: %s\n", mcu_strerror(rc));
        return rc == MCU_OK ? 0 : 1;
    }
    opts_t *o = calloc(1, sizeof *o);
    if (!o)
        return 1;
    o->live.seconds = BENCH_DEFAULT_SECONDS;
    o->live.warmup_s = BENCH_DEFAULT_WARMUP;
    o->live.port_base = BENCH_PORT_BASE;
    o->clips = 1;
    o->max_trials = 5;
    o->conceal = (mcu_bench_conceal_config_t){.loss_pct = 1, .seed = 1,
                                              .policy = MCU_LOSS_CONCEAL,
                                              .max_freeze_ms = MCU_SITE_DEFAULT_MAX_FREEZE_MS};
    o->seconds_per_case = 0.3;
    snprintf(o->input_dir, sizeof o->input_dir, "bench/cache");
    snprintf(o->live.input, sizeof o->live.input, "360p25");
    snprintf(o->live.workdir, sizeof o->live.workdir, "/tmp/mcu-bench");
    snprintf(o->live.mcu_bin, sizeof o->live.mcu_bin, "build/mcu");
    optind = 2;
    int rc = parse(argc, argv, o);
    if (rc != MCU_OK) {
        usage();
        free(o);
        return 2;
    }
    if (o->clips < 1 || o->clips > MCU_BENCH_MAX_CLIPS) {
        fprintf(stderr, "mcu-bench: --clips 1..%d\n", MCU_BENCH_MAX_CLIPS);
        free(o);
        return 2;
    }
    if (strcmp(cmd, "kernels") == 0) {
        rc = mcu_bench_kernels(stdout, o->seconds_per_case);
    } else if (strcmp(cmd, "fanout") == 0) {
        mcu_bench_media_t *comp = NULL;
        rc = mcu_bench_media_load(o->composite, &comp);
        if (rc == MCU_OK && o->n_counts == 0)
            rc = MCU_ERR_INVAL;
        if (rc == MCU_OK)
            rc = mcu_bench_fanout(comp, o->counts, o->n_counts,
                                  o->seconds_given ? o->live.seconds : 10, BENCH_FANOUT_PORT_BASE,
                                  stdout);
        mcu_bench_media_free(&comp);
    } else if (strcmp(cmd, "conceal") == 0) {
        rc = load_clips(o);
        if (rc == MCU_OK) {
            json_t *rec = NULL;
            o->conceal.clip = o->live.clips[0];
            o->conceal.seconds = o->seconds_given ? o->live.seconds : 30;
            rc = mcu_bench_conceal_run(&o->conceal, &rec);
            emit(rec);
        }
        for (int k = 0; k < o->live.n_clips; k++)
            mcu_bench_media_free(&o->live.clips[k]);
    } else if (strcmp(cmd, "live") == 0 || strcmp(cmd, "capacity") == 0 ||
               strcmp(cmd, "pipeline") == 0) {
        rc = load_clips(o);
        if (rc == MCU_OK && strcmp(cmd, "live") == 0) {
            json_t *rec = NULL;
            rc = mcu_bench_live_run(&o->live, &rec);
            emit(tag_round(rec, o->round));
        } else if (rc == MCU_OK && strcmp(cmd, "capacity") == 0) {
            json_t *rec = NULL;
            rc = mcu_bench_capacity(&o->live, o->live.sites, o->target, o->max_trials, stdout,
                                    &rec);
            emit(rec);
        } else if (rc == MCU_OK) {
            mcu_bench_pipeline_config_t pc = {.n_clips = o->live.n_clips, .sites = o->live.sites,
                                              .out_w = o->live.out_w, .out_h = o->live.out_h,
                                              .out_fps = o->live.out_fps,
                                              .video_kbps = o->live.video_kbps,
                                              .audio_kbps = o->live.audio_kbps,
                                              .frames = o->frames > 0 ? o->frames : 250,
                                              .receivers = o->live.sites,
                                              .paced = o->paced};
            memcpy(pc.clips, o->live.clips, sizeof pc.clips);
            snprintf(pc.input, sizeof pc.input, "%s", o->live.input);
            json_t *fl = NULL, *tp = NULL;
            rc = mcu_bench_pipeline_run(&pc, &fl, &tp);
            emit(tag_round(fl, o->round));
            emit(tag_round(tp, o->round));
        }
        for (int k = 0; k < o->live.n_clips; k++)
            mcu_bench_media_free(&o->live.clips[k]);
    } else {
        usage();
        rc = MCU_ERR_INVAL;
    }
    if (rc != MCU_OK)
        fprintf(stderr, "mcu-bench %s: %s\n", cmd, mcu_strerror(rc));
    free(o);
    return rc == MCU_OK ? 0 : 1;
}
