// The fp16-arithmetic kernels (kernels/f16: ViT attention, f16 GEMM) against double-precision references, by
// normalised mean squared error (sum (out - ref)^2 / sum ref^2, as llama.cpp's test-backend-ops does). On an
// armv8.2-a+fp16 build (run under qemu-aarch64 in tests/arm) this checks the NEON FMLA-on-8-halves path;
// elsewhere the portable stand-in with the same layouts and loops. Exit code = failures.
//
// Tolerances (both paths must pass; the fp16 one is the binding one):
// * GEMM vs a reference on the fp16-rounded operands: only the fp16 summation of <= kKc = 128 products
//   differs; each addition rounds by <= 2^-11 relative, a random walk of ~sqrt(128) of them: NMSE ~1e-6.
//   Bound 1e-5. Against the unrounded f32 operands the operands' own rounding (2^-12 each) adds ~1e-7.
// * attention vs a double reference on the f32 inputs: Q, K, V, P in fp16 and QK^T summed in fp16 over
//   d_head terms: score errors ~1e-2 absolute on scores of a few units, i.e. ~1% on single weights but
//   averaging out over the keys: NMSE 1e-6..5e-5 (K is centred first). Bound 1e-4 (cosine >= 0.99995 per row, well inside the ViT's
//   0.999 f16 / 0.9999 f32 bounds, which the encoder tests check end to end).
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "attention.h"
#include "f16_gemm.h"
#include "half8.h"
#include "kernel_check.h"

using namespace edgevlm;
using namespace edgevlm::check;

namespace {

std::vector<uint16_t> to_halves(const std::vector<float> &x) {
    std::vector<uint16_t> h(x.size());
    for (size_t i = 0; i < x.size(); ++i) h[i] = float_to_half(x[i]);
    return h;
}

std::vector<double> rounded(const std::vector<float> &x) {
    std::vector<double> r(x.size());
    for (size_t i = 0; i < x.size(); ++i) r[i] = half_to_float(float_to_half(x[i]));
    return r;
}

template <class A, class W>
std::vector<double> matmul(const A &a, const W &w, const std::vector<float> &bias, int m, int n, int k) {
    std::vector<double> c((size_t)m * n);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double s = bias.empty() ? 0.0 : bias[j];
            for (int t = 0; t < k; ++t) s += (double)a[(size_t)i * k + t] * (double)w[(size_t)j * k + t];
            c[(size_t)i * n + j] = s;
        }
    return c;
}

void test_gemm(int m, int n, int k, bool with_bias, int pad_c, int threads) {
    const auto w = randn((size_t)n * k, 0.05f), a = randn((size_t)m * k, 1.0f);
    const auto bias = with_bias ? randn(n, 0.5f) : std::vector<float>();
    const auto wh = to_halves(w);
    std::vector<uint16_t> packed(wh.size());
    f16::repack(wh.data(), n, k, packed.data());
    std::vector<float> c((size_t)m * (n + pad_c), -7.0f);
    const f16::GemmProblem p{a.data(), m, k, packed.data(), n, k, with_bias ? bias.data() : nullptr, c.data(), n + pad_c};
    std::vector<std::vector<uint8_t>> scratch(threads, std::vector<uint8_t>(f16::gemm_scratch_bytes(k)));
    on_team(threads, [&](int tid, int nt) { f16::gemm(p, tid, nt, scratch[tid].data()); });
    const std::string name = "gemm m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                             (with_bias ? " bias" : "") + " t=" + std::to_string(threads);
    expect_nmse(name + " vs fp16 operands", c.data(), matmul(rounded(a), rounded(w), bias, m, n, k), 1e-5, n, n + pad_c);
    expect_nmse(name + " vs f32 operands", c.data(), matmul(a, w, bias, m, n, k), 2e-5, n, n + pad_c);
    bool pad_untouched = true;
    for (int i = 0; i < m; ++i)
        for (int j = n; j < n + pad_c; ++j) pad_untouched = pad_untouched && c[(size_t)i * (n + pad_c) + j] == -7.0f;
    expect(pad_untouched, name + " leaves columns past n alone");
}

void test_gemm_repack_in_place() {
    const auto wh = to_halves(randn((size_t)48 * 40, 1.0f));
    std::vector<uint16_t> packed(wh.size()), in_place = wh;
    f16::repack(wh.data(), 48, 40, packed.data());
    f16::repack_in_place(in_place.data(), 48, 40);
    expect(packed == in_place, "gemm repack_in_place == repack");
    expect(f16::gemm_shape_supported(1024, 4096) && !f16::gemm_shape_supported(24, 64), "gemm: whole panels only");
}

// softmax(q k^T * scale) v per head, in double.
std::vector<double> attention_ref(const std::vector<float> &q, const std::vector<float> &k, const std::vector<float> &v,
                                  int n_pos, int n_head, int d, float scale) {
    const int w = n_head * d;
    std::vector<double> out((size_t)n_pos * w), s(n_pos);
    for (int h = 0; h < n_head; ++h)
        for (int i = 0; i < n_pos; ++i) {
            double mx = -1e300, sum = 0;
            for (int j = 0; j < n_pos; ++j) {
                double dot = 0;
                for (int c = 0; c < d; ++c) dot += (double)q[(size_t)i * w + h * d + c] * k[(size_t)j * w + h * d + c];
                s[j] = dot * scale;
                mx = std::max(mx, s[j]);
            }
            for (int j = 0; j < n_pos; ++j) sum += (s[j] = std::exp(s[j] - mx));
            for (int c = 0; c < d; ++c) {
                double o = 0;
                for (int j = 0; j < n_pos; ++j) o += s[j] * v[(size_t)j * w + h * d + c];
                out[(size_t)i * w + h * d + c] = o / sum;
            }
        }
    return out;
}

// qk_scale: spread of the inputs (scores ~ N(0, qk_scale^2 ... )); offset: a shift of every key, which moves
// all scores of a query far from 0 (the kernel must subtract the row maximum, not assume scores near 0).
void test_attention(int n_pos, int n_head, int d, int threads, float qk_scale, float offset) {
    const int w = n_head * d, ld = w + 8;  // rows wider than the heads: strides are honoured
    const auto q = randn((size_t)n_pos * ld, qk_scale), k = randn((size_t)n_pos * ld, qk_scale, offset),
               v = randn((size_t)n_pos * ld, 1.0f);
    auto dense = [&](const std::vector<float> &x) {
        std::vector<float> r((size_t)n_pos * w);
        for (int i = 0; i < n_pos; ++i)
            for (int c = 0; c < w; ++c) r[(size_t)i * w + c] = x[(size_t)i * ld + c];
        return r;
    };
    const float scale = 1.0f / std::sqrt((float)d);
    std::vector<float> out((size_t)n_pos * w, -7.0f);
    const f16::AttentionProblem p{q.data(), k.data(), v.data(), n_pos, n_head, d, ld, scale, out.data(), w};
    std::vector<std::vector<uint8_t>> scratch(threads, std::vector<uint8_t>(f16::attention_scratch_bytes(n_pos, d)));
    on_team(threads, [&](int tid, int nt) { f16::attention(p, tid, nt, scratch[tid].data()); });
    const std::string name = "attention n_pos=" + std::to_string(n_pos) + " heads=" + std::to_string(n_head) +
                             " d=" + std::to_string(d) + " t=" + std::to_string(threads) +
                             (offset != 0.0f ? " shifted" : "");
    expect_nmse(name, out.data(), attention_ref(dense(q), dense(k), dense(v), n_pos, n_head, d, scale), 1e-4);
}

}  // namespace

int main() {
    std::printf("edgevlm f16 kernels, %s fp16 arithmetic\n", f16::kHardware ? "NEON" : "portable (f32 stand-in for)");
    test_gemm_repack_in_place();
    test_gemm(1, 16, 8, false, 0, 1);
    test_gemm(13, 48, 200, true, 3, 2);     // k not a multiple of kKc, tail tile
    test_gemm(577, 32, 1024, true, 0, 3);   // the ViT's 577 rows over 3 threads
    test_gemm(40, 16, 4096, true, 0, 2);    // the MLP's down projection depth: 32 fp16 partial sums
    test_attention(1, 1, 16, 1, 1.0f, 0.0f);
    test_attention(37, 3, 32, 2, 1.5f, 0.0f);
    test_attention(70, 2, 64, 3, 1.0f, 6.0f);
    test_attention(577, 2, 64, 2, 1.5f, 0.0f);  // the ViT's sequence and head width
    return finish();
}
