#define _GNU_SOURCE /* vasprintf */
#include "bench/sut.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codecs/h264_enc.h"
#include "codecs/opus_codec.h"
#include "mcu/error.h"

extern char **environ;

/* Arguments of one command line: ffmpeg with 64 sites takes ~600. */
#define SUT_MAX_ARGS 2048
/* A child that ignores SIGINT this long is killed. */
#define SUT_STOP_GRACE_MS 5000
#define SUT_STOP_POLL_MS 20
/* The jitter buffer GStreamer's users set for a conference: 50 ms, like the daemon's
 * usual wait for a frame behind a hole (its own is adaptive). */
#define SUT_GST_JITTER_MS 50
#define SUT_FFMPEG_SOCKBUF (4 << 20)
#define SUT_FFMPEG_PROBE_US 200000

static const char *const g_names[] = {
    "Huyện Yên Mô", "TT Yên Thịnh", "Khánh Dương", "Khánh Thịnh", "Khánh Thượng", "Mai Sơn",
    "Yên Đồng", "Yên Hòa", "Yên Hưng", "Yên Lâm", "Yên Mạc", "Yên Mỹ", "Yên Nhân",
    "Yên Phong", "Yên Thái", "Yên Thắng", "Yên Thành", "Yên Từ"};
#define N_NAMES (sizeof g_names / sizeof g_names[0])

static const char *const g_sys_names[MCU_BENCH_SYS_COUNT] = {"mcu", "ffmpeg", "gstreamer"};

struct mcu_bench_sut {
    mcu_bench_system_t sys;
    pid_t pid;
    bool reaped;
    char log[PATH_MAX + 32];
};

typedef struct argv_b {
    char *v[SUT_MAX_ARGS + 1];
    int n;
    bool failed;
} argv_b_t;

static void add_v(argv_b_t *a, const char *fmt, va_list ap)
{
    if (a->n >= SUT_MAX_ARGS) {
        a->failed = true;
        return;
    }
    if (vasprintf(&a->v[a->n], fmt, ap) < 0) {
        a->v[a->n] = NULL;
        a->failed = true;
    } else {
        a->n++;
    }
}

static void arg(argv_b_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(argv_b_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_v(a, fmt, ap);
    va_end(ap);
}

/* An option and its value: opt(a, "-b:v", "%dk", kbps). */
static void opt(argv_b_t *a, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void opt(argv_b_t *a, const char *name, const char *fmt, ...)
{
    arg(a, "%s", name);
    va_list ap;
    va_start(ap, fmt);
    add_v(a, fmt, ap);
    va_end(ap);
}

static void argv_free(argv_b_t *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    a->n = 0;
}

const char *mcu_bench_system_name(mcu_bench_system_t sys)
{
    return (unsigned)sys < MCU_BENCH_SYS_COUNT ? g_sys_names[sys] : "unknown";
}

int mcu_bench_system_parse(const char *name, mcu_bench_system_t *out)
{
    for (int i = 0; i < MCU_BENCH_SYS_COUNT; i++)
        if (strcmp(name, g_sys_names[i]) == 0) {
            *out = (mcu_bench_system_t)i;
            return MCU_OK;
        }
    return MCU_ERR_INVAL;
}

bool mcu_bench_system_protects(mcu_bench_system_t sys) { return sys != MCU_BENCH_SYS_FFMPEG; }
bool mcu_bench_system_one_key(mcu_bench_system_t sys) { return sys == MCU_BENCH_SYS_GSTREAMER; }

/* The grid every system uses: ceil(sqrt(n)) columns, as few rows as hold n. */
static void grid(const mcu_bench_scenario_t *sc, int *cols, int *rows, int *cw, int *ch)
{
    *cols = (int)ceil(sqrt((double)sc->sites));
    *rows = (sc->sites + *cols - 1) / *cols;
    *cw = (sc->out_w / *cols) & ~1;
    *ch = (sc->out_h / *rows) & ~1;
}

static void site_name(int i, char *out, size_t cap)
{
    if ((size_t)i < N_NAMES)
        snprintf(out, cap, "%s", g_names[i]);
    else
        snprintf(out, cap, "%s %d", g_names[(size_t)i % N_NAMES], i / (int)N_NAMES + 1);
}

static uint16_t site_port(const mcu_bench_scenario_t *sc, int i, int k)
{
    return (uint16_t)(sc->site_port_base + MCU_BENCH_PORT_STRIDE * i + k);
}

static uint16_t rx_port(const mcu_bench_scenario_t *sc, int r, int k)
{
    return (uint16_t)(sc->rx_port_base + MCU_BENCH_PORT_STRIDE * r + k);
}

static int key_inline(const mcu_srtp_key_t *k, char *out, size_t cap)
{
    return mcu_srtp_key_format(k, out, cap) < 0 ? MCU_ERR_INVAL : MCU_OK;
}

static void key_hex(const mcu_srtp_key_t *k, char *out)
{
    for (size_t i = 0; i < k->len; i++)
        sprintf(out + 2 * i, "%02x", k->bytes[i]);
    out[2 * k->len] = '\0';
}

static int vbv_kbit(const mcu_bench_scenario_t *sc)
{
    return sc->video_kbps * MCU_H264_ENC_DEFAULT_VBV_MS / 1000;
}

static int keyint_frames(const mcu_bench_scenario_t *sc)
{
    return sc->out_fps * MCU_H264_ENC_DEFAULT_KEYINT_MS / 1000;
}

/* ---------------------------------------------------------------- mcu */

static int write_mcu_config(const mcu_bench_scenario_t *sc, char *path, size_t cap)
{
    snprintf(path, cap, "%s/mcu.json", sc->workdir);
    FILE *f = fopen(path, "w");
    if (!f)
        return MCU_ERR_IO;
    fprintf(f, "{\"conference\": {\"name\": \"bench\", \"layout\": \"auto\", \"sdp_dir\": \"%s/sdp\"},\n",
            sc->workdir);
    fprintf(f, " \"profiles\": [{\"id\": \"main\", \"width\": %d, \"height\": %d, \"fps\": %d, "
               "\"video_kbps\": %d, \"audio_kbps\": %d}],\n",
            sc->out_w, sc->out_h, sc->out_fps, sc->video_kbps, sc->audio_kbps);
    fprintf(f, " \"sites\": [\n");
    int rc = MCU_OK;
    for (int i = 0; i < sc->sites && rc == MCU_OK; i++) {
        char name[128], in[MCU_SRTP_KEY_PARAMS_MAX], out[MCU_SRTP_KEY_PARAMS_MAX];
        site_name(i, name, sizeof name);
        if ((rc = key_inline(&sc->site_keys[i], in, sizeof in)) != MCU_OK ||
            (rc = key_inline(&sc->rx_keys[i], out, sizeof out)) != MCU_OK)
            break;
        fprintf(f, "  {\"id\": \"s%d\", \"name\": \"%s\", \"rtp_port\": %u, \"audio_port\": %u,\n"
                   "   \"send_to\": {\"address\": \"127.0.0.1\", \"video_port\": %u, \"audio_port\": %u},\n"
                   "   \"srtp\": {\"suite\": \"AES_CM_128_HMAC_SHA1_80\", \"key\": \"%s\", \"send_key\": \"%s\"}}%s\n",
                i + 1, name, site_port(sc, i, 0), site_port(sc, i, 2), rx_port(sc, i, 0),
                rx_port(sc, i, 2), in, out, i + 1 < sc->sites ? "," : "");
    }
    fprintf(f, " ],\n \"control\": {\"listen\": \"127.0.0.1\", \"port\": %u, \"token\": \"%s\", "
               "\"state_file\": \"\"},\n \"log_level\": \"warn\"}\n",
            sc->control_port, sc->token);
    if (fclose(f) != 0 && rc == MCU_OK)
        rc = MCU_ERR_IO;
    return rc;
}

static int mcu_argv(const mcu_bench_scenario_t *sc, argv_b_t *a)
{
    char path[PATH_MAX + 16];
    int rc = write_mcu_config(sc, path, sizeof path);
    if (rc != MCU_OK)
        return rc;
    arg(a, "%s", sc->mcu_bin);
    opt(a, "--config", "%s", path);
    return MCU_OK;
}

/* ---------------------------------------------------------------- ffmpeg */

static int write_site_sdp(const mcu_bench_scenario_t *sc, int i, char *path, size_t cap)
{
    char key[MCU_SRTP_KEY_PARAMS_MAX];
    if (key_inline(&sc->site_keys[i], key, sizeof key) != MCU_OK)
        return MCU_ERR_INVAL;
    snprintf(path, cap, "%s/site%d.sdp", sc->workdir, i + 1);
    FILE *f = fopen(path, "w");
    if (!f)
        return MCU_ERR_IO;
    fprintf(f, "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=site %d\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=video %u RTP/SAVP %d\r\na=rtpmap:%d H264/90000\r\n"
               "a=fmtp:%d packetization-mode=1%s%s\r\n"
               "a=crypto:1 AES_CM_128_HMAC_SHA1_80 %s\r\n"
               "m=audio %u RTP/SAVP %d\r\na=rtpmap:%d opus/48000/2\r\n"
               "a=crypto:1 AES_CM_128_HMAC_SHA1_80 %s\r\n",
            i + 1, site_port(sc, i, 0), MCU_BENCH_VIDEO_PT, MCU_BENCH_VIDEO_PT,
            MCU_BENCH_VIDEO_PT, sc->sprop[i][0] ? ";sprop-parameter-sets=" : "", sc->sprop[i],
            key, site_port(sc, i, 2), MCU_BENCH_AUDIO_PT,
            MCU_BENCH_AUDIO_PT, key);
    return fclose(f) == 0 ? MCU_OK : MCU_ERR_IO;
}

static int ffmpeg_argv(const mcu_bench_scenario_t *sc, argv_b_t *a)
{
    if (sc->sites < 2)
        return MCU_ERR_INVAL; /* xstack and amix need two inputs */
    arg(a, "ffmpeg");
    arg(a, "-nostdin");
    arg(a, "-hide_banner");
    /* verbose: ffmpeg's closing statistics (frames decoded per input) need it. */
    opt(a, "-loglevel", "verbose");
    for (int i = 0; i < sc->sites; i++) {
        char path[PATH_MAX + 32];
        int rc = write_site_sdp(sc, i, path, sizeof path);
        if (rc != MCU_OK)
            return rc;
        opt(a, "-protocol_whitelist", "file,udp,rtp,srtp");
        opt(a, "-thread_queue_size", "1024");
        /* Inputs that start at different times share one time base only through the
         * wall clock: without it xstack would line up 18 unrelated RTP clocks. */
        opt(a, "-use_wallclock_as_timestamps", "1");
        /* A 4 MiB socket buffer per input, as a user would set once ffmpeg reports
         * missed packets: the inputs wait while ffmpeg's one thread filters and encodes. */
        opt(a, "-buffer_size", "%d", SUT_FFMPEG_SOCKBUF);
        /* The SDP already says what the stream is (sprop-parameter-sets): probing it for
         * 5 s per input, one input after another, would leave ffmpeg minutes behind. */
        opt(a, "-analyzeduration", "%d", SUT_FFMPEG_PROBE_US);
        opt(a, "-i", "%s", path);
    }
    int cols, rows, cw, ch;
    grid(sc, &cols, &rows, &cw, &ch);
    char *fc = NULL, *tee = NULL;
    size_t fc_len = 0, tee_len = 0;
    FILE *f = open_memstream(&fc, &fc_len);
    FILE *t = open_memstream(&tee, &tee_len);
    if (!f || !t) {
        if (f)
            fclose(f);
        free(fc);
        return MCU_ERR_NOMEM;
    }
    for (int i = 0; i < sc->sites; i++)
        fprintf(f, "[%d:v]scale=%d:%d,setsar=1[v%d];", i, cw, ch, i);
    for (int i = 0; i < sc->sites; i++)
        fprintf(f, "[v%d]", i);
    fprintf(f, "xstack=inputs=%d:fill=black:layout=", sc->sites);
    for (int i = 0; i < sc->sites; i++)
        fprintf(f, "%s%d_%d", i ? "|" : "", (i % cols) * cw, (i / cols) * ch);
    fprintf(f, ",pad=%d:%d:0:0:black,fps=%d,format=yuv420p[vout];", sc->out_w, sc->out_h,
            sc->out_fps);
    for (int i = 0; i < sc->sites; i++)
        fprintf(f, "[%d:a]", i);
    fprintf(f, "amix=inputs=%d:duration=longest:dropout_transition=0:normalize=0,"
               "aformat=sample_rates=48000:channel_layouts=mono[aout]",
            sc->sites);
    for (int r = 0; r < sc->sites; r++)
        fprintf(t, "%s[select=v:f=rtp:payload_type=%d]rtp://127.0.0.1:%u?pkt_size=1200"
                   "|[select=a:f=rtp:payload_type=%d]rtp://127.0.0.1:%u",
                r ? "|" : "", MCU_BENCH_VIDEO_PT, rx_port(sc, r, 0), MCU_BENCH_AUDIO_PT,
                rx_port(sc, r, 2));
    fclose(f);
    fclose(t);
    opt(a, "-filter_complex", "%s", fc);
    opt(a, "-map", "[vout]");
    opt(a, "-map", "[aout]");
    opt(a, "-c:v", "libx264");
    opt(a, "-preset", "%s", MCU_H264_ENC_DEFAULT_PRESET);
    opt(a, "-tune", "zerolatency");
    opt(a, "-profile:v", "baseline");
    opt(a, "-x264-params", "repeat-headers=1:scenecut=0");
    opt(a, "-threads:v", "%d", MCU_H264_ENC_DEFAULT_THREADS);
    opt(a, "-b:v", "%dk", sc->video_kbps);
    opt(a, "-maxrate", "%dk", sc->video_kbps);
    opt(a, "-bufsize", "%dk", vbv_kbit(sc));
    opt(a, "-g", "%d", keyint_frames(sc));
    opt(a, "-c:a", "libopus");
    opt(a, "-b:a", "%dk", sc->audio_kbps);
    opt(a, "-ac", "1");
    opt(a, "-application", "voip");
    opt(a, "-frame_duration", "%d", MCU_OPUS_FRAME_MS);
    opt(a, "-compression_level", "%d", MCU_OPUS_ENC_DEFAULT_COMPLEXITY);
    /* The daemon's Opus settings (codecs/opus_codec.c): constrained VBR, in-band FEC
     * tuned for its default expected loss, no DTX. */
    opt(a, "-vbr", "constrained");
    opt(a, "-fec", "1");
    opt(a, "-packet_loss", "%d", MCU_OPUS_ENC_DEFAULT_LOSS_PCT);
    opt(a, "-f", "tee");
    arg(a, "%s", tee);
    free(fc);
    free(tee);
    return MCU_OK;
}

/* ---------------------------------------------------------------- gstreamer */

#define SRTP_CAPS_SUITE                                                                   \
    "srtp-cipher=(string)aes-128-icm,srtp-auth=(string)hmac-sha1-80,"                     \
    "srtcp-cipher=(string)aes-128-icm,srtcp-auth=(string)hmac-sha1-80"
#define SRTP_ENC_SUITE                                                                    \
    "rtp-cipher=aes-128-icm rtp-auth=hmac-sha1-80 rtcp-cipher=aes-128-icm "              \
    "rtcp-auth=hmac-sha1-80"

static int gst_argv(const mcu_bench_scenario_t *sc, argv_b_t *a)
{
    int cols, rows, cw, ch;
    grid(sc, &cols, &rows, &cw, &ch);
    char *p = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&p, &len);
    if (!f)
        return MCU_ERR_NOMEM;
    char out_key[2 * MCU_SRTP_MAX_KEY_LEN + 1];
    key_hex(&sc->rx_keys[0], out_key);
    fprintf(f, "compositor name=comp background=black");
    for (int i = 0; i < sc->sites; i++)
        fprintf(f, " sink_%d::xpos=%d sink_%d::ypos=%d sink_%d::width=%d sink_%d::height=%d", i,
                (i % cols) * cw, i, (i / cols) * ch, i, cw, i, ch);
    fprintf(f, " ! video/x-raw,width=%d,height=%d,framerate=%d/1,format=I420"
               " ! x264enc speed-preset=%s tune=zerolatency threads=%d bitrate=%d"
               " vbv-buf-capacity=%d key-int-max=%d option-string=repeat-headers=1:scenecut=0"
               " ! video/x-h264,profile=constrained-baseline"
               " ! rtph264pay pt=%d mtu=1200 config-interval=-1"
               " ! srtpenc key=%s " SRTP_ENC_SUITE " ! multiudpsink sync=false clients=",
            sc->out_w, sc->out_h, sc->out_fps, MCU_H264_ENC_DEFAULT_PRESET,
            MCU_H264_ENC_DEFAULT_THREADS, sc->video_kbps, MCU_H264_ENC_DEFAULT_VBV_MS,
            keyint_frames(sc), MCU_BENCH_VIDEO_PT, out_key);
    for (int r = 0; r < sc->sites; r++)
        fprintf(f, "%s127.0.0.1:%u", r ? "," : "", rx_port(sc, r, 0));
    fprintf(f, " audiomixer name=amix ! audio/x-raw,rate=48000,channels=1"
               " ! opusenc bitrate=%d frame-size=%d audio-type=voice complexity=%d"
               " bitrate-type=constrained-vbr inband-fec=true packet-loss-percentage=%d dtx=false"
               " ! rtpopuspay pt=%d ! srtpenc key=%s " SRTP_ENC_SUITE
               " ! multiudpsink sync=false clients=",
            sc->audio_kbps * 1000, MCU_OPUS_FRAME_MS, MCU_OPUS_ENC_DEFAULT_COMPLEXITY,
            MCU_OPUS_ENC_DEFAULT_LOSS_PCT,
            MCU_BENCH_AUDIO_PT, out_key);
    for (int r = 0; r < sc->sites; r++)
        fprintf(f, "%s127.0.0.1:%u", r ? "," : "", rx_port(sc, r, 2));
    for (int i = 0; i < sc->sites; i++) {
        char key[2 * MCU_SRTP_MAX_KEY_LEN + 1];
        key_hex(&sc->site_keys[i], key);
        fprintf(f, " udpsrc port=%u caps=application/x-srtp,media=(string)video,"
                   "clock-rate=(int)90000,encoding-name=(string)H264,payload=(int)%d,ssrc=(uint)%u,"
                   "srtp-key=(buffer)%s," SRTP_CAPS_SUITE
                   " ! srtpdec ! rtpjitterbuffer latency=%d ! rtph264depay ! avdec_h264"
                   " ! queue ! comp.sink_%d",
                site_port(sc, i, 0), MCU_BENCH_VIDEO_PT, MCU_BENCH_VIDEO_SSRC_BASE + (unsigned)i, key, SUT_GST_JITTER_MS, i);
        fprintf(f, " udpsrc port=%u caps=application/x-srtp,media=(string)audio,"
                   "clock-rate=(int)48000,encoding-name=(string)OPUS,payload=(int)%d,ssrc=(uint)%u,"
                   "srtp-key=(buffer)%s," SRTP_CAPS_SUITE
                   " ! srtpdec ! rtpjitterbuffer latency=%d ! rtpopusdepay ! opusdec"
                   " ! audioconvert ! audioresample ! queue ! amix.sink_%d",
                site_port(sc, i, 2), MCU_BENCH_AUDIO_PT, MCU_BENCH_AUDIO_SSRC_BASE + (unsigned)i, key, SUT_GST_JITTER_MS, i);
    }
    fclose(f);
    /* gst-launch takes the description as one word per argument (it quotes any argument
     * holding a space), so nothing above holds a space inside a word. */
    arg(a, "gst-launch-1.0");
    arg(a, "-q");
    for (char *w = strtok(p, " "); w; w = strtok(NULL, " "))
        arg(a, "%s", w);
    free(p);
    return MCU_OK;
}

/* ---------------------------------------------------------------- process */

/* The command line as a shell line in workdir/<system>.cmd: what was run, to rerun by
 * hand or to copy into a deployment. */
static void write_command(const mcu_bench_scenario_t *sc, mcu_bench_system_t sys, const argv_b_t *a)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s.cmd", sc->workdir, mcu_bench_system_name(sys));
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    for (int i = 0; i < a->n; i++) {
        fputc('\'', f);
        for (const char *c = a->v[i]; *c; c++)
            if (*c == '\'')
                fputs("'\\''", f);
            else
                fputc(*c, f);
        fputs(i + 1 < a->n ? "' " : "'\n", f);
    }
    fclose(f);
}

int mcu_bench_sut_start(mcu_bench_system_t sys, const mcu_bench_scenario_t *sc,
                        mcu_bench_sut_t **out)
{
    *out = NULL;
    if ((unsigned)sys >= MCU_BENCH_SYS_COUNT || sc->sites < 1 || sc->sites > MCU_BENCH_MAX_SITES)
        return MCU_ERR_INVAL;
    mcu_bench_sut_t *s = calloc(1, sizeof *s);
    argv_b_t *a = calloc(1, sizeof *a);
    if (!s || !a) {
        free(s);
        free(a);
        return MCU_ERR_NOMEM;
    }
    s->sys = sys;
    int rc = sys == MCU_BENCH_SYS_MCU      ? mcu_argv(sc, a)
             : sys == MCU_BENCH_SYS_FFMPEG ? ffmpeg_argv(sc, a)
                                           : gst_argv(sc, a);
    if (rc == MCU_OK && a->failed)
        rc = MCU_ERR_NOMEM;
    snprintf(s->log, sizeof s->log, "%s/%s.log", sc->workdir, mcu_bench_system_name(sys));
    if (rc == MCU_OK)
        write_command(sc, sys, a);
    posix_spawn_file_actions_t fa;
    bool fa_ok = rc == MCU_OK && posix_spawn_file_actions_init(&fa) == 0;
    if (fa_ok) {
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, s->log,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
        a->v[a->n] = NULL;
        if (posix_spawnp(&s->pid, a->v[0], &fa, NULL, a->v, environ) != 0)
            rc = MCU_ERR_IO;
        posix_spawn_file_actions_destroy(&fa);
    } else if (rc == MCU_OK) {
        rc = MCU_ERR_NOMEM;
    }
    argv_free(a);
    free(a);
    if (rc != MCU_OK) {
        free(s);
        return rc;
    }
    *out = s;
    return MCU_OK;
}

bool mcu_bench_sut_alive(mcu_bench_sut_t *s)
{
    if (s->reaped)
        return false;
    int st;
    if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
        s->reaped = true;
        return false;
    }
    return true;
}

double mcu_bench_sut_cpu_s(const mcu_bench_sut_t *s)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)s->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command (which may hold spaces) start after the last ')'. */
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int64_t mcu_bench_sut_peak_rss_kb(const mcu_bench_sut_t *s)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

const char *mcu_bench_sut_log(const mcu_bench_sut_t *s) { return s->log; }

void mcu_bench_sut_stop(mcu_bench_sut_t **ps)
{
    mcu_bench_sut_t *s = ps ? *ps : NULL;
    if (!s)
        return;
    if (!s->reaped) {
        kill(s->pid, SIGINT);
        for (int waited = 0; waited < SUT_STOP_GRACE_MS; waited += SUT_STOP_POLL_MS) {
            if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
                s->reaped = true;
                break;
            }
            nanosleep(&(struct timespec){0, SUT_STOP_POLL_MS * 1000000L}, NULL);
        }
        if (!s->reaped) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
    }
    free(s);
    *ps = NULL;
}
