#include "ops.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace edgevlm {

namespace {

// exp(x) for x in [-88, 0]: Cody-Waite reduction to r in [-ln2/2, ln2/2], degree-6 Taylor-Horner
// polynomial (relative error < 2e-7), scaled by 2^n through the exponent bits. Branch-free so the
// caller's loop vectorises.
inline float exp_nonpos(float x) {
    x = x < -87.0f ? -87.0f : x;
    // round to nearest by the 1.5 * 2^23 trick (vectorises, unlike nearbyint without -ffast-math)
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// erf(|z|) by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7), sign restored by the caller.
inline float erf_abs(float az) {
    const float t = 1.0f / (1.0f + 0.3275911f * az);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    return 1.0f - p * t * exp_nonpos(-az * az);
}

inline float hardswish(float x) {
    const float r = x + 3.0f;
    const float c = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
    return x * c * (1.0f / 6.0f);
}

inline float hardsigmoid(float x) {
    const float r = x + 3.0f;
    const float c = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
    return c * (1.0f / 6.0f);
}

// mean and 1/sqrt(var + eps) of one row, two passes over data that is in L1.
inline void row_stats(const float *x, int w, float &mean, float &rstd) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int c = 0; c < w; ++c) s += x[c];
    mean = s / (float)w;
    float v = 0.0f;
    const float mu = mean;
#pragma omp simd reduction(+ : v)
    for (int c = 0; c < w; ++c) v += (x[c] - mu) * (x[c] - mu);
    rstd = 1.0f / std::sqrt(v / (float)w + kLnEps);
}

}  // namespace

void add_inplace(float *x, const float *v, int n) {
#pragma omp simd
    for (int i = 0; i < n; ++i) x[i] += v[i];
}

void gelu_inplace(float *x, int n) {
#pragma omp simd
    for (int i = 0; i < n; ++i) {
        const float v = x[i];
        const float z = v * 0.70710678118654752f;
        const float e = erf_abs(z < 0.0f ? -z : z);
        x[i] = 0.5f * v * (1.0f + (z < 0.0f ? -e : e));
    }
}

void avgpool2x2(const float *in, int g, int w, float *out, Range r) {
    const int go = g / 2;
    for (int p = r.begin; p < r.end; ++p) {
        const int oy = p / go, ox = p % go;
        const float *a = in + ((size_t)(2 * oy) * g + 2 * ox) * w;
        const float *b = a + (size_t)g * w;
        float *o = out + (size_t)p * w;
#pragma omp simd
        for (int c = 0; c < w; ++c) o[c] = 0.25f * ((a[c] + a[c + w]) + (b[c] + b[c + w]));
    }
}

// Accumulates the in-bounds taps of a 3x3 depthwise conv centred at input (cy, cx) into acc.
static void dw_taps(const float *x, int g, int w, const float *taps, int cy, int cx, float *acc) {
    for (int dy = -1; dy <= 1; ++dy) {
        const int iy = cy + dy;
        if (iy < 0 || iy >= g) continue;
        for (int dx = -1; dx <= 1; ++dx) {
            const int ix = cx + dx;
            if (ix < 0 || ix >= g) continue;
            const float *src = x + ((size_t)iy * g + ix) * w;
            const float *k = taps + (size_t)(3 * (dy + 1) + (dx + 1)) * w;
#pragma omp simd
            for (int c = 0; c < w; ++c) acc[c] += k[c] * src[c];
        }
    }
}

void peg_conv_residual(const float *x, int g, int w, const float *taps, const float *bias, float *out, Range r) {
    for (int p = r.begin; p < r.end; ++p) {
        float *o = out + (size_t)p * w;
        const float *xc = x + (size_t)p * w;
#pragma omp simd
        for (int c = 0; c < w; ++c) o[c] = xc[c] + bias[c];
        dw_taps(x, g, w, taps, p / g, p % g, o);
    }
}

void dw_ln_hswish(const float *x, int g, int stride, int w, const float *taps, const float *ln_w,
                  const float *ln_b, float *out, float *colsum, float *rowbuf, Range r) {
    const int go = g / stride;
    for (int p = r.begin; p < r.end; ++p) {
        std::memset(rowbuf, 0, sizeof(float) * w);
        dw_taps(x, g, w, taps, (p / go) * stride, (p % go) * stride, rowbuf);
        float mean, rstd;
        row_stats(rowbuf, w, mean, rstd);
        float *o = out + (size_t)p * w;
#pragma omp simd
        for (int c = 0; c < w; ++c) {
            const float h = hardswish((rowbuf[c] - mean) * rstd * ln_w[c] + ln_b[c]);
            o[c] = h;
            colsum[c] += h;
        }
    }
}

void matvec(const float *m, const float *x, const float *b, int cols, VecAct act, float *out, Range r) {
    for (int i = r.begin; i < r.end; ++i) {
        const float *row = m + (size_t)i * cols;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < cols; ++c) s += row[c] * x[c];
        s += b[i];
        out[i] = act == VecAct::Relu ? (s > 0.0f ? s : 0.0f) : hardsigmoid(s);
    }
}

void layernorm_rows(const float *in, int w, const float *ln_w, const float *ln_b, const float *residual,
                    float *out, Range r) {
    for (int p = r.begin; p < r.end; ++p) {
        const float *x = in + (size_t)p * w;
        float *o = out + (size_t)p * w;
        float mean, rstd;
        row_stats(x, w, mean, rstd);
        if (residual) {
            const float *res = residual + (size_t)p * w;
#pragma omp simd
            for (int c = 0; c < w; ++c) o[c] = (x[c] - mean) * rstd * ln_w[c] + ln_b[c] + res[c];
        } else {
#pragma omp simd
            for (int c = 0; c < w; ++c) o[c] = (x[c] - mean) * rstd * ln_w[c] + ln_b[c];
        }
    }
}

}  // namespace edgevlm
