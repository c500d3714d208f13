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

// Where row i's block b of the chunk lives. Row-major ([row][k] values, [row][nb] scales) on the VNNI and
// portable paths; on the sdot path the kMR rows of a tile are interleaved per block ([tile][block][row][32]
// values, [tile][block][row] scales), so one tile's block is 128 contiguous bytes and 4 contiguous scales: two
// ld1 and one ld1 instead of eight loads and their address arithmetic per block.
size_t q_off(const QRows &r, int i, int b) {
#if EDGEVLM_Q8_SDOT
    return (((size_t)(i / kMR) * r.nb + b) * kMR + i % kMR) * kBlock;
#else
    return (size_t)i * r.k + (size_t)b * kBlock;
#endif
}
size_t d_off(const QRows &r, int i, int b) {
#if EDGEVLM_Q8_SDOT
    return ((size_t)(i / kMR) * r.nb + b) * kMR + i % kMR;
#else
    return (size_t)i * r.nb + b;
#endif
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
        if (i >= rows) {
            for (int b = 0; b < qr.nb; ++b) {
                std::memset(qr.q + q_off(qr, i, b), 0, kBlock);
                qr.d[d_off(qr, i, b)] = 0.0f;
                qr.s[d_off(qr, i, b)] = 0;
            }
            continue;
        }
        const float *x = p.a + (size_t)(r0 + i) * p.lda;
        if (p.a_colscale) {
            for (int j = 0; j < qr.k; ++j) qr.scaled[j] = x[j] * p.a_colscale[j];
            x = qr.scaled;
        }
        for (int b = 0; b < qr.nb; ++b)
            quantize_block(x + b * kBlock, qr.q + q_off(qr, i, b), qr.d + d_off(qr, i, b), qr.s + d_off(qr, i, b));
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
                std::memcpy(&a4, a.q + q_off(a, i0 + i, b) + g * 4, 4);
                dot[i] = _mm512_dpbusd_epi32(dot[i], w, _mm512_set1_epi32(a4));
            }
        }
#pragma GCC unroll 12
        for (int i = 0; i < kMR; ++i) {
            const size_t ib = d_off(a, i0 + i, b);
            const __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(dot[i], _mm512_set1_epi32(a.s[ib])));
            acc[i] = _mm512_fmadd_ps(v, _mm512_mul_ps(dw, _mm512_set1_ps(a.d[ib])), acc[i]);
        }
    }
    for (int i = 0; i < kMR; ++i) _mm512_storeu_ps(out[i], acc[i]);
}
#elif EDGEVLM_Q8_SDOT
// One 32-block of 4 rows x 8 columns (half H of a panel): 64 sdot by lane into 8 int32 vectors, then
// acc += float(dot) * (dw * da); 111 instructions for 1024 multiply-adds. Inline asm with fixed registers: GCC
// (12) keeps all 16 weight vectors of a block live, spills the accumulators to the stack and needed ~1.3x the
// instructions (counted under qemu); here the weights stream through v0/v1. p (the panel block: 16 f16 scales,
// then the values), a (the tile's interleaved int8 rows) and d (their 4 scales) advance past the block.
// The layout's byte offsets are literals in the asm (scales at 16 H, the values of group g at 32 + 32 H + 64 g,
// 544 bytes per block): static_asserts below pin them to kPanelBlockBytes / kScaleBytes.
static_assert(kPanelBlockBytes == 544 && kScaleBytes == 32 && kPanel == 16 && kMR == 4, "sdot asm offsets");

// One group of 4 inputs: the 16 columns' weights of the half at byte OFF (v0: columns 0-3, v1: 4-7, as 4 bytes
// each) times lane LANE of the 4 rows' activation registers R0-R3, summed into the int32 accumulators v24-v31.
#define EDGEVLM_SDOT_GROUP(OFF, R0, R1, R2, R3, LANE)       \
    "ldp q0, q1, [%[p], #" #OFF "]\n"                        \
    "sdot v24.4s, v0.16b, " #R0 ".4b[" #LANE "]\n"           \
    "sdot v25.4s, v1.16b, " #R0 ".4b[" #LANE "]\n"           \
    "sdot v26.4s, v0.16b, " #R1 ".4b[" #LANE "]\n"           \
    "sdot v27.4s, v1.16b, " #R1 ".4b[" #LANE "]\n"           \
    "sdot v28.4s, v0.16b, " #R2 ".4b[" #LANE "]\n"           \
    "sdot v29.4s, v1.16b, " #R2 ".4b[" #LANE "]\n"           \
    "sdot v30.4s, v0.16b, " #R3 ".4b[" #LANE "]\n"           \
    "sdot v31.4s, v1.16b, " #R3 ".4b[" #LANE "]\n"

// Row LANE of the tile: its two int32 sums (D0, D1, converted) scaled by dw * da into its accumulators C0, C1.
#define EDGEVLM_SDOT_SCALE_ROW(LANE, D0, D1, C0, C1)        \
    "fmul v0.4s, v4.4s, v2.s[" #LANE "]\n"                   \
    "fmul v1.4s, v3.4s, v2.s[" #LANE "]\n"                   \
    "fmla %[" #C0 "].4s, " #D0 ".4s, v0.4s\n"                \
    "fmla %[" #C1 "].4s, " #D1 ".4s, v1.4s\n"

// The whole block for half H: its 8 scales at byte SCALES, its 8 groups of values at G0 (then every 64 bytes).
#define EDGEVLM_SDOT_BLOCK_4X8(SCALES, G0, G1, G2, G3, G4, G5, G6, G7)                                        \
    __asm__ volatile(                                                                                        \
        "ldr q3, [%[p], #" #SCALES "]\n"                                                                     \
        "ld1 {v16.16b, v17.16b, v18.16b, v19.16b}, [%[a]], #64\n"                                           \
        "ld1 {v20.16b, v21.16b, v22.16b, v23.16b}, [%[a]], #64\n"                                           \
        "movi v24.4s, #0\n" "movi v25.4s, #0\n" "movi v26.4s, #0\n" "movi v27.4s, #0\n"                     \
        "movi v28.4s, #0\n" "movi v29.4s, #0\n" "movi v30.4s, #0\n" "movi v31.4s, #0\n"                     \
        EDGEVLM_SDOT_GROUP(G0, v16, v18, v20, v22, 0) EDGEVLM_SDOT_GROUP(G1, v16, v18, v20, v22, 1)          \
        EDGEVLM_SDOT_GROUP(G2, v16, v18, v20, v22, 2) EDGEVLM_SDOT_GROUP(G3, v16, v18, v20, v22, 3)          \
        EDGEVLM_SDOT_GROUP(G4, v17, v19, v21, v23, 0) EDGEVLM_SDOT_GROUP(G5, v17, v19, v21, v23, 1)          \
        EDGEVLM_SDOT_GROUP(G6, v17, v19, v21, v23, 2) EDGEVLM_SDOT_GROUP(G7, v17, v19, v21, v23, 3)          \
        "fcvtl v4.4s, v3.4h\n"                                                                               \
        "fcvtl2 v3.4s, v3.8h\n"                                                                              \
        "scvtf v24.4s, v24.4s\n" "scvtf v25.4s, v25.4s\n" "scvtf v26.4s, v26.4s\n" "scvtf v27.4s, v27.4s\n" \
        "scvtf v28.4s, v28.4s\n" "scvtf v29.4s, v29.4s\n" "scvtf v30.4s, v30.4s\n" "scvtf v31.4s, v31.4s\n" \
        "ld1 {v2.4s}, [%[d]], #16\n"                                                                         \
        EDGEVLM_SDOT_SCALE_ROW(0, v24, v25, c00, c01) EDGEVLM_SDOT_SCALE_ROW(1, v26, v27, c10, c11)          \
        EDGEVLM_SDOT_SCALE_ROW(2, v28, v29, c20, c21) EDGEVLM_SDOT_SCALE_ROW(3, v30, v31, c30, c31)          \
        "add %[p], %[p], #544\n"                                                                             \
        : [c00] "+w"(acc[0][0]), [c01] "+w"(acc[0][1]), [c10] "+w"(acc[1][0]), [c11] "+w"(acc[1][1]),       \
          [c20] "+w"(acc[2][0]), [c21] "+w"(acc[2][1]), [c30] "+w"(acc[3][0]), [c31] "+w"(acc[3][1]),       \
          [p] "+r"(p), [a] "+r"(a), [d] "+r"(d)                                                              \
        :                                                                                                    \
        : "v0", "v1", "v2", "v3", "v4", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", \
          "v26", "v27", "v28", "v29", "v30", "v31", "memory")

template <int H>
inline void sdot_block_4x8(const uint8_t *&p, const int8_t *&a, const float *&d, float32x4_t acc[4][2]) {
    // the offsets of half H written out: asm text takes literals (16 H for the scales, 32 + 32 H + 64 g)
    if constexpr (H == 0) EDGEVLM_SDOT_BLOCK_4X8(0, 32, 96, 160, 224, 288, 352, 416, 480);
    else EDGEVLM_SDOT_BLOCK_4X8(16, 64, 128, 192, 256, 320, 384, 448, 512);
}

#undef EDGEVLM_SDOT_BLOCK_4X8
#undef EDGEVLM_SDOT_SCALE_ROW
#undef EDGEVLM_SDOT_GROUP

template <int H>
void half_tile(const QRows &a, int i0, const uint8_t *panel, float out[kMR][kPanel]) {
    const int8_t *q = a.q + q_off(a, i0, 0);  // i0 is a multiple of kMR: the tile's first interleaved block
    const float *d = a.d + d_off(a, i0, 0);
    const uint8_t *p = panel;
    float32x4_t acc[kMR][2];
    for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = vdupq_n_f32(0.0f);
    for (int b = 0; b < a.nb; ++b) sdot_block_4x8<H>(p, q, d, acc);
    for (int i = 0; i < kMR; ++i) {
        vst1q_f32(out[i] + H * 8, acc[i][0]);
        vst1q_f32(out[i] + H * 8 + 4, acc[i][1]);
    }
}

void tile(const QRows &a, int i0, const uint8_t *panel, float out[kMR][kPanel]) {
    half_tile<0>(a, i0, panel, out);
    half_tile<1>(a, i0, panel, out);
}
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
                const int8_t *q = a.q + q_off(a, i0 + i, b);
                int32_t dot = 0;
                for (int g = 0; g < 8; ++g)
                    for (int t = 0; t < 4; ++t) dot += (int32_t)vals[g * 64 + j * 4 + t] * q[g * 4 + t];
                out[i][j] += (float)(dot - a.s[d_off(a, i0 + i, b)]) * (dw * a.d[d_off(a, i0 + i, b)]);
            }
        }
    }
}
#endif

// Packs one panel from its 16 rows of Q8_0 blocks (rows: the panel's first row). A group of 4 inputs moves as
// one 32-bit word (a byte-wise loop was 0.6 G instructions of the arm64 vision load at ViT-L width); adding
// kOffset = 128 mod 256 to each byte is flipping its top bit.
void pack_panel(const uint8_t *rows, int k, uint8_t *dst) {
    const int nb = k / kBlock;
    const uint32_t flip = kOffset ? 0x80808080u : 0u;
    for (int b = 0; b < nb; ++b) {
        uint8_t *blk = dst + (size_t)b * kPanelBlockBytes;
        for (int j = 0; j < kPanel; ++j) {
            const uint8_t *qb = rows + ((size_t)j * nb + b) * kBlockBytes;
            std::memcpy(blk + 2 * j, qb, 2);  // the f16 scale
            for (int g = 0; g < kBlock / 4; ++g) {
                uint32_t w;
                std::memcpy(&w, qb + 2 + 4 * g, 4);
                w ^= flip;
                std::memcpy(blk + kScaleBytes + g * 64 + j * 4, &w, 4);
            }
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
