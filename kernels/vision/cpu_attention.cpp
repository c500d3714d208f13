#include "cpu_attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <thread>

#include "attention.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "half8.h"

namespace edgevlm {

bool CpuAttention::available(ggml_backend_t backend, int d_head) {
    return f16::kHardware && ggml_backend_is_cpu(backend) && f16::attention_supported(d_head);
}

CpuAttention::CpuAttention(int n_pos, int n_head, int d_head) : n_pos_(n_pos), n_head_(n_head), d_head_(d_head) {
    // As CpuLinear: one scratch per hardware thread; a thread index past them allocates for the call.
    scratch_.resize(std::max(1u, std::thread::hardware_concurrency()));
    for (auto &s : scratch_) s.resize(f16::attention_scratch_bytes(n_pos, d_head));
}

ggml_tensor *CpuAttention::apply(ggml_context *ctx, ggml_tensor *q, ggml_tensor *k, ggml_tensor *v) {
    for (const ggml_tensor *t : {q, k, v})
        if (t->type != GGML_TYPE_F32 || t->nb[0] != sizeof(float) || t->ne[0] != (int64_t)n_head_ * d_head_ ||
            t->ne[1] != n_pos_ || t->ne[2] != 1 || t->ne[3] != 1)
            throw std::runtime_error("cpu attention: q, k, v must be [n_head * d_head, n_pos] f32");
    if (k->nb[1] != q->nb[1] || v->nb[1] != q->nb[1])  // the kernel takes one row stride for all three
        throw std::runtime_error("cpu attention: q, k, v must have the same row stride");
    ggml_tensor *args[3] = {q, k, v};
    return ggml_custom_4d(ctx, GGML_TYPE_F32, q->ne[0], n_pos_, 1, 1, args, 3, &CpuAttention::run, GGML_N_TASKS_MAX,
                          this);
}

void *CpuAttention::scratch(int ith, std::vector<uint8_t> &fallback) {
    if (ith < (int)scratch_.size()) return scratch_[ith].data();
    fallback.resize(f16::attention_scratch_bytes(n_pos_, d_head_) + 64);
    return fallback.data() + (64 - reinterpret_cast<uintptr_t>(fallback.data()) % 64) % 64;
}

void CpuAttention::run(ggml_tensor *dst, int ith, int nth, void *userdata) {
    auto *self = static_cast<CpuAttention *>(userdata);
    const ggml_tensor *q = dst->src[0], *k = dst->src[1], *v = dst->src[2];
    const int ld = (int)(q->nb[1] / sizeof(float));  // the same for k and v (apply())
    std::vector<uint8_t> fallback;
    const f16::AttentionProblem p{static_cast<const float *>(q->data), static_cast<const float *>(k->data),
                                  static_cast<const float *>(v->data), self->n_pos_, self->n_head_, self->d_head_, ld,
                                  1.0f / std::sqrt((float)self->d_head_), static_cast<float *>(dst->data),
                                  (int)(dst->nb[1] / sizeof(float))};
    f16::attention(p, ith, nth, self->scratch(ith, fallback));
}

}  // namespace edgevlm
