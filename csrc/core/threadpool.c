/* threadpool.c - see threadpool.h.
 *
 * One job at a time.  The caller that wins the `busy` flag writes the job
 * (fn, ctx, n) and then publishes, under the mutex, one atomic word `claim`
 * = (job number, threads taking part, parts, next part).  Every thread -- the caller too -- takes
 * parts by compare-and-swap on that word until none is left, runs them and
 * counts them in `done`; the caller returns when `done` reaches the number
 * of parts.  A part taken guarantees its job is not over, so the job's
 * fields are stable while it runs; a worker that wakes late finds the job
 * number changed or no part left and goes back to waiting.  The caller
 * never waits for a worker that has not started, and a worker descheduled
 * by another process delays the job by one part at most (there are 4 per
 * thread), where a static split would wait for its whole half.
 *
 * Workers spin briefly after a job (a training step runs dozens of them
 * back to back) and then sleep on the condition variable, so that an idle
 * pool leaves the CPUs to other processes.  After fork() the child has
 * no workers: an atfork handler resets the pool, which restarts them on
 * first use. */
#define _GNU_SOURCE
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* pause iterations a worker spins before sleeping: since the GEMMs run on the
 * pool (blas.c), a worker that sleeps between two GEMMs of a dense step costs
 * a wake-up (bench/README.md, "Worker spin"). */
#define WORKER_SPIN 3000

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static atomic_int pool_busy;               /* a caller holds the pool */
static atomic_int pool_want;               /* threads wanted (0 = not decided yet) */
static int pool_workers;                   /* workers started (threads - 1) */
static int pool_sleepers;                  /* workers waiting on pool_cv (under pool_mu) */
static _Atomic uint64_t pool_claim;        /* job number << 32 | threads << 24 | parts << 12 | next part */
static atomic_int pool_done;               /* parts of the current job finished */
static int pool_atfork_set;
static unsigned worker_gen0[TL_POOL_MAX + 1];
/* the current job, written by the caller before pool_claim changes */
static tl_range_fn job_fn;
static void *job_ctx;
static int64_t job_n;

#define CLAIM_GEN(v) ((unsigned)((v) >> 32))
#define CLAIM_THREADS(v) ((int)(((v) >> 24) & 0xFF))
#define CLAIM_PARTS(v) ((int)(((v) >> 12) & 0xFFF))
#define CLAIM_NEXT(v) ((int)((v) & 0xFFF))
#define PARTS_PER_THREAD 4

static void part_range(int64_t n, int parts, int k, int64_t *lo, int64_t *hi) {
    *lo = n * k / parts;
    *hi = n * (k + 1) / parts;
}

/* Take and run parts of job `gen` until none is left. */
static void run_parts(unsigned gen) {
    for (;;) {
        uint64_t v = atomic_load_explicit(&pool_claim, memory_order_acquire);
        do {
            if (CLAIM_GEN(v) != gen || CLAIM_NEXT(v) >= CLAIM_PARTS(v)) return;
        } while (!atomic_compare_exchange_weak_explicit(&pool_claim, &v, v + 1, memory_order_acq_rel,
                                                        memory_order_acquire));
        int64_t lo, hi;
        part_range(job_n, CLAIM_PARTS(v), CLAIM_NEXT(v), &lo, &hi);
        if (hi > lo) job_fn(job_ctx, lo, hi);
        atomic_fetch_add_explicit(&pool_done, 1, memory_order_release);
    }
}

static void *worker_main(void *arg) {
    const int idx = (int)(intptr_t)arg;
    unsigned seen = worker_gen0[idx]; /* the job number when it was created */
    for (;;) {
        uint64_t v;
        int spins = 0;
        while (CLAIM_GEN(v = atomic_load_explicit(&pool_claim, memory_order_acquire)) == seen) {
            if (++spins < WORKER_SPIN) {
                CPU_RELAX();
                continue;
            }
            pthread_mutex_lock(&pool_mu);
            pool_sleepers++;
            while (CLAIM_GEN(v = atomic_load_explicit(&pool_claim, memory_order_acquire)) == seen)
                pthread_cond_wait(&pool_cv, &pool_mu);
            pool_sleepers--;
            pthread_mutex_unlock(&pool_mu);
            break;
        }
        seen = CLAIM_GEN(v);
        /* workers beyond the threads asked for (tl_set_num_threads lowered
         * after they started) sit the job out */
        if (idx < CLAIM_THREADS(v)) run_parts(seen);
    }
    return NULL;
}

/* The CPUs this process may run on, read once (sched_getaffinity is a system
 * call, and tl_parallel_for asks on every loop: 1-2 us a step of a small
 * MLP) and again in a forked child, whose affinity may differ. */
static atomic_int pool_cpus;

static int cpus_available(void) {
    int n = atomic_load_explicit(&pool_cpus, memory_order_relaxed);
    if (n) return n;
    cpu_set_t set;
    n = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n < 1) n = 1;
    n = n > TL_POOL_MAX ? TL_POOL_MAX : n;
    atomic_store_explicit(&pool_cpus, n, memory_order_relaxed);
    return n;
}

static void atfork_child(void) {
    /* the workers did not survive the fork; the locks may be held by them */
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    pool_mu = m;
    pool_cv = c;
    pool_workers = 0;
    pool_sleepers = 0;
    atomic_store(&pool_cpus, 0);
    atomic_store(&pool_done, 0);
    atomic_store(&pool_busy, 0);
}

/* Called with pool_busy held: start workers up to want - 1. */
static void start_workers(int want) {
    if (!pool_atfork_set) {
        if (pthread_atfork(NULL, NULL, atfork_child) != 0) return; /* stay serial */
        pool_atfork_set = 1;
    }
    while (pool_workers < want - 1) {
        pthread_t t;
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) != 0) return;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        /* the worker waits for the job after the current number, even if
         * it first runs after the next job was published */
        worker_gen0[pool_workers + 1] = CLAIM_GEN(atomic_load(&pool_claim));
        int rc = pthread_create(&t, &attr, worker_main, (void *)(intptr_t)(pool_workers + 1));
        pthread_attr_destroy(&attr);
        if (rc != 0) return;
        pool_workers++;
    }
}

int tl_num_threads(void) {
    int w = atomic_load(&pool_want);
    return w ? w : cpus_available();
}

int tl_set_num_threads(int n) {
    if (n < 1) n = 1;
    if (n > TL_POOL_MAX) n = TL_POOL_MAX;
    atomic_store(&pool_want, n);
    return n;
}

void tl_parallel_for(int64_t n, int64_t grain, tl_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int64_t most = n / grain;
    if (most < 2) { /* too small to share: not even the thread count is asked */
        fn(ctx, 0, n);
        return;
    }
    int threads = tl_num_threads();
    if (threads < 2) {
        fn(ctx, 0, n);
        return;
    }
    int expected = 0;
    if (!atomic_compare_exchange_strong(&pool_busy, &expected, 1)) {
        fn(ctx, 0, n); /* another network is using the pool */
        return;
    }
    if (pool_workers < threads - 1) start_workers(threads);
    const int used = threads < pool_workers + 1 ? threads : pool_workers + 1; /* threads taking part */
    const int parts = most < (int64_t)used * PARTS_PER_THREAD ? (int)most : used * PARTS_PER_THREAD;
    if (parts < 2 || pool_workers == 0) {
        atomic_store(&pool_busy, 0);
        fn(ctx, 0, n);
        return;
    }
    job_fn = fn;
    job_ctx = ctx;
    job_n = n;
    atomic_store_explicit(&pool_done, 0, memory_order_relaxed);
    const unsigned gen = CLAIM_GEN(atomic_load_explicit(&pool_claim, memory_order_relaxed)) + 1;
    pthread_mutex_lock(&pool_mu);
    atomic_store_explicit(&pool_claim, (uint64_t)gen << 32 | (uint64_t)used << 24 | (uint64_t)parts << 12,
                          memory_order_release);
    if (pool_sleepers) pthread_cond_broadcast(&pool_cv);
    pthread_mutex_unlock(&pool_mu);

    run_parts(gen);
    for (long spins = 0; atomic_load_explicit(&pool_done, memory_order_acquire) < parts; spins++) {
        if (spins < 20000)
            CPU_RELAX();
        else
            sched_yield();
    }
    atomic_store(&pool_busy, 0);
}
