/*
 * heap: the process-wide allocator setting the daemon (and mcu-bench, which runs the
 * daemon's modules) makes once at start, before any thread.
 *
 * glibc keeps freed chunks of up to 128 bytes in "fastbins", and the next request of
 * about 1 KB or more first merges every one of them back into the heap
 * (malloc_consolidate). The decoders allocate and free both sizes all the time
 * (libavcodec's packets, side data and per-picture buffers), so in the 18-site scenario
 * malloc_consolidate and the chunk unlinking it causes were 1.4% of the daemon's CPU
 * (perf). With fastbins off, the per-thread tcache still serves the small sizes without
 * a lock; the throughput run (bench/pipeline.h) then used 1.5-2.7% less CPU per frame in
 * three interleaved pairs. Other C libraries are left as they are.
 *
 * OWNERSHIP: no state.
 */
#ifndef MCU_HEAP_H
#define MCU_HEAP_H

/* Call first thing in main. */
void mcu_heap_configure(void);

#endif
