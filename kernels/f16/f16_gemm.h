// C = A * W^T + bias with W an f16 matrix (ggml F16, PyTorch Linear layout n x k) on fp16 arithmetic
// (half8.h): FMLA on 8 halves, twice the multiply-adds per instruction of an f32 GEMM.
//
// Why: on a Cortex-A78 / X1 the ViT of an f16 mmproj otherwise runs in ggml's f16 mul_mat or in the LDP
// kernel's f32 GEMM (4 lanes, plus the widening of every weight). Register tile: 8 rows of A (one H8 of
// halves, used by lane) x 16 columns (two H8 of a packed panel) = 16 accumulators, 19 instructions per 128
// multiply-adds. A is rounded to fp16 (as ggml's f16 path does) and packed per thread; the fp16 sums run over
// at most kKc inputs and are then added into f32, so the rounding of the sum does not grow with k.
//
// Packed layout (same byte count, so weights repack in place): panels of 16 output columns, [panel][k][16].
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgevlm {
namespace f16 {

constexpr int kPanel = 16;  // output columns per packed panel
constexpr int kKc = 128;    // inputs summed in fp16 before the f32 flush

// Shapes the packed layout covers: whole panels.
bool gemm_shape_supported(int64_t n, int64_t k);
// n x k IEEE halves (row-major) -> panels, overwriting them (uses a copy of one panel).
void repack_in_place(void *w, int n, int k);
// The same into dst (no aliasing).
void repack(const void *w, int n, int k, void *dst);

struct GemmProblem {
    const float *a;  // m x k activations, row stride lda floats
    int m, lda;
    const void *w;   // packed weights, n x k
    int n, k;
    const float *bias;  // n floats, or null
    float *c;           // m x n, row stride ldc floats
    int ldc;
};

// Scratch one thread needs for gemm() with k inputs.
size_t gemm_scratch_bytes(int k);
// This thread's share of the rows of C; no synchronisation needed.
void gemm(const GemmProblem &p, int tid, int n_threads, void *scratch);

}  // namespace f16
}  // namespace edgevlm
