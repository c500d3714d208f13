// C = A * W^T + bias with W a ggml Q8_0 matrix and A float activations, on int8 dot products.
//
// Why: a Q8_0 matrix multiplied in float (ggml's f16/f32 paths) gains nothing from being 8-bit, and ggml's own
// Q8_0 x Q8_0 vec_dot rescales every 32-element block with one int8 dot product per block, so on x86 it
// runs no faster than f16 (measured: the ViT at q8_0 was 0.95x stock and slower than f16). Here the weights are
// repacked once into panels of 16 output columns so that one int8 dot-product instruction covers 16 columns x
// 4 inputs, and a block's float rescale is shared by a whole register tile: 8 dot products + 4 float ops per
// 512 multiply-adds per row (AVX512-VNNI vpdpbusd, arm64 sdot).
//
// Arithmetic: each 32-block of a row of A is quantized to int8 with its own float scale (round to nearest,
// amax -> 127), as ggml quantizes activations for Q8_0 (it also rounds the scale to f16; this keeps it f32),
// so the result equals sum_b d_a[b] * d_w[b] * (int dot of the block) up to float summation order.
//
// Packed layout (same byte count as Q8_0, so weights can be repacked in place): for each panel of 16 output
// columns, for each 32-block of inputs: 16 f16 scales (32 bytes), then [group g of 4 inputs][column][4 bytes]
// (512 bytes). On the VNNI path the bytes are stored offset by 128 (vpdpbusd multiplies unsigned by signed);
// the offset is removed with 128 * sum(activation block), computed when A is quantized.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgevlm {
namespace q8 {

constexpr int kBlock = 32;              // inputs per Q8_0 block (ggml's QK8_0)
constexpr int kPanel = 16;              // output columns per packed panel
constexpr size_t kBlockBytes = 2 + 32;  // ggml's block_q8_0: f16 scale + 32 int8

// The int8 path compiled in: "avx512vnni", "neon-dotprod" or "scalar".
const char *isa_name();
// True when that path uses a hardware int8 dot product; otherwise ggml's own mul_mat is the better choice.
bool has_int8_dot();
// Shapes the packed layout covers: whole panels and whole blocks.
bool shape_supported(int64_t n, int64_t k);

// n x k Q8_0 rows (n * k / 32 ggml blocks) -> packed layout in dst (same byte count, must not alias src).
void repack(const void *q8_0, int n, int k, void *dst);
// The same, overwriting the Q8_0 data (uses a temporary copy of one panel).
void repack_in_place(void *q8_0, int n, int k);

struct Problem {
    const float *a;  // m x k activations, row stride lda floats
    int m, lda;
    const void *w;   // packed weights, n x k
    int n, k;
    const float *bias;  // n floats, or null
    float *c;           // m x n output, row stride ldc floats
    int ldc;
    const float *a_colscale = nullptr;  // optional per-input scale applied to A before quantizing (LDP's SE)
    bool gelu = false;                  // exact GELU on the result (after the bias)
};

// Scratch one thread needs for gemm() with k inputs (quantized rows of A).
size_t scratch_bytes(int k);

// This thread's share of the rows of C (row ranges split over n_threads); no synchronisation needed.
void gemm(const Problem &p, int tid, int n_threads, void *scratch);

}  // namespace q8
}  // namespace edgevlm
