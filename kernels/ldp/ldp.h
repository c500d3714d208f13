// The LDP / LDPv2 projector object behind edgevlm_ldp: weights repacked once, forward on a Team.
#pragma once

#include <mutex>
#include <vector>

#include "edgevlm.h"
#include "gemm.h"

namespace edgevlm {

// An LDP v1 block with its SE and conv weights widened to f32 (small) and the pointwise conv packed.
struct LdpBlock {
    std::vector<float> taps;  // [9][W]
    std::vector<float> ln1_w, ln1_b, se1, se1_b, se2, se2_b, ln2_w, ln2_b;
    PackedWeights pw;
};

class Ldp {
public:
    // Throws std::invalid_argument with a message naming the bad field.
    explicit Ldp(const edgevlm_ldp_params &p);

    int version() const { return version_; }
    int width() const { return w_; }
    int n_embd() const { return c_; }

    // in: g*g x C, out: (g/2)^2 x W. Throws std::invalid_argument on a bad token count.
    void forward(const float *in, int n_tokens, float *out, int threads);

private:
    struct Buffers;
    void forward_v1(const float *in, int g, float *out, int tid, class Team &team, Buffers &b) const;
    void forward_v2(const float *in, int g, float *out, int tid, class Team &team, Buffers &b) const;
    void block(const LdpBlock &blk, const float *x, int g, int stride, const float *residual, float *act,
               float *pre_ln, float *dst, int tid, class Team &team, Buffers &b) const;

    int version_, c_, w_, s_;
    PackedWeights fc1_, fc2_;
    std::vector<float> fc1_b_, fc2_b_, peg_taps_, peg_b_;
    LdpBlock blocks_[2];

    std::mutex mu_;                 // one forward at a time per object: the workspace below is shared
    AlignedVector<float> ws_;
};

}  // namespace edgevlm
