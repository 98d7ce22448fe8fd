/*
 * stage_clock: where the daemon's time goes, per stage of the data path, for the
 * statistics (/metrics) and the capacity benchmark (bench/).
 *
 *   receive     datagram callback: source check, SRTP/SRTCP unprotect, RTCP parsing
 *   jitter      jitter buffer, depacketizing, NACK generation, audio packets due
 *   decode      H.264 and Opus decoding (workers)
 *   compose     scaling every tile into the canvas, labels, borders (worker)
 *   mix         the audio mix and its mix-minus (worker)
 *   encode      the composite's one H.264 encode and the Opus encodes (workers)
 *   packetize   RTP packetizing of the composite and the audio, send history
 *   send        per receiver: SRTP protect and the send system call
 *
 * A stage is entered and left on one thread; stages nest (packetize calls send for each
 * receiver), and time is charged to the innermost stage only, so the totals add up and
 * never count a nanosecond twice. The long stages run on workers for milliseconds and
 * are measured in thread CPU time (a preempted worker is not charged for the wait); the
 * per-packet stages run on the loop for microseconds and are measured on the monotonic
 * clock, which costs ~25 ns a reading against ~400 ns for the thread CPU clock here (a
 * system call), ten readings per datagram would otherwise cost more than they measure.
 * What no stage covers (libuv, the kernel's receive path, timers, statistics) is the
 * process CPU time minus the sum of the stages.
 *
 * OWNERSHIP: process-wide totals (atomic, relaxed: they are statistics); the nesting
 * state is per thread. No buffers.
 */
#ifndef MCU_STAGE_CLOCK_H
#define MCU_STAGE_CLOCK_H

#include <stdint.h>

typedef enum mcu_stage {
    MCU_STAGE_RECEIVE,
    MCU_STAGE_JITTER,
    MCU_STAGE_DECODE,
    MCU_STAGE_COMPOSE,
    MCU_STAGE_MIX,
    MCU_STAGE_ENCODE,
    MCU_STAGE_PACKETIZE,
    MCU_STAGE_SEND,
    MCU_STAGE_COUNT
} mcu_stage_t;

/* Stages one thread may nest: packetize > send is the deepest the daemon goes; a deeper
 * enter is charged to the stage it interrupts (counted, never corrupting). */
#define MCU_STAGE_MAX_DEPTH 4

/* Starts charging this thread's time to `stage` (pausing the stage it was in). */
void mcu_stage_enter(mcu_stage_t stage);
/* Stops charging the innermost stage; the one it interrupted resumes. */
void mcu_stage_leave(void);

/* Nanoseconds charged to each stage since the start of the process. */
void mcu_stage_totals(uint64_t ns[MCU_STAGE_COUNT]);
/* "receive", "jitter", ...: stable names for metrics labels and reports. */
const char *mcu_stage_name(mcu_stage_t stage);

#endif
