// The CLIP ViT of MobileVLM as a ggml graph, built once per loaded mmproj and run on one ggml backend.
// MobileVLM's order: patch embedding, CLS prepended as row 0, position embeddings 0..n_patches,
// pre-LayerNorm, the selected encoder layers (quick_gelu MLP), no post-LayerNorm, CLS dropped.
#pragma once

#include <memory>
#include <string>

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "mmproj.h"
#include "cpu_attention.h"
#include "cpu_linear.h"

namespace edgevlm {

class Vit {
public:
    // features_dst (optional): a persistent n_embd x n_patches f32 tensor on the same backend that the graph
    // writes its output into, so a projector graph can read it there (no round trip through the host).
    // edgevlm_matmul: where cpu_linear_kind() allows, the Vit takes the layer matrices over: they are repacked
    // in place for edgevlm's GEMMs (cpu_linear.h), so one Mmproj serves one Vit. false: ggml's mul_mat.
    // pack_threads: threads for that one-time repack.
    Vit(Mmproj &m, ggml_backend_t backend, ggml_tensor *features_dst, bool edgevlm_matmul, int pack_threads = 1);
    ~Vit();
    Vit(const Vit &) = delete;
    Vit &operator=(const Vit &) = delete;

    // pixels: 3 x S x S planar floats; features: n_patches x n_embd row-major, or nullptr to leave them on
    // the backend only (in features_dst). Throws on backend failure.
    // "int8-gemm/<isa>", "f16-gemm/neon-fp16" or "f32-gemm/<simd>" when edgevlm's GEMMs run the matrices,
    // else "ggml"; "+f16-attention" when edgevlm's attention kernel runs too.
    const char *matmul_impl() const { return matmul_impl_.c_str(); }

    void run(const float *pixels, float *features);

private:
    ggml_tensor *layer(ggml_tensor *x, const VitLayer &l) const;
    ggml_tensor *ggml_attention(ggml_tensor *h, const VitLayer &l, int n_pos, int d_head) const;
    ggml_tensor *linear(ggml_tensor *x, ggml_tensor *w, ggml_tensor *b) const;

    const Mmproj &m_;
    ggml_backend_t backend_;
    ggml_context *ctx_ = nullptr;
    ggml_cgraph *graph_ = nullptr;
    ggml_gallocr_t alloc_ = nullptr;
    ggml_tensor *input_ = nullptr, *output_ = nullptr;
    std::unique_ptr<CpuLinear> cpu_linear_;  // set when edgevlm's GEMMs run the layer matrices
    std::unique_ptr<CpuAttention> cpu_attention_;  // set when edgevlm's fp16 attention runs (cpu_attention.h)
    std::string matmul_impl_ = "ggml";
};

}  // namespace edgevlm
