// Plain double-precision references of the LDP / LDPv2 computation (token-major, grid g x g) that
// test_ldp_kernels.cpp checks every kernel path against, and the random weights it feeds both.
#pragma once

#include <cstdint>
#include <vector>

namespace edgevlm {
namespace ldpref {

using Vec = std::vector<float>;
using DVec = std::vector<double>;

double hswish_ref(double x);
double hsig_ref(double x);
// c = gelu?(a * colscale . w^T + bias), a m x k, w n x k
DVec linear_ref(const Vec &a, int m, int k, const Vec &w, int n, const float *bias, const float *colscale, bool gelu);
// Depthwise 3x3, padding 1; kernel [c][9]; x g*g x w.
DVec dw_ref(const DVec &x, int g, int w, const Vec &k, int stride);
DVec ln_ref(const DVec &x, int rows, int w, const Vec &g, const Vec &b);
Vec taps_of(const Vec &k, int w);  // [c][9] -> [9][c], as the kernel stores them
DVec to_d(const Vec &v);
// v rounded to f16 (the halves into *halves)
Vec round_f16(const Vec &v, std::vector<uint16_t> *halves);

struct Weights {
    Vec fc1, fc1b, fc2, fc2b, peg, pegb;
    Vec dw[2], ln1w[2], ln1b[2], se1[2], se1b[2], se2[2], se2b[2], pw[2], ln2w[2], ln2b[2];
};
Weights make_weights(int c, int w, int s);
// The whole projector, in MobileVLM's order (v2: Linear on all tokens, then pool).
DVec projector_ref(int version, const Weights &W, const Vec &x, int g, int c, int w, int s);

}  // namespace ldpref
}  // namespace edgevlm
