#include "team.h"

#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define EDGEVLM_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define EDGEVLM_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define EDGEVLM_CPU_RELAX() ((void)0)
#endif

namespace edgevlm {

void Team::run(const std::function<void(int)> &fn) {
    std::vector<std::thread> workers;
    workers.reserve(n_ - 1);
    for (int t = 1; t < n_; ++t) workers.emplace_back(fn, t);
    fn(0);
    for (auto &w : workers) w.join();
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
