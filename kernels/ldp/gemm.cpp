#include "gemm.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "ops.h"
#include "q8_gemm.h"
#include "simd.h"
#include "team.h"

namespace edgevlm {

using simd::Isa;
using simd::kMR;
using simd::kNR;

namespace {

#ifndef EDGEVLM_GEMM_KC
#define EDGEVLM_GEMM_KC 512
#endif
constexpr int kKC = EDGEVLM_GEMM_KC;  // depth of a slice (measured: 512 beats 128/256, ties 1024/2048)

int round_up(int x, int m) { return (x + m - 1) / m * m; }

// One kMR x kNR tile: c (row stride ldc) = [c +] sum_k a[k][i] * b[k][j], A and B packed.
void micro_kernel(int kc, const float *ap, const float *bp, float *c, int ldc, bool accumulate) {
    typename Isa::V acc[kMR][Isa::NV];
#pragma GCC unroll 16
    for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < Isa::NV; ++j)
            acc[i][j] = accumulate ? Isa::load(c + (size_t)i * ldc + j * Isa::L) : Isa::zero();
    for (int k = 0; k < kc; ++k) {
        typename Isa::V b[Isa::NV];
#pragma GCC unroll 4
        for (int j = 0; j < Isa::NV; ++j) b[j] = Isa::load(bp + k * kNR + j * Isa::L);
#pragma GCC unroll 16
        for (int i = 0; i < kMR; ++i) {
            const typename Isa::V a = Isa::set1(ap[k * kMR + i]);
#pragma GCC unroll 4
            for (int j = 0; j < Isa::NV; ++j) acc[i][j] = Isa::fma(a, b[j], acc[i][j]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < Isa::NV; ++j) Isa::store(c + (size_t)i * ldc + j * Isa::L, acc[i][j]);
}

// Rows [m0, m1) x inputs [k0, k0 + kc) of A into [tile][k][kMR], zero-padded rows, optional column scale.
void pack_a(const GemmArgs &g, int m0, int m1, int k0, int kc, float *dst) {
    for (int t0 = m0; t0 < m1; t0 += kMR) {
        for (int i = 0; i < kMR; ++i) {
            const int row = t0 + i;
            float *d = dst + i;
            if (row >= m1) {
                for (int k = 0; k < kc; ++k) d[k * kMR] = 0.0f;
                continue;
            }
            const float *s = g.a + (size_t)row * g.lda + k0;
            if (g.a_colscale) {
                const float *cs = g.a_colscale + k0;
                for (int k = 0; k < kc; ++k) d[k * kMR] = s[k] * cs[k];
            } else {
                for (int k = 0; k < kc; ++k) d[k * kMR] = s[k];
            }
        }
        dst += (size_t)kMR * kc;
    }
}

void widen_f16(const uint16_t *src, int count, float *dst) {
    for (int i = 0; i < count; i += Isa::L) Isa::store(dst + i, Isa::load_f16(src + i));
}

// Bias and activation on a finished tile while it is still in L1.
void epilogue(const GemmArgs &g, float *c, int rows, int n0, int cols) {
    for (int i = 0; i < rows; ++i) {
        float *row = c + (size_t)i * g.ldc;
        if (g.bias) add_inplace(row, g.bias + n0, cols);
        if (g.act == Act::Gelu) gelu_inplace(row, cols);
    }
}

}  // namespace

int PackedWeights::panel_width() { return kNR; }

PackedWeights::PackedWeights(const void *w, Dtype dtype, int n, int k)
    : n_(n), k_(k), panels_((n + kNR - 1) / kNR), dtype_(dtype) {
    if (dtype == Dtype::Q8_0) {
        if (!q8::shape_supported(n, k))
            throw std::invalid_argument("Q8_0 matrices need outputs in multiples of 16 and inputs in multiples of 32, got " +
                                        std::to_string(n) + " x " + std::to_string(k));
        q8_.resize((size_t)n * (k / q8::kBlock) * q8::kBlockBytes);
        q8::repack(w, n, k, q8_.data());
        return;
    }
    const size_t total = (size_t)panels_ * k * kNR;
    if (dtype == Dtype::F32) f32_.assign(total, 0.0f);
    else f16_.assign(total, 0);
    for (int row = 0; row < n; ++row) {
        const size_t base = (size_t)(row / kNR) * k * kNR + row % kNR;
        if (dtype == Dtype::F32) {
            const float *src = static_cast<const float *>(w) + (size_t)row * k;
            for (int kk = 0; kk < k; ++kk) f32_[base + (size_t)kk * kNR] = src[kk];
        } else {
            const uint16_t *src = static_cast<const uint16_t *>(w) + (size_t)row * k;
            for (int kk = 0; kk < k; ++kk) f16_[base + (size_t)kk * kNR] = src[kk];
        }
    }
}

namespace {

template <class T>
void pack_panels_in_place(T *w, int n, int k) {
    // Panel p's packed values ([k][kNR]) occupy exactly the bytes of its own kNR source rows.
    std::vector<T> rows((size_t)kNR * k);
    for (int p = 0; p < n / kNR; ++p) {
        T *panel = w + (size_t)p * kNR * k;
        std::copy(panel, panel + rows.size(), rows.begin());
        for (int j = 0; j < kNR; ++j)
            for (int kk = 0; kk < k; ++kk) panel[(size_t)kk * kNR + j] = rows[(size_t)j * k + kk];
    }
}

}  // namespace

PackedWeights PackedWeights::pack_in_place(void *w, Dtype dtype, int n, int k) {
    if (!packs_in_place(n) || k <= 0 || dtype == Dtype::Q8_0)
        throw std::invalid_argument("pack_in_place needs an f32/f16 matrix of whole panels of " +
                                    std::to_string(panel_width()) + " rows, got " + std::to_string(n));
    if (dtype == Dtype::F32) pack_panels_in_place(static_cast<float *>(w), n, k);
    else pack_panels_in_place(static_cast<uint16_t *>(w), n, k);
    PackedWeights v;
    v.n_ = n;
    v.k_ = k;
    v.panels_ = n / kNR;
    v.dtype_ = dtype;
    v.external_ = w;
    return v;
}

size_t gemm_scratch_floats(int m, int k) {
    const size_t f = (size_t)round_up(m, kMR) * kKC + (size_t)kKC * kNR + (size_t)kMR * kNR;
    return std::max(f, (q8::scratch_bytes(round_up(k, q8::kBlock)) + 3) / 4);
}

void gemm(const PackedWeights &w, const GemmArgs &g, int tid, int n_threads, float *scratch) {
    if (w.dtype() == Dtype::Q8_0) {
        q8::Problem p{g.a, g.m, g.lda, w.q8_packed(), w.n(), w.k(), g.bias, g.c, g.ldc, g.a_colscale, g.act == Act::Gelu};
        q8::gemm(p, tid, n_threads, scratch);
        return;
    }
    // Split output panels when there are enough of them (each thread then reads only its part of W);
    // otherwise split rows.
    const bool by_panels = w.panels() >= 2 * n_threads;
    const Range pr = by_panels ? split(w.panels(), n_threads, tid) : Range{0, w.panels()};
    const Range mr = by_panels ? Range{0, g.m} : split(g.m, n_threads, tid, kMR);
    if (pr.size() <= 0 || mr.size() <= 0) return;

    float *apack = scratch;
    float *bwide = apack + (size_t)round_up(g.m, kMR) * kKC;
    float *tile = bwide + (size_t)kKC * kNR;
    const int K = w.k();

    for (int k0 = 0; k0 < K; k0 += kKC) {
        const int kc = std::min(kKC, K - k0);
        const bool first = k0 == 0, last = k0 + kc == K;
        pack_a(g, mr.begin, mr.end, k0, kc, apack);
        for (int p = pr.begin; p < pr.end; ++p) {
            const float *bp;
            if (w.dtype() == Dtype::F32) {
                bp = w.panel_f32(p) + (size_t)k0 * kNR;
            } else {
                widen_f16(w.panel_f16(p) + (size_t)k0 * kNR, kc * kNR, bwide);
                bp = bwide;
            }
            const int n0 = p * kNR, cols = std::min(kNR, w.n() - n0);
            for (int m0 = mr.begin; m0 < mr.end; m0 += kMR) {
                const int rows = std::min(kMR, mr.end - m0);
                const float *ap = apack + (size_t)(m0 - mr.begin) * kc;
                float *c = g.c + (size_t)m0 * g.ldc + n0;
                if (rows == kMR && cols == kNR) {
                    micro_kernel(kc, ap, bp, c, g.ldc, !first);
                } else {  // edge tile: compute in a full-size buffer, copy the valid part
                    for (int i = 0; i < kMR; ++i)
                        for (int j = 0; j < kNR; ++j)
                            tile[i * kNR + j] = (!first && i < rows && j < cols) ? c[(size_t)i * g.ldc + j] : 0.0f;
                    micro_kernel(kc, ap, bp, tile, kNR, !first);
                    for (int i = 0; i < rows; ++i) std::memcpy(c + (size_t)i * g.ldc, tile + i * kNR, cols * sizeof(float));
                }
                if (last) epilogue(g, c, rows, n0, cols);
            }
        }
    }
}

}  // namespace edgevlm
