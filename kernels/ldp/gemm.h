// C = act(A * W^T + bias) with W a Linear weight (out x in, PyTorch layout) packed once into column
// panels of simd::kNR outputs, f32 or f16. Cache blocking: a KC-deep slice of a panel (L1/L2) sweeps
// every micro-tile of the thread's packed A slice (L2). f16 panels are widened to f32 once per slice, so
// the micro-kernel is shared and the conversion cost is 1/M of the FMAs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace edgevlm {

// Cache-line aligned storage: packed panels and scratch are read with full-width vector loads, which
// split across two lines when a buffer is only malloc-aligned.
template <class T>
struct CacheAligned {
    using value_type = T;
    static constexpr std::size_t kAlign = 64;
    CacheAligned() = default;
    template <class U>
    CacheAligned(const CacheAligned<U> &) {}
    T *allocate(std::size_t n) { return static_cast<T *>(::operator new(n * sizeof(T), std::align_val_t(kAlign))); }
    void deallocate(T *p, std::size_t) { ::operator delete(p, std::align_val_t(kAlign)); }
    template <class U>
    bool operator==(const CacheAligned<U> &) const { return true; }
    template <class U>
    bool operator!=(const CacheAligned<U> &) const { return false; }
};
template <class T>
using AlignedVector = std::vector<T, CacheAligned<T>>;

enum class Dtype { F32 = 0, F16 = 1, Q8_0 = 8 };  // values of enum edgevlm_dtype
enum class Act { None, Gelu };

class PackedWeights {
public:
    PackedWeights() = default;
    // w: row-major n x k (PyTorch Linear / 1x1 conv weight), f32, IEEE half, or ggml Q8_0 rows (repacked
    // for the int8 GEMM of kernels/q8; throws std::invalid_argument when n or k do not fit its layout).
    PackedWeights(const void *w, Dtype dtype, int n, int k);

    // An f32 / f16 matrix whose rows fill whole panels (n % panel_width() == 0) packs into exactly its own
    // bytes: rewrites w in place and returns a view of it (w must outlive the view; nothing is copied).
    static bool packs_in_place(int n) { return n > 0 && n % panel_width() == 0; }
    static PackedWeights pack_in_place(void *w, Dtype dtype, int n, int k);

    int n() const { return n_; }
    int k() const { return k_; }
    int panels() const { return panels_; }
    Dtype dtype() const { return dtype_; }
    const float *panel_f32(int p) const {
        return (external_ ? static_cast<const float *>(external_) : f32_.data()) + (size_t)p * k_ * panel_width();
    }
    const uint16_t *panel_f16(int p) const {
        return (external_ ? static_cast<const uint16_t *>(external_) : f16_.data()) + (size_t)p * k_ * panel_width();
    }
    const void *q8_packed() const { return q8_.data(); }
    static int panel_width();

private:
    int n_ = 0, k_ = 0, panels_ = 0;
    Dtype dtype_ = Dtype::F32;
    AlignedVector<float> f32_;     // [panel][k][kNR], columns past n zero
    AlignedVector<uint16_t> f16_;  // same layout, halves
    AlignedVector<uint8_t> q8_;    // Q8_0: kernels/q8's packed layout
    const void *external_ = nullptr;  // pack_in_place: the panels live in the caller's memory
};

struct GemmArgs {
    const float *a;           // m x k, row stride lda
    int m, lda;
    const float *a_colscale;  // optional per-input-channel scale folded into A's packing (SE), or null
                              // (Q8_0 weights: applied to A before it is quantized)
    float *c;                 // m x n, row stride ldc
    int ldc;
    const float *bias;        // optional, n
    Act act;
};

// Floats of scratch each thread needs for gemm() with m rows and k inputs.
size_t gemm_scratch_floats(int m, int k);

// Computes this thread's share of the product; needs no synchronisation with the other members.
void gemm(const PackedWeights &w, const GemmArgs &g, int tid, int n_threads, float *scratch);

}  // namespace edgevlm
