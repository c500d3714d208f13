// The session's lifetime: options, the load stage (the LLM beside the vision encoder), what the loaded model
// says (vocabulary, widths, the system prompt of its chat template), and freeing. The other stages have their
// own files: session_image.cpp (encode), session_context.cpp (context sizing), session_decode.cpp (prefill
// and the generation loop).
#include "session.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "edgevlm_stage.h"
#include "args.h"
#include "ggml-backend.h"

namespace edgevlm::run {

namespace {

void quiet_log(ggml_log_level level, const char *text, void *user) {
    if (level == GGML_LOG_LEVEL_ERROR || (user && *(const bool *)user)) std::fputs(text, stderr);
}

// -ngl N > 0 sends the LLM's layers to the first GPU device ggml has; a build without a GPU backend warns
// (once) and keeps everything on the CPU, so a profile written for a Jetson still runs on a CPU-only build.
int llm_gpu_layers(int requested, LoadReport &r) {
    ggml_backend_dev_t gpu = nullptr;
    for (size_t i = 0; i < ggml_backend_dev_count() && !gpu; ++i) {
        const auto type = ggml_backend_dev_type(ggml_backend_dev_get(i));
        if (type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU) gpu = ggml_backend_dev_get(i);
    }
    if (requested > 0 && !gpu) {
        std::fprintf(stderr, "warning: -ngl %d: this build has no GPU backend; the LLM runs on the CPU\n", requested);
        requested = 0;
    }
    r.llm_backend = requested > 0 ? ggml_backend_dev_name(gpu) : "CPU";
    r.n_gpu_layers = requested;
    return requested;
}

// Called by llama.cpp between tensors: the pages of the mapped file read so far are dropped (memory.h) when
// the plan says so, and memory is sampled (the load's own peak falls between two stage boundaries).
struct LoadProgress {
    const std::string *path;
    bool drop_pages;
    MemorySampler *memory;
};

bool on_load_progress(float, void *user) {
    const auto *p = static_cast<const LoadProgress *>(user);
    if (p->drop_pages) drop_mapped_pages(*p->path);
    if (p->memory) p->memory->sample();
    return true;
}

bool g_verbose = false;   // llama.cpp's log callback reads it; set once per process by the first load

}  // namespace

void require_file(const std::string &path, const char *what) {
    struct stat st{};
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) throw Failure(std::string(what) + " " + path + " does not exist");
}

SessionOptions session_options(const Args &a) {
    SessionOptions o;
    o.model = a.model;
    o.mmproj = a.mmproj;
    o.threads = a.threads;
    o.n_gpu_layers = a.n_gpu_layers;
    try {
        o.plan = parse_plan_off(a.off);
    } catch (const PlanError &e) {
        throw Failure(e.what());
    }
    o.projector = a.projector;
    o.vit_matmul = a.vit_matmul;
    o.vision_device = a.vision_device;
    o.verbose = a.verbose;
    return o;
}

void export_vision_switches(const SessionOptions &o) {
    // set before any thread starts: setenv is not safe beside a concurrent getenv
    if (!o.projector.empty()) setenv("EDGEVLM_PROJECTOR", o.projector.c_str(), 1);
    if (!o.vit_matmul.empty()) setenv("EDGEVLM_VIT_MATMUL", o.vit_matmul.c_str(), 1);
    if (!o.vision_device.empty()) setenv("EDGEVLM_VISION_DEVICE", o.vision_device.c_str(), 1);
}

Session::Session(SessionOptions options, MemorySampler *memory) : options_(std::move(options)), memory_(memory) {}

Session::~Session() {
    if (ctx_) llama_free(ctx_);
    if (threadpool_) ggml_threadpool_free(threadpool_);
    if (model_) llama_model_free(model_);
    if (vision_) edgevlm_vision_free(vision_);
}

void Session::sample_memory() {
    if (memory_) memory_->sample();
}

void Session::load_llm(std::exception_ptr &error) {
    const auto t0 = Clock::now();
    try {
        llama_model_params mp = llama_model_default_params();
        mp.n_gpu_layers = report_.n_gpu_layers;
        LoadProgress progress{&options_.model, options_.plan.drop_pages, memory_};
        mp.progress_callback = on_load_progress;
        mp.progress_callback_user_data = &progress;
        model_ = llama_model_load_from_file(options_.model.c_str(), mp);
        if (!model_) throw Failure("cannot load model " + options_.model + " (not a llama.cpp GGUF?)");
        if (options_.plan.drop_pages) drop_mapped_pages(options_.model);
    } catch (...) {
        error = std::current_exception();
    }
    report_.llm_load_ms = ms_since(t0);
}

void Session::load_vision() {
    const auto t0 = Clock::now();
    edgevlm_stage_marker(EDGEVLM_STAGE_VISION_LOAD);
    vision_ = edgevlm_vision_load(options_.mmproj.c_str(), options_.threads);
    if (!vision_) throw Failure(std::string("cannot load mmproj: ") + edgevlm_last_error());
    report_.vision_load_ms = ms_since(t0);
    n_image_tokens_ = edgevlm_vision_n_tokens(vision_);
    vision_embd_ = edgevlm_vision_n_embd(vision_);
    report_.vision_backend = edgevlm_vision_backend(vision_);
    report_.mmproj_type = edgevlm_vision_weight_type(vision_);
    report_.projector_impl = edgevlm_vision_projector_impl(vision_);
    report_.vit_matmul = edgevlm_vision_vit_matmul(vision_);
}

void Session::load(const std::function<void()> &beside_llm) {
    require_file(options_.model, "model");
    if (has_vision()) require_file(options_.mmproj, "mmproj");
    g_verbose = g_verbose || options_.verbose;
    llama_log_set(quiet_log, &g_verbose);
    llama_backend_init();
    export_vision_switches(options_);
    llm_gpu_layers(options_.n_gpu_layers, report_);

    // LLM and vision: side by side (the LLM's load is mostly one thread copying and repacking), or in turn.
    edgevlm_stage_marker(EDGEVLM_STAGE_LLM_LOAD);
    sample_memory();
    std::exception_ptr llm_error, vision_error;
    std::thread loader;
    if (options_.plan.overlap) loader = std::thread([this, &llm_error] { load_llm(llm_error); });
    else load_llm(llm_error);
    if (has_vision() && (!llm_error || options_.plan.overlap)) {
        try {
            load_vision();
            if (beside_llm) beside_llm();
        } catch (...) {
            vision_error = std::current_exception();
        }
    } else if (!has_vision() && beside_llm && !llm_error) {
        beside_llm();
    }
    if (loader.joinable()) loader.join();
    edgevlm_stage_marker(EDGEVLM_STAGE_CONTEXT);
    sample_memory();
    if (llm_error) std::rethrow_exception(llm_error);
    if (vision_error) std::rethrow_exception(vision_error);
    if (has_vision() && vision_embd_ != n_embd())
        throw Failure("mmproj " + options_.mmproj + " projects to width " + std::to_string(vision_embd_) + " but the LLM " +
                      options_.model + " has n_embd " + std::to_string(n_embd()) + ": not a pair");
    try {
        system_ = system_prompt_of(model_, options_.model);
    } catch (const PromptError &e) {
        throw Failure(e.what());
    }
}

void Session::free_vision() {
    if (vision_) edgevlm_vision_free(vision_);
    vision_ = nullptr;
}

const llama_vocab *Session::vocab() const { return llama_model_get_vocab(model_); }
int Session::n_embd() const { return llama_model_n_embd(model_); }
int Session::n_vocab() const { return llama_vocab_n_tokens(vocab()); }
int Session::n_ctx_train() const { return llama_model_n_ctx_train(model_); }
int Session::n_ctx() const { return ctx_ ? (int)llama_n_ctx(ctx_) : 0; }
const float *Session::last_logits() const { return llama_get_logits_ith(ctx_, -1); }

PromptTokens Session::tokenize(const PromptParts &parts, bool with_image) const {
    try {
        return tokenize_prompt(vocab(), parts, with_image);
    } catch (const PromptError &e) {
        throw Failure(e.what());
    }
}

std::string Session::piece(llama_token t) const {
    char buf[256];
    const int n = llama_token_to_piece(vocab(), t, buf, sizeof buf, 0, false);
    return n > 0 ? std::string(buf, n) : std::string();
}

}  // namespace edgevlm::run
