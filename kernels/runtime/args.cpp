#include "args.h"

#include <cstdlib>
#include <cstring>

namespace edgevlm::run {

const char *usage() {
    return "usage: edgevlm-run -m LLM.gguf [--mmproj MMPROJ.gguf --image IMG] -p \"question\" [-n 128] [-t 4]\n"
           "                   [--temp 0] [--top-k 40] [--top-p 0.95] [--seed 0] [-c N_CTX]\n"
           "                   [--prompt-tokens N] [--json FILE] [--no-stream] [--verbose]\n"
           "  greedy decoding unless --temp > 0; text is streamed to stdout; --json writes a timing record.\n";
}

namespace {

long to_long(const std::string &flag, const char *v) {
    char *end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (!*v || *end) throw UsageError(flag + " needs an integer, got \"" + v + "\"");
    return x;
}

float to_float(const std::string &flag, const char *v) {
    char *end = nullptr;
    const float x = std::strtof(v, &end);
    if (!*v || *end) throw UsageError(flag + " needs a number, got \"" + v + "\"");
    return x;
}

}  // namespace

Args parse_args(int argc, char **argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string f = argv[i];
        if (f == "-h" || f == "--help") throw UsageError("");
        if (f == "--verbose") { a.verbose = true; continue; }
        if (f == "--no-stream") { a.no_stream = true; continue; }
        if (i + 1 >= argc) throw UsageError(f + " needs a value");
        const char *v = argv[++i];
        if (f == "-m" || f == "--model") a.model = v;
        else if (f == "--mmproj") a.mmproj = v;
        else if (f == "--image") a.image = v;
        else if (f == "-p" || f == "--prompt") a.prompt = v;
        else if (f == "--json") a.json = v;
        else if (f == "-n" || f == "--n-predict") a.n_predict = (int)to_long(f, v);
        else if (f == "-t" || f == "--threads") a.threads = (int)to_long(f, v);
        else if (f == "-c" || f == "--ctx-size") a.n_ctx = (int)to_long(f, v);
        else if (f == "--prompt-tokens") a.prompt_tokens = (int)to_long(f, v);
        else if (f == "--temp") a.temp = to_float(f, v);
        else if (f == "--top-k") a.top_k = (int)to_long(f, v);
        else if (f == "--top-p") a.top_p = to_float(f, v);
        else if (f == "--seed") a.seed = (uint32_t)to_long(f, v);
        else throw UsageError("unknown option " + f);
    }
    if (a.model.empty()) throw UsageError("-m LLM.gguf is required");
    if (a.mmproj.empty() != a.image.empty()) throw UsageError("--mmproj and --image go together");
    if (a.n_predict < 0 || a.threads < 1 || a.prompt_tokens < 0 || a.n_ctx < 0)
        throw UsageError("-n, -t, -c and --prompt-tokens must be positive");
    return a;
}

}  // namespace edgevlm::run
