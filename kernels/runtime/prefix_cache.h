// The conversation's fixed start (BOS + MobileVLM's system prompt + "USER: ", everything before the image)
// is the same for every question to a model, so its KV can be computed once and read back by later runs:
//   EDGEVLM_PROMPT_CACHE=FILE   read the start's KV from FILE when FILE holds exactly these tokens for this
//                               model file (path, size, mtime), else compute it and write FILE (temp + rename)
// Unset: computed every run. Reading the KV back gives the same cells as computing them (tested: identical
// greedy tokens cold, warm and without the cache).
#pragma once

#include <string>
#include <vector>

#include "llama.h"

namespace edgevlm::run {

class PrefixCache {
public:
    PrefixCache(std::string file, const std::string &model);   // file empty: disabled
    bool enabled() const { return !file_.empty(); }
    // Restores seq 0's KV for positions 0..tokens-1 when the file matches; false (and seq 0 empty) otherwise.
    bool load(llama_context *ctx, const std::vector<llama_token> &tokens) const;
    // Writes seq 0's KV (which must hold exactly `tokens`) for later runs; throws std::runtime_error on I/O errors.
    void save(llama_context *ctx, const std::vector<llama_token> &tokens) const;

private:
    std::string file_, key_;   // key_: the model's identity and the tokens, one line
    std::string key_for(const std::vector<llama_token> &tokens) const;
};

}  // namespace edgevlm::run
