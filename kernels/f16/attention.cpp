#include "attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "half8.h"

namespace edgevlm {
namespace f16 {

namespace {

constexpr int kQ = 8;       // queries per tile: the lanes of one H8
constexpr int kKeys = 16;   // keys per score block (16 accumulators)
constexpr int kDims = 16;   // output dims per PV pass (16 accumulators)
constexpr int kFlush = 64;  // keys summed in fp16 before the f32 flush

size_t align64(size_t x) { return (x + 63) / 64 * 64; }
int round_up(int x, int m) { return (x + m - 1) / m * m; }

struct Scratch {
    half *k;      // [n_pad / kKeys][d][kKeys]: each score block reads one contiguous run
    half *v;      // [n_pad][d]
    half *q;      // [d][kQ], pre-scaled
    half *s;      // [n_pad][kQ]: scores, then probabilities in place
    float *o;     // [d][kQ]
    float *mean;  // [d]: K's mean over the keys
};

Scratch carve(void *base, int n_pad, int d) {
    auto *b = static_cast<uint8_t *>(base);
    Scratch s;
    const size_t kv = align64((size_t)n_pad * d * sizeof(half));
    s.k = reinterpret_cast<half *>(b);
    s.v = reinterpret_cast<half *>(b + kv);
    s.q = reinterpret_cast<half *>(b + 2 * kv);
    s.s = reinterpret_cast<half *>(b + 2 * kv + align64((size_t)d * kQ * sizeof(half)));
    s.o = reinterpret_cast<float *>(b + 2 * kv + align64((size_t)d * kQ * sizeof(half)) +
                                    align64((size_t)n_pad * kQ * sizeof(half)));
    s.mean = s.o + (size_t)d * kQ;
    return s;
}

// K is centred on its mean over the keys: q . (k_j - mean) differs from q . k_j by the same amount for every
// key, which softmax cancels exactly, while the scores summed in fp16 get smaller (CLIP's keys share a large
// bias) and with them their rounding error.
void pack_kv(const AttentionProblem &p, int h, int n_pad, Scratch &s, float *mean) {
    const int d = p.d_head;
    std::fill(mean, mean + d, 0.0f);
    for (int j = 0; j < p.n_pos; ++j) {
        const float *kr = p.k + (size_t)j * p.ld + h * d;
        for (int c = 0; c < d; ++c) mean[c] += kr[c];
    }
    for (int c = 0; c < d; ++c) mean[c] /= (float)p.n_pos;
    for (int j = 0; j < n_pad; ++j) {
        half *kb = s.k + (size_t)(j / kKeys) * d * kKeys + j % kKeys, *vr = s.v + (size_t)j * d;
        if (j >= p.n_pos) {
            for (int c = 0; c < d; ++c) kb[c * kKeys] = vr[c] = to_half(0.0f);
            continue;
        }
        const float *kr = p.k + (size_t)j * p.ld + h * d, *vs = p.v + (size_t)j * p.ld + h * d;
        for (int c = 0; c < d; ++c) {
            kb[c * kKeys] = to_half(kr[c] - mean[c]);
            vr[c] = to_half(vs[c]);
        }
    }
}

void pack_q(const AttentionProblem &p, int h, int q0, Scratch &s) {
    for (int i = 0; i < kQ; ++i) {
        const bool valid = q0 + i < p.n_pos;
        const float *qr = p.q + (size_t)(q0 + i) * p.ld + h * p.d_head;
        for (int c = 0; c < p.d_head; ++c) s.q[c * kQ + i] = to_half(valid ? qr[c] * p.scale : 0.0f);
    }
}

#define EDGEVLM_LANES8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

// S^T for all keys of the tile; returns the per-query (lane) maximum over the real keys.
H8 scores(const Scratch &s, int n_kv, int n_pad, int d) {
    H8 mx = zero();
    bool first = true;
    for (int j0 = 0; j0 < n_pad; j0 += kKeys) {
        H8 acc[kKeys];
        for (auto &a : acc) a = zero();
        const half *kb = s.k + (size_t)(j0 / kKeys) * d * kKeys;
#pragma GCC unroll 4
        for (int c = 0; c < d; ++c) {
            const H8 q = load(s.q + c * kQ), k0 = load(kb + c * kKeys), k1 = load(kb + c * kKeys + 8);
#define EDGEVLM_QK(L)                             \
    acc[L] = fma_lane<L>(acc[L], q, k0);          \
    acc[8 + L] = fma_lane<L>(acc[8 + L], q, k1);
            EDGEVLM_LANES8(EDGEVLM_QK)
#undef EDGEVLM_QK
        }
        for (int j = 0; j < kKeys; ++j) {
            store(s.s + (size_t)(j0 + j) * kQ, acc[j]);
            if (j0 + j >= n_kv) continue;  // padding keys score 0: not part of the maximum
            mx = first ? acc[j] : max(mx, acc[j]);
            first = false;
        }
    }
    return mx;
}

#if EDGEVLM_F16_NEON
// exp(x) for x <= 0 in f32: 2^n * p(r), r = x - n ln2 in [-ln2/2, ln2/2], p of degree 5 (rel. error ~2e-6,
// far below the fp16 rounding of the result); below -87 the result is flushed towards 0 (fp16 rounds it to 0).
inline float32x4_t exp_nonpositive(float32x4_t x) {
    x = vmaxq_f32(x, vdupq_n_f32(-87.0f));
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504089f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));  // ln2 in two parts (Cody-Waite)
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t e = vdupq_n_f32(1.0f / 120);
    e = vfmaq_f32(vdupq_n_f32(1.0f / 24), e, r);
    e = vfmaq_f32(vdupq_n_f32(1.0f / 6), e, r);
    e = vfmaq_f32(vdupq_n_f32(0.5f), e, r);
    e = vfmaq_f32(vdupq_n_f32(1.0f), e, r);
    e = vfmaq_f32(vdupq_n_f32(1.0f), e, r);
    const int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(e, vreinterpretq_f32_s32(bits));
}

// Scores -> fp16 probabilities exp(s - max) in place; sum (f32, per query) into sum[kQ].
void softmax(Scratch &s, H8 mx, int n_kv, int n_pad, float *sum) {
    const float32x4_t mlo = vcvt_f32_f16(vget_low_f16(mx)), mhi = vcvt_high_f32_f16(mx);
    float32x4_t slo = vdupq_n_f32(0.0f), shi = vdupq_n_f32(0.0f);
    for (int j = 0; j < n_kv; ++j) {
        const float16x8_t v = vld1q_f16(s.s + (size_t)j * kQ);
        const float32x4_t lo = exp_nonpositive(vsubq_f32(vcvt_f32_f16(vget_low_f16(v)), mlo));
        const float32x4_t hi = exp_nonpositive(vsubq_f32(vcvt_high_f32_f16(v), mhi));
        slo = vaddq_f32(slo, lo);
        shi = vaddq_f32(shi, hi);
        vst1q_f16(s.s + (size_t)j * kQ, vcvt_high_f16_f32(vcvt_f16_f32(lo), hi));
    }
    for (int j = n_kv; j < n_pad; ++j) vst1q_f16(s.s + (size_t)j * kQ, vdupq_n_f16(0));
    vst1q_f32(sum, slo);
    vst1q_f32(sum + 4, shi);
}
#else
void softmax(Scratch &s, H8 mx, int n_kv, int n_pad, float *sum) {
    for (int i = 0; i < kQ; ++i) sum[i] = 0.0f;
    for (int j = 0; j < n_pad; ++j) {
        half *row = s.s + (size_t)j * kQ;
        for (int i = 0; i < kQ; ++i) {
            const float e = j < n_kv ? std::exp(to_float(row[i]) - mx.v[i]) : 0.0f;
            const half h = to_half(e);
            row[i] = h;
            sum[i] += e;
        }
    }
}
#endif

// O^T[d][query] = sum over keys of V[key][d] * P^T[key][query], in f32 (s.o).
void weighted_values(Scratch &s, int n_pad, int d) {
    std::fill(s.o, s.o + (size_t)d * kQ, 0.0f);
    for (int d0 = 0; d0 < d; d0 += kDims)
        for (int j0 = 0; j0 < n_pad; j0 += kFlush) {
            H8 acc[kDims];
            for (auto &a : acc) a = zero();
            const int j1 = std::min(n_pad, j0 + kFlush);
#pragma GCC unroll 4
            for (int j = j0; j < j1; ++j) {
                const H8 pj = load(s.s + (size_t)j * kQ);
                const half *vr = s.v + (size_t)j * d + d0;
                const H8 v0 = load(vr), v1 = load(vr + 8);
#define EDGEVLM_PV(L)                             \
    acc[L] = fma_lane<L>(acc[L], pj, v0);         \
    acc[8 + L] = fma_lane<L>(acc[8 + L], pj, v1);
                EDGEVLM_LANES8(EDGEVLM_PV)
#undef EDGEVLM_PV
            }
            for (int c = 0; c < kDims; ++c) add_to(s.o + (size_t)(d0 + c) * kQ, acc[c]);
        }
}

#undef EDGEVLM_LANES8

void write_out(const AttentionProblem &p, int h, int q0, const Scratch &s, const float *sum) {
    for (int i = 0; i < kQ && q0 + i < p.n_pos; ++i) {
        const float inv = sum[i] > 0.0f ? 1.0f / sum[i] : 0.0f;
        float *o = p.out + (size_t)(q0 + i) * p.ldo + h * p.d_head;
        for (int c = 0; c < p.d_head; ++c) o[c] = s.o[(size_t)c * kQ + i] * inv;
    }
}

}  // namespace

bool attention_supported(int d_head) { return d_head > 0 && d_head % kDims == 0; }

size_t attention_scratch_bytes(int n_pos, int d_head) {
    const int n_pad = round_up(n_pos, kKeys);
    return 2 * align64((size_t)n_pad * d_head * sizeof(half)) + align64((size_t)d_head * kQ * sizeof(half)) +
           align64((size_t)n_pad * kQ * sizeof(half)) + align64((size_t)d_head * (kQ + 1) * sizeof(float));
}

void attention(const AttentionProblem &p, int tid, int n_threads, void *scratch) {
    const int n_pad = round_up(p.n_pos, kKeys), tiles = (p.n_pos + kQ - 1) / kQ;
    const int items = p.n_head * tiles;
    // Contiguous (head, tile) ranges: a thread packs K and V once per head it touches.
    const int begin = (int)((int64_t)items * tid / n_threads), end = (int)((int64_t)items * (tid + 1) / n_threads);
    Scratch s = carve(scratch, n_pad, p.d_head);
    int packed_head = -1;
    float sum[kQ];
    for (int it = begin; it < end; ++it) {
        const int h = it / tiles, q0 = (it % tiles) * kQ;
        if (h != packed_head) {
            pack_kv(p, h, n_pad, s, s.mean);
            packed_head = h;
        }
        pack_q(p, h, q0, s);
        const H8 mx = scores(s, p.n_pos, n_pad, p.d_head);
        softmax(s, mx, p.n_pos, n_pad, sum);
        weighted_values(s, n_pad, p.d_head);
        write_out(p, h, q0, s, sum);
    }
}

}  // namespace f16
}  // namespace edgevlm
