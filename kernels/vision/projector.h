// The mmproj's projector tensors (mm.model.*) handed to the LDP kernel (edgevlm_ldp) on the CPU.
#pragma once

#include "edgevlm.h"
#include "mmproj.h"

namespace edgevlm {

// Throws std::runtime_error when a tensor is missing or misshaped. The caller frees with edgevlm_ldp_free.
edgevlm_ldp *make_projector(const Mmproj &m);

}  // namespace edgevlm
