#include "heap.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void mcu_heap_configure(void)
{
#if defined(__GLIBC__) && defined(M_MXFAST)
    (void)mallopt(M_MXFAST, 0); /* fastbins off (see heap.h); never fails for 0 */
#endif
}
