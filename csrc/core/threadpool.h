/* threadpool.h - a small fork-safe thread pool, the core's only threads: it
 * runs the chunks of a convolution (each with its lowering and one-thread
 * GEMMs), the blocks of a large GEMM (blas.c) and the loops around them
 * (pooling, activations).  A part that calls tl_parallel_for again runs that
 * loop inline (the pool is busy).
 *
 * tl_parallel_for runs fn(ctx, lo, hi) over contiguous parts of [0, n) (up
 * to 4 per thread, none smaller than grain), which the calling thread and
 * the workers take as they come, and returns when all parts are done; the
 * parts depend on n, grain and the thread count only, so a kernel that
 * writes each index from one part computes the same bits on any thread.  It runs fn(ctx, 0, n) inline when the pool has one thread,
 * when n is below 2 * grain, or when another thread is using the pool (two
 * networks training in two Python threads share it without waiting).  fn must
 * write disjoint memory for disjoint ranges.  No allocation after the first
 * use; a failure to start the threads leaves the pool serial, never an error. */
#ifndef TL_POOL_H
#define TL_POOL_H
#include <stdint.h>

#include "tl.h" /* TL_MAX_THREADS */

typedef void (*tl_range_fn)(void *ctx, int64_t lo, int64_t hi);

void tl_parallel_for(int64_t n, int64_t grain, tl_range_fn fn, void *ctx);

/* The grain rule of every parallel loop of the core: a part touches at least
 * TL_GRAIN_FLOATS floats, so that it is worth waking a thread for (a loop over
 * items of f floats each passes a grain of TL_GRAIN_FLOATS / f items). */
#define TL_GRAIN_FLOATS 16384

/* Items per part of a loop whose items are `floats` floats each (the rule above). */
static inline int64_t tl_grain_of(int64_t floats) {
    return floats >= TL_GRAIN_FLOATS ? 1 : TL_GRAIN_FLOATS / (floats > 0 ? floats : 1);
}

/* Threads used by tl_parallel_for (1 = serial).  The default is the number of
 * CPUs this process may run on (read at first use, and again after fork), at
 * most TL_POOL_MAX.  Setting it joins no thread: extra threads stay asleep; it
 * returns the value in effect. */
#define TL_POOL_MAX TL_MAX_THREADS
int tl_set_num_threads(int n);
int tl_num_threads(void);

#endif
