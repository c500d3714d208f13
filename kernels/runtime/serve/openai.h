// OpenAI's chat completions schema, the parts edgevlm-serve takes: parsing and checking a request (every
// fault a BadRequest, answered 400 in OpenAI's error shape) and writing responses and stream chunks.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "prompt.h"

namespace edgevlm::serve {

using json = nlohmann::ordered_json;

struct BadRequest : std::runtime_error {
    BadRequest(const std::string &message, std::string param_ = "", std::string code_ = "")
        : std::runtime_error(message), param(std::move(param_)), code(std::move(code_)) {}
    std::string param, code;
};

struct Limits {
    std::string model_name;      // the one model served (/v1/models)
    int64_t max_image_bytes = 0;
    int default_max_tokens = 128;
    int n_ctx = 0;
};

struct ChatRequest {
    std::vector<run::Turn> turns;   // system / user / assistant, the image (at most one) on its user turn
    std::string image_bytes;        // decoded PNG/JPEG, empty without an image
    int max_tokens = 0;
    float temperature = 0, top_p = 1;
    int top_k = 40;
    uint32_t seed = 0;
    bool stream = false;
    bool include_usage = false;   // stream_options.include_usage: a last chunk with usage
    bool ignore_eos = false;      // llama-server's extension: exactly max_tokens (benchmarks, tests)
    std::vector<std::string> stop;
};

// Throws BadRequest.
ChatRequest parse_chat_request(const std::string &body, const Limits &limits, const ChatRequest &defaults);

json error_body(const std::string &message, const std::string &type, const std::string &param = "",
                const std::string &code = "");

struct Completion {
    std::string id, model, text, finish_reason;
    int64_t created = 0;
    int prompt_tokens = 0, completion_tokens = 0;
};
json completion_body(const Completion &c, const json &extra);
// One server-sent event: "data: {chunk}\n\n". role_only: the first chunk (role, empty content);
// finish non-empty: the last (empty delta).
std::string stream_chunk(const Completion &c, const std::string &delta, bool role_only, const std::string &finish);
std::string dump(const json &j);   // invalid UTF-8 replaced, never thrown

json models_body(const std::string &model_name, int64_t created);

}  // namespace edgevlm::serve
