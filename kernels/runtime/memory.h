// Resident memory of this process, split the way a phone's memory manager sees it: anonymous pages (heap,
// repacked weights, buffers; only swap or zram can take them) and file-backed pages (mapped model files;
// clean, so the kernel can drop them and read them again).
#pragma once

#include <mutex>
#include <string>

namespace edgevlm::run {

struct MemoryPeaks {   // MiB (2^20 bytes), the unit of edgevlm-run's peak_rss_mb
    double rss_mb = -1;    // the kernel's peak (VmHWM); -1 where /proc is unreadable
    double anon_mb = -1;   // highest RssAnon seen
    double file_mb = -1;   // highest RssFile (+ RssShmem) seen
};

// Event-driven: reads /proc/self/statm and getrusage when constructed, whenever sample() is called (edgevlm-run calls it
// at its stage boundaries and between the LLM's tensors while it loads) and in peaks(), and keeps the
// highest anonymous and file-backed values. VmHWM has the exact total peak; the anon/file split is the
// highest seen at those points. No thread and no timer: a sampler that ran by the clock cost instructions
// in proportion to wall time (10 G of 31 G under qemu, issue 17), so counts depended on the host's speed.
// One sample is a read(2) of one line into a stack buffer, three numbers parsed (no stdio), one getrusage.
class MemorySampler {
public:
    MemorySampler();
    MemorySampler(const MemorySampler &) = delete;
    MemorySampler &operator=(const MemorySampler &) = delete;
    void sample();
    MemoryPeaks peaks();

private:
    std::mutex mu_;
    MemoryPeaks peaks_;
};

// Drops this process's resident pages of every read-only shared mapping of `path` (madvise MADV_DONTNEED):
// the file's bytes stay in the page cache and fault back in where they are read again. Returns the bytes of
// mapping advised (0 when the file is not mapped or /proc/self/maps is unreadable).
size_t drop_mapped_pages(const std::string &path);

}  // namespace edgevlm::run
