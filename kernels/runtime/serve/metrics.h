// What /metrics shows (Prometheus text format): request counts, the queue, each recent request's time to
// first token and decode rate, the image cache, and the process's peak memory.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace edgevlm::serve {

struct RequestTiming {
    int64_t id = 0;
    double ttft_ms = 0, decode_tps = 0;
    int prompt_tokens = 0, reused_tokens = 0, completion_tokens = 0;
    bool image_cached = false;
};

class Metrics {
public:
    void started() { std::lock_guard<std::mutex> l(mu_); ++requests_; }
    void rejected() { std::lock_guard<std::mutex> l(mu_); ++rejected_; }
    void bad() { std::lock_guard<std::mutex> l(mu_); ++bad_; }
    void cancelled() { std::lock_guard<std::mutex> l(mu_); ++cancelled_; }
    void finished(const RequestTiming &t);
    // the queue and the image cache are owned elsewhere: their numbers are passed in
    std::string text(int queue_depth, int running, size_t cache_entries, int64_t cache_hits, int64_t cache_misses);

private:
    std::mutex mu_;
    int64_t requests_ = 0, rejected_ = 0, bad_ = 0, cancelled_ = 0, completed_ = 0;
    std::deque<RequestTiming> recent_;   // the last 100 requests
};

double peak_rss_bytes();      // VmHWM
double current_rss_bytes();   // VmRSS

}  // namespace edgevlm::serve
