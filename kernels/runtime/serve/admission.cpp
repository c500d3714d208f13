#include "admission.h"

namespace edgevlm::serve {

bool Admission::enter() {
    std::unique_lock<std::mutex> lock(mu_);
    if ((busy_ || waiting_ > 0) && waiting_ >= capacity_) return false;
    const uint64_t ticket = next_ticket_++;
    ++waiting_;
    cv_.wait(lock, [&] { return !busy_ && serving_ == ticket; });
    --waiting_;
    ++serving_;
    busy_ = true;
    return true;
}

void Admission::leave() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        busy_ = false;
    }
    cv_.notify_all();
}

int Admission::waiting() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
}

int Admission::running() const {
    std::lock_guard<std::mutex> lock(mu_);
    return busy_ ? 1 : 0;
}

}  // namespace edgevlm::serve
