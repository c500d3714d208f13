// The int8 GEMM on Q8_0 weights (kernels/q8) against double-precision references, by normalised mean squared
// error (sum (out - ref)^2 / sum ref^2, as llama.cpp's test-backend-ops does). Weights are quantized by ggml
// itself (ggml_quantize_chunk), so the test also pins our reading of ggml's block_q8_0. Exit code = failures.
//
// Two references per case:
// * exact: the same quantized activations (scale amax/127, round to nearest) and ggml's dequantized weights,
//   summed in double. Only float summation order and the rare rounding tie differ: NMSE <= 1e-9.
// * float: unquantized activations x dequantized weights. The difference is the activations' int8 rounding
//   (uniform, +-half a step of amax/127 per element): NMSE ~ 1e-5 on Gaussian data; bound 2e-4.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ggml.h"
#include "kernel_check.h"
#include "q8_gemm.h"

using namespace edgevlm;
using namespace edgevlm::check;

namespace {

// The activations as the kernel quantizes them, dequantized: per 32-block, scale amax / 127.
std::vector<double> fake_quantize(const std::vector<float> &a) {
    std::vector<double> out(a.size());
    for (size_t b = 0; b < a.size(); b += q8::kBlock) {
        float amax = 0.0f;
        for (int j = 0; j < q8::kBlock; ++j) amax = std::max(amax, std::fabs(a[b + j]));
        const float id = amax > 0.0f ? 127.0f / amax : 0.0f, d = amax / 127.0f;
        for (int j = 0; j < q8::kBlock; ++j) out[b + j] = (double)std::nearbyint(a[b + j] * id) * d;
    }
    return out;
}

template <class A>
std::vector<double> matmul(const A &a, const std::vector<float> &w, const std::vector<float> &bias, int m, int n, int k) {
    std::vector<double> c((size_t)m * n);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double s = bias.empty() ? 0.0 : bias[j];
            for (int t = 0; t < k; ++t) s += (double)a[(size_t)i * k + t] * w[(size_t)j * k + t];
            c[(size_t)i * n + j] = s;
        }
    return c;
}

struct Q8Matrix {
    std::vector<uint8_t> q8_0;  // ggml's blocks
    std::vector<float> deq;     // ggml's dequantization of them
};

Q8Matrix quantize(int n, int k) {
    const auto w = randn((size_t)n * k, 0.05f);
    Q8Matrix m;
    m.q8_0.resize(ggml_row_size(GGML_TYPE_Q8_0, k) * n);
    ggml_quantize_chunk(GGML_TYPE_Q8_0, w.data(), m.q8_0.data(), 0, n, k, nullptr);
    m.deq.resize(w.size());
    ggml_get_type_traits(GGML_TYPE_Q8_0)->to_float(m.q8_0.data(), m.deq.data(), (int64_t)w.size());
    return m;
}

std::vector<float> run(const q8::Problem &proto, int threads) {
    std::vector<float> c((size_t)proto.m * proto.ldc, -7.0f);
    q8::Problem p = proto;
    p.c = c.data();
    std::vector<std::vector<uint8_t>> scratch(threads, std::vector<uint8_t>(q8::scratch_bytes(p.k)));
    on_team(threads, [&](int tid, int n) { q8::gemm(p, tid, n, scratch[tid].data()); });
    return c;
}

void test_case(int m, int n, int k, bool with_bias, int pad_c, int threads) {
    const Q8Matrix w = quantize(n, k);
    std::vector<uint8_t> packed(w.q8_0.size());
    q8::repack(w.q8_0.data(), n, k, packed.data());
    const auto a = randn((size_t)m * k, 1.0f);
    const auto bias = with_bias ? randn(n, 0.5f) : std::vector<float>();
    const q8::Problem p{a.data(), m, k, packed.data(), n, k, with_bias ? bias.data() : nullptr, nullptr, n + pad_c};
    const auto c = run(p, threads);
    const std::string name = "m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                             (with_bias ? " bias" : "") + " t=" + std::to_string(threads);
    expect_nmse(name + " vs exact", c.data(), matmul(fake_quantize(a), w.deq, bias, m, n, k), 1e-9, n, p.ldc);
    expect_nmse(name + " vs float", c.data(), matmul(a, w.deq, bias, m, n, k), 2e-4, n, p.ldc);
    bool pad_untouched = true;  // the kernel writes only n columns of each ldc-wide row
    for (int i = 0; i < m; ++i)
        for (int j = n; j < n + pad_c; ++j) pad_untouched = pad_untouched && c[(size_t)i * p.ldc + j] == -7.0f;
    expect(pad_untouched, name + " leaves columns past n alone");
}

// The LDP kernel's use: a per-input scale on A (squeeze-excitation) and GELU after the bias.
void test_colscale_gelu() {
    const int m = 20, n = 32, k = 64;
    const Q8Matrix w = quantize(n, k);
    std::vector<uint8_t> packed(w.q8_0.size());
    q8::repack(w.q8_0.data(), n, k, packed.data());
    const auto a = randn((size_t)m * k, 1.0f), scale = randn(k, 1.0f), bias = randn(n, 0.5f);
    std::vector<float> scaled(a.size());
    for (size_t i = 0; i < a.size(); ++i) scaled[i] = a[i] * scale[i % k];
    q8::Problem p{a.data(), m, k, packed.data(), n, k, bias.data(), nullptr, n, scale.data(), true};
    const auto c = run(p, 2);
    auto ref = matmul(fake_quantize(scaled), w.deq, bias, m, n, k);
    for (auto &v : ref) v = gelu_ref(v);
    expect_nmse("column scale + GELU m=20 n=32 k=64 vs exact", c.data(), ref, 1e-9);
}

void test_in_place_repack() {
    const Q8Matrix w = quantize(48, 96);
    std::vector<uint8_t> packed(w.q8_0.size()), in_place = w.q8_0;
    q8::repack(w.q8_0.data(), 48, 96, packed.data());
    q8::repack_in_place(in_place.data(), 48, 96);
    expect(packed == in_place, "repack_in_place == repack");
}

void test_zero_rows() {
    const int n = 32, k = 64;
    const Q8Matrix w = quantize(n, k);
    std::vector<uint8_t> packed(w.q8_0.size());
    q8::repack(w.q8_0.data(), n, k, packed.data());
    const std::vector<float> a((size_t)3 * k, 0.0f), bias = randn(n, 1.0f);
    const auto c = run({a.data(), 3, k, packed.data(), n, k, bias.data(), nullptr, n}, 2);
    bool exact = true;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < n; ++j) exact = exact && c[(size_t)i * n + j] == bias[j];
    expect(exact, "all-zero activation rows give exactly the bias");
}

void test_shapes() {
    expect(q8::shape_supported(1024, 4096) && q8::shape_supported(16, 32), "whole panels and blocks supported");
    expect(!q8::shape_supported(24, 32) && !q8::shape_supported(16, 48), "partial panel / block rejected");
}

}  // namespace

int main() {
    std::printf("edgevlm q8 gemm, path %s (int8 dot: %s)\n", q8::isa_name(), q8::has_int8_dot() ? "yes" : "no");
    test_shapes();
    test_in_place_repack();
    test_zero_rows();
    test_colscale_gelu();
    test_case(1, 16, 32, false, 0, 1);
    test_case(5, 48, 64, true, 3, 1);
    test_case(13, 32, 1024, true, 0, 2);
    test_case(100, 64, 256, false, 16, 3);   // rows split over 3 threads, several chunks
    test_case(577, 48, 128, true, 0, 2);     // the ViT's 577 rows: tail tile and tail chunk
    test_case(30, 16, 4096, true, 0, 2);     // the MLP's down projection depth
    return finish();
}
