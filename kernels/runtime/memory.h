// Resident memory of this process, split the way a phone's memory manager sees it: anonymous pages (heap,
// repacked weights, buffers; only swap or zram can take them) and file-backed pages (mapped model files;
// clean, so the kernel can drop them and read them again).
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace edgevlm::run {

struct MemoryPeaks {   // MiB (2^20 bytes), the unit of edgevlm-run's peak_rss_mb
    double rss_mb = -1;    // the kernel's peak (VmHWM); -1 where /proc is unreadable
    double anon_mb = -1;   // highest RssAnon seen
    double file_mb = -1;   // highest RssFile (+ RssShmem) seen
};

// Reads /proc/self/status on its own thread every interval_ms (and whenever sample() is called) and keeps the
// highest anonymous and file-backed values: VmHWM has the total peak, but no split.
class MemorySampler {
public:
    explicit MemorySampler(int interval_ms = 10);
    ~MemorySampler();
    MemorySampler(const MemorySampler &) = delete;
    MemorySampler &operator=(const MemorySampler &) = delete;
    void sample();
    MemoryPeaks peaks();

private:
    std::mutex mu_;
    MemoryPeaks peaks_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// Drops this process's resident pages of every read-only shared mapping of `path` (madvise MADV_DONTNEED):
// the file's bytes stay in the page cache and fault back in where they are read again. Returns the bytes of
// mapping advised (0 when the file is not mapped or /proc/self/maps is unreadable).
size_t drop_mapped_pages(const std::string &path);

}  // namespace edgevlm::run
