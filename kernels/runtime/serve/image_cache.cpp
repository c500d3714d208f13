#include "image_cache.h"

namespace edgevlm::serve {

CachedImage ImageCache::find(const std::string &hash) {
    const auto it = entries_.find(hash);
    if (it == entries_.end()) {
        ++misses_;
        return {};
    }
    ++hits_;
    order_.splice(order_.begin(), order_, it->second.at);
    return it->second.image;
}

CachedImage ImageCache::put(const std::string &hash, run::ImageEmbedding embedding) {
    CachedImage image{next_id_++, std::make_shared<const run::ImageEmbedding>(std::move(embedding))};
    if (capacity_ == 0) return image;   // not kept, still usable for this request
    const auto old = entries_.find(hash);
    if (old != entries_.end()) {
        order_.erase(old->second.at);
        entries_.erase(old);
    }
    while (entries_.size() >= capacity_) {
        entries_.erase(order_.back());
        order_.pop_back();
    }
    order_.push_front(hash);
    entries_[hash] = Entry{image, order_.begin()};
    return image;
}

}  // namespace edgevlm::serve
