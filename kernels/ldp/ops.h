// The non-GEMM stages of LDP / LDPv2, token-major (row = spatial position on a g x g grid, column =
// channel), so that per-position work (LayerNorm over channels) reads one contiguous row.
// Each function handles the output rows [r.begin, r.end) so a Team can split them.
#pragma once

#include "team.h"

namespace edgevlm {

constexpr float kLnEps = 1e-5f;  // nn.LayerNorm / timm LayerNormAct2d default, as MobileVLM uses it

void add_inplace(float *x, const float *v, int n);

// GELU with erf (PyTorch nn.GELU default), |error| of erf below 2e-7.
void gelu_inplace(float *x, int n);

// 2x2 average pool, stride 2: in (g*g) x w -> out (g/2)^2 x w.
void avgpool2x2(const float *in, int g, int w, float *out, Range r);

// LDPv2 PEG: out = x + bias + depthwise3x3(x), padding 1, stride 1. taps: [9][w] (tap = 3*dy + dx).
void peg_conv_residual(const float *x, int g, int w, const float *taps, const float *bias, float *out, Range r);

// LDP block front half, fused per output position: depthwise 3x3 (padding 1, stride 1 or 2, no bias)
// -> LayerNorm over channels (affine) -> hardswish. Adds each output row into colsum (for SE's pool).
// g = input grid side; out rows index the (g/stride)^2 output grid. rowbuf: w floats.
void dw_ln_hswish(const float *x, int g, int stride, int w, const float *taps, const float *ln_w,
                  const float *ln_b, float *out, float *colsum, float *rowbuf, Range r);

// out[i] = act(dot(m[i, :], x) + b[i]) for rows i in r; m row-major rows x cols.
enum class VecAct { Relu, HardSigmoid };
void matvec(const float *m, const float *x, const float *b, int cols, VecAct act, float *out, Range r);

// out = LayerNorm(in) (affine) [+ residual], rows r; residual may be null; out may alias in.
void layernorm_rows(const float *in, int w, const float *ln_w, const float *ln_b, const float *residual,
                    float *out, Range r);

}  // namespace edgevlm
