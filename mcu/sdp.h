/*
 * sdp: writes the SDP file (RFC 4566) a site's RECEIVER opens to play the composite
 * stream the MCU sends it:
 *
 *   ffplay -protocol_whitelist file,udp,rtp yen-mo.sdp
 *   gst-launch-1.0 filesrc location=yen-mo.sdp ! sdpdemux ! ...
 *
 * The file describes the receiver's side: c= and the m= ports are the address and
 * ports the receiver binds and the MCU sends to; a=recvonly because the MCU only sends
 * on them. Example (every line ends in CRLF):
 *
 *   v=0
 *   o=- 3912345678 1 IN IP4 192.0.2.1           MCU's address, session id, version
 *   s=Giao ban                                  conference name (UTF-8)
 *   c=IN IP4 192.0.2.10                         where the receiver listens
 *   t=0 0
 *   m=video 5000 RTP/AVPF 96                    AVPF: the receiver may send NACK/PLI
 *   a=rtpmap:96 H264/90000                      RFC 6184
 *   a=fmtp:96 packetization-mode=1;profile-level-id=42e01f   constrained baseline 3.1
 *   a=framerate:25
 *   a=rtcp:5001                                 or a=rtcp-mux (RFC 5761)
 *   a=rtcp-fb:96 nack                           RFC 4585: served from the send history
 *   a=rtcp-fb:96 nack pli                       one rate-limited keyframe
 *   a=rtcp-fb:96 ccm fir                        RFC 5104: same
 *   a=ssrc:3735928559 cname:mcu-giao-ban        RFC 5576
 *   a=recvonly
 *   m=audio 5002 RTP/AVP 111
 *   a=rtpmap:111 opus/48000/2                   RFC 7587: always /2, even for mono
 *   a=fmtp:111 minptime=10;useinbandfec=1
 *   a=rtcp:5003
 *   a=ssrc:305419896 cname:mcu-giao-ban         one CNAME: receivers sync lips by it
 *   a=recvonly
 *
 * With an SRTP key (RFC 4568 SDES) each m= section also gets
 * "a=crypto:1 <suite> inline:<key>" and its profile becomes RTP/SAVP or RTP/SAVPF.
 * This is only the hook: SRTP protection itself is another module's job.
 *
 * No sprop-parameter-sets: the encoder may restart with new SPS/PPS, so they travel in
 * band before every IDR instead.
 *
 * What the receivers do with it (ffmpeg 5.1, GStreamer 1.22): both play RTP/AVPF and
 * ignore a=recvonly, a=rtcp and a=rtcp-mux. ffmpeg always binds port+1 for RTCP, even
 * with rtcp-mux, so ports of one receiver must be at least two apart; it sends its RTCP
 * (receiver reports, NACK/PLI) to the c= address unless started with
 * "-sdp_flags rtcp_to_source", which sends it back to the MCU. ffmpeg decrypts SRTP from
 * a=crypto for the suites AES_CM_128_HMAC_SHA1_80 and _32 with a bare 30-byte key.
 *
 * OWNERSHIP: the strings in mcu_sdp_params_t are borrowed, read only during the call.
 * The output buffer is the caller's. Nothing is allocated.
 */
#ifndef MCU_SDP_H
#define MCU_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for any SDP mcu_sdp_write can produce from valid parameters: every string at
 * its bound below, IPv6 addresses and all options on come to 1.6 KiB (a test keeps it
 * under 2 KiB); 4 KiB leaves room for a few more attributes later. */
#define MCU_SDP_MAX_BYTES 4096

/* Session name: a display name, same bound as the config's (MCU_NAME_MAX - 1). */
#define MCU_SDP_NAME_MAX 127
/* RTCP SDES items, CNAME included, are at most 255 bytes (RFC 3550 6.5). */
#define MCU_SDP_CNAME_MAX 255
/* Crypto suite names (RFC 4568 9.2, RFC 6188) are under 32 characters. */
#define MCU_SDP_CRYPTO_SUITE_MAX 63
/* A base64 AES-256 key+salt is 64 characters; lifetime and MKI add under 20. */
#define MCU_SDP_CRYPTO_KEY_MAX 127
/* Frame rates above 120 are not a conference stream. */
#define MCU_SDP_MAX_FRAMERATE 120

/* RTCP feedback the receiver may send for video (a=rtcp-fb lines, RFC 4585/5104). Any
 * of them makes the video profile AVPF. */
enum mcu_sdp_feedback {
    MCU_SDP_FB_NACK = 1 << 0, /* generic NACK: resent from the send history */
    MCU_SDP_FB_PLI = 1 << 1,  /* picture loss: one rate-limited keyframe */
    MCU_SDP_FB_FIR = 1 << 2,  /* full intra request: the same keyframe */
};
#define MCU_SDP_FB_ALL (MCU_SDP_FB_NACK | MCU_SDP_FB_PLI | MCU_SDP_FB_FIR)

/* One stream the MCU sends to the receiver. */
typedef struct mcu_sdp_media {
    int port;           /* receiver's RTP port: 1..65535 (..65534 without rtcp-mux) */
    int pt;             /* dynamic payload type, 96..127 */
    uint32_t ssrc;      /* the MCU's fixed SSRC for this stream */
} mcu_sdp_media_t;

/* RFC 4568 SDES hook. suite NULL or "": no a=crypto line, plain RTP/AVP(F). */
typedef struct mcu_sdp_crypto {
    const char *suite;  /* "AES_CM_128_HMAC_SHA1_80": [A-Za-z0-9_] */
    const char *key;    /* inline key-params: base64 key||salt, optional |lifetime|MKI */
} mcu_sdp_crypto_t;

typedef struct mcu_sdp_params {
    const char *session_name;   /* s=: the conference name, UTF-8, 1..MCU_SDP_NAME_MAX */
    const char *origin_addr;    /* o=: the MCU's numeric IPv4/IPv6 address */
    uint64_t session_id;        /* o= sess-id */
    uint64_t session_version;   /* o= sess-version: raise it when the file changes */
    const char *dest_addr;      /* c=: the receiver's unicast numeric address */
    const char *cname;          /* RTCP CNAME of both streams: visible ASCII, no spaces */
    bool rtcp_mux;              /* RTCP on the RTP ports (RFC 5761), else port+1 */
    mcu_sdp_media_t video;      /* H.264, 90 kHz */
    int h264_level_idc;         /* level_idc, 31 for level 3.1 (A.3.1 of H.264) */
    int framerate;              /* a=framerate, 1..MCU_SDP_MAX_FRAMERATE */
    unsigned video_feedback;    /* MCU_SDP_FB_* bits */
    mcu_sdp_media_t audio;      /* Opus, 48 kHz */
    mcu_sdp_crypto_t crypto;
} mcu_sdp_params_t;

/* Writes the SDP text into out[0, cap) with a terminating NUL. Returns its length
 * (without the NUL); MCU_ERR_INVAL for invalid parameters (a port, PT, level or frame
 * rate out of range; the four RTP/RTCP ports not distinct; equal SSRCs; an empty or
 * over-long string; a CR, LF or other control character in any string; a name that is
 * not UTF-8; an address that is not numeric, or a multicast or unspecified c=);
 * MCU_ERR_NOSPACE when cap is too small (out is then "" if cap > 0). MCU_SDP_MAX_BYTES
 * is always enough. */
int mcu_sdp_write(const mcu_sdp_params_t *p, char *out, size_t cap);

/* Writes the SDP to `path` atomically: into "<path>.tmp", flushed to disk, then renamed
 * over `path`, so a receiver opening the file never reads half of it. Mode 0644, or
 * 0600 when it holds an SRTP key (both less the umask). Blocks on the disk: call at
 * startup or from a worker. 0, MCU_ERR_INVAL (as above, or no path), MCU_ERR_IO. */
int mcu_sdp_write_file(const mcu_sdp_params_t *p, const char *path);

#endif
