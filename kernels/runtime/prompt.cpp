#include "prompt.h"

#include <algorithm>

namespace edgevlm::run {

namespace {

constexpr const char *kImage = "<image>";
// edgevlm's template sets its default system prompt as {%- set system = '...' -%} (ggufio/tokenizer.py)
constexpr const char *kSystemSet = "set system = '";

}  // namespace

std::string system_prompt_of_template(const std::string &tmpl) {
    const size_t start = tmpl.find(kSystemSet);
    if (start == std::string::npos) return "";
    std::string out;
    for (size_t i = start + std::char_traits<char>::length(kSystemSet); i < tmpl.size(); ++i) {
        if (tmpl[i] == '\\' && i + 1 < tmpl.size()) out += tmpl[++i];   // \' and \\ inside a Jinja string
        else if (tmpl[i] == '\'') return out;
        else out += tmpl[i];
    }
    return "";   // unterminated: not a template we wrote
}

std::string system_prompt_of(const llama_model *model, const std::string &model_path) {
    const char *tmpl = llama_model_chat_template(model, nullptr);
    const std::string system = tmpl ? system_prompt_of_template(tmpl) : "";
    if (system.empty())
        throw PromptError("model " + model_path + " has no MobileVLM chat template with a system prompt"
                          " (tokenizer.chat_template): convert it with `edgevlm convert`");
    return system;
}

std::vector<llama_token> tokenize(const llama_vocab *vocab, const std::string &text, bool bos) {
    std::vector<llama_token> out(text.size() + 8);
    int n = llama_tokenize(vocab, text.c_str(), (int)text.size(), out.data(), (int)out.size(), bos, false);
    if (n < 0) {
        out.resize(-n);
        n = llama_tokenize(vocab, text.c_str(), (int)text.size(), out.data(), (int)out.size(), bos, false);
    }
    if (n < 0) throw PromptError("tokenization failed");
    out.resize(n);
    if (bos && (out.empty() || out[0] != llama_vocab_bos(vocab))) out.insert(out.begin(), llama_vocab_bos(vocab));
    return out;
}

PromptParts render_vicuna(const std::string &default_system, const std::vector<Turn> &turns) {
    size_t first = 0;
    std::string text = default_system;
    if (!turns.empty() && turns[0].role == "system") {
        text = turns[0].text;
        first = 1;
    }
    text += " ";
    for (size_t i = first; i < turns.size(); ++i) {
        const Turn &t = turns[i];
        if (t.role == "user") text += "USER: " + std::string(t.image ? std::string(kImage) + "\n" : "") + t.text + " ";
        else if (t.role == "assistant") text += "ASSISTANT: " + t.text + "</s>";
        else throw PromptError("a " + t.role + " message can only come first");
    }
    text += "ASSISTANT:";
    const size_t at = text.find(kImage);
    if (at == std::string::npos) return {"", text};
    return {text.substr(0, at), text.substr(at + std::char_traits<char>::length(kImage))};
}

PromptParts vicuna_v1(const std::string &system, const std::string &question, bool with_image) {
    return render_vicuna(system, {Turn{"user", question, with_image}});
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
            throw PromptError("--prompt-tokens " + std::to_string(target) + " is below the minimum of " +
                                     std::to_string(target + excess) + " (BOS and the image's tokens)");
        return;
    }
    const std::vector<llama_token> filler = tokenize(vocab, " ok", false);
    const llama_token tok = filler.back();
    // Insert after the first token of `after` (the newline / BOS), i.e. inside the question text.
    t.after.insert(t.after.begin() + (t.after.empty() ? 0 : 1), (size_t)(target - have), tok);
}

}  // namespace edgevlm::run
