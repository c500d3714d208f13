/* edgevlm native C ABI: what every component shares (version, SIMD path, error reporting).
 * Component APIs are declared in their own headers, included below. All functions are thread-safe;
 * the last error is per thread. */
#ifndef EDGEVLM_H
#define EDGEVLM_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define EDGEVLM_API __declspec(dllexport)
#else
#define EDGEVLM_API __attribute__((visibility("default")))
#endif

/* Status codes returned by edgevlm functions (0 = success). */
enum edgevlm_status {
    EDGEVLM_OK = 0,
    EDGEVLM_ERR_INVALID_ARGUMENT = 1, /* a null pointer, a bad size, an unknown enum value */
    EDGEVLM_ERR_OUT_OF_MEMORY = 2,
    EDGEVLM_ERR_INTERNAL = 3
};

/* Weight storage types. Matrices and convolution kernels take this type; vectors are always f32. */
enum edgevlm_dtype {
    EDGEVLM_DTYPE_F32 = 0,
    EDGEVLM_DTYPE_F16 = 1, /* IEEE 754 binary16, as uint16_t */
    /* ggml's block_q8_0 rows (per 32 inputs: an f16 scale + 32 int8), run on int8 dot products. Only the
     * Linear / pointwise matrices take it (out rows a multiple of 16, inputs of 32); with it, the depthwise
     * conv kernels and squeeze-excitation matrices are passed as f32. */
    EDGEVLM_DTYPE_Q8_0 = 8
};

/* "MAJOR.MINOR.PATCH" of the native library. */
EDGEVLM_API const char *edgevlm_version(void);

/* The SIMD path compiled in: "avx512f", "avx2+fma", "neon+fp16+dotprod", "neon+fp16", "neon", "scalar". */
EDGEVLM_API const char *edgevlm_simd(void);

/* The int8 dot product the Q8_0 GEMM uses: "avx512vnni", "neon-dotprod", or "" (none compiled in: Q8_0
 * matrices then stay on ggml's mul_mat in the vision encoder). */
EDGEVLM_API const char *edgevlm_int8_dot(void);

/* Message of the last failed call on this thread ("" if none). Valid until the next call on this thread. */
EDGEVLM_API const char *edgevlm_last_error(void);

#ifdef __cplusplus
}
#endif

#include "edgevlm_ldp.h"
#include "edgevlm_vision.h"
#include "edgevlm_session.h"

#endif /* EDGEVLM_H */
