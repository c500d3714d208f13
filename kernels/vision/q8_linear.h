// The ViT's Q8_0 linear layers on edgevlm's int8 GEMM (kernels/q8) instead of ggml's mul_mat, on the CPU
// backend: the matrices are repacked in place once at load (same bytes, so no extra memory) and each linear
// layer becomes one ggml custom op (x W^T + b) that ggml's own threads execute.
#pragma once

#include <cstdint>
#include <vector>

#include "ggml.h"
#include "gemm.h"  // AlignedVector
#include "mmproj.h"

namespace edgevlm {

// Whether the ViT's Q8_0 matrices should go through the int8 GEMM: the CPU backend, host memory, a hardware
// int8 dot product compiled in, shapes the packed layout covers, and EDGEVLM_Q8_GEMM not set to 0.
bool q8_linear_wanted(const Mmproj &m, ggml_backend_t backend);

// Repacks every executed Q8_0 layer matrix in place. Afterwards those tensors hold the packed layout and
// may only be used through Q8Linear::apply.
void q8_repack_layers(Mmproj &m);

// Per-thread scratch for the custom ops of one graph (one encode at a time, as the graph itself).
class Q8Linear {
public:
    explicit Q8Linear(int max_k);
    // x: [k, rows] f32 (contiguous), w: a repacked [k, n] Q8_0 matrix, b: [n] f32 -> [n, rows] f32.
    ggml_tensor *apply(ggml_context *ctx, ggml_tensor *x, ggml_tensor *w, ggml_tensor *b);

private:
    static void run(ggml_tensor *dst, int ith, int nth, void *self);
    int max_k_;
    std::vector<AlignedVector<uint8_t>> scratch_;  // one per ggml thread index
};

}  // namespace edgevlm
