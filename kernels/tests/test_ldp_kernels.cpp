// Every LDP kernel path against a plain double-precision reference, by normalised mean squared error
// (sum (out - ref)^2 / sum ref^2, as llama.cpp's test-backend-ops does). Exit code = number of failures.
//
// Tolerances: f32 paths 1e-10 NMSE (float rounding over K <= 600 accumulations is ~1e-13..1e-12);
// f16 paths are compared against a reference that uses the same f16-rounded weights, so they get the
// same bound. The GELU's erf approximation is bounded by 2e-7 absolute (A&S 7.1.26 is 1.5e-7).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "edgevlm.h"
#include "gemm.h"
#include "ggml.h"
#include "kernel_check.h"
#include "ldp_reference.h"
#include "ops.h"
#include "simd.h"

using namespace edgevlm;
using namespace edgevlm::check;
using namespace edgevlm::ldpref;

namespace {

constexpr double kTol = 1e-10;  // f32 / f16 paths (see the header comment)

// ---------------- tests ----------------

void test_gemm(int m, int k, int n, bool f16, bool bias, bool gelu, bool colscale, int threads) {
    const Vec a = randn((size_t)m * k, 1.0f), b = randn(n, 0.5f), cs = randn(k, 0.3f, 1.0f);
    Vec w = randn((size_t)n * k, 0.05f);
    std::vector<uint16_t> halves;
    if (f16) w = round_f16(w, &halves);
    const PackedWeights pw(f16 ? (const void *)halves.data() : (const void *)w.data(), f16 ? Dtype::F16 : Dtype::F32, n, k);
    const int ldc = n + 3;  // a row stride wider than n checks that ldc is honoured
    Vec c((size_t)m * ldc, NAN);
    std::vector<Vec> scratch(threads, Vec(gemm_scratch_floats(m, k)));
    on_team(threads, [&](int tid, int nt) {
        gemm(pw, {a.data(), m, k, colscale ? cs.data() : nullptr, c.data(), ldc, bias ? b.data() : nullptr,
                  gelu ? Act::Gelu : Act::None}, tid, nt, scratch[tid].data());
    });
    Vec packed((size_t)m * n);
    for (int i = 0; i < m; ++i) std::memcpy(&packed[(size_t)i * n], &c[(size_t)i * ldc], n * sizeof(float));
    const DVec ref = linear_ref(a, m, k, w, n, bias ? b.data() : nullptr, colscale ? cs.data() : nullptr, gelu);
    char name[128];
    std::snprintf(name, sizeof name, "gemm %s m=%d k=%d n=%d%s%s%s t=%d", f16 ? "f16" : "f32", m, k, n,
                  bias ? " +bias" : "", gelu ? " gelu" : "", colscale ? " colscale" : "", threads);
    expect_nmse(name, packed.data(), ref, kTol);
}

// pack_in_place (the ViT's matrices, packed inside the mmproj's buffer) gives the same panels as the copying
// constructor: the same products, bit for bit.
void test_pack_in_place(bool f16) {
    const int m = 37, k = 70, n = 3 * PackedWeights::panel_width();
    const Vec a = randn((size_t)m * k, 1.0f);
    Vec w = randn((size_t)n * k, 0.05f);
    std::vector<uint16_t> halves;
    if (f16) w = round_f16(w, &halves);
    const void *src = f16 ? (const void *)halves.data() : (const void *)w.data();
    const PackedWeights copied(src, f16 ? Dtype::F16 : Dtype::F32, n, k);
    std::vector<uint8_t> buffer((const uint8_t *)src, (const uint8_t *)src + (size_t)n * k * (f16 ? 2 : 4));
    const PackedWeights view = PackedWeights::pack_in_place(buffer.data(), f16 ? Dtype::F16 : Dtype::F32, n, k);
    Vec c1((size_t)m * n), c2((size_t)m * n), scratch(gemm_scratch_floats(m, k));
    gemm(copied, {a.data(), m, k, nullptr, c1.data(), n, nullptr, Act::None}, 0, 1, scratch.data());
    gemm(view, {a.data(), m, k, nullptr, c2.data(), n, nullptr, Act::None}, 0, 1, scratch.data());
    expect(c1 == c2, std::string("pack_in_place == packed copy (") + (f16 ? "f16)" : "f32)"));
    bool threw = false;
    try {
        PackedWeights::pack_in_place(buffer.data(), Dtype::F32, n - 1, k);
    } catch (const std::invalid_argument &) {
        threw = true;
    }
    expect(threw, "pack_in_place rejects a partial panel");
}

void test_gelu() {
    Vec x(4001);
    for (size_t i = 0; i < x.size(); ++i) x[i] = -10.0f + 20.0f * (float)i / (float)(x.size() - 1);
    Vec y = x;
    gelu_inplace(y.data(), (int)y.size());
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(y[i] - gelu_ref(x[i])) / (1.0 + std::fabs(x[i])));
    std::printf("  %-52s max|err|/(1+|x|)=%.2e\n", "gelu (erf) on [-10, 10]", worst);
    expect(worst < 2e-7, "gelu error below 2e-7");
}

void test_pool_and_peg(int g, int w, int threads) {
    const Vec x = randn((size_t)g * g * w, 1.0f), k = randn((size_t)w * 9, 0.1f), b = randn(w, 0.1f);
    const int go = g / 2;
    Vec pooled((size_t)go * go * w), out(pooled.size());
    on_team(threads, [&](int tid, int n) { avgpool2x2(x.data(), g, w, pooled.data(), split(go * go, n, tid)); });
    DVec pref((size_t)go * go * w);
    for (int oy = 0; oy < go; ++oy)
        for (int ox = 0; ox < go; ++ox)
            for (int c = 0; c < w; ++c) {
                double s = 0;
                for (int dy = 0; dy < 2; ++dy)
                    for (int dx = 0; dx < 2; ++dx) s += x[((size_t)(2 * oy + dy) * g + 2 * ox + dx) * w + c];
                pref[((size_t)oy * go + ox) * w + c] = s / 4;
            }
    expect_nmse("avgpool2x2 g=" + std::to_string(g), pooled.data(), pref, kTol);
    const Vec taps = taps_of(k, w);
    on_team(threads, [&](int tid, int n) {
        peg_conv_residual(pooled.data(), go, w, taps.data(), b.data(), out.data(), split(go * go, n, tid));
    });
    DVec ref = dw_ref(to_d(pooled), go, w, k, 1);
    for (size_t i = 0; i < ref.size(); ++i) ref[i] += pooled[i] + b[i % w];
    expect_nmse("peg dwconv3x3 + bias + residual g=" + std::to_string(go), out.data(), ref, kTol);
}

void test_dw_ln_hswish(int g, int w, int stride, int threads) {
    const Vec x = randn((size_t)g * g * w, 1.0f), k = randn((size_t)w * 9, 0.2f);
    const Vec lw = randn(w, 0.1f, 1.0f), lb = randn(w, 0.1f);
    const int go = g / stride, rows = go * go;
    Vec out((size_t)rows * w), colsum((size_t)threads * w, 0.0f), rowbuf((size_t)threads * w);
    const Vec taps = taps_of(k, w);
    on_team(threads, [&](int tid, int n) {
        dw_ln_hswish(x.data(), g, stride, w, taps.data(), lw.data(), lb.data(), out.data(), colsum.data() + (size_t)tid * w,
                     rowbuf.data() + (size_t)tid * w, split(rows, n, tid));
    });
    DVec ref = ln_ref(dw_ref(to_d(x), g, w, k, stride), rows, w, lw, lb);
    DVec sums(w, 0.0);
    for (size_t i = 0; i < ref.size(); ++i) sums[i % w] += (ref[i] = hswish_ref(ref[i]));
    const std::string tag = " g=" + std::to_string(g) + " stride=" + std::to_string(stride) + " t=" + std::to_string(threads);
    expect_nmse("dwconv3x3 -> LayerNorm -> hardswish" + tag, out.data(), ref, kTol);
    Vec total(w, 0.0f);
    for (int t = 0; t < threads; ++t)
        for (int c = 0; c < w; ++c) total[c] += colsum[(size_t)t * w + c];
    expect_nmse("  its SE column sums" + tag, total.data(), sums, 1e-9);
}

void test_se_and_ln(int rows, int w, int s) {
    const Vec m = randn(w, 1.0f), w1 = randn((size_t)s * w, 0.1f), b1 = randn(s, 0.1f);
    const Vec w2 = randn((size_t)w * s, 0.1f), b2 = randn(w, 0.5f);
    Vec z(s), sc(w);
    matvec(w1.data(), m.data(), b1.data(), w, VecAct::Relu, z.data(), {0, s});
    matvec(w2.data(), z.data(), b2.data(), s, VecAct::HardSigmoid, sc.data(), {0, w});
    DVec zr(s), sr(w);
    for (int i = 0; i < s; ++i) {
        double acc = b1[i];
        for (int c = 0; c < w; ++c) acc += (double)w1[(size_t)i * w + c] * m[c];
        zr[i] = std::max(acc, 0.0);
    }
    for (int i = 0; i < w; ++i) {
        double acc = b2[i];
        for (int c = 0; c < s; ++c) acc += (double)w2[(size_t)i * s + c] * z[c];
        sr[i] = hsig_ref(acc);
    }
    expect_nmse("SE fc1 + ReLU", z.data(), zr, kTol);
    expect_nmse("SE fc2 + hardsigmoid", sc.data(), sr, kTol);
    const Vec x = randn((size_t)rows * w, 2.0f, 0.5f), res = randn((size_t)rows * w, 1.0f);
    const Vec lw = randn(w, 0.1f, 1.0f), lb = randn(w, 0.1f);
    Vec out((size_t)rows * w);
    layernorm_rows(x.data(), w, lw.data(), lb.data(), res.data(), out.data(), {0, rows});
    DVec ref = ln_ref(to_d(x), rows, w, lw, lb);
    for (size_t i = 0; i < ref.size(); ++i) ref[i] += res[i];
    expect_nmse("LayerNorm + residual", out.data(), ref, kTol);
}

// ---------------- whole projector through the C ABI ----------------

// n x k rows quantized to Q8_0 by ggml itself; v becomes ggml's dequantization of them.
std::vector<uint8_t> quantize_q8_0(Vec &v, int k) {
    const int64_t n = (int64_t)v.size() / k;
    std::vector<uint8_t> blocks(ggml_row_size(GGML_TYPE_Q8_0, k) * n);
    ggml_quantize_chunk(GGML_TYPE_Q8_0, v.data(), blocks.data(), 0, n, k, nullptr);
    ggml_get_type_traits(GGML_TYPE_Q8_0)->to_float(blocks.data(), v.data(), (int64_t)v.size());
    return blocks;
}

// dtype: the matrices' storage; the reference uses the same rounded weights. Q8_0 quantizes the Linear /
// pointwise matrices (conv kernels and SE stay f32) and the activations inside the GEMM: each product then
// carries ~2e-5 NMSE of int8 activation rounding (test_q8_gemm); v1 chains three of them through GELU,
// LayerNorm and hardswish (measured 2-3e-4; v2 5-7e-5). Bound 1e-3: a misread layout or scale gives ~1.
void test_projector(int version, Dtype dtype, int threads) {
    const bool q8 = dtype == Dtype::Q8_0;
    const int c = q8 ? 64 : 40, w = q8 ? 64 : 56, s = 16, g = 8;
    Weights W = make_weights(c, w, s);
    std::vector<std::vector<uint16_t>> halves;
    std::vector<std::vector<uint8_t>> blocks;
    halves.reserve(32);
    blocks.reserve(8);
    auto small = [&](Vec &v) -> const void * {  // conv kernels, SE matrices
        if (dtype != Dtype::F16) return v.data();
        halves.emplace_back();
        v = round_f16(v, &halves.back());
        return halves.back().data();
    };
    auto mat = [&](Vec &v, int k) -> const void * {  // Linear / pointwise matrices
        if (!q8) return small(v);
        blocks.push_back(quantize_q8_0(v, k));
        return blocks.back().data();
    };
    edgevlm_ldp_params p{};
    p.version = version; p.dtype = (int)dtype;
    p.n_embd = c; p.width = w; p.se_dim = s;
    p.fc1_w = mat(W.fc1, c); p.fc1_b = W.fc1b.data(); p.fc2_w = mat(W.fc2, w); p.fc2_b = W.fc2b.data();
    p.peg_w = small(W.peg); p.peg_b = W.pegb.data();
    for (int i = 0; i < 2; ++i) {
        edgevlm_ldp_block &b = p.blocks[i];
        b.dw_w = small(W.dw[i]); b.ln1_w = W.ln1w[i].data(); b.ln1_b = W.ln1b[i].data();
        b.se_fc1_w = small(W.se1[i]); b.se_fc1_b = W.se1b[i].data(); b.se_fc2_w = small(W.se2[i]); b.se_fc2_b = W.se2b[i].data();
        b.pw_w = mat(W.pw[i], w); b.ln2_w = W.ln2w[i].data(); b.ln2_b = W.ln2b[i].data();
    }
    edgevlm_ldp *ldp = edgevlm_ldp_create(&p);
    const char *dname = dtype == Dtype::F32 ? " f32" : dtype == Dtype::F16 ? " f16" : " q8_0";
    const std::string name = std::string("projector v") + std::to_string(version) + dname + " C=" + std::to_string(c) +
                             " W=" + std::to_string(w) + " g=8 t=" + std::to_string(threads);
    if (!ldp) {
        std::printf("  %s: create failed: %s\n", name.c_str(), edgevlm_last_error());
        ++failures();
        return;
    }
    const Vec x = randn((size_t)g * g * c, 1.0f);
    Vec out((size_t)(g / 2) * (g / 2) * w, NAN);
    const int st = edgevlm_ldp_forward(ldp, x.data(), g * g, out.data(), threads);
    expect(st == EDGEVLM_OK, name + " forward status");
    expect_nmse(name, out.data(), projector_ref(version, W, x, g, c, w, s), q8 ? 1e-3 : 1e-10);
    expect(edgevlm_ldp_forward(ldp, x.data(), 63, out.data(), threads) == EDGEVLM_ERR_INVALID_ARGUMENT &&
               std::strstr(edgevlm_last_error(), "n_tokens") != nullptr,
           name + " rejects 63 tokens");
    edgevlm_ldp_free(ldp);
}

void test_q8_0_shape_errors() {
    Weights W = make_weights(40, 56, 16);
    edgevlm_ldp_params p{};
    p.version = EDGEVLM_LDP_V2; p.dtype = EDGEVLM_DTYPE_Q8_0; p.n_embd = 40; p.width = 56;
    std::vector<uint8_t> junk(56 * 56 * 2);
    p.fc1_w = p.fc2_w = junk.data(); p.fc1_b = p.fc2_b = W.fc1b.data(); p.peg_w = W.peg.data(); p.peg_b = W.pegb.data();
    expect(edgevlm_ldp_create(&p) == nullptr && std::strstr(edgevlm_last_error(), "multiples of 16") != nullptr,
           "Q8_0 with a width that is not whole panels: error names the rule");
}

void test_abi_errors() {
    edgevlm_ldp_params p{};
    p.version = 3; p.n_embd = 4; p.width = 4;
    expect(edgevlm_ldp_create(&p) == nullptr && std::strstr(edgevlm_last_error(), "version") != nullptr,
           "create rejects version 3 with a message");
    p.version = EDGEVLM_LDP_V2;
    expect(edgevlm_ldp_create(&p) == nullptr && std::strstr(edgevlm_last_error(), "fc1_w") != nullptr,
           "create names the missing tensor");
    expect(edgevlm_ldp_create(nullptr) == nullptr, "create rejects NULL params");
    expect(std::strlen(edgevlm_version()) > 0 && std::strcmp(edgevlm_simd(), EDGEVLM_SIMD_NAME) == 0,
           std::string("version ") + edgevlm_version() + ", simd " + edgevlm_simd());
}

void test_half() {
    const float vals[] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 1e-3f, 3.14159f};
    bool ok = true;
    for (float v : vals) {
        const float r = half_to_float(float_to_half(v));
        ok = ok && std::fabs(r - v) <= std::fabs(v) * 4.9e-4f;  // half has 11 significant bits: 2^-11 relative
    }
    expect(ok, "f16 <-> f32 conversion round trip (normal + subnormal)");
}

}  // namespace

int main() {
    std::printf("edgevlm %s, SIMD %s, micro-tile %dx%d\n", edgevlm_version(), edgevlm_simd(), simd::kMR, simd::kNR);
    test_half();
    test_gelu();
    test_pack_in_place(false);
    test_pack_in_place(true);
    for (bool f16 : {false, true}) {
        test_gemm(1, 1, 1, f16, false, false, false, 1);
        test_gemm(13, 7, 33, f16, true, false, false, 1);
        test_gemm(29, 300, 70, f16, true, true, false, 2);
        test_gemm(64, 520, 100, f16, false, false, true, 3);
        test_gemm(100, 64, 600, f16, true, false, false, 2);  // many panels: threads split columns
    }
    for (int t : {1, 3}) test_pool_and_peg(8, 37, t);
    for (int stride : {1, 2}) test_dw_ln_hswish(8, 37, stride, 2);
    test_se_and_ln(9, 37, 11);
    for (int version : {EDGEVLM_LDP_V1, EDGEVLM_LDP_V2})
        for (Dtype dtype : {Dtype::F32, Dtype::F16, Dtype::Q8_0})
            for (int t : {1, 2}) test_projector(version, dtype, t);
    test_q8_0_shape_errors();
    test_abi_errors();
    return finish();
}
