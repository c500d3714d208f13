// The C ABI of the vision encoder: an edgevlm_vision owns the backend, the loaded mmproj, the ViT graph
// and one of two projectors. Where the ViT runs: the first GPU device ggml registered (CUDA on Jetson) unless
// EDGEVLM_VISION_DEVICE=cpu, else the CPU backend. The projector (EDGEVLM_PROJECTOR, read at load):
//   kernel  the LDP kernel (edgevlm_ldp) on the CPU, weights on the host; the ViT's 576 x 1024 output comes
//           back to the host (2.4 MB). The default on the CPU backend, where it is several times faster than
//           ggml ops.
//   ggml    the same computation as ggml ops on the ViT's backend (projector_graph.h), weights in the
//           backend buffer; the ViT writes its output into a persistent backend tensor that the projector
//           graph reads, so a GPU never round-trips it through the host. The default on a GPU backend.
// The ViT's matrices (EDGEVLM_VIT_MATMUL, read at load): edgevlm's GEMMs on the CPU backend (cpu_linear.h,
// the default) or ggml's mul_mat. An unknown value of either switch fails the load.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "edgevlm.h"
#include "edgevlm_stage.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "image.h"
#include "mmproj.h"
#include "projector.h"
#include "projector_graph.h"
#include "status.h"
#include "vit.h"

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

enum class ProjectorImpl { Kernel, Ggml };

const char *impl_name(ProjectorImpl p) { return p == ProjectorImpl::Ggml ? "ggml" : "ldp-kernel"; }

// EDGEVLM_PROJECTOR by exact match; unset or empty: ggml ops when the ViT runs off the CPU, else the kernel.
ProjectorImpl pick_projector(ggml_backend_t backend) {
    const char *want = std::getenv("EDGEVLM_PROJECTOR");
    if (!want || !*want) return ggml_backend_is_cpu(backend) ? ProjectorImpl::Kernel : ProjectorImpl::Ggml;
    if (std::strcmp(want, "kernel") == 0) return ProjectorImpl::Kernel;
    if (std::strcmp(want, "ggml") == 0) return ProjectorImpl::Ggml;
    throw std::invalid_argument(std::string("EDGEVLM_PROJECTOR=") + want +
                                " is not a projector: use kernel (the LDP kernel, CPU) or ggml (ggml ops on the"
                                " ViT's backend), or unset it for the default");
}

// EDGEVLM_VIT_MATMUL by exact match; unset, empty or "edgevlm": edgevlm's GEMMs wherever they apply.
bool pick_edgevlm_matmul() {
    const char *want = std::getenv("EDGEVLM_VIT_MATMUL");
    if (!want || !*want || std::strcmp(want, "edgevlm") == 0) return true;
    if (std::strcmp(want, "ggml") == 0) return false;
    throw std::invalid_argument(std::string("EDGEVLM_VIT_MATMUL=") + want +
                                " is not a ViT matmul path: use edgevlm (edgevlm's GEMMs on the CPU) or ggml"
                                " (ggml's mul_mat), or unset it for the default");
}

ggml_backend_t pick_backend(int threads) {
    const char *want = std::getenv("EDGEVLM_VISION_DEVICE");
    const bool cpu_only = want && std::strcmp(want, "cpu") == 0;
    if (!cpu_only) {
        if (ggml_backend_dev_t gpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_GPU))
            if (ggml_backend_t b = ggml_backend_dev_init(gpu, nullptr)) return b;
    }
    ggml_backend_t cpu = ggml_backend_cpu_init();
    if (cpu) ggml_backend_cpu_set_n_threads(cpu, threads);
    return cpu;
}

}  // namespace

struct edgevlm_vision {
    ggml_backend_t backend = nullptr;
    std::unique_ptr<edgevlm::Mmproj> mmproj;
    std::unique_ptr<edgevlm::Vit> vit;
    ProjectorImpl impl = ProjectorImpl::Kernel;
    bool edgevlm_matmul = true;                         // EDGEVLM_VIT_MATMUL
    edgevlm_ldp *ldp = nullptr;                        // impl == Kernel
    std::unique_ptr<edgevlm::ProjectorGraph> graph;   // impl == Ggml
    int threads = 1;
    std::string backend_name;
    std::mutex mu;  // one encode at a time: the graph's buffers are shared
    ~edgevlm_vision() {
        vit.reset();
        graph.reset();
        mmproj.reset();
        if (ldp) edgevlm_ldp_free(ldp);
        if (backend) ggml_backend_free(backend);
    }
};

namespace {

int fail(int status, const std::string &msg) { return edgevlm::set_error(status, msg); }

// Runs fn, turning exceptions into a status + message.
template <class F>
int guarded(int error_status, F &&fn) {
    try {
        edgevlm::clear_error();
        fn();
        return EDGEVLM_OK;
    } catch (const std::bad_alloc &) {
        return fail(EDGEVLM_ERR_OUT_OF_MEMORY, "out of memory");
    } catch (const std::exception &e) {
        return fail(error_status, e.what());
    }
}

void preprocess(const edgevlm_vision *v, const edgevlm::RgbImage &img, float *pixels) {
    const auto &hp = v->mmproj->hp;
    uint8_t fill[3];  // MobileVLM's expand2square colour: int(mean * 255) per channel
    for (int c = 0; c < 3; ++c) fill[c] = (uint8_t)(int)(hp.mean[c] * 255);
    const auto square = edgevlm::pad_to_square(img, fill);
    const auto sized = edgevlm::resize_bicubic(square, hp.image_size, hp.image_size);
    edgevlm::normalize_planar(sized, hp.mean, hp.std, pixels);
}

edgevlm::RgbImage wrap_rgb(const unsigned char *rgb, int w, int h) {
    if (!rgb || w <= 0 || h <= 0) throw std::invalid_argument("rgb must be a non-empty w x h x 3 image");
    edgevlm::RgbImage img;
    img.w = w;
    img.h = h;
    img.rgb.assign(rgb, rgb + (size_t)w * h * 3);
    return img;
}

int encode_image(edgevlm_vision *v, const edgevlm::RgbImage &img, float *out, edgevlm_vision_timings *t) {
    std::lock_guard<std::mutex> lock(v->mu);
    edgevlm_vision_timings local{};
    if (!t) t = &local;
    const auto &hp = v->mmproj->hp;
    const bool on_backend = v->impl == ProjectorImpl::Ggml;  // features stay in the backend tensor
    std::vector<float> pixels((size_t)3 * hp.image_size * hp.image_size);
    std::vector<float> feats(on_backend ? 0 : (size_t)hp.n_patches() * hp.n_embd);
    auto t0 = Clock::now();
    int st = guarded(EDGEVLM_ERR_INTERNAL, [&] { preprocess(v, img, pixels.data()); });
    t->preprocess_ms = ms_since(t0);
    if (st) return st;
    t0 = Clock::now();
    st = guarded(EDGEVLM_ERR_INTERNAL, [&] { v->vit->run(pixels.data(), on_backend ? nullptr : feats.data()); });
    t->vit_ms = ms_since(t0);
    if (st) return st;
    edgevlm_stage_marker(EDGEVLM_STAGE_PROJECTOR);  // a no-op the arm64 cost model watches (edgevlm_stage.h)
    t0 = Clock::now();
    if (on_backend) st = guarded(EDGEVLM_ERR_INTERNAL, [&] { v->graph->run(out); });
    else st = edgevlm_ldp_forward(v->ldp, feats.data(), hp.n_patches(), out, v->threads);
    t->projector_ms = ms_since(t0);
    t->total_ms = t->decode_ms + t->preprocess_ms + t->vit_ms + t->projector_ms;
    return st;
}

// The mmproj with its projector weights where the chosen projector reads them, then the projector and
// the ViT (which writes straight into the graph projector's input tensor when there is one).
void load_model(edgevlm_vision *v, const char *mmproj_path) {
    const bool on_backend = v->impl == ProjectorImpl::Ggml;
    v->mmproj = edgevlm::load_mmproj(
        mmproj_path, v->backend, on_backend ? edgevlm::ProjectorPlacement::Backend : edgevlm::ProjectorPlacement::Host);
    if (on_backend) v->graph = std::make_unique<edgevlm::ProjectorGraph>(*v->mmproj, v->backend);
    else v->ldp = edgevlm::make_projector(*v->mmproj);
    v->vit = std::make_unique<edgevlm::Vit>(*v->mmproj, v->backend, on_backend ? v->graph->features() : nullptr,
                                            v->edgevlm_matmul, v->threads);
}

}  // namespace

extern "C" {

edgevlm_vision *edgevlm_vision_load(const char *mmproj_path, int threads) {
    if (!mmproj_path) {
        fail(EDGEVLM_ERR_INVALID_ARGUMENT, "mmproj path is null");
        return nullptr;
    }
    auto v = std::make_unique<edgevlm_vision>();
    v->threads = threads > 0 ? threads : (int)std::max(1u, std::thread::hardware_concurrency());
    int st = guarded(EDGEVLM_ERR_MODEL, [&] {
        v->backend = pick_backend(v->threads);
        if (!v->backend) throw std::runtime_error("no ggml backend could be initialised");
        v->backend_name = ggml_backend_name(v->backend);
    });
    if (st == EDGEVLM_OK)
        st = guarded(EDGEVLM_ERR_INVALID_ARGUMENT, [&] {
            v->impl = pick_projector(v->backend);
            v->edgevlm_matmul = pick_edgevlm_matmul();
        });
    if (st == EDGEVLM_OK) st = guarded(EDGEVLM_ERR_MODEL, [&] { load_model(v.get(), mmproj_path); });
    return st == EDGEVLM_OK ? v.release() : nullptr;
}

int edgevlm_vision_encode_file(edgevlm_vision *v, const char *image_path, float *out, edgevlm_vision_timings *t) {
    if (!v || !image_path || !out) return fail(EDGEVLM_ERR_INVALID_ARGUMENT, "null argument");
    edgevlm::RgbImage img;
    const auto t0 = Clock::now();
    const int st = guarded(EDGEVLM_ERR_IMAGE, [&] { img = edgevlm::load_image(image_path); });
    if (st) return st;
    const double decode_ms = ms_since(t0);
    edgevlm_vision_timings local{};
    if (!t) t = &local;
    const int rc = encode_image(v, img, out, t);
    t->decode_ms = decode_ms;
    t->total_ms += decode_ms;
    return rc;
}

int edgevlm_vision_encode_rgb(edgevlm_vision *v, const unsigned char *rgb, int w, int h, float *out,
                              edgevlm_vision_timings *t) {
    if (!v || !out) return fail(EDGEVLM_ERR_INVALID_ARGUMENT, "null argument");
    edgevlm::RgbImage img;
    const int st = guarded(EDGEVLM_ERR_INVALID_ARGUMENT, [&] { img = wrap_rgb(rgb, w, h); });
    if (st) return st;
    if (t) *t = edgevlm_vision_timings{};
    return encode_image(v, img, out, t);
}

int edgevlm_vision_preprocess_rgb(edgevlm_vision *v, const unsigned char *rgb, int w, int h, float *pixels) {
    if (!v || !pixels) return fail(EDGEVLM_ERR_INVALID_ARGUMENT, "null argument");
    return guarded(EDGEVLM_ERR_INVALID_ARGUMENT, [&] { preprocess(v, wrap_rgb(rgb, w, h), pixels); });
}

int edgevlm_vision_features(edgevlm_vision *v, const float *pixels, float *features, edgevlm_vision_timings *t) {
    if (!v || !pixels || !features) return fail(EDGEVLM_ERR_INVALID_ARGUMENT, "null argument");
    std::lock_guard<std::mutex> lock(v->mu);
    const auto t0 = Clock::now();
    const int st = guarded(EDGEVLM_ERR_INTERNAL, [&] { v->vit->run(pixels, features); });
    if (t) t->vit_ms = ms_since(t0);
    return st;
}

int edgevlm_vision_project(edgevlm_vision *v, const float *features, float *out, edgevlm_vision_timings *t) {
    if (!v || !features || !out) return fail(EDGEVLM_ERR_INVALID_ARGUMENT, "null argument");
    std::lock_guard<std::mutex> lock(v->mu);
    const auto t0 = Clock::now();
    const int st = v->impl == ProjectorImpl::Ggml
                       ? guarded(EDGEVLM_ERR_INTERNAL, [&] { v->graph->run(features, out); })
                       : edgevlm_ldp_forward(v->ldp, features, v->mmproj->hp.n_patches(), out, v->threads);
    if (t) t->projector_ms = ms_since(t0);
    return st;
}

int edgevlm_vision_n_tokens(const edgevlm_vision *v) { return v ? v->mmproj->hp.n_patches() / 4 : 0; }
int edgevlm_vision_n_embd(const edgevlm_vision *v) {
    if (!v) return 0;
    return v->impl == ProjectorImpl::Ggml ? v->graph->width() : edgevlm_ldp_width(v->ldp);
}
int edgevlm_vision_n_patches(const edgevlm_vision *v) { return v ? v->mmproj->hp.n_patches() : 0; }
int edgevlm_vision_width(const edgevlm_vision *v) { return v ? v->mmproj->hp.n_embd : 0; }
int edgevlm_vision_image_size(const edgevlm_vision *v) { return v ? v->mmproj->hp.image_size : 0; }
int edgevlm_vision_n_layers(const edgevlm_vision *v) { return v ? v->mmproj->hp.n_layer_run : 0; }
int edgevlm_vision_projector(const edgevlm_vision *v) { return v ? v->mmproj->projector : 0; }
const char *edgevlm_vision_backend(const edgevlm_vision *v) { return v ? v->backend_name.c_str() : ""; }
const char *edgevlm_vision_projector_impl(const edgevlm_vision *v) { return v ? impl_name(v->impl) : ""; }
const char *edgevlm_vision_vit_matmul(const edgevlm_vision *v) { return v ? v->vit->matmul_impl() : ""; }
const char *edgevlm_vision_weight_type(const edgevlm_vision *v) { return v ? v->mmproj->weight_type.c_str() : ""; }

void edgevlm_vision_free(edgevlm_vision *v) { delete v; }

}  // extern "C"
