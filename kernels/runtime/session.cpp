#include "session.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "edgevlm_stage.h"
#include "args.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "image.h"

namespace edgevlm::run {

namespace {

void quiet_log(ggml_log_level level, const char *text, void *user) {
    if (level == GGML_LOG_LEVEL_ERROR || (user && *(const bool *)user)) std::fputs(text, stderr);
}

void require_file(const std::string &path, const char *what) {
    struct stat st{};
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) throw Failure(std::string(what) + " " + path + " does not exist");
}

int64_t file_bytes(const std::string &path) {
    struct stat st{};
    return stat(path.c_str(), &st) == 0 ? (int64_t)st.st_size : 0;
}

// A persistent CPU threadpool that polls between graphs, as llama-bench uses: without one, ggml starts and
// joins its worker threads for every graph (each decoded token).
ggml_threadpool *attach_threadpool(llama_context *ctx, int threads) {
    if (!ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU)) return nullptr;
    ggml_threadpool_params tpp = ggml_threadpool_params_default(threads);
    tpp.poll = 50;  // llama-bench's default
    ggml_threadpool *tp = ggml_threadpool_new(&tpp);
    if (tp) llama_attach_threadpool(ctx, tp, nullptr);
    return tp;
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

llama_sampler *make_sampler(const SamplerParams &p) {
    llama_sampler *s = llama_sampler_chain_init(llama_sampler_chain_default_params());
    if (p.temp <= 0.0f) {
        llama_sampler_chain_add(s, llama_sampler_init_greedy());
    } else {
        llama_sampler_chain_add(s, llama_sampler_init_top_k(p.top_k));
        llama_sampler_chain_add(s, llama_sampler_init_top_p(p.top_p, 1));
        llama_sampler_chain_add(s, llama_sampler_init_temp(p.temp));
        llama_sampler_chain_add(s, llama_sampler_init_dist(p.seed));
    }
    return s;
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

// PNG: the 8-byte signature and an IEND chunk at the end; JPEG: SOI and EOI. stb_image decodes some cut
// files without an error (a JPEG's missing scans come out grey), so a truncated upload is caught here.
void check_png_or_jpeg(const unsigned char *d, size_t n, const std::string &what) {
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 8 && std::memcmp(d, png, 8) == 0) {
        if (n < 20 || std::memcmp(d + n - 8, "IEND", 4) != 0) throw Failure("image " + what + " is a truncated PNG");
        return;
    }
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff) {
        if (n < 4 || d[n - 2] != 0xff || d[n - 1] != 0xd9) throw Failure("image " + what + " is a truncated JPEG");
        return;
    }
    throw Failure("image " + what + " is neither PNG nor JPEG");
}

bool g_verbose = false;   // llama.cpp's log callback reads it; set once per process by the first load

}  // namespace

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

ImageEmbedding Session::encode_file(const std::string &path) {
    if (!vision_) throw Failure(has_vision() ? "the vision encoder was freed" : "this model has no mmproj: it cannot take an image");
    require_file(path, "image");
    ImageEmbedding e;
    e.n_tokens = n_image_tokens_;
    e.data.resize((size_t)n_image_tokens_ * vision_embd_);
    edgevlm_stage_marker(EDGEVLM_STAGE_VIT);
    if (edgevlm_vision_encode_file(vision_, path.c_str(), e.data.data(), &e.timings) != EDGEVLM_OK)
        throw Failure(edgevlm_last_error());
    sample_memory();   // the encoder's buffers are still held here
    return e;
}

ImageEmbedding Session::encode_bytes(const unsigned char *data, size_t size, const std::string &what) {
    if (!vision_) throw Failure("this model has no mmproj: it cannot take an image");
    check_png_or_jpeg(data, size, what);
    RgbImage img;
    const auto t0 = Clock::now();
    try {
        img = decode_image(data, size, what);
    } catch (const std::exception &e) {
        throw Failure(e.what());
    }
    const double decode_ms = ms_since(t0);
    ImageEmbedding e;
    e.n_tokens = n_image_tokens_;
    e.data.resize((size_t)n_image_tokens_ * vision_embd_);
    edgevlm_stage_marker(EDGEVLM_STAGE_VIT);
    if (edgevlm_vision_encode_rgb(vision_, img.rgb.data(), img.w, img.h, e.data.data(), &e.timings) != EDGEVLM_OK)
        throw Failure(edgevlm_last_error());
    e.timings.decode_ms = decode_ms;
    e.timings.total_ms += decode_ms;
    sample_memory();
    return e;
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

ContextNeed context_need(const llama_model *model, const ContextSize &size) {
    const int64_t n_layer = llama_model_n_layer(model), n_head = std::max(1, llama_model_n_head(model));
    const int64_t n_embd = llama_model_n_embd(model), n_head_kv = llama_model_n_head_kv(model);
    const int64_t n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    const int64_t ctx = size.n_ctx, ub = std::min<int64_t>(size.n_batch, ctx);
    const int64_t outputs = size.n_outputs_max > 0 ? size.n_outputs_max : ub;
    ContextNeed need;
    need.kv_bytes = 2 * n_layer * ctx * (n_embd / n_head * n_head_kv) * 2;   // K and V, f16
    // logits rows + ~8 activations of the batch + one layer's attention scores (f32)
    need.buffer_bytes = outputs * n_vocab * 4 + 8 * ub * n_embd * 4 + ub * ctx * n_head * 4;
    return need;
}

void check_fits_context(int n_prompt, int n_image, int n_predict, int limit, const std::string &what,
                        const std::string &n_flag) {
    // the prompt's last token is always evaluated, so it needs a slot after it even with -n 0
    if (limit <= 0 || (int64_t)n_prompt + std::max(n_predict, 1) <= limit) return;
    const std::string image = n_image ? " (" + std::to_string(n_image) + " of them the image's)" : "";
    throw BeyondContext("prompt is " + std::to_string(n_prompt) + " tokens" + image + ", " + what + " is " +
                        std::to_string(limit) + " (with " + n_flag + " " + std::to_string(n_predict) +
                        "): shorten it or ask for fewer tokens (" + n_flag + ")");
}

ContextSize context_for_prompt(const PromptTokens &p, int n_image, int n_predict, int n_ctx, int n_ctx_train,
                               bool small_buffers) {
    const int prompt = (int)(p.before.size() + p.after.size()) + n_image;
    check_fits_context(prompt, n_image, n_predict, n_ctx ? n_ctx : n_ctx_train,
                       n_ctx ? "the context (-c)" : "the model's context");
    const int64_t need64 = (int64_t)prompt + n_predict + 8;
    if (need64 > (1 << 24)) throw Failure(std::to_string(need64) + " tokens are beyond any context: ask for fewer (-n)");
    const int need = (int)need64;
    ContextSize size;
    size.n_ctx = n_ctx ? n_ctx : need;
    if (small_buffers) {
        size.n_batch = std::max({(int)p.before.size(), (int)p.after.size(), n_image, 1});
        size.n_outputs_max = 1;
    } else {
        size.n_batch = std::max(512, prompt);
    }
    return size;
}

int64_t mem_available_bytes() {
    std::ifstream f("/proc/meminfo");
    std::string key;
    int64_t kb = 0;
    std::string unit;
    while (f >> key >> kb >> unit)
        if (key == "MemAvailable:") return kb * 1024;
    return -1;
}

void Session::create_context(const ContextSize &size, int64_t memory_available) {
    const ContextNeed need = context_need(model_, size);
    // Given (the preflight's number), the budget was measured before anything loaded: the weights count.
    const bool given = memory_available > 0;
    int64_t budget = memory_available;
    if (given) budget -= (int64_t)llama_model_size(model_) + (has_vision() ? file_bytes(options_.mmproj) : 0);
    else budget = mem_available_bytes();   // -1 (no /proc): not checked
    const auto mib = [](int64_t b) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f MiB", (double)b / (1 << 20));
        return std::string(buf);
    };
    if ((given || budget >= 0) && need.kv_bytes + need.buffer_bytes > budget)
        throw Failure("a context of " + std::to_string(size.n_ctx) + " tokens needs " + mib(need.kv_bytes + need.buffer_bytes) +
                      " (KV cache " + mib(need.kv_bytes) + ", buffers ~" + mib(need.buffer_bytes) + ") but " +
                      mib(std::max<int64_t>(budget, 0)) +
                      (given ? " are left of --mem-available beside the weights" : " are available (MemAvailable)") +
                      ": ask for fewer tokens (-n, -c) or free memory");
    if (ctx_) llama_free(ctx_);
    if (threadpool_) ggml_threadpool_free(threadpool_);
    ctx_ = nullptr;
    threadpool_ = nullptr;
    kv_.clear();
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = size.n_ctx;
    cp.n_batch = cp.n_ubatch = size.n_batch;
    if (size.n_outputs_max > 0) cp.n_outputs_max = size.n_outputs_max;
    cp.n_threads = cp.n_threads_batch = options_.threads;
    cp.no_perf = true;
    ctx_ = llama_init_from_model(model_, cp);
    if (!ctx_) throw Failure("cannot create a llama context");
    threadpool_ = attach_threadpool(ctx_, options_.threads);
}

// Feeds tokens (or embeddings: n rows of n_embd floats) at positions pos.., logits for the last one if asked;
// chunks of at most n_batch rows (edgevlm-run sizes n_batch so that each prompt chunk is one decode).
void Session::feed(const llama_token *tokens, const float *embd, int n, int pos, bool last_logits) {
    const int width = n_embd(), step = (int)llama_n_batch(ctx_);
    for (int at = 0; at < n; at += step) {
        const int m = std::min(step, n - at);
        llama_batch b = llama_batch_init(m, embd ? width : 0, 1);
        b.n_tokens = m;
        for (int i = 0; i < m; ++i) {
            if (embd) std::copy(embd + (size_t)(at + i) * width, embd + (size_t)(at + i + 1) * width, b.embd + (size_t)i * width);
            else b.token[i] = tokens[at + i];
            b.pos[i] = pos + at + i;
            b.n_seq_id[i] = 1;
            b.seq_id[i][0] = 0;
            b.logits[i] = last_logits && at + i == n - 1;
        }
        const int rc = llama_decode(ctx_, b);
        llama_batch_free(b);
        if (rc != 0) throw Failure("llama_decode failed (status " + std::to_string(rc) + ")");
    }
}

// How many leading items of `items` the KV already holds, cut back to a chunk boundary inside the image or
// the text after it: a chunk is always evaluated whole, in one decode, so values match a run from scratch.
int Session::keep_from_kv(const std::vector<int64_t> &items, size_t image_at, size_t image_end) {
    size_t same = 0;
    while (same < items.size() && same < kv_.size() && kv_[same] == items[same]) ++same;
    // the last item is always fed (its logits start the answer); the KV is kept only up to the end of a chunk
    // (text before the image, the image), never inside one: split differently, a chunk's values would differ
    // in the last bits from a run that evaluated it whole (measured: greedy tokens changed on a text prompt)
    const bool image = image_at < image_end;
    if (image && same >= image_end && image_end < items.size()) return (int)image_end;
    if (image && same >= image_at && image_at > 0) return (int)image_at;
    return 0;
}

std::string Session::warm_prefix(const std::vector<llama_token> &tokens, const PrefixCache *cache) {
    edgevlm_stage_marker(EDGEVLM_STAGE_PREFILL);
    if (tokens.empty()) return "off";
    if (kv_.size() >= tokens.size() && std::equal(tokens.begin(), tokens.end(), kv_.begin())) return "hit";
    llama_memory_seq_rm(llama_get_memory(ctx_), 0, 0, -1);   // evaluated whole or not at all (keep_from_kv)
    kv_.clear();
    if (cache && cache->load(ctx_, tokens)) {
        kv_.assign(tokens.begin(), tokens.end());
        return "hit";
    }
    feed(tokens.data(), nullptr, (int)tokens.size(), 0, false);
    kv_.assign(tokens.begin(), tokens.end());
    if (cache) cache->save(ctx_, tokens);
    return cache && cache->enabled() ? "written" : "off";
}

PrefillReport Session::prefill(const PromptTokens &p, const ImageEmbedding *image, int64_t image_id) {
    edgevlm_stage_marker(EDGEVLM_STAGE_PREFILL);
    sample_memory();
    const auto t0 = Clock::now();
    const int n_image = image ? image->n_tokens : 0;
    if (image && image_id <= 0) throw Failure("an image needs an id > 0");
    std::vector<int64_t> items(p.before.begin(), p.before.end());
    items.insert(items.end(), (size_t)n_image, -image_id);
    items.insert(items.end(), p.after.begin(), p.after.end());
    if (items.empty()) throw Failure("empty prompt");
    if ((int)items.size() >= n_ctx())
        throw Failure("the prompt has " + std::to_string(items.size()) + " tokens; the context holds " + std::to_string(n_ctx()));
    const size_t image_at = p.before.size(), image_end = image_at + n_image;
    const int keep = keep_from_kv(items, image_at, image_end);
    llama_memory_seq_rm(llama_get_memory(ctx_), 0, keep, -1);
    kv_.assign(items.begin(), items.begin() + keep);
    int pos = keep;
    if (pos < (int)image_at) {
        feed(p.before.data() + pos, nullptr, (int)image_at - pos, pos, n_image == 0 && p.after.empty());
        pos = (int)image_at;
    }
    if (n_image && pos < (int)image_end) {
        feed(nullptr, image->data.data(), n_image, pos, p.after.empty());
        pos = (int)image_end;
    }
    const int after_from = pos - (int)image_end;
    feed(p.after.data() + after_from, nullptr, (int)p.after.size() - after_from, pos, true);
    kv_ = std::move(items);
    PrefillReport r;
    r.n_prompt = (int)kv_.size();
    r.n_reused = keep;
    r.ms = ms_since(t0);
    return r;
}

GenerateReport Session::generate(const GenerateParams &params, const TokenSink &sink) {
    GenerateReport out;
    llama_sampler *sampler = make_sampler(params.sampler);
    try {
        int pos = (int)kv_.size();
        for (int i = 0; i < params.max_tokens; ++i) {
            edgevlm_stage_marker(EDGEVLM_STAGE_DECODE);
            const llama_token tok = llama_sampler_sample(sampler, ctx_, -1);
            if (i == 0) out.first_token = Clock::now();
            if (llama_vocab_is_eog(vocab(), tok) && !params.ignore_eos) {
                out.eos = true;
                break;
            }
            out.tokens.push_back(tok);
            const std::string text = piece(tok);
            out.text += text;
            if (!sink(tok, text)) {
                out.stopped = true;
                break;
            }
            if (pos >= n_ctx()) break;   // the context is full: the limit, like max_tokens
            const auto t0 = Clock::now();
            feed(&tok, nullptr, 1, pos++, true);
            out.decode_ms += ms_since(t0);
        }
    } catch (...) {
        llama_sampler_free(sampler);
        throw;
    }
    llama_sampler_free(sampler);
    return out;
}

}  // namespace edgevlm::run
