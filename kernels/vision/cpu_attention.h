// The ViT's attention as one ggml custom op on edgevlm's fp16 NEON kernel (kernels/f16/attention.h) instead of
// ggml_flash_attn_ext, on the CPU backend of a core with fp16 arithmetic (armv8.2-a+fp16). Elsewhere the Vit
// keeps ggml's flash attention (on x86 its f32 path is the faster one; the portable stand-in of the kernel only
// serves the kernel's tests there).
#pragma once

#include <cstdint>
#include <vector>

#include "ggml-backend.h"
#include "ggml.h"
#include "gemm.h"  // AlignedVector

namespace edgevlm {

class CpuAttention {
public:
    // Whether the op runs on this backend and head width (fp16 hardware, CPU backend).
    static bool available(ggml_backend_t backend, int d_head);

    CpuAttention(int n_pos, int n_head, int d_head);
    // q, k, v: [n_head * d_head, n_pos] f32 with contiguous rows -> the same shape, heads side by side.
    ggml_tensor *apply(ggml_context *ctx, ggml_tensor *q, ggml_tensor *k, ggml_tensor *v);

private:
    static void run(ggml_tensor *dst, int ith, int nth, void *self);
    void *scratch(int ith, std::vector<uint8_t> &fallback);

    int n_pos_, n_head_, d_head_;
    std::vector<AlignedVector<uint8_t>> scratch_;  // one per ggml thread index
};

}  // namespace edgevlm
