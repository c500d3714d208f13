#include "ldp.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

#include "ops.h"
#include "simd.h"
#include "status.h"
#include "team.h"

namespace edgevlm {

namespace {

std::vector<float> copy_vec(const float *src, int n, const char *what) {
    if (!src) throw std::invalid_argument(std::string("missing ") + what);
    return std::vector<float>(src, src + n);
}

// Any dtype matrix to f32 (for the small SE matrices and the conv kernels).
std::vector<float> widen(const void *src, Dtype dt, size_t n, const char *what) {
    if (!src) throw std::invalid_argument(std::string("missing ") + what);
    std::vector<float> out(n);
    if (dt == Dtype::F32) {
        std::memcpy(out.data(), src, n * sizeof(float));
    } else {
        const uint16_t *h = static_cast<const uint16_t *>(src);
        for (size_t i = 0; i < n; ++i) out[i] = half_to_float(h[i]);
    }
    return out;
}

// Depthwise kernel W x 1 x 3 x 3 -> tap-major [9][W] so a tap is one contiguous channel vector.
std::vector<float> dw_taps(const void *src, Dtype dt, int w, const char *what) {
    const std::vector<float> k = widen(src, dt, (size_t)w * 9, what);
    std::vector<float> taps((size_t)9 * w);
    for (int c = 0; c < w; ++c)
        for (int t = 0; t < 9; ++t) taps[(size_t)t * w + c] = k[(size_t)c * 9 + t];
    return taps;
}

PackedWeights pack(const void *src, Dtype dt, int n, int k, const char *what) {
    if (!src) throw std::invalid_argument(std::string("missing ") + what);
    return PackedWeights(src, dt, n, k);
}

}  // namespace

// Workspace layout of one forward; all slices of Ldp::ws_.
struct Ldp::Buffers {
    float *h, *x1, *z;       // n_tokens x W each (v2 uses h, x1 = pooled, z = second linear)
    float *colsum;           // threads x stride, per-thread partial sums for SE pooling
    float *mean, *se_z, *se_s, *rowbuf;  // W, S, W, threads x stride
    size_t stride;           // per-thread row of colsum / rowbuf
    float *scratch;          // threads x gemm scratch
    size_t scratch_per_thread;
};

Ldp::Ldp(const edgevlm_ldp_params &p) : version_(p.version), c_(p.n_embd), w_(p.width), s_(p.se_dim) {
    if (p.version != EDGEVLM_LDP_V1 && p.version != EDGEVLM_LDP_V2)
        throw std::invalid_argument("version must be 1 (ldpnet) or 2 (ldpnetv2), got " + std::to_string(p.version));
    if (p.dtype != EDGEVLM_DTYPE_F32 && p.dtype != EDGEVLM_DTYPE_F16 && p.dtype != EDGEVLM_DTYPE_Q8_0)
        throw std::invalid_argument("dtype must be 0 (f32), 1 (f16) or 8 (q8_0), got " + std::to_string(p.dtype));
    if (c_ <= 0 || w_ <= 0) throw std::invalid_argument("n_embd and width must be positive");
    if (version_ == EDGEVLM_LDP_V1 && s_ <= 0) throw std::invalid_argument("se_dim must be positive for v1");
    const Dtype dt = static_cast<Dtype>(p.dtype);
    const Dtype small = dt == Dtype::Q8_0 ? Dtype::F32 : dt;  // conv kernels and SE matrices
    fc1_ = pack(p.fc1_w, dt, w_, c_, "fc1_w");
    fc2_ = pack(p.fc2_w, dt, w_, w_, "fc2_w");
    fc1_b_ = copy_vec(p.fc1_b, w_, "fc1_b");
    fc2_b_ = copy_vec(p.fc2_b, w_, "fc2_b");
    if (version_ == EDGEVLM_LDP_V2) {
        peg_taps_ = dw_taps(p.peg_w, small, w_, "peg_w");
        peg_b_ = copy_vec(p.peg_b, w_, "peg_b");
        return;
    }
    for (int i = 0; i < 2; ++i) {
        const edgevlm_ldp_block &s = p.blocks[i];
        LdpBlock &b = blocks_[i];
        b.taps = dw_taps(s.dw_w, small, w_, "blocks[].dw_w");
        b.ln1_w = copy_vec(s.ln1_w, w_, "blocks[].ln1_w");
        b.ln1_b = copy_vec(s.ln1_b, w_, "blocks[].ln1_b");
        b.se1 = widen(s.se_fc1_w, small, (size_t)s_ * w_, "blocks[].se_fc1_w");
        b.se1_b = copy_vec(s.se_fc1_b, s_, "blocks[].se_fc1_b");
        b.se2 = widen(s.se_fc2_w, small, (size_t)w_ * s_, "blocks[].se_fc2_w");
        b.se2_b = copy_vec(s.se_fc2_b, w_, "blocks[].se_fc2_b");
        b.pw = pack(s.pw_w, dt, w_, w_, "blocks[].pw_w");
        b.ln2_w = copy_vec(s.ln2_w, w_, "blocks[].ln2_w");
        b.ln2_b = copy_vec(s.ln2_b, w_, "blocks[].ln2_b");
    }
}

void Ldp::forward(const float *in, int n_tokens, float *out, int threads) {
    int g = 0;
    while ((g + 1) * (g + 1) <= n_tokens) ++g;
    if (n_tokens <= 0 || g * g != n_tokens || g % 2 != 0)
        throw std::invalid_argument("n_tokens must be g*g with g even (576 = 24*24), got " + std::to_string(n_tokens));
    if (threads <= 0) threads = (int)std::max(1u, std::thread::hardware_concurrency());

    std::lock_guard<std::mutex> lock(mu_);
    // every slice starts on a cache line (16 floats)
    auto line = [](size_t n) { return (n + 15) / 16 * 16; };
    const size_t tw = line((size_t)n_tokens * w_), tws = (size_t)threads * line(w_);
    const size_t sp = line(gemm_scratch_floats(n_tokens, std::max(c_, w_)));
    const size_t need = 3 * tw + 2 * tws + 2 * line(w_) + line(std::max(s_, 1)) + threads * sp;
    if (ws_.size() < need) ws_.resize(need);  // grows once; later calls reuse the touched pages
    Buffers b;
    float *p = ws_.data();
    b.h = p; p += tw;
    b.x1 = p; p += tw;
    b.z = p; p += tw;
    b.colsum = p; p += tws;
    b.rowbuf = p; p += tws;
    b.mean = p; p += line(w_);
    b.se_s = p; p += line(w_);
    b.se_z = p; p += line(std::max(s_, 1));
    b.scratch = p;
    b.stride = line(w_);
    b.scratch_per_thread = sp;

    Team team(threads);
    team.run([&](int tid) {
        if (version_ == EDGEVLM_LDP_V2) forward_v2(in, g, out, tid, team, b);
        else forward_v1(in, g, out, tid, team, b);
    });
}

// Linear + GELU on all 576 tokens, 2x2 pool, then the second Linear on the 144 pooled rows (pooling
// and a Linear commute), then PEG conv + bias + residual in one pass.
void Ldp::forward_v2(const float *in, int g, float *out, int tid, Team &team, Buffers &b) const {
    const int n = team.size(), t = g * g, t4 = t / 4;
    float *scratch = b.scratch + tid * b.scratch_per_thread;
    gemm(fc1_, {in, t, c_, nullptr, b.h, w_, fc1_b_.data(), Act::Gelu}, tid, n, scratch);
    team.barrier();
    avgpool2x2(b.h, g, w_, b.x1, split(t4, n, tid));
    team.barrier();
    gemm(fc2_, {b.x1, t4, w_, nullptr, b.z, w_, fc2_b_.data(), Act::None}, tid, n, scratch);
    team.barrier();
    peg_conv_residual(b.z, g / 2, w_, peg_taps_.data(), peg_b_.data(), out, split(t4, n, tid));
}

void Ldp::forward_v1(const float *in, int g, float *out, int tid, Team &team, Buffers &b) const {
    const int n = team.size(), t = g * g;
    float *scratch = b.scratch + tid * b.scratch_per_thread;
    gemm(fc1_, {in, t, c_, nullptr, b.h, w_, fc1_b_.data(), Act::Gelu}, tid, n, scratch);
    team.barrier();
    gemm(fc2_, {b.h, t, w_, nullptr, b.x1, w_, fc2_b_.data(), Act::None}, tid, n, scratch);
    team.barrier();
    // block 1: stride 1 with residual, result in z; block 2: stride 2, pointwise output reuses x1.
    block(blocks_[0], b.x1, g, 1, b.x1, b.h, b.z, b.z, tid, team, b);
    block(blocks_[1], b.z, g, 2, nullptr, b.h, b.x1, out, tid, team, b);
}

// dw conv -> LN -> hardswish (fused per position, SE pool accumulated on the way) -> SE -> pointwise
// conv with the SE scale folded into its input packing -> LN [+ residual].
void Ldp::block(const LdpBlock &blk, const float *x, int g, int stride, const float *residual, float *act,
                float *pre_ln, float *dst, int tid, Team &team, Buffers &b) const {
    const int n = team.size(), go = g / stride, rows = go * go;
    float *colsum = b.colsum + (size_t)tid * b.stride;
    std::fill(colsum, colsum + w_, 0.0f);
    dw_ln_hswish(x, g, stride, w_, blk.taps.data(), blk.ln1_w.data(), blk.ln1_b.data(), act, colsum,
                 b.rowbuf + (size_t)tid * b.stride, split(rows, n, tid));
    team.barrier();
    const Range cr = split(w_, n, tid);
    for (int c = cr.begin; c < cr.end; ++c) {
        float s = 0.0f;
        for (int i = 0; i < n; ++i) s += b.colsum[(size_t)i * b.stride + c];
        b.mean[c] = s / (float)rows;
    }
    team.barrier();
    matvec(blk.se1.data(), b.mean, blk.se1_b.data(), w_, VecAct::Relu, b.se_z, split(s_, n, tid));
    team.barrier();
    matvec(blk.se2.data(), b.se_z, blk.se2_b.data(), s_, VecAct::HardSigmoid, b.se_s, cr);
    team.barrier();
    gemm(blk.pw, {act, rows, w_, b.se_s, pre_ln, w_, nullptr, Act::None}, tid, n,
         b.scratch + tid * b.scratch_per_thread);
    team.barrier();
    layernorm_rows(pre_ln, w_, blk.ln2_w.data(), blk.ln2_b.data(), residual, dst, split(rows, n, tid));
    team.barrier();
}

}  // namespace edgevlm

// ---- C ABI: no exception crosses it ----

struct edgevlm_ldp {
    edgevlm::Ldp impl;
};

extern "C" {

edgevlm_ldp *edgevlm_ldp_create(const edgevlm_ldp_params *params) {
    using namespace edgevlm;
    if (!params) {
        set_error(EDGEVLM_ERR_INVALID_ARGUMENT, "edgevlm_ldp_create: params is NULL");
        return nullptr;
    }
    try {
        edgevlm_ldp *ldp = new edgevlm_ldp{Ldp(*params)};
        clear_error();
        return ldp;
    } catch (const std::invalid_argument &e) {
        set_error(EDGEVLM_ERR_INVALID_ARGUMENT, std::string("edgevlm_ldp_create: ") + e.what());
    } catch (const std::bad_alloc &) {
        set_error(EDGEVLM_ERR_OUT_OF_MEMORY, "edgevlm_ldp_create: out of memory");
    } catch (const std::exception &e) {
        set_error(EDGEVLM_ERR_INTERNAL, std::string("edgevlm_ldp_create: ") + e.what());
    }
    return nullptr;
}

int edgevlm_ldp_forward(edgevlm_ldp *ldp, const float *in, int n_tokens, float *out, int threads) {
    using namespace edgevlm;
    if (!ldp || !in || !out) return set_error(EDGEVLM_ERR_INVALID_ARGUMENT, "edgevlm_ldp_forward: NULL argument");
    try {
        ldp->impl.forward(in, n_tokens, out, threads);
    } catch (const std::invalid_argument &e) {
        return set_error(EDGEVLM_ERR_INVALID_ARGUMENT, std::string("edgevlm_ldp_forward: ") + e.what());
    } catch (const std::bad_alloc &) {
        return set_error(EDGEVLM_ERR_OUT_OF_MEMORY, "edgevlm_ldp_forward: out of memory");
    } catch (const std::exception &e) {
        return set_error(EDGEVLM_ERR_INTERNAL, std::string("edgevlm_ldp_forward: ") + e.what());
    }
    clear_error();
    return EDGEVLM_OK;
}

int edgevlm_ldp_width(const edgevlm_ldp *ldp) { return ldp ? ldp->impl.width() : 0; }

int edgevlm_ldp_n_embd(const edgevlm_ldp *ldp) { return ldp ? ldp->impl.n_embd() : 0; }

void edgevlm_ldp_free(edgevlm_ldp *ldp) { delete ldp; }

}  // extern "C"
