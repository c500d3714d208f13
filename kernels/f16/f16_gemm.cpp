#include "f16_gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "half8.h"
#include "team.h"

namespace edgevlm {
namespace f16 {

namespace {

constexpr int kMR = 8;             // rows per register tile: the lanes of one H8 of A
constexpr int kChunkRows = 4 * kMR;  // rows packed at a time: a k-deep panel of W is reused by 4 tiles

size_t align64(size_t x) { return (x + 63) / 64 * 64; }

// Rows [r0, r0 + rows) of A as halves [tile][k][kMR], zero rows up to whole tiles.
void pack_a(const GemmProblem &p, int r0, int rows, half *dst) {
    const int padded = (rows + kMR - 1) / kMR * kMR;
    for (int t = 0; t < padded; t += kMR) {
        half *tile = dst + (size_t)t * p.k;
        for (int i = 0; i < kMR; ++i) {
            if (t + i >= rows) {
                for (int kk = 0; kk < p.k; ++kk) tile[(size_t)kk * kMR + i] = to_half(0.0f);
                continue;
            }
            const float *a = p.a + (size_t)(r0 + t + i) * p.lda;
            for (int kk = 0; kk < p.k; ++kk) tile[(size_t)kk * kMR + i] = to_half(a[kk]);
        }
    }
}

#define EDGEVLM_LANES8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

// One 8 x 16 tile over inputs [k0, k1): fp16 sums added into c32 ([8][16] f32).
inline void tile(const half *a, const half *b, int kc, float *c32) {
    H8 acc[kMR][2];
    for (auto &r : acc) r[0] = r[1] = zero();
#pragma GCC unroll 4
    for (int kk = 0; kk < kc; ++kk) {
        const H8 av = load(a + (size_t)kk * kMR), b0 = load(b + (size_t)kk * kPanel), b1 = load(b + (size_t)kk * kPanel + 8);
#define EDGEVLM_ROW(L)                             \
    acc[L][0] = fma_lane<L>(acc[L][0], b0, av);    \
    acc[L][1] = fma_lane<L>(acc[L][1], b1, av);
        EDGEVLM_LANES8(EDGEVLM_ROW)
#undef EDGEVLM_ROW
    }
    for (int i = 0; i < kMR; ++i) {
        add_to(c32 + i * kPanel, acc[i][0]);
        add_to(c32 + i * kPanel + 8, acc[i][1]);
    }
}

#undef EDGEVLM_LANES8

void pack_panel(const half *rows, int k, half *dst) {
    for (int kk = 0; kk < k; ++kk)
        for (int j = 0; j < kPanel; ++j) dst[(size_t)kk * kPanel + j] = rows[(size_t)j * k + kk];
}

}  // namespace

bool gemm_shape_supported(int64_t n, int64_t k) { return n > 0 && k > 0 && n % kPanel == 0; }

void repack(const void *w, int n, int k, void *dst) {
    const size_t panel = (size_t)kPanel * k;
    for (int p = 0; p < n / kPanel; ++p)
        pack_panel(static_cast<const half *>(w) + p * panel, k, static_cast<half *>(dst) + p * panel);
}

void repack_in_place(void *w, int n, int k) {
    // Panel p's packed values occupy exactly the bytes of its own 16 source rows.
    const size_t panel = (size_t)kPanel * k;
    std::vector<half> rows(panel);
    auto *base = static_cast<half *>(w);
    for (int p = 0; p < n / kPanel; ++p) {
        std::memcpy(rows.data(), base + p * panel, panel * sizeof(half));
        pack_panel(rows.data(), k, base + p * panel);
    }
}

size_t gemm_scratch_bytes(int k) { return align64((size_t)kChunkRows * k * sizeof(half)); }

void gemm(const GemmProblem &p, int tid, int n_threads, void *scratch) {
    const Range rows = split(p.m, n_threads, tid, kMR);
    half *a = static_cast<half *>(scratch);
    const half *w = static_cast<const half *>(p.w);
    alignas(64) float c32[kMR * kPanel];
    for (int r0 = rows.begin; r0 < rows.end; r0 += kChunkRows) {
        const int n_rows = std::min(kChunkRows, rows.end - r0);
        pack_a(p, r0, n_rows, a);
        for (int pn = 0; pn < p.n / kPanel; ++pn) {
            const half *panel = w + (size_t)pn * kPanel * p.k;
            for (int t = 0; t < n_rows; t += kMR) {
                std::fill(c32, c32 + kMR * kPanel, 0.0f);
                const half *at = a + (size_t)t * p.k;
                for (int k0 = 0; k0 < p.k; k0 += kKc)
                    tile(at + (size_t)k0 * kMR, panel + (size_t)k0 * kPanel, std::min(kKc, p.k - k0), c32);
                for (int i = 0; i < std::min(kMR, n_rows - t); ++i) {
                    float *c = p.c + (size_t)(r0 + t + i) * p.ldc + pn * kPanel;
                    const float *bias = p.bias ? p.bias + pn * kPanel : nullptr;
                    for (int j = 0; j < kPanel; ++j) c[j] = c32[i * kPanel + j] + (bias ? bias[j] : 0.0f);
                }
            }
        }
    }
}

}  // namespace f16
}  // namespace edgevlm
