/* edgevlm session: the runtime's stages (kernels/runtime/session.h) behind the C ABI, so that the Python
 * Runtime runs the same generation loop as edgevlm-run and edgevlm-serve:
 *   load -> encode_image -> prefill -> generate (one decode step per token, handed to a callback) -> free.
 * The conversation (vicuna v1, its system prompt read from the GGUF's chat template) and MobileVLM's chunked
 * tokenization are the runtime's. One session is used by one thread at a time.
 * Include edgevlm.h, not this file. */
#ifndef EDGEVLM_SESSION_H
#define EDGEVLM_SESSION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct edgevlm_session edgevlm_session;

typedef struct edgevlm_session_params {
    const char *model;   /* LLM GGUF */
    const char *mmproj;  /* mmproj GGUF, or NULL / "" for text only */
    int32_t threads;
    int32_t n_gpu_layers;
    int32_t verbose;     /* llama.cpp's logs on stderr */
} edgevlm_session_params;

/* Sampling and limits of one answer; defaults (edgevlm_generate_default_params) from options.def. */
typedef struct edgevlm_generate_params {
    int32_t max_tokens;
    float temp;          /* 0: greedy */
    int32_t top_k;
    float top_p;
    uint32_t seed;
    int32_t ignore_eos;
} edgevlm_generate_params;

/* Called with each generated token and its text piece (bytes, not NUL-terminated); return 0 to stop. */
typedef int (*edgevlm_token_fn)(int32_t token, const char *piece, int32_t piece_len, void *user);

EDGEVLM_API edgevlm_session_params edgevlm_session_default_params(void);
EDGEVLM_API edgevlm_generate_params edgevlm_generate_default_params(void);

/* Loads the LLM and the vision encoder; NULL on error (edgevlm_last_error()). */
EDGEVLM_API edgevlm_session *edgevlm_session_load(const edgevlm_session_params *params);
EDGEVLM_API int edgevlm_session_n_embd(const edgevlm_session *s);
EDGEVLM_API int edgevlm_session_n_image_tokens(const edgevlm_session *s);   /* 0: text only */

/* out: n_image_tokens x n_embd float32. timings may be NULL. */
EDGEVLM_API int edgevlm_session_encode_image(edgevlm_session *s, const char *image_path, float *out,
                                             edgevlm_vision_timings *timings);

/* The prompt for `question` (about the image whose embeddings are image_embd, or NULL) evaluated in a context
 * that holds it and max_tokens more; n_prompt (may be NULL) receives its length, image rows included. */
EDGEVLM_API int edgevlm_session_prefill(edgevlm_session *s, const char *question, const float *image_embd,
                                        int32_t max_tokens, int32_t *n_prompt);

/* Decodes the answer after a prefill; n_tokens (may be NULL) receives the tokens generated. */
EDGEVLM_API int edgevlm_session_generate(edgevlm_session *s, const edgevlm_generate_params *params,
                                         edgevlm_token_fn on_token, void *user, int32_t *n_tokens);

/* The text piece of a token (bytes, not NUL-terminated): its length, or -1 when it does not fit in cap. */
EDGEVLM_API int edgevlm_session_token_piece(const edgevlm_session *s, int32_t token, char *buf, int32_t cap);

/* What the load chose, by exact name: "llm_backend", "vision_backend", "mmproj_type", "projector_impl",
 * "vit_matmul", "system_prompt"; NULL for an unknown name. Valid while the session lives. */
EDGEVLM_API const char *edgevlm_session_info(const edgevlm_session *s, const char *name);

EDGEVLM_API void edgevlm_session_free(edgevlm_session *s);

#ifdef __cplusplus
}
#endif

#endif /* EDGEVLM_SESSION_H */
