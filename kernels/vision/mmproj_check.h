// The tensors of an mmproj against its header, before anything is allocated or a graph built: a crafted file
// (dimensions permuted at the same byte size, a layer the header does not count, a projector tensor that does
// not match the others) is an error naming the tensor, not a GGML_ASSERT (abort, exit 134) deep in a graph or
// a read past a buffer in the LDP kernel.
#pragma once

#include <stdexcept>
#include <string>

#include "gguf.h"
#include "mmproj.h"

namespace edgevlm {

// Every error of the mmproj loader: the file and what is wrong with it.
[[noreturn]] inline void bad_mmproj(const std::string &path, const std::string &what) {
    throw std::runtime_error("mmproj " + path + ": " + what);
}

// Every v.* tensor's shape from the header's clip.vision.* hyper-parameters (bounded by read_hparams first).
void check_vit_tensors(gguf_context *g, const VitHparams &hp, const std::string &path);

// Every tensor of the LDP / LDPv2 projector (`version`: enum edgevlm_ldp_version) present, with the shape the
// others imply: the ViT's width in (embedding_length), the projector's width W (its first Linear's outputs)
// through the rest, and LDP v1's squeeze-excitation width from its first block.
void check_projector_tensors(gguf_context *g, const VitHparams &hp, int version, const std::string &path);

}  // namespace edgevlm
