// Eight halves in one vector, for edgevlm's fp16-arithmetic kernels (attention.h, f16_gemm.h).
//
// On an ARMv8.2-A core with FP16 arithmetic (Cortex-A78 / X1: -march=armv8.2-a+fp16) this is a NEON
// float16x8_t: one FMLA is 8 multiply-adds, twice an f32 FMLA. Elsewhere (x86 builds, plain armv8-a) a portable
// stand-in with the same storage (IEEE half bit patterns) and the same loops, computing in f32: it keeps the
// kernels' layouts and indexing testable on the host; x86 does not run these kernels in the ViT (cpu_linear.h).
#pragma once

#include <cstdint>

#include "simd.h"  // half_to_float / float_to_half

#if defined(__aarch64__) && defined(__ARM_FEATURE_FP16_VECTOR_ARITHMETIC)
#define EDGEVLM_F16_NEON 1
#include <arm_neon.h>
#endif

namespace edgevlm {
namespace f16 {

#if EDGEVLM_F16_NEON
using half = __fp16;  // storage and arithmetic
using H8 = float16x8_t;
inline H8 load(const half *p) { return vld1q_f16(p); }
inline void store(half *p, H8 v) { vst1q_f16(p, v); }
inline H8 zero() { return vdupq_n_f16(0); }
// acc + a * b[L]: FMLA (by element) on 8 halves. Inline asm because GCC (12) turns vfmaq_laneq_f16 into a
// DUP + vector FMLA pair when b is not already in v0-v15 (the by-element form of .h can only name those),
// doubling the instructions of the kernels' inner loops; the "x" constraint asks for one of v0-v15.
template <int L>
inline H8 fma_lane(H8 acc, H8 a, H8 b) {
#if defined(__GNUC__)
    __asm__("fmla %0.8h, %1.8h, %2.h[%3]" : "+w"(acc) : "w"(a), "x"(b), "i"(L));
    return acc;
#else
    return vfmaq_laneq_f16(acc, a, b, L);
#endif
}
inline H8 max(H8 a, H8 b) { return vmaxq_f16(a, b); }
// dst[0..8) += v, widened to f32 (fcvtl / fcvtl2).
inline void add_to(float *dst, H8 v) {
    vst1q_f32(dst, vaddq_f32(vld1q_f32(dst), vcvt_f32_f16(vget_low_f16(v))));
    vst1q_f32(dst + 4, vaddq_f32(vld1q_f32(dst + 4), vcvt_high_f32_f16(v)));
}
inline half to_half(float x) { return (half)x; }
inline float to_float(half h) { return (float)h; }
#else
using half = uint16_t;  // IEEE half bit patterns; arithmetic in f32
struct H8 {
    float v[8];
};
inline H8 load(const half *p) {
    H8 r;
    for (int i = 0; i < 8; ++i) r.v[i] = half_to_float(p[i]);
    return r;
}
inline void store(half *p, H8 x) {
    for (int i = 0; i < 8; ++i) p[i] = float_to_half(x.v[i]);
}
inline H8 zero() { return H8{}; }
template <int L>
inline H8 fma_lane(H8 acc, H8 a, H8 b) {
    for (int i = 0; i < 8; ++i) acc.v[i] += a.v[i] * b.v[L];
    return acc;
}
inline H8 max(H8 a, H8 b) {
    for (int i = 0; i < 8; ++i) a.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
    return a;
}
inline void add_to(float *dst, H8 v) {
    for (int i = 0; i < 8; ++i) dst[i] += v.v[i];
}
inline half to_half(float x) { return float_to_half(x); }
inline float to_float(half h) { return half_to_float(h); }
#endif

// True where H8 is the hardware's fp16 arithmetic: only then do the fp16 kernels beat the f32 ones.
#if EDGEVLM_F16_NEON
constexpr bool kHardware = true;
#else
constexpr bool kHardware = false;
#endif

}  // namespace f16
}  // namespace edgevlm
