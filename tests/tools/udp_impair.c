/*
 * udp_impair: a UDP relay that drops packets, for tests: every datagram received on
 * LISTEN_PORT is forwarded to 127.0.0.1:TO_PORT unless a seeded pseudo-random draw
 * drops it (uniform loss, LOSS_PERCENT). Deterministic by seed. Runs for SECONDS.
 *
 *   udp_impair LISTEN_PORT TO_PORT LOSS_PERCENT SEED SECONDS
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DATAGRAM 65536

static uint64_t rng_state;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: udp_impair LISTEN_PORT TO_PORT LOSS_PERCENT SEED SECONDS\n");
        return 2;
    }
    int listen_port = atoi(argv[1]), to_port = atoi(argv[2]);
    double loss = atof(argv[3]);
    rng_state = strtoull(argv[4], NULL, 10) | 1;
    double seconds = atof(argv[5]);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("udp_impair: bind");
        return 1;
    }
    struct sockaddr_in to = a;
    to.sin_port = htons((uint16_t)to_port);
    static uint8_t buf[MAX_DATAGRAM];
    unsigned long in = 0, dropped = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        double elapsed = (double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
        if (elapsed >= seconds)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0)
            continue;
        in++;
        if (rng() % 10000 < (uint32_t)(loss * 100)) {
            dropped++;
            continue;
        }
        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&to, sizeof to);
    }
    printf("udp_impair: %lu datagrams, %lu dropped (%.1f%%)\n", in, dropped,
           in ? 100.0 * dropped / in : 0.0);
    close(fd);
    return 0;
}
