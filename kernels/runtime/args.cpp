#include "args.h"

#include <cstdlib>
#include <cstring>
#include <string>

namespace edgevlm::run {

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

// One setter per kind of options.def; a valued option takes the next argument.
const char *value(const std::string &flag, int argc, char **argv, int &i) {
    if (i + 1 >= argc) throw UsageError(flag + " needs a value");
    return argv[++i];
}
void take_FLAG(bool &field, const std::string &, int, char **, int &) { field = true; }
void take_STR(std::string &field, const std::string &f, int argc, char **argv, int &i) { field = value(f, argc, argv, i); }
template <typename T>
void take_INT(T &field, const std::string &f, int argc, char **argv, int &i) { field = (T)to_long(f, value(f, argc, argv, i)); }
void take_FLOAT(float &field, const std::string &f, int argc, char **argv, int &i) { field = to_float(f, value(f, argc, argv, i)); }

const char *kind_value(const char *kind) {
    return !std::strcmp(kind, "FLAG") ? "" : !std::strcmp(kind, "STR") ? " S" : !std::strcmp(kind, "INT") ? " N" : " X";
}

}  // namespace

const char *usage() {
    static const std::string text = [] {
        std::string s = "usage: edgevlm-run -m LLM.gguf [--mmproj MMPROJ.gguf --image IMG] -p \"question\" [options]\n"
                        "  greedy decoding unless --temp > 0; text is streamed to stdout; --json writes a timing record.\n";
#define EDGEVLM_OPTION(key, flag, alias, kind, help) \
        s += std::string("  ") + flag + (*alias ? std::string(", ") + alias : std::string()) + kind_value(#kind) + "\n      " + help + "\n";
#include "options.def"
#undef EDGEVLM_OPTION
        return s;
    }();
    return text.c_str();
}

Args parse_args(int argc, char **argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string f = argv[i];
        if (f == "-h" || f == "--help") throw UsageError("");
#define EDGEVLM_OPTION(key, flag, alias, kind, help) \
        if (f == flag || (*alias && f == alias)) { take_##kind(a.key, f, argc, argv, i); continue; }
#include "options.def"
#undef EDGEVLM_OPTION
        throw UsageError("unknown option " + f);
    }
    if (a.model.empty()) throw UsageError("-m LLM.gguf is required");
    if (a.mmproj.empty() != a.image.empty()) throw UsageError("--mmproj and --image go together");
    if (a.n_predict < 0 || a.threads < 1 || a.prompt_tokens < 0 || a.n_ctx < 0 || a.n_gpu_layers < 0)
        throw UsageError("-n, -t, -c, -ngl and --prompt-tokens must be positive");
    return a;
}

}  // namespace edgevlm::run
