#include "q8_linear.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "q8_gemm.h"

namespace edgevlm {

namespace {

template <class F>
void for_each_matrix(Mmproj &m, F &&fn) {
    for (VitLayer &l : m.vit.layers)
        for (ggml_tensor *w : {l.q_w, l.k_w, l.v_w, l.o_w, l.up_w, l.down_w}) fn(w);
}

}  // namespace

bool q8_linear_wanted(const Mmproj &m, ggml_backend_t backend) {
    const char *env = std::getenv("EDGEVLM_Q8_GEMM");
    if (env && std::strcmp(env, "0") == 0) return false;
    if (!q8::has_int8_dot() || !ggml_backend_is_cpu(backend) || !ggml_backend_buffer_is_host(m.buffer)) return false;
    bool ok = !m.vit.layers.empty();
    for_each_matrix(const_cast<Mmproj &>(m), [&](ggml_tensor *w) {
        ok = ok && w->type == GGML_TYPE_Q8_0 && ggml_is_contiguous(w) && q8::shape_supported(w->ne[1], w->ne[0]);
    });
    return ok;
}

void q8_repack_layers(Mmproj &m) {
    for_each_matrix(m, [](ggml_tensor *w) { q8::repack_in_place(w->data, (int)w->ne[1], (int)w->ne[0]); });
}

Q8Linear::Q8Linear(int max_k) : max_k_(max_k) {
    // ggml's CPU backend runs a graph on at most as many threads as it was given; more than the hardware has
    // is unusual, and run() copes with any index past this by allocating for the call.
    scratch_.resize(std::max(1u, std::thread::hardware_concurrency()));
    for (auto &s : scratch_) s.resize(q8::scratch_bytes(max_k));
}

ggml_tensor *Q8Linear::apply(ggml_context *ctx, ggml_tensor *x, ggml_tensor *w, ggml_tensor *b) {
    if (x->type != GGML_TYPE_F32 || x->nb[0] != sizeof(float) || x->ne[0] != w->ne[0] || w->ne[0] > max_k_ || (b && b->ne[0] != w->ne[1]))
        throw std::runtime_error("q8 linear: operand shapes do not match");
    ggml_tensor *args[3] = {x, w, b};
    return ggml_custom_4d(ctx, GGML_TYPE_F32, w->ne[1], x->ne[1], 1, 1, args, b ? 3 : 2, &Q8Linear::run,
                          GGML_N_TASKS_MAX, this);
}

void Q8Linear::run(ggml_tensor *dst, int ith, int nth, void *self) {
    auto *q = static_cast<Q8Linear *>(self);
    const ggml_tensor *x = dst->src[0], *w = dst->src[1], *b = dst->src[2];
    q8::Problem p{};
    p.a = static_cast<const float *>(x->data);
    p.m = (int)x->ne[1];
    p.lda = (int)(x->nb[1] / sizeof(float));
    p.w = w->data;
    p.n = (int)w->ne[1];
    p.k = (int)w->ne[0];
    p.bias = b ? static_cast<const float *>(b->data) : nullptr;
    p.c = static_cast<float *>(dst->data);
    p.ldc = (int)(dst->nb[1] / sizeof(float));
    if (ith < (int)q->scratch_.size()) {
        q8::gemm(p, ith, nth, q->scratch_[ith].data());
    } else {
        AlignedVector<uint8_t> local(q8::scratch_bytes(p.k));
        q8::gemm(p, ith, nth, local.data());
    }
}

}  // namespace edgevlm
