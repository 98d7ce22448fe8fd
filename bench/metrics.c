#include "bench/metrics.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcu/error.h"

/* A scrape of 64 sites is ~60 KB; anything past this is not our daemon. */
#define METRICS_MAX_BYTES (1u << 20)
#define METRICS_TIMEOUT_MS 2000

typedef struct body {
    char *data;
    size_t len;
} body_t;

static size_t on_data(char *p, size_t size, size_t n, void *opaque)
{
    body_t *b = opaque;
    size_t add = size * n;
    if (b->len + add > METRICS_MAX_BYTES)
        return 0;
    char *d = realloc(b->data, b->len + add + 1);
    if (!d)
        return 0;
    memcpy(d + b->len, p, add);
    b->len += add;
    d[b->len] = '\0';
    b->data = d;
    return add;
}

static void parse_line(const char *line, mcu_bench_metrics_t *m)
{
    double v;
    char stage[32], le[32];
    if (line[0] == '#')
        return;
    if (sscanf(line, "mcu_video_ticks_total %lf", &v) == 1)
        m->video_ticks = v;
    else if (sscanf(line, "mcu_video_ticks_missed_total %lf", &v) == 1)
        m->missed_ticks = v;
    else if (sscanf(line, "mcu_video_ticks_late_total %lf", &v) == 1)
        m->late_ticks = v;
    else if (sscanf(line, "mcu_video_frames_sent_total %lf", &v) == 1)
        m->frames_sent = v;
    else if (sscanf(line, "mcu_audio_ticks_missed_total %lf", &v) == 1)
        m->audio_missed = v;
    else if (sscanf(line, "process_cpu_seconds_total %lf", &v) == 1)
        m->process_cpu_s = v;
    else if (strncmp(line, "mcu_site_pictures_decoded_total{", 32) == 0 &&
             sscanf(strchr(line, '}') + 1, "%lf", &v) == 1)
        m->pictures_decoded += v;
    else if (strncmp(line, "mcu_site_tile_ticks_total{", 26) == 0 &&
             sscanf(strchr(line, '}') + 1, "%lf", &v) == 1)
        m->tile_ticks += v;
    else if (strncmp(line, "mcu_site_tile_repeated_ticks_total{", 35) == 0 &&
             sscanf(strchr(line, '}') + 1, "%lf", &v) == 1)
        m->repeated_ticks += v;
    else if (strncmp(line, "mcu_site_pictures_damaged_total{", 32) == 0 &&
             sscanf(strchr(line, '}') + 1, "%lf", &v) == 1)
        m->pictures_damaged += v;
    else if (sscanf(line, "mcu_stage_seconds_total{stage=\"%31[a-z]\"} %lf", stage, &v) == 2) {
        for (int i = 0; i < MCU_STAGE_COUNT; i++)
            if (strcmp(stage, mcu_stage_name((mcu_stage_t)i)) == 0)
                m->stage_s[i] = v;
    } else if (sscanf(line, "mcu_added_delay_seconds_bucket{le=\"%31[^\"]\"} %lf", le, &v) == 2) {
        if (strcmp(le, "+Inf") == 0) {
            m->delay_le[MCU_CONF_DELAY_HIST_MS] = v;
            return;
        }
        int ms = (int)(atof(le) * 1000 + 0.5);
        if (ms >= 1 && ms <= MCU_CONF_DELAY_HIST_MS)
            m->delay_le[ms - 1] = v;
    }
}

int mcu_bench_metrics_scrape(uint16_t port, const char *token, mcu_bench_metrics_t *m)
{
    memset(m, 0, sizeof *m);
    CURL *c = curl_easy_init();
    if (!c)
        return MCU_ERR_NOMEM;
    char url[64], auth[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", port);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *hdr = curl_slist_append(NULL, auth);
    body_t b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)METRICS_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    int rc = curl_easy_perform(c) == CURLE_OK ? MCU_OK : MCU_ERR_IO;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc == MCU_OK && (status != 200 || !b.data))
        rc = MCU_ERR_IO;
    for (char *line = rc == MCU_OK ? strtok(b.data, "\n") : NULL; line; line = strtok(NULL, "\n"))
        parse_line(line, m);
    /* Coarse buckets (every 10 ms past 100 ms): the ms between them get the coarse
     * bucket's count, spread linearly, so quantiles stay monotonic. */
    int last = -1;
    for (int ms = 0; ms < MCU_CONF_DELAY_HIST_MS; ms++) {
        if (m->delay_le[ms] == 0 && ms > 0 && ms >= 100) {
            int next = ms;
            while (next < MCU_CONF_DELAY_HIST_MS && m->delay_le[next] == 0)
                next++;
            double lo = last >= 0 ? m->delay_le[last] : 0;
            double hi = next < MCU_CONF_DELAY_HIST_MS ? m->delay_le[next] : lo;
            for (int k = ms; k < next; k++)
                m->delay_le[k] = lo + (hi - lo) * (k - last) / (next - last);
            ms = next;
        }
        last = ms;
    }
    free(b.data);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return rc;
}

double mcu_bench_metrics_delay_quantile(const mcu_bench_metrics_t *a, const mcu_bench_metrics_t *b,
                                        double q)
{
    double total = b->delay_le[MCU_CONF_DELAY_HIST_MS] - a->delay_le[MCU_CONF_DELAY_HIST_MS];
    if (total <= 0)
        return -1;
    double want = q * total, prev = 0;
    for (int ms = 0; ms <= MCU_CONF_DELAY_HIST_MS; ms++) {
        double cum = b->delay_le[ms] - a->delay_le[ms];
        if (cum >= want) {
            double in = cum - prev;
            return ms + (in > 0 ? (want - prev) / in : 1.0);
        }
        prev = cum;
    }
    return MCU_CONF_DELAY_HIST_MS;
}
