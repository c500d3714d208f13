#include "mmproj_check.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "ldp_names.h"

namespace edgevlm {

namespace {

using Shape = std::vector<int64_t>;

// The shape every ViT tensor must have, from the header's hyper-parameters (ggml order, ne[0] innermost);
// empty for a name the ViT does not know.
Shape vit_shape(const std::string &name, const VitHparams &hp, const std::string &path) {
    const int64_t E = hp.n_embd, F = hp.n_ff, P = hp.patch_size, N = hp.n_patches() + 1;
    if (name == "v.class_embd") return {E};
    if (name == "v.patch_embd.weight") return {P, P, 3, E};
    if (name == "v.position_embd.weight") return {E, N};
    if (name == "v.patch_embd.bias" || name.rfind("v.pre_ln.", 0) == 0 || name.rfind("v.post_ln.", 0) == 0) return {E};
    if (name.rfind("v.blk.", 0) != 0) return {};
    const size_t dot = name.find('.', 6);
    if (dot == std::string::npos) return {};
    const std::string index = name.substr(6, dot - 6), part = name.substr(dot + 1);
    if (index.empty() || index.size() > 4 || index.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(index) >= hp.n_layer_stored)
        bad_mmproj(path, name + " is beyond clip.vision.block_count");
    if (part == "attn_q.weight" || part == "attn_k.weight" || part == "attn_v.weight" || part == "attn_out.weight")
        return {E, E};
    if (part == "ffn_up.weight") return {E, F};
    if (part == "ffn_up.bias") return {F};
    if (part == "ffn_down.weight") return {F, E};
    if (part == "attn_q.bias" || part == "attn_k.bias" || part == "attn_v.bias" || part == "attn_out.bias" ||
        part == "ffn_down.bias" || part.rfind("ln1.", 0) == 0 || part.rfind("ln2.", 0) == 0)
        return {E};
    return {};
}

std::string dims(const int64_t *ne) {
    return "[" + std::to_string(ne[0]) + ", " + std::to_string(ne[1]) + ", " + std::to_string(ne[2]) + ", " +
           std::to_string(ne[3]) + "]";
}

std::string dims(Shape shape) {
    shape.resize(4, 1);
    return dims(shape.data());
}

bool same(Shape want, const int64_t *ne) {
    want.resize(4, 1);
    return std::equal(want.begin(), want.end(), ne);
}

const int64_t *tensor_ne(gguf_context *g, const std::string &name, const std::string &path) {
    const int64_t id = gguf_find_tensor(g, name.c_str());
    if (id < 0) bad_mmproj(path, "missing projector tensor " + name);
    return gguf_get_tensor_ne(g, id);
}

// A width read from a tensor, before it is multiplied into other shapes.
int64_t width_of(gguf_context *g, const std::string &name, const std::string &path) {
    const int64_t w = tensor_ne(g, name, path)[1];
    if (w <= 0 || w > 65536) bad_mmproj(path, name + " has " + std::to_string(w) + " outputs: out of range");
    return w;
}

// A 3x3 depthwise kernel over C channels, squeezed ([3, 3, C], as edgevlm writes it) or not ([3, 3, 1, C]).
bool is_dw_kernel(const int64_t *ne, int64_t c) {
    return ne[0] == 3 && ne[1] == 3 && ((ne[2] == c && ne[3] == 1) || (ne[2] == 1 && ne[3] == c));
}

}  // namespace

void check_vit_tensors(gguf_context *g, const VitHparams &hp, const std::string &path) {
    for (int64_t i = 0; i < gguf_get_n_tensors(g); ++i) {
        const std::string name = gguf_get_tensor_name(g, i);
        if (name.rfind("v.", 0) != 0) continue;
        const Shape want = vit_shape(name, hp, path);
        if (want.empty()) bad_mmproj(path, "unknown vision tensor " + name);
        const int64_t *ne = gguf_get_tensor_ne(g, i);
        if (!same(want, ne))
            bad_mmproj(path, name + " has shape " + dims(ne) + ", the header's hyper-parameters need " + dims(want));
    }
}

void check_projector_tensors(gguf_context *g, const VitHparams &hp, int version, const std::string &path) {
    const LdpNames n(version);
    const int64_t E = hp.n_embd, W = width_of(g, n.fc1 + "weight", path);
    std::vector<std::pair<std::string, Shape>> want = {
        {n.fc1 + "weight", {E, W}}, {n.fc1 + "bias", {W}}, {n.fc2 + "weight", {W, W}}, {n.fc2 + "bias", {W}}};
    std::vector<std::string> dw_kernels;
    std::string widths = "the ViT's width " + std::to_string(E) + ", the projector's " + std::to_string(W);
    if (n.v2) {
        dw_kernels.push_back(n.peg + "weight");
        want.push_back({n.peg + "bias", {W}});
    } else {
        const int64_t S = width_of(g, n.block[0] + "1.fc1.weight", path);
        widths += ", squeeze-excitation " + std::to_string(S);
        for (const std::string &b : n.block) {
            dw_kernels.push_back(b + "0.0.weight");
            want.insert(want.end(), {{b + "0.1.weight", {W}}, {b + "0.1.bias", {W}}, {b + "1.fc1.weight", {W, S}},
                                     {b + "1.fc1.bias", {S}}, {b + "1.fc2.weight", {S, W}}, {b + "1.fc2.bias", {W}},
                                     {b + "2.0.weight", {W, W}}, {b + "2.1.weight", {W}}, {b + "2.1.bias", {W}}});
        }
    }
    for (const auto &[name, shape] : want) {
        const int64_t *ne = tensor_ne(g, name, path);
        if (!same(shape, ne))
            bad_mmproj(path, name + " has shape " + dims(ne) + ", the projector needs " + dims(shape) + " (" + widths + ")");
    }
    for (const std::string &name : dw_kernels) {
        const int64_t *ne = tensor_ne(g, name, path);
        if (!is_dw_kernel(ne, W))
            bad_mmproj(path, name + " has shape " + dims(ne) + ", the projector needs a 3x3 depthwise kernel over " +
                                 std::to_string(W) + " channels (" + widths + ")");
    }
}

}  // namespace edgevlm
