#include "cpu_linear.h"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <thread>

#include "edgevlm.h"
#include "ggml-backend.h"
#include "f16_gemm.h"
#include "ggml-cpu.h"
#include "half8.h"
#include "q8_gemm.h"

namespace edgevlm {

namespace {

std::vector<ggml_tensor *> layer_matrices(const Mmproj &m) {
    std::vector<ggml_tensor *> all;
    for (const VitLayer &l : m.vit.layers)
        for (ggml_tensor *w : {l.q_w, l.k_w, l.v_w, l.o_w, l.up_w, l.down_w}) all.push_back(w);
    return all;
}

bool fits(CpuLinearKind kind, const ggml_tensor *w) {
    if (!ggml_is_contiguous(w)) return false;
    if (kind == CpuLinearKind::Int8) return q8::shape_supported(w->ne[1], w->ne[0]);
    if (kind == CpuLinearKind::Half) return f16::gemm_shape_supported(w->ne[1], w->ne[0]);
    return PackedWeights::packs_in_place((int)w->ne[1]);
}

}  // namespace

CpuLinearKind cpu_linear_kind(const Mmproj &m, ggml_backend_t backend) {
    if (!ggml_backend_is_cpu(backend) || !ggml_backend_buffer_is_host(m.buffer)) return CpuLinearKind::None;
    const auto mats = layer_matrices(m);
    if (mats.empty()) return CpuLinearKind::None;
    const ggml_type type = mats[0]->type;
    CpuLinearKind kind = CpuLinearKind::None;
    if (type == GGML_TYPE_Q8_0 && q8::has_int8_dot()) kind = CpuLinearKind::Int8;
    if (type == GGML_TYPE_F16 || type == GGML_TYPE_F32) kind = CpuLinearKind::Float;
    if (type == GGML_TYPE_F16 && f16::kHardware) kind = CpuLinearKind::Half;  // twice the lanes of f32
    for (const ggml_tensor *w : mats)
        if (w->type != type || !fits(kind, w)) return CpuLinearKind::None;
    return kind;
}

CpuLinear::CpuLinear(Mmproj &m, CpuLinearKind kind, int max_rows, int threads)
    : kind_(kind), max_rows_(max_rows), max_k_(0) {
    const auto mats = layer_matrices(m);
    if (kind == CpuLinearKind::Float) packed_.resize(mats.size());   // sized once: the ops point into it
    auto pack = [&](size_t i) {
        ggml_tensor *w = mats[i];
        const int n = (int)w->ne[1], k = (int)w->ne[0];
        if (kind == CpuLinearKind::Int8) q8::repack_in_place(w->data, n, k);
        else if (kind == CpuLinearKind::Half) f16::repack_in_place(w->data, n, k);
        else packed_[i] = PackedWeights::pack_in_place(w->data, w->type == GGML_TYPE_F16 ? Dtype::F16 : Dtype::F32,
                                                        n, k);
    };
    // Matrix i on thread i % threads; the shapes were checked by cpu_linear_kind(), so nothing here throws but
    // out-of-memory, which is carried back to this thread.
    const int nt = std::max(1, std::min(threads, (int)mats.size()));
    std::vector<std::exception_ptr> errors(nt);
    std::vector<std::thread> team;
    for (int t = 1; t < nt; ++t)
        team.emplace_back([&, t] {
            try {
                for (size_t i = t; i < mats.size(); i += nt) pack(i);
            } catch (...) {
                errors[t] = std::current_exception();
            }
        });
    try {
        for (size_t i = 0; i < mats.size(); i += nt) pack(i);
    } catch (...) {
        errors[0] = std::current_exception();
    }
    for (auto &th : team) th.join();
    for (auto &e : errors)
        if (e) std::rethrow_exception(e);
    ops_.reserve(mats.size());
    for (size_t i = 0; i < mats.size(); ++i) {
        max_k_ = std::max(max_k_, (int)mats[i]->ne[0]);
        ops_.push_back({this, mats[i], kind == CpuLinearKind::Float ? &packed_[i] : nullptr});
    }
    // ggml's CPU backend runs a graph on at most as many threads as it was given; more than the hardware has
    // is unusual, and scratch() copes with any index past this by allocating for the call.
    scratch_.resize(std::max(1u, std::thread::hardware_concurrency()));
    for (auto &s : scratch_) s.resize(scratch_floats(max_rows_, max_k_));
}

size_t CpuLinear::scratch_floats(int rows, int k) const {
    if (kind_ == CpuLinearKind::Half) return f16::gemm_scratch_bytes(k) / sizeof(float) + 1;
    return gemm_scratch_floats(rows, k);
}

std::string CpuLinear::name() const {
    if (kind_ == CpuLinearKind::Int8) return std::string("int8-gemm/") + q8::isa_name();
    if (kind_ == CpuLinearKind::Half) return "f16-gemm/neon-fp16";
    return std::string("f32-gemm/") + edgevlm_simd();
}

ggml_tensor *CpuLinear::apply(ggml_context *ctx, ggml_tensor *x, ggml_tensor *w, ggml_tensor *b) {
    if (x->type != GGML_TYPE_F32 || x->nb[0] != sizeof(float) || x->ne[0] != w->ne[0] || x->ne[1] > max_rows_ ||
        (b && b->ne[0] != w->ne[1]))
        throw std::runtime_error("cpu linear: operand shapes do not match");
    Op *op = nullptr;
    for (Op &o : ops_)
        if (o.tensor == w) op = &o;
    if (!op) throw std::runtime_error("cpu linear: matrix was not repacked at load");
    ggml_tensor *args[3] = {x, w, b};
    return ggml_custom_4d(ctx, GGML_TYPE_F32, w->ne[1], x->ne[1], 1, 1, args, b ? 3 : 2, &CpuLinear::run,
                          GGML_N_TASKS_MAX, op);
}

void *CpuLinear::scratch(int ith, int rows, int k, AlignedVector<float> &fallback) {
    if (ith < (int)scratch_.size()) return scratch_[ith].data();
    fallback.resize(scratch_floats(rows, k));
    return fallback.data();
}

void CpuLinear::run(ggml_tensor *dst, int ith, int nth, void *userdata) {
    const Op &op = *static_cast<const Op *>(userdata);
    const ggml_tensor *x = dst->src[0], *w = dst->src[1], *b = dst->src[2];
    const float *a = static_cast<const float *>(x->data), *bias = b ? static_cast<const float *>(b->data) : nullptr;
    float *c = static_cast<float *>(dst->data);
    const int m = (int)x->ne[1], n = (int)w->ne[1], k = (int)w->ne[0];
    const int lda = (int)(x->nb[1] / sizeof(float)), ldc = (int)(dst->nb[1] / sizeof(float));
    AlignedVector<float> fallback;
    void *s = op.self->scratch(ith, m, k, fallback);
    if (op.self->kind_ == CpuLinearKind::Int8) {
        q8::Problem p{a, m, lda, w->data, n, k, bias, c, ldc};
        q8::gemm(p, ith, nth, s);
    } else if (op.self->kind_ == CpuLinearKind::Half) {
        f16::gemm({a, m, lda, w->data, n, k, bias, c, ldc}, ith, nth, s);
    } else {
        gemm(*op.w, {a, m, lda, nullptr, c, ldc, bias, Act::None}, ith, nth, static_cast<float *>(s));
    }
}

}  // namespace edgevlm
