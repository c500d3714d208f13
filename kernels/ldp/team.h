// A team of threads that runs one function on every member, with a barrier between the stages of a
// forward pass. Spawning once per forward (not per stage) keeps the cost to one thread start per call.
#pragma once

#include <atomic>
#include <functional>

namespace edgevlm {

class Team {
public:
    explicit Team(int n_threads) : n_(n_threads < 1 ? 1 : n_threads) {}
    int size() const { return n_; }

    // Runs fn(tid) on n threads (tid 0 on the caller) and returns when all are done.
    void run(const std::function<void(int)> &fn);

    // Every member must call it; returns once all have arrived.
    void barrier();

private:
    int n_;
    std::atomic<int> arrived_{0};
    std::atomic<int> phase_{0};
};

// The [begin, end) share of `n` items for member `idx` of `parts`, in multiples of `align`.
struct Range {
    int begin, end;
    int size() const { return end - begin; }
};
Range split(int n, int parts, int idx, int align = 1);

}  // namespace edgevlm
