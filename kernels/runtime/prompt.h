// MobileVLM's conversation (vicuna v1) and its tokenization around the image. The system prompt is not
// written here: it is read from the model's own chat template (tokenizer.chat_template), which
// `edgevlm convert` writes from the Python conversation module, its one home.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "llama.h"

namespace edgevlm::run {

struct PromptError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The default system prompt of the model's vicuna v1 chat template; throws PromptError (naming `model_path`)
// when the GGUF has no such template.
std::string system_prompt_of(const llama_model *model, const std::string &model_path);
// The same from the template's text (the Jinja source edgevlm's converter writes).
std::string system_prompt_of_template(const std::string &tmpl);

// One message of a conversation: role "system", "user" or "assistant"; at most one user turn has the image.
struct Turn {
    std::string role, text;
    bool image = false;
};

// "{system} USER: <image>\n{question} ASSISTANT:", split at <image>; without an image `before` is empty and
// `after` the whole prompt. Earlier turns render as "USER: q ASSISTANT: a</s>"; a leading system turn
// replaces the default system prompt.
struct PromptParts {
    std::string before, after;
};
PromptParts render_vicuna(const std::string &default_system, const std::vector<Turn> &turns);
PromptParts vicuna_v1(const std::string &system, const std::string &question, bool with_image);

// MobileVLM's tokenizer_image_token: each chunk tokenized on its own (SentencePiece's space prefix
// included), one BOS at the very start.
struct PromptTokens {
    std::vector<llama_token> before, after;
};
PromptTokens tokenize_prompt(const llama_vocab *vocab, const PromptParts &parts, bool with_image);
std::vector<llama_token> tokenize(const llama_vocab *vocab, const std::string &text, bool bos);

// Benchmarks: repeat a filler token inside the question until the prompt has `target` tokens
// (image tokens included). Throws PromptError when the prompt is already longer.
void pad_prompt(const llama_vocab *vocab, PromptTokens &t, int n_image, int target);

}  // namespace edgevlm::run
