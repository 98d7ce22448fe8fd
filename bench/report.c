#include "report.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/live.h"
#include "mcu/error.h"

extern char **environ;

/* A bench run writes a few hundred records (500 fan-out points, a few dozen kernels and
 * live runs); 4096 leaves room for several runs appended to one file while keeping a
 * runaway file from taking the machine's memory. */
#define REPORT_MAX_RECORDS 4096
/* The longest record is a live run with its delay histogram, a few KiB; 1 MiB is far
 * beyond any real line and still a bounded buffer. */
#define REPORT_LINE_MAX (1024 * 1024)
/* Room for every file name derived from md_path (PATH_MAX on Linux): its directory, its
 * base name (NAME_MAX, 255, on Linux) and the longest suffix this module adds. */
#define PATH_BYTES 4096
#define NAME_BYTES 256
#define SUFFIX_BYTES 64
#define DIR_BYTES (PATH_BYTES - NAME_BYTES - SUFFIX_BYTES - 1)
/* A smoke record is shown as compact JSON, cut here: it is a sign of life, not data. */
#define SMOKE_SHOW_MAX 200
/* A line of perf's summary: symbol names can be long C++-ish names. */
#define PERF_LINE_MAX 1024
/* Plot size: readable on a laptop screen and in a markdown viewer without scaling. */
#define PLOT_WIDTH 960
#define PLOT_HEIGHT 600
#define KIB_PER_MIB 1024.0
/* From 100 ns a call up, a tenth of a nanosecond is below the timer's noise. */
#define NS_WHOLE 100.0

/* ---------------------------------------------------------------- targets */

/* The Yên Mô scenario (CONTEXT.md): district hall + 17 communes sending 640x360 at 25
 * fps, one 1280x720 composite back. Targets 1, 4 and 6 are measured on it. */
#define SCENARIO_SITES 18
#define SCENARIO_INPUT "360p25"
#define SCENARIO_OUTPUT "720p25"
/* Target 1: decoding each site once and scaling it straight into its tile must cost at
 * most 0.55 of what ffmpeg costs for the same sites and composite, and at most 15 % over
 * the floor (decode-only of every input + one encode-only): everything the MCU adds to
 * the codecs (network, jitter, compose, mix) stays small. */
#define TARGET_VS_FFMPEG_MAX 0.55
#define TARGET_VS_FLOOR_MAX 1.15
/* Target 2: the same 18 sites at 720p30 in and out, in real time. A run shorter than
 * 60 s proves the pipeline works but not that it holds: "smoke length". */
#define HD_SITES 18
#define HD_INPUT "720p30"
#define HD_OUTPUT "720p30"
#define TARGET_FULL_SECONDS 60.0
/* Target 3: the 18-site district with room to grow (20 sites) at 720p30, and a meeting
 * of several districts' communes (60 sites) at the low-bandwidth 360p25 input. */
#define CAP_HD_INPUT "720p30"
#define CAP_HD_OUTPUT "720p30"
#define CAP_HD_MIN_SITES 20.0
#define CAP_SD_INPUT "360p25"
#define CAP_SD_MIN_SITES 60.0
/* Target 4: at 25 fps a frame lasts 40 ms; the MCU should add less than one frame
 * period for the median picture and at most a frame and a half at p99, so that speech
 * and lips stay together and a turn in the discussion does not lag. */
#define DELAY_P50_MAX_MS 35.0
#define DELAY_P99_MAX_MS 60.0
/* Target 5: one encode reaches every commune link; 500 receivers of a 1 Mbps composite
 * on one core leaves the other cores to decode and encode. */
#define FANOUT_MIN_RECEIVERS 500.0
#define FANOUT_CORE 1.0
/* The fan-out plot's y axis goes at least 20 % past one core. */
#define FANOUT_HEADROOM 1.2
/* Target 6: composing 18 tiles must stay a small part of a 40 ms frame period, leaving
 * the time to decode and encode. */
#define COMPOSE_MAX_MS 2.0

/* ---------------------------------------------------------------- records */

typedef enum kind {
    KIND_MACHINE,
    KIND_LIVE,
    KIND_FLOOR,
    KIND_THROUGHPUT,
    KIND_FANOUT,
    KIND_KERNEL,
    KIND_CAPACITY,
    KIND_SMOKE,
    KIND_CONCEAL,
    KIND__COUNT
} kind_t;

static const char *const kind_names[KIND__COUNT] = {
    "machine", "live", "floor", "throughput", "fanout", "kernel", "capacity", "smoke", "conceal",
};

/* Stage keys in pipeline order, as mcu-bench writes them, with the report's label. */
static const struct {
    const char *key;
    const char *label;
} stages[] = {
    {"receive", "receive + SRTP unprotect"},
    {"jitter", "jitter buffer + depacketize"},
    {"decode", "decode"},
    {"compose", "compose"},
    {"mix", "audio mix"},
    {"encode", "encode"},
    {"packetize", "packetize"},
    {"send", "SRTP protect + send"},
    {"other", "other"},
};
#define N_STAGES (sizeof stages / sizeof stages[0])

typedef enum plot_id { PLOT_CPU, PLOT_DELAY, PLOT_FANOUT, PLOT__COUNT } plot_id_t;

static const struct {
    const char *name; /* file name part: <base>-<name>.png */
    const char *title;
} plots[PLOT__COUNT] = {
    {"cpu-vs-sites", "CPU ms per output frame vs sites"},
    {"delay-cdf", "Added delay of the MCU (CDF)"},
    {"fanout", "Fan-out: CPU seconds per second vs receivers"},
};

typedef struct record {
    kind_t kind;
    json_t *obj;
} record_t;

typedef struct report {
    const char *jsonl;
    record_t *rec;
    size_t n;
    size_t n_kind[KIND__COUNT];
    size_t invalid;    /* not a JSON object */
    size_t too_long;   /* longer than REPORT_LINE_MAX */
    size_t unknown;    /* no kind, or one this report does not know */
    size_t over_bound; /* past REPORT_MAX_RECORDS */
    const json_t *machine;
    char dir[DIR_BYTES];   /* directory of md_path, "." when it has none */
    char base[NAME_BYTES]; /* md_path's file name without ".md" */
    bool has_data[PLOT__COUNT];
    bool drawn[PLOT__COUNT];
    char why_not[256]; /* why gnuplot drew nothing; empty when it ran */
} report_t;

/* ---------------------------------------------------------------- JSON access */

/* The number at `key`, NAN when absent, null or not a number. */
static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The string at `key`, NULL when absent or not a string. */
static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
    const char *s = str(o, key);
    return s ? s : dflt;
}

/* 1 true, 0 false, -1 absent or not a boolean. */
static int tri(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : -1;
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The record is for `sites` sites at `input` in, `output` out. */
static bool is_scenario(const json_t *o, double sites, const char *input, const char *output)
{
    return num(o, "sites") == sites && same_str(str(o, "input"), input) &&
           same_str(str(o, "output"), output);
}

static bool same_scenario(const json_t *a, const json_t *b)
{
    return is_scenario(a, num(b, "sites"), str(b, "input"), str(b, "output"));
}

/* A pipeline record made at the output rate (mcu-bench pipeline --paced). */
static bool is_paced(const json_t *o) { return json_is_true(json_object_get(o, "paced")); }

/* The round a record belongs to (bench.sh's --round; 0 when it has none). */
static double round_of(const json_t *o)
{
    double v = num(o, "round");
    return isnan(v) ? 0 : v;
}

/* The live record of `system` for a scenario in `round` (NAN: any round); of several,
 * the longest run (the later on a tie), because a short one is a smoke test of the
 * same thing. */
static const json_t *find_live_in(const report_t *r, const char *system, double sites,
                                  const char *input, const char *output, double round)
{
    const json_t *best = NULL;
    for (size_t i = 0; i < r->n; i++) {
        const json_t *o = r->rec[i].obj;
        if (r->rec[i].kind != KIND_LIVE || !same_str(str(o, "system"), system) ||
            !is_scenario(o, sites, input, output) || (!isnan(round) && round_of(o) != round))
            continue;
        if (!best || !(num(o, "seconds") < num(best, "seconds")))
            best = o;
    }
    return best;
}

static const json_t *find_live(const report_t *r, const char *system, double sites,
                               const char *input, const char *output)
{
    return find_live_in(r, system, sites, input, output, NAN);
}

/* The pipeline record of `kind` (KIND_FLOOR or KIND_THROUGHPUT) of a scenario in `round`
 * (NAN: any; the last one when there are several), paced or not. */
static const json_t *find_pipeline(const report_t *r, int kind, double sites, const char *input,
                                   const char *output, double round, bool paced)
{
    const json_t *found = NULL;
    for (size_t i = 0; i < r->n; i++)
        if ((int)r->rec[i].kind == kind && is_scenario(r->rec[i].obj, sites, input, output) &&
            (isnan(round) || round_of(r->rec[i].obj) == round) &&
            is_paced(r->rec[i].obj) == paced)
            found = r->rec[i].obj;
    return found;
}

static const json_t *find_floor_kind(const report_t *r, double sites, const char *input,
                                     const char *output, double round, bool paced)
{
    return find_pipeline(r, KIND_FLOOR, sites, input, output, round, paced);
}

static const json_t *find_floor_in(const report_t *r, double sites, const char *input,
                                   const char *output, double round)
{
    return find_floor_kind(r, sites, input, output, round, false);
}

static double ratio(double a, double b)
{
    return (isnan(a) || isnan(b) || b <= 0) ? NAN : a / b;
}

/* ---------------------------------------------------------------- rounds */

/* The scenario's rounds: bench.sh runs the floor and the three systems in turn, a few
 * rounds over, because this kind of machine drifts by 10-15% within minutes. A ratio
 * is taken within a round (minutes apart at most) and a target is judged on the median
 * over the rounds. At most this many rounds are told apart (more than any run makes). */
#define MAX_ROUNDS 16

typedef struct rounds {
    int n;
    double id[MAX_ROUNDS];
} rounds_t;

/* The rounds in which the MCU ran the scenario, in the order they first appear. */
static void scenario_rounds(const report_t *r, rounds_t *rs)
{
    rs->n = 0;
    for (size_t i = 0; i < r->n && rs->n < MAX_ROUNDS; i++) {
        const json_t *o = r->rec[i].obj;
        if (r->rec[i].kind != KIND_LIVE || !same_str(str(o, "system"), "mcu") ||
            !is_scenario(o, SCENARIO_SITES, SCENARIO_INPUT, SCENARIO_OUTPUT))
            continue;
        bool seen = false;
        for (int k = 0; k < rs->n && !seen; k++)
            seen = rs->id[k] == round_of(o);
        if (!seen)
            rs->id[rs->n++] = round_of(o);
    }
}

/* Per round, `key` of the scenario record of `system` (NULL: the floor, "paced": the
 * paced floor, "pipeline" and "paced pipeline": the throughput runs), NAN where a round
 * has none; the stages' keys are read from "stages" when `stage` is set. */
static void round_values(const report_t *r, const rounds_t *rs, const char *system,
                         const char *key, bool stage, double v[MAX_ROUNDS])
{
    const bool paced_pipeline = system && strcmp(system, "paced pipeline") == 0;
    const bool pipeline = paced_pipeline || (system && strcmp(system, "pipeline") == 0);
    const bool floor = !system || strcmp(system, "paced") == 0;
    for (int k = 0; k < rs->n; k++) {
        const json_t *o =
            pipeline ? find_pipeline(r, KIND_THROUGHPUT, SCENARIO_SITES, SCENARIO_INPUT,
                                     SCENARIO_OUTPUT, rs->id[k], paced_pipeline)
            : floor  ? find_floor_kind(r, SCENARIO_SITES, SCENARIO_INPUT, SCENARIO_OUTPUT,
                                       rs->id[k], system != NULL)
                     : find_live_in(r, system, SCENARIO_SITES, SCENARIO_INPUT,
                                    SCENARIO_OUTPUT, rs->id[k]);
        v[k] = num(stage ? json_object_get(o, "stages") : o, key);
    }
}

static void round_ratios(int n, const double *a, const double *b, double q[MAX_ROUNDS])
{
    for (int k = 0; k < n; k++)
        q[k] = ratio(a[k], b[k]);
}

/* The median of the values that are numbers (the mean of the middle two for an even
 * count); NAN when there are none. */
static double median(const double *v, int n)
{
    double s[MAX_ROUNDS];
    int m = 0;
    for (int k = 0; k < n; k++)
        if (!isnan(v[k]))
            s[m++] = v[k];
    if (m == 0)
        return NAN;
    for (int i = 1; i < m; i++)
        for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
            double t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    return m % 2 ? s[m / 2] : (s[m / 2 - 1] + s[m / 2]) / 2;
}

/* What targets 1, 4 and 6 are judged on, per round of the scenario. */
typedef struct scenario_figs {
    rounds_t rs;
    double mcu[MAX_ROUNDS], ff[MAX_ROUNDS], gst[MAX_ROUNDS], fl[MAX_ROUNDS], pfl[MAX_ROUNDS];
    double p50[MAX_ROUNDS], p99[MAX_ROUNDS], compose[MAX_ROUNDS];
    double q_ff[MAX_ROUNDS], q_fl[MAX_ROUNDS], q_gst[MAX_ROUNDS], fl_ff[MAX_ROUNDS];
    double q_pfl[MAX_ROUNDS], pfl_fl[MAX_ROUNDS];
    /* The whole data path in one thread (bench/pipeline.h), as fast as it goes and paced
     * at the output rate. */
    double pipe[MAX_ROUNDS], pipe_fl[MAX_ROUNDS];
    double ppipe[MAX_ROUNDS], ppipe_fl[MAX_ROUNDS], ppipe_ff[MAX_ROUNDS];
} scenario_figs_t;

static void scenario_figs(const report_t *r, scenario_figs_t *s)
{
    scenario_rounds(r, &s->rs);
    const int n = s->rs.n;
    round_values(r, &s->rs, "mcu", "cpu_ms_per_frame", false, s->mcu);
    round_values(r, &s->rs, "ffmpeg", "cpu_ms_per_frame", false, s->ff);
    round_values(r, &s->rs, "gstreamer", "cpu_ms_per_frame", false, s->gst);
    round_values(r, &s->rs, NULL, "cpu_ms_per_frame", false, s->fl);
    round_values(r, &s->rs, "paced", "cpu_ms_per_frame", false, s->pfl);
    round_values(r, &s->rs, "mcu", "delay_p50_ms", false, s->p50);
    round_values(r, &s->rs, "mcu", "delay_p99_ms", false, s->p99);
    round_values(r, &s->rs, "mcu", "compose", true, s->compose);
    round_ratios(n, s->mcu, s->ff, s->q_ff);
    round_ratios(n, s->mcu, s->fl, s->q_fl);
    round_ratios(n, s->mcu, s->gst, s->q_gst);
    round_ratios(n, s->fl, s->ff, s->fl_ff);
    round_ratios(n, s->mcu, s->pfl, s->q_pfl);
    round_ratios(n, s->pfl, s->fl, s->pfl_fl);
    round_values(r, &s->rs, "pipeline", "cpu_ms_per_frame", false, s->pipe);
    round_ratios(n, s->pipe, s->fl, s->pipe_fl);
    round_values(r, &s->rs, "paced pipeline", "cpu_ms_per_frame", false, s->ppipe);
    round_ratios(n, s->ppipe, s->fl, s->ppipe_fl);
    round_ratios(n, s->ppipe, s->ff, s->ppipe_ff);
}

/* "0.58, 0.60, 0.63": the rounds' values, in round order. */
static void list_values(char *out, size_t cap, const double *v, int n, int decimals)
{
    size_t at = 0;
    out[0] = '\0';
    for (int k = 0; k < n && at < cap; k++) {
        int w = isnan(v[k]) ? snprintf(out + at, cap - at, "%s-", k ? ", " : "")
                            : snprintf(out + at, cap - at, "%s%.*f", k ? ", " : "", decimals,
                                       v[k]);
        at += w > 0 ? (size_t)w : 0;
    }
}

/* ---------------------------------------------------------------- markdown output */

#define DASH "—"

static void put_num(FILE *f, double v, int prec)
{
    if (isnan(v))
        fputs(DASH, f);
    else
        fprintf(f, "%.*f", prec, v);
}

/* Text for a table cell or a line: '|' would split the cell, a line break the table. */
static void put_text(FILE *f, const char *s)
{
    if (!s) {
        fputs(DASH, f);
        return;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '|')
            fputs("\\|", f);
        else if (c < 0x20 || c == 0x7f)
            fputc(' ', f);
        else
            fputc(c, f);
    }
}

/* A JSON value as a table cell: strings as they are, integral numbers without decimals. */
static void put_value(FILE *f, const json_t *v)
{
    if (json_is_string(v))
        put_text(f, json_string_value(v));
    else if (json_is_integer(v))
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        fprintf(f, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        fputs(json_is_true(v) ? "yes" : "no", f);
    else
        fputs(DASH, f);
}

static void put_yes_no(FILE *f, int t)
{
    fputs(t < 0 ? DASH : t ? "yes" : "no", f);
}

/* "18 sites, 360p25 in, 720p25 out" */
static void put_scenario(FILE *f, const json_t *o)
{
    put_num(f, num(o, "sites"), 0);
    fputs(" sites, ", f);
    put_text(f, str_or(o, "input", "?"));
    fputs(" in, ", f);
    put_text(f, str_or(o, "output", "?"));
    fputs(" out", f);
}

/* A number as text for a sentence or a cell being built: DASH when not measured. */
static const char *fmt(char *buf, size_t size, double v, int prec)
{
    if (isnan(v))
        snprintf(buf, size, DASH);
    else
        snprintf(buf, size, "%.*f", prec, v);
    return buf;
}

typedef enum bound { BOUND_MAX, BOUND_MIN } bound_t;

/* One row of the targets table: what, the measured text (NULL: "not measured"), the
 * goal, and PASS/MISS with the margin. A NAN limit makes a row for information. */
static void target_row(FILE *f, const char *what, const char *measured, double value,
                       bound_t bound, double limit, int prec, const char *unit)
{
    const char *sp = unit[0] ? " " : "";
    fprintf(f, "| %s | ", what);
    put_text(f, measured && !isnan(value) ? measured : "not measured");
    if (isnan(limit)) {
        fputs(" | for information | " DASH " |\n", f);
        return;
    }
    fprintf(f, " | %s %.*f%s%s | ", bound == BOUND_MAX ? "≤" : "≥", prec, limit, sp, unit);
    if (isnan(value)) {
        fputs("not measured |\n", f);
        return;
    }
    double spare = bound == BOUND_MAX ? limit - value : value - limit;
    fprintf(f, "**%s** (%s %.*f%s%s) |\n", spare >= 0 ? "PASS" : "MISS",
            spare >= 0 ? "margin" : "short by", prec, fabs(spare), sp, unit);
}

/* ---------------------------------------------------------------- reading */

/* Reads one line without its newline (or CR LF) into buf, REPORT_LINE_MAX + 1 bytes, and
 * its length into *len. Returns 1 for a line, 0 at the end of the file, -1 for a line
 * longer than REPORT_LINE_MAX (read to its newline and dropped). */
static int read_line(FILE *in, char *buf, size_t *len)
{
    size_t n = 0;
    bool too_long = false;
    int c;
    while ((c = getc(in)) != EOF && c != '\n') {
        if (n < REPORT_LINE_MAX)
            buf[n++] = (char)c;
        else
            too_long = true;
    }
    if (c == EOF && n == 0 && !too_long)
        return 0;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *len = n;
    return too_long ? -1 : 1;
}

static kind_t kind_of(const json_t *obj)
{
    const char *k = str(obj, "kind");
    for (int i = 0; k && i < KIND__COUNT; i++)
        if (strcmp(k, kind_names[i]) == 0)
            return (kind_t)i;
    return KIND__COUNT;
}

static int read_records(report_t *r)
{
    FILE *in = fopen(r->jsonl, "r");
    if (!in)
        return MCU_ERR_IO;
    char *line = malloc(REPORT_LINE_MAX + 1);
    r->rec = calloc(REPORT_MAX_RECORDS, sizeof *r->rec);
    if (!line || !r->rec) {
        free(line);
        fclose(in);
        return MCU_ERR_NOMEM;
    }
    int got;
    size_t len;
    while ((got = read_line(in, line, &len)) != 0) {
        if (got < 0) {
            r->too_long++;
            continue;
        }
        if (line[strspn(line, " \t")] == '\0' && strlen(line) == len)
            continue; /* blank lines separate runs appended to one file */
        /* A NUL byte would end the text json_loads sees: such a line is not JSON. */
        json_t *obj = strlen(line) == len ? json_loads(line, 0, NULL) : NULL;
        if (!json_is_object(obj)) {
            json_decref(obj);
            r->invalid++;
            continue;
        }
        kind_t k = kind_of(obj);
        if (k == KIND__COUNT) {
            json_decref(obj);
            r->unknown++;
            continue;
        }
        if (r->n == REPORT_MAX_RECORDS) {
            json_decref(obj);
            r->over_bound++;
            continue;
        }
        r->rec[r->n++] = (record_t){k, obj};
        r->n_kind[k]++;
        if (k == KIND_MACHINE && !r->machine)
            r->machine = obj;
    }
    int rc = ferror(in) ? MCU_ERR_IO : MCU_OK;
    free(line);
    fclose(in);
    return rc;
}

/* ---------------------------------------------------------------- plot data */

typedef struct point {
    double x, y;
} point_t;

static int cmp_point(const void *a, const void *b)
{
    double x = ((const point_t *)a)->x, y = ((const point_t *)b)->x;
    return (x > y) - (x < y);
}

/* dir/<base><suffix> into out. */
static int side_path(const report_t *r, const char *suffix, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s%s", r->dir, r->base, suffix);
    return (n < 0 || (size_t)n >= size) ? MCU_ERR_TOO_BIG : MCU_OK;
}

/* <base>-<plot>.<ext>, the name the script and the markdown use. */
static void plot_name(const report_t *r, plot_id_t p, const char *ext, char *out, size_t size)
{
    snprintf(out, size, "%s-%s.%s", r->base, plots[p].name, ext);
}

static int open_plot_data(const report_t *r, plot_id_t p, FILE **out)
{
    char suffix[SUFFIX_BYTES], path[PATH_BYTES];
    snprintf(suffix, sizeof suffix, "-%s.dat", plots[p].name);
    int rc = side_path(r, suffix, path, sizeof path);
    if (rc < 0)
        return rc;
    *out = fopen(path, "w");
    return *out ? MCU_OK : MCU_ERR_IO;
}

static int close_checked(FILE *f)
{
    bool bad = ferror(f) != 0;
    return (fclose(f) != 0 || bad) ? MCU_ERR_IO : MCU_OK;
}

/* A string in gnuplot's single quotes, where a quote is written twice. */
static void gp_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\'')
            fputs("''", f);
        else
            fputc(c < 0x20 ? ' ' : c, f);
    }
    fputc('\'', f);
}

/* One plot being written: its .dat (opened with the first series) and its plot command
 * in the script, one clause per series. */
typedef struct plot_out {
    report_t *r;
    plot_id_t id;
    FILE *gp;
    const char *xlabel, *ylabel;
    const char *setup; /* set commands after the common ones, before "plot" */
    const char *with;  /* style of every series */
    FILE *dat;
    size_t n_series;
} plot_out_t;

/* Adds a series of n points (none: nothing is written). On the first one, opens the .dat
 * and starts the plot in the script. */
static int series_add(plot_out_t *p, const char *label, point_t *pts, size_t n, bool sort)
{
    if (n == 0)
        return MCU_OK;
    char dat[PATH_BYTES], png[PATH_BYTES];
    plot_name(p->r, p->id, "dat", dat, sizeof dat);
    if (!p->dat) {
        int rc = open_plot_data(p->r, p->id, &p->dat);
        if (rc < 0)
            return rc;
        plot_name(p->r, p->id, "png", png, sizeof png);
        fputs("\nreset\nset grid\nset key below\nset output ", p->gp);
        gp_quote(p->gp, png);
        fputs("\nset title ", p->gp);
        gp_quote(p->gp, plots[p->id].title);
        fputs("\nset xlabel ", p->gp);
        gp_quote(p->gp, p->xlabel);
        fputs("\nset ylabel ", p->gp);
        gp_quote(p->gp, p->ylabel);
        fprintf(p->gp, "\n%splot ", p->setup);
    } else {
        fputs(", \\\n     ", p->gp);
    }
    if (sort)
        qsort(pts, n, sizeof *pts, cmp_point);
    /* The block: a comment naming it, the points, two blank lines (gnuplot's index). */
    fputs("# ", p->dat);
    for (const char *s = label; *s; s++)
        fputc((unsigned char)*s < 0x20 ? ' ' : *s, p->dat);
    fputc('\n', p->dat);
    for (size_t i = 0; i < n; i++)
        fprintf(p->dat, "%g %g\n", pts[i].x, pts[i].y);
    fputs("\n\n", p->dat);
    gp_quote(p->gp, dat);
    fprintf(p->gp, " index %zu with %s title ", p->n_series, p->with);
    gp_quote(p->gp, label);
    p->n_series++;
    return MCU_OK;
}

/* Ends the plot command, with `extra` (a clause after the series) when not NULL, closes
 * the .dat and records whether the plot has data. Returns rc, or the close's error. */
static int series_end(plot_out_t *p, const char *extra, int rc)
{
    if (p->n_series > 0) {
        if (extra)
            fprintf(p->gp, ", \\\n     %s", extra);
        fputs("\n", p->gp);
    }
    if (p->dat) {
        int crc = close_checked(p->dat);
        p->dat = NULL;
        rc = rc < 0 ? rc : crc;
    }
    p->r->has_data[p->id] = p->n_series > 0 && rc == MCU_OK;
    return rc;
}

/* The system of a live record; capacity trials are MCU runs. */
static const char *system_of(const record_t *rec)
{
    return rec->kind == KIND_CAPACITY ? "mcu" : str(rec->obj, "system");
}

/* Appends the (sites, CPU ms/frame) point of `o` when both are measured. */
static void add_cpu_point(const json_t *o, point_t *pts, size_t *n)
{
    point_t pt = {num(o, "sites"), num(o, "cpu_ms_per_frame")};
    if (!isnan(pt.x) && !isnan(pt.y))
        pts[(*n)++] = pt;
}

/* Plot a: one series per (system, input -> output) over the live records and the
 * capacity trials, in the order each first appears. */
static int plot_cpu(report_t *r, FILE *gp)
{
    size_t cap = 0;
    for (size_t i = 0; i < r->n; i++)
        cap += r->rec[i].kind == KIND_CAPACITY
                   ? json_array_size(json_object_get(r->rec[i].obj, "trials"))
                   : r->rec[i].kind == KIND_LIVE;
    point_t *pts = calloc(cap ? cap : 1, sizeof *pts);
    if (!pts)
        return MCU_ERR_NOMEM;
    plot_out_t p = {r, PLOT_CPU, gp, "sites", "CPU ms per output frame",
                    "set xrange [0:*]\nset yrange [0:*]\n", "linespoints", NULL, 0};
    int rc = MCU_OK;
    for (size_t i = 0; i < r->n && rc == MCU_OK; i++) {
        const record_t *key = &r->rec[i];
        if (key->kind != KIND_LIVE && key->kind != KIND_CAPACITY)
            continue;
        /* A series is written at the first record of its key; later ones join it. */
        bool first = true;
        size_t n = 0;
        for (size_t j = 0; j < r->n && first; j++) {
            const record_t *rec = &r->rec[j];
            if ((rec->kind != KIND_LIVE && rec->kind != KIND_CAPACITY) ||
                !same_str(system_of(rec), system_of(key)) ||
                !same_str(str(rec->obj, "input"), str(key->obj, "input")) ||
                !same_str(str(rec->obj, "output"), str(key->obj, "output")))
                continue;
            if (j < i) {
                first = false;
            } else if (rec->kind == KIND_LIVE) {
                add_cpu_point(rec->obj, pts, &n);
            } else {
                const json_t *trials = json_object_get(rec->obj, "trials");
                for (size_t t = 0; t < json_array_size(trials); t++)
                    add_cpu_point(json_array_get(trials, t), pts, &n);
            }
        }
        if (!first)
            continue;
        char label[256];
        snprintf(label, sizeof label, "%s %s->%s", system_of(key) ? system_of(key) : "?",
                 str_or(key->obj, "input", "?"), str_or(key->obj, "output", "?"));
        rc = series_add(&p, label, pts, n, true);
    }
    free(pts);
    return series_end(&p, NULL, rc);
}

/* Plot b: for each MCU live run with a histogram, the fraction of frames delayed at most
 * x ms, from (0, 0) through each bucket's upper bound. */
static int plot_delay(report_t *r, FILE *gp)
{
    char setup[512];
    snprintf(setup, sizeof setup,
             "set key inside right bottom\nset xrange [0:*]\nset yrange [0:1]\n"
             "set arrow 1 from %g, graph 0 to %g, graph 1 nohead dashtype 2\n"
             "set arrow 2 from %g, graph 0 to %g, graph 1 nohead dashtype 2\n"
             "set label 1 'p50 target' at %g, graph 0.95 left offset 0.5,0\n"
             "set label 2 'p99 target' at %g, graph 0.88 left offset 0.5,0\n",
             DELAY_P50_MAX_MS, DELAY_P50_MAX_MS, DELAY_P99_MAX_MS, DELAY_P99_MAX_MS,
             DELAY_P50_MAX_MS, DELAY_P99_MAX_MS);
    plot_out_t p = {r, PLOT_DELAY, gp, "added delay, ms", "fraction of frames", setup,
                    "lines linewidth 2", NULL, 0};
    int rc = MCU_OK;
    for (size_t i = 0; i < r->n && rc == MCU_OK; i++) {
        const json_t *o = r->rec[i].obj;
        const json_t *hist = json_object_get(o, "delay_hist_ms");
        size_t nb = json_array_size(hist);
        if (r->rec[i].kind != KIND_LIVE || !same_str(str(o, "system"), "mcu") || nb == 0)
            continue;
        point_t *pts = calloc(nb + 1, sizeof *pts);
        if (!pts) {
            rc = MCU_ERR_NOMEM;
            break;
        }
        size_t n = 1; /* pts[0] = (0, 0): no frame leaves before it arrived */
        double total = 0;
        for (size_t b = 0; b < nb; b++) {
            const json_t *bucket = json_array_get(hist, b);
            const json_t *upper = json_array_get(bucket, 0), *count = json_array_get(bucket, 1);
            if (!json_is_number(upper) || !json_is_number(count))
                continue;
            total += json_number_value(count);
            pts[n++] = (point_t){json_number_value(upper), total};
        }
        if (total > 0) {
            for (size_t k = 1; k < n; k++)
                pts[k].y /= total;
            char label[256];
            snprintf(label, sizeof label, "%.0f x %s->%s (%.0f s)", num(o, "sites"),
                     str_or(o, "input", "?"), str_or(o, "output", "?"), num(o, "seconds"));
            rc = series_add(&p, label, pts, n, false);
        }
        free(pts);
    }
    return series_end(&p, NULL, rc);
}

static int cmp_receivers(const void *a, const void *b)
{
    double x = num(*(const json_t *const *)a, "receivers");
    double y = num(*(const json_t *const *)b, "receivers");
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y); /* unmeasured last */
    return (x > y) - (x < y);
}

/* The fan-out records sorted by receivers, in a new array (NULL when there are none or
 * memory is short: *nomem tells which). */
static const json_t **sorted_fanout(const report_t *r, size_t *n, bool *nomem)
{
    *n = 0;
    *nomem = false;
    if (r->n_kind[KIND_FANOUT] == 0)
        return NULL;
    const json_t **v = calloc(r->n_kind[KIND_FANOUT], sizeof *v);
    if (!v) {
        *nomem = true;
        return NULL;
    }
    for (size_t i = 0; i < r->n; i++)
        if (r->rec[i].kind == KIND_FANOUT)
            v[(*n)++] = r->rec[i].obj;
    qsort(v, *n, sizeof *v, cmp_receivers);
    return v;
}

/* Plot c: CPU seconds per second against receivers, with the one-core line. */
static int plot_fanout(report_t *r, FILE *gp)
{
    size_t n;
    bool nomem;
    const json_t **v = sorted_fanout(r, &n, &nomem);
    if (nomem)
        return MCU_ERR_NOMEM;
    point_t *pts = calloc(n ? n : 1, sizeof *pts);
    if (!pts) {
        free(v);
        return MCU_ERR_NOMEM;
    }
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        point_t pt = {num(v[i], "receivers"), num(v[i], "cpu_s_per_s")};
        if (!isnan(pt.x) && !isnan(pt.y))
            pts[np++] = pt;
    }
    /* The y axis reaches past one core at least, so that its line is never the frame. */
    char setup[128];
    snprintf(setup, sizeof setup, "set xrange [0:*]\nset yrange [0:%g<*]\n",
             FANOUT_CORE * FANOUT_HEADROOM);
    plot_out_t p = {r, PLOT_FANOUT, gp, "receivers", "CPU seconds per second", setup,
                    "linespoints", NULL, 0};
    int rc = series_add(&p, "SRTP protect + send", pts, np, false);
    char core[128];
    snprintf(core, sizeof core,
             "%g with lines dashtype 2 linewidth 2 linecolor rgb 'red' title '%g core'",
             FANOUT_CORE, FANOUT_CORE);
    free(pts);
    free(v);
    return series_end(&p, core, rc);
}

/* ---------------------------------------------------------------- gnuplot */

/* Runs "gnuplot -e \"cd '<dir>'\" <base>.gp" and waits for it; on failure says why in
 * r->why_not. The script names its files bare, so it also runs by hand from dir. */
static int run_gnuplot(report_t *r)
{
    char *cd = NULL;
    size_t cd_len;
    FILE *m = open_memstream(&cd, &cd_len);
    if (!m)
        return MCU_ERR_NOMEM;
    fputs("cd ", m);
    gp_quote(m, r->dir);
    if (fclose(m) != 0) {
        free(cd);
        return MCU_ERR_NOMEM;
    }
    char prog[] = "gnuplot", opt[] = "-e", script[PATH_BYTES];
    snprintf(script, sizeof script, "%s.gp", r->base);
    char *argv[] = {prog, opt, cd, script, NULL};
    pid_t pid;
    int err = posix_spawnp(&pid, prog, NULL, NULL, argv, environ);
    free(cd);
    if (err != 0) {
        snprintf(r->why_not, sizeof r->why_not, "gnuplot could not be started (%s)",
                 err == ENOENT ? "not installed or not on PATH" : strerror(err));
        return MCU_OK;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            snprintf(r->why_not, sizeof r->why_not, "waiting for gnuplot failed (%s)",
                     strerror(errno));
            return MCU_OK;
        }
    }
    if (WIFSIGNALED(status))
        snprintf(r->why_not, sizeof r->why_not, "gnuplot was killed by signal %d",
                 WTERMSIG(status));
    else if (WEXITSTATUS(status) != 0)
        snprintf(r->why_not, sizeof r->why_not, "gnuplot failed (exit status %d)",
                 WEXITSTATUS(status));
    return MCU_OK;
}

/* Writes every plot's .dat and the script, runs gnuplot, and notes which PNGs exist. */
static int write_plots(report_t *r)
{
    char path[PATH_BYTES], suffix[SUFFIX_BYTES];
    /* No stale plot of an earlier run may pass for this one's. */
    for (int p = 0; p < PLOT__COUNT; p++) {
        for (int ext = 0; ext < 2; ext++) {
            snprintf(suffix, sizeof suffix, "-%s.%s", plots[p].name, ext ? "png" : "dat");
            if (side_path(r, suffix, path, sizeof path) == MCU_OK)
                unlink(path);
        }
    }
    int rc = side_path(r, ".gp", path, sizeof path);
    if (rc < 0)
        return rc;
    FILE *gp = fopen(path, "w");
    if (!gp)
        return MCU_ERR_IO;
    fprintf(gp, "# Plots of %s.md. Re-plot from this directory: gnuplot %s.gp\n", r->base,
            r->base);
    /* pngcairo draws anti-aliased lines; png (libgd) is what gnuplot-nox always has. */
    fprintf(gp,
            "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
            "    set terminal pngcairo noenhanced size %d,%d\n"
            "} else {\n"
            "    set terminal png noenhanced size %d,%d\n"
            "}\n",
            PLOT_WIDTH, PLOT_HEIGHT, PLOT_WIDTH, PLOT_HEIGHT);
    rc = plot_cpu(r, gp);
    if (rc == MCU_OK)
        rc = plot_delay(r, gp);
    if (rc == MCU_OK)
        rc = plot_fanout(r, gp);
    fputs("\nunset output\n", gp);
    int crc = close_checked(gp);
    rc = rc < 0 ? rc : crc;
    bool any = false;
    for (int p = 0; p < PLOT__COUNT; p++)
        any |= r->has_data[p];
    if (rc < 0 || !any) {
        unlink(path); /* nothing to re-plot */
        return rc;
    }
    rc = run_gnuplot(r);
    for (int p = 0; p < PLOT__COUNT && rc == MCU_OK; p++) {
        snprintf(suffix, sizeof suffix, "-%s.png", plots[p].name);
        side_path(r, suffix, path, sizeof path);
        r->drawn[p] = r->has_data[p] && access(path, R_OK) == 0;
    }
    return rc;
}

/* ---------------------------------------------------------------- report sections */

static void write_answer(const report_t *r, FILE *f)
{
    fputs("## The answer\n\n", f);
    char a[32], b[32];
    bool any = false;
    for (size_t i = 0; i < r->n; i++) {
        const json_t *o = r->rec[i].obj;
        if (r->rec[i].kind != KIND_CAPACITY)
            continue;
        double max = num(o, "max_sites");
        if (isnan(max))
            fputs("The capacity search at ", f);
        else if (max < 1)
            fputs("This machine holds **no site** at ", f);
        else
            fprintf(f, "This machine holds **%s%.0f site%s** at ",
                    isnan(num(o, "first_failing_sites")) ? "at least " : "", max,
                    max == 1 ? "" : "s");
        put_text(f, str_or(o, "input", "?"));
        fputs(" in, ", f);
        put_text(f, str_or(o, "output", "?"));
        if (isnan(max))
            fputs(" out found no answer. ", f);
        else
            fprintf(f, " out, in real time (0 missed output ticks and the added delay within "
                       "%.0f ms at p99, for %s s)%s. ",
                    MCU_BENCH_LIVE_DELAY_P99_OK_MS, fmt(a, sizeof a, num(o, "seconds"), 0),
                    tri(o, "bounded_by_config") == 1
                        ? "; that is the daemon's bound on sites per conference, not the box's"
                        : "");
        any = true;
    }
    if (!any)
        fputs("No capacity search in this file. ", f);

    scenario_figs_t sc;
    scenario_figs(r, &sc);
    const int n = sc.rs.n;
    double ms = median(sc.mcu, n);
    fprintf(f, "In the %d-site scenario (%s in, %s out) ", SCENARIO_SITES, SCENARIO_INPUT,
            SCENARIO_OUTPUT);
    if (isnan(ms)) {
        fputs("the MCU's CPU use was not measured.\n\n", f);
        return;
    }
    fprintf(f, "the MCU uses **%.2f ms of CPU per output frame**", ms);
    double q_ff = median(sc.q_ff, n), q_fl = median(sc.q_fl, n);
    if (!isnan(q_ff))
        fprintf(f, ", %s × ffmpeg's", fmt(a, sizeof a, q_ff, 2));
    if (!isnan(q_fl))
        fprintf(f, "%s %s × the floor", isnan(q_ff) ? "," : " and", fmt(b, sizeof b, q_fl, 2));
    if (n > 1)
        fprintf(f, " (medians of %d rounds; each ratio within one round)", n);
    fputs(".\n\n", f);
}

static void write_machine(const report_t *r, FILE *f)
{
    static const struct {
        const char *key, *label;
    } fields[] = {
        {"host", "Host"},     {"date", "Date"},           {"cpu", "CPU"},
        {"cores", "Cores"},   {"simd", "SIMD"},           {"mem_gib", "Memory, GiB"},
        {"ffmpeg", "FFmpeg"}, {"gstreamer", "GStreamer"}, {"x264", "x264"},
        {"commit", "Commit"}, {"encoder", "Encoder"},
    };
    fputs("## Machine\n\n", f);
    if (!r->machine) {
        fputs("No machine record.\n\n", f);
        return;
    }
    fputs("| | |\n|---|---|\n", f);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        fprintf(f, "| %s | ", fields[i].label);
        put_value(f, json_object_get(r->machine, fields[i].key));
        fputs(" |\n", f);
    }
    fputs("\n", f);
}

/* Target 1's rows: the MCU's CPU per frame over another system's in the scenario,
 * round by round, judged on the median. */
static void ratio_row(FILE *f, const char *what, const scenario_figs_t *sc, const double *other,
                      const double *q, const char *other_name, double limit)
{
    const int n = sc->rs.n;
    char a[32], b[32], c[32], list[160], measured[320];
    double v = median(q, n);
    if (n > 1) {
        list_values(list, sizeof list, q, n, 2);
        snprintf(measured, sizeof measured, "median %s of %d rounds (%s); mcu %s / %s %s ms",
                 fmt(a, sizeof a, v, 2), n, list, fmt(b, sizeof b, median(sc->mcu, n), 2),
                 other_name, fmt(c, sizeof c, median(other, n), 2));
    } else {
        snprintf(measured, sizeof measured, "mcu %s / %s %s ms = %s",
                 fmt(a, sizeof a, median(sc->mcu, n), 2), other_name,
                 fmt(b, sizeof b, median(other, n), 2), fmt(c, sizeof c, v, 2));
    }
    target_row(f, what, measured, v, BOUND_MAX, limit, 2, "");
}

/* A bound's row: the median over the rounds of q = what / other, set beside the target
 * it bounds (for information: it is a measurement of the machine, not of the MCU). */
static void bound_row(FILE *f, const char *label, const scenario_figs_t *sc, const double *q,
                      const double *what, const double *other, const char *what_name,
                      const char *other_name, double target)
{
    const int n = sc->rs.n;
    char a[32], b[32], c[32], list[160], measured[400];
    double v = median(q, n);
    /* Three decimals: a bound can sit within a rounding of the target. */
    list_values(list, sizeof list, q, n, 3);
    snprintf(measured, sizeof measured,
             "median %s of %d round%s (%s); %s %s / %s %s ms; the target's %.2f is %s it",
             fmt(a, sizeof a, v, 3), n, n == 1 ? "" : "s", list, what_name,
             fmt(b, sizeof b, median(what, n), 2), other_name,
             fmt(c, sizeof c, median(other, n), 2), target,
             isnan(v) ? "not compared with" : target < v ? "below" : "above");
    target_row(f, label, measured, v, BOUND_MAX, NAN, 2, "");
}

/* Targets 4 and 6: the median over the rounds, each round's value listed. */
static void median_row(FILE *f, const char *what, const scenario_figs_t *sc, const double *v,
                       const char *suffix, double limit)
{
    const int n = sc->rs.n;
    char a[32], list[160], measured[320];
    double m = median(v, n);
    if (n > 1) {
        list_values(list, sizeof list, v, n, 2);
        snprintf(measured, sizeof measured, "median %s %s of %d rounds (%s)",
                 fmt(a, sizeof a, m, 2), suffix, n, list);
    } else {
        snprintf(measured, sizeof measured, "%s %s", fmt(a, sizeof a, m, 2), suffix);
    }
    target_row(f, what, measured, m, BOUND_MAX, limit, 2, "ms");
}

/* Target 2's row: real time with no missed tick, for a full-length run. */
static void realtime_row(const report_t *r, FILE *f)
{
    const json_t *o = find_live(r, "mcu", HD_SITES, HD_INPUT, HD_OUTPUT);
    fprintf(f, "| 2. mcu %d × %s → %s in real time | ", HD_SITES, HD_INPUT, HD_OUTPUT);
    double missed = num(o, "missed_ticks"), secs = num(o, "seconds");
    char a[32], b[32], c[32];
    if (!o || isnan(missed)) {
        fprintf(f, "not measured | 0 missed ticks for ≥ %.0f s | not measured |\n",
                TARGET_FULL_SECONDS);
        return;
    }
    fprintf(f, "%s missed ticks", fmt(a, sizeof a, missed, 0));
    if (num(o, "late_ticks") > 0)
        fprintf(f, " (%.0f more made late, not dropped)", num(o, "late_ticks"));
    fprintf(f, " in %s s, %s fps | 0 missed ticks for ≥ %.0f s | ", fmt(b, sizeof b, secs, 0),
            fmt(c, sizeof c, num(o, "fps_out"), 2), TARGET_FULL_SECONDS);
    if (tri(o, "ok") == 0) {
        fputs("**MISS** (run failed: ", f);
        put_text(f, str_or(o, "error", "no message"));
        fputs(") |\n", f);
    } else if (missed > 0 || tri(o, "realtime") == 0) {
        fprintf(f, "**MISS** (%.0f missed ticks%s) |\n", missed,
                tri(o, "realtime") == 0 ? ", not real time" : "");
    } else if (!(secs >= TARGET_FULL_SECONDS)) {
        fprintf(f, "**PASS at smoke length** (%s s of %.0f) |\n", b, TARGET_FULL_SECONDS);
    } else {
        fputs("**PASS** |\n", f);
    }
}

/* Target 3's rows: one per capacity record, and "not measured" for a target none has. */
static void capacity_rows(const report_t *r, FILE *f)
{
    bool hd = false, sd = false;
    char what[160], measured[160], a[32], b[32];
    for (size_t i = 0; i < r->n; i++) {
        const json_t *o = r->rec[i].obj;
        if (r->rec[i].kind != KIND_CAPACITY)
            continue;
        const char *in = str_or(o, "input", "?"), *out = str_or(o, "output", "?");
        double limit = NAN;
        if (same_str(in, CAP_HD_INPUT) && same_str(out, CAP_HD_OUTPUT))
            limit = CAP_HD_MIN_SITES, hd = true;
        else if (same_str(in, CAP_SD_INPUT))
            limit = CAP_SD_MIN_SITES, sd = true;
        snprintf(what, sizeof what, "3. capacity at %s → %s", in, out);
        double fail = num(o, "first_failing_sites");
        char c[32];
        if (isnan(fail))
            snprintf(measured, sizeof measured, "≥ %s sites (no trial failed), %s s per trial",
                     fmt(a, sizeof a, num(o, "max_sites"), 0),
                     fmt(b, sizeof b, num(o, "seconds"), 0));
        else
            snprintf(measured, sizeof measured, "%s sites (%s failed), %s s per trial",
                     fmt(a, sizeof a, num(o, "max_sites"), 0), fmt(c, sizeof c, fail, 0),
                     fmt(b, sizeof b, num(o, "seconds"), 0));
        target_row(f, what, measured, num(o, "max_sites"), BOUND_MIN, limit, 0, "sites");
    }
    if (!hd)
        target_row(f, "3. capacity at " CAP_HD_INPUT " → " CAP_HD_OUTPUT, NULL, NAN, BOUND_MIN,
                   CAP_HD_MIN_SITES, 0, "sites");
    if (!sd)
        target_row(f, "3. capacity at " CAP_SD_INPUT " → any", NULL, NAN, BOUND_MIN,
                   CAP_SD_MIN_SITES, 0, "sites");
}

/* Target 5's row: the most receivers one core carries, and the load at the target. */
static void fanout_row(const report_t *r, FILE *f)
{
    double best = NAN, at_target = NAN; /* NAN until some point is measured */
    for (size_t i = 0; i < r->n; i++) {
        const json_t *o = r->rec[i].obj;
        if (r->rec[i].kind != KIND_FANOUT)
            continue;
        double rx = num(o, "receivers"), load = num(o, "cpu_s_per_s");
        if (!isnan(rx) && !isnan(load) && isnan(best))
            best = 0;
        if (load <= FANOUT_CORE && rx > best)
            best = rx;
        if (rx == FANOUT_MIN_RECEIVERS)
            at_target = load;
    }
    char a[32], b[32], measured[160];
    snprintf(measured, sizeof measured, "%s receivers on %g core; %s core at %.0f",
             fmt(a, sizeof a, best, 0), FANOUT_CORE, fmt(b, sizeof b, at_target, 2),
             FANOUT_MIN_RECEIVERS);
    target_row(f, "5. fan-out on one core", measured, best, BOUND_MIN, FANOUT_MIN_RECEIVERS, 0,
               "receivers");
}

static void write_targets(const report_t *r, FILE *f)
{
    scenario_figs_t sc;
    scenario_figs(r, &sc);
    fprintf(f, "## Targets\n\nThe scenario: %d sites, %s in, %s out", SCENARIO_SITES,
            SCENARIO_INPUT, SCENARIO_OUTPUT);
    if (sc.rs.n > 1)
        fprintf(f, "; %d rounds, each running the floor, the MCU, ffmpeg and GStreamer in "
                   "turn: a ratio is taken within a round and judged on its median",
                sc.rs.n);
    fputs(".\n\n| Target | Measured | Goal | Result |\n|---|---|---|---|\n", f);
    ratio_row(f, "1. scenario CPU vs ffmpeg", &sc, sc.ff, sc.q_ff, "ffmpeg",
              TARGET_VS_FFMPEG_MAX);
    ratio_row(f, "1. scenario CPU vs floor", &sc, sc.fl, sc.q_fl, "floor", TARGET_VS_FLOOR_MAX);
    ratio_row(f, "1. scenario CPU vs GStreamer", &sc, sc.gst, sc.q_gst, "gstreamer", NAN);
    /* The bound on any MCU doing this job here: the floor over ffmpeg. */
    char a[32], b[32], c[32], bound[160];
    double fl_ff = median(sc.fl_ff, sc.rs.n);
    snprintf(bound, sizeof bound, "floor %s / ffmpeg %s ms = %s",
             fmt(a, sizeof a, median(sc.fl, sc.rs.n), 2),
             fmt(b, sizeof b, median(sc.ff, sc.rs.n), 2), fmt(c, sizeof c, fl_ff, 2));
    target_row(f, "1. (bound) the floor vs ffmpeg", bound, fl_ff, BOUND_MAX, NAN, 2, "");
    /* What running in real time costs here: the same codec work paced at the output rate. */
    if (!isnan(median(sc.pfl, sc.rs.n))) {
        ratio_row(f, "1. scenario CPU vs the floor paced at 25 fps", &sc, sc.pfl, sc.q_pfl,
                  "paced floor", NAN);
        double pf = median(sc.pfl_fl, sc.rs.n);
        char d[32], e[32], g[32], cost[200];
        snprintf(cost, sizeof cost, "paced floor %s / floor %s ms = %s",
                 fmt(d, sizeof d, median(sc.pfl, sc.rs.n), 2),
                 fmt(e, sizeof e, median(sc.fl, sc.rs.n), 2), fmt(g, sizeof g, pf, 2));
        target_row(f, "1. (cost of real time) the paced floor vs the floor", cost, pf, BOUND_MAX,
                   NAN, 2, "");
    }
    /* What the whole job costs with nothing but its own work, in the most favourable
     * conditions there are: every stage of the data path in one busy thread, never
     * idle, caches warm. The floor is measured inside this very run, so the ratio is what
     * the data path's stages besides decoding and encoding (receive, SRTP, jitter,
     * compose, labels, mix, packetize, send) cost against the codecs. */
    if (!isnan(median(sc.pipe, sc.rs.n)))
        bound_row(f, "1. (bound) the whole data path in one thread, as fast as it goes, vs "
                     "the floor",
                  &sc, sc.pipe_fl, sc.pipe, sc.fl, "pipeline", "floor", TARGET_VS_FLOOR_MAX);
    /* What the whole job costs in real time with nothing but its own work: every stage of
     * the daemon's data path in one thread, no event loop, no hand-off between threads,
     * no socket on the input side, paced at the output rate. A real-time MCU with this
     * data path spends at least this here, so a target below it is out of any design's
     * reach on this machine; the live MCU's distance above it is what its threads, loop
     * and sockets cost. */
    if (!isnan(median(sc.ppipe, sc.rs.n))) {
        bound_row(f, "1. (bound) the whole data path in one thread, paced, vs the floor", &sc,
                  sc.ppipe_fl, sc.ppipe, sc.fl, "paced pipeline", "floor", TARGET_VS_FLOOR_MAX);
        bound_row(f, "1. (bound) the whole data path in one thread, paced, vs ffmpeg", &sc,
                  sc.ppipe_ff, sc.ppipe, sc.ff, "paced pipeline", "ffmpeg", TARGET_VS_FFMPEG_MAX);
    }
    realtime_row(r, f);
    capacity_rows(r, f);
    median_row(f, "4. scenario delay p50", &sc, sc.p50, "ms", DELAY_P50_MAX_MS);
    median_row(f, "4. scenario delay p99", &sc, sc.p99, "ms", DELAY_P99_MAX_MS);
    fanout_row(r, f);
    median_row(f, "6. scenario compose stage", &sc, sc.compose, "ms per frame (kernels below)",
               COMPOSE_MAX_MS);
    fputs("\n", f);
}

/* How much of its input a system used in the window: the daemon's decoded pictures over
 * the pictures the sites sent; ffmpeg's packets over those sent, less the ones its RTP
 * demuxer reported missing (and its corrupt pictures); GStreamer says nothing. */
static void put_input_kept(FILE *f, const json_t *o)
{
    double dec = num(o, "input_pictures_decoded"), sent = num(o, "input_pictures_sent");
    double lost = num(o, "input_packets_lost"), pkts = num(o, "input_packets_sent");
    double damaged = num(o, "input_pictures_damaged");
    if (!isnan(dec) && sent > 0)
        fprintf(f, "%.1f%% pictures", 100.0 * (dec > sent ? sent : dec) / sent);
    else if (!isnan(lost) && pkts > 0)
        fprintf(f, "%.1f%% packets", 100.0 * (pkts - lost) / pkts);
    else
        fputs(DASH, f);
    if (damaged > 0)
        fprintf(f, ", %.0f damaged", damaged);
}

/* Side by side: the live runs of each (sites, input, output), with the floor. */
static void write_side_by_side(const report_t *r, FILE *f)
{
    fputs("## Side by side\n\n", f);
    bool any = false;
    for (size_t i = 0; i < r->n; i++) {
        const json_t *g = r->rec[i].obj;
        kind_t k = r->rec[i].kind;
        if (k != KIND_LIVE && k != KIND_FLOOR)
            continue;
        bool first = true; /* the group is written at its first record */
        for (size_t j = 0; j < i && first; j++)
            first = !((r->rec[j].kind == KIND_LIVE || r->rec[j].kind == KIND_FLOOR) &&
                      same_scenario(r->rec[j].obj, g));
        if (!first)
            continue;
        any = true;
        double sites = num(g, "sites");
        const char *in = str(g, "input"), *out = str(g, "output");
        fputs("### ", f);
        put_scenario(f, g);
        fputs("\n\n| System | Run s | CPU ms/frame | p50 / p99 of 1 s | × mcu | × floor | fps out | frames / "
              "expected | Missed ticks | Input kept | Receivers SRTP | Peak RSS MiB | Delay p50 / p99 ms "
              "| Real time |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
              f);
        for (size_t j = i; j < r->n; j++) {
            const json_t *o = r->rec[j].obj;
            if (r->rec[j].kind != KIND_LIVE || !same_scenario(o, g))
                continue;
            double ms = num(o, "cpu_ms_per_frame");
            /* Ratios against the MCU and the floor of the same round. */
            double mcu_ms = num(find_live_in(r, "mcu", sites, in, out, round_of(o)),
                                "cpu_ms_per_frame");
            double floor_ms = num(find_floor_in(r, sites, in, out, round_of(o)),
                                  "cpu_ms_per_frame");
            fputs("| ", f);
            put_text(f, str(o, "system"));
            if (json_object_get(o, "round"))
                fprintf(f, " (round %.0f)", round_of(o));
            fputs(" | ", f);
            put_num(f, num(o, "seconds"), 0);
            fputs(" | ", f);
            put_num(f, ms, 2);
            fputs(" | ", f);
            put_num(f, num(o, "cpu_ms_per_frame_p50"), 2);
            fputs(" / ", f);
            put_num(f, num(o, "cpu_ms_per_frame_p99"), 2);
            fputs(" | ", f);
            put_num(f, ratio(ms, mcu_ms), 2);
            fputs(" | ", f);
            put_num(f, ratio(ms, floor_ms), 2);
            fputs(" | ", f);
            put_num(f, num(o, "fps_out"), 2);
            fputs(" | ", f);
            put_num(f, num(o, "frames_out"), 0);
            fputs(" / ", f);
            put_num(f, num(o, "expected_frames"), 0);
            fputs(" | ", f);
            put_num(f, num(o, "missed_ticks"), 0);
            if (num(o, "late_ticks") > 0) /* made right after a slow frame, not dropped */
                fprintf(f, " (%.0f late)", num(o, "late_ticks"));
            fputs(" | ", f);
            put_input_kept(f, o);
            fputs(" | ", f);
            put_yes_no(f, tri(o, "receivers_srtp"));
            fputs(" | ", f);
            put_num(f, num(o, "peak_rss_kb") / KIB_PER_MIB, 1);
            fputs(" | ", f);
            put_num(f, num(o, "delay_p50_ms"), 2);
            fputs(" / ", f);
            put_num(f, num(o, "delay_p99_ms"), 2);
            fputs(" | ", f);
            put_yes_no(f, tri(o, "realtime"));
            fputs(" |\n", f);
        }
        for (size_t j = i; j < r->n; j++) {
            const json_t *fl = r->rec[j].obj;
            if (r->rec[j].kind != KIND_FLOOR || !same_scenario(fl, g))
                continue;
            double floor_ms = num(fl, "cpu_ms_per_frame");
            double mcu_ms = num(find_live_in(r, "mcu", sites, in, out, round_of(fl)),
                                "cpu_ms_per_frame");
            /* "× floor" is against the unpaced floor of the round, as for every row. */
            double base_ms = num(find_floor_in(r, sites, in, out, round_of(fl)),
                                 "cpu_ms_per_frame");
            fputs(is_paced(fl) ? "| floor, paced at the output rate" : "| floor (decode + encode only)", f);
            if (json_object_get(fl, "round"))
                fprintf(f, " (round %.0f)", round_of(fl));
            fputs(" | " DASH " | ", f);
            put_num(f, floor_ms, 2);
            fputs(" | " DASH " | ", f);
            put_num(f, ratio(floor_ms, mcu_ms), 2);
            fputs(" | ", f);
            put_num(f, ratio(floor_ms, base_ms), 2);
            fputs(" | " DASH " | " DASH " | " DASH " | " DASH " | " DASH " | " DASH
                  " | " DASH " | " DASH " |\n",
                  f);
        }
        fputs("\n", f);
        bool notes = false;
        for (size_t j = i; j < r->n; j++) {
            const json_t *o = r->rec[j].obj;
            if (r->rec[j].kind != KIND_LIVE || !same_scenario(o, g) ||
                (tri(o, "ok") != 0 && !str(o, "error")))
                continue;
            fputs("- ", f);
            put_text(f, str_or(o, "system", "?"));
            fputs(tri(o, "ok") == 0 ? " failed: " : ": ", f);
            put_text(f, str_or(o, "error", "no message"));
            fputs("\n", f);
            notes = true;
        }
        if (notes)
            fputs("\n", f);
    }
    if (!any)
        fputs("No live runs.\n\n", f);
}

/* A stage table: ms per output frame and share of their sum, stages in pipeline order,
 * then any the report does not know, in the record's order. */
static void stage_table(FILE *f, const json_t *st, double cpu_ms)
{
    /* jansson's iteration takes a non-const object; nothing here modifies it. */
    json_t *obj = (json_t *)st;
    const char *key;
    json_t *v;
    double total = 0;
    json_object_foreach(obj, key, v) {
        if (json_is_number(v))
            total += json_number_value(v);
    }
    fputs("| Stage | ms per output frame | % of total |\n|---|---|---|\n", f);
    /* Pass i < N_STAGES writes stage i; the last pass writes the unknown ones. */
    for (size_t i = 0; i <= N_STAGES; i++) {
        json_object_foreach(obj, key, v) {
            bool known = false;
            for (size_t k = 0; k < N_STAGES && !known; k++)
                known = strcmp(key, stages[k].key) == 0;
            if (i < N_STAGES ? strcmp(key, stages[i].key) != 0 : known)
                continue;
            double ms = json_is_number(v) ? json_number_value(v) : NAN;
            fputs("| ", f);
            put_text(f, i < N_STAGES ? stages[i].label : key);
            fputs(" | ", f);
            put_num(f, ms, 2);
            fputs(" | ", f);
            put_num(f, ratio(ms * 100, total), 1);
            fputs(" |\n", f);
        }
    }
    fprintf(f, "| **total** | **%.2f** | 100.0 |\n\n", total);
    if (!isnan(cpu_ms))
        fprintf(f, "CPU per output frame measured for the whole run: %.2f ms.\n\n", cpu_ms);
}

/* The scenario stage by stage, medians over its rounds: the data path in one thread as
 * fast as it goes, the same paced at the output rate, and the live daemon; the last
 * column is what the daemon's threads, event loop and sockets add to the paced run.
 * The live daemon times its loop stages on the monotonic clock (mcu/stage_clock.h), so
 * time its loop thread waited for a core shows there and not under "other". */
static void scenario_stage_table(const report_t *r, FILE *f)
{
    rounds_t rs;
    scenario_rounds(r, &rs);
    const int n = rs.n;
    double fast[MAX_ROUNDS], paced[MAX_ROUNDS], live[MAX_ROUNDS];
    round_values(r, &rs, "paced pipeline", "cpu_ms_per_frame", false, paced);
    if (n == 0 || isnan(median(paced, n)))
        return;
    fprintf(f, "### The scenario stage by stage: %d sites, %s in, %s out", SCENARIO_SITES,
            SCENARIO_INPUT, SCENARIO_OUTPUT);
    if (n > 1)
        fprintf(f, " (medians of %d rounds)", n);
    fputs("\n\n| Stage | one thread, as fast as it goes | one thread, paced | live mcu | "
          "live − paced |\n|---|---|---|---|---|\n",
          f);
    double sum[3] = {0, 0, 0};
    for (size_t i = 0; i < N_STAGES; i++) {
        round_values(r, &rs, "pipeline", stages[i].key, true, fast);
        round_values(r, &rs, "paced pipeline", stages[i].key, true, paced);
        round_values(r, &rs, "mcu", stages[i].key, true, live);
        double m[3] = {median(fast, n), median(paced, n), median(live, n)};
        fputs("| ", f);
        put_text(f, stages[i].label);
        for (int c = 0; c < 3; c++) {
            fputs(" | ", f);
            put_num(f, m[c], 2);
            sum[c] += isnan(m[c]) ? 0 : m[c];
        }
        fputs(" | ", f);
        put_num(f, m[2] - m[1], 2);
        fputs(" |\n", f);
    }
    fprintf(f, "| **sum** | **%.2f** | **%.2f** | **%.2f** | **%+.2f** |\n\n", sum[0], sum[1],
            sum[2], sum[2] - sum[1]);
}

static void write_stages(const report_t *r, FILE *f)
{
    fputs("## Where the time goes\n\n", f);
    scenario_stage_table(r, f);
    bool any = false;
    for (size_t i = 0; i < r->n; i++) {
        const json_t *o = r->rec[i].obj, *st = json_object_get(o, "stages");
        kind_t k = r->rec[i].kind;
        if (!json_is_object(st) || json_object_size(st) == 0 ||
            !(k == KIND_THROUGHPUT || (k == KIND_LIVE && same_str(str(o, "system"), "mcu"))))
            continue;
        any = true;
        fputs(k == KIND_LIVE      ? "### Live mcu: "
              : is_paced(o)       ? "### Throughput, paced at the output rate: "
                                  : "### Throughput: ",
              f);
        put_scenario(f, o);
        if (k == KIND_LIVE) {
            fputs(", ", f);
            put_num(f, num(o, "seconds"), 0);
            fputs(" s\n\n", f);
        } else {
            fputs(", ", f);
            put_num(f, num(o, "frames"), 0);
            fputs(" frames at ", f);
            put_num(f, num(o, "fps"), 1);
            fputs(" fps\n\n", f);
        }
        stage_table(f, st, num(o, "cpu_ms_per_frame"));
    }
    if (!any)
        fputs("No stage timings.\n\n", f);
}

static void write_capacity(const report_t *r, FILE *f)
{
    fputs("## Capacity search\n\n", f);
    if (r->n_kind[KIND_CAPACITY] == 0)
        fputs("No capacity search.\n\n", f);
    for (size_t i = 0; i < r->n; i++) {
        const json_t *o = r->rec[i].obj, *trials = json_object_get(o, "trials");
        if (r->rec[i].kind != KIND_CAPACITY)
            continue;
        fputs("### ", f);
        put_text(f, str_or(o, "input", "?"));
        fputs(" in, ", f);
        put_text(f, str_or(o, "output", "?"));
        fputs(" out: max ", f);
        put_num(f, num(o, "max_sites"), 0);
        fputs(" sites (target ", f);
        put_num(f, num(o, "target_sites"), 0);
        fputs(", ", f);
        put_num(f, num(o, "seconds"), 0);
        fputs(" s per trial)\n\n", f);
        if (json_array_size(trials) == 0) {
            fputs("No trials recorded.\n\n", f);
            continue;
        }
        fputs("Trials in the order the search ran them:\n\n"
              "| Sites | Missed ticks | CPU ms/frame | OK |\n|---|---|---|---|\n",
              f);
        for (size_t t = 0; t < json_array_size(trials); t++) {
            const json_t *tr = json_array_get(trials, t);
            fputs("| ", f);
            put_num(f, num(tr, "sites"), 0);
            fputs(" | ", f);
            put_num(f, num(tr, "missed_ticks"), 0);
            fputs(" | ", f);
            put_num(f, num(tr, "cpu_ms_per_frame"), 2);
            fputs(" | ", f);
            put_yes_no(f, tri(tr, "ok"));
            fputs(" |\n", f);
        }
        fputs("\n", f);
    }
}

static int write_fanout(const report_t *r, FILE *f)
{
    fputs("## Fan-out\n\n", f);
    size_t n;
    bool nomem;
    const json_t **v = sorted_fanout(r, &n, &nomem);
    if (nomem)
        return MCU_ERR_NOMEM;
    if (n == 0) {
        fputs("Not measured.\n\n", f);
        return MCU_OK;
    }
    fputs("One composite stream SRTP-protected and sent to every receiver; CPU seconds per "
          "second of stream, so 1.00 is one core.\n\n"
          "| Receivers | Bitrate kbps | Packets/s | CPU s per s | µs per packet | "
          "Fits one core |\n|---|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < n; i++) {
        double load = num(v[i], "cpu_s_per_s");
        fputs("| ", f);
        put_num(f, num(v[i], "receivers"), 0);
        fputs(" | ", f);
        put_num(f, num(v[i], "bitrate_bps") / 1000, 0);
        fputs(" | ", f);
        put_num(f, num(v[i], "packets_per_s"), 0);
        fputs(" | ", f);
        put_num(f, load, 3);
        fputs(" | ", f);
        put_num(f, num(v[i], "us_per_packet"), 2);
        fputs(" | ", f);
        put_yes_no(f, isnan(load) ? -1 : load <= FANOUT_CORE);
        fputs(" |\n", f);
    }
    fputs("\n", f);
    free(v);
    return MCU_OK;
}

/* Real-world senders: loss nobody repairs (mcu-bench conceal), and the scenario through
 * a bursty link (live --burst-ms). */
static void write_senders(const report_t *r, FILE *f)
{
    fputs("## Real-world senders\n\n", f);
    if (r->n_kind[KIND_CONCEAL]) {
        fputs("A sender that ignores NACK and PLI loses packets uniformly (mcu-bench conceal: "
              "the daemon's rx_stream and video_in on the clip, synthetic time). Frozen: ticks "
              "whose picture is older than 200 ms. SSIM shown: each picture shown against the "
              "sender's; SSIM tick: the tile at each tick against the sender's picture of "
              "that moment.\n\n| Policy | Loss % | Seed | Frozen % | Shown clean / "
              "concealed / held | SSIM shown mean (p5) | SSIM tick mean (p5) |\n"
              "|---|---|---|---|---|---|---|\n",
              f);
        for (size_t i = 0; i < r->n; i++) {
            const json_t *o = r->rec[i].obj;
            if (r->rec[i].kind != KIND_CONCEAL)
                continue;
            const json_t *sh = json_object_get(o, "ssim_shown"), *tk = json_object_get(o, "ssim_tick");
            fprintf(f, "| %s, freeze bound %.0f ms | ", str_or(o, "policy", "?"),
                    num(o, "max_freeze_ms"));
            put_num(f, num(o, "loss_pct"), 1);
            fputs(" | ", f);
            put_num(f, num(o, "seed"), 0);
            fputs(" | ", f);
            put_num(f, num(o, "frozen_pct"), 2);
            fputs(" | ", f);
            put_num(f, num(o, "shown_clean"), 0);
            fputs(" / ", f);
            put_num(f, num(o, "shown_concealed"), 0);
            fputs(" / ", f);
            put_num(f, num(o, "held"), 0);
            fputs(" | ", f);
            put_num(f, num(sh, "mean"), 3);
            fputs(" (", f);
            put_num(f, num(sh, "p5"), 3);
            fputs(") | ", f);
            put_num(f, num(tk, "mean"), 3);
            fputs(" (", f);
            put_num(f, num(tk, "p5"), 3);
            fputs(") |\n", f);
        }
        fputs("\n", f);
    }
    bool any = false;
    for (size_t i = 0; i < r->n; i++) {
        const json_t *o = r->rec[i].obj;
        if (r->rec[i].kind != KIND_LIVE || !json_object_get(o, "burst_ms"))
            continue;
        if (!any)
            fputs("The scenario's sites through a bursty link (their video frames leave on a "
                  "grid of the given period, back to back): pictures stay on their senders' "
                  "schedule.\n\n| Run | Burst ms | Repeated ticks % | Delay p50 / p99 ms |\n"
                  "|---|---|---|---|\n", f);
        any = true;
        fputs("| ", f);
        put_scenario(f, o);
        fputs(" | ", f);
        put_num(f, num(o, "burst_ms"), 0);
        fputs(" | ", f);
        put_num(f, num(o, "repeated_pct"), 2);
        fputs(" | ", f);
        put_num(f, num(o, "delay_p50_ms"), 1);
        fputs(" / ", f);
        put_num(f, num(o, "delay_p99_ms"), 1);
        fputs(" |\n", f);
    }
    if (!any && !r->n_kind[KIND_CONCEAL])
        fputs("Not measured.\n", f);
    fputs("\n", f);
}

static void write_kernels(const report_t *r, FILE *f)
{
    fputs("## Kernels\n\n", f);
    if (r->n_kind[KIND_KERNEL] == 0) {
        fputs("Not measured.\n\n", f);
        return;
    }
    fputs("| Family | Operation | Implementation | ns per call | Rate | Speedup vs ref |\n"
          "|---|---|---|---|---|---|\n",
          f);
    /* Grouped by (family, op) in the order each first appears. */
    for (size_t i = 0; i < r->n; i++) {
        const json_t *g = r->rec[i].obj;
        bool first = r->rec[i].kind == KIND_KERNEL;
        for (size_t j = 0; j < i && first; j++)
            first = !(r->rec[j].kind == KIND_KERNEL &&
                      same_str(str(r->rec[j].obj, "family"), str(g, "family")) &&
                      same_str(str(r->rec[j].obj, "op"), str(g, "op")));
        for (size_t j = i; j < r->n && first; j++) {
            const json_t *o = r->rec[j].obj;
            if (r->rec[j].kind != KIND_KERNEL ||
                !same_str(str(o, "family"), str(g, "family")) ||
                !same_str(str(o, "op"), str(g, "op")))
                continue;
            fputs("| ", f);
            put_text(f, str(o, "family"));
            fputs(" | ", f);
            put_text(f, str(o, "op"));
            fputs(" | ", f);
            put_text(f, str(o, "impl"));
            fputs(" | ", f);
            double ns = num(o, "ns_per_call");
            put_num(f, ns, ns >= NS_WHOLE ? 0 : 1);
            fputs(" | ", f);
            put_num(f, num(o, "rate"), 1);
            if (str(o, "rate_unit") && !isnan(num(o, "rate"))) {
                fputs(" ", f);
                put_text(f, str(o, "rate_unit"));
            }
            fputs(" | ", f);
            put_num(f, num(o, "speedup_vs_ref"), 2);
            fputs(isnan(num(o, "speedup_vs_ref")) ? " |\n" : "× |\n", f);
        }
    }
    fputs("\n", f);
}

static void write_plot_section(const report_t *r, FILE *f)
{
    fputs("## Plots\n\n", f);
    bool any = false;
    for (int p = 0; p < PLOT__COUNT; p++) {
        char png[PATH_BYTES], dat[PATH_BYTES];
        plot_name(r, (plot_id_t)p, "png", png, sizeof png);
        plot_name(r, (plot_id_t)p, "dat", dat, sizeof dat);
        fprintf(f, "### %s\n\n", plots[p].title);
        if (r->drawn[p])
            fprintf(f, "![%s](%s)\n\nData: `%s`.\n\n", plots[p].title, png, dat);
        else if (r->has_data[p])
            fprintf(f, "Not drawn: %s. Data: `%s`.\n\n",
                    r->why_not[0] ? r->why_not : "gnuplot wrote no file", dat);
        else
            fputs("Not drawn: nothing to plot.\n\n", f);
        any |= r->has_data[p];
    }
    if (any)
        fprintf(f, "Re-plot: `cd %s && gnuplot %s.gp`.\n\n", r->dir, r->base);
}

static void write_input(const report_t *r, FILE *f)
{
    fputs("## Input\n\n", f);
    fprintf(f, "Read %zu records from `", r->n);
    put_text(f, r->jsonl);
    fputs("`:", f);
    for (int k = 0; k < KIND__COUNT; k++)
        fprintf(f, "%s %zu %s", k ? "," : "", r->n_kind[k], kind_names[k]);
    fprintf(f, ". Skipped: %zu not a JSON object, %zu longer than %d bytes, %zu of an unknown "
               "kind, %zu past the bound of %d records.\n\n",
            r->invalid, r->too_long, REPORT_LINE_MAX, r->unknown, r->over_bound,
            REPORT_MAX_RECORDS);
    if (r->n_kind[KIND_SMOKE] == 0)
        return;
    fputs("Smoke:", f);
    for (size_t i = 0; i < r->n; i++) {
        if (r->rec[i].kind != KIND_SMOKE)
            continue;
        char *text = json_dumps(r->rec[i].obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!text)
            continue;
        if (strlen(text) > SMOKE_SHOW_MAX)
            strcpy(text + SMOKE_SHOW_MAX - 3, "...");
        for (char *c = text; *c; c++)
            if (*c == '`')
                *c = '\''; /* would end the code span */
        fprintf(f, " `%s`", text);
        free(text);
    }
    fputs("\n", f);
}

/* ---------------------------------------------------------------- entry point */

/* Splits md_path into r->dir and r->base (file name without ".md"). */
static int split_path(report_t *r, const char *md_path)
{
    const char *slash = strrchr(md_path, '/');
    const char *name = slash ? slash + 1 : md_path;
    size_t dir_len = slash ? (size_t)(slash - md_path) : 0;
    size_t name_len = strlen(name);
    if (name_len > 3 && strcmp(name + name_len - 3, ".md") == 0)
        name_len -= 3;
    if (name_len == 0)
        return MCU_ERR_INVAL;
    if (dir_len >= DIR_BYTES || name_len >= NAME_BYTES)
        return MCU_ERR_TOO_BIG;
    if (!slash)
        strcpy(r->dir, ".");
    else if (dir_len == 0)
        strcpy(r->dir, "/");
    else
        memcpy(r->dir, md_path, dir_len), r->dir[dir_len] = '\0';
    memcpy(r->base, name, name_len);
    r->base[name_len] = '\0';
    return MCU_OK;
}

/* Copies one perf summary (<base>-perf-<what>.txt, written by scripts/bench.sh) into a
 * code block; false when there is none. */
static bool copy_perf(const report_t *r, const char *what, FILE *f)
{
    char suffix[SUFFIX_BYTES], path[PATH_BYTES], line[PERF_LINE_MAX];
    snprintf(suffix, sizeof suffix, "-perf-%s.txt", what);
    if (side_path(r, suffix, path, sizeof path) != MCU_OK)
        return false;
    FILE *in = fopen(path, "r");
    if (!in)
        return false;
    fputs("```\n", f);
    while (fgets(line, sizeof line, in))
        fputs(line, f);
    fputs("```\n\n", f);
    fclose(in);
    return true;
}

/* The perf profile of the daemon in the scenario, when the full run made one. */
static void write_profile(const report_t *r, FILE *f)
{
    char path[PATH_BYTES];
    if (side_path(r, "-perf-dso.txt", path, sizeof path) != MCU_OK || access(path, R_OK) != 0)
        return;
    fprintf(f, "## Profile: the daemon in the %d-site scenario (perf, 10 s at 999 Hz)\n\n"
               "By library. libavcodec: H.264 decoding; libx264: the encode; libopus: audio "
               "decode and encodes; libyuv: scaling; libcrypto: SRTP's AES and HMAC "
               "(mcu/srtp_crypto.h; libfreeblpriv3, libsoftokn3 and libnss3 where libsrtp2's "
               "own NSS crypto still runs); kernel: system calls, the "
               "loopback path and context switches.\n\n",
            SCENARIO_SITES);
    copy_perf(r, "dso", f);
    fputs("Hottest functions (libraries without symbols show an address or the nearest "
          "exported name):\n\n",
          f);
    copy_perf(r, "sym", f);
}

static int write_markdown(const report_t *r, const char *md_path)
{
    char tmp[PATH_BYTES];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", md_path) >= sizeof tmp)
        return MCU_ERR_TOO_BIG;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return MCU_ERR_IO;
    fputs("# MCU capacity benchmark: ", f);
    put_text(f, str_or(r->machine, "host", "unknown host"));
    fputs(", ", f);
    put_text(f, str_or(r->machine, "date", "unknown date"));
    fputs("\n\n", f);
    write_answer(r, f);
    write_machine(r, f);
    write_targets(r, f);
    write_side_by_side(r, f);
    write_stages(r, f);
    write_capacity(r, f);
    int rc = write_fanout(r, f);
    write_senders(r, f);
    write_kernels(r, f);
    write_profile(r, f);
    write_plot_section(r, f);
    write_input(r, f);
    int crc = close_checked(f);
    rc = rc < 0 ? rc : crc;
    if (rc == MCU_OK && rename(tmp, md_path) != 0)
        rc = MCU_ERR_IO;
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int mcu_bench_report(const char *jsonl, const char *md_path)
{
    if (!jsonl || !md_path || !jsonl[0] || !md_path[0])
        return MCU_ERR_INVAL;
    report_t *r = calloc(1, sizeof *r);
    if (!r)
        return MCU_ERR_NOMEM;
    r->jsonl = jsonl;
    int rc = split_path(r, md_path);
    if (rc == MCU_OK)
        rc = read_records(r);
    if (rc == MCU_OK)
        rc = write_plots(r);
    if (rc == MCU_OK)
        rc = write_markdown(r, md_path);
    for (size_t i = 0; i < r->n; i++)
        json_decref(r->rec[i].obj);
    free(r->rec);
    free(r);
    return rc;
}
