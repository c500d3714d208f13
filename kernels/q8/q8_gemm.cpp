#include "q8_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "edgevlm.h"
#include "ops.h"   // gelu_inplace
#include "simd.h"  // half_to_float
#include "team.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#define EDGEVLM_Q8_VNNI 1
#include <immintrin.h>
#elif defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#define EDGEVLM_Q8_SDOT 1
#include <arm_neon.h>
#endif

namespace edgevlm {
namespace q8 {

namespace {

#if EDGEVLM_Q8_VNNI
constexpr int kMR = 12;          // 12 int32 + 12 float accumulators + weights + scales: 26 of 32 zmm
constexpr int kOffset = 128;     // weights stored as unsigned (w + 128) for vpdpbusd
#else
constexpr int kMR = 4;           // sdot: 4 rows x 2 vectors x (int32 + float) + 8 activation vectors
constexpr int kOffset = 0;
#endif
constexpr int kChunk = 8 * kMR;  // rows quantized at a time: their int8 copy (<= 8 * 12 * 4 KiB) stays in L2
constexpr size_t kPanelBlockBytes = kPanel * kBlockBytes;  // 544: 32 bytes of scales + 512 of values
constexpr size_t kScaleBytes = kPanel * 2;

size_t align64(size_t x) { return (x + 63) / 64 * 64; }

// A chunk of quantized rows: values [row][k], scales and (128 x) block sums [row][k / 32], and one float row
// for scaling a row of A before it is quantized.
struct QRows {
    int8_t *q;
    float *d;
    int32_t *s;
    float *scaled;
    int k, nb;
};

QRows carve(void *scratch, int k) {
    const size_t nb = (size_t)k / kBlock, q_bytes = align64((size_t)kChunk * k), v_bytes = align64(kChunk * nb * 4);
    auto *base = static_cast<uint8_t *>(scratch);
    QRows r;
    r.k = k;
    r.nb = (int)nb;
    r.q = reinterpret_cast<int8_t *>(base);
    r.d = reinterpret_cast<float *>(base + q_bytes);
    r.s = reinterpret_cast<int32_t *>(base + q_bytes + v_bytes);
    r.scaled = reinterpret_cast<float *>(base + q_bytes + 2 * v_bytes);
    return r;
}

// One 32-block: scale amax / 127, values rounded to nearest, and kOffset x their sum.
void quantize_block(const float *x, int8_t *q, float *d, int32_t *s) {
#if EDGEVLM_Q8_VNNI
    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    const __m512 id = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
    const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, id)), i1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, id));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(q), _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(q + 16), _mm512_cvtsepi32_epi8(i1));
    *d = amax / 127.0f;
    *s = kOffset * _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
#elif EDGEVLM_Q8_SDOT
    float32x4_t v[8], m = vdupq_n_f32(0.0f);
    for (int j = 0; j < 8; ++j) m = vmaxq_f32(m, vabsq_f32(v[j] = vld1q_f32(x + 4 * j)));
    const float amax = vmaxvq_f32(m), id = amax > 0.0f ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    for (int j = 0; j < 8; j += 2) {
        const int32x4_t a = vcvtnq_s32_f32(vmulq_n_f32(v[j], id)), b = vcvtnq_s32_f32(vmulq_n_f32(v[j + 1], id));
        sum += vaddvq_s32(vaddq_s32(a, b));
        vst1_s8(q + 4 * j, vqmovn_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b))));
    }
    *d = amax / 127.0f;
    *s = kOffset * sum;
#else
    float amax = 0.0f;
    for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    for (int j = 0; j < kBlock; ++j) {
        const int v = (int)std::nearbyint(x[j] * id);
        q[j] = (int8_t)v;
        sum += v;
    }
    *d = amax / 127.0f;
    *s = kOffset * sum;
#endif
}

// Rows [r0, r0 + rows) of A into the chunk, zero rows up to a whole number of tiles.
void quantize_rows(const Problem &p, int r0, int rows, QRows &qr) {
    const int padded = (rows + kMR - 1) / kMR * kMR;
    for (int i = 0; i < padded; ++i) {
        int8_t *q = qr.q + (size_t)i * qr.k;
        float *d = qr.d + (size_t)i * qr.nb;
        int32_t *s = qr.s + (size_t)i * qr.nb;
        if (i >= rows) {
            std::memset(q, 0, qr.k);
            std::fill(d, d + qr.nb, 0.0f);
            std::fill(s, s + qr.nb, 0);
            continue;
        }
        const float *x = p.a + (size_t)(r0 + i) * p.lda;
        if (p.a_colscale) {
            for (int j = 0; j < qr.k; ++j) qr.scaled[j] = x[j] * p.a_colscale[j];
            x = qr.scaled;
        }
        for (int b = 0; b < qr.nb; ++b) quantize_block(x + b * kBlock, q + b * kBlock, d + b, s + b);
    }
}

#if EDGEVLM_Q8_VNNI
// kMR rows x 16 columns over all blocks of one panel.
void tile(const QRows &a, int i0, const uint8_t *panel, float out[kMR][kPanel]) {
    __m512 acc[kMR];
    for (int i = 0; i < kMR; ++i) acc[i] = _mm512_setzero_ps();
    for (int b = 0; b < a.nb; ++b) {
        const uint8_t *blk = panel + (size_t)b * kPanelBlockBytes;
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(blk)));
        __m512i dot[kMR];
        for (int i = 0; i < kMR; ++i) dot[i] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
            const __m512i w = _mm512_loadu_si512(blk + kScaleBytes + g * 64);
#pragma GCC unroll 12
            for (int i = 0; i < kMR; ++i) {
                int32_t a4;
                std::memcpy(&a4, a.q + (size_t)(i0 + i) * a.k + b * kBlock + g * 4, 4);
                dot[i] = _mm512_dpbusd_epi32(dot[i], w, _mm512_set1_epi32(a4));
            }
        }
#pragma GCC unroll 12
        for (int i = 0; i < kMR; ++i) {
            const size_t ib = (size_t)(i0 + i) * a.nb + b;
            const __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(dot[i], _mm512_set1_epi32(a.s[ib])));
            acc[i] = _mm512_fmadd_ps(v, _mm512_mul_ps(dw, _mm512_set1_ps(a.d[ib])), acc[i]);
        }
    }
    for (int i = 0; i < kMR; ++i) _mm512_storeu_ps(out[i], acc[i]);
}
#elif EDGEVLM_Q8_SDOT
// One group g of 4 inputs for 8 columns (half h of the panel): sdot by lane of the activation vector.
#define EDGEVLM_SDOT_GROUP(g)                                                                 \
    {                                                                                         \
        const int8x16_t w0 = vld1q_s8(vals + (g) * 64 + h * 32), w1 = vld1q_s8(vals + (g) * 64 + h * 32 + 16); \
        for (int i = 0; i < kMR; ++i) {                                                       \
            dot[i][0] = vdotq_laneq_s32(dot[i][0], w0, av[i][(g) / 4], (g) % 4);              \
            dot[i][1] = vdotq_laneq_s32(dot[i][1], w1, av[i][(g) / 4], (g) % 4);              \
        }                                                                                     \
    }

void tile(const QRows &a, int i0, const uint8_t *panel, float out[kMR][kPanel]) {
    for (int h = 0; h < 2; ++h) {
        float32x4_t acc[kMR][2];
        for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = vdupq_n_f32(0.0f);
        for (int b = 0; b < a.nb; ++b) {
            const uint8_t *blk = panel + (size_t)b * kPanelBlockBytes;
            const float16x8_t dwh = vld1q_f16(reinterpret_cast<const __fp16 *>(blk) + h * 8);
            const float32x4_t dw0 = vcvt_f32_f16(vget_low_f16(dwh)), dw1 = vcvt_high_f32_f16(dwh);
            const int8_t *vals = reinterpret_cast<const int8_t *>(blk + kScaleBytes);
            int8x16_t av[kMR][2];
            int32x4_t dot[kMR][2];
            for (int i = 0; i < kMR; ++i) {
                const int8_t *q = a.q + (size_t)(i0 + i) * a.k + b * kBlock;
                av[i][0] = vld1q_s8(q);
                av[i][1] = vld1q_s8(q + 16);
                dot[i][0] = dot[i][1] = vdupq_n_s32(0);
            }
            EDGEVLM_SDOT_GROUP(0) EDGEVLM_SDOT_GROUP(1) EDGEVLM_SDOT_GROUP(2) EDGEVLM_SDOT_GROUP(3)
            EDGEVLM_SDOT_GROUP(4) EDGEVLM_SDOT_GROUP(5) EDGEVLM_SDOT_GROUP(6) EDGEVLM_SDOT_GROUP(7)
            for (int i = 0; i < kMR; ++i) {
                const float da = a.d[(size_t)(i0 + i) * a.nb + b];
                acc[i][0] = vfmaq_f32(acc[i][0], vcvtq_f32_s32(dot[i][0]), vmulq_n_f32(dw0, da));
                acc[i][1] = vfmaq_f32(acc[i][1], vcvtq_f32_s32(dot[i][1]), vmulq_n_f32(dw1, da));
            }
        }
        for (int i = 0; i < kMR; ++i) {
            vst1q_f32(out[i] + h * 8, acc[i][0]);
            vst1q_f32(out[i] + h * 8 + 4, acc[i][1]);
        }
    }
}
#undef EDGEVLM_SDOT_GROUP
#else
// Portable: the same arithmetic, one column at a time.
void tile(const QRows &a, int i0, const uint8_t *panel, float out[kMR][kPanel]) {
    for (int i = 0; i < kMR; ++i)
        for (int j = 0; j < kPanel; ++j) out[i][j] = 0.0f;
    for (int b = 0; b < a.nb; ++b) {
        const uint8_t *blk = panel + (size_t)b * kPanelBlockBytes;
        const int8_t *vals = reinterpret_cast<const int8_t *>(blk + kScaleBytes);
        for (int j = 0; j < kPanel; ++j) {
            uint16_t h;
            std::memcpy(&h, blk + 2 * j, 2);
            const float dw = half_to_float(h);
            for (int i = 0; i < kMR; ++i) {
                const int8_t *q = a.q + (size_t)(i0 + i) * a.k + b * kBlock;
                int32_t dot = 0;
                for (int g = 0; g < 8; ++g)
                    for (int t = 0; t < 4; ++t) dot += (int32_t)vals[g * 64 + j * 4 + t] * q[g * 4 + t];
                out[i][j] += (float)(dot - a.s[(size_t)(i0 + i) * a.nb + b]) * (dw * a.d[(size_t)(i0 + i) * a.nb + b]);
            }
        }
    }
}
#endif

// Packs one panel from its 16 rows of Q8_0 blocks (rows: the panel's first row).
void pack_panel(const uint8_t *rows, int k, uint8_t *dst) {
    const int nb = k / kBlock;
    for (int b = 0; b < nb; ++b) {
        uint8_t *blk = dst + (size_t)b * kPanelBlockBytes;
        for (int j = 0; j < kPanel; ++j) {
            const uint8_t *qb = rows + ((size_t)j * nb + b) * kBlockBytes;
            std::memcpy(blk + 2 * j, qb, 2);  // the f16 scale
            for (int t = 0; t < kBlock; ++t)
                blk[kScaleBytes + (t / 4) * 64 + j * 4 + t % 4] = (uint8_t)(qb[2 + t] + kOffset);
        }
    }
}

}  // namespace

const char *isa_name() {
#if EDGEVLM_Q8_VNNI
    return "avx512vnni";
#elif EDGEVLM_Q8_SDOT
    return "neon-dotprod";
#else
    return "scalar";
#endif
}

bool has_int8_dot() {
#if EDGEVLM_Q8_VNNI || EDGEVLM_Q8_SDOT
    return true;
#else
    return false;
#endif
}

bool shape_supported(int64_t n, int64_t k) { return n > 0 && k > 0 && n % kPanel == 0 && k % kBlock == 0; }

void repack(const void *q8_0, int n, int k, void *dst) {
    const size_t panel_bytes = (size_t)(k / kBlock) * kPanelBlockBytes;
    for (int p = 0; p < n / kPanel; ++p)
        pack_panel(static_cast<const uint8_t *>(q8_0) + p * panel_bytes, k, static_cast<uint8_t *>(dst) + p * panel_bytes);
}

void repack_in_place(void *q8_0, int n, int k) {
    // Panel p's packed bytes occupy exactly the bytes of its own 16 source rows, so each panel can be
    // packed from a copy of those rows straight back into place.
    const size_t panel_bytes = (size_t)(k / kBlock) * kPanelBlockBytes;
    std::vector<uint8_t> rows(panel_bytes);
    auto *base = static_cast<uint8_t *>(q8_0);
    for (int p = 0; p < n / kPanel; ++p) {
        std::memcpy(rows.data(), base + p * panel_bytes, panel_bytes);
        pack_panel(rows.data(), k, base + p * panel_bytes);
    }
}

size_t scratch_bytes(int k) {
    const size_t nb = (size_t)k / kBlock;
    return align64((size_t)kChunk * k) + 2 * align64((size_t)kChunk * nb * 4) + align64((size_t)k * 4);
}

void gemm(const Problem &p, int tid, int n_threads, void *scratch) {
    const Range rows = split(p.m, n_threads, tid, kMR);
    QRows qr = carve(scratch, p.k);
    const size_t panel_bytes = (size_t)(p.k / kBlock) * kPanelBlockBytes;
    float out[kMR][kPanel];
    for (int r0 = rows.begin; r0 < rows.end; r0 += kChunk) {
        const int n_rows = std::min(kChunk, rows.end - r0);
        quantize_rows(p, r0, n_rows, qr);
        for (int pn = 0; pn < p.n / kPanel; ++pn) {
            const uint8_t *panel = static_cast<const uint8_t *>(p.w) + pn * panel_bytes;
            const float *bias = p.bias ? p.bias + pn * kPanel : nullptr;
            for (int i0 = 0; i0 < n_rows; i0 += kMR) {
                tile(qr, i0, panel, out);
                for (int i = 0; i < std::min(kMR, n_rows - i0); ++i) {
                    float *c = p.c + (size_t)(r0 + i0 + i) * p.ldc + pn * kPanel;
                    for (int j = 0; j < kPanel; ++j) c[j] = out[i][j] + (bias ? bias[j] : 0.0f);
                    if (p.gelu) gelu_inplace(c, kPanel);
                }
            }
        }
    }
}

}  // namespace q8
}  // namespace edgevlm

extern "C" const char *edgevlm_int8_dot(void) {
    return edgevlm::q8::has_int8_dot() ? edgevlm::q8::isa_name() : "";
}
