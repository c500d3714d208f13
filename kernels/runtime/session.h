// The runtime's stages, shared by edgevlm-run, edgevlm-serve and (through the C ABI, edgevlm_session.h) the
// Python Runtime: one generation loop in the project.
//   load     the LLM (on a second thread beside the vision work when the plan overlaps) and the vision encoder
//   encode   an image (file or PNG/JPEG bytes) into n_image x n_embd embeddings
//   context  a llama context sized for the work, with a persistent threadpool
//   prefill  the prompt around the image; the KV of what is already in the context (the conversation's fixed
//            start, and a previous request's image) is kept: only what differs is evaluated
//   decode   sample, hand the token to the caller, feed it back; until EOS, the limit, or the caller stops
//   free     the destructor (vision can be freed early: free_vision)
// Errors: Failure (exits.h: one line; the binaries exit with its code, the server answers it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "edgevlm.h"
#include "exits.h"
#include "llama.h"
#include "memory.h"
#include "plan.h"
#include "prefix_cache.h"
#include "prompt.h"

struct ggml_threadpool;

namespace edgevlm::run {

using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct SessionOptions {
    std::string model, mmproj;   // mmproj empty: text only
    int threads = 4, n_gpu_layers = 0;
    Plan plan;
    std::string projector, vit_matmul, vision_device;   // the vision encoder's switches ("": its default)
    bool verbose = false;
};

// What the load stage measured and chose.
struct LoadReport {
    double llm_load_ms = 0, vision_load_ms = 0;
    int n_gpu_layers = 0;
    std::string llm_backend = "CPU", vision_backend, mmproj_type, projector_impl, vit_matmul;
};

struct ImageEmbedding {
    std::vector<float> data;   // n_tokens x n_embd, row-major
    int n_tokens = 0;
    edgevlm_vision_timings timings{};
};

struct ContextSize {
    int n_ctx = 0;
    int n_batch = 512;        // also n_ubatch: the largest chunk one llama_decode takes
    int n_outputs_max = 0;    // 0: llama.cpp's default (a row per token of a batch)
};

struct SamplerParams {
    float temp = 0.0f;   // 0: greedy
    int top_k = 40;
    float top_p = 0.95f;
    uint32_t seed = 0;
};

struct PrefillReport {
    int n_prompt = 0;   // tokens + image rows of the prompt
    int n_reused = 0;   // of them already in the context's KV (not evaluated again)
    double ms = 0;
};

struct GenerateParams {
    int max_tokens = 128;
    bool ignore_eos = false;
    SamplerParams sampler;
};

struct GenerateReport {
    std::vector<llama_token> tokens;
    std::string text;                 // the pieces as bytes (may hold a cut UTF-8 sequence at the end)
    double decode_ms = 0;             // feeding the generated tokens back
    Clock::time_point first_token{};  // when the first token was sampled (EOS included)
    bool eos = false;                 // ended on an end-of-generation token
    bool stopped = false;             // the caller's sink asked to stop
};

// Called with each generated token and its text piece; return false to stop after it (it is not fed back).
using TokenSink = std::function<bool(llama_token, const std::string &piece)>;

class Session {
public:
    Session(SessionOptions options, MemorySampler *memory);   // memory may be null
    ~Session();
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;

    // load: `beside_llm` runs once the vision encoder is loaded, while the LLM still loads when the plan
    // overlaps them (edgevlm-run encodes its image there). Throws Failure.
    void load(const std::function<void()> &beside_llm = {});
    const LoadReport &load_report() const { return report_; }

    ImageEmbedding encode_file(const std::string &path);
    // PNG or JPEG bytes (checked: signature, complete file); Failure with `what` in the message otherwise.
    ImageEmbedding encode_bytes(const unsigned char *data, size_t size, const std::string &what);
    void free_vision();
    bool has_vision() const { return !options_.mmproj.empty(); }

    // The context (a new one drops the KV); memory_available > 0 (bytes) or MemAvailable bounds it.
    void create_context(const ContextSize &size, int64_t memory_available);
    int n_ctx() const;

    // The KV of `tokens` from position 0 (the conversation's fixed start): kept when already there, read from
    // `cache` when it holds them, else evaluated (and written to `cache`). "hit", "written" or "off".
    std::string warm_prefix(const std::vector<llama_token> &tokens, const PrefixCache *cache = nullptr);
    // before | image rows | after, logits for the last. image_id names the image's rows (> 0; the same id
    // for the same pixels) so a following prompt with the same image reuses their KV.
    PrefillReport prefill(const PromptTokens &prompt, const ImageEmbedding *image, int64_t image_id);
    const float *last_logits() const;

    GenerateReport generate(const GenerateParams &params, const TokenSink &sink);

    const llama_vocab *vocab() const;
    int n_embd() const;
    int n_vocab() const;
    int n_image_tokens() const { return n_image_tokens_; }
    int n_ctx_train() const;
    const std::string &system_prompt() const { return system_; }
    PromptTokens tokenize(const PromptParts &parts, bool with_image) const;
    std::string piece(llama_token t) const;

private:
    SessionOptions options_;
    MemorySampler *memory_;
    LoadReport report_;
    llama_model *model_ = nullptr;
    llama_context *ctx_ = nullptr;
    ggml_threadpool *threadpool_ = nullptr;
    edgevlm_vision *vision_ = nullptr;
    int n_image_tokens_ = 0, vision_embd_ = 0;
    std::string system_;
    std::vector<int64_t> kv_;   // what the KV holds from position 0: token ids, image rows as -image_id

    void load_llm(std::exception_ptr &error);
    void load_vision();
    void sample_memory();
    void feed(const llama_token *tokens, const float *embd, int n, int pos, bool last_logits);
    int keep_from_kv(const std::vector<int64_t> &items, size_t image_at, size_t image_end);
};

// A regular file at `path`, else Failure "<what> <path> does not exist" (checked before loading anything).
void require_file(const std::string &path, const char *what);

struct Args;
// The session's options as edgevlm-run and edgevlm-serve take them (args.h).
SessionOptions session_options(const Args &a);

// The deprecated environment aliases of the vision switches (EDGEVLM_PROJECTOR...) are what the encoder
// reads; the options are handed to it the same way (set before the load).
void export_vision_switches(const SessionOptions &o);

// Bytes a context of `size` needs beyond the weights: the KV cache (f16 K and V) and an estimate of the
// compute buffers (logits rows, activations, attention scores).
struct ContextNeed {
    int64_t kv_bytes = 0, buffer_bytes = 0;
};
ContextNeed context_need(const llama_model *model, const ContextSize &size);
int64_t mem_available_bytes();   // MemAvailable of /proc/meminfo; -1 when unreadable

}  // namespace edgevlm::run

namespace edgevlm::run {

// The prompt (n_prompt tokens, n_image of them the image's rows) and n_predict tokens after it within a
// context of `limit` tokens; BeyondContext otherwise, its message naming the context (`what`) and the option
// that asked for n_predict (`n_flag`: -n, max_tokens). A limit <= 0 is unknown: not checked.
void check_fits_context(int n_prompt, int n_image, int n_predict, int limit, const std::string &what,
                        const std::string &n_flag = "-n");

// edgevlm-run's context for one prompt and n_predict tokens: n_ctx (0: just enough), and with small buffers
// the batch sized to the largest prompt chunk and one row of logits, else 512-token batches. The request must
// fit n_ctx when given, else the model's training context n_ctx_train (BeyondContext).
ContextSize context_for_prompt(const PromptTokens &p, int n_image, int n_predict, int n_ctx, int n_ctx_train,
                               bool small_buffers);

}  // namespace edgevlm::run
