#include "vit.h"

#include <cmath>
#include <string>
#include <stdexcept>

namespace edgevlm {

namespace {

constexpr int kGraphNodes = 8192;  // ~30 nodes per layer, 24 layers: generous

ggml_tensor *layer_norm(ggml_context *ctx, ggml_tensor *x, ggml_tensor *w, ggml_tensor *b, float eps) {
    return ggml_add(ctx, ggml_mul(ctx, ggml_norm(ctx, x, eps), w), b);
}

// CLIP's quick_gelu x * sigmoid(1.702 x) = silu(1.702 x) / 1.702. ggml_gelu_quick on f32 goes through an f16
// lookup table (~1e-3 relative error, which alone would cost the f32 mmproj its 0.9999 cosine), and
// ggml_sigmoid calls scalar expf per element; ggml's silu is vectorised (AVX-512 / AVX2 / NEON exp, ~1.5 ulp).
ggml_tensor *quick_gelu(ggml_context *ctx, ggml_tensor *x) {
    constexpr float kAlpha = 1.702f;
    return ggml_scale(ctx, ggml_silu(ctx, ggml_scale(ctx, x, kAlpha)), 1.0f / kAlpha);
}

}  // namespace

ggml_tensor *Vit::linear(ggml_tensor *x, ggml_tensor *w, ggml_tensor *b) const {
    if (cpu_linear_) return cpu_linear_->apply(ctx_, x, w, b);
    return ggml_add(ctx_, ggml_mul_mat(ctx_, w, x), b);
}

ggml_tensor *Vit::ggml_attention(ggml_tensor *h, const VitLayer &l, int n_pos, int d_head) const {
    const VitHparams &hp = m_.hp;
    ggml_tensor *q = ggml_reshape_3d(ctx_, linear(h, l.q_w, l.q_b), d_head, hp.n_head, n_pos);
    ggml_tensor *k = ggml_reshape_3d(ctx_, linear(h, l.k_w, l.k_b), d_head, hp.n_head, n_pos);
    ggml_tensor *v = ggml_reshape_3d(ctx_, linear(h, l.v_w, l.v_b), d_head, hp.n_head, n_pos);
    // ggml's fused attention (one pass over K/V per query block, no n_pos² score matrix in memory), with
    // K and V kept in f32 so the f32 parity target is unaffected.
    q = ggml_permute(ctx_, q, 0, 2, 1, 3);                    // d_head, n_pos, n_head
    k = ggml_cont(ctx_, ggml_permute(ctx_, k, 0, 2, 1, 3));
    v = ggml_cont(ctx_, ggml_permute(ctx_, v, 0, 2, 1, 3));
    ggml_tensor *kqv = ggml_flash_attn_ext(ctx_, q, k, v, nullptr, 1.0f / std::sqrt((float)d_head), 0.0f, 0.0f);
    ggml_flash_attn_ext_set_prec(kqv, GGML_PREC_F32);
    return ggml_reshape_2d(ctx_, kqv, hp.n_embd, n_pos);   // FA output: d_head, n_head, n_pos
}

ggml_tensor *Vit::layer(ggml_tensor *x, const VitLayer &l) const {
    const VitHparams &hp = m_.hp;
    const int n_pos = hp.n_patches() + 1, d_head = hp.n_embd / hp.n_head;
    ggml_tensor *h = layer_norm(ctx_, x, l.ln1_w, l.ln1_b, hp.eps);
    ggml_tensor *attn = cpu_attention_ ? cpu_attention_->apply(ctx_, linear(h, l.q_w, l.q_b), linear(h, l.k_w, l.k_b),
                                                                linear(h, l.v_w, l.v_b))
                                       : ggml_attention(h, l, n_pos, d_head);
    x = ggml_add(ctx_, x, linear(attn, l.o_w, l.o_b));
    h = layer_norm(ctx_, x, l.ln2_w, l.ln2_b, hp.eps);
    h = linear(quick_gelu(ctx_, linear(h, l.up_w, l.up_b)), l.down_w, l.down_b);
    return ggml_add(ctx_, x, h);
}

Vit::Vit(Mmproj &m, ggml_backend_t backend, ggml_tensor *features_dst, bool edgevlm_matmul, int pack_threads)
    : m_(m), backend_(backend) {
    const VitHparams &hp = m.hp;
    const CpuLinearKind kind = edgevlm_matmul ? cpu_linear_kind(m, backend) : CpuLinearKind::None;
    if (kind != CpuLinearKind::None) {
        cpu_linear_ = std::make_unique<CpuLinear>(m, kind, hp.n_patches() + 1, pack_threads);
        matmul_impl_ = cpu_linear_->name();
    }
    // The fp16 attention goes with edgevlm's GEMMs (EDGEVLM_VIT_MATMUL=ggml keeps the whole ViT on ggml).
    const int d_head = hp.n_embd / hp.n_head;
    if (edgevlm_matmul && CpuAttention::available(backend, d_head)) {
        cpu_attention_ = std::make_unique<CpuAttention>(hp.n_patches() + 1, hp.n_head, d_head);
        matmul_impl_ += "+f16-attention";
    }
    const VitWeights &w = m.vit;
    ggml_init_params ip = {ggml_tensor_overhead() * kGraphNodes + ggml_graph_overhead_custom(kGraphNodes, false),
                           nullptr, true};
    ctx_ = ggml_init(ip);
    graph_ = ggml_new_graph_custom(ctx_, kGraphNodes, false);

    input_ = ggml_new_tensor_4d(ctx_, GGML_TYPE_F32, hp.image_size, hp.image_size, 3, 1);
    ggml_set_name(input_, "pixels");
    ggml_set_input(input_);
    // Patch embedding: conv 14x14 stride 14 -> [g, g, C] -> tokens as rows [C, n_patches].
    ggml_tensor *x = ggml_conv_2d(ctx_, w.patch_w, input_, hp.patch_size, hp.patch_size, 0, 0, 1, 1);
    x = ggml_reshape_2d(ctx_, x, hp.n_patches(), hp.n_embd);
    x = ggml_cont(ctx_, ggml_transpose(ctx_, x));
    if (w.patch_b) x = ggml_add(ctx_, x, w.patch_b);
    // CLS first (row 0), then every row i gets position embedding i: CLIP's order, which stock
    // llama.cpp's llava graph gets wrong (it appends CLS last).
    ggml_tensor *cls = ggml_reshape_2d(ctx_, w.class_embd, hp.n_embd, 1);
    x = ggml_concat(ctx_, cls, x, 1);
    x = ggml_add(ctx_, x, ggml_reshape_2d(ctx_, w.pos_embd, hp.n_embd, hp.n_patches() + 1));
    x = layer_norm(ctx_, x, w.pre_ln_w, w.pre_ln_b, hp.eps);
    for (const VitLayer &l : w.layers) x = layer(x, l);
    // Drop CLS: rows 1..n_patches.
    x = ggml_view_2d(ctx_, x, hp.n_embd, hp.n_patches(), x->nb[1], x->nb[1]);
    output_ = features_dst ? ggml_cpy(ctx_, x, features_dst) : ggml_cont(ctx_, x);
    ggml_set_name(output_, "features");
    ggml_set_output(output_);
    ggml_build_forward_expand(graph_, output_);

    alloc_ = ggml_gallocr_new(ggml_backend_get_default_buffer_type(backend_));
    if (!ggml_gallocr_alloc_graph(alloc_, graph_)) throw std::runtime_error("cannot allocate the ViT graph");
}

Vit::~Vit() {
    if (alloc_) ggml_gallocr_free(alloc_);
    if (ctx_) ggml_free(ctx_);
}

void Vit::run(const float *pixels, float *features) {
    ggml_backend_tensor_set(input_, pixels, 0, ggml_nbytes(input_));
    if (ggml_backend_graph_compute(backend_, graph_) != GGML_STATUS_SUCCESS)
        throw std::runtime_error("ViT graph compute failed on backend " + std::string(ggml_backend_name(backend_)));
    if (features) ggml_backend_tensor_get(output_, features, 0, ggml_nbytes(output_));
}

}  // namespace edgevlm
