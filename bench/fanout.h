/*
 * fanout: the cost of sending one composite to R receivers, R from 1 to 500, through
 * the daemon's own send path: the composite is packetized once (mcu/tx_stream) and each
 * packet goes to every receiver's site object (mcu/site: mcu_site_send), which protects
 * a copy with that receiver's own SRTP context and sends it from the site's socket over
 * loopback. The composite is a cached 1 Mbit/s 720p clip; it is sent as fast as one
 * core can, and the thread CPU time per second of composite is the answer: below 1.0,
 * one core serves that many receivers in real time.
 *
 * Loopback delivers each datagram inside the sender's system call, so the figure also
 * carries the receiving side's kernel work: an upper bound for a real NIC.
 *
 * OWNERSHIP: the clip stays the caller's; records are new jansson objects.
 */
#ifndef MCU_BENCH_FANOUT_H
#define MCU_BENCH_FANOUT_H

#include <stdint.h>
#include <stdio.h>

#include "bench/media.h"

/* Receivers the largest step drives: the capacity target is 500. */
#define MCU_BENCH_FANOUT_MAX 512

/* Writes one "fanout" record per count in `counts` (n of them, each 1..MCU_BENCH_FANOUT_MAX)
 * to out (JSON Lines). `seconds`: media seconds of composite sent per count. The sites
 * bind UDP ports port_base .. port_base + 2 * max(counts) - 1. 0 or a negative MCU_ERR_*. */
int mcu_bench_fanout(const mcu_bench_media_t *composite, const int *counts, int n, double seconds,
                     uint16_t port_base, FILE *out);

#endif
