#include "team.h"

#include <thread>
#include <vector>

#if defined(EDGEVLM_USE_OPENMP)
#include <omp.h>
#endif

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define EDGEVLM_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define EDGEVLM_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define EDGEVLM_CPU_RELAX() ((void)0)
#endif

namespace edgevlm {

namespace {

void run_on_new_threads(int n, const std::function<void(int)> &fn) {
    std::vector<std::thread> workers;
    workers.reserve(n - 1);
    for (int t = 1; t < n; ++t) workers.emplace_back(fn, t);
    fn(0);
    for (auto &w : workers) w.join();
}

}  // namespace

void Team::run(const std::function<void(int)> &fn) {
#if defined(EDGEVLM_USE_OPENMP)
    // ggml-cpu runs its graphs on OpenMP's pool in this build, and those workers keep spinning for a while
    // after each graph (the ViT's, right before the projector): fresh threads would share the cores with
    // them (measured: the projector 33 ms after the ViT vs 23 ms alone). Running on the same pool hands the
    // work to the spinning workers instead. The barrier needs exactly n members: when OpenMP grants fewer
    // (nested region, thread limit) nobody starts and the team falls back to its own threads.
    bool ran = false;
    if (n_ > 1 && !omp_in_parallel()) {
#pragma omp parallel num_threads(n_)
        if (omp_get_num_threads() == n_) {
            fn(omp_get_thread_num());
            if (omp_get_thread_num() == 0) ran = true;
        }
    }
    if (!ran) run_on_new_threads(n_, fn);
#else
    run_on_new_threads(n_, fn);
#endif
}

void Team::barrier() {
    if (n_ == 1) return;
    const int phase = phase_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == n_ - 1) {
        arrived_.store(0, std::memory_order_relaxed);
        phase_.store(phase + 1, std::memory_order_release);
        return;
    }
    // Stages are milliseconds long: spin briefly, then yield so an oversubscribed machine still progresses.
    for (int spins = 0; phase_.load(std::memory_order_acquire) == phase; ++spins) {
        if (spins < 4096) EDGEVLM_CPU_RELAX();
        else std::this_thread::yield();
    }
}

Range split(int n, int parts, int idx, int align) {
    const int units = (n + align - 1) / align;
    const int base = units / parts, extra = units % parts;
    const int ub = idx * base + (idx < extra ? idx : extra);
    const int ue = ub + base + (idx < extra ? 1 : 0);
    const int b = ub * align, e = ue * align;
    return {b < n ? b : n, e < n ? e : n};
}

}  // namespace edgevlm
