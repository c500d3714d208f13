// Times stock llama.cpp's LDP / LDPv2 projector: the same ggml ops, in the same order, that
// tools/mtmd/models/llava.cpp builds for PROJECTOR_TYPE_LDP / LDPV2 at the pinned commit, on ggml's CPU
// backend, with an mmproj's tensor types (matrices and conv kernels f16 by default, vectors f32).
// Weights are random: throughput does not depend on their values.
//
//   edgevlm-bench-ldp-stock --version v2 --width 2048 --threads 2 --reps 10 --warmup 2 [--wtype f16|f32]
// prints one JSON object: {"version":..., "median_ms":..., "samples_ms":[...]}.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml.h"

namespace {

struct Args {
    std::string version = "v2", wtype = "f16";
    int width = 2048, n_embd = 1024, threads = 2, reps = 10, warmup = 2;
};

Args parse(int argc, char **argv) {
    Args a;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--version") a.version = v;
        else if (k == "--wtype") a.wtype = v;
        else if (k == "--width") a.width = std::atoi(v.c_str());
        else if (k == "--n-embd") a.n_embd = std::atoi(v.c_str());
        else if (k == "--threads") a.threads = std::atoi(v.c_str());
        else if (k == "--reps") a.reps = std::atoi(v.c_str());
        else if (k == "--warmup") a.warmup = std::atoi(v.c_str());
        else { std::fprintf(stderr, "unknown argument %s\n", k.c_str()); std::exit(2); }
    }
    if ((a.version != "v1" && a.version != "v2") || (a.wtype != "f16" && a.wtype != "f32") || a.width <= 0 ||
        a.n_embd <= 0 || a.threads <= 0 || a.reps <= 0) {
        std::fprintf(stderr, "usage: --version v1|v2 --wtype f16|f32 --width W --n-embd C --threads N --reps R\n");
        std::exit(2);
    }
    return a;
}

// Weight tensors in their own context (allocated on the backend), created in graph order.
struct Model {
    ggml_context *ctx = nullptr;
    std::vector<ggml_tensor *> all;
    ggml_type wtype;
    ggml_tensor *mat(int64_t ne0, int64_t ne1) { return keep(ggml_new_tensor_2d(ctx, wtype, ne0, ne1)); }
    ggml_tensor *conv(int64_t w) { return keep(ggml_new_tensor_3d(ctx, wtype, 3, 3, w)); }
    ggml_tensor *vec(int64_t n) { return keep(ggml_new_tensor_1d(ctx, GGML_TYPE_F32, n)); }
    ggml_tensor *keep(ggml_tensor *t) { all.push_back(t); return t; }
};

struct Block {
    ggml_tensor *dw, *ln1_w, *ln1_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b, *pw, *ln2_w, *ln2_b;
};

constexpr float kEps = 1e-5f;  // clip.vision.attention.layer_norm_epsilon

ggml_tensor *layer_norm(ggml_context *c, ggml_tensor *x, ggml_tensor *w, ggml_tensor *b) {
    return ggml_add(c, ggml_mul(c, ggml_norm(c, x, kEps), w), b);
}

// Squeeze-excitation as stock builds it: global average pool, fc1 + ReLU, fc2 + hardsigmoid, scale.
ggml_tensor *squeeze_excite(ggml_context *c, ggml_tensor *hw, const Block &b) {
    ggml_tensor *s = ggml_pool_2d(c, hw, GGML_OP_POOL_AVG, hw->ne[0], hw->ne[1], hw->ne[0], hw->ne[1], 0, 0);
    s = ggml_reshape_2d(c, s, s->ne[0] * s->ne[1] * s->ne[2], s->ne[3]);
    s = ggml_relu(c, ggml_add(c, ggml_mul_mat(c, b.fc1_w, s), b.fc1_b));
    s = ggml_hardsigmoid(c, ggml_add(c, ggml_mul_mat(c, b.fc2_w, s), b.fc2_b));
    s = ggml_reshape_4d(c, s, 1, 1, s->ne[0], s->ne[1]);
    return ggml_mul(c, hw, s);
}

// One MobileNetV3 block of stock's LDP graph; x is channel-planar [g, g, W].
ggml_tensor *ldp_block(ggml_context *c, ggml_tensor *x, const Block &b, int stride, bool residual) {
    ggml_tensor *y = ggml_conv_2d_dw(c, b.dw, x, stride, stride, 1, 1, 1, 1);
    y = ggml_cont(c, ggml_permute(c, y, 1, 2, 0, 3));
    y = ggml_cont(c, ggml_permute(c, layer_norm(c, y, b.ln1_w, b.ln1_b), 2, 0, 1, 3));
    y = squeeze_excite(c, ggml_hardswish(c, y), b);
    const int64_t w = y->ne[0], h = y->ne[1];
    y = ggml_reshape_3d(c, y, w * h, y->ne[2], y->ne[3]);
    y = ggml_cont(c, ggml_permute(c, y, 1, 0, 2, 3));
    y = ggml_mul_mat(c, b.pw, y);
    y = ggml_reshape_4d(c, y, y->ne[0], w, h, y->ne[3]);
    y = layer_norm(c, y, b.ln2_w, b.ln2_b);
    if (!residual) return ggml_reshape_3d(c, y, y->ne[0], y->ne[1] * y->ne[2], y->ne[3]);
    return ggml_add(c, x, ggml_cont(c, ggml_permute(c, y, 2, 0, 1, 3)));
}

ggml_tensor *build_v1(ggml_context *c, Model &m, ggml_tensor *in, int W, int S) {
    const int g = 24;
    ggml_tensor *h = ggml_gelu(c, ggml_add(c, ggml_mul_mat(c, m.mat(in->ne[0], W), in), m.vec(W)));
    h = ggml_add(c, ggml_mul_mat(c, m.mat(W, W), h), m.vec(W));
    h = ggml_cont_4d(c, ggml_permute(c, h, 1, 0, 2, 3), g, g, W, 1);
    Block b[2];
    for (Block &blk : b)
        blk = {m.conv(W), m.vec(W), m.vec(W), m.mat(W, S), m.vec(S), m.mat(S, W), m.vec(W), m.mat(W, W), m.vec(W), m.vec(W)};
    return ldp_block(c, ldp_block(c, h, b[0], 1, true), b[1], 2, false);
}

// Stock order: second Linear on all 576 tokens, then pool, then PEG.
ggml_tensor *build_v2(ggml_context *c, Model &m, ggml_tensor *in, int W) {
    const int g = 24;
    ggml_tensor *h = ggml_gelu(c, ggml_add(c, ggml_mul_mat(c, m.mat(in->ne[0], W), in), m.vec(W)));
    h = ggml_add(c, ggml_mul_mat(c, m.mat(W, W), h), m.vec(W));
    h = ggml_cont_4d(c, ggml_permute(c, h, 1, 0, 2, 3), g, g, W, 1);
    h = ggml_pool_2d(c, h, GGML_OP_POOL_AVG, 2, 2, 2, 2, 0, 0);
    ggml_tensor *peg = ggml_conv_2d_dw(c, m.conv(W), h, 1, 1, 1, 1, 1, 1);
    peg = ggml_add(c, ggml_cont(c, ggml_permute(c, peg, 1, 2, 0, 3)), m.vec(W));
    peg = ggml_add(c, peg, ggml_cont(c, ggml_permute(c, h, 1, 2, 0, 3)));
    return ggml_reshape_3d(c, peg, peg->ne[0], peg->ne[1] * peg->ne[2], peg->ne[3]);
}

void fill_random(ggml_tensor *t, std::mt19937 &rng) {
    std::normal_distribution<float> d(0.0f, 0.02f);
    std::vector<float> v(ggml_nelements(t));
    for (float &x : v) x = d(rng);
    if (t->type == GGML_TYPE_F16) {
        std::vector<ggml_fp16_t> h(v.size());
        ggml_fp32_to_fp16_row(v.data(), h.data(), (int64_t)v.size());
        ggml_backend_tensor_set(t, h.data(), 0, h.size() * sizeof(ggml_fp16_t));
    } else {
        ggml_backend_tensor_set(t, v.data(), 0, v.size() * sizeof(float));
    }
}

}  // namespace

int main(int argc, char **argv) {
    const Args a = parse(argc, argv);
    const int W = a.width, S = std::max(8, (W / 4 + 4) / 8 * 8);  // torchvision _make_divisible(W/4, 8)
    ggml_backend_t backend = ggml_backend_cpu_init();
    ggml_backend_cpu_set_n_threads(backend, a.threads);

    Model m;
    m.wtype = a.wtype == "f16" ? GGML_TYPE_F16 : GGML_TYPE_F32;
    ggml_init_params wp = {ggml_tensor_overhead() * 64, nullptr, true};
    m.ctx = ggml_init(wp);
    const size_t graph_size = 4096;
    ggml_init_params gp = {ggml_tensor_overhead() * graph_size + ggml_graph_overhead_custom(graph_size, false), nullptr, true};
    ggml_context *gctx = ggml_init(gp);
    ggml_tensor *in = ggml_new_tensor_2d(gctx, GGML_TYPE_F32, a.n_embd, 576);
    ggml_set_input(in);
    ggml_tensor *out = a.version == "v1" ? build_v1(gctx, m, in, W, S) : build_v2(gctx, m, in, W);
    ggml_set_output(out);
    ggml_cgraph *gf = ggml_new_graph_custom(gctx, graph_size, false);
    ggml_build_forward_expand(gf, out);

    ggml_backend_buffer_t wbuf = ggml_backend_alloc_ctx_tensors(m.ctx, backend);
    std::mt19937 rng(42);
    for (ggml_tensor *t : m.all) fill_random(t, rng);
    ggml_gallocr_t galloc = ggml_gallocr_new(ggml_backend_get_default_buffer_type(backend));
    if (!ggml_gallocr_alloc_graph(galloc, gf)) { std::fprintf(stderr, "graph allocation failed\n"); return 1; }
    {
        std::vector<float> x((size_t)a.n_embd * 576);
        std::normal_distribution<float> d(0.0f, 1.0f);
        for (float &v : x) v = d(rng);
        ggml_backend_tensor_set(in, x.data(), 0, x.size() * sizeof(float));
    }

    std::vector<double> ms;
    for (int r = 0; r < a.warmup + a.reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        if (ggml_backend_graph_compute(backend, gf) != GGML_STATUS_SUCCESS) { std::fprintf(stderr, "compute failed\n"); return 1; }
        const double dt = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (r >= a.warmup) ms.push_back(dt);
    }
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted.size() % 2 ? sorted[sorted.size() / 2]
                                            : 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);
    std::printf("{\"version\": \"%s\", \"wtype\": \"%s\", \"width\": %d, \"n_embd\": %d, \"threads\": %d, "
                "\"out_rows\": %lld, \"median_ms\": %.4f, \"samples_ms\": [",
                a.version.c_str(), a.wtype.c_str(), W, a.n_embd, a.threads, (long long)out->ne[1], median);
    for (size_t i = 0; i < ms.size(); ++i) std::printf("%s%.4f", i ? ", " : "", ms[i]);
    std::printf("]}\n");

    ggml_gallocr_free(galloc);
    ggml_backend_buffer_free(wbuf);
    ggml_free(gctx);
    ggml_free(m.ctx);
    ggml_backend_free(backend);
    return 0;
}
