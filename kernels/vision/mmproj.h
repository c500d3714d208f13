// An mmproj GGUF read through ggml's gguf API: the CLIP hyper-parameters, the ViT weights in a ggml
// backend buffer (any backend: CPU now, CUDA on Jetson), and the projector weights either on the host for
// the LDP kernel or beside the ViT's in the backend buffer for the ggml projector graph (never both).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "ggml.h"

namespace edgevlm {

struct VitHparams {
    int image_size = 336, patch_size = 14, n_embd = 1024, n_ff = 4096, n_head = 16;
    int n_layer_stored = 0;  // clip.vision.block_count
    int n_layer_run = 0;     // block_count + 1 + edgevlm.vision.select_layer (all stored if the key is absent)
    float eps = 1e-5f;
    float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    int grid() const { return image_size / patch_size; }
    int n_patches() const { return grid() * grid(); }
};

struct VitLayer {
    ggml_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    ggml_tensor *ln1_w, *ln1_b, *ln2_w, *ln2_b, *up_w, *up_b, *down_w, *down_b;
};

struct VitWeights {
    ggml_tensor *class_embd, *patch_w, *patch_b, *pos_embd, *pre_ln_w, *pre_ln_b;
    std::vector<VitLayer> layers;  // only the n_layer_run layers that are executed
};

// A projector tensor on the host: f16 (uint16 halves) and Q8_0 (ggml blocks) kept as stored, everything
// else widened to f32.
struct HostTensor {
    std::vector<float> f32;
    std::vector<uint16_t> f16;
    std::vector<uint8_t> q8_0;
    int64_t ne[4] = {1, 1, 1, 1};
    bool is_f16() const { return !f16.empty(); }
    bool is_q8_0() const { return !q8_0.empty(); }
    int64_t size() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
    std::vector<float> widened() const;  // any storage as f32
};

// Where the projector's mm.* tensors go: the LDP kernel reads host vectors, the ggml graph backend tensors.
enum class ProjectorPlacement { Host, Backend };

struct Mmproj {
    VitHparams hp;
    int projector = 0;  // enum edgevlm_ldp_version
    std::string weight_type;
    VitWeights vit;
    std::vector<std::pair<std::string, HostTensor>> proj;  // every mm.* tensor (ProjectorPlacement::Host)

    ggml_context *ctx = nullptr;                // tensor metadata (no data)
    ggml_backend_buffer_t buffer = nullptr;     // tensor data on the backend
    ~Mmproj();
    const HostTensor &proj_tensor(const std::string &name) const;  // Host placement; throws if absent
    ggml_tensor *proj_weight(const std::string &name) const;       // Backend placement; throws if absent
};

// Throws std::runtime_error with a message naming the file and the problem.
std::unique_ptr<Mmproj> load_mmproj(const std::string &path, ggml_backend_t backend, ProjectorPlacement placement);

}  // namespace edgevlm
