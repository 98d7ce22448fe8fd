/*
 * cpu: the SIMD instruction sets this CPU has and the process may use, for the dsp
 * inits (mix_dsp now, the composer's kernels later) to pick their versions from. One
 * place reads the CPU and MCU_CPU_MASK, so every kernel family obeys the same switch.
 *
 * MCU_CPU_MASK (environment, read at each call: the inits run once per object, not per
 * sample): a mask of MCU_CPU_* flags ANDed with what the CPU has, decimal or 0x-hex.
 * MCU_CPU_MASK=0 forces every kernel family to its C reference (to compare speed, or to
 * tell whether a wrong output comes from a SIMD version). Unset or empty: everything the
 * CPU has. Not a number: 0, the safe reading of a switch meant to restrict.
 *
 * OWNERSHIP: no buffers, no state.
 */
#ifndef MCU_CPU_H
#define MCU_CPU_H

#define MCU_CPU_AVX2 (1u << 0)  /* x86-64 AVX2 with OS support for the ymm registers */

/* What the CPU has, ignoring MCU_CPU_MASK. */
unsigned mcu_cpu_detect(void);

/* What kernels may use: mcu_cpu_detect() & MCU_CPU_MASK. */
unsigned mcu_cpu_flags(void);

#endif
