/* edgevlm vision encoder (MobileVLM): an image in, (g/2)^2 x W LLM-width embeddings out (144 x W for
 * CLIP ViT-L/14-336). Loads edgevlm's mmproj GGUF through ggml's gguf API, preprocesses exactly as
 * MobileVLM does (pad to square with the mean colour, PIL bicubic resize, CLIP normalisation), runs the
 * CLIP ViT on a ggml backend with the CLS token first and MobileVLM's layer selection, drops CLS, then
 * the LDP / LDPv2 projector: edgevlm_ldp on the CPU, or the same computation as ggml ops on the ViT's
 * backend. Environment, read by edgevlm_vision_load: EDGEVLM_VISION_DEVICE=cpu keeps the ViT on the CPU
 * backend; EDGEVLM_PROJECTOR=kernel|ggml picks the projector (unset: ggml when the ViT backend is not the
 * CPU, else kernel; any other value fails the load with EDGEVLM_ERR_INVALID_ARGUMENT).
 * Include edgevlm.h, not this file. */
#ifndef EDGEVLM_VISION_H
#define EDGEVLM_VISION_H

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes of the vision API, beside enum edgevlm_status. */
enum edgevlm_vision_status {
    EDGEVLM_ERR_IMAGE = 16, /* the image file is missing or cannot be decoded */
    EDGEVLM_ERR_MODEL = 17  /* the mmproj file is missing, unreadable, or not a MobileVLM mmproj */
};

typedef struct edgevlm_vision edgevlm_vision;

/* Wall-clock milliseconds of the stages of one encode. */
typedef struct edgevlm_vision_timings {
    double decode_ms;     /* image file decode (0 for encode_rgb) */
    double preprocess_ms; /* pad + resize + normalise */
    double vit_ms;        /* patch embedding + encoder layers (graph compute) */
    double projector_ms;  /* LDP / LDPv2 (ggml projector: graph compute + embeddings download) */
    double total_ms;
} edgevlm_vision_timings;

/* Loads an mmproj GGUF (matrices f32, f16 or q8_0). threads <= 0: all hardware threads.
 * Returns NULL on error (EDGEVLM_ERR_MODEL and friends; message in edgevlm_last_error()). */
EDGEVLM_API edgevlm_vision *edgevlm_vision_load(const char *mmproj_path, int threads);

/* out: n_tokens x n_embd float32, row-major. timings may be NULL. Returns an edgevlm status. */
EDGEVLM_API int edgevlm_vision_encode_file(edgevlm_vision *ctx, const char *image_path, float *out,
                                           edgevlm_vision_timings *timings);

/* rgb: h rows of w pixels, 3 bytes each (R, G, B), no padding between rows. */
EDGEVLM_API int edgevlm_vision_encode_rgb(edgevlm_vision *ctx, const unsigned char *rgb, int w, int h,
                                          float *out, edgevlm_vision_timings *timings);

/* The stages on their own, for tests and benchmarks:
 * preprocess -> 3 x S x S float32 planar (S = image_size); features (ViT only, CLS dropped) ->
 * n_patches x vision_width float32 from a preprocessed image; project: features -> n_tokens x n_embd. */
EDGEVLM_API int edgevlm_vision_preprocess_rgb(edgevlm_vision *ctx, const unsigned char *rgb, int w, int h,
                                              float *pixels);
EDGEVLM_API int edgevlm_vision_features(edgevlm_vision *ctx, const float *pixels, float *features,
                                        edgevlm_vision_timings *timings);
EDGEVLM_API int edgevlm_vision_project(edgevlm_vision *ctx, const float *features, float *out,
                                       edgevlm_vision_timings *timings);

EDGEVLM_API int edgevlm_vision_n_tokens(const edgevlm_vision *ctx);     /* 144 */
EDGEVLM_API int edgevlm_vision_n_embd(const edgevlm_vision *ctx);       /* W, the LLM width */
EDGEVLM_API int edgevlm_vision_n_patches(const edgevlm_vision *ctx);    /* 576 */
EDGEVLM_API int edgevlm_vision_width(const edgevlm_vision *ctx);        /* C, 1024 */
EDGEVLM_API int edgevlm_vision_image_size(const edgevlm_vision *ctx);   /* 336 */
EDGEVLM_API int edgevlm_vision_n_layers(const edgevlm_vision *ctx);     /* ViT layers run (23) */
EDGEVLM_API int edgevlm_vision_projector(const edgevlm_vision *ctx);    /* enum edgevlm_ldp_version */
EDGEVLM_API const char *edgevlm_vision_backend(const edgevlm_vision *ctx); /* ggml backend name, "CPU" */
EDGEVLM_API const char *edgevlm_vision_projector_impl(const edgevlm_vision *ctx); /* "ldp-kernel" or "ggml" */
/* What runs the ViT's linear layers on the CPU backend: "int8-gemm/<isa>" (Q8_0 matrices, where the build has
 * an int8 dot product), "f32-gemm/<simd>" (f16 / f32 matrices), or "ggml" (ggml's mul_mat: other backends,
 * shapes the packed layouts do not cover, or EDGEVLM_VIT_MATMUL=ggml). */
EDGEVLM_API const char *edgevlm_vision_vit_matmul(const edgevlm_vision *ctx);
EDGEVLM_API const char *edgevlm_vision_weight_type(const edgevlm_vision *ctx); /* of attn_q: "f16", ... */

EDGEVLM_API void edgevlm_vision_free(edgevlm_vision *ctx);

#ifdef __cplusplus
}
#endif

#endif /* EDGEVLM_VISION_H */
