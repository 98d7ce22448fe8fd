#include "rx_stream.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "codecs/opus_rtp.h"
#include "rtp.h"

struct mcu_rx_stream {
    mcu_rx_stream_config_t cfg;
    mcu_jitter_t *jb;
    mcu_depack_t *depack;
    bool have_source;
    mcu_rtp_stats_t source;
    bool have_candidate;        /* another SSRC in probation */
    mcu_rtp_stats_t candidate;
    bool keyframe_needed;       /* reported with the next frame */
    mcu_nack_gen_t nack;
    bool have_rtx;
    uint32_t rtx_ssrc;
    int64_t rtx_last_us;
    /* The codec check (mcu_rx_stream_problem). */
    int score;
    int plausible_run;          /* packets in a row that could be the codec */
    bool confirmed, wrong;
    int64_t last_wrong_us, last_accepted_us;
    uint32_t votes[MCU_CODEC__COUNT];   /* what implausible payloads looked like */
    bool have_foreign;
    mcu_rx_problem_t foreign;
    int64_t foreign_last_us;
    uint32_t foreign_ts;
    mcu_rx_stream_counters_t counters;
};

/* Votes are halved past this, so that the guess follows what the sender sends now. */
#define RX_VOTES_MAX 1024

int mcu_rx_stream_create(const mcu_rx_stream_config_t *cfg, mcu_rx_stream_t **out)
{
    *out = NULL;
    if (!cfg || !cfg->format || cfg->payload_type > 127)
        return MCU_ERR_INVAL;
    mcu_rx_stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return MCU_ERR_NOMEM;
    s->cfg = *cfg;
    /* Only video payload formats have a structure to check. */
    s->confirmed = !mcu_codec_info(cfg->codec) || !mcu_codec_info(cfg->codec)->video;
    mcu_jitter_config_t jc = cfg->jitter;
    if (!jc.clock_rate) {
        if (cfg->format->frame_per_packet)
            mcu_jitter_config_audio(&jc, cfg->format->clock_rate);
        else
            mcu_jitter_config_video(&jc, cfg->format->clock_rate);
    }
    if (!jc.is_frame_start)
        jc.is_frame_start = cfg->format->is_frame_start;
    jc.frame_per_packet = cfg->format->frame_per_packet;
    if (cfg->nack && jc.mode == MCU_JITTER_ASAP && jc.min_delay_ms < MCU_RX_STREAM_NACK_WAIT_MS) {
        jc.min_delay_ms = MCU_RX_STREAM_NACK_WAIT_MS;
        if (jc.max_delay_ms < jc.min_delay_ms)
            jc.max_delay_ms = jc.min_delay_ms;
    }
    mcu_nack_gen_init(&s->nack);
    int rc = mcu_jitter_create(&jc, &s->jb);
    if (rc == MCU_OK)
        rc = mcu_depack_create(cfg->format, &s->depack);
    if (rc < 0) {
        mcu_rx_stream_destroy(&s);
        return rc;
    }
    *out = s;
    return MCU_OK;
}

void mcu_rx_stream_destroy(mcu_rx_stream_t **ps)
{
    mcu_rx_stream_t *s = ps ? *ps : NULL;
    if (!s)
        return;
    mcu_jitter_destroy(&s->jb);
    mcu_depack_destroy(&s->depack);
    free(s);
    *ps = NULL;
}

static int drop(mcu_rx_stream_t *s, int err)
{
    mcu_drop_stats_count(&s->counters.drops, err);
    return err;
}

static void restart(mcu_rx_stream_t *s)
{
    mcu_jitter_reset(s->jb);
    mcu_depack_reset(s->depack);
    mcu_nack_gen_reset(&s->nack);
    s->keyframe_needed = true;
    s->counters.restarts++;
}

/* Decides whether a packet's SSRC is the stream's; may switch to a new one. */
static int check_ssrc(mcu_rx_stream_t *s, const mcu_rtp_packet_t *p)
{
    uint32_t clock = s->cfg.format->clock_rate;
    if (!s->have_source) {
        mcu_rtp_stats_init(&s->source, p->ssrc, clock, p->seq);
        s->have_source = true;
        return MCU_OK;
    }
    if (p->ssrc == s->source.ssrc)
        return MCU_OK;
    if (!s->have_candidate || s->candidate.ssrc != p->ssrc) {
        mcu_rtp_stats_init(&s->candidate, p->ssrc, clock, p->seq);
        s->have_candidate = true;
    }
    if (mcu_rtp_stats_update(&s->candidate, p->seq, (uint32_t)p->payload_len) != MCU_OK)
        return MCU_ERR_SSRC;
    /* The new source is valid: it replaces the old one. */
    s->source = s->candidate;
    s->have_candidate = false;
    s->have_rtx = false; /* a restarted sender brings a new RTX SSRC too */
    s->counters.ssrc_changes++;
    restart(s);
    return 1; /* already counted in the new source's statistics */
}

/* Feeds the NACK generator; a hole too big to repair needs a keyframe instead. */
static void track_seq(mcu_rx_stream_t *s, uint16_t seq, bool rtx, int64_t now_us)
{
    if (!s->cfg.nack)
        return;
    if (mcu_nack_gen_on_packet(&s->nack, seq, rtx, now_us) == MCU_ERR_OVERFLOW)
        s->keyframe_needed = true;
    if (s->nack.stats.rtt_us > 0)
        mcu_jitter_set_rtt(s->jb, s->nack.stats.rtt_us);
}

/* An RFC 4588 packet: the original sequence number leads the payload. */
static int input_rtx(mcu_rx_stream_t *s, const mcu_rtp_packet_t *p, int64_t now_us)
{
    if (p->payload_len == 0) {
        /* Padding on the RTX stream (libwebrtc probes bandwidth there when RTX is
         * negotiated): no original sequence number, nothing to repair or count lost. */
        s->counters.padding++;
        return MCU_OK;
    }
    if (!s->have_source)
        return drop(s, MCU_ERR_SSRC); /* nothing to repair yet */
    if (p->payload_len < 2)
        return drop(s, MCU_ERR_TRUNCATED);
    if (p->ssrc == s->source.ssrc)
        return drop(s, MCU_ERR_SSRC); /* RTX shares no SSRC with its media (RFC 4588 4) */
    uint16_t osn = (uint16_t)(p->payload[0] << 8 | p->payload[1]);
    /* Only what was asked for: an RTX stream tied to another sequence space (an old
     * SSRC, another encoding) must neither put its packets into this one nor become the
     * stream's RTX SSRC. */
    if (!mcu_nack_gen_awaits(&s->nack, osn))
        return drop(s, MCU_ERR_DUPLICATE);
    if (!s->have_rtx || (p->ssrc != s->rtx_ssrc &&
                         now_us - s->rtx_last_us > MCU_RX_STREAM_RTX_QUIET_MS * 1000)) {
        s->have_rtx = true;
        s->rtx_ssrc = p->ssrc;
    }
    if (p->ssrc != s->rtx_ssrc)
        return drop(s, MCU_ERR_SSRC);
    s->rtx_last_us = now_us;
    /* An original without payload (padding) comes back as a bare sequence number: a
     * filler for the jitter buffer, as the original would have been. */
    if (p->payload_len == 2)
        s->counters.padding++;
    int rc = mcu_jitter_push(s->jb, osn, p->timestamp, p->marker, p->payload + 2,
                             p->payload_len - 2, now_us);
    if (rc == MCU_ERR_OVERFLOW) {
        mcu_drop_stats_count(&s->counters.drops, rc);
        mcu_depack_reset(s->depack);
        s->counters.restarts++;
    } else if (rc < 0) {
        return drop(s, rc);
    }
    track_seq(s, osn, true, now_us);
    s->counters.rtx_packets++;
    s->counters.packets++;
    return MCU_OK;
}

/* Whether an audio payload on a dynamic payload type is Opus: it parses as Opus (RFC 6716
 * 3.4) and the timestamp moved by what an Opus packet lasts at 48 kHz (10, 20, 40, 60 or
 * 120 ms); G.711 or G.722 at 8000 Hz move by a sixth of that. */
static bool looks_like_opus(const mcu_rtp_packet_t *p, uint32_t ts_step)
{
    static const uint32_t steps[] = {480, 960, 1920, 2880, 5760};
    bool step_ok = false;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        step_ok |= ts_step == steps[i];
    uint32_t samples;
    return step_ok && mcu_opus_packet_check(p->payload, p->payload_len, &samples) > 0 &&
           samples == ts_step;
}

/* A payload type that is not the stream's: remembered with what it looks like. */
static void note_foreign(mcu_rx_stream_t *s, const mcu_rtp_packet_t *p, int64_t now_us)
{
    mcu_codec_t codec = p->payload_type < 96 ? mcu_codec_by_static_pt(p->payload_type)
                                             : MCU_CODEC_NONE;
    const mcu_codec_info_t *own = mcu_codec_info(s->cfg.codec);
    bool same = s->have_foreign && s->foreign.pt == p->payload_type;
    if (codec == MCU_CODEC_NONE && own && own->video)
        codec = mcu_codec_guess_video(p->payload, p->payload_len);
    else if (codec == MCU_CODEC_NONE && own && same &&
             looks_like_opus(p, p->timestamp - s->foreign_ts))
        codec = MCU_CODEC_OPUS;
    if (!same || (codec != MCU_CODEC_NONE && s->foreign.codec == MCU_CODEC_NONE))
        s->foreign = (mcu_rx_problem_t){.kind = MCU_RX_PROBLEM_FOREIGN_PT, .codec = codec,
                                        .pt = p->payload_type};
    s->have_foreign = true;
    s->foreign_last_us = now_us;
    s->foreign_ts = p->timestamp;
}

/* Checks a payload against the configured codec. False: drop it as another codec's. */
static bool codec_check(mcu_rx_stream_t *s, const mcu_rtp_packet_t *p, int64_t now_us)
{
    const mcu_codec_info_t *info = mcu_codec_info(s->cfg.codec);
    if (!info || !info->video)
        return true; /* audio: nothing to check */
    bool ok = mcu_codec_plausible(s->cfg.codec, p->payload, p->payload_len);
    if (ok && s->confirmed && s->score >= MCU_RX_STREAM_CODEC_SCORE_MAX)
        return true; /* the common case, settled (confirmed implies not wrong) */
    s->plausible_run = ok ? s->plausible_run + 1 : 0;
    if (ok && s->wrong && s->plausible_run >= MCU_RX_STREAM_CODEC_CONFIRM) {
        s->score = MCU_RX_STREAM_CODEC_CONFIRM; /* the sender switched to the right codec */
    } else if (ok) {
        s->score = s->score < MCU_RX_STREAM_CODEC_SCORE_MAX ? s->score + 1 : s->score;
    } else {
        s->score -= MCU_RX_STREAM_CODEC_PENALTY;
        if (s->score < -MCU_RX_STREAM_CODEC_SCORE_MAX)
            s->score = -MCU_RX_STREAM_CODEC_SCORE_MAX;
        mcu_codec_t guess = mcu_codec_guess_video(p->payload, p->payload_len);
        if (guess != MCU_CODEC_NONE && ++s->votes[guess] > RX_VOTES_MAX)
            for (int c = 0; c < MCU_CODEC__COUNT; c++)
                s->votes[c] /= 2;
    }
    if (s->score >= MCU_RX_STREAM_CODEC_CONFIRM) {
        s->confirmed = true;
        s->wrong = false;
    } else if (s->score <= MCU_RX_STREAM_CODEC_WRONG && !s->wrong) {
        s->wrong = true;
        s->confirmed = false;
        restart(s); /* nothing of it stays in the buffers */
    }
    if (s->wrong)
        s->last_wrong_us = now_us;
    return !s->wrong;
}

int mcu_rx_stream_input(mcu_rx_stream_t *s, const uint8_t *buf, size_t len, int64_t now_us)
{
    s->counters.datagrams++;
    s->counters.bytes += len;
    if (mcu_rtp_is_rtcp(buf, len))
        return drop(s, MCU_ERR_PAYLOAD_TYPE); /* RTCP belongs to the site, not here */
    mcu_rtp_packet_t p;
    int rc = mcu_rtp_parse(buf, len, &p);
    if (rc < 0)
        return drop(s, rc);
    if (s->cfg.rtx_payload_type && p.payload_type == s->cfg.rtx_payload_type)
        return input_rtx(s, &p, now_us);
    if (p.payload_type != s->cfg.payload_type) {
        note_foreign(s, &p, now_us);
        return drop(s, MCU_ERR_PAYLOAD_TYPE);
    }
    /* A packet without payload (padding only: bandwidth probes) takes its sequence
     * number like any other: received, never missing, never NACKed, a filler in the
     * jitter buffer. */
    bool filler = p.payload_len == 0;
    if (!filler && !codec_check(s, &p, now_us))
        return drop(s, MCU_ERR_WRONG_CODEC);

    rc = check_ssrc(s, &p);
    if (rc < 0)
        return drop(s, rc);
    if (rc == MCU_OK) {
        uint32_t resyncs = s->source.resyncs;
        rc = mcu_rtp_stats_update(&s->source, p.seq, (uint32_t)p.payload_len);
        if (rc == MCU_ERR_SEQ_JUMP)
            return drop(s, rc);
        if (s->source.resyncs != resyncs)
            restart(s);
        /* Packets in probation are kept: the first one usually carries the SPS. */
    }
    if (filler)
        s->counters.padding++;
    else /* a padding packet carries an earlier frame's timestamp */
        mcu_rtp_stats_jitter(&s->source, p.timestamp, now_us);

    rc = mcu_jitter_push(s->jb, p.seq, p.timestamp, p.marker, p.payload, p.payload_len, now_us);
    if (rc == MCU_ERR_OVERFLOW) {
        mcu_drop_stats_count(&s->counters.drops, rc);
        mcu_depack_reset(s->depack);
        s->counters.restarts++;
    } else if (rc < 0) {
        return drop(s, rc);
    }
    track_seq(s, p.seq, false, now_us);
    s->counters.packets++;
    s->last_accepted_us = now_us;
    return MCU_OK;
}

int mcu_rx_stream_poll(mcu_rx_stream_t *s, int64_t now_us, mcu_rx_frame_t *frame)
{
    mcu_jitter_frame_t jf;
    while (mcu_jitter_pop(s->jb, now_us, &jf) == MCU_OK) {
        if (s->cfg.nack) /* what the buffer gave up on is no longer worth asking for */
            mcu_nack_gen_forget_through(&s->nack, (uint16_t)(jf.first_seq - 1));
        for (size_t i = 0; i < jf.n_packets; i++) {
            const uint8_t *pl;
            size_t pl_len;
            if (mcu_jitter_frame_gap_before(s->jb, i))
                mcu_depack_gap(s->depack);
            mcu_jitter_frame_packet(s->jb, i, &pl, &pl_len);
            int rc = mcu_depack_push(s->depack, pl, pl_len);
            if (rc < 0)
                mcu_drop_stats_count(&s->counters.drops, rc);
        }
        memset(frame, 0, sizeof *frame);
        int rc = mcu_depack_finish(s->depack, !jf.complete, &frame->media);
        s->counters.frames++;
        if (rc < 0 || frame->media.corrupt)
            s->counters.frames_corrupt++;
        if (rc < 0)
            continue; /* nothing usable came out of this frame's packets */
        if (frame->media.keyframe && !frame->media.corrupt)
            s->counters.keyframes++;
        frame->ssrc = s->source.ssrc;
        frame->timestamp = jf.timestamp;
        frame->arrival_us = jf.arrival_us;
        frame->lost_before = jf.lost_before;
        frame->keyframe_needed = jf.keyframe_needed || s->keyframe_needed;
        s->keyframe_needed = false;
        return MCU_OK;
    }
    return MCU_ERR_AGAIN;
}

int64_t mcu_rx_stream_next_deadline(const mcu_rx_stream_t *s)
{
    return mcu_jitter_next_deadline(s->jb);
}

const mcu_rx_stream_counters_t *mcu_rx_stream_counters(const mcu_rx_stream_t *s)
{
    return &s->counters;
}

const mcu_rtp_stats_t *mcu_rx_stream_source(const mcu_rx_stream_t *s)
{
    return s->have_source ? &s->source : NULL;
}

const mcu_jitter_t *mcu_rx_stream_jitter(const mcu_rx_stream_t *s) { return s->jb; }

size_t mcu_rx_stream_nacks(mcu_rx_stream_t *s, int64_t now_us, uint16_t *seqs, size_t max)
{
    return s->cfg.nack && s->confirmed ? mcu_nack_gen_collect(&s->nack, now_us, 0, seqs, max)
                                       : 0;
}

int64_t mcu_rx_stream_nack_due(const mcu_rx_stream_t *s)
{
    return s->cfg.nack && s->confirmed ? mcu_nack_gen_next_due(&s->nack, 0) : INT64_MAX;
}

const mcu_nack_stats_t *mcu_rx_stream_nack_stats(const mcu_rx_stream_t *s) { return &s->nack.stats; }

void mcu_rx_stream_problem(const mcu_rx_stream_t *s, int64_t now_us, mcu_rx_problem_t *p)
{
    int64_t window = (int64_t)MCU_RX_STREAM_PROBLEM_MS * 1000;
    *p = (mcu_rx_problem_t){.kind = MCU_RX_PROBLEM_NONE};
    if (s->wrong && now_us - s->last_wrong_us < window) {
        mcu_codec_t best = MCU_CODEC_NONE;
        for (int c = 0; c < MCU_CODEC__COUNT; c++)
            if (s->votes[c] > (best ? s->votes[best] : 0))
                best = (mcu_codec_t)c;
        *p = (mcu_rx_problem_t){.kind = MCU_RX_PROBLEM_WRONG_CODEC, .codec = best,
                                .pt = s->cfg.payload_type};
        return;
    }
    const mcu_codec_info_t *info = mcu_codec_info(s->foreign.codec);
    bool accepting = s->counters.packets && now_us - s->last_accepted_us < window;
    if (s->have_foreign && now_us - s->foreign_last_us < window && !accepting &&
        !(info && info->quiet))
        *p = s->foreign;
}

bool mcu_rx_stream_codec_confirmed(const mcu_rx_stream_t *s) { return s->confirmed; }

bool mcu_rx_stream_rtx_ssrc(const mcu_rx_stream_t *s, uint32_t *ssrc)
{
    *ssrc = s->have_rtx ? s->rtx_ssrc : 0;
    return s->have_rtx;
}

static const char *codec_display(mcu_codec_t c)
{
    const mcu_codec_info_t *info = mcu_codec_info(c);
    return info ? info->display : "?";
}

void mcu_rx_problem_describe(const mcu_rx_problem_t *p, mcu_codec_t configured, char *buf,
                             size_t cap)
{
    const mcu_codec_info_t *info = mcu_codec_info(p->codec);
    const mcu_codec_info_t *own = mcu_codec_info(configured);
    if (p->kind == MCU_RX_PROBLEM_NONE)
        snprintf(buf, cap, "%s", "");
    else if (info && !info->depack)
        snprintf(buf, cap, "unsupported codec: %s", info->display);
    else if (p->kind == MCU_RX_PROBLEM_WRONG_CODEC && info)
        snprintf(buf, cap, "%s sent, %s expected", info->display, codec_display(configured));
    else if (p->kind == MCU_RX_PROBLEM_WRONG_CODEC)
        snprintf(buf, cap, "not %s: unknown %s payload", codec_display(configured),
                 own && own->video ? "video" : "audio");
    else if (info)
        snprintf(buf, cap, "%s on PT %u, not configured", info->display, p->pt);
    else
        snprintf(buf, cap, "PT %u not configured", p->pt);
}
