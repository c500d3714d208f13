// The names of MobileVLM's projector tensors in an mmproj (written by edgevlm/mapping/vision.py), shared
// by the two projectors: the LDP kernel (projector.cpp) and the ggml graph (projector_graph.cpp).
#pragma once

#include <string>

#include "edgevlm.h"

namespace edgevlm {

struct LdpNames {
    explicit LdpNames(int version) : v2(version == EDGEVLM_LDP_V2) {
        // LDP v1's mlp starts with an Identity (index 0), LDPv2's does not: its Linears are 0 and 2.
        fc1 = v2 ? "mm.model.mlp.0." : "mm.model.mlp.1.";
        fc2 = v2 ? "mm.model.mlp.2." : "mm.model.mlp.3.";
    }
    bool v2;
    std::string fc1, fc2;
    std::string peg = "mm.model.peg.0.";  // LDPv2's depthwise conv (weight, bias)
    // LDP v1's two MobileNetV3 blocks (mb_block.0 is an Identity): block.0.0 depthwise conv, block.0.1
    // LayerNorm, block.1.fc1/fc2 squeeze-excitation, block.2.0 pointwise conv, block.2.1 LayerNorm.
    std::string block[2] = {"mm.model.mb_block.1.block.", "mm.model.mb_block.2.block."};
};

}  // namespace edgevlm
