// The prefill and decode stages: the prompt around the image fed in chunks (keeping the KV of what the
// context already holds), then the generation loop with its sampler.
#include <algorithm>

#include "edgevlm_stage.h"
#include "session.h"

namespace edgevlm::run {

namespace {

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

}  // namespace

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
