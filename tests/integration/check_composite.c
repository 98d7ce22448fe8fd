/*
 * check_composite: decodes a receiver's recording of the composite and checks it
 * against expectations given on the command line:
 *
 *   check_composite FILE --size WxH --fps F --layout PRESET --sites N
 *                   [--colour I:R,G,B ...] [--tone HZ ...] [--no-tone HZ ...]
 *
 * Video: every decoded frame has the size; the frame rate from the timestamps is F
 * within 1%; the centre of cell I of the layout has colour I (within a tolerance);
 * with --text I, cell I has white text across its middle (a card's status line, as
 * "unsupported codec: H.265"), with --no-text I it has none; with --repeats I:PCT, at most
 * PCT % of the frames show in cell I the same picture as the frame before (a site whose
 * source changes every frame, at the output's rate, must show each picture once).
 * Audio: each --tone is present (Goertzel power well above the floor), each --no-tone
 * absent (below a fraction of the weakest present tone). Prints what it measured and
 * exits non-zero on the first failed expectation.
 */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layouts/layout.h"

#define MAX_ITEMS 16
/* Colour tolerance per channel after H.264 + scaling: solid colours come back within a
 * few levels; 40 separates red from yellow and blue from black safely. */
#define COLOUR_TOL 40
/* Frames at the start skipped for colour checks (a receiver may join before an IDR). */
#define SKIP_FRAMES 10
#define AUDIO_MAX_SAMPLES (48000 * 30)
/* A tone counts as absent below this fraction of the weakest present tone's power:
 * -30 dB, far above what leaks through Opus at 32 kbps. */
#define ABSENT_RATIO 0.001
/* Text: pixels this bright in all three channels are the label's white (a no-signal card
 * and its frame are dark grey); a line of text has at least TEXT_MIN_PIXELS of them in the
 * band of rows TEXT_BAND_DIV-th of the cell high around its middle. */
#define TEXT_WHITE 180
#define TEXT_MIN_PIXELS 40
#define TEXT_BAND_DIV 6
/* A cell whose luma differs from the frame before by less than this on average (0..255)
 * shows the same picture again: a moving source differs by several levels from one frame
 * to the next, the composite's encoder makes a repeated tile a copy. */
#define REPEAT_MEAN_DIFF 0.5

typedef struct expect {
    int w, h;
    double fps;
    const char *layout;
    int sites;
    int n_colours, colour_cell[MAX_ITEMS], rgb[MAX_ITEMS][3];
    int n_tones, tones[MAX_ITEMS];
    int n_absent, absent[MAX_ITEMS];
    int n_text, text_cell[MAX_ITEMS];       /* a status line across the cell's middle */
    int n_no_text, no_text_cell[MAX_ITEMS]; /* ... and cells without one */
    int n_repeat, repeat_cell[MAX_ITEMS];   /* cells checked for repeated pictures */
    double repeat_max_pct[MAX_ITEMS];       /* ... frames repeating the one before, at most */
} expect_t;

static int fail(const char *what)
{
    fprintf(stderr, "check_composite: FAIL: %s\n", what);
    return 1;
}

static double goertzel(const float *x, size_t n, double hz, double rate)
{
    double k = 2 * cos(2 * M_PI * hz / rate), s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double s0 = x[i] + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return (s1 * s1 + s2 * s2 - k * s1 * s2) / ((double)n * n);
}

int main(int argc, char **argv)
{
    expect_t e = {0};
    if (argc < 2)
        return fail("usage: check_composite FILE --size WxH --fps F --layout P --sites N ...");
    const char *file = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--size"))
            sscanf(v, "%dx%d", &e.w, &e.h);
        else if (!strcmp(k, "--fps"))
            e.fps = atof(v);
        else if (!strcmp(k, "--layout"))
            e.layout = v;
        else if (!strcmp(k, "--sites"))
            e.sites = atoi(v);
        else if (!strcmp(k, "--colour") && e.n_colours < MAX_ITEMS &&
                 sscanf(v, "%d:%d,%d,%d", &e.colour_cell[e.n_colours], &e.rgb[e.n_colours][0],
                        &e.rgb[e.n_colours][1], &e.rgb[e.n_colours][2]) == 4)
            e.n_colours++;
        else if (!strcmp(k, "--tone") && e.n_tones < MAX_ITEMS)
            e.tones[e.n_tones++] = atoi(v);
        else if (!strcmp(k, "--no-tone") && e.n_absent < MAX_ITEMS)
            e.absent[e.n_absent++] = atoi(v);
        else if (!strcmp(k, "--text") && e.n_text < MAX_ITEMS)
            e.text_cell[e.n_text++] = atoi(v);
        else if (!strcmp(k, "--no-text") && e.n_no_text < MAX_ITEMS)
            e.no_text_cell[e.n_no_text++] = atoi(v);
        else if (!strcmp(k, "--repeats") && e.n_repeat < MAX_ITEMS &&
                 sscanf(v, "%d:%lf", &e.repeat_cell[e.n_repeat], &e.repeat_max_pct[e.n_repeat]) == 2)
            e.n_repeat++;
        else
            return fail(k);
    }

    AVFormatContext *fmt = NULL;
    if (avformat_open_input(&fmt, file, NULL, NULL) < 0 || avformat_find_stream_info(fmt, NULL) < 0)
        return fail("cannot open the recording");
    int vs = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int as = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (vs < 0)
        return fail("no video stream");
    AVCodecContext *dec[2] = {NULL, NULL};
    int idx[2] = {vs, as};
    for (int s = 0; s < 2; s++) {
        if (idx[s] < 0)
            continue;
        const AVCodec *codec = avcodec_find_decoder(fmt->streams[idx[s]]->codecpar->codec_id);
        dec[s] = avcodec_alloc_context3(codec);
        avcodec_parameters_to_context(dec[s], fmt->streams[idx[s]]->codecpar);
        if (avcodec_open2(dec[s], codec, NULL) < 0)
            return fail("cannot open a decoder");
    }
    mcu_layout_preset_t preset;
    mcu_layout_t layout;
    if (mcu_layout_preset_from_name(e.layout, &preset) != 0 ||
        mcu_layout_compute(preset, e.w, e.h, &layout) != 0)
        return fail("bad --layout");

    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    struct SwsContext *sws = NULL;
    uint8_t *rgb = malloc((size_t)e.w * e.h * 3);
    float *pcm = malloc(sizeof(float) * AUDIO_MAX_SAMPLES);
    size_t n_pcm = 0;
    int frames = 0, bad_size = 0, colour_ok[MAX_ITEMS] = {0}, colour_seen[MAX_ITEMS] = {0};
    int text_ok[MAX_ITEMS] = {0}, no_text_ok[MAX_ITEMS] = {0}, checked = 0;
    int repeats[MAX_ITEMS] = {0}, compared = 0;
    uint8_t *prev_y = malloc((size_t)e.w * e.h);
    bool have_prev = false;
    int64_t first_pts = AV_NOPTS_VALUE, last_pts = AV_NOPTS_VALUE;
    while (av_read_frame(fmt, pkt) >= 0) {
        int s = pkt->stream_index == vs ? 0 : pkt->stream_index == as ? 1 : -1;
        if (s < 0 || avcodec_send_packet(dec[s], pkt) < 0) {
            av_packet_unref(pkt);
            continue;
        }
        av_packet_unref(pkt);
        while (avcodec_receive_frame(dec[s], f) == 0) {
            if (s == 1) {
                for (int i = 0; i < f->nb_samples && n_pcm < AUDIO_MAX_SAMPLES; i++)
                    pcm[n_pcm++] = f->format == AV_SAMPLE_FMT_FLTP ? ((float *)f->data[0])[i]
                                                                  : ((float *)f->data[0])[i * f->ch_layout.nb_channels];
                continue;
            }
            frames++;
            if (first_pts == AV_NOPTS_VALUE)
                first_pts = f->pts;
            last_pts = f->pts;
            if (f->width != e.w || f->height != e.h) {
                bad_size++;
                continue;
            }
            if (frames <= SKIP_FRAMES)
                continue;
            sws = sws_getCachedContext(sws, f->width, f->height, f->format, e.w, e.h,
                                       AV_PIX_FMT_RGB24, SWS_POINT, NULL, NULL, NULL);
            int stride = e.w * 3;
            sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, &rgb, &stride);
            checked++;
            for (int c = 0; c < e.n_repeat && f->format == AV_PIX_FMT_YUV420P; c++) {
                mcu_rect_t r = layout.cells[e.repeat_cell[c]];
                double diff = 0;
                for (int y = r.y; y < r.y + r.h; y++)
                    for (int x = r.x; x < r.x + r.w; x++) {
                        uint8_t v = f->data[0][(size_t)y * f->linesize[0] + x];
                        diff += abs(v - prev_y[(size_t)y * e.w + x]);
                        prev_y[(size_t)y * e.w + x] = v;
                    }
                diff /= (double)r.w * r.h;
                if (have_prev)
                    repeats[c] += diff < REPEAT_MEAN_DIFF;
            }
            if (e.n_repeat) {
                compared += have_prev;
                have_prev = true;
            }
            for (int t = 0; t < e.n_text + e.n_no_text; t++) {
                bool want = t < e.n_text;
                mcu_rect_t r = layout.cells[want ? e.text_cell[t] : e.no_text_cell[t - e.n_text]];
                int white = 0;
                for (int y = r.y + r.h / 2 - r.h / TEXT_BAND_DIV; y < r.y + r.h / 2 + r.h / TEXT_BAND_DIV; y++)
                    for (int x = r.x; x < r.x + r.w; x++) {
                        const uint8_t *px = rgb + (size_t)y * stride + x * 3;
                        white += px[0] > TEXT_WHITE && px[1] > TEXT_WHITE && px[2] > TEXT_WHITE;
                    }
                if (want)
                    text_ok[t] += white >= TEXT_MIN_PIXELS;
                else
                    no_text_ok[t - e.n_text] += white < TEXT_MIN_PIXELS;
            }
            for (int c = 0; c < e.n_colours; c++) {
                mcu_rect_t r = layout.cells[e.colour_cell[c]];
                const uint8_t *px = rgb + (size_t)(r.y + r.h / 2) * stride + (r.x + r.w / 2) * 3;
                int ok = 1;
                for (int k = 0; k < 3; k++)
                    ok &= abs(px[k] - e.rgb[c][k]) <= COLOUR_TOL;
                colour_seen[c]++;
                colour_ok[c] += ok;
                if (!ok && colour_seen[c] - colour_ok[c] == 1)
                    printf("cell %d centre %d,%d,%d (want %d,%d,%d)\n", e.colour_cell[c], px[0],
                           px[1], px[2], e.rgb[c][0], e.rgb[c][1], e.rgb[c][2]);
            }
        }
    }
    AVRational tb = fmt->streams[vs]->time_base;
    double span = (last_pts - first_pts) * av_q2d(tb);
    double fps = frames > 1 && span > 0 ? (frames - 1) / span : 0;
    printf("video: %d frames %dx%d, %.3f fps from timestamps, %d of another size\n", frames,
           e.w, e.h, fps, bad_size);
    int rc = 0;
    if (frames < 2 * SKIP_FRAMES || bad_size)
        rc |= fail("video frames missing or of the wrong size");
    if (fabs(fps - e.fps) > e.fps * 0.01)
        rc |= fail("frame rate off by more than 1%");
    for (int c = 0; c < e.n_colours; c++) {
        printf("cell %d: %d/%d frames with the right colour\n", e.colour_cell[c], colour_ok[c],
               colour_seen[c]);
        if (colour_seen[c] == 0 || colour_ok[c] < colour_seen[c] * 99 / 100)
            rc |= fail("a tile does not show its site's colour");
    }
    for (int c = 0; c < e.n_repeat; c++) {
        double pct = compared ? 100.0 * repeats[c] / compared : 100;
        printf("cell %d: %d of %d frames repeat the one before (%.2f%%)\n", e.repeat_cell[c],
               repeats[c], compared, pct);
        if (compared == 0 || pct > e.repeat_max_pct[c])
            rc |= fail("a tile repeats its pictures");
    }
    for (int t = 0; t < e.n_text; t++) {
        printf("cell %d: %d/%d frames with a line of text\n", e.text_cell[t], text_ok[t], checked);
        if (checked == 0 || text_ok[t] < checked * 99 / 100)
            rc |= fail("a tile lacks its status line");
    }
    for (int t = 0; t < e.n_no_text; t++) {
        printf("cell %d: %d/%d frames without text\n", e.no_text_cell[t], no_text_ok[t], checked);
        if (checked == 0 || no_text_ok[t] < checked * 99 / 100)
            rc |= fail("a tile shows text it should not");
    }
    if (e.n_tones || e.n_absent) {
        printf("audio: %zu samples\n", n_pcm);
        if (n_pcm < 48000)
            rc |= fail("less than 1 s of audio");
        double weakest = INFINITY;
        for (int t = 0; t < e.n_tones; t++) {
            double p = goertzel(pcm, n_pcm, e.tones[t], 48000);
            printf("tone %d Hz: power %.3g (present expected)\n", e.tones[t], p);
            if (p < weakest)
                weakest = p;
            if (p < 1e-5)
                rc |= fail("an expected tone is missing");
        }
        for (int t = 0; t < e.n_absent; t++) {
            double p = goertzel(pcm, n_pcm, e.absent[t], 48000);
            printf("tone %d Hz: power %.3g (absent expected)\n", e.absent[t], p);
            if (p > weakest * ABSENT_RATIO)
                rc |= fail("a talker hears its own tone");
        }
    }
    sws_freeContext(sws);
    av_frame_free(&f);
    av_packet_free(&pkt);
    for (int s = 0; s < 2; s++)
        avcodec_free_context(&dec[s]);
    avformat_close_input(&fmt);
    free(rgb);
    free(pcm);
    free(prev_y);
    if (!rc)
        printf("check_composite: PASS\n");
    return rc;
}
