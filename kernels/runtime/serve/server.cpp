#include "server.h"

#include <chrono>
#include <cmath>
#include <ctime>

#include "cpp-httplib/httplib.h"
#include "hash/hash.h"
#include "stop_text.h"

namespace edgevlm::serve {

using run::Clock;

namespace {

// The slot while a request holds it: released when the last owner (handler or stream) lets go.
struct SlotHold {
    Admission &admission;
    explicit SlotHold(Admission &a) : admission(a) {}
    ~SlotHold() { admission.leave(); }
};

int64_t unix_now() { return (int64_t)std::time(nullptr); }

}  // namespace

struct Server::Prepared {
    std::shared_ptr<SlotHold> slot;
    Completion c;
    Clock::time_point arrived;
    RequestTiming timing;
    run::GenerateParams gen;
};

Server::Server(run::Session &session, const run::Args &a)
    : session_(session), queue_(a.queue), http_(std::make_unique<httplib::Server>()), admission_(a.queue),
      images_(a.image_cache) {
    limits_.model_name = a.model_name;
    limits_.max_image_bytes = a.max_image_bytes;
    limits_.default_max_tokens = a.n_predict;
    limits_.n_ctx = session.n_ctx();
    defaults_.max_tokens = a.n_predict;
    defaults_.temperature = a.temp;
    defaults_.top_p = a.top_p;
    defaults_.top_k = a.top_k;
    defaults_.seed = (uint32_t)a.seed;
    // a thread per queued request and a few to answer 429s, /health and /metrics while they wait
    const size_t threads = (size_t)queue_ + 8;
    http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads, threads * 4); };
    http_->set_payload_max_length((size_t)(a.max_image_bytes / 3 * 4 + (1 << 20)));
    http_->set_keep_alive_timeout(2);
    // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which lets a second server bind the same port and
    // silently take half of the connections; a port in use must be an error
    http_->set_socket_options([](socket_t sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    routes();
}

Server::~Server() = default;

int Server::bind(const std::string &host, int port) {
    if (port == 0) return http_->bind_to_any_port(host);
    return http_->bind_to_port(host, port) ? port : -1;
}

void Server::listen() { http_->listen_after_bind(); }

void Server::stop() {
    stopping_ = true;
    http_->stop();
}

void Server::reject(httplib::Response &res, int status, const std::string &message, const std::string &type,
                    const std::string &param, const std::string &code) {
    res.status = status;
    res.set_content(dump(error_body(message, type, param, code)), "application/json");
}

void Server::routes() {
    http_->Get("/health", [this](const httplib::Request &, httplib::Response &res) {
        res.set_content(dump(json{{"status", stopping_ ? "stopping" : "ok"}}), "application/json");
    });
    http_->Get("/v1/models", [this](const httplib::Request &, httplib::Response &res) {
        res.set_content(dump(models_body(limits_.model_name, unix_now())), "application/json");
    });
    http_->Get("/metrics", [this](const httplib::Request &, httplib::Response &res) {
        std::lock_guard<std::mutex> lock(images_mu_);
        res.set_content(metrics_.text(admission_.waiting(), admission_.running(), images_.size(), images_.hits(),
                                      images_.misses()),
                        "text/plain; version=0.0.4");
    });
    http_->Post("/v1/chat/completions", [this](const httplib::Request &req, httplib::Response &res) { chat(req, res); });
    // httplib's own refusals (413 body too large, 404 unknown path, ...) in OpenAI's error shape too
    http_->set_error_handler([this](const httplib::Request &req, httplib::Response &res) {
        if (!res.body.empty()) return;
        const std::string message = res.status == 413 ? "the request body is larger than this server takes (--max-image-bytes)"
                                  : res.status == 404 ? "no route " + req.method + " " + req.path
                                                      : "HTTP " + std::to_string(res.status);
        reject(res, res.status, message, res.status == 413 || res.status == 404 ? "invalid_request_error" : "server_error");
    });
    http_->set_exception_handler([this](const httplib::Request &, httplib::Response &res, std::exception_ptr e) {
        std::string what = "internal error";
        try {
            std::rethrow_exception(e);
        } catch (const std::exception &x) {
            what = x.what();
        } catch (...) {
        }
        reject(res, 500, what, "server_error");
    });
}

// Image (cached by hash), prompt, context check, prefill: everything before the first token.
Server::Prepared Server::prepare(const ChatRequest &req, Clock::time_point arrived) {
    Prepared p;
    p.arrived = arrived;
    std::shared_ptr<const run::ImageEmbedding> image;
    int64_t image_id = 0;
    if (!req.image_bytes.empty()) {
        if (!session_.has_vision()) throw BadRequest("this model has no mmproj: it cannot take an image", "messages");
        const std::string hash = hash_sha256_hex(req.image_bytes.data(), req.image_bytes.size());
        std::unique_lock<std::mutex> lock(images_mu_);
        CachedImage cached = images_.find(hash);
        lock.unlock();
        p.timing.image_cached = cached.embedding != nullptr;
        if (!cached.embedding) {
            run::ImageEmbedding e;
            try {
                e = session_.encode_bytes((const unsigned char *)req.image_bytes.data(), req.image_bytes.size(), "in the request");
            } catch (const run::Failure &f) {
                throw BadRequest(f.what(), "messages", "invalid_image");
            }
            lock.lock();
            cached = images_.put(hash, std::move(e));
        }
        image = cached.embedding;
        image_id = cached.id;
    }
    run::PromptTokens pt;
    try {
        pt = session_.tokenize(run::render_vicuna(session_.system_prompt(), req.turns), image != nullptr);
    } catch (const run::PromptError &e) {
        throw BadRequest(e.what(), "messages");
    }
    const int n_prompt = (int)(pt.before.size() + pt.after.size()) + (image ? image->n_tokens : 0);
    p.gen.max_tokens = req.max_tokens;
    p.gen.ignore_eos = req.ignore_eos;
    try {
        run::check_fits_context(n_prompt, image ? image->n_tokens : 0, p.gen.max_tokens, session_.n_ctx(),
                                "the server's context", "max_tokens");
    } catch (const run::BeyondContext &e) {
        throw BadRequest(e.what(), "max_tokens", "context_length_exceeded");
    }
    const run::PrefillReport pr = session_.prefill(pt, image.get(), image_id);
    p.timing.prompt_tokens = pr.n_prompt;
    p.timing.reused_tokens = pr.n_reused;
    p.gen.sampler = {req.temperature, req.top_k, req.top_p, req.seed};
    p.c.id = "chatcmpl-" + std::to_string(p.timing.id = next_id_++);
    p.c.model = limits_.model_name;
    p.c.created = unix_now();
    p.c.prompt_tokens = pr.n_prompt;
    return p;
}

void Server::finish(Prepared &p, const run::GenerateReport &g) {
    p.c.completion_tokens = (int)g.tokens.size();
    p.c.finish_reason = g.eos || g.stopped ? "stop" : "length";
    if (g.first_token != Clock::time_point{})
        p.timing.ttft_ms = std::chrono::duration<double, std::milli>(g.first_token - p.arrived).count();
    p.timing.completion_tokens = (int)g.tokens.size();
    p.timing.decode_tps = g.decode_ms > 0 ? g.tokens.size() * 1000.0 / g.decode_ms : 0;
    metrics_.finished(p.timing);
    const double took = std::chrono::duration<double>(Clock::now() - p.arrived).count();
    mean_request_s_ = 0.8 * mean_request_s_.load() + 0.2 * took;
}

void Server::answer(const ChatRequest &req, Prepared &p, httplib::Response &res, std::function<bool()> closed) {
    StopText text(req.stop);
    const run::GenerateReport g = session_.generate(p.gen, [&](llama_token, const std::string &piece) {
        return text.add(piece) && !stopping_ && !closed();
    });
    finish(p, g);
    p.c.text = text.text();
    json extra = {{"tokens", g.tokens}, {"ttft_ms", p.timing.ttft_ms}, {"prompt_tokens_reused", p.timing.reused_tokens},
                  {"image_cached", p.timing.image_cached}};
    res.set_content(dump(completion_body(p.c, extra)), "application/json");
}

void Server::stream(const ChatRequest &req, std::shared_ptr<Prepared> p, httplib::Response &res) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, req, p](size_t, httplib::DataSink &sink) {
            const auto send = [&sink](const std::string &s) { return sink.is_writable() && sink.write(s.data(), s.size()); };
            bool open = send(stream_chunk(p->c, "", true, ""));
            StopText text(req.stop);
            run::GenerateReport g;
            try {
                g = session_.generate(p->gen, [&](llama_token, const std::string &piece) {
                    const bool go = text.add(piece);
                    const std::string ready = text.take_ready();
                    if (!ready.empty()) open = open && send(stream_chunk(p->c, ready, false, ""));
                    return go && open && !stopping_;   // a client gone frees the slot now, not at the limit
                });
            } catch (const std::exception &e) {
                send("data: " + dump(error_body(e.what(), "server_error")) + "\n\n");
                p->slot.reset();
                return false;
            }
            finish(*p, g);
            if (!open) {
                metrics_.cancelled();
                p->slot.reset();
                return false;
            }
            const std::string rest = text.take_rest();
            if (!rest.empty()) send(stream_chunk(p->c, rest, false, ""));
            send(stream_chunk(p->c, "", false, p->c.finish_reason));
            if (req.include_usage) {
                json usage = {{"id", p->c.id}, {"object", "chat.completion.chunk"}, {"created", p->c.created},
                              {"model", p->c.model}, {"choices", json::array()},
                              {"usage", {{"prompt_tokens", p->c.prompt_tokens}, {"completion_tokens", p->c.completion_tokens},
                                         {"total_tokens", p->c.prompt_tokens + p->c.completion_tokens}}}};
                send("data: " + dump(usage) + "\n\n");
            }
            send("data: [DONE]\n\n");
            p->slot.reset();
            sink.done();
            return true;
        },
        [p](bool) { p->slot.reset(); });
}

void Server::chat(const httplib::Request &hreq, httplib::Response &res) {
    const auto arrived = Clock::now();
    metrics_.started();
    ChatRequest req;
    try {
        req = parse_chat_request(hreq.body, limits_, defaults_);
    } catch (const BadRequest &e) {
        metrics_.bad();
        return reject(res, 400, e.what(), "invalid_request_error", e.param, e.code);
    }
    if (!admission_.enter()) {
        metrics_.rejected();
        const int wait = std::max(1, (int)std::ceil(mean_request_s_ * (admission_.waiting() + 1)));
        res.set_header("Retry-After", std::to_string(wait));
        return reject(res, 429, "the server is busy: " + std::to_string(queue_) + " requests already wait; retry in " +
                                    std::to_string(wait) + " s", "rate_limit_error", "", "queue_full");
    }
    auto slot = std::make_shared<SlotHold>(admission_);
    if (stopping_) return reject(res, 503, "the server is stopping", "server_error");
    auto p = std::make_shared<Prepared>();
    try {
        *p = prepare(req, arrived);
    } catch (const BadRequest &e) {
        metrics_.bad();
        return reject(res, 400, e.what(), "invalid_request_error", e.param, e.code);
    }
    p->slot = slot;
    if (req.stream) return stream(req, p, res);
    answer(req, *p, res, [&hreq] { return hreq.is_connection_closed(); });
}

}  // namespace edgevlm::serve
