/*
 * ntp: NTP timestamps as RTCP carries them (RFC 3550 section 4): 64-bit 32.32 fixed
 * point seconds since 1900-01-01, and the "compact" middle 32 bits (16.16) that report
 * blocks echo as LSR and measure DLSR in.
 *
 * Header-only: pure arithmetic, no state, nothing to free.
 */
#ifndef MCU_NTP_H
#define MCU_NTP_H

#include <stdint.h>

/* Seconds from the NTP epoch (1900) to the Unix epoch (1970): 70 years, 17 leap days. */
#define MCU_NTP_UNIX_OFFSET_S 2208988800u
#define MCU_NTP_US_PER_S 1000000

/* NTP 32.32 from wall-clock microseconds since the Unix epoch. The seconds field wraps
 * in 2036 (era 1, RFC 5905 section 6) as every RTCP peer's does; only differences of
 * compact values are ever used, so the wrap is harmless. */
static inline uint64_t mcu_ntp_from_unix_us(int64_t unix_us)
{
    int64_t s = unix_us / MCU_NTP_US_PER_S;
    int64_t us = unix_us % MCU_NTP_US_PER_S;
    if (us < 0) { /* floor for instants before 1970 */
        us += MCU_NTP_US_PER_S;
        s--;
    }
    uint32_t sec = (uint32_t)((uint64_t)s + MCU_NTP_UNIX_OFFSET_S);
    uint32_t frac = (uint32_t)(((uint64_t)us << 32) / MCU_NTP_US_PER_S);
    return (uint64_t)sec << 32 | frac;
}

/* The middle 32 bits (16.16 seconds): what LSR echoes. */
static inline uint32_t mcu_ntp_compact(uint64_t ntp) { return (uint32_t)(ntp >> 16); }

/* A duration in compact units (1/65536 s) as microseconds, rounded to nearest. */
static inline int64_t mcu_ntp_compact_to_us(uint32_t units)
{
    return (int64_t)(((uint64_t)units * MCU_NTP_US_PER_S + (1u << 15)) >> 16);
}

#endif
