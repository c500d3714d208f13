#include "metrics.h"

#include <sys/resource.h>

#include <fstream>
#include <sstream>

namespace edgevlm::serve {

namespace {

double status_kb(const char *key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const std::string want = std::string(key) + ":";
    while (std::getline(f, line))
        if (line.rfind(want, 0) == 0) return std::stod(line.substr(want.size()));
    return -1;
}

}  // namespace

double peak_rss_bytes() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss * 1024.0;   // Linux reports KiB
}

double current_rss_bytes() {
    const double kb = status_kb("VmRSS");
    return kb < 0 ? -1 : kb * 1024.0;
}

void Metrics::finished(const RequestTiming &t) {
    std::lock_guard<std::mutex> l(mu_);
    ++completed_;
    recent_.push_back(t);
    if (recent_.size() > 100) recent_.pop_front();
}

std::string Metrics::text(int queue_depth, int running, size_t cache_entries, int64_t cache_hits, int64_t cache_misses) {
    std::lock_guard<std::mutex> l(mu_);
    std::ostringstream s;
    s << "# TYPE edgevlm_requests_total counter\nedgevlm_requests_total " << requests_ << "\n"
      << "# TYPE edgevlm_requests_completed_total counter\nedgevlm_requests_completed_total " << completed_ << "\n"
      << "# TYPE edgevlm_requests_rejected_total counter\nedgevlm_requests_rejected_total " << rejected_ << "\n"
      << "# TYPE edgevlm_requests_bad_total counter\nedgevlm_requests_bad_total " << bad_ << "\n"
      << "# TYPE edgevlm_requests_cancelled_total counter\nedgevlm_requests_cancelled_total " << cancelled_ << "\n"
      << "# TYPE edgevlm_queue_depth gauge\nedgevlm_queue_depth " << queue_depth << "\n"
      << "# TYPE edgevlm_requests_running gauge\nedgevlm_requests_running " << running << "\n"
      << "# TYPE edgevlm_image_cache_entries gauge\nedgevlm_image_cache_entries " << cache_entries << "\n"
      << "# TYPE edgevlm_image_cache_hits_total counter\nedgevlm_image_cache_hits_total " << cache_hits << "\n"
      << "# TYPE edgevlm_image_cache_misses_total counter\nedgevlm_image_cache_misses_total " << cache_misses << "\n"
      << "# TYPE edgevlm_peak_rss_bytes gauge\nedgevlm_peak_rss_bytes " << (int64_t)peak_rss_bytes() << "\n"
      << "# TYPE edgevlm_rss_bytes gauge\nedgevlm_rss_bytes " << (int64_t)current_rss_bytes() << "\n";
    s << "# TYPE edgevlm_request_ttft_ms gauge\n";
    for (const auto &t : recent_) s << "edgevlm_request_ttft_ms{request=\"" << t.id << "\"} " << t.ttft_ms << "\n";
    s << "# TYPE edgevlm_request_decode_tokens_per_second gauge\n";
    for (const auto &t : recent_)
        s << "edgevlm_request_decode_tokens_per_second{request=\"" << t.id << "\"} " << t.decode_tps << "\n";
    s << "# TYPE edgevlm_request_completion_tokens gauge\n";
    for (const auto &t : recent_)
        s << "edgevlm_request_completion_tokens{request=\"" << t.id << "\"} " << t.completion_tokens << "\n";
    s << "# TYPE edgevlm_request_prompt_tokens gauge\n";
    for (const auto &t : recent_)
        s << "edgevlm_request_prompt_tokens{request=\"" << t.id << "\",reused=\"" << t.reused_tokens
          << "\",image_cached=\"" << (t.image_cached ? 1 : 0) << "\"} " << t.prompt_tokens << "\n";
    return s.str();
}

}  // namespace edgevlm::serve
