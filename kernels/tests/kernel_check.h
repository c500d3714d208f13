// What the C++ kernel tests share: seeded Gaussian inputs, checks by normalised mean squared error
// (sum (out - ref)^2 / sum ref^2, as llama.cpp's test-backend-ops does), a real thread team, and the failure
// count that becomes the exit code.
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "team.h"

namespace edgevlm {
namespace check {

inline int &failures() {
    static int n = 0;
    return n;
}

inline std::mt19937 &rng() {
    static std::mt19937 r(1234);  // fixed: every run sees the same inputs
    return r;
}

inline std::vector<float> randn(size_t n, float scale, float offset = 0.0f) {
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto &x : v) x = offset + scale * d(rng());
    return v;
}

inline double gelu_ref(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

// out holds rows of `cols` values `ldc` apart (both 0: one dense row of ref.size()); ref is dense.
inline double nmse(const float *out, const std::vector<double> &ref, size_t cols = 0, size_t ldc = 0) {
    if (cols == 0) cols = ldc = ref.size();
    double num = 0, den = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        const double d = out[(i / cols) * ldc + i % cols] - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    return den > 0 ? num / den : num;
}

inline void expect(bool cond, const std::string &name) {
    std::printf("  %-60s %s\n", name.c_str(), cond ? "OK" : "FAIL");
    if (!cond) ++failures();
}

inline void expect_nmse(const std::string &name, const float *out, const std::vector<double> &ref, double tol,
                        size_t cols = 0, size_t ldc = 0) {
    const double e = nmse(out, ref, cols, ldc);
    const bool ok = std::isfinite(e) && e <= tol;
    std::printf("  %-60s nmse=%.3e (<= %.0e) %s\n", name.c_str(), e, tol, ok ? "OK" : "FAIL");
    if (!ok) ++failures();
}

// Runs fn(tid, n) on a real team of n threads.
inline void on_team(int n, const std::function<void(int, int)> &fn) {
    Team team(n);
    team.run([&](int tid) { fn(tid, n); });
}

// Prints the count; the exit code is 0 only without failures.
inline int finish() {
    std::printf("%d failure(s)\n", failures());
    return failures() == 0 ? 0 : 1;
}

}  // namespace check
}  // namespace edgevlm
