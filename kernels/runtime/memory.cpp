#include "memory.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstdio>
#include <cstring>

namespace edgevlm::run {

namespace {

// kB values of the keys we need from /proc/self/status; false when it cannot be read (not Linux).
bool read_status(long &hwm_kb, long &anon_kb, long &file_kb) {
    FILE *f = std::fopen("/proc/self/status", "r");
    if (!f) return false;
    char line[256];
    long shmem = 0;
    hwm_kb = anon_kb = file_kb = -1;
    while (std::fgets(line, sizeof line, f)) {
        long v = 0;
        if (std::sscanf(line, "VmHWM: %ld", &v) == 1) hwm_kb = v;
        else if (std::sscanf(line, "RssAnon: %ld", &v) == 1) anon_kb = v;
        else if (std::sscanf(line, "RssFile: %ld", &v) == 1) file_kb = v;
        else if (std::sscanf(line, "RssShmem: %ld", &v) == 1) shmem = v;
    }
    std::fclose(f);
    if (file_kb >= 0) file_kb += shmem;
    return hwm_kb >= 0 && anon_kb >= 0 && file_kb >= 0;
}

double mb(long kib) { return kib / 1024.0; }  // MiB, as peak_rss_mb (getrusage) has always been

}  // namespace

MemorySampler::MemorySampler(int interval_ms) {
    sample();
    thread_ = std::thread([this, interval_ms] {
        while (!stop_.load(std::memory_order_relaxed)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
            sample();
        }
    });
}

MemorySampler::~MemorySampler() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void MemorySampler::sample() {
    long hwm, anon, file;
    if (!read_status(hwm, anon, file)) return;
    std::lock_guard<std::mutex> lock(mu_);
    peaks_.rss_mb = std::max(peaks_.rss_mb, mb(hwm));
    peaks_.anon_mb = std::max(peaks_.anon_mb, mb(anon));
    peaks_.file_mb = std::max(peaks_.file_mb, mb(file));
}

MemoryPeaks MemorySampler::peaks() {
    sample();
    std::lock_guard<std::mutex> lock(mu_);
    return peaks_;
}

size_t drop_mapped_pages(const std::string &path) {
    struct stat st{};
    char real[PATH_MAX];
    if (stat(path.c_str(), &st) != 0 || !realpath(path.c_str(), real)) return 0;
    FILE *f = std::fopen("/proc/self/maps", "r");
    if (!f) return 0;
    size_t advised = 0;
    char line[4096];
    while (std::fgets(line, sizeof line, f)) {
        unsigned long lo = 0, hi = 0, offset = 0, inode = 0;
        char perms[8] = {0}, dev[32] = {0};
        int name_at = 0;
        if (std::sscanf(line, "%lx-%lx %7s %lx %31s %lu %n", &lo, &hi, perms, &offset, dev, &inode, &name_at) < 6)
            continue;
        std::string name = line + name_at;
        while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
        // the model's own mapping: same file, read-only, shared (llama.cpp maps it PROT_READ, MAP_SHARED)
        if (inode != (unsigned long)st.st_ino || name != real || std::strcmp(perms, "r--s") != 0) continue;
        if (madvise((void *)lo, hi - lo, MADV_DONTNEED) == 0) advised += hi - lo;
    }
    std::fclose(f);
    return advised;
}

}  // namespace edgevlm::run
