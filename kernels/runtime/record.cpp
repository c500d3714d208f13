#include "record.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "edgevlm.h"

#ifndef EDGEVLM_LLAMA_COMMIT
#define EDGEVLM_LLAMA_COMMIT "unknown"
#endif
#ifndef EDGEVLM_ARCH_FLAGS_STR
#define EDGEVLM_ARCH_FLAGS_STR ""
#endif

namespace edgevlm::run {

double peak_rss_mb() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;  // Linux reports KiB
}

std::string llama_commit() { return EDGEVLM_LLAMA_COMMIT; }

std::string build_flags() {
    std::ostringstream s;
    s << "simd=" << edgevlm_simd() << "; compiler=" <<
#if defined(__clang__)
        "clang-" << __clang_version__
#elif defined(__GNUC__)
        "gcc-" << __VERSION__
#else
        "unknown"
#endif
      << "; flags=" << EDGEVLM_ARCH_FLAGS_STR << "; ggml=" << llama_print_system_info();
    return s.str();
}

namespace {

std::string quote(const std::string &v) {
    std::string o = "\"";
    for (unsigned char c : v) {
        switch (c) {
            case '"': o += "\\\""; break;
            case '\\': o += "\\\\"; break;
            case '\n': o += "\\n"; break;
            case '\r': o += "\\r"; break;
            case '\t': o += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    o += buf;
                } else {
                    o += (char)c;
                }
        }
    }
    return o + "\"";
}

// Generated text may hold byte tokens that are not valid UTF-8: replace each bad byte with U+FFFD so the
// record stays valid JSON.
std::string valid_utf8(const std::string &in) {
    std::string out;
    for (size_t i = 0; i < in.size();) {
        const unsigned char c = in[i];
        const int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        bool ok = len > 0 && i + len <= in.size();
        for (int k = 1; ok && k < len; ++k) ok = ((unsigned char)in[i + k] >> 6) == 0x2;
        if (ok) {
            out.append(in, i, len);
            i += len;
        } else {
            out += "\xef\xbf\xbd";
            ++i;
        }
    }
    return out;
}

double rate(int n, double ms) { return ms > 0 ? n * 1000.0 / ms : 0.0; }

}  // namespace

void write_json(const std::string &path, const Record &r) {
    std::ostringstream s;
    s.precision(10);
    s << "{\n"
      << "  \"load_ms\": " << r.load_ms << ",\n"
      << "  \"llm_load_ms\": " << r.llm_load_ms << ",\n"
      << "  \"vision_load_ms\": " << r.vision_load_ms << ",\n"
      << "  \"context_ms\": " << r.context_ms << ",\n"
      << "  \"vit_ms\": " << r.vit_ms << ",\n"
      << "  \"projector_ms\": " << r.projector_ms << ",\n"
      << "  \"image_encode_ms\": " << r.image_encode_ms << ",\n"
      << "  \"image_tokens\": " << r.image_tokens << ",\n"
      << "  \"prompt_tokens\": " << r.prompt_tokens << ",\n"
      << "  \"prompt_ms\": " << r.prompt_ms << ",\n"
      << "  \"prompt_tps\": " << rate(r.prompt_tokens, r.prompt_ms) << ",\n"
      << "  \"gen_tokens\": " << r.gen_tokens << ",\n"
      << "  \"decode_ms\": " << r.decode_ms << ",\n"
      << "  \"decode_tps\": " << rate(r.gen_tokens, r.decode_ms) << ",\n"
      << "  \"ttft_ms\": " << r.ttft_ms << ",\n"
      << "  \"total_ms\": " << r.total_ms << ",\n"
      << "  \"peak_rss_mb\": " << r.peak_rss_mb << ",\n"
      << "  \"peak_anon_mb\": " << r.peak_anon_mb << ",\n"
      << "  \"peak_file_mb\": " << r.peak_file_mb << ",\n"
      << "  \"threads\": " << r.threads << ",\n"
      << "  \"llama_commit\": " << quote(llama_commit()) << ",\n"
      << "  \"build_flags\": " << quote(build_flags()) << ",\n"
      << "  \"simd\": " << quote(edgevlm_simd()) << ",\n"
      << "  \"model\": " << quote(r.model) << ",\n"
      << "  \"mmproj\": " << quote(r.mmproj) << ",\n"
      << "  \"mmproj_type\": " << quote(r.mmproj_type) << ",\n"
      << "  \"vision_backend\": " << quote(r.vision_backend) << ",\n"
      << "  \"llm_backend\": " << quote(r.llm_backend) << ",\n"
      << "  \"n_gpu_layers\": " << r.n_gpu_layers << ",\n"
      << "  \"projector_impl\": " << quote(r.projector_impl) << ",\n"
      << "  \"vit_matmul\": " << quote(r.vit_matmul) << ",\n"
      << "  \"prompt_cache\": " << quote(r.prompt_cache) << ",\n"
      << "  \"image\": " << quote(r.image) << ",\n"
      << "  \"text\": " << quote(valid_utf8(r.text)) << ",\n"
      << "  \"tokens\": [";
    for (size_t i = 0; i < r.tokens.size(); ++i) s << (i ? ", " : "") << r.tokens[i];
    s << "]\n}\n";
    const std::string tmp = path + ".tmp-" + std::to_string(getpid());
    FILE *f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw std::runtime_error("cannot write " + path);
    const std::string data = s.str();
    const bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
    if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw std::runtime_error("cannot write " + path);
    }
}

}  // namespace edgevlm::run
