#include "cpu.h"

#include <stdlib.h>

unsigned mcu_cpu_detect(void)
{
    unsigned flags = 0;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();   /* needed before __builtin_cpu_supports outside main's time */
    if (__builtin_cpu_supports("avx2"))
        flags |= MCU_CPU_AVX2;
#endif
    return flags;
}

unsigned mcu_cpu_flags(void)
{
    unsigned flags = mcu_cpu_detect();
    const char *s = getenv("MCU_CPU_MASK");
    if (!s || !*s)
        return flags;
    char *end;
    unsigned long mask = strtoul(s, &end, 0);
    if (*end != '\0')
        mask = 0;
    return flags & (unsigned)mask;
}
