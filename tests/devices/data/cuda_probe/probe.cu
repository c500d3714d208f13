// A quantized dot product in the style of ggml-cuda's vec_dot kernels: __dp4a (int8x4) and half math.
#include <cuda_fp16.h>
#include <stdint.h>

__global__ void q8_dot(const int32_t *a, const int32_t *b, const half *scale, float *out, int n) {
    int sum = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) sum = __dp4a(a[i], b[i], sum);
    atomicAdd(out, __half2float(scale[0]) * (float)sum);
}
