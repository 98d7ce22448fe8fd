/* H.264 over RTP (RFC 6184): packetizer and depacketizer vectors, and the round trip
 * of a real libx264 stream through packetize -> reorder/duplicate/drop -> jitter
 * buffer -> depacketize, starting at ordinary and at wrapping sequence numbers and
 * timestamps. */
#include <libavformat/avformat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codecs/h264_rtp.h"
#include "mcu/error.h"
#include "mcu/rtp.h"
#include "mcu/rx_stream.h"
#include "test_util.h"

#define PT 96
#define FRAME_TICKS 3600 /* 25 fps at 90 kHz */
#define MAX_AUS 400
#define MAX_PKTS 20000

typedef struct au {
    uint8_t *data; /* normalised: 4-byte start codes, no trailing zeros */
    size_t len;
} au_t;

static au_t aus[MAX_AUS];
static size_t n_aus;

static size_t normalise(const uint8_t *in, size_t len, uint8_t *out)
{
    size_t pos = 0, o = 0, nl;
    const uint8_t *nal;
    while (mcu_h264_next_nal(in, len, &pos, &nal, &nl)) {
        memcpy(out + o, "\0\0\0\1", 4);
        memcpy(out + o + 4, nal, nl);
        o += 4 + nl;
    }
    return o;
}

/* Makes a 6 s 640x360 stream with ffmpeg/libx264 (IDR every 2 s) and splits it into
 * access units with libavformat's H.264 parser. */
static int load_stream(void **state)
{
    char path[512], cmd[1024];
    snprintf(path, sizeof path, "%s/h264_rtp_src.h264", test_tmp_dir());
    const char *ff = getenv("MCU_FFMPEG") ? getenv("MCU_FFMPEG") : "ffmpeg";
    snprintf(cmd, sizeof cmd,
             "%s -nostdin -y -loglevel error -f lavfi -i testsrc2=size=640x360:rate=25 -t 6 "
             "-c:v libx264 -preset veryfast -profile:v baseline -bf 0 -b:v 900k "
             "-x264-params keyint=50:min-keyint=50:scenecut=0 -f h264 %s",
             ff, path);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not run: %s\n", cmd);
        return -1;
    }
    AVFormatContext *fmt = NULL;
    if (avformat_open_input(&fmt, path, NULL, NULL) < 0)
        return -1;
    AVPacket *pkt = av_packet_alloc();
    while (n_aus < MAX_AUS && av_read_frame(fmt, pkt) >= 0) {
        aus[n_aus].data = malloc((size_t)pkt->size + 64);
        aus[n_aus].len = normalise(pkt->data, (size_t)pkt->size, aus[n_aus].data);
        n_aus++;
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    return n_aus >= 100 ? 0 : -1;
}

static int free_stream(void **state)
{
    for (size_t i = 0; i < n_aus; i++)
        free(aus[i].data);
    return 0;
}

/* ------------------------------------------------------------ packetizer */

typedef struct pkt {
    uint8_t data[MCU_RTP_MAX_DATAGRAM];
    size_t len;
    size_t au;          /* index of its access unit */
    int64_t arrival;
} pkt_t;

typedef struct collect {
    pkt_t *pkts;
    size_t n;
    size_t au;
    uint16_t seq;
    uint32_t ts;
    size_t mtu;
} collect_t;

static int collect_emit(void *opaque, const uint8_t *payload, size_t len, bool marker)
{
    collect_t *c = opaque;
    assert_true(len <= c->mtu);
    assert_true(c->n < MAX_PKTS);
    pkt_t *p = &c->pkts[c->n++];
    mcu_rtp_header_t h = {.marker = marker, .payload_type = PT, .seq = c->seq++,
                          .timestamp = c->ts, .ssrc = 0x5EED};
    int n = mcu_rtp_write_header(&h, p->data, sizeof p->data);
    assert_int_equal(n, MCU_RTP_HEADER_SIZE);
    memcpy(p->data + n, payload, len);
    p->len = (size_t)n + len;
    p->au = c->au;
    return MCU_OK;
}

static size_t packetize_all(pkt_t *pkts, uint16_t seq0, uint32_t ts0, size_t mtu)
{
    collect_t c = {.pkts = pkts, .seq = seq0, .ts = ts0, .mtu = mtu};
    for (size_t i = 0; i < n_aus; i++) {
        c.au = i;
        size_t before = c.n;
        int rc = mcu_h264_packetize(aus[i].data, aus[i].len, mtu, collect_emit, &c);
        assert_true(rc > 0);
        assert_int_equal((size_t)rc, c.n - before);
        /* The marker is on the last packet only. */
        for (size_t k = before; k < c.n; k++)
            assert_int_equal(!!(pkts[k].data[1] & 0x80), k == c.n - 1);
        c.ts += FRAME_TICKS;
    }
    return c.n;
}

static void packetizer_shape(void **state)
{
    pkt_t *pkts = calloc(MAX_PKTS, sizeof *pkts);
    size_t n = packetize_all(pkts, 0, 0, MCU_H264_DEFAULT_MTU);
    /* The first packet of the first (IDR) access unit aggregates SPS + PPS in a STAP-A. */
    const uint8_t *p0 = pkts[0].data + MCU_RTP_HEADER_SIZE;
    assert_int_equal(p0[0] & 0x1F, MCU_H264_NAL_STAP_A);
    assert_int_equal(p0[3] & 0x1F, MCU_H264_NAL_SPS);
    size_t sps_len = mcu_rd16(p0 + 1);
    assert_int_equal(p0[3 + sps_len + 2] & 0x1F, MCU_H264_NAL_PPS);
    /* Large NAL units travel as FU-A with a start and an end. */
    size_t fu = 0, starts = 0, ends = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *pl = pkts[i].data + MCU_RTP_HEADER_SIZE;
        if ((pl[0] & 0x1F) == MCU_H264_NAL_FU_A) {
            fu++;
            starts += !!(pl[1] & 0x80);
            ends += !!(pl[1] & 0x40);
            assert_false((pl[1] & 0xC0) == 0xC0);
        }
    }
    assert_true(fu > 0);
    assert_int_equal(starts, ends);
    /* A small MTU still works and every payload respects it. */
    size_t n_small = packetize_all(pkts, 0, 0, 100);
    assert_true(n_small > n);
    assert_int_equal(mcu_h264_packetize(aus[0].data, aus[0].len, 8, collect_emit, NULL),
                     MCU_ERR_INVAL);
    free(pkts);
}

/* ------------------------------------------------------------ depacketizer vectors */

static int depack_one(mcu_depack_t *d, const uint8_t *p, size_t len, mcu_depack_frame_t *f)
{
    int rc = mcu_depack_push(d, p, len);
    int fr = mcu_depack_finish(d, false, f);
    return rc < 0 ? rc : fr;
}

static void depack_vectors(void **state)
{
    mcu_depack_t *d;
    assert_int_equal(mcu_depack_create(&mcu_h264_depack_ops, &d), MCU_OK);
    mcu_depack_frame_t f;

    /* RFC 6184 5.6 single NAL unit packet: an IDR slice header byte. */
    const uint8_t single[] = {0x65, 0x88, 0x84, 0x10};
    assert_int_equal(depack_one(d, single, sizeof single, &f), MCU_OK);
    const uint8_t single_out[] = {0, 0, 0, 1, 0x65, 0x88, 0x84, 0x10};
    assert_int_equal(f.len, sizeof single_out);
    assert_memory_equal(f.data, single_out, f.len);
    assert_true(f.keyframe);
    assert_false(f.corrupt);

    /* RFC 6184 5.7.1 STAP-A: SPS (3 bytes) and PPS (2 bytes). */
    const uint8_t stap[] = {0x78, 0x00, 0x03, 0x67, 0x42, 0xC0, 0x00, 0x02, 0x68, 0xCE};
    assert_int_equal(depack_one(d, stap, sizeof stap, &f), MCU_OK);
    const uint8_t stap_out[] = {0, 0, 0, 1, 0x67, 0x42, 0xC0, 0, 0, 0, 1, 0x68, 0xCE};
    assert_int_equal(f.len, sizeof stap_out);
    assert_memory_equal(f.data, stap_out, f.len);
    assert_false(f.keyframe);

    /* RFC 6184 5.8 FU-A: an IDR NAL (header 0x65) in three fragments. */
    const uint8_t fu1[] = {0x7C, 0x85, 0xAA, 0xBB}, fu2[] = {0x7C, 0x05, 0xCC},
                  fu3[] = {0x7C, 0x45, 0xDD};
    assert_int_equal(mcu_depack_push(d, fu1, sizeof fu1), MCU_OK);
    assert_int_equal(mcu_depack_push(d, fu2, sizeof fu2), MCU_OK);
    assert_int_equal(mcu_depack_push(d, fu3, sizeof fu3), MCU_OK);
    assert_int_equal(mcu_depack_finish(d, false, &f), MCU_OK);
    const uint8_t fu_out[] = {0, 0, 0, 1, 0x65, 0xAA, 0xBB, 0xCC, 0xDD};
    assert_int_equal(f.len, sizeof fu_out);
    assert_memory_equal(f.data, fu_out, f.len);
    assert_true(f.keyframe);
    assert_false(f.corrupt);

    /* FU-A that lost its end: the NAL unit ends where its data does (the decoder
     * conceals the rest), the frame is corrupt. */
    assert_int_equal(mcu_depack_push(d, single, sizeof single), MCU_OK);
    assert_int_equal(mcu_depack_push(d, fu1, sizeof fu1), MCU_OK);
    assert_int_equal(mcu_depack_finish(d, false, &f), MCU_OK);
    assert_true(f.corrupt);
    const uint8_t cut_out[] = {0, 0, 0, 1, 0x65, 0x88, 0x84, 0x10, 0, 0, 0, 1, 0x65, 0xAA, 0xBB};
    assert_int_equal(f.len, sizeof cut_out);
    assert_memory_equal(f.data, cut_out, f.len);

    /* A hole inside a FU-A: the unit ends at the hole, the fragments after it are not
     * joined onto it (they would decode as garbage) and are refused. */
    const uint8_t fu_zero_tail[] = {0x7C, 0x05, 0xEE, 0x00, 0x00};
    assert_int_equal(mcu_depack_push(d, fu1, sizeof fu1), MCU_OK);
    assert_int_equal(mcu_depack_push(d, fu_zero_tail, sizeof fu_zero_tail), MCU_OK);
    mcu_depack_gap(d);
    assert_int_equal(mcu_depack_push(d, fu3, sizeof fu3), MCU_ERR_FRAGMENT);
    assert_int_equal(mcu_depack_finish(d, false, &f), MCU_OK);
    assert_true(f.corrupt);
    assert_true(f.keyframe);
    const uint8_t hole_out[] = {0, 0, 0, 1, 0x65, 0xAA, 0xBB, 0xEE}; /* trailing zeros go */
    assert_int_equal(f.len, sizeof hole_out);
    assert_memory_equal(f.data, hole_out, f.len);

    /* Frame start detection used by the jitter buffer. */
    const uint8_t p_slice[] = {0x41, 0x9A, 0x00}, p_slice_mid[] = {0x41, 0x1A, 0x00};
    assert_true(mcu_h264_depack_ops.is_frame_start(stap, sizeof stap));
    assert_true(mcu_h264_depack_ops.is_frame_start(p_slice, sizeof p_slice));
    assert_false(mcu_h264_depack_ops.is_frame_start(p_slice_mid, sizeof p_slice_mid));
    assert_false(mcu_h264_depack_ops.is_frame_start(fu2, sizeof fu2));
    /* x264's first IDR: its version SEI, then SPS and PPS, in one STAP-A. */
    const uint8_t sei_sps[] = {0x78, 0x00, 0x02, 0x06, 0x05, 0x00, 0x03, 0x67, 0x42, 0xC0},
                  sei_pps[] = {0x78, 0x00, 0x02, 0x06, 0x05, 0x00, 0x02, 0x68, 0xCE},
                  sei_only[] = {0x78, 0x00, 0x02, 0x06, 0x05},
                  sei_cut[] = {0x78, 0x00, 0x09, 0x06, 0x05};
    assert_true(mcu_h264_depack_ops.is_frame_start(sei_sps, sizeof sei_sps));
    assert_false(mcu_h264_depack_ops.is_frame_start(sei_pps, sizeof sei_pps));
    assert_false(mcu_h264_depack_ops.is_frame_start(sei_only, sizeof sei_only));
    assert_false(mcu_h264_depack_ops.is_frame_start(sei_cut, sizeof sei_cut));
    mcu_depack_destroy(&d);
    assert_null(d);
}

/* ------------------------------------------------------------ round trip */

static void shuffle_by_arrival(pkt_t *pkts, size_t n)
{
    /* insertion sort: nearly sorted input */
    for (size_t i = 1; i < n; i++) {
        pkt_t tmp = pkts[i];
        size_t j = i;
        while (j > 0 && pkts[j - 1].arrival > tmp.arrival) {
            pkts[j] = pkts[j - 1];
            j--;
        }
        pkts[j] = tmp;
    }
}

typedef struct outcome {
    bool seen;
    bool corrupt;
    bool exact;
} outcome_t;

/* Sends the stream with network jitter (which reorders), `dup_pct` duplicates and
 * `drop_pct` losses; returns per-AU which were dropped and what came out. */
static void run_roundtrip(uint16_t seq0, uint32_t ts0, unsigned drop_pct, unsigned dup_pct,
                          uint64_t seed)
{
    test_rng_t r;
    test_rng_seed(&r, seed);
    pkt_t *src = calloc(MAX_PKTS, sizeof *src);
    pkt_t *wire = calloc(2 * MAX_PKTS, sizeof *wire);
    size_t n = packetize_all(src, seq0, ts0, MCU_H264_DEFAULT_MTU);
    bool dropped_au[MAX_AUS] = {0};
    size_t n_wire = 0, n_dropped = 0;
    for (size_t i = 0; i < n; i++) {
        /* Sent at 25 fps, packets of a frame 0.2 ms apart, up to 30 ms of jitter. */
        int64_t sent = (int64_t)src[i].au * 40000 + (int64_t)(i % 64) * 200;
        if (test_rng_below(&r, 100) < drop_pct) {
            dropped_au[src[i].au] = true;
            n_dropped++;
            continue;
        }
        wire[n_wire] = src[i];
        wire[n_wire++].arrival = sent + test_rng_below(&r, 30000);
        if (test_rng_below(&r, 100) < dup_pct) {
            wire[n_wire] = src[i];
            wire[n_wire++].arrival = sent + test_rng_below(&r, 60000);
        }
    }
    shuffle_by_arrival(wire, n_wire);

    mcu_rx_stream_config_t cfg = {.format = &mcu_h264_depack_ops, .payload_type = PT};
    mcu_jitter_config_video(&cfg.jitter, MCU_H264_CLOCK_RATE);
    cfg.jitter.min_delay_ms = 60; /* above the 30 ms of network jitter */
    mcu_rx_stream_t *rx;
    assert_int_equal(mcu_rx_stream_create(&cfg, &rx), MCU_OK);

    outcome_t out[MAX_AUS] = {0};
    size_t frames = 0, last_au = 0;
    mcu_rx_frame_t f;
    for (size_t i = 0; i <= n_wire; i++) {
        int64_t now = i < n_wire ? wire[i].arrival : wire[n_wire - 1].arrival + 10000000;
        if (i < n_wire) {
            int rc = mcu_rx_stream_input(rx, wire[i].data, wire[i].len, now);
            assert_true(rc == MCU_OK || rc == MCU_ERR_DUPLICATE || rc == MCU_ERR_LATE);
        }
        while (mcu_rx_stream_poll(rx, now, &f) == MCU_OK) {
            size_t au = (uint32_t)(f.timestamp - ts0) / FRAME_TICKS;
            assert_true(au < n_aus);
            assert_true(frames == 0 || au > last_au); /* in order, each once */
            last_au = au;
            frames++;
            out[au].seen = true;
            out[au].corrupt = f.media.corrupt;
            out[au].exact = f.media.len == aus[au].len &&
                            memcmp(f.media.data, aus[au].data, f.media.len) == 0;
        }
    }
    size_t n_dropped_aus = 0, flagged = 0;
    for (size_t i = 0; i < n_aus; i++) {
        if (dropped_au[i]) {
            n_dropped_aus++;
            /* A frame that lost packets is either gone or flagged. */
            assert_true(!out[i].seen || out[i].corrupt);
            flagged += out[i].seen;
        } else {
            if (!out[i].seen || out[i].corrupt || !out[i].exact)
                fail_msg("AU %zu (seq0 %u ts0 %u drop %u%%): seen %d corrupt %d exact %d", i,
                         seq0, ts0, drop_pct, out[i].seen, out[i].corrupt, out[i].exact);
        }
    }
    const mcu_rx_stream_counters_t *c = mcu_rx_stream_counters(rx);
    print_message("seq0=%u ts0=%u: %zu AUs, %zu packets (%zu on the wire, %zu dropped), "
                  "%zu frames out, %zu AUs lost packets (%zu flagged, rest gone), "
                  "%llu duplicates dropped\n",
                  seq0, ts0, n_aus, n, n_wire, n_dropped, frames, n_dropped_aus, flagged,
                  (unsigned long long)mcu_drop_stats_get(&c->drops, MCU_ERR_DUPLICATE));
    if (drop_pct == 0)
        assert_int_equal(frames, n_aus);
    mcu_rx_stream_destroy(&rx);
    free(src);
    free(wire);
}

static void roundtrip_clean(void **state)
{
    run_roundtrip(1000, 123456, 0, 5, 1);
    run_roundtrip(65500, (uint32_t)(UINT64_C(4294967296) - 90000), 0, 5, 2);
}

static void roundtrip_lossy(void **state)
{
    for (uint64_t seed = 10; seed < 16; seed++) {
        run_roundtrip(1000, 123456, 3, 5, seed);
        run_roundtrip(65500, (uint32_t)(UINT64_C(4294967296) - 90000), 3, 5, seed + 100);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(depack_vectors),
        cmocka_unit_test(packetizer_shape),
        cmocka_unit_test(roundtrip_clean),
        cmocka_unit_test(roundtrip_lossy),
    };
    return cmocka_run_group_tests(tests, load_stream, free_stream);
}
