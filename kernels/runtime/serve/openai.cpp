#include "openai.h"

#include <cmath>

#include "base64.h"

namespace edgevlm::serve {

namespace {

const json &field(const json &obj, const char *key) {
    static const json null_value;
    const auto it = obj.find(key);
    return it == obj.end() ? null_value : *it;
}

// "data:image/png;base64,...." -> the bytes; limits checked before decoding.
std::string image_from_url(const std::string &url, int64_t max_bytes) {
    if (url.rfind("data:", 0) != 0)
        throw BadRequest("image_url must be a data: URL (data:image/png;base64,... or data:image/jpeg;base64,...);"
                         " edgevlm-serve fetches nothing", "messages", "invalid_image_url");
    const size_t comma = url.find(',');
    if (comma == std::string::npos) throw BadRequest("image_url: a data: URL needs a comma before its data", "messages", "invalid_image_url");
    const std::string meta = url.substr(5, comma - 5);
    if (meta.size() < 7 || meta.compare(meta.size() - 7, 7, ";base64") != 0)
        throw BadRequest("image_url: only base64 data: URLs are taken", "messages", "invalid_image_url");
    const std::string type = meta.substr(0, meta.size() - 7);
    if (type != "image/png" && type != "image/jpeg" && type != "image/jpg")
        throw BadRequest("image_url: media type '" + type + "' is not image/png or image/jpeg", "messages", "invalid_image_format");
    const size_t encoded = url.size() - comma - 1;
    if ((int64_t)(encoded / 4 * 3) > max_bytes + 2)
        throw BadRequest("image of ~" + std::to_string(encoded / 4 * 3) + " bytes is over the limit of " +
                         std::to_string(max_bytes) + " bytes (--max-image-bytes)", "messages", "image_too_large");
    auto bytes = base64_decode(url.substr(comma + 1));
    if (!bytes) throw BadRequest("image_url: the data is not valid base64", "messages", "invalid_base64");
    if ((int64_t)bytes->size() > max_bytes)
        throw BadRequest("image of " + std::to_string(bytes->size()) + " bytes is over the limit of " +
                         std::to_string(max_bytes) + " bytes (--max-image-bytes)", "messages", "image_too_large");
    if (bytes->empty()) throw BadRequest("image_url: the image is empty", "messages", "invalid_image");
    return *bytes;
}

// A message's content: a string, or parts of type text / image_url.
run::Turn parse_message(const json &m, ChatRequest &req, const Limits &limits) {
    if (!m.is_object()) throw BadRequest("each message must be an object with role and content", "messages");
    const json &role = field(m, "role"), &content = field(m, "content");
    if (!role.is_string()) throw BadRequest("a message has no role", "messages");
    run::Turn t;
    t.role = role.get<std::string>();
    if (t.role != "system" && t.role != "user" && t.role != "assistant")
        throw BadRequest("message role '" + t.role + "' is not supported (system, user, assistant)", "messages");
    if (content.is_string()) {
        t.text = content.get<std::string>();
        return t;
    }
    if (!content.is_array()) throw BadRequest("message content must be a string or an array of parts", "messages");
    for (const json &part : content) {
        const json &type = field(part, "type");
        if (type == "text" && field(part, "text").is_string()) {
            t.text += (t.text.empty() ? "" : "\n") + field(part, "text").get<std::string>();
        } else if (type == "image_url") {
            if (t.role != "user") throw BadRequest("images go in user messages", "messages");
            if (!req.image_bytes.empty() || t.image)
                throw BadRequest("one image per request: MobileVLM's prompt has one image slot", "messages", "too_many_images");
            const json &iu = field(part, "image_url");
            const json &url = iu.is_object() ? field(iu, "url") : iu;
            if (!url.is_string()) throw BadRequest("image_url needs a url", "messages");
            req.image_bytes = image_from_url(url.get<std::string>(), limits.max_image_bytes);
            t.image = true;
        } else {
            throw BadRequest("content part type " + type.dump() + " is not supported (text, image_url)", "messages");
        }
    }
    return t;
}

float number(const json &body, const char *key, float lo, float hi, float fallback) {
    const json &v = field(body, key);
    if (v.is_null()) return fallback;
    if (!v.is_number()) throw BadRequest(std::string(key) + " must be a number", key);
    const double x = v.get<double>();
    if (!std::isfinite(x) || x < lo || x > hi)
        throw BadRequest(std::string(key) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", key);
    return (float)x;
}

void parse_stop(const json &stop, ChatRequest &req) {
    if (stop.is_null()) return;
    if (stop.is_string()) stop.get<std::string>().empty() ? void() : req.stop.push_back(stop.get<std::string>());
    else if (stop.is_array() && stop.size() <= 4) {
        for (const json &s : stop) {
            if (!s.is_string()) throw BadRequest("stop must be a string or up to 4 strings", "stop");
            if (!s.get<std::string>().empty()) req.stop.push_back(s.get<std::string>());
        }
    } else {
        throw BadRequest("stop must be a string or up to 4 strings", "stop");
    }
}

void parse_limits(const json &body, ChatRequest &req, const Limits &limits) {
    json mt = field(body, "max_completion_tokens");
    if (mt.is_null()) mt = field(body, "max_tokens");
    if (!mt.is_null()) {
        if (!mt.is_number_integer() || mt.get<int64_t>() < 1) throw BadRequest("max_tokens must be an integer >= 1", "max_tokens");
        if (mt.get<int64_t>() >= limits.n_ctx)
            throw BadRequest("max_tokens " + mt.dump() + " is beyond the context of " + std::to_string(limits.n_ctx) +
                             " tokens", "max_tokens", "context_length_exceeded");
        req.max_tokens = (int)mt.get<int64_t>();
    }
    req.temperature = number(body, "temperature", 0, 2, req.temperature);
    req.top_p = number(body, "top_p", 0, 1, req.top_p);
    if (req.top_p <= 0) throw BadRequest("top_p must be above 0", "top_p");
    const json &seed = field(body, "seed");
    if (!seed.is_null()) {
        if (!seed.is_number_integer()) throw BadRequest("seed must be an integer", "seed");
        req.seed = (uint32_t)seed.get<int64_t>();
    }
    const json &n = field(body, "n");
    if (!n.is_null() && n != 1) throw BadRequest("n must be 1: one answer per request", "n");
    parse_stop(field(body, "stop"), req);
}

}  // namespace

ChatRequest parse_chat_request(const std::string &text, const Limits &limits, const ChatRequest &defaults) {
    json body;
    try {
        body = json::parse(text);
    } catch (const std::exception &) {
        throw BadRequest("the request body is not valid JSON");
    }
    if (!body.is_object()) throw BadRequest("the request body must be a JSON object");
    ChatRequest req = defaults;
    const json &model = field(body, "model");
    if (!model.is_null() && (!model.is_string() || model.get<std::string>() != limits.model_name))
        throw BadRequest("model " + model.dump() + " is not served here: use \"" + limits.model_name + "\"", "model",
                         "model_not_found");
    const json &messages = field(body, "messages");
    if (!messages.is_array() || messages.empty()) throw BadRequest("messages must be a non-empty array", "messages");
    for (const json &m : messages) req.turns.push_back(parse_message(m, req, limits));
    if (req.turns.back().role != "user") throw BadRequest("the last message must be the user's", "messages");
    for (size_t i = 1; i < req.turns.size(); ++i)
        if (req.turns[i].role == "system") throw BadRequest("a system message can only come first", "messages");
    if (field(body, "tools").is_array() && !field(body, "tools").empty())
        throw BadRequest("tools (function calling) are not supported", "tools");
    parse_limits(body, req, limits);
    const json &stream = field(body, "stream");
    if (!stream.is_null() && !stream.is_boolean()) throw BadRequest("stream must be true or false", "stream");
    req.stream = stream.is_boolean() && stream.get<bool>();
    const json &ignore_eos = field(body, "ignore_eos");
    if (!ignore_eos.is_null() && !ignore_eos.is_boolean()) throw BadRequest("ignore_eos must be true or false", "ignore_eos");
    req.ignore_eos = ignore_eos.is_boolean() && ignore_eos.get<bool>();
    const json &options = field(body, "stream_options");
    if (options.is_object()) req.include_usage = field(options, "include_usage") == true;
    return req;
}

json error_body(const std::string &message, const std::string &type, const std::string &param, const std::string &code) {
    return {{"error", {{"message", message}, {"type", type}, {"param", param.empty() ? json() : json(param)},
                       {"code", code.empty() ? json() : json(code)}}}};
}

std::string dump(const json &j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json completion_body(const Completion &c, const json &extra) {
    json body = {{"id", c.id}, {"object", "chat.completion"}, {"created", c.created}, {"model", c.model},
                 {"choices", json::array({{{"index", 0},
                                           {"message", {{"role", "assistant"}, {"content", c.text}}},
                                           {"logprobs", nullptr},
                                           {"finish_reason", c.finish_reason}}})},
                 {"usage", {{"prompt_tokens", c.prompt_tokens}, {"completion_tokens", c.completion_tokens},
                            {"total_tokens", c.prompt_tokens + c.completion_tokens}}}};
    if (!extra.is_null()) body["edgevlm"] = extra;
    return body;
}

std::string stream_chunk(const Completion &c, const std::string &delta, bool role_only, const std::string &finish) {
    json d = json::object();
    if (role_only) d = {{"role", "assistant"}, {"content", ""}};
    else if (finish.empty()) d = {{"content", delta}};
    json chunk = {{"id", c.id}, {"object", "chat.completion.chunk"}, {"created", c.created}, {"model", c.model},
                  {"choices", json::array({{{"index", 0}, {"delta", d}, {"logprobs", nullptr},
                                            {"finish_reason", finish.empty() ? json() : json(finish)}}})}};
    return "data: " + dump(chunk) + "\n\n";
}

json models_body(const std::string &model_name, int64_t created) {
    return {{"object", "list"},
            {"data", json::array({{{"id", model_name}, {"object", "model"}, {"created", created}, {"owned_by", "edgevlm"}}})}};
}

}  // namespace edgevlm::serve
