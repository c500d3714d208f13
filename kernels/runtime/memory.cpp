#include "memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace edgevlm::run {

namespace {

// Reads a whole /proc file into buf (NUL-terminated); the bytes read, -1 when it cannot be opened.
// /proc files are generated on read, so read(2) until EOF; what does not fit is cut (callers size buf).
long read_proc(const char *path, char *buf, size_t size) {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = 0;
    while (n + 1 < size) {
        const ssize_t r = ::read(fd, buf + n, size - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    ::close(fd);
    buf[n] = '\0';
    return (long)n;
}

// The resident split from /proc/self/statm ("size resident shared text lib data dt", in pages: shared =
// RssFile + RssShmem, resident - shared = RssAnon) and the peak from getrusage (VmHWM, in KiB). statm is one
// line of seven numbers, parsed here in the same instructions whatever the values, unlike /proc/self/status,
// whose length moves with the host's PIDs (NSpid lists the PID of every namespace) and so moved the arm64
// cost model's counts by a few dozen instructions between two runs of the same input.
bool read_status(long &hwm_kb, long &anon_kb, long &file_kb) {
    char buf[256];
    if (read_proc("/proc/self/statm", buf, sizeof buf) <= 0) return false;
    long v[3] = {0, 0, 0};  // size, resident, shared
    const char *p = buf;
    for (long &x : v) {
        if (*p < '0' || *p > '9') return false;
        // 19 steps whatever the number of digits, the step chosen without a branch: the same instructions
        // whether resident memory is 99999 or 100000 pages
        for (int k = 0; k < 19; ++k) {
            const unsigned d = (unsigned)(*p - '0');
            const bool digit = d < 10;
            x = digit ? x * 10 + (long)d : x;
            p += digit;
        }
        p += *p == ' ';
    }
    const long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    rusage ru{};
    if (getrusage(RUSAGE_SELF, &ru) != 0) return false;
    hwm_kb = ru.ru_maxrss;  // Linux reports KiB
    anon_kb = (v[1] - v[2]) * page_kb;
    file_kb = v[2] * page_kb;
    return true;
}

double mb(long kib) { return kib / 1024.0; }  // MiB, as peak_rss_mb (getrusage) has always been

// One line of /proc/self/maps: "lo-hi perms offset dev inode   path".
struct MapsLine {
    unsigned long lo = 0, hi = 0, inode = 0;
    char perms[5] = {0};
    const char *name = nullptr;  // points into the line; ends at the line's end
    size_t name_len = 0;
};

unsigned long parse_num(const char *&p, int base) {
    char *end = nullptr;
    const unsigned long v = std::strtoul(p, &end, base);
    p = end;
    return v;
}

bool parse_maps_line(const char *p, const char *eol, MapsLine &m) {
    m.lo = parse_num(p, 16);
    if (*p++ != '-') return false;
    m.hi = parse_num(p, 16);
    if (*p++ != ' ' || eol - p < 5) return false;
    std::memcpy(m.perms, p, 4);
    p += 5;
    parse_num(p, 16);                         // offset
    while (p < eol && *p == ' ') ++p;
    while (p < eol && *p != ' ') ++p;         // dev
    m.inode = parse_num(p, 10);
    while (p < eol && *p == ' ') ++p;
    m.name = p;
    m.name_len = (size_t)(eol - p);
    return true;
}

}  // namespace

MemorySampler::MemorySampler() { sample(); }

void MemorySampler::sample() {
    long hwm, anon, file;
    if (!read_status(hwm, anon, file)) return;
    std::lock_guard<std::mutex> lock(mu_);
    // fmax: one instruction (fmaxnm), where std::max branches: a new peak would cost a different count
    peaks_.rss_mb = std::fmax(peaks_.rss_mb, mb(hwm));
    peaks_.anon_mb = std::fmax(peaks_.anon_mb, mb(anon));
    peaks_.file_mb = std::fmax(peaks_.file_mb, mb(file));
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
    static thread_local char buf[1 << 18];  // a process's maps: ~100 lines here; cut beyond 256 KiB
    if (read_proc("/proc/self/maps", buf, sizeof buf) <= 0) return 0;
    const size_t real_len = std::strlen(real);
    size_t advised = 0;
    for (const char *line = buf; *line; ) {
        const char *eol = std::strchr(line, '\n');
        if (!eol) eol = line + std::strlen(line);
        MapsLine m;
        // the model's own mapping: same file, read-only, shared (llama.cpp maps it PROT_READ, MAP_SHARED)
        if (parse_maps_line(line, eol, m) && m.inode == (unsigned long)st.st_ino && m.name_len == real_len &&
            std::memcmp(m.name, real, real_len) == 0 && std::memcmp(m.perms, "r--s", 4) == 0 &&
            madvise((void *)m.lo, m.hi - m.lo, MADV_DONTNEED) == 0)
            advised += m.hi - m.lo;
        line = *eol ? eol + 1 : eol;
    }
    return advised;
}

}  // namespace edgevlm::run
