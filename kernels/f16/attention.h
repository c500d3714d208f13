// The ViT's multi-head self-attention (softmax(Q K^T * scale) V, no mask) on fp16 arithmetic (half8.h).
//
// Why: ggml's CPU flash attention (ggml_compute_forward_flash_attn_ext_tiled) spends about one instruction
// per multiply-add on arm64 and was a third of the whole q8_0 image encode there. Here, per head and per tile
// of 8 queries (the 8 lanes of one fp16 vector):
//   scores  S^T[key][query] = K Q^T: FMLA by element, 16 keys x 8 queries per register block, d_head deep;
//   softmax per lane over the keys: max (fp16), exp(s - max) and the sum in f32 (vectorised exp), p -> fp16;
//   output  O^T[d][query] = V^T P^T: FMLA by element, 16 dims x 8 queries, flushed into f32 every 64 keys
//           (fp16 sums of at most 64 terms of p <= 1), divided by the f32 sum at the end.
// Keeping the queries in the lanes makes every step lane-wise: no horizontal reductions and no transposes.
// Precision: Q (pre-scaled), K, V and P rounded to fp16 and QK^T summed in fp16 (d_head terms): relative
// errors ~1e-3 on the output, cosine ~1 - 1e-6 (the ViT's bounds are 0.9999 f32 / 0.999 f16; tested by
// kernels/tests/test_f16_kernels.cpp and the encoder tests).
#pragma once

#include <cstddef>

namespace edgevlm {
namespace f16 {

struct AttentionProblem {
    const float *q, *k, *v;  // n_pos rows of n_head * d_head floats (head h at h * d_head), row stride ld
    int n_pos, n_head, d_head, ld;
    float scale;             // on Q K^T (1 / sqrt(d_head))
    float *out;              // n_pos rows, same layout, row stride ldo
    int ldo;
};

// Head widths the kernel covers (whole 16-wide register blocks).
bool attention_supported(int d_head);
// Scratch one thread needs (packed K, V of one head, one query tile, its scores and output).
size_t attention_scratch_bytes(int n_pos, int d_head);
// This thread's share of (head, query tile) pairs; no synchronisation needed.
void attention(const AttentionProblem &p, int tid, int n_threads, void *scratch);

}  // namespace f16
}  // namespace edgevlm
