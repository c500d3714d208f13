// edgevlm-run: MobileVLM on a device with nothing but this binary, libllama and libedgevlm.
// Image -> edgevlm's vision encoder (144 x W embeddings) -> fed to libllama as a batch of embeddings at the
// <image> position of the vicuna v1 prompt -> greedy (or sampled) decoding streamed to stdout.
// Errors: one line on stderr, exit code 2.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "args.h"
#include "edgevlm.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "llama.h"
#include "memory.h"
#include "plan.h"
#include "prefix_cache.h"
#include "prompt.h"
#include "record.h"

using namespace edgevlm::run;

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

void require_file(const std::string &path, const char *what) {
    struct stat st{};
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) throw Failure(std::string(what) + " " + path + " does not exist");
}

void quiet_log(ggml_log_level level, const char *text, void *user) {
    if (level == GGML_LOG_LEVEL_ERROR || (user && *(bool *)user)) std::fputs(text, stderr);
}

struct Llm {
    llama_model *model = nullptr;
    llama_context *ctx = nullptr;
    llama_sampler *sampler = nullptr;
    ggml_threadpool *threadpool = nullptr;
    ~Llm() {
        if (sampler) llama_sampler_free(sampler);
        if (ctx) llama_free(ctx);
        if (threadpool) ggml_threadpool_free(threadpool);
        if (model) llama_model_free(model);
    }
};

// A persistent CPU threadpool that polls between graphs, as llama-bench uses: without one, ggml starts and
// joins its worker threads for every graph (each decoded token).
static ggml_threadpool *attach_threadpool(llama_context *ctx, int threads) {
    if (!ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU)) return nullptr;
    ggml_threadpool_params tpp = ggml_threadpool_params_default(threads);
    tpp.poll = 50;  // llama-bench's default
    ggml_threadpool *tp = ggml_threadpool_new(&tpp);
    if (tp) llama_attach_threadpool(ctx, tp, nullptr);
    return tp;
}

// --dump-embd / --dump-logits: raw little-endian float32, written to a temp name and renamed.
void dump_floats(const std::string &path, const float *data, size_t n) {
    const std::string tmp = path + ".tmp-" + std::to_string(getpid());
    FILE *f = std::fopen(tmp.c_str(), "wb");
    const bool ok = f && std::fwrite(data, sizeof(float), n, f) == n;
    if (!f || std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw Failure("cannot write " + path);
    }
}

// -ngl N > 0 sends the LLM's layers to the first GPU device ggml has; a build without a GPU backend warns
// (once) and keeps everything on the CPU, so a profile written for a Jetson still runs on a CPU-only build.
int llm_gpu_layers(int requested, Record &r) {
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

struct Vision {
    edgevlm_vision *v = nullptr;
    ~Vision() { if (v) edgevlm_vision_free(v); }
};

llama_sampler *make_sampler(const Args &a) {
    llama_sampler *s = llama_sampler_chain_init(llama_sampler_chain_default_params());
    if (a.temp <= 0.0f) {
        llama_sampler_chain_add(s, llama_sampler_init_greedy());
    } else {
        llama_sampler_chain_add(s, llama_sampler_init_top_k(a.top_k));
        llama_sampler_chain_add(s, llama_sampler_init_top_p(a.top_p, 1));
        llama_sampler_chain_add(s, llama_sampler_init_temp(a.temp));
        llama_sampler_chain_add(s, llama_sampler_init_dist(a.seed));
    }
    return s;
}

// Feeds tokens (or embeddings: n rows of n_embd floats) at positions pos.., logits for the last one if asked.
void feed(llama_context *ctx, const llama_token *tokens, const float *embd, int n, int n_embd, int &pos, bool last_logits) {
    if (n == 0) return;
    llama_batch b = llama_batch_init(n, embd ? n_embd : 0, 1);
    b.n_tokens = n;
    for (int i = 0; i < n; ++i) {
        if (embd) std::copy(embd + (size_t)i * n_embd, embd + (size_t)(i + 1) * n_embd, b.embd + (size_t)i * n_embd);
        else b.token[i] = tokens[i];
        b.pos[i] = pos + i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = last_logits && i == n - 1;
    }
    const int rc = llama_decode(ctx, b);
    llama_batch_free(b);
    if (rc != 0) throw Failure("llama_decode failed (status " + std::to_string(rc) + ")");
    pos += n;
}

std::string piece(const llama_vocab *vocab, llama_token t) {
    char buf[256];
    const int n = llama_token_to_piece(vocab, t, buf, sizeof buf, 0, false);
    return n > 0 ? std::string(buf, n) : std::string();
}

// The LLM's weights, on a thread of its own when the plan overlaps them with the vision work.
struct LlmLoad {
    llama_model *model = nullptr;
    double ms = 0;
    std::exception_ptr error;
};

// Called by llama.cpp between tensors: the pages of the mapped file read so far are dropped (memory.h).
bool drop_pages_on_progress(float, void *path) {
    drop_mapped_pages(*static_cast<const std::string *>(path));
    return true;
}

void load_llm(const Args &a, int n_gpu_layers, bool drop_pages, LlmLoad &out) {
    const auto t0 = Clock::now();
    try {
        llama_model_params mp = llama_model_default_params();
        mp.n_gpu_layers = n_gpu_layers;
        if (drop_pages) {
            mp.progress_callback = drop_pages_on_progress;
            mp.progress_callback_user_data = const_cast<std::string *>(&a.model);
        }
        out.model = llama_model_load_from_file(a.model.c_str(), mp);
        if (!out.model) throw Failure("cannot load model " + a.model + " (not a llama.cpp GGUF?)");
        if (drop_pages) drop_mapped_pages(a.model);
    } catch (...) {
        out.error = std::current_exception();
    }
    out.ms = ms_since(t0);
}

// Loads the mmproj and encodes the image into emb (n_image x n_embd); frees the encoder afterwards when asked.
void encode_image(const Args &a, bool free_after, Vision &vis, std::vector<float> &emb, int &n_image, int &n_embd,
                  Record &r) {
    auto t0 = Clock::now();
    vis.v = edgevlm_vision_load(a.mmproj.c_str(), a.threads);
    if (!vis.v) throw Failure(std::string("cannot load mmproj: ") + edgevlm_last_error());
    r.vision_load_ms = ms_since(t0);
    n_image = edgevlm_vision_n_tokens(vis.v);
    n_embd = edgevlm_vision_n_embd(vis.v);
    r.vision_backend = edgevlm_vision_backend(vis.v);
    r.mmproj_type = edgevlm_vision_weight_type(vis.v);
    r.projector_impl = edgevlm_vision_projector_impl(vis.v);
    r.vit_matmul = edgevlm_vision_vit_matmul(vis.v);
    emb.resize((size_t)n_image * n_embd);
    edgevlm_vision_timings vt{};
    const int st = edgevlm_vision_encode_file(vis.v, a.image.c_str(), emb.data(), &vt);
    if (st != EDGEVLM_OK) throw Failure(edgevlm_last_error());
    r.vit_ms = vt.vit_ms;
    r.projector_ms = vt.projector_ms;
    r.image_encode_ms = vt.total_ms;
    if (free_after) {
        edgevlm_vision_free(vis.v);
        vis.v = nullptr;
    }
}

// Batch and output buffers: 512 tokens and an output row per token (llama.cpp's defaults) unless the plan
// sizes them to this prompt: each feed() is one llama_decode of one chunk, and only its last row has logits.
void size_buffers(llama_context_params &cp, const PromptTokens &pt, int n_image, int prompt_tokens, bool small) {
    if (!small) {
        cp.n_batch = cp.n_ubatch = std::max(512, prompt_tokens);
        return;
    }
    cp.n_batch = cp.n_ubatch = std::max({(int)pt.before.size(), (int)pt.after.size(), n_image, 1});
    cp.n_outputs_max = 1;
}

int run(const Args &a, Clock::time_point process_start) {
    Record r;
    r.model = a.model;
    r.mmproj = a.mmproj;
    r.image = a.image;
    r.threads = a.threads;
    const Plan plan = plan_from_env();
    MemorySampler memory;
    require_file(a.model, "model");
    const bool with_image = !a.mmproj.empty();
    if (with_image) {
        require_file(a.mmproj, "mmproj");
        require_file(a.image, "image");
    }
    bool verbose = a.verbose;
    llama_log_set(quiet_log, &verbose);
    llama_backend_init();

    // LLM and vision: side by side (the LLM's load is mostly one thread copying and repacking), or in turn.
    auto t0 = Clock::now();
    Llm llm;
    LlmLoad load;
    const int n_gpu_layers = llm_gpu_layers(a.n_gpu_layers, r);
    std::thread loader;
    if (plan.overlap) loader = std::thread(load_llm, std::cref(a), n_gpu_layers, plan.drop_pages, std::ref(load));
    else load_llm(a, n_gpu_layers, plan.drop_pages, load);
    Vision vis;
    std::vector<float> emb;
    int n_image = 0, vision_embd = 0;
    std::exception_ptr vision_error;
    if (with_image && (!load.error || plan.overlap)) {
        try {
            encode_image(a, plan.free_vision, vis, emb, n_image, vision_embd, r);
        } catch (...) {
            vision_error = std::current_exception();
        }
    }
    if (loader.joinable()) loader.join();
    llm.model = load.model;
    r.llm_load_ms = load.ms;
    if (load.error) std::rethrow_exception(load.error);
    if (vision_error) std::rethrow_exception(vision_error);
    const llama_vocab *vocab = llama_model_get_vocab(llm.model);
    const int n_embd = llama_model_n_embd(llm.model);
    if (with_image && vision_embd != n_embd)
        throw Failure("mmproj " + a.mmproj + " projects to width " + std::to_string(vision_embd) + " but the LLM " +
                      a.model + " has n_embd " + std::to_string(n_embd) + ": not a pair");
    PromptTokens pt = tokenize_prompt(vocab, vicuna_v1(a.prompt, with_image), with_image);
    pad_prompt(vocab, pt, n_image, a.prompt_tokens);
    r.image_tokens = n_image;
    r.prompt_tokens = (int)(pt.before.size() + pt.after.size()) + n_image;

    const auto t_ctx = Clock::now();
    llama_context_params cp = llama_context_default_params();
    const int need = r.prompt_tokens + a.n_predict + 8;
    cp.n_ctx = a.n_ctx ? a.n_ctx : need;
    size_buffers(cp, pt, n_image, r.prompt_tokens, plan.small_buffers);
    cp.n_threads = cp.n_threads_batch = a.threads;
    cp.no_perf = true;
    if ((int)cp.n_ctx < need) throw Failure("context " + std::to_string(cp.n_ctx) + " is too small for " + std::to_string(need) + " tokens");
    llm.ctx = llama_init_from_model(llm.model, cp);
    if (!llm.ctx) throw Failure("cannot create a llama context");
    llm.threadpool = attach_threadpool(llm.ctx, a.threads);
    llm.sampler = make_sampler(a);
    r.context_ms = ms_since(t_ctx);
    // what the loads cost beyond the image encode (all of it when they ran in turn)
    r.load_ms = ms_since(t0) - r.image_encode_ms;

    // The prompt around the image; TTFT runs from process start to the first sampled token.
    t0 = Clock::now();
    int pos = 0;
    const char *cache_file = std::getenv("EDGEVLM_PROMPT_CACHE");
    const PrefixCache cache(cache_file ? cache_file : "", a.model);
    if (cache.load(llm.ctx, pt.before)) {
        pos = (int)pt.before.size();
        r.prompt_cache = "hit";
    } else {
        feed(llm.ctx, pt.before.data(), nullptr, (int)pt.before.size(), n_embd, pos, false);
        cache.save(llm.ctx, pt.before);
        r.prompt_cache = cache.enabled() && !pt.before.empty() ? "written" : "off";
    }
    if (with_image) feed(llm.ctx, nullptr, emb.data(), n_image, n_embd, pos, pt.after.empty());
    feed(llm.ctx, pt.after.data(), nullptr, (int)pt.after.size(), n_embd, pos, true);
    r.prompt_ms = ms_since(t0);
    if (!a.dump_embd.empty()) dump_floats(a.dump_embd, emb.data(), emb.size());
    if (!a.dump_logits.empty())
        dump_floats(a.dump_logits, llama_get_logits_ith(llm.ctx, -1), (size_t)llama_vocab_n_tokens(vocab));
    std::vector<float>().swap(emb);

    for (int i = 0; i < a.n_predict; ++i) {
        const llama_token tok = llama_sampler_sample(llm.sampler, llm.ctx, -1);
        if (i == 0) r.ttft_ms = ms_since(process_start);
        if (llama_vocab_is_eog(vocab, tok) && !a.ignore_eos) break;
        r.tokens.push_back(tok);
        const std::string text = piece(vocab, tok);
        r.text += text;
        if (!a.no_stream) {
            std::fputs(text.c_str(), stdout);
            std::fflush(stdout);
        }
        t0 = Clock::now();
        feed(llm.ctx, &tok, nullptr, 1, n_embd, pos, true);
        r.decode_ms += ms_since(t0);
    }
    r.total_ms = ms_since(process_start);
    r.gen_tokens = (int)r.tokens.size();
    if (!a.no_stream) std::fputs("\n", stdout);
    const MemoryPeaks peaks = memory.peaks();
    r.peak_rss_mb = peak_rss_mb();
    r.peak_anon_mb = peaks.anon_mb;
    r.peak_file_mb = peaks.file_mb;
    if (!a.json.empty()) write_json(a.json, r);
    llama_backend_free();
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    const auto process_start = Clock::now();
    try {
        return run(parse_args(argc, argv), process_start);
    } catch (const UsageError &e) {
        if (*e.what()) std::fprintf(stderr, "error: %s\n", e.what());
        std::fputs(usage(), stderr);
        return 2;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
}
