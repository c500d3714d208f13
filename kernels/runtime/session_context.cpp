// The context stage: how many tokens a request needs (refused beyond the context), the bytes its KV cache
// and buffers take (refused beyond the memory available), and the llama context with its threadpool.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "session.h"

namespace edgevlm::run {

namespace {

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

}  // namespace

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

}  // namespace edgevlm::run
