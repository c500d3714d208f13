// MobileVLM's LDP / LDPv2 projector as a ggml graph on the ViT's backend. Used where ggml runs the ViT on a
// GPU (CUDA on a Jetson): the ViT writes its 576 x 1024 features into a persistent tensor on that backend
// (features()), this graph reads them there, and only the 144 x W embeddings come back to the host.
// The computation is the PyTorch reference's (edgevlm/reference/projector.py): exact erf GELU, LayerNorm
// over channels, hardswish / hardsigmoid squeeze-excitation, zero-padded depthwise 3x3 convs; for LDPv2
// the 2x2 average pool is taken before the second Linear (an affine map commutes with averaging), as the
// LDP kernel does, so that matmul runs on 144 rows instead of 576.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "mmproj.h"

namespace edgevlm {

// How the graph keeps one projector tensor on the backend.
enum class GraphWeightRole {
    Matrix,    // mul_mat weight: keeps the file's f32 / f16 / q8_0
    DwKernel,  // depthwise 3x3 conv kernel: f32, tap-major (see dw_kernel_tap_major)
    Vector,    // bias / LayerNorm vector: f32
};

struct GraphWeightSpec {
    GraphWeightRole role;
    ggml_type type;
    int64_t ne[4];
};

// The backend type and shape of projector tensor `name` (an mm.* tensor of a `version` mmproj) given its
// type and shape in the file. Throws std::runtime_error for a name the projector does not read.
GraphWeightSpec graph_weight_spec(int version, const std::string &name, ggml_type file_type, const int64_t *file_ne);

// A depthwise kernel as stored (C planes of 3 x 3, f32) rearranged tap-major, [9][C]: ggml's channels-last
// depthwise conv reads one contiguous vector of channels per tap.
std::vector<float> dw_kernel_tap_major(const std::vector<float> &kernel, int64_t channels);

class ProjectorGraph {
public:
    // m must have been loaded with ProjectorPlacement::Backend on `backend`. Throws std::runtime_error when a
    // tensor is missing or the backend cannot run one of the graph's ops.
    ProjectorGraph(const Mmproj &m, ggml_backend_t backend);
    ~ProjectorGraph();
    ProjectorGraph(const ProjectorGraph &) = delete;
    ProjectorGraph &operator=(const ProjectorGraph &) = delete;

    // The n_embd x n_patches f32 input, in its own buffer on the backend: the ViT graph writes it.
    ggml_tensor *features() const { return features_; }
    int width() const { return (int)output_->ne[0]; }

    // Projects what features() holds: out is n_tokens x width, row-major. Throws on backend failure.
    void run(float *out);
    // Uploads host features (n_patches x n_embd, row-major) first.
    void run(const float *features, float *out);

private:
    ggml_tensor *weight(const std::string &name) const { return m_.proj_weight(name); }
    ggml_tensor *build_v1(ggml_tensor *feats, int grid);
    ggml_tensor *build_v2(ggml_tensor *feats, int grid);
    ggml_tensor *mobilenet_block(ggml_tensor *x, int grid, const std::string &prefix, int stride, bool residual);
    ggml_tensor *squeeze_excite(ggml_tensor *x, const std::string &prefix);
    void check_backend_supports_graph() const;

    const Mmproj &m_;
    ggml_backend_t backend_;
    ggml_context *features_ctx_ = nullptr;
    ggml_backend_buffer_t features_buf_ = nullptr;
    ggml_tensor *features_ = nullptr;
    ggml_context *ctx_ = nullptr;
    ggml_cgraph *graph_ = nullptr;
    ggml_gallocr_t alloc_ = nullptr;
    ggml_tensor *output_ = nullptr;
};

}  // namespace edgevlm
