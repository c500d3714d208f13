#include "prompt.h"

#include <algorithm>
#include <stdexcept>

namespace edgevlm::run {

namespace {

const char *kSystem =
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions.";

std::vector<llama_token> tokenize(const llama_vocab *vocab, const std::string &text, bool bos) {
    std::vector<llama_token> out(text.size() + 8);
    int n = llama_tokenize(vocab, text.c_str(), (int)text.size(), out.data(), (int)out.size(), bos, false);
    if (n < 0) {
        out.resize(-n);
        n = llama_tokenize(vocab, text.c_str(), (int)text.size(), out.data(), (int)out.size(), bos, false);
    }
    if (n < 0) throw std::runtime_error("tokenization failed");
    out.resize(n);
    if (bos && (out.empty() || out[0] != llama_vocab_bos(vocab))) out.insert(out.begin(), llama_vocab_bos(vocab));
    return out;
}

}  // namespace

PromptParts vicuna_v1(const std::string &question, bool with_image) {
    const std::string head = std::string(kSystem) + " USER: ";
    if (with_image) return {head, "\n" + question + " ASSISTANT:"};
    return {"", head + question + " ASSISTANT:"};
}

PromptTokens tokenize_prompt(const llama_vocab *vocab, const PromptParts &parts, bool with_image) {
    PromptTokens t;
    if (with_image) {
        t.before = tokenize(vocab, parts.before, true);
        t.after = tokenize(vocab, parts.after, false);
    } else {
        t.after = tokenize(vocab, parts.after, true);
    }
    return t;
}

void pad_prompt(const llama_vocab *vocab, PromptTokens &t, int n_image, int target) {
    const int have = (int)(t.before.size() + t.after.size()) + n_image;
    if (target <= 0 || target == have) return;
    if (target < have) {
        // Shorter than the prompt: drop text tokens (never BOS, never an image token), the system prompt's
        // first, so --prompt-tokens N means exactly N whatever the tokenizer.
        int excess = have - target;
        auto trim = [&excess](std::vector<llama_token> &v, size_t keep_front) {
            const size_t n = std::min((size_t)excess, v.size() > keep_front ? v.size() - keep_front : 0);
            v.erase(v.begin() + keep_front, v.begin() + keep_front + n);
            excess -= (int)n;
        };
        trim(t.before, t.before.empty() ? 0 : 1);
        trim(t.after, t.before.empty() ? 1 : 0);
        if (excess > 0)
            throw std::runtime_error("--prompt-tokens " + std::to_string(target) + " is below the minimum of " +
                                     std::to_string(target + excess) + " (BOS and the image's tokens)");
        return;
    }
    const std::vector<llama_token> filler = tokenize(vocab, " ok", false);
    const llama_token tok = filler.back();
    // Insert after the first token of `after` (the newline / BOS), i.e. inside the question text.
    t.after.insert(t.after.begin() + (t.after.empty() ? 0 : 1), (size_t)(target - have), tok);
}

}  // namespace edgevlm::run
