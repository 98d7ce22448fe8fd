/* The codec table, the payload guess, and the VP8 and sample-based depacketizers (with a
 * VP8 stream made by libavcodec's libvpx encoder at test time, decoded by video_dec). */
#include <string.h>

#include <libavcodec/avcodec.h>

#include "codecs/codec.h"
#include "codecs/sample_rtp.h"
#include "codecs/video_dec.h"
#include "codecs/vp8_rtp.h"
#include "mcu/error.h"
#include "test_util.h"

static void table(void **state)
{
    assert_int_equal(mcu_codec_by_name("h264"), MCU_CODEC_H264);
    assert_int_equal(mcu_codec_by_name("OPUS"), MCU_CODEC_OPUS);
    assert_int_equal(mcu_codec_by_name("g722"), MCU_CODEC_G722);
    assert_int_equal(mcu_codec_by_name("telephone-event"), MCU_CODEC_TELEPHONE_EVENT);
    assert_int_equal(mcu_codec_by_name("theora"), MCU_CODEC_NONE);
    assert_int_equal(mcu_codec_by_name(NULL), MCU_CODEC_NONE);
    assert_int_equal(mcu_codec_by_static_pt(0), MCU_CODEC_PCMU);
    assert_int_equal(mcu_codec_by_static_pt(8), MCU_CODEC_PCMA);
    assert_int_equal(mcu_codec_by_static_pt(9), MCU_CODEC_G722);
    assert_int_equal(mcu_codec_by_static_pt(13), MCU_CODEC_CN);
    assert_int_equal(mcu_codec_by_static_pt(18), MCU_CODEC_G729);
    assert_int_equal(mcu_codec_by_static_pt(96), MCU_CODEC_NONE);
    assert_null(mcu_codec_info(MCU_CODEC_NONE));
    assert_null(mcu_codec_info(MCU_CODEC__COUNT));
    /* Every entry is its own index, and what is taken has a depacketizer of the clock. */
    for (int c = MCU_CODEC_NONE + 1; c < MCU_CODEC__COUNT; c++) {
        const mcu_codec_info_t *i = mcu_codec_info((mcu_codec_t)c);
        assert_non_null(i);
        assert_int_equal(i->id, c);
        if (i->depack)
            assert_int_equal(i->depack->clock_rate, i->clock_rate);
    }
    assert_int_equal(mcu_codec_info(MCU_CODEC_G722)->clock_rate, 8000); /* RFC 3551 4.5.2 */
    assert_null(mcu_codec_info(MCU_CODEC_H265)->depack);
    assert_true(mcu_codec_info(MCU_CODEC_CN)->quiet);
}

/* First bytes of real payloads of each format (RFC 6184, RFC 7798, RFC 7741). */
static void guess(void **state)
{
    static const struct {
        const char *what;
        uint8_t b[12];
        size_t len;
        mcu_codec_t plausible_as;  /* NONE: several fit */
        mcu_codec_t guess;
    } v[] = {
        {"H.264 P slice", {0x41, 0x9A, 0x10, 0x22}, 4, MCU_CODEC_H264, MCU_CODEC_H264},
        {"H.264 FU-A IDR start", {0x7C, 0x85, 0x88, 0x84}, 4, MCU_CODEC_H264, MCU_CODEC_H264},
        {"H.264 STAP-A SPS", {0x78, 0x00, 0x03, 0x67, 0x42, 0xC0}, 6, MCU_CODEC_H264,
         MCU_CODEC_H264},
        {"H.265 FU IDR", {0x62, 0x01, 0x93, 0xAF, 0x01}, 5, MCU_CODEC_H265, MCU_CODEC_H265},
        {"H.265 VPS", {0x40, 0x01, 0x0C, 0x01}, 4, MCU_CODEC_H265, MCU_CODEC_H265},
        {"H.265 AP", {0x60, 0x01, 0x00, 0x17, 0x40}, 5, MCU_CODEC_H265, MCU_CODEC_H265},
        {"VP8 keyframe start", {0x90, 0x80, 0x81, 0x23, 0x50, 0x02, 0x00, 0x9D, 0x01, 0x2A},
         10, MCU_CODEC_VP8, MCU_CODEC_VP8},
        {"VP8 continuation", {0x80, 0x80, 0x81, 0x23, 0x11, 0x22}, 6, MCU_CODEC_VP8,
         MCU_CODEC_VP8},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        assert_true(mcu_codec_plausible(v[i].plausible_as, v[i].b, v[i].len));
        if (mcu_codec_guess_video(v[i].b, v[i].len) != v[i].guess)
            fail_msg("%s: guessed %d", v[i].what, mcu_codec_guess_video(v[i].b, v[i].len));
    }
    /* Not each other: the H.265 FU and VPS are no H.264, H.264's FU-A no VP8. */
    assert_false(mcu_codec_plausible(MCU_CODEC_H264, v[3].b, v[3].len));
    assert_false(mcu_codec_plausible(MCU_CODEC_H264, v[4].b, v[4].len));
    assert_false(mcu_codec_plausible(MCU_CODEC_VP8, v[1].b, v[1].len));
    assert_false(mcu_codec_plausible(MCU_CODEC_H265, v[0].b, v[0].len));
    /* A VP8 keyframe without its start code, a descriptor cut short. */
    const uint8_t no_code[] = {0x10, 0x50, 0x02, 0x00, 0x11, 0x22, 0x33};
    assert_false(mcu_codec_plausible(MCU_CODEC_VP8, no_code, sizeof no_code));
    const uint8_t cut[] = {0x90, 0x80};
    assert_false(mcu_codec_plausible(MCU_CODEC_VP8, cut, sizeof cut));
    assert_false(mcu_codec_plausible(MCU_CODEC_OPUS, v[0].b, v[0].len)); /* video only */
    assert_false(mcu_codec_plausible(MCU_CODEC_H264, NULL, 0));
    assert_int_equal(mcu_codec_guess_video((const uint8_t[]){0xFF, 0xFF, 0xFF}, 3),
                     MCU_CODEC_NONE);
}

static void sample_depack(void **state)
{
    mcu_depack_t *d;
    assert_int_equal(mcu_depack_create(&mcu_g722_depack_ops, &d), MCU_OK);
    uint8_t pkt[1601];
    memset(pkt, 0x55, sizeof pkt);
    mcu_depack_frame_t f;
    assert_int_equal(mcu_depack_push(d, pkt, 160), MCU_OK);
    assert_int_equal(mcu_depack_finish(d, false, &f), MCU_OK);
    assert_int_equal(f.len, 160);
    assert_int_equal(f.samples, 160); /* 20 ms on the 8000 Hz clock */
    assert_true(f.keyframe);
    assert_false(f.corrupt);
    assert_int_equal(mcu_depack_push(d, pkt, 1600), MCU_OK); /* 200 ms: RFC 3551 4.2 */
    assert_int_equal(mcu_depack_finish(d, false, &f), MCU_OK);
    assert_int_equal(mcu_depack_push(d, pkt, 1601), MCU_ERR_TOO_BIG);
    assert_int_equal(mcu_depack_push(d, pkt, 0), MCU_ERR_EMPTY);
    assert_int_equal(mcu_depack_finish(d, false, &f), MCU_ERR_AGAIN);
    assert_true(mcu_pcmu_depack_ops.frame_per_packet);
    mcu_depack_destroy(&d);
}

/* ------------------------------------------------------------------ VP8 */

#define VP8_W 320
#define VP8_H 180
#define VP8_FRAMES 30
#define VP8_MTU 300

typedef struct vp8_stream {
    uint8_t *frame[VP8_FRAMES];
    size_t len[VP8_FRAMES];
    bool key[VP8_FRAMES];
} vp8_stream_t;

/* Encodes a moving pattern with libavcodec's libvpx; false when it is not built in. */
static bool encode_vp8(vp8_stream_t *s)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libvpx");
    if (!codec)
        return false;
    AVCodecContext *c = avcodec_alloc_context3(codec);
    c->width = VP8_W;
    c->height = VP8_H;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = (AVRational){1, 25};
    c->bit_rate = 300000;
    c->gop_size = 10;
    assert_int_equal(avcodec_open2(c, codec, NULL), 0);
    AVFrame *f = av_frame_alloc();
    f->format = c->pix_fmt;
    f->width = VP8_W;
    f->height = VP8_H;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    AVPacket *p = av_packet_alloc();
    int n = 0;
    for (int i = 0; i <= VP8_FRAMES && n < VP8_FRAMES; i++) {
        if (i < VP8_FRAMES) {
            av_frame_make_writable(f);
            for (int y = 0; y < VP8_H; y++)
                for (int x = 0; x < VP8_W; x++)
                    f->data[0][y * f->linesize[0] + x] = (uint8_t)(x + y + 4 * i);
            memset(f->data[1], 100, (size_t)f->linesize[1] * VP8_H / 2);
            memset(f->data[2], 150, (size_t)f->linesize[2] * VP8_H / 2);
            f->pts = i;
        }
        assert_int_equal(avcodec_send_frame(c, i < VP8_FRAMES ? f : NULL), 0);
        while (n < VP8_FRAMES && avcodec_receive_packet(c, p) == 0) {
            s->frame[n] = malloc((size_t)p->size);
            memcpy(s->frame[n], p->data, (size_t)p->size);
            s->len[n] = (size_t)p->size;
            s->key[n] = p->flags & AV_PKT_FLAG_KEY;
            n++;
            av_packet_unref(p);
        }
    }
    assert_int_equal(n, VP8_FRAMES);
    av_packet_free(&p);
    av_frame_free(&f);
    avcodec_free_context(&c);
    return true;
}

/* RFC 7741 packets of one frame: X=1 with a 15-bit PictureID, S on the first. */
static void push_vp8_frame(mcu_depack_t *d, const uint8_t *frame, size_t len, uint16_t pic_id,
                           int skip_packet)
{
    int k = 0;
    for (size_t off = 0; off < len; off += VP8_MTU, k++) {
        size_t n = len - off < VP8_MTU ? len - off : VP8_MTU;
        uint8_t pkt[4 + VP8_MTU] = {(uint8_t)(0x80 | (off == 0 ? 0x10 : 0)), 0x80,
                                    (uint8_t)(0x80 | pic_id >> 8), (uint8_t)pic_id};
        memcpy(pkt + 4, frame + off, n);
        if (k == skip_packet)
            continue;
        assert_true(mcu_codec_plausible(MCU_CODEC_VP8, pkt, 4 + n));
        assert_int_equal(mcu_vp8_depack_ops.is_frame_start(pkt, 4 + n), off == 0);
        assert_int_equal(mcu_depack_push(d, pkt, 4 + n), MCU_OK);
    }
}

static void vp8_roundtrip(void **state)
{
    vp8_stream_t s = {0};
    if (!encode_vp8(&s)) {
        print_message("libavcodec has no libvpx encoder: skipped\n");
        skip();
    }
    mcu_depack_t *d;
    assert_int_equal(mcu_depack_create(&mcu_vp8_depack_ops, &d), MCU_OK);
    mcu_video_dec_config_t cfg;
    mcu_video_dec_config_default(&cfg);
    cfg.codec = MCU_CODEC_VP8;
    mcu_video_dec_t *dec;
    assert_int_equal(mcu_video_dec_create(&cfg, &dec), MCU_OK);
    assert_false(mcu_video_dec_can_conceal(dec));
    int good = 0;
    for (int i = 0; i < VP8_FRAMES; i++) {
        push_vp8_frame(d, s.frame[i], s.len[i], (uint16_t)(1000 + i), -1);
        mcu_depack_frame_t f;
        assert_int_equal(mcu_depack_finish(d, false, &f), MCU_OK);
        assert_false(f.corrupt);
        assert_int_equal(f.keyframe, s.key[i]);
        assert_int_equal(f.len, s.len[i]);
        assert_memory_equal(f.data, s.frame[i], f.len);
        mcu_video_dec_picture_t pic;
        int rc = mcu_video_dec_decode(dec, f.data, f.len, i, &pic);
        assert_int_equal(rc, 1);
        assert_int_equal(pic.width, VP8_W);
        assert_int_equal(pic.height, VP8_H);
        good += !pic.damaged;
        assert_int_equal(pic.keyframe, s.key[i]);
    }
    assert_int_equal(good, VP8_FRAMES);
    /* A frame that lost its first packet: handed out corrupt (never decoded). */
    push_vp8_frame(d, s.frame[1], s.len[1], 2000, 0);
    mcu_depack_frame_t f;
    if (s.len[1] > VP8_MTU) {
        assert_int_equal(mcu_depack_finish(d, false, &f), MCU_OK);
        assert_true(f.corrupt);
    }
    /* A descriptor whose PictureID runs past the packet. */
    const uint8_t bad[] = {0x90, 0x80};
    assert_true(mcu_depack_push(d, bad, sizeof bad) < 0);
    for (int i = 0; i < VP8_FRAMES; i++)
        free(s.frame[i]);
    mcu_video_dec_destroy(&dec);
    mcu_depack_destroy(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table),
        cmocka_unit_test(guess),
        cmocka_unit_test(sample_depack),
        cmocka_unit_test(vp8_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
