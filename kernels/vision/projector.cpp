#include "projector.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "ggml.h"
#include "ldp_names.h"

namespace edgevlm {

namespace {

// The LDP kernel takes one dtype for every matrix: f16 when the file stores them all as f16, else f32
// (f32 files, and q8_0 matrices widened at load: the projector is a few % of the image's FLOPs).
class WeightSet {
public:
    WeightSet(const Mmproj &m, const std::vector<std::string> &matrices) : m_(m) {
        f16_ = true;
        for (const auto &n : matrices) f16_ = f16_ && m.proj_tensor(n).is_f16();
    }
    int dtype() const { return f16_ ? EDGEVLM_DTYPE_F16 : EDGEVLM_DTYPE_F32; }
    const void *matrix(const std::string &name) {
        const HostTensor &t = m_.proj_tensor(name);
        if (f16_) return t.f16.data();
        if (!t.is_f16()) return t.f32.data();
        widened_.emplace_back(t.f16.size());  // mixed file: widen this f16 tensor
        for (size_t i = 0; i < t.f16.size(); ++i) widened_.back()[i] = ggml_fp16_to_fp32(t.f16[i]);
        return widened_.back().data();
    }
    const float *vec(const std::string &name) {
        const HostTensor &t = m_.proj_tensor(name);
        if (t.is_f16()) throw std::runtime_error("projector vector " + name + " must be f32");
        return t.f32.data();
    }

private:
    const Mmproj &m_;
    bool f16_;
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
    std::vector<std::string> mats = {fc1 + "weight", fc2 + "weight"};
    if (v2) {
        mats.push_back(peg + "weight");
    } else {
        for (const auto &b : blk)
            for (const char *s : {"0.0.weight", "1.fc1.weight", "1.fc2.weight", "2.0.weight"}) mats.push_back(b + s);
    }
    WeightSet ws(m, mats);
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
