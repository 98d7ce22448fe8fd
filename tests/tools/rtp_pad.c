/*
 * rtp_pad: an RTP relay for integration tests that adds what a libwebrtc sender adds for
 * bandwidth probing: padding-only packets (the P bit, no payload) on the media SSRC, and
 * optionally on an RTX SSRC of its own.
 *
 *   rtp_pad --listen PORT --to PORT --every N [--count K] [--size BYTES]
 *           [--rtx-pt PT] [--seconds S]
 *
 * Every datagram that arrives on 127.0.0.1:LISTEN is forwarded to 127.0.0.1:TO; plain RTP
 * (version 2, not RTCP) gets its sequence number shifted by the number of padding packets
 * inserted so far. After every N-th packet with the marker bit (the end of a frame), K
 * padding packets follow it on the media SSRC: the frame's payload type, SSRC and
 * timestamp (as libwebrtc does), the next sequence numbers, no marker, BYTES of padding.
 * The stream therefore has no sequence gap: a receiver that counts padding as received
 * sees 0 loss. With --rtx-pt, one more padding packet goes on RTX SSRC (media SSRC + 1)
 * with payload type PT and its own sequence numbers, as libwebrtc sends when RTX is
 * negotiated.
 *
 * Options:
 *   --listen PORT   where the sender sends (required).
 *   --to PORT       where the receiver listens (required).
 *   --every N       frames between probes, 1..1000 (required).
 *   --count K       padding packets per probe, 1..MAX_COUNT (default 1).
 *   --size BYTES    padding bytes per packet, 1..MAX_PADDING (default DEFAULT_PADDING).
 *   --rtx-pt PT     also one padding packet on the RTX SSRC with this payload type.
 *   --seconds S     run time (default: until SIGTERM or SIGINT).
 *
 * Output: one line of JSON on stdout at exit: {"forwarded":..,"padding":..,"rtx_padding":..}.
 * Exit 0; 2 for a bad option; 1 for a socket error. Single SSRC: the relay follows one
 * media stream (the first SSRC it sees); other SSRCs pass through unchanged.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define TOOL_NAME "rtp_pad"
#include "tool_common.h"

#define RTP_HEADER 12
/* libwebrtc pads up to 255 bytes per packet (the count is one byte). */
#define MAX_PADDING 255
/* What libwebrtc's padding packets usually carry: its minimum probe packet. */
#define DEFAULT_PADDING 224
/* Padding packets per probe at most: a probe cluster is a handful of packets. */
#define MAX_COUNT 16
/* Largest datagram relayed. */
#define MAX_DATAGRAM 2048
/* Poll timeout, so --seconds and signals are noticed. */
#define POLL_MS 50

static int fd_in, fd_out;
static struct sockaddr_in to;
static unsigned long long forwarded, padding, rtx_padding;

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static void send_out(const uint8_t *b, size_t len)
{
    if (sendto(fd_out, b, len, 0, (const struct sockaddr *)&to, sizeof to) >= 0)
        forwarded++;
}

/* A padding-only packet: header, BYTES-1 zero bytes, then the count byte. */
static void send_padding(uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc, int size)
{
    uint8_t b[RTP_HEADER + MAX_PADDING];
    b[0] = 0x80 | 0x20; /* V=2, P */
    b[1] = pt & 0x7F;
    put16(b + 2, seq);
    put32(b + 4, ts);
    put32(b + 8, ssrc);
    memset(b + RTP_HEADER, 0, (size_t)size);
    b[RTP_HEADER + size - 1] = (uint8_t)size;
    send_out(b, RTP_HEADER + (size_t)size);
}

static int bound(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int size = 4 << 20;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, TOOL_NAME ": bind 127.0.0.1:%u: %s\n", port, strerror(errno));
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv)
{
    enum { O_LISTEN = 256, O_TO, O_EVERY, O_COUNT, O_SIZE, O_RTX_PT, O_SECONDS };
    static const struct option opts[] = {
        {"listen", required_argument, 0, O_LISTEN}, {"to", required_argument, 0, O_TO},
        {"every", required_argument, 0, O_EVERY},   {"count", required_argument, 0, O_COUNT},
        {"size", required_argument, 0, O_SIZE},     {"rtx-pt", required_argument, 0, O_RTX_PT},
        {"seconds", required_argument, 0, O_SECONDS}, {0, 0, 0, 0}};
    int listen_port = 0, to_port = 0, every = 0, count = 1, size = DEFAULT_PADDING, rtx_pt = -1;
    double seconds = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN: listen_port = (int)parse_num("--listen", optarg, 1, 65535); break;
        case O_TO: to_port = (int)parse_num("--to", optarg, 1, 65535); break;
        case O_EVERY: every = (int)parse_num("--every", optarg, 1, 1000); break;
        case O_COUNT: count = (int)parse_num("--count", optarg, 1, MAX_COUNT); break;
        case O_SIZE: size = (int)parse_num("--size", optarg, 1, MAX_PADDING); break;
        case O_RTX_PT: rtx_pt = (int)parse_num("--rtx-pt", optarg, 0, 127); break;
        case O_SECONDS: seconds = parse_num("--seconds", optarg, 0, 86400); break;
        default: exit(2);
        }
    }
    if (!listen_port || !to_port || !every)
        bad_option("--listen/--to/--every", NULL, "all three are required");
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fd_in = bound((uint16_t)listen_port);
    fd_out = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)to_port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    uint64_t end = seconds > 0 ? now_ns() + (uint64_t)(seconds * 1e9) : UINT64_MAX;
    bool have_ssrc = false;
    uint32_t ssrc = 0;
    uint16_t shift = 0, rtx_seq = 1;
    unsigned frames = 0;
    uint8_t b[MAX_DATAGRAM];
    while (!stop_requested && now_ns() < end) {
        struct pollfd pf = {.fd = fd_in, .events = POLLIN};
        if (poll(&pf, 1, POLL_MS) <= 0)
            continue;
        ssize_t n = recv(fd_in, b, sizeof b, MSG_DONTWAIT);
        if (n < RTP_HEADER || (b[0] >> 6) != 2 || (b[1] >= 200 && b[1] <= 204)) {
            if (n > 0)
                send_out(b, (size_t)n); /* RTCP or not RTP: as it came */
            continue;
        }
        uint32_t pkt_ssrc = (uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 | b[10] << 8 | b[11];
        if (!have_ssrc) {
            have_ssrc = true;
            ssrc = pkt_ssrc;
        }
        if (pkt_ssrc != ssrc) {
            send_out(b, (size_t)n);
            continue;
        }
        uint16_t seq = (uint16_t)((b[2] << 8 | b[3]) + shift);
        put16(b + 2, seq);
        send_out(b, (size_t)n);
        if (!(b[1] & 0x80) || ++frames % (unsigned)every)
            continue;
        uint32_t ts = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | b[6] << 8 | b[7];
        for (int k = 0; k < count; k++, shift++, padding++)
            send_padding(b[1] & 0x7F, (uint16_t)(seq + 1 + k), ts, ssrc, size);
        if (rtx_pt >= 0) {
            send_padding((uint8_t)rtx_pt, rtx_seq++, ts, ssrc + 1, size);
            rtx_padding++;
        }
    }
    printf("{\"forwarded\":%llu,\"padding\":%llu,\"rtx_padding\":%llu}\n", forwarded, padding,
           rtx_padding);
    return 0;
}
