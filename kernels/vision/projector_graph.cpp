#include "projector_graph.h"

#include <stdexcept>
#include <utility>

#include "ldp_names.h"

namespace edgevlm {

namespace {

constexpr int kGraphNodes = 256;  // LDP v1 builds ~60 nodes, LDPv2 ~20
constexpr float kLayerNormEps = 1e-5f;  // MobileVLM's LayerNorm2d(eps=1e-5) in both blocks, fixed in its code

// Every tensor the graph reads, with its role: exact names, no pattern matching.
std::vector<std::pair<std::string, GraphWeightRole>> graph_weights(int version) {
    using R = GraphWeightRole;
    const LdpNames n(version);
    std::vector<std::pair<std::string, R>> w = {
        {n.fc1 + "weight", R::Matrix}, {n.fc1 + "bias", R::Vector},
        {n.fc2 + "weight", R::Matrix}, {n.fc2 + "bias", R::Vector}};
    if (n.v2) {
        w.insert(w.end(), {{n.peg + "weight", R::DwKernel}, {n.peg + "bias", R::Vector}});
        return w;
    }
    for (const std::string &b : n.block) {
        w.insert(w.end(), {{b + "0.0.weight", R::DwKernel}, {b + "0.1.weight", R::Vector}, {b + "0.1.bias", R::Vector},
                           {b + "1.fc1.weight", R::Matrix}, {b + "1.fc1.bias", R::Vector},
                           {b + "1.fc2.weight", R::Matrix}, {b + "1.fc2.bias", R::Vector},
                           {b + "2.0.weight", R::Matrix}, {b + "2.1.weight", R::Vector}, {b + "2.1.bias", R::Vector}});
    }
    return w;
}

ggml_tensor *linear(ggml_context *ctx, ggml_tensor *x, ggml_tensor *w, ggml_tensor *b) {
    return ggml_add(ctx, ggml_mul_mat(ctx, w, x), b);
}

// LayerNorm over the channels of a channel-fastest map: ggml_norm normalises along ne[0].
ggml_tensor *channel_norm(ggml_context *ctx, ggml_tensor *x, ggml_tensor *w, ggml_tensor *b) {
    return ggml_add(ctx, ggml_mul(ctx, ggml_norm(ctx, x, kLayerNormEps), w), b);
}

// x: [C, grid*grid] channel-fastest -> Conv2d(C, C, 3, stride, padding=1, groups=C), no bias, as [C, out*out].
// The map stays channels-last: ggml's depthwise conv takes it as a permuted [grid, grid, C] view (no copy)
// with a tap-major kernel [C, 1, 3, 3] seen as [3, 3, 1, C], and writes channels-last as well.
ggml_tensor *depthwise3x3(ggml_context *ctx, ggml_tensor *x, int grid, ggml_tensor *taps, int stride) {
    const int64_t c = x->ne[0];
    ggml_tensor *whc = ggml_permute(ctx, ggml_reshape_3d(ctx, x, c, grid, grid), 2, 0, 1, 3);
    ggml_tensor *kernel = ggml_permute(ctx, taps, 3, 2, 0, 1);
    ggml_tensor *y = ggml_conv_2d_dw_direct(ctx, kernel, whc, stride, stride, 1, 1, 1, 1);
    y = ggml_permute(ctx, y, 1, 2, 0, 3);  // [C, out, out]: the same bytes, contiguous again
    return ggml_reshape_2d(ctx, y, c, y->ne[1] * y->ne[2]);
}

// 2x2 average pool of x [C, grid*grid] -> [C, (grid/2)^2]: AdaptiveAvgPool2d(12) on MobileVLM's 24 x 24 grid.
// Sums of strided views (even + odd columns, then even + odd rows), so the channels-last layout is kept.
ggml_tensor *avg_pool2x2(ggml_context *ctx, ggml_tensor *x, int grid) {
    const int64_t c = x->ne[0], h = grid / 2;
    const size_t e = ggml_element_size(x);
    ggml_tensor *cols = ggml_add(ctx, ggml_view_3d(ctx, x, c, h, grid, 2 * c * e, grid * c * e, 0),
                                 ggml_view_3d(ctx, x, c, h, grid, 2 * c * e, grid * c * e, c * e));  // [C, h, grid]
    ggml_tensor *rows = ggml_add(ctx, ggml_view_3d(ctx, cols, c, h, h, c * e, 2 * h * c * e, 0),
                                 ggml_view_3d(ctx, cols, c, h, h, c * e, 2 * h * c * e, h * c * e));  // [C, h, h]
    return ggml_reshape_2d(ctx, ggml_scale(ctx, rows, 0.25f), c, h * h);
}

}  // namespace

GraphWeightSpec graph_weight_spec(int version, const std::string &name, ggml_type file_type, const int64_t *file_ne) {
    for (const auto &w : graph_weights(version)) {
        if (w.first != name) continue;
        GraphWeightSpec s{w.second, GGML_TYPE_F32, {file_ne[0], file_ne[1], file_ne[2], file_ne[3]}};
        if (s.role == GraphWeightRole::Matrix &&
            (file_type == GGML_TYPE_F16 || file_type == GGML_TYPE_Q8_0))
            s.type = file_type;  // mul_mat takes them as stored: no widening, no extra bytes on the device
        if (s.role == GraphWeightRole::DwKernel) {
            if (file_ne[0] != 3 || file_ne[1] != 3) throw std::runtime_error(name + " is not a 3x3 depthwise kernel");
            const int64_t channels = file_ne[2] * file_ne[3];
            s.ne[0] = channels, s.ne[1] = 1, s.ne[2] = 3, s.ne[3] = 3;
        }
        return s;
    }
    throw std::runtime_error("the projector graph does not know tensor " + name);
}

std::vector<float> dw_kernel_tap_major(const std::vector<float> &kernel, int64_t channels) {
    if ((int64_t)kernel.size() != channels * 9) throw std::runtime_error("depthwise kernel is not C x 3 x 3");
    std::vector<float> taps(kernel.size());
    for (int64_t c = 0; c < channels; ++c)
        for (int t = 0; t < 9; ++t) taps[(size_t)t * channels + c] = kernel[(size_t)c * 9 + t];
    return taps;
}

ProjectorGraph::ProjectorGraph(const Mmproj &m, ggml_backend_t backend) : m_(m), backend_(backend) {
    const VitHparams &hp = m.hp;
    ggml_init_params fp = {ggml_tensor_overhead(), nullptr, true};
    features_ctx_ = ggml_init(fp);
    features_ = ggml_new_tensor_2d(features_ctx_, GGML_TYPE_F32, hp.n_embd, hp.n_patches());
    ggml_set_name(features_, "vit_features");
    features_buf_ = ggml_backend_alloc_ctx_tensors(features_ctx_, backend);
    if (!features_buf_) throw std::runtime_error("cannot allocate the ViT features on the backend");

    ggml_init_params ip = {ggml_tensor_overhead() * kGraphNodes + ggml_graph_overhead_custom(kGraphNodes, false),
                           nullptr, true};
    ctx_ = ggml_init(ip);
    graph_ = ggml_new_graph_custom(ctx_, kGraphNodes, false);
    output_ = m.projector == EDGEVLM_LDP_V2 ? build_v2(features_, hp.grid()) : build_v1(features_, hp.grid());
    ggml_set_name(output_, "embeddings");
    ggml_set_output(output_);
    ggml_build_forward_expand(graph_, output_);
    check_backend_supports_graph();
    alloc_ = ggml_gallocr_new(ggml_backend_get_default_buffer_type(backend_));
    if (!ggml_gallocr_alloc_graph(alloc_, graph_)) throw std::runtime_error("cannot allocate the projector graph");
}

ProjectorGraph::~ProjectorGraph() {
    if (alloc_) ggml_gallocr_free(alloc_);
    if (ctx_) ggml_free(ctx_);
    if (features_buf_) ggml_backend_buffer_free(features_buf_);
    if (features_ctx_) ggml_free(features_ctx_);
}

// LDPv2: Linear -> GELU -> pool 2x2 -> Linear (pooled first, see the header) -> PEG: dwconv + bias + input.
ggml_tensor *ProjectorGraph::build_v2(ggml_tensor *feats, int grid) {
    const LdpNames n(EDGEVLM_LDP_V2);
    ggml_tensor *h = ggml_gelu_erf(ctx_, linear(ctx_, feats, weight(n.fc1 + "weight"), weight(n.fc1 + "bias")));
    h = linear(ctx_, avg_pool2x2(ctx_, h, grid), weight(n.fc2 + "weight"), weight(n.fc2 + "bias"));
    ggml_tensor *peg = depthwise3x3(ctx_, h, grid / 2, weight(n.peg + "weight"), 1);
    return ggml_add(ctx_, ggml_add(ctx_, peg, weight(n.peg + "bias")), h);
}

// LDP v1: Linear -> GELU -> Linear on every token, then MobileNetV3 blocks at stride 1 (residual) and 2.
ggml_tensor *ProjectorGraph::build_v1(ggml_tensor *feats, int grid) {
    const LdpNames n(EDGEVLM_LDP_V1);
    ggml_tensor *h = ggml_gelu_erf(ctx_, linear(ctx_, feats, weight(n.fc1 + "weight"), weight(n.fc1 + "bias")));
    h = linear(ctx_, h, weight(n.fc2 + "weight"), weight(n.fc2 + "bias"));
    h = mobilenet_block(h, grid, n.block[0], 1, true);
    return mobilenet_block(h, grid, n.block[1], 2, false);
}

// torchvision's InvertedResidual with expand == in: dwconv -> LayerNorm -> hardswish -> SE -> pointwise
// conv (a matmul over channels) -> LayerNorm [+ x]. x: [C, grid*grid].
ggml_tensor *ProjectorGraph::mobilenet_block(ggml_tensor *x, int grid, const std::string &b, int stride, bool residual) {
    ggml_tensor *y = depthwise3x3(ctx_, x, grid, weight(b + "0.0.weight"), stride);
    y = ggml_hardswish(ctx_, channel_norm(ctx_, y, weight(b + "0.1.weight"), weight(b + "0.1.bias")));
    y = ggml_mul(ctx_, y, squeeze_excite(y, b));
    y = channel_norm(ctx_, ggml_mul_mat(ctx_, weight(b + "2.0.weight"), y), weight(b + "2.1.weight"),
                     weight(b + "2.1.bias"));
    return residual ? ggml_add(ctx_, y, x) : y;
}

// Squeeze-excitation scale [C, 1]: hardsigmoid(fc2(relu(fc1(mean over positions)))).
ggml_tensor *ProjectorGraph::squeeze_excite(ggml_tensor *x, const std::string &b) {
    // ggml_mean reduces along ne[0], so the positions are brought there first (C x positions floats: small).
    ggml_tensor *mean = ggml_mean(ctx_, ggml_cont(ctx_, ggml_transpose(ctx_, x)));  // [1, C]
    mean = ggml_reshape_2d(ctx_, mean, x->ne[0], 1);
    ggml_tensor *s = ggml_relu(ctx_, linear(ctx_, mean, weight(b + "1.fc1.weight"), weight(b + "1.fc1.bias")));
    return ggml_hardsigmoid(ctx_, linear(ctx_, s, weight(b + "1.fc2.weight"), weight(b + "1.fc2.bias")));
}

// A backend that lacks an op would abort inside ggml at the first encode; say so at load instead.
void ProjectorGraph::check_backend_supports_graph() const {
    for (int i = 0; i < ggml_graph_n_nodes(graph_); ++i) {
        ggml_tensor *node = ggml_graph_node(graph_, i);
        if (!ggml_backend_supports_op(backend_, node))
            throw std::runtime_error(std::string("the ggml projector needs ") + ggml_op_desc(node) + ", which backend " +
                                     ggml_backend_name(backend_) + " does not run; set EDGEVLM_PROJECTOR=kernel");
    }
}

void ProjectorGraph::run(float *out) {
    if (ggml_backend_graph_compute(backend_, graph_) != GGML_STATUS_SUCCESS)
        throw std::runtime_error("projector graph compute failed on backend " + std::string(ggml_backend_name(backend_)));
    ggml_backend_tensor_get(output_, out, 0, ggml_nbytes(output_));
}

void ProjectorGraph::run(const float *features, float *out) {
    ggml_backend_tensor_set(features_, features, 0, ggml_nbytes(features_));
    run(out);
}

}  // namespace edgevlm
