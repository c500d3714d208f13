#include "prefix_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace edgevlm::run {

namespace {

// The model file as it is now: a rewritten or different file makes a different identity.
std::string model_identity(const std::string &model) {
    struct stat st{};
    char real[PATH_MAX];
    if (stat(model.c_str(), &st) != 0 || !realpath(model.c_str(), real)) return "";
    std::ostringstream s;
    s << real << ' ' << st.st_size << ' ' << st.st_mtim.tv_sec << '.' << st.st_mtim.tv_nsec;
    return s.str();
}

std::string read_line(const std::string &path) {
    std::ifstream f(path);
    std::string line;
    std::getline(f, line);
    return line;
}

// Size and a 64-bit FNV-1a over 8-byte words of the state file: llama.cpp aborts on a truncated state file
// and would read a damaged one, so the key only names the exact file it was written with.
std::string file_digest(const std::string &path) {
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) return "";
    uint64_t h = 1469598103934665603ull, n = 0;
    std::vector<uint64_t> buf(1 << 16);
    size_t got;
    while ((got = std::fread(buf.data(), 1, buf.size() * 8, f)) > 0) {
        n += got;
        if (got % 8) std::memset(reinterpret_cast<char *>(buf.data()) + got, 0, 8 - got % 8);
        for (size_t i = 0; i < (got + 7) / 8; ++i) h = (h ^ buf[i]) * 1099511628211ull;
    }
    std::fclose(f);
    return std::to_string(n) + ":" + std::to_string(h);
}

void write_then_rename(const std::string &path, const std::string &text) {
    const std::string tmp = path + ".tmp-" + std::to_string(getpid());
    FILE *f = std::fopen(tmp.c_str(), "wb");
    const bool ok = f && std::fwrite(text.data(), 1, text.size(), f) == text.size();
    if (!f || std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw std::runtime_error("cannot write " + path);
    }
}

}  // namespace

PrefixCache::PrefixCache(std::string file, const std::string &model) : file_(std::move(file)) {
    if (enabled()) key_ = model_identity(model);
}

std::string PrefixCache::key_for(const std::vector<llama_token> &tokens) const {
    std::ostringstream s;
    s << "edgevlm-prefix-v1 " << key_ << " tokens";
    for (llama_token t : tokens) s << ' ' << t;
    return s.str();
}

bool PrefixCache::load(llama_context *ctx, const std::vector<llama_token> &tokens) const {
    if (!enabled() || key_.empty() || tokens.empty()) return false;
    const std::string key = read_line(file_ + ".key");
    if (key.empty() || key != key_for(tokens) + " state " + file_digest(file_)) return false;
    std::vector<llama_token> stored(tokens.size());
    size_t n = 0;
    const size_t read = llama_state_seq_load_file(ctx, file_.c_str(), 0, stored.data(), stored.size(), &n);
    if (read == 0 || n != tokens.size() || stored != tokens) {
        llama_memory_seq_rm(llama_get_memory(ctx), 0, -1, -1);   // whatever was read is not this prefix
        return false;
    }
    return true;
}

void PrefixCache::save(llama_context *ctx, const std::vector<llama_token> &tokens) const {
    if (!enabled() || key_.empty() || tokens.empty()) return;
    // the state first, its key last: a key only ever names a complete state file
    const std::string tmp = file_ + ".tmp-" + std::to_string(getpid());
    if (llama_state_seq_save_file(ctx, tmp.c_str(), 0, tokens.data(), tokens.size()) == 0 ||
        std::rename(tmp.c_str(), file_.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw std::runtime_error("cannot write the prompt cache " + file_);
    }
    write_then_rename(file_ + ".key", key_for(tokens) + " state " + file_digest(file_) + "\n");
}

}  // namespace edgevlm::run
