#include "stop_text.h"

#include <algorithm>

namespace edgevlm::serve {

namespace {

// Bytes at the end of s that start a UTF-8 sequence not yet complete.
size_t incomplete_utf8(const std::string &s) {
    for (size_t back = 1; back <= std::min<size_t>(3, s.size()); ++back) {
        const unsigned char c = s[s.size() - back];
        if ((c & 0xc0) == 0x80) continue;   // a continuation byte: look further back
        const size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        return len > back ? back : 0;
    }
    return 0;
}

}  // namespace

bool StopText::add(const std::string &piece) {
    if (stopped_) return false;
    const size_t from = text_.size();
    text_ += piece;
    for (const std::string &stop : stops_) {
        const size_t start = from >= stop.size() ? from - stop.size() + 1 : 0;
        const size_t at = text_.find(stop, start);
        if (at != std::string::npos) {
            text_.resize(at);
            stopped_ = true;
        }
    }
    return !stopped_;
}

size_t StopText::held_back() const {
    if (stopped_) return 0;
    size_t hold = 0;
    for (const std::string &stop : stops_)   // the longest tail that is a beginning of a stop string
        for (size_t n = std::min(stop.size() - 1, text_.size()); n > hold; --n)
            if (text_.compare(text_.size() - n, n, stop, 0, n) == 0) {
                hold = n;
                break;
            }
    return hold;
}

std::string StopText::take_ready() {
    size_t end = text_.size() - held_back();
    end -= incomplete_utf8(text_.substr(0, end));
    if (end <= sent_) return "";
    std::string out = text_.substr(sent_, end - sent_);
    sent_ = end;
    return out;
}

std::string StopText::take_rest() {
    if (sent_ >= text_.size()) return "";
    std::string out = text_.substr(sent_);
    sent_ = text_.size();
    return out;
}

}  // namespace edgevlm::serve
