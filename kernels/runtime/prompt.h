// MobileVLM's conversation template (vicuna v1) and its tokenization around the image.
#pragma once

#include <string>
#include <vector>

#include "llama.h"

namespace edgevlm::run {

// "A chat between ... USER: <image>\n{question} ASSISTANT:" with image; without, "USER: {question} ASSISTANT:".
struct PromptParts {
    std::string before, after;  // text around <image>; `after` is empty-less: the whole prompt when no image
};
PromptParts vicuna_v1(const std::string &question, bool with_image);

// MobileVLM's tokenizer_image_token: each chunk tokenized on its own (SentencePiece's space prefix
// included), one BOS at the very start.
struct PromptTokens {
    std::vector<llama_token> before, after;
};
PromptTokens tokenize_prompt(const llama_vocab *vocab, const PromptParts &parts, bool with_image);

// Benchmarks: repeat a filler token inside the question until the prompt has `target` tokens
// (image tokens included). Throws std::runtime_error when the prompt is already longer.
void pad_prompt(const llama_vocab *vocab, PromptTokens &t, int n_image, int target);

}  // namespace edgevlm::run
