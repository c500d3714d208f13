// The SIMD path of the GEMM micro-kernel, chosen at build time from the compiler's target macros.
// Everything else in the kernel is plain loops under `#pragma omp simd` that the compiler vectorises
// for the same target; only the register-blocked micro-kernel needs the explicit vector types here.
#pragma once

#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#define EDGEVLM_SIMD_NAME "avx512f"
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define EDGEVLM_SIMD_NAME "avx2+fma"
#elif defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#if defined(__ARM_FEATURE_FP16_VECTOR_ARITHMETIC) && defined(__ARM_FEATURE_DOTPROD)
#define EDGEVLM_SIMD_NAME "neon+fp16+dotprod"
#elif defined(__ARM_FEATURE_FP16_VECTOR_ARITHMETIC)
#define EDGEVLM_SIMD_NAME "neon+fp16"
#else
#define EDGEVLM_SIMD_NAME "neon"
#endif
#else
#define EDGEVLM_SIMD_NAME "scalar"
#endif

namespace edgevlm {

// f16 -> f32 for one value, portable (used for repacking and by the scalar path).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

namespace simd {

#if defined(__AVX512F__)
// 32 zmm registers: 14 rows x 2 vectors of accumulators + 2 B vectors + broadcast (14 measured faster than 12).
#ifndef EDGEVLM_AVX512_MR
#define EDGEVLM_AVX512_MR 14
#endif
struct Isa {
    using V = __m512;
    static constexpr int L = 16, MR = EDGEVLM_AVX512_MR, NV = 2;
    static V zero() { return _mm512_setzero_ps(); }
    static V set1(float x) { return _mm512_set1_ps(x); }
    static V load(const float *p) { return _mm512_loadu_ps(p); }
    static void store(float *p, V v) { _mm512_storeu_ps(p, v); }
    static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    // F16C: 16 halves in one 256-bit load, widened in registers.
    static V load_f16(const uint16_t *p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)));
    }
};
#elif defined(__AVX2__) && defined(__FMA__)
// 16 ymm registers: 6 rows x 2 vectors of accumulators + 2 B vectors + broadcast.
struct Isa {
    using V = __m256;
    static constexpr int L = 8, MR = 6, NV = 2;
    static V zero() { return _mm256_setzero_ps(); }
    static V set1(float x) { return _mm256_set1_ps(x); }
    static V load(const float *p) { return _mm256_loadu_ps(p); }
    static void store(float *p, V v) { _mm256_storeu_ps(p, v); }
    static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V load_f16(const uint16_t *p) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
    }
};
#elif defined(__aarch64__) && defined(__ARM_NEON)
// 32 q registers: 8 rows x 3 vectors of accumulators + 3 B vectors + broadcast.
struct Isa {
    using V = float32x4_t;
    static constexpr int L = 4, MR = 8, NV = 3;
    static V zero() { return vdupq_n_f32(0.0f); }
    static V set1(float x) { return vdupq_n_f32(x); }
    static V load(const float *p) { return vld1q_f32(p); }
    static void store(float *p, V v) { vst1q_f32(p, v); }
    static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
    // fcvtl: 4 halves widened to f32 in registers.
    static V load_f16(const uint16_t *p) {
        return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
    }
};
#else
// Portable fallback: a "vector" of one float; the compiler may still auto-vectorise the unrolled tile.
struct Isa {
    using V = float;
    static constexpr int L = 1, MR = 4, NV = 8;
    static V zero() { return 0.0f; }
    static V set1(float x) { return x; }
    static V load(const float *p) { return *p; }
    static void store(float *p, V v) { *p = v; }
    static V fma(V a, V b, V c) { return a * b + c; }
    static V load_f16(const uint16_t *p) { return half_to_float(*p); }
};
#endif

constexpr int kMR = Isa::MR;            // rows of a micro-tile
constexpr int kNR = Isa::L * Isa::NV;   // columns of a micro-tile (= width of a packed weight panel)

}  // namespace simd
}  // namespace edgevlm
