#include "projector.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "ggml.h"
#include "ldp_names.h"
#include "q8_gemm.h"

namespace edgevlm {

namespace {

// The LDP kernel takes one dtype for its matrices: f16 when the file stores them all as f16; Q8_0 when the
// Linear / pointwise matrices are all Q8_0 and this build has an int8 dot product (the int8 GEMM; conv
// kernels and SE matrices then go in as f32); else f32 (f32 files, mixed files, Q8_0 without int8 dot).
class WeightSet {
public:
    WeightSet(const Mmproj &m, const std::vector<std::string> &matrices, const std::vector<std::string> &linear)
        : m_(m), linear_(linear) {
        bool f16 = true, q8 = q8::has_int8_dot();
        for (const auto &n : matrices) f16 = f16 && m.proj_tensor(n).is_f16();
        for (const auto &n : linear) {
            const HostTensor &t = m.proj_tensor(n);
            q8 = q8 && t.is_q8_0() && q8::shape_supported(t.ne[1], t.ne[0]);
        }
        dtype_ = f16 ? EDGEVLM_DTYPE_F16 : q8 ? EDGEVLM_DTYPE_Q8_0 : EDGEVLM_DTYPE_F32;
    }
    int dtype() const { return dtype_; }
    const void *matrix(const std::string &name) {
        const HostTensor &t = m_.proj_tensor(name);
        if (dtype_ == EDGEVLM_DTYPE_F16) return t.f16.data();
        if (dtype_ == EDGEVLM_DTYPE_Q8_0 && std::find(linear_.begin(), linear_.end(), name) != linear_.end())
            return t.q8_0.data();
        if (!t.f32.empty()) return t.f32.data();
        widened_.push_back(t.widened());  // f16 or Q8_0 storage needed as f32
        return widened_.back().data();
    }
    const float *vec(const std::string &name) {
        const HostTensor &t = m_.proj_tensor(name);
        if (t.f32.empty()) throw std::runtime_error("projector vector " + name + " must be f32");
        return t.f32.data();
    }

private:
    const Mmproj &m_;
    std::vector<std::string> linear_;
    int dtype_;
    std::vector<std::vector<float>> widened_;  // kept alive until edgevlm_ldp_create has copied them
};

}  // namespace

edgevlm_ldp *make_projector(const Mmproj &m) {
    edgevlm_ldp_params p{};
    p.version = m.projector;
    p.n_embd = m.hp.n_embd;
    const LdpNames names(m.projector);
    const bool v2 = names.v2;
    const std::string &fc1 = names.fc1, &fc2 = names.fc2, &peg = names.peg;
    const auto &blk = names.block;  // std::string[2]
    std::vector<std::string> mats = {fc1 + "weight", fc2 + "weight"}, linear = mats;
    if (v2) {
        mats.push_back(peg + "weight");
    } else {
        for (const auto &b : blk) {
            for (const char *s : {"0.0.weight", "1.fc1.weight", "1.fc2.weight", "2.0.weight"}) mats.push_back(b + s);
            linear.push_back(b + "2.0.weight");
        }
    }
    WeightSet ws(m, mats, linear);
    p.dtype = ws.dtype();
    p.width = (int)m.proj_tensor(fc1 + "weight").ne[1];
    p.fc1_w = ws.matrix(fc1 + "weight");
    p.fc1_b = ws.vec(fc1 + "bias");
    p.fc2_w = ws.matrix(fc2 + "weight");
    p.fc2_b = ws.vec(fc2 + "bias");
    if (v2) {
        p.peg_w = ws.matrix(peg + "weight");
        p.peg_b = ws.vec(peg + "bias");
    } else {
        p.se_dim = (int)m.proj_tensor(blk[0] + "1.fc1.weight").ne[1];
        for (int i = 0; i < 2; ++i) {
            edgevlm_ldp_block &b = p.blocks[i];
            b.dw_w = ws.matrix(blk[i] + "0.0.weight");
            b.ln1_w = ws.vec(blk[i] + "0.1.weight");
            b.ln1_b = ws.vec(blk[i] + "0.1.bias");
            b.se_fc1_w = ws.matrix(blk[i] + "1.fc1.weight");
            b.se_fc1_b = ws.vec(blk[i] + "1.fc1.bias");
            b.se_fc2_w = ws.matrix(blk[i] + "1.fc2.weight");
            b.se_fc2_b = ws.vec(blk[i] + "1.fc2.bias");
            b.pw_w = ws.matrix(blk[i] + "2.0.weight");
            b.ln2_w = ws.vec(blk[i] + "2.1.weight");
            b.ln2_b = ws.vec(blk[i] + "2.1.bias");
        }
    }
    edgevlm_ldp *ldp = edgevlm_ldp_create(&p);
    if (!ldp) throw std::runtime_error(std::string("projector: ") + edgevlm_last_error());
    return ldp;
}

}  // namespace edgevlm
