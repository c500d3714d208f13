/* edgevlm LDP / LDPv2 projector (MobileVLM): g x g grid of C-wide vision features in (g = 24 for
 * CLIP ViT-L/14-336, so 576 tokens), (g/2)^2 x W embeddings out. Include edgevlm.h, not this file. */
#ifndef EDGEVLM_LDP_H
#define EDGEVLM_LDP_H

#ifdef __cplusplus
extern "C" {
#endif

enum edgevlm_ldp_version {
    EDGEVLM_LDP_V1 = 1, /* mm_projector_type "ldpnet" */
    EDGEVLM_LDP_V2 = 2  /* mm_projector_type "ldpnetv2" */
};

/* One LDP v1 inverted-residual block (model.mm_projector.model.mb_block.N.block.*). */
typedef struct edgevlm_ldp_block {
    const void *dw_w;     /* block.0.0.weight  W x 1 x 3 x 3 (dtype), depthwise, no bias */
    const float *ln1_w;   /* block.0.1.weight  W */
    const float *ln1_b;   /* block.0.1.bias    W */
    const void *se_fc1_w; /* block.1.fc1.weight S x W (x 1 x 1) (dtype) */
    const float *se_fc1_b;/* block.1.fc1.bias   S */
    const void *se_fc2_w; /* block.1.fc2.weight W x S (x 1 x 1) (dtype) */
    const float *se_fc2_b;/* block.1.fc2.bias   W */
    const void *pw_w;     /* block.2.0.weight  W x W (x 1 x 1) (dtype), no bias */
    const float *ln2_w;   /* block.2.1.weight  W */
    const float *ln2_b;   /* block.2.1.bias    W */
} edgevlm_ldp_block;

typedef struct edgevlm_ldp_params {
    int version;  /* enum edgevlm_ldp_version */
    int dtype;    /* enum edgevlm_dtype of every matrix / conv kernel */
    int n_embd;   /* C: width of the vision features (1024) */
    int width;    /* W: LLM hidden size (2048, 2560, 4096) */
    int se_dim;   /* S: squeeze-excitation width (v1 only; W/4 rounded to 8) */
    /* v1: model.mm_projector.model.mlp.{1,3}; v2: model.mm_projector.mlp.mlp.{0,2}. Linear: out x in. */
    const void *fc1_w; /* W x C (dtype) */
    const float *fc1_b;/* W */
    const void *fc2_w; /* W x W (dtype) */
    const float *fc2_b;/* W */
    /* v2 only: model.mm_projector.peg.peg.0 (depthwise 3x3, bias) */
    const void *peg_w; /* W x 1 x 3 x 3 (dtype) */
    const float *peg_b;/* W */
    /* v1 only: mb_block.1 (stride 1, residual) and mb_block.2 (stride 2) */
    edgevlm_ldp_block blocks[2];
} edgevlm_ldp_params;

typedef struct edgevlm_ldp edgevlm_ldp;

/* Copies and repacks the weights (the caller's buffers may be freed afterwards).
 * Returns NULL on error; see edgevlm_last_error(). */
EDGEVLM_API edgevlm_ldp *edgevlm_ldp_create(const edgevlm_ldp_params *params);

/* in: n_tokens x C float32, row-major, tokens in row-major grid order, n_tokens = g*g with g even.
 * out: (g/2)^2 x W float32. threads <= 0 means all hardware threads. Calls on one object serialise.
 * Returns an edgevlm_status. */
EDGEVLM_API int edgevlm_ldp_forward(edgevlm_ldp *ldp, const float *in, int n_tokens, float *out, int threads);

EDGEVLM_API int edgevlm_ldp_width(const edgevlm_ldp *ldp);
EDGEVLM_API int edgevlm_ldp_n_embd(const edgevlm_ldp *ldp);

EDGEVLM_API void edgevlm_ldp_free(edgevlm_ldp *ldp);

#ifdef __cplusplus
}
#endif

#endif /* EDGEVLM_LDP_H */
