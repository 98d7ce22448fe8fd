#define _GNU_SOURCE /* recvmmsg */
#include "bench/receivers.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mcu/error.h"
#include "mcu/rtp.h"

/* Sockets per receiver: video RTP, video RTCP, audio RTP, audio RTCP. */
#define RX_SOCKS 4
/* Datagrams taken per recvmmsg call: a keyframe's burst of a 720p composite. */
#define RX_BATCH 64
/* How long epoll waits before the thread looks at the stop flag again. */
#define RX_POLL_MS 50
/* Kernel receive buffer per socket: a 1 s burst of the composite at 4 Mbit/s, so that
 * the benchmark's own scheduling never loses packets the system under test sent. */
#define RX_SOCKBUF (512 * 1024)

typedef struct receiver {
    int fd[RX_SOCKS];
    mcu_srtp_t *srtp;
    _Atomic uint64_t video_packets, video_bytes, frames, audio_packets, audio_bytes, failures;
} receiver_t;

struct mcu_bench_receivers {
    receiver_t rx[MCU_BENCH_MAX_RECEIVERS];
    int n;
    int epfd;
    pthread_t thread;
    bool started;
    atomic_bool stop;
};

static void on_datagram(receiver_t *r, int sock, uint8_t *d, size_t len)
{
    bool rtcp = sock == 1 || sock == 3;
    if (r->srtp && mcu_srtp_unprotect(r->srtp, d, &len, rtcp) != MCU_OK) {
        r->failures++;
        return;
    }
    if (rtcp)
        return;
    if (sock == 0) {
        r->video_packets++;
        r->video_bytes += len;
        if (len >= MCU_RTP_HEADER_SIZE && (d[1] & 0x80))
            r->frames++;
    } else {
        r->audio_packets++;
        r->audio_bytes += len;
    }
}

static void *run(void *opaque)
{
    mcu_bench_receivers_t *rs = opaque;
    static _Thread_local uint8_t bufs[RX_BATCH][MCU_RTP_MAX_DATAGRAM];
    struct mmsghdr msgs[RX_BATCH];
    struct iovec iov[RX_BATCH];
    struct epoll_event evs[RX_BATCH];
    while (!rs->stop) {
        int ne = epoll_wait(rs->epfd, evs, RX_BATCH, RX_POLL_MS);
        for (int e = 0; e < ne; e++) {
            int r = (int)(evs[e].data.u32 / RX_SOCKS), sock = (int)(evs[e].data.u32 % RX_SOCKS);
            receiver_t *rx = &rs->rx[r];
            for (;;) {
                for (int i = 0; i < RX_BATCH; i++) {
                    iov[i] = (struct iovec){bufs[i], sizeof bufs[i]};
                    msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
                }
                int got = recvmmsg(rx->fd[sock], msgs, RX_BATCH, MSG_DONTWAIT, NULL);
                if (got <= 0)
                    break;
                for (int i = 0; i < got; i++)
                    on_datagram(rx, sock, bufs[i], msgs[i].msg_len);
                if (got < RX_BATCH)
                    break;
            }
        }
    }
    return NULL;
}

static int bind_udp(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int sz = RX_SOCKBUF;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int mcu_bench_receivers_start(int n, uint16_t base_port, const mcu_srtp_key_t *keys,
                              mcu_bench_receivers_t **out)
{
    *out = NULL;
    if (n < 1 || n > MCU_BENCH_MAX_RECEIVERS || base_port + RX_SOCKS * n > UINT16_MAX)
        return MCU_ERR_INVAL;
    mcu_bench_receivers_t *rs = calloc(1, sizeof *rs);
    if (!rs)
        return MCU_ERR_NOMEM;
    rs->n = n;
    for (int r = 0; r < n; r++)
        for (int k = 0; k < RX_SOCKS; k++)
            rs->rx[r].fd[k] = -1;
    int rc = (rs->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ? MCU_ERR_IO : MCU_OK;
    for (int r = 0; r < n && rc == MCU_OK; r++) {
        if (keys)
            rc = mcu_srtp_create(&keys[r], MCU_SRTP_INBOUND, &rs->rx[r].srtp);
        for (int k = 0; k < RX_SOCKS && rc == MCU_OK; k++) {
            int fd = bind_udp((uint16_t)(base_port + RX_SOCKS * r + k));
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(r * RX_SOCKS + k)};
            if (fd < 0 || epoll_ctl(rs->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
                rc = MCU_ERR_IO;
            rs->rx[r].fd[k] = fd;
        }
    }
    if (rc == MCU_OK && pthread_create(&rs->thread, NULL, run, rs) != 0)
        rc = MCU_ERR_NOMEM;
    rs->started = rc == MCU_OK;
    if (rc != MCU_OK) {
        mcu_bench_receivers_stop(&rs);
        return rc;
    }
    *out = rs;
    return MCU_OK;
}

void mcu_bench_receivers_counts(mcu_bench_receivers_t *rs, int r, mcu_bench_rx_counts_t *c)
{
    receiver_t *rx = &rs->rx[r];
    *c = (mcu_bench_rx_counts_t){.video_packets = rx->video_packets, .video_bytes = rx->video_bytes,
                                 .frames = rx->frames, .audio_packets = rx->audio_packets,
                                 .audio_bytes = rx->audio_bytes, .srtp_failures = rx->failures};
}

void mcu_bench_receivers_stop(mcu_bench_receivers_t **prs)
{
    mcu_bench_receivers_t *rs = prs ? *prs : NULL;
    if (!rs)
        return;
    if (rs->started) {
        rs->stop = true;
        pthread_join(rs->thread, NULL);
    }
    for (int r = 0; r < rs->n; r++) {
        for (int k = 0; k < RX_SOCKS; k++)
            if (rs->rx[r].fd[k] >= 0)
                close(rs->rx[r].fd[k]);
        mcu_srtp_destroy(&rs->rx[r].srtp);
    }
    if (rs->epfd >= 0)
        close(rs->epfd);
    free(rs);
    *prs = NULL;
}
