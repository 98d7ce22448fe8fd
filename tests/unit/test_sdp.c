/* SDP writer: the exact text against RFC 4566 / 6184 / 7587 by hand, its variants
 * (rtcp-mux, feedback, SRTP hook, IPv6), input validation (CR/LF injection above all),
 * NOSPACE, the atomic file write, and a real receiver: ffprobe opens the written file
 * while ffmpeg sends it H.264 and Opus over RTP (and SRTP), and must find both streams. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mcu/error.h"
#include "mcu/sdp.h"
#include "test_util.h"

/* The RFC 4568 section 3 example key (30 bytes base64: AES-128 key and salt). */
#define TEST_KEY "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
#define TEST_SUITE "AES_CM_128_HMAC_SHA1_80"

static mcu_sdp_params_t base_params(void)
{
    mcu_sdp_params_t p = {
        .session_name = "Giao ban Huyện Yên Mô",
        .origin_addr = "127.0.0.1",
        .session_id = 3912345678u,
        .session_version = 1,
        .dest_addr = "127.0.0.1",
        .cname = "mcu-giao-ban",
        .rtcp_mux = false,
        .video = {.port = 5000, .pt = 96, .ssrc = 3735928559u},
        .h264_level_idc = 31,
        .framerate = 25,
        .video_feedback = MCU_SDP_FB_ALL,
        .audio = {.port = 5002, .pt = 111, .ssrc = 305419896u},
    };
    return p;
}

/* Written by hand from RFC 4566 (session, media, rtpmap, framerate), RFC 3605 (rtcp),
 * RFC 4585/5104 (rtcp-fb), RFC 5576 (ssrc), RFC 6184 8.1 (H.264 fmtp: constrained
 * baseline 42e0, level 3.1 = 0x1f) and RFC 7587 7 (opus/48000/2). */
static const char expected[] =
    "v=0\r\n"
    "o=- 3912345678 1 IN IP4 127.0.0.1\r\n"
    "s=Giao ban Huyện Yên Mô\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=video 5000 RTP/AVPF 96\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1;profile-level-id=42e01f\r\n"
    "a=framerate:25\r\n"
    "a=rtcp:5001\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtcp-fb:96 ccm fir\r\n"
    "a=ssrc:3735928559 cname:mcu-giao-ban\r\n"
    "a=recvonly\r\n"
    "m=audio 5002 RTP/AVP 111\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtcp:5003\r\n"
    "a=ssrc:305419896 cname:mcu-giao-ban\r\n"
    "a=recvonly\r\n";

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Writes `p` into `out` (MCU_SDP_MAX_BYTES) and checks the length it returns. */
static void write_ok(const mcu_sdp_params_t *p, char *out)
{
    int n = mcu_sdp_write(p, out, MCU_SDP_MAX_BYTES);
    if (n < 0)
        fail_msg("mcu_sdp_write: %s", mcu_strerror(n));
    assert_int_equal((size_t)n, strlen(out));
}

static void exact_text(void **state)
{
    char out[MCU_SDP_MAX_BYTES];
    mcu_sdp_params_t p = base_params();
    write_ok(&p, out);
    assert_string_equal(out, expected);
}

static void rtcp_mux_variant(void **state)
{
    char out[MCU_SDP_MAX_BYTES];
    mcu_sdp_params_t p = base_params();
    p.rtcp_mux = true;
    p.video.port = 65535; /* no RTCP port above it needed when muxed */
    write_ok(&p, out);
    assert_int_equal(count(out, "a=rtcp-mux\r\n"), 2);
    assert_int_equal(count(out, "a=rtcp:"), 0);
    assert_non_null(strstr(out, "m=video 65535 RTP/AVPF 96\r\n"));
    assert_non_null(strstr(out, "a=fmtp:96 packetization-mode=1;profile-level-id=42e01f\r\n"
                                "a=framerate:25\r\n"
                                "a=rtcp-mux\r\n"
                                "a=rtcp-fb:96 nack\r\n"));
}

static void feedback_and_levels(void **state)
{
    char out[MCU_SDP_MAX_BYTES];
    mcu_sdp_params_t p = base_params();
    p.video_feedback = 0; /* no feedback: plain AVP, no rtcp-fb */
    p.h264_level_idc = 40;
    p.video.pt = 127;
    write_ok(&p, out);
    assert_non_null(strstr(out, "m=video 5000 RTP/AVP 127\r\n"));
    assert_non_null(strstr(out, "a=fmtp:127 packetization-mode=1;profile-level-id=42e028\r\n"));
    assert_int_equal(count(out, "rtcp-fb"), 0);

    p.video_feedback = MCU_SDP_FB_PLI;
    p.h264_level_idc = 10;
    write_ok(&p, out);
    assert_non_null(strstr(out, "m=video 5000 RTP/AVPF 127\r\n"));
    assert_non_null(strstr(out, "profile-level-id=42e00a\r\n"));
    assert_int_equal(count(out, "a=rtcp-fb:"), 1);
    assert_non_null(strstr(out, "a=rtcp-fb:127 nack pli\r\n"));
}

static void crypto_variant(void **state)
{
    char out[MCU_SDP_MAX_BYTES];
    mcu_sdp_params_t p = base_params();
    p.crypto.suite = TEST_SUITE;
    p.crypto.key = TEST_KEY "|2^20|1:32"; /* lifetime and MKI as in RFC 4568 */
    write_ok(&p, out);
    assert_non_null(strstr(out, "m=video 5000 RTP/SAVPF 96\r\n"));
    assert_non_null(strstr(out, "m=audio 5002 RTP/SAVP 111\r\n"));
    const char *line = "a=crypto:1 " TEST_SUITE " inline:" TEST_KEY "|2^20|1:32\r\n";
    assert_int_equal(count(out, line), 2);
    assert_non_null(strstr(out, "a=ssrc:305419896 cname:mcu-giao-ban\r\n"
                                "a=crypto:1 "));
    /* An empty suite is "no SRTP". */
    p.crypto.suite = "";
    write_ok(&p, out);
    assert_string_equal(out, expected);
}

static void ipv6_addresses(void **state)
{
    char out[MCU_SDP_MAX_BYTES];
    mcu_sdp_params_t p = base_params();
    p.origin_addr = "2001:db8::1";
    p.dest_addr = "::1";
    write_ok(&p, out);
    assert_non_null(strstr(out, "o=- 3912345678 1 IN IP6 2001:db8::1\r\n"));
    assert_non_null(strstr(out, "c=IN IP6 ::1\r\n"));
}

/* Changes one field of valid parameters into an invalid value; false past the last. */
static bool make_bad(mcu_sdp_params_t *p, int i, const char **what)
{
    static char long_name[MCU_SDP_NAME_MAX + 2];
    static char long_cname[MCU_SDP_CNAME_MAX + 2];
    memset(long_name, 'n', MCU_SDP_NAME_MAX + 1);
    memset(long_cname, 'c', MCU_SDP_CNAME_MAX + 1);
    *p = base_params();
    p->crypto.suite = TEST_SUITE;
    p->crypto.key = TEST_KEY;
#define BAD(field, value) *what = #field " = " #value, p->field = value; break
    switch (i) {
    case 0: BAD(session_name, NULL);
    case 1: BAD(session_name, "");
    case 2: BAD(session_name, "Giao ban\r\na=sendonly");
    case 3: BAD(session_name, "Giao ban\n");
    case 4: BAD(session_name, "Giao\rban");
    case 5: BAD(session_name, "tab\there");
    case 6: BAD(session_name, "bad \xC3( utf-8");
    case 7: BAD(session_name, "overlong \xC0\xAF");
    case 8: BAD(session_name, "surrogate \xED\xA0\x80");
    case 9: BAD(session_name, "cut \xE1\xBB");
    case 10: BAD(session_name, long_name);
    case 11: BAD(origin_addr, "mcu.example.org");
    case 12: BAD(origin_addr, "127.0.0.1\r\na=sendonly");
    case 13: BAD(origin_addr, NULL);
    case 14: BAD(dest_addr, "239.1.2.3");
    case 15: BAD(dest_addr, "ff02::1");
    case 16: BAD(dest_addr, "0.0.0.0");
    case 17: BAD(dest_addr, "::");
    case 18: BAD(dest_addr, "127.0.0.1 ");
    case 19: BAD(dest_addr, "127.0.0.1\n");
    case 20: BAD(cname, "");
    case 21: BAD(cname, "mcu giao-ban");
    case 22: BAD(cname, "mcu\r\na=crypto:1 " TEST_SUITE " inline:" TEST_KEY);
    case 23: BAD(cname, long_cname);
    case 24: BAD(video.port, 0);
    case 25: BAD(video.port, 65536);
    case 26: BAD(video.port, 65535); /* its RTCP would be on 65536 */
    case 27: BAD(audio.port, -1);
    case 28: BAD(audio.port, 5001);  /* the video's RTCP port */
    case 29: BAD(audio.port, 5000);
    case 30: BAD(audio.port, 4999);  /* its RTCP on the video's RTP port */
    case 31: BAD(video.pt, 95);
    case 32: BAD(audio.pt, 128);
    case 33: BAD(audio.pt, 0);
    case 34: BAD(h264_level_idc, 0);
    case 35: BAD(h264_level_idc, 14);
    case 36: BAD(h264_level_idc, 31 + 256);
    case 37: BAD(framerate, 0);
    case 38: BAD(framerate, MCU_SDP_MAX_FRAMERATE + 1);
    case 39: BAD(video_feedback, MCU_SDP_FB_ALL + 1);
    case 40: BAD(audio.ssrc, 3735928559u);
    case 41: BAD(crypto.key, NULL);
    case 42: BAD(crypto.key, "");
    case 43: BAD(crypto.key, TEST_KEY "\r\na=rtcp-mux");
    case 44: BAD(crypto.key, "PS1u QCVe");
    case 45: BAD(crypto.key, "PS1u;QCVe");
    case 46: BAD(crypto.suite, "AES CM");
    case 47: BAD(crypto.suite, TEST_SUITE "\n");
    default: return false;
    }
#undef BAD
    return true;
}

static void invalid_inputs(void **state)
{
    char out[MCU_SDP_MAX_BYTES];
    mcu_sdp_params_t p;
    const char *what = NULL;
    /* The starting point of every case is valid. */
    make_bad(&p, -1, &what);
    write_ok(&p, out);
    int i = 0;
    for (; make_bad(&p, i, &what); i++) {
        int rc = mcu_sdp_write(&p, out, sizeof out);
        if (rc != MCU_ERR_INVAL)
            fail_msg("case %d (%s): %d, expected MCU_ERR_INVAL", i, what, rc);
    }
    assert_int_equal(i, 48);
    p = base_params();
    assert_int_equal(mcu_sdp_write(NULL, out, sizeof out), MCU_ERR_INVAL);
    assert_int_equal(mcu_sdp_write(&p, NULL, sizeof out), MCU_ERR_INVAL);
    /* Invalid input wins over a small buffer. */
    p.cname = "a\nb";
    assert_int_equal(mcu_sdp_write(&p, out, 1), MCU_ERR_INVAL);
}

static void edges_accepted(void **state)
{
    static char name[MCU_SDP_NAME_MAX + 1];
    static char cname[MCU_SDP_CNAME_MAX + 1];
    char out[MCU_SDP_MAX_BYTES];
    /* 42 two-byte characters and 43 ASCII: exactly the byte bound. */
    for (int i = 0; i < 42; i++)
        memcpy(name + 2 * i, "ô", 2);
    memset(name + 84, 'x', MCU_SDP_NAME_MAX - 84);
    memset(cname, 'c', MCU_SDP_CNAME_MAX);
    mcu_sdp_params_t p = base_params();
    p.session_name = name;
    p.cname = cname;
    p.video.port = 1;
    p.audio.port = 3;
    p.video.pt = 96;
    p.audio.pt = 96; /* separate RTP sessions: the same PT is fine */
    p.h264_level_idc = 62;
    p.framerate = MCU_SDP_MAX_FRAMERATE;
    write_ok(&p, out);
    assert_non_null(strstr(out, "profile-level-id=42e03e\r\n"));
    assert_non_null(strstr(out, "a=framerate:120\r\n"));
    p.session_name = "Khánh Thượng 🎥"; /* 4-byte UTF-8 */
    write_ok(&p, out);
}

static void no_space(void **state)
{
    char out[MCU_SDP_MAX_BYTES];
    mcu_sdp_params_t p = base_params();
    int n = mcu_sdp_write(&p, out, sizeof out);
    assert_true(n > 0);
    /* Every buffer short of length + NUL fails, and leaves no half SDP behind. */
    for (size_t cap = 0; cap <= (size_t)n; cap++) {
        memset(out, 'Z', sizeof out);
        assert_int_equal(mcu_sdp_write(&p, out, cap), MCU_ERR_NOSPACE);
        if (cap > 0)
            assert_int_equal(out[0], '\0');
        assert_int_equal(out[cap], 'Z'); /* nothing written past cap */
    }
    assert_int_equal(mcu_sdp_write(&p, out, (size_t)n + 1), n);
    assert_string_equal(out, expected);
}

/* Every string at its bound, IPv6 everywhere, all options on: the bound holds. */
static void worst_case_fits(void **state)
{
    static char name[MCU_SDP_NAME_MAX + 1], cname[MCU_SDP_CNAME_MAX + 1];
    static char suite[MCU_SDP_CRYPTO_SUITE_MAX + 1], key[MCU_SDP_CRYPTO_KEY_MAX + 1];
    static const char addr[] = "2001:0db8:0000:0000:0000:ffff:255.255.255.255";
    char out[MCU_SDP_MAX_BYTES];
    assert_int_equal(strlen(addr), INET6_ADDRSTRLEN - 1);
    memset(name, 'n', MCU_SDP_NAME_MAX);
    memset(cname, 'c', MCU_SDP_CNAME_MAX);
    memset(suite, 'S', MCU_SDP_CRYPTO_SUITE_MAX);
    memset(key, 'k', MCU_SDP_CRYPTO_KEY_MAX);
    mcu_sdp_params_t p = base_params();
    p.session_name = name;
    p.cname = cname;
    p.origin_addr = addr;
    p.dest_addr = addr;
    p.session_id = p.session_version = UINT64_MAX;
    p.video = (mcu_sdp_media_t){.port = 65530, .pt = 127, .ssrc = UINT32_MAX};
    p.audio = (mcu_sdp_media_t){.port = 65533, .pt = 127, .ssrc = UINT32_MAX - 1};
    p.framerate = MCU_SDP_MAX_FRAMERATE;
    p.crypto.suite = suite;
    p.crypto.key = key;
    int n = mcu_sdp_write(&p, out, sizeof out);
    assert_true(n > 0);
    assert_true(n < 2048); /* what sdp.h promises (1624 bytes when written) */
}

/* ------------------------------------------------------------ file */

static void path_in(char *buf, size_t cap, const char *dir, const char *name)
{
    assert_true((size_t)snprintf(buf, cap, "%s/%s", dir, name) < cap);
}

static void write_file_atomic(void **state)
{
    char dir[512], path[600], tmp[600], victim[600], out[MCU_SDP_MAX_BYTES];
    struct stat st;
    size_t len;
    snprintf(dir, sizeof dir, "%s/sdp_test_%d", test_tmp_dir(), (int)getpid());
    assert_true(mkdir(dir, 0700) == 0);
    path_in(path, sizeof path, dir, "yen-mo.sdp");
    path_in(tmp, sizeof tmp, dir, "yen-mo.sdp.tmp");
    path_in(victim, sizeof victim, dir, "victim");
    mode_t old_mask = umask(022);

    mcu_sdp_params_t p = base_params();
    assert_int_equal(mcu_sdp_write_file(&p, path), MCU_OK);
    uint8_t *got = test_read_file(path, &len);
    assert_non_null(got);
    assert_int_equal(len, strlen(expected));
    assert_memory_equal(got, expected, len);
    free(got);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(access(tmp, F_OK), -1);

    /* A stale temporary left as a symlink is replaced, never followed; the new file
     * holds a key, so only its owner may read it. */
    assert_int_equal(symlink(victim, tmp), 0);
    p.session_version = 2;
    p.crypto.suite = TEST_SUITE;
    p.crypto.key = TEST_KEY;
    assert_int_equal(mcu_sdp_write_file(&p, path), MCU_OK);
    assert_int_equal(access(victim, F_OK), -1);
    assert_int_equal(access(tmp, F_OK), -1);
    write_ok(&p, out);
    got = test_read_file(path, &len);
    assert_non_null(got);
    assert_int_equal(len, strlen(out));
    assert_memory_equal(got, out, len);
    free(got);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* Invalid parameters leave the file as it was. */
    p.cname = "x\r\ny";
    assert_int_equal(mcu_sdp_write_file(&p, path), MCU_ERR_INVAL);
    got = test_read_file(path, &len);
    assert_non_null(got);
    assert_memory_equal(got, out, len);
    free(got);
    p = base_params();
    assert_int_equal(mcu_sdp_write_file(&p, NULL), MCU_ERR_INVAL);
    assert_int_equal(mcu_sdp_write_file(&p, ""), MCU_ERR_INVAL);
    path_in(victim, sizeof victim, dir, "missing/yen-mo.sdp");
    assert_int_equal(mcu_sdp_write_file(&p, victim), MCU_ERR_IO);

    umask(old_mask);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* ------------------------------------------------------------ real receiver */

/* UDP ports 40000..60000: above the registered services, mostly below Linux's
 * ephemeral range; a block is taken only when every port in it binds. */
#define PEER_PORT_MIN 40000
#define PEER_PORT_SPAN 20000
/* Each variant's receiver binds video RTP+RTCP and audio RTP+RTCP. */
#define PEER_PORTS_PER_VARIANT 4
#define PEER_VARIANTS 2

static int free_port_block(test_rng_t *rng, int n)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        int base = PEER_PORT_MIN + 2 * (int)test_rng_below(rng, (PEER_PORT_SPAN - n) / 2);
        int fds[PEER_PORTS_PER_VARIANT * PEER_VARIANTS];
        int opened = 0;
        bool ok = true;
        for (; ok && opened < n; opened++) {
            struct sockaddr_in a = {.sin_family = AF_INET,
                                    .sin_port = htons((uint16_t)(base + opened)),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            fds[opened] = socket(AF_INET, SOCK_DGRAM, 0);
            ok = fds[opened] >= 0 && bind(fds[opened], (struct sockaddr *)&a, sizeof a) == 0;
        }
        for (int i = 0; i < opened; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        if (ok)
            return base;
    }
    return -1;
}

/* Bound on each ffmpeg/ffprobe process. A pass takes about 1.5 s; the bound is only
 * reached when the receiver cannot play the SDP, and is generous because CI machines
 * running several sanitizer builds at once starve these processes for seconds. */
#define PEER_TIMEOUT_S "30"

/* One variant: ffprobe opens the SDP and waits; ffmpeg then sends small H.264 (an IDR
 * every 5 frames, so a late start still finds one soon) and Opus to the ports the SDP
 * names, over SRTP when a suite is given, until ffprobe has found both streams. */
static const char peer_script[] =
    "ff=$1 fp=$2 sdp=$3 out=$4 vp=$5 vr=$6 vpt=$7 vs=$8 ap=$9\n"
    "shift 9\n"
    "ar=$1 apt=$2 as=$3 suite=$4 key=$5\n"
    "proto=rtp srtp=\n"
    "if [ -n \"$suite\" ]; then proto=srtp srtp=\"-srtp_out_suite $suite "
    "-srtp_out_params $key\"; fi\n"
    "timeout -s KILL " PEER_TIMEOUT_S " \"$fp\" -v error -protocol_whitelist file,udp,rtp "
    "-show_entries stream=codec_name,sample_rate,channels:format_tags=title "
    "-of compact \"$sdp\" >\"$out\" 2>&1 &\n"
    "probe=$!\n"
    "sleep 0.3\n"
    "timeout -s KILL " PEER_TIMEOUT_S " \"$ff\" -nostdin -v error -re "
    "-f lavfi -i testsrc2=size=160x120:rate=25 "
    "-f lavfi -i sine=frequency=440:sample_rate=48000 "
    "-map 0:v -c:v libx264 -preset ultrafast -profile:v baseline -tune zerolatency -g 5 "
    "-f rtp -payload_type $vpt -ssrc $vs $srtp \"$proto://127.0.0.1:$vp?rtcpport=$vr\" "
    "-map 1:a -c:a libopus -f rtp -payload_type $apt -ssrc $as $srtp "
    "\"$proto://127.0.0.1:$ap?rtcpport=$ar\" >/dev/null 2>&1 &\n"
    "send=$!\n"
    "wait $probe\n"
    "kill $send 2>/dev/null\n"
    "wait $send\n"
    "exit 0\n";

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* Appends " sh script args..." for one variant to `cmd`. */
static void add_variant(char *cmd, size_t cap, const char *script, const char *ff,
                        const char *fp, const char *sdp, const char *out,
                        const mcu_sdp_params_t *p)
{
    size_t used = strlen(cmd);
    int vr = p->rtcp_mux ? p->video.port : p->video.port + 1;
    int ar = p->rtcp_mux ? p->audio.port : p->audio.port + 1;
    int n = snprintf(cmd + used, cap - used,
                     "sh '%s' '%s' '%s' '%s' '%s' %d %d %d %u %d %d %d %u '%s' '%s' & ",
                     script, ff, fp, sdp, out, p->video.port, vr, p->video.pt,
                     (unsigned)p->video.ssrc, p->audio.port, ar, p->audio.pt,
                     (unsigned)p->audio.ssrc, p->crypto.suite ? p->crypto.suite : "",
                     p->crypto.key ? p->crypto.key : "");
    assert_true(n > 0 && (size_t)n < cap - used);
}

static void assert_probe_found_streams(const char *out_path, const char *title)
{
    size_t len;
    char want_title[256];
    char *text = (char *)test_read_file(out_path, &len);
    assert_non_null(text);
    text[len] = '\0';
    snprintf(want_title, sizeof want_title, "format|tag:title=%s", title);
    bool ok = strstr(text, "stream|codec_name=h264") &&
              strstr(text, "stream|codec_name=opus|sample_rate=48000|channels=2") &&
              strstr(text, want_title);
    if (!ok)
        print_error("ffprobe did not find both streams in %s:\n%s\n", out_path, text);
    free(text);
    assert_true(ok);
}

static void real_receiver_ffmpeg(void **state)
{
    const char *ff = env_or("MCU_FFMPEG", "ffmpeg");
    const char *fp = env_or("MCU_FFPROBE", "ffprobe");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "command -v timeout >/dev/null && command -v '%s' >/dev/null && "
             "command -v '%s' >/dev/null && '%s' -hide_banner -encoders 2>/dev/null | "
             "grep -q libx264 && '%s' -hide_banner -encoders 2>/dev/null | grep -q libopus",
             ff, fp, ff, ff);
    if (system(cmd) != 0) {
        print_message("skipped: needs timeout, %s and %s with libx264 and libopus\n", ff, fp);
        skip();
    }

    char dir[512], script[600], sdp[PEER_VARIANTS][600], out[PEER_VARIANTS][600];
    snprintf(dir, sizeof dir, "%s/sdp_peer_%d", test_tmp_dir(), (int)getpid());
    assert_int_equal(mkdir(dir, 0700), 0);
    path_in(script, sizeof script, dir, "peer.sh");
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fputs(peer_script, f);
    fclose(f);

    test_rng_t rng;
    test_rng_seed(&rng, (uint64_t)getpid() * 2654435761u ^ (uint64_t)time(NULL));
    int base = free_port_block(&rng, PEER_PORTS_PER_VARIANT * PEER_VARIANTS);
    assert_true(base > 0);

    /* Variant 0: plain RTP, RTCP on port+1, all feedback (RTP/AVPF).
     * Variant 1: SRTP with rtcp-mux: RTP/SAVPF and RTP/SAVP with a=crypto.
     * ffmpeg's -ssrc takes an int: SSRCs below 2^31 here. */
    mcu_sdp_params_t p[PEER_VARIANTS];
    cmd[0] = '\0';
    for (int v = 0; v < PEER_VARIANTS; v++) {
        char name[32];
        p[v] = base_params();
        p[v].video.port = base + v * PEER_PORTS_PER_VARIANT;
        p[v].audio.port = p[v].video.port + 2;
        p[v].video.ssrc = 0x1234567u + (uint32_t)v;
        p[v].audio.ssrc = 0x7654321u + (uint32_t)v;
        if (v == 1) {
            p[v].rtcp_mux = true;
            p[v].crypto.suite = TEST_SUITE;
            p[v].crypto.key = TEST_KEY;
        }
        snprintf(name, sizeof name, "variant%d.sdp", v);
        path_in(sdp[v], sizeof sdp[v], dir, name);
        snprintf(name, sizeof name, "variant%d.out", v);
        path_in(out[v], sizeof out[v], dir, name);
        assert_int_equal(mcu_sdp_write_file(&p[v], sdp[v]), MCU_OK);
        add_variant(cmd, sizeof cmd, script, ff, fp, sdp[v], out[v], &p[v]);
    }
    strncat(cmd, "wait", sizeof cmd - strlen(cmd) - 1);
    assert_int_equal(system(cmd), 0);

    for (int v = 0; v < PEER_VARIANTS; v++) {
        assert_probe_found_streams(out[v], p[v].session_name);
        unlink(sdp[v]);
        unlink(out[v]);
    }
    unlink(script);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_text),        cmocka_unit_test(rtcp_mux_variant),
        cmocka_unit_test(feedback_and_levels), cmocka_unit_test(crypto_variant),
        cmocka_unit_test(ipv6_addresses),    cmocka_unit_test(invalid_inputs),
        cmocka_unit_test(edges_accepted),    cmocka_unit_test(no_space),
        cmocka_unit_test(worst_case_fits),   cmocka_unit_test(write_file_atomic),
        cmocka_unit_test(real_receiver_ffmpeg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
