// The answer's text as it grows, cut at the first stop string, and handed out only where it is safe: never
// a tail that may still become a stop string, never a cut UTF-8 sequence.
#pragma once

#include <string>
#include <vector>

namespace edgevlm::serve {

class StopText {
public:
    explicit StopText(std::vector<std::string> stops) : stops_(std::move(stops)) {}
    // Appends a piece; false once a stop string appeared (the text ends before it).
    bool add(const std::string &piece);
    std::string take_ready();   // what can be sent now
    std::string take_rest();    // at the end: the rest (a cut UTF-8 tail becomes U+FFFD when sent as JSON)
    const std::string &text() const { return text_; }

private:
    std::vector<std::string> stops_;
    std::string text_;
    size_t sent_ = 0;
    bool stopped_ = false;
    size_t held_back() const;
};

}  // namespace edgevlm::serve
