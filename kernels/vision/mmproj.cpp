#include "mmproj.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "edgevlm.h"
#include "gguf.h"
#include "mmproj_check.h"
#include "projector_graph.h"

namespace edgevlm {

namespace {

struct GgufFile {
    gguf_context *g = nullptr;
    ~GgufFile() { if (g) gguf_free(g); }
};

struct File {
    FILE *f = nullptr;
    ~File() { if (f) fclose(f); }
};

[[noreturn]] void bad(const std::string &path, const std::string &what) { bad_mmproj(path, what); }

int64_t key(gguf_context *g, const char *name) { return gguf_find_key(g, name); }

int get_int(gguf_context *g, const std::string &path, const char *name, bool required, int dflt) {
    const int64_t id = key(g, name);
    if (id < 0) {
        if (required) bad(path, std::string("missing key ") + name);
        return dflt;
    }
    switch (gguf_get_kv_type(g, id)) {
        case GGUF_TYPE_UINT32: return (int)gguf_get_val_u32(g, id);
        case GGUF_TYPE_INT32: return gguf_get_val_i32(g, id);
        case GGUF_TYPE_UINT64: return (int)gguf_get_val_u64(g, id);
        case GGUF_TYPE_INT64: return (int)gguf_get_val_i64(g, id);
        default: bad(path, std::string("key ") + name + " is not an integer");
    }
}

void get_floats(gguf_context *g, const char *name, float *out, size_t n) {
    const int64_t id = key(g, name);
    if (id < 0 || gguf_get_arr_type(g, id) != GGUF_TYPE_FLOAT32 || gguf_get_arr_n(g, id) != n) return;
    std::memcpy(out, gguf_get_arr_data(g, id), n * sizeof(float));
}

VitHparams read_hparams(gguf_context *g, const std::string &path) {
    const int64_t arch = key(g, "general.architecture");
    if (arch < 0 || std::strcmp(gguf_get_val_str(g, arch), "clip") != 0)
        bad(path, "general.architecture is not \"clip\" (is this an mmproj file?)");
    VitHparams hp;
    hp.image_size = get_int(g, path, "clip.vision.image_size", true, 0);
    hp.patch_size = get_int(g, path, "clip.vision.patch_size", true, 0);
    hp.n_embd = get_int(g, path, "clip.vision.embedding_length", true, 0);
    hp.n_ff = get_int(g, path, "clip.vision.feed_forward_length", true, 0);
    hp.n_head = get_int(g, path, "clip.vision.attention.head_count", true, 0);
    hp.n_layer_stored = get_int(g, path, "clip.vision.block_count", true, 0);
    const int64_t eps = key(g, "clip.vision.attention.layer_norm_epsilon");
    if (eps >= 0) hp.eps = gguf_get_val_f32(g, eps);
    get_floats(g, "clip.vision.image_mean", hp.mean, 3);
    get_floats(g, "clip.vision.image_std", hp.std, 3);
    // edgevlm stores every layer plus the selection; a file without the key (stock recipe) stores
    // exactly the layers MobileVLM runs.
    const int64_t sel = key(g, "edgevlm.vision.select_layer");
    hp.n_layer_run = sel < 0 ? hp.n_layer_stored : hp.n_layer_stored + 1 + get_int(g, path, "edgevlm.vision.select_layer", true, 0);
    if (hp.n_layer_run < 1 || hp.n_layer_run > hp.n_layer_stored) bad(path, "select_layer is out of range");
    // bounded first: the shape checks multiply these, and no CLIP tower comes near the limits
    if (hp.image_size <= 0 || hp.image_size > 8192 || hp.n_embd <= 0 || hp.n_embd > 65536 || hp.n_ff <= 0 ||
        hp.n_ff > 1 << 20 || hp.n_layer_stored <= 0 || hp.n_layer_stored > 1024)
        bad(path, "a clip.vision size is out of range (image_size, embedding_length, feed_forward_length, block_count)");
    if (hp.patch_size <= 0 || hp.image_size % hp.patch_size || hp.grid() % 2) bad(path, "bad image/patch size");
    if (hp.n_head <= 0 || hp.n_embd % hp.n_head) bad(path, "embedding_length is not a multiple of head_count");
    const int64_t gelu = key(g, "clip.use_gelu");
    if (gelu >= 0 && gguf_get_val_bool(g, gelu)) bad(path, "clip.use_gelu = true: CLIP ViT-L uses quick_gelu");
    return hp;
}

int projector_version(gguf_context *g, const std::string &path) {
    const int64_t id = key(g, "clip.projector_type");
    if (id < 0) bad(path, "missing key clip.projector_type");
    const std::string t = gguf_get_val_str(g, id);
    if (t == "ldp") return EDGEVLM_LDP_V1;
    if (t == "ldpv2") return EDGEVLM_LDP_V2;
    bad(path, "projector type \"" + t + "\" is not MobileVLM's ldp or ldpv2");
}

std::vector<uint8_t> read_data(File &f, size_t offset, size_t size, const std::string &path) {
    std::vector<uint8_t> buf(size);
    if (fseek(f.f, (long)offset, SEEK_SET) != 0 || fread(buf.data(), 1, size, f.f) != size)
        bad(path, "truncated tensor data");
    return buf;
}

std::vector<float> to_f32(ggml_type type, const uint8_t *data, int64_t n) {
    std::vector<float> out(n);
    if (type == GGML_TYPE_F32) {
        std::memcpy(out.data(), data, n * sizeof(float));
    } else {
        const auto *traits = ggml_get_type_traits(type);
        if (!traits->to_float) throw std::runtime_error(std::string("cannot dequantize ") + ggml_type_name(type));
        traits->to_float(data, out.data(), n);
    }
    return out;
}

// Tensors that are not matrix-multiplied (vectors, embeddings, the patch conv kernel) are kept in f32:
// the patch conv's im2col needs f32/f16 and these are a tiny share of the bytes.
bool keep_type(const std::string &name, ggml_type type) {
    const bool matrix = name.rfind("v.blk.", 0) == 0 && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0
                        && name.find(".ln") == std::string::npos;
    return matrix || type == GGML_TYPE_F32;
}

// v.blk.N.* for N past the selected layer are never executed: they stay on disk.
bool layer_is_run(const std::string &name, int n_layer_run) {
    if (name.rfind("v.blk.", 0) != 0) return true;
    return std::atoi(name.c_str() + 6) < n_layer_run;
}

}  // namespace

Mmproj::~Mmproj() {
    if (buffer) ggml_backend_buffer_free(buffer);
    if (ctx) ggml_free(ctx);
}

std::vector<float> HostTensor::widened() const {
    if (is_f16()) return to_f32(GGML_TYPE_F16, reinterpret_cast<const uint8_t *>(f16.data()), size());
    if (is_q8_0()) return to_f32(GGML_TYPE_Q8_0, q8_0.data(), size());
    return f32;
}

const HostTensor &Mmproj::proj_tensor(const std::string &name) const {
    for (const auto &p : proj)
        if (p.first == name) return p.second;
    throw std::runtime_error("mmproj has no projector tensor " + name);
}

ggml_tensor *Mmproj::proj_weight(const std::string &name) const {
    ggml_tensor *t = name.rfind("mm.", 0) == 0 ? ggml_get_tensor(ctx, name.c_str()) : nullptr;
    if (!t) throw std::runtime_error("mmproj has no projector tensor " + name + " on the backend");
    return t;
}

namespace {

// A tensor created in the Mmproj's context, filled from the file once the backend buffer exists.
struct Pending {
    ggml_tensor *t;
    int64_t id;
    bool dw_kernel;  // rearranged tap-major on the way (ggml projector graph)
};

HostTensor host_tensor(ggml_type type, const int64_t *ne, const std::vector<uint8_t> &raw) {
    HostTensor h;
    std::memcpy(h.ne, ne, sizeof h.ne);
    const int64_t n = ne[0] * ne[1] * ne[2] * ne[3];
    if (type == GGML_TYPE_F16) h.f16.assign((const uint16_t *)raw.data(), (const uint16_t *)raw.data() + n);
    else if (type == GGML_TYPE_Q8_0) h.q8_0 = raw;
    else h.f32 = to_f32(type, raw.data(), n);
    return h;
}

ggml_tensor *new_named(ggml_context *ctx, ggml_type type, const int64_t *ne, const std::string &name) {
    ggml_tensor *t = ggml_new_tensor(ctx, type, 4, ne);
    ggml_set_name(t, name.c_str());
    return t;
}

// File bytes -> the pending tensor: as stored when the types agree, else widened to f32 (and, for a
// depthwise kernel of the projector graph, rearranged tap-major).
void upload(const Pending &p, ggml_type src, const std::vector<uint8_t> &raw) {
    if (src == p.t->type && !p.dw_kernel) {
        ggml_backend_tensor_set(p.t, raw.data(), 0, raw.size());
        return;
    }
    auto f = to_f32(src, raw.data(), ggml_nelements(p.t));
    if (p.dw_kernel) f = dw_kernel_tap_major(f, p.t->ne[0]);
    ggml_backend_tensor_set(p.t, f.data(), 0, f.size() * sizeof(float));
}

}  // namespace

std::unique_ptr<Mmproj> load_mmproj(const std::string &path, ggml_backend_t backend, ProjectorPlacement placement) {
    GgufFile gf;
    gguf_init_params params = {/*no_alloc*/ true, /*ctx*/ nullptr};
    gf.g = gguf_init_from_file(path.c_str(), params);
    if (!gf.g) bad(path, "not found or not a GGUF file");
    gguf_context *g = gf.g;
    auto m = std::make_unique<Mmproj>();
    m->hp = read_hparams(g, path);
    m->projector = projector_version(g, path);
    check_vit_tensors(g, m->hp, path);
    check_projector_tensors(g, m->hp, m->projector, path);
    File file;
    file.f = fopen(path.c_str(), "rb");
    if (!file.f) bad(path, "cannot open");
    const size_t data_off = gguf_get_data_offset(g);
    auto tensor_data = [&](int64_t id) {
        return read_data(file, data_off + gguf_get_tensor_offset(g, id), gguf_get_tensor_size(g, id), path);
    };

    const int64_t n_tensors = gguf_get_n_tensors(g);
    ggml_init_params ip = {ggml_tensor_overhead() * (size_t)(n_tensors + 1), nullptr, true};
    m->ctx = ggml_init(ip);
    std::vector<Pending> pending;
    for (int64_t i = 0; i < n_tensors; ++i) {
        const std::string name = gguf_get_tensor_name(g, i);
        const ggml_type type = gguf_get_tensor_type(g, i);
        const int64_t *ne = gguf_get_tensor_ne(g, i);
        if (name.rfind("mm.", 0) == 0 && placement == ProjectorPlacement::Host) {
            m->proj.emplace_back(name, host_tensor(type, ne, tensor_data(i)));
        } else if (name.rfind("mm.", 0) == 0) {
            GraphWeightSpec spec;
            try {
                spec = graph_weight_spec(m->projector, name, type, ne);
            } catch (const std::runtime_error &e) {
                bad(path, e.what());
            }
            pending.push_back({new_named(m->ctx, spec.type, spec.ne, name), i, spec.role == GraphWeightRole::DwKernel});
        } else if (name.rfind("v.", 0) == 0 && layer_is_run(name, m->hp.n_layer_run)) {
            pending.push_back({new_named(m->ctx, keep_type(name, type) ? type : GGML_TYPE_F32, ne, name), i, false});
        }
    }
    m->buffer = ggml_backend_alloc_ctx_tensors(m->ctx, backend);
    if (!m->buffer) bad(path, "cannot allocate the ViT weights on the backend");
    // Host memory (the CPU backend): tensors kept as stored are read straight into place, with no staging
    // copy; the rest go through a staging vector (widening, rearranging, or a device upload).
    const bool host = ggml_backend_buffer_is_host(m->buffer);
    for (const auto &p : pending) {
        const ggml_type src = gguf_get_tensor_type(g, p.id);
        if (host && src == p.t->type && !p.dw_kernel) {
            const size_t size = gguf_get_tensor_size(g, p.id);
            const long at = (long)(data_off + gguf_get_tensor_offset(g, p.id));
            if (size != ggml_nbytes(p.t) || fseek(file.f, at, SEEK_SET) != 0 || fread(p.t->data, 1, size, file.f) != size)
                bad(path, "truncated tensor data");
        } else {
            upload(p, src, tensor_data(p.id));
        }
    }

    auto get = [&](const std::string &name, bool required) -> ggml_tensor * {
        ggml_tensor *t = ggml_get_tensor(m->ctx, name.c_str());
        if (!t && required) bad(path, "missing tensor " + name);
        return t;
    };
    VitWeights &w = m->vit;
    w.class_embd = get("v.class_embd", true);
    w.patch_w = get("v.patch_embd.weight", true);
    w.patch_b = get("v.patch_embd.bias", false);
    w.pos_embd = get("v.position_embd.weight", true);
    w.pre_ln_w = get("v.pre_ln.weight", true);
    w.pre_ln_b = get("v.pre_ln.bias", true);
    if (get("v.post_ln.weight", false)) bad(path, "has v.post_ln: MobileVLM's feature is taken before the post-layernorm");
    for (int il = 0; il < m->hp.n_layer_run; ++il) {
        const std::string b = "v.blk." + std::to_string(il) + ".";
        VitLayer l;
        l.q_w = get(b + "attn_q.weight", true);   l.q_b = get(b + "attn_q.bias", true);
        l.k_w = get(b + "attn_k.weight", true);   l.k_b = get(b + "attn_k.bias", true);
        l.v_w = get(b + "attn_v.weight", true);   l.v_b = get(b + "attn_v.bias", true);
        l.o_w = get(b + "attn_out.weight", true); l.o_b = get(b + "attn_out.bias", true);
        l.ln1_w = get(b + "ln1.weight", true);    l.ln1_b = get(b + "ln1.bias", true);
        l.ln2_w = get(b + "ln2.weight", true);    l.ln2_b = get(b + "ln2.bias", true);
        l.up_w = get(b + "ffn_up.weight", true);  l.up_b = get(b + "ffn_up.bias", true);
        l.down_w = get(b + "ffn_down.weight", true); l.down_b = get(b + "ffn_down.bias", true);
        if (l.up_w->ne[1] != m->hp.n_ff) bad(path, b + "ffn_up.weight is not embedding_length -> feed_forward_length");
        w.layers.push_back(l);
    }
    if (w.pos_embd->ne[1] != m->hp.n_patches() + 1) bad(path, "v.position_embd.weight does not have n_patches + 1 rows");
    m->weight_type = ggml_type_name(w.layers[0].q_w->type);
    return m;
}

}  // namespace edgevlm
