// One request runs at a time (the session has one context); up to `capacity` more wait, served in arrival
// order. A request beyond that is refused at once (the server answers 429).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace edgevlm::serve {

// enter() blocks until it is this caller's turn; false (at once) when `capacity` callers already wait.
class Admission {
public:
    explicit Admission(int capacity) : capacity_(capacity) {}
    bool enter();
    void leave();
    int waiting() const;
    int running() const;

private:
    mutable std::mutex mu_;
    std::condition_variable cv_;
    int capacity_, waiting_ = 0;
    bool busy_ = false;
    uint64_t next_ticket_ = 0, serving_ = 0;
};

}  // namespace edgevlm::serve
