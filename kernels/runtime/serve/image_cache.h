// Image embeddings kept by the image's content hash (SHA-256 of the file's bytes), least recently used out:
// a second question about the same picture skips the encode. Each new entry gets a new id, so an id names
// exactly one picture (the session reuses KV rows by id).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "session.h"

namespace edgevlm::serve {

struct CachedImage {
    int64_t id = 0;
    std::shared_ptr<const run::ImageEmbedding> embedding;
};

class ImageCache {
public:
    explicit ImageCache(size_t capacity) : capacity_(capacity) {}
    // nullptr embedding when absent; a hit becomes the most recent entry.
    CachedImage find(const std::string &hash);
    CachedImage put(const std::string &hash, run::ImageEmbedding embedding);
    size_t size() const { return order_.size(); }
    int64_t hits() const { return hits_; }
    int64_t misses() const { return misses_; }

private:
    size_t capacity_;
    int64_t next_id_ = 1, hits_ = 0, misses_ = 0;
    std::list<std::string> order_;   // most recent first
    struct Entry {
        CachedImage image;
        std::list<std::string>::iterator at;
    };
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace edgevlm::serve
