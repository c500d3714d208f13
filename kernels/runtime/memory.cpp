#include "memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
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

// The number after "key:" at the start of a line of text, or -1.
long field_kb(const char *text, const char *key) {
    const size_t len = std::strlen(key);
    for (const char *line = text; *line; ) {
        if (std::strncmp(line, key, len) == 0 && line[len] == ':') {
            const char *p = line + len + 1;
            while (*p == ' ' || *p == '\t') ++p;
            long v = 0;
            bool any = false;
            for (; *p >= '0' && *p <= '9'; ++p, any = true) v = v * 10 + (*p - '0');
            return any ? v : -1;
        }
        const char *nl = std::strchr(line, '\n');
        if (!nl) break;
        line = nl + 1;
    }
    return -1;
}

// kB values of the keys we need from /proc/self/status; false when it cannot be read (not Linux).
bool read_status(long &hwm_kb, long &anon_kb, long &file_kb) {
    char buf[8192];  // /proc/self/status is ~1.5 KB
    if (read_proc("/proc/self/status", buf, sizeof buf) <= 0) return false;
    hwm_kb = field_kb(buf, "VmHWM");
    anon_kb = field_kb(buf, "RssAnon");
    file_kb = field_kb(buf, "RssFile");
    const long shmem = field_kb(buf, "RssShmem");
    if (file_kb >= 0 && shmem > 0) file_kb += shmem;
    return hwm_kb >= 0 && anon_kb >= 0 && file_kb >= 0;
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
