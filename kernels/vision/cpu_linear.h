// The ViT's linear layers on edgevlm's own GEMMs instead of ggml's mul_mat, on the CPU backend:
//   Q8_0 matrices -> the int8 GEMM (kernels/q8: AVX512-VNNI vpdpbusd, arm64 sdot), where the build has one;
//   f16 on a core with fp16 arithmetic (armv8.2-a+fp16: Cortex-A78 / X1)
//                 -> the fp16 GEMM (kernels/f16: FMLA on 8 halves, activations rounded to f16 as ggml's f16
//                    path does, sums flushed to f32 every 128 inputs);
//   f16 elsewhere / f32
//                 -> the LDP kernel's register-blocked f32 GEMM (kernels/ldp/gemm.h; f16 panels widened per
//                    cache slice, activations stay f32 — ggml's f16 path rounds them to f16).
// The matrices are repacked in place once at load (same bytes: no extra memory) and each linear layer becomes
// one ggml custom op (x W^T + b) that ggml's own threads execute. The encoder decides whether to use it
// (EDGEVLM_VIT_MATMUL, encoder.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ggml.h"
#include "gemm.h"
#include "mmproj.h"

namespace edgevlm {

enum class CpuLinearKind { None, Int8, Half, Float };

// Which of edgevlm's GEMMs can take over the ViT's matrices on this backend (None: keep ggml's mul_mat): the
// CPU backend, host memory, one weight type for all of them, shapes the packed layouts cover.
CpuLinearKind cpu_linear_kind(const Mmproj &m, ggml_backend_t backend);

// Owns the packed views and per-thread scratch for one ViT graph (one encode at a time, as the graph itself).
class CpuLinear {
public:
    // Repacks every executed layer matrix of m in place, split over `threads` threads (the matrices are
    // independent; a single-shot run waits for this pass before its image encode); afterwards they may only be
    // used through apply().
    CpuLinear(Mmproj &m, CpuLinearKind kind, int max_rows, int threads = 1);
    // x: [k, rows] f32 with contiguous rows, w: one of m's layer matrices, b: [n] f32 -> [n, rows] f32.
    ggml_tensor *apply(ggml_context *ctx, ggml_tensor *x, ggml_tensor *w, ggml_tensor *b);
    // "int8-gemm/<isa>", "f16-gemm/neon-fp16" or "f32-gemm/<simd>"
    std::string name() const;

private:
    struct Op {
        CpuLinear *self;
        const ggml_tensor *tensor;  // the matrix this op multiplies by
        const PackedWeights *w;     // Float kind; the Int8 kind reads the tensor's repacked bytes
    };
    static void run(ggml_tensor *dst, int ith, int nth, void *op);
    void *scratch(int ith, int rows, int k, AlignedVector<float> &fallback);
    size_t scratch_floats(int rows, int k) const;

    CpuLinearKind kind_;
    int max_rows_, max_k_;
    std::vector<PackedWeights> packed_;          // Float kind: views of the tensors (reserved: stable addresses)
    std::vector<Op> ops_;                        // one per matrix (reserved: stable addresses, the ops' userdata)
    std::vector<AlignedVector<float>> scratch_;  // one per ggml thread index
};

}  // namespace edgevlm
