// edgevlm-serve's HTTP side: OpenAI-compatible routes over one loaded Session. One request runs at a time
// (the session has one context); up to `queue` wait in arrival order, more are answered 429 with
// Retry-After. The KV of what the previous request left (the conversation's fixed start, its image) is
// reused by the session's prefill; image embeddings are cached by the image's hash.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "admission.h"
#include "args.h"
#include "image_cache.h"
#include "metrics.h"
#include "openai.h"
#include "session.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}

namespace edgevlm::serve {

class Server {
public:
    Server(run::Session &session, const run::Args &args);
    ~Server();
    int bind(const std::string &host, int port);   // the port bound (port 0: any free one); -1 on failure
    void listen();                                 // until stop()
    void stop();                                   // the running answer ends after its current token

private:
    run::Session &session_;
    Limits limits_;
    ChatRequest defaults_;
    int queue_;
    std::unique_ptr<httplib::Server> http_;
    Admission admission_;
    std::mutex images_mu_;
    ImageCache images_;
    Metrics metrics_;
    std::atomic<bool> stopping_{false};
    std::atomic<int64_t> next_id_{1};
    std::atomic<double> mean_request_s_{1.0};   // for Retry-After

    void routes();
    void chat(const httplib::Request &req, httplib::Response &res);
    void reject(httplib::Response &res, int status, const std::string &message, const std::string &type,
                const std::string &param = "", const std::string &code = "");
    struct Prepared;
    Prepared prepare(const ChatRequest &req, run::Clock::time_point arrived);
    void answer(const ChatRequest &req, Prepared &p, httplib::Response &res, std::function<bool()> closed);
    void stream(const ChatRequest &req, std::shared_ptr<Prepared> p, httplib::Response &res);
    void finish(Prepared &p, const run::GenerateReport &g);
};

}  // namespace edgevlm::serve
