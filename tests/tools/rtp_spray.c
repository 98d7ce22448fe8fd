/*
 * rtp_spray: an RTP source for integration tests: an attacker, or a source the MCU was
 * not configured for. Sends valid-looking RTP video to 127.0.0.1:PORT at an even rate.
 *
 *   rtp_spray --to PORT --pps N --seconds S [--pt 96] [--ssrc HEX] [--size BYTES]
 *             [--from-port P] [--seed N]
 *
 * Options:
 *   --to PORT        destination port on 127.0.0.1 (required).
 *   --pps N          packets per second (required; 1..MAX_PPS, fractional allowed). Packet
 *                    i is sent at start + i/N (clock_nanosleep, TIMER_ABSTIME); when the
 *                    sender falls behind it sends without sleeping until it has caught up.
 *   --seconds S      how long to send (required; fractional allowed): floor(N*S) packets.
 *   --pt PT          RTP payload type, 0..127 (default DEFAULT_PT).
 *   --ssrc HEX       the SSRC, hexadecimal, with or without 0x (default: random by seed).
 *   --size BYTES     RTP payload bytes per packet, 1..MAX_PAYLOAD (default DEFAULT_SIZE).
 *   --from-port P    bind the sending socket to 127.0.0.1:P (default: an ephemeral port).
 *   --seed N         seed of the generator for the SSRC, the first sequence number and
 *                    timestamp, and the payload bytes (default 1).
 *   --help           this text.
 *
 * Packets: RTP version 2, no padding, extension or CSRCs; the payload type; the fixed SSRC;
 * consecutive sequence numbers from a random start; the timestamp (random start) advances
 * by TS_STEP every FRAME_PACKETS packets (30 fps on the 90 kHz clock) and the marker bit
 * is set on the last packet of each such frame; the payload's first byte looks like an
 * H.264 NAL header, IDR_NAL_HEADER on every IDR_PERIOD-th packet (from the first) and
 * NON_IDR_NAL_HEADER otherwise, and the rest is random.
 *
 * Output: one line of JSON on stdout at the end (also after SIGINT/SIGTERM, which stop the
 * sending): {"sent":..,"seconds":..}; sent counts datagrams the kernel accepted, seconds
 * is the time from the first send to the end. Exit 0; 2 for a bad option (the message
 * names it); 1 for a socket error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOOL_NAME "rtp_spray"
#include "tool_common.h"

/* Default payload type: the first dynamic type, what the tests' senders use for H.264. */
#define DEFAULT_PT 96
/* Default payload size: a small video packet. */
#define DEFAULT_SIZE 200
/* Largest payload: 12-byte RTP header + 1488 = 1500 bytes, one Ethernet MTU of payload. */
#define MAX_PAYLOAD 1488
/* RTP fixed header length. */
#define RTP_HEADER 12
/* Highest accepted rate: beyond what one core can send on loopback. */
#define MAX_PPS 10000000.0
/* Longest accepted run: one day. */
#define MAX_SECONDS 86400.0
/* Packets per video frame: a timestamp step and a marker bit every this many. */
#define FRAME_PACKETS 3
/* Timestamp step per frame: 90 kHz / 30 fps. */
#define TS_STEP 3000
/* Every this many packets the payload starts with an IDR NAL header (a key frame every
 * 30 frames, once a second at 30 fps). */
#define IDR_PERIOD 90
/* H.264 NAL headers: nal_ref_idc 3 + type 5 (IDR slice); nal_ref_idc 2 + type 1 (slice). */
#define IDR_NAL_HEADER 0x65
#define NON_IDR_NAL_HEADER 0x41
/* Socket send buffer: room for a burst of catch-up sends. */
#define SEND_BUFFER_BYTES (4 * 1024 * 1024)
/* Timer slack requested from the kernel: 1 us, so the pacing sleeps end on time. */
#define TIMER_SLACK_NS 1000

/* Unit conversion. */
#define NS_PER_S 1000000000.0


/* xorshift64* seeded through splitmix64 (tool_common.h). */
static uint64_t rng_state;

static void usage(FILE *f)
{
    fprintf(f, "usage: rtp_spray --to PORT --pps N --seconds S [--pt 96] [--ssrc HEX]\n"
               "                 [--size BYTES] [--from-port P] [--seed N]\n");
}

static unsigned long long parse_uint(const char *opt, const char *arg, int base,
                                     unsigned long long lo, unsigned long long hi)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, base);
    if (end == arg || *end || errno || arg[0] == '-' || v < lo || v > hi) {
        char why[96];
        snprintf(why, sizeof why, "expected an integer in %llu..%llu%s", lo, hi,
                 base == 16 ? " (hexadecimal)" : "");
        bad_option(opt, arg, why);
    }
    return v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

int main(int argc, char **argv)
{
    enum { O_TO = 256, O_PPS, O_SECONDS, O_PT, O_SSRC, O_SIZE, O_FROM, O_SEED, O_HELP };
    static const struct option opts[] = {
        {"to", required_argument, 0, O_TO},
        {"pps", required_argument, 0, O_PPS},
        {"seconds", required_argument, 0, O_SECONDS},
        {"pt", required_argument, 0, O_PT},
        {"ssrc", required_argument, 0, O_SSRC},
        {"size", required_argument, 0, O_SIZE},
        {"from-port", required_argument, 0, O_FROM},
        {"seed", required_argument, 0, O_SEED},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0}};
    unsigned to_port = 0, from_port = 0, pt = DEFAULT_PT, size = DEFAULT_SIZE;
    double pps = 0.0, seconds = -1.0;
    bool have_ssrc = false;
    uint32_t ssrc = 0;
    uint64_t seed = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case O_TO: to_port = (unsigned)parse_uint("--to", a, 10, 1, 65535); break;
        case O_PPS: pps = parse_num("--pps", a, 1e-3, MAX_PPS); break;
        case O_SECONDS: seconds = parse_num("--seconds", a, 0.0, MAX_SECONDS); break;
        case O_PT: pt = (unsigned)parse_uint("--pt", a, 10, 0, 127); break;
        case O_SSRC:
            ssrc = (uint32_t)parse_uint("--ssrc", a, 16, 0, 0xFFFFFFFFull), have_ssrc = true;
            break;
        case O_SIZE: size = (unsigned)parse_uint("--size", a, 10, 1, MAX_PAYLOAD); break;
        case O_FROM: from_port = (unsigned)parse_uint("--from-port", a, 10, 1, 65535); break;
        case O_SEED: seed = parse_uint("--seed", a, 0, 0, UINT64_MAX); break;
        case O_HELP: usage(stdout); return 0;
        default: usage(stderr); return 2; /* getopt_long has named the option */
        }
    }
    if (optind < argc)
        bad_option("arguments", argv[optind], "unexpected positional argument");
    if (!to_port)
        bad_option("--to", NULL, "required");
    if (pps <= 0.0)
        bad_option("--pps", NULL, "required");
    if (seconds < 0.0)
        bad_option("--seconds", NULL, "required");

    rng_state = rng_seed(seed, 0);
    uint32_t r = (uint32_t)(rng_next(&rng_state) >> 32);
    if (!have_ssrc)
        ssrc = r;
    uint16_t seq = (uint16_t)(rng_next(&rng_state) >> 48);
    uint32_t ts = (uint32_t)(rng_next(&rng_state) >> 32);

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("rtp_spray: socket");
        return 1;
    }
    int buf = SEND_BUFFER_BYTES;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons((uint16_t)from_port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&from, sizeof from) != 0) {
        fprintf(stderr, "rtp_spray: bind 127.0.0.1:%u: %s\n", from_port, strerror(errno));
        return 1;
    }
    struct sockaddr_in to = from;
    to.sin_port = htons((uint16_t)to_port);

    prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS, 0, 0, 0);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    static uint8_t pkt[RTP_HEADER + MAX_PAYLOAD];
    size_t len = RTP_HEADER + size;
    uint64_t total = (uint64_t)(pps * seconds);
    uint64_t sent = 0;
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < total && !stop_requested; i++) {
        uint64_t due = start + (uint64_t)((double)i * NS_PER_S / pps);
        if (now_ns() < due) {
            struct timespec t = {.tv_sec = (time_t)(due / 1000000000ull),
                                 .tv_nsec = (long)(due % 1000000000ull)};
            if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) != 0 &&
                stop_requested)
                break;
        }
        bool marker = i % FRAME_PACKETS == FRAME_PACKETS - 1;
        pkt[0] = 0x80;
        pkt[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
        pkt[2] = (uint8_t)(seq >> 8), pkt[3] = (uint8_t)seq;
        put32(pkt + 4, ts);
        put32(pkt + 8, ssrc);
        for (size_t o = RTP_HEADER; o < len; o += 8) {
            uint64_t v = rng_next(&rng_state);
            memcpy(pkt + o, &v, len - o < 8 ? len - o : 8);
        }
        pkt[RTP_HEADER] = i % IDR_PERIOD == 0 ? IDR_NAL_HEADER : NON_IDR_NAL_HEADER;
        if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)len)
            sent++;
        seq++;
        if (marker)
            ts += TS_STEP;
    }
    /* Wait out the window so that seconds is the requested duration. */
    uint64_t end = start + (uint64_t)(seconds * NS_PER_S);
    while (!stop_requested && now_ns() < end) {
        struct timespec t = {.tv_sec = (time_t)(end / 1000000000ull),
                             .tv_nsec = (long)(end % 1000000000ull)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
    }
    printf("{\"sent\":%llu,\"seconds\":%.3f}\n", (unsigned long long)sent,
           (double)(now_ns() - start) / NS_PER_S);
    fflush(stdout);
    close(fd);
    return 0;
}
