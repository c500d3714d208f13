#include "ldp_reference.h"

#include <algorithm>
#include <cmath>

#include "edgevlm.h"
#include "kernel_check.h"
#include "simd.h"

namespace edgevlm {
namespace ldpref {

using check::gelu_ref;
using check::randn;

double hswish_ref(double x) { return x * std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0; }
double hsig_ref(double x) { return std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0; }

DVec linear_ref(const Vec &a, int m, int k, const Vec &w, int n, const float *bias, const float *colscale, bool gelu) {
    DVec c((size_t)m * n);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double s = bias ? bias[j] : 0.0;
            for (int kk = 0; kk < k; ++kk)
                s += (double)a[(size_t)i * k + kk] * (colscale ? colscale[kk] : 1.0) * w[(size_t)j * k + kk];
            c[(size_t)i * n + j] = gelu ? gelu_ref(s) : s;
        }
    return c;
}

DVec dw_ref(const DVec &x, int g, int w, const Vec &k, int stride) {
    const int go = g / stride;
    DVec out((size_t)go * go * w, 0.0);
    for (int oy = 0; oy < go; ++oy)
        for (int ox = 0; ox < go; ++ox)
            for (int c = 0; c < w; ++c) {
                double s = 0;
                for (int t = 0; t < 9; ++t) {
                    const int iy = oy * stride + t / 3 - 1, ix = ox * stride + t % 3 - 1;
                    if (iy >= 0 && iy < g && ix >= 0 && ix < g) s += k[(size_t)c * 9 + t] * x[((size_t)iy * g + ix) * w + c];
                }
                out[((size_t)oy * go + ox) * w + c] = s;
            }
    return out;
}

DVec ln_ref(const DVec &x, int rows, int w, const Vec &g, const Vec &b) {
    DVec out(x.size());
    for (int r = 0; r < rows; ++r) {
        double mean = 0, var = 0;
        for (int c = 0; c < w; ++c) mean += x[(size_t)r * w + c];
        mean /= w;
        for (int c = 0; c < w; ++c) var += std::pow(x[(size_t)r * w + c] - mean, 2);
        const double rstd = 1.0 / std::sqrt(var / w + 1e-5);
        for (int c = 0; c < w; ++c) out[(size_t)r * w + c] = (x[(size_t)r * w + c] - mean) * rstd * g[c] + b[c];
    }
    return out;
}

Vec taps_of(const Vec &k, int w) {
    Vec t((size_t)9 * w);
    for (int c = 0; c < w; ++c)
        for (int i = 0; i < 9; ++i) t[(size_t)i * w + c] = k[(size_t)c * 9 + i];
    return t;
}

DVec to_d(const Vec &v) { return DVec(v.begin(), v.end()); }

Vec round_f16(const Vec &v, std::vector<uint16_t> *halves) {
    Vec out(v.size());
    halves->resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        (*halves)[i] = float_to_half(v[i]);
        out[i] = half_to_float((*halves)[i]);
    }
    return out;
}

Weights make_weights(int c, int w, int s) {
    Weights W;
    W.fc1 = randn((size_t)w * c, 0.1f); W.fc1b = randn(w, 0.02f);
    W.fc2 = randn((size_t)w * w, 0.1f); W.fc2b = randn(w, 0.02f);
    W.peg = randn((size_t)w * 9, 0.1f); W.pegb = randn(w, 0.02f);
    for (int i = 0; i < 2; ++i) {
        W.dw[i] = randn((size_t)w * 9, 0.2f); W.ln1w[i] = randn(w, 0.1f, 1.0f); W.ln1b[i] = randn(w, 0.1f);
        W.se1[i] = randn((size_t)s * w, 0.1f); W.se1b[i] = randn(s, 0.1f);
        W.se2[i] = randn((size_t)w * s, 0.1f); W.se2b[i] = randn(w, 0.5f);
        W.pw[i] = randn((size_t)w * w, 0.1f); W.ln2w[i] = randn(w, 0.1f, 1.0f); W.ln2b[i] = randn(w, 0.1f);
    }
    return W;
}

DVec projector_ref(int version, const Weights &W, const Vec &x, int g, int c, int w, int s) {
    const int t = g * g;
    DVec h = linear_ref(x, t, c, W.fc1, w, W.fc1b.data(), nullptr, true);
    Vec hf(h.begin(), h.end());
    DVec y = linear_ref(hf, t, w, W.fc2, w, W.fc2b.data(), nullptr, false);
    if (version == EDGEVLM_LDP_V2) {
        // reference order: Linear on all tokens, then pool (the kernel pools first; the algebra is exact)
        const int go = g / 2;
        DVec p((size_t)go * go * w, 0.0);
        for (int oy = 0; oy < go; ++oy)
            for (int ox = 0; ox < go; ++ox)
                for (int ch = 0; ch < w; ++ch)
                    for (int d = 0; d < 4; ++d)
                        p[((size_t)oy * go + ox) * w + ch] += 0.25 * y[((size_t)(2 * oy + d / 2) * g + 2 * ox + d % 2) * w + ch];
        DVec out = dw_ref(p, go, w, W.peg, 1);
        for (size_t i = 0; i < out.size(); ++i) out[i] += p[i] + W.pegb[i % w];
        return out;
    }
    DVec cur = y;
    int gc = g;
    for (int b = 0; b < 2; ++b) {
        const int stride = b == 0 ? 1 : 2, go = gc / stride, rows = go * go;
        DVec a = ln_ref(dw_ref(cur, gc, w, W.dw[b], stride), rows, w, W.ln1w[b], W.ln1b[b]);
        DVec mean(w, 0.0);
        for (size_t i = 0; i < a.size(); ++i) mean[i % w] += (a[i] = hswish_ref(a[i])) / rows;
        DVec z(s), sc(w);
        for (int i = 0; i < s; ++i) {
            double acc = W.se1b[b][i];
            for (int ch = 0; ch < w; ++ch) acc += W.se1[b][(size_t)i * w + ch] * mean[ch];
            z[i] = std::max(acc, 0.0);
        }
        for (int i = 0; i < w; ++i) {
            double acc = W.se2b[b][i];
            for (int j = 0; j < s; ++j) acc += W.se2[b][(size_t)i * s + j] * z[j];
            sc[i] = hsig_ref(acc);
        }
        DVec pre((size_t)rows * w, 0.0);
        for (int r = 0; r < rows; ++r)
            for (int o = 0; o < w; ++o) {
                double acc = 0;
                for (int ch = 0; ch < w; ++ch) acc += a[(size_t)r * w + ch] * sc[ch] * W.pw[b][(size_t)o * w + ch];
                pre[(size_t)r * w + o] = acc;
            }
        DVec out = ln_ref(pre, rows, w, W.ln2w[b], W.ln2b[b]);
        if (stride == 1)
            for (size_t i = 0; i < out.size(); ++i) out[i] += cur[i];
        cur = out;
        gc = go;
    }
    return cur;
}

}  // namespace ldpref
}  // namespace edgevlm
