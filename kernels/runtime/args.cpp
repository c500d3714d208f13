#include "args.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "exits.h"

namespace edgevlm::run {

namespace {

long long to_integer(const std::string &flag, const char *v, long long lo, long long hi) {
    char *end = nullptr;
    errno = 0;
    const long long x = std::strtoll(v, &end, 10);
    if (!*v || *end) throw UsageError(flag + " needs an integer, got \"" + v + "\"");
    if (errno == ERANGE || x < lo || x > hi)
        throw UsageError(flag + " " + v + " is out of range (" + std::to_string(lo) + ".." + std::to_string(hi) + ")");
    return x;
}

float to_float(const std::string &flag, const char *v) {
    char *end = nullptr;
    const float x = std::strtof(v, &end);
    if (!*v || *end) throw UsageError(flag + " needs a number, got \"" + v + "\"");
    if (!std::isfinite(x)) throw UsageError(flag + " needs a finite number, got \"" + v + "\"");
    return x;
}

// One setter per kind of options.def; a valued option takes the next argument.
const char *value(const std::string &flag, int argc, char **argv, int &i) {
    if (i + 1 >= argc) throw UsageError(flag + " needs a value");
    return argv[++i];
}
void take_FLAG(bool &field, const std::string &, int, char **, int &) { field = true; }
void take_STR(std::string &field, const std::string &f, int argc, char **argv, int &i) { field = value(f, argc, argv, i); }
void take_INT(int &field, const std::string &f, int argc, char **argv, int &i) {
    field = (int)to_integer(f, value(f, argc, argv, i), INT_MIN, INT_MAX);
}
void take_BYTES(int64_t &field, const std::string &f, int argc, char **argv, int &i) {
    field = to_integer(f, value(f, argc, argv, i), 0, LLONG_MAX);
}
void take_FLOAT(float &field, const std::string &f, int argc, char **argv, int &i) { field = to_float(f, value(f, argc, argv, i)); }

const char *kind_value(const char *kind) {
    return !std::strcmp(kind, "FLAG") ? "" : !std::strcmp(kind, "STR") ? " S" : !std::strcmp(kind, "FLOAT") ? " X" : " N";
}

bool takes(Binary which, const char *binaries) {
    return !std::strcmp(binaries, "BOTH") || !std::strcmp(binaries, which == Binary::Run ? "RUN" : "SERVE");
}

std::string show_default(const char *def) {
    if (!std::strcmp(def, "false") || !std::strcmp(def, "\"\"")) return "";
    return std::string(" (default ") + def + ")";
}

void check_run(const Args &a) {
    if (a.mmproj.empty() != a.image.empty()) throw UsageError("--mmproj and --image go together");
    if (a.n_predict < 0 || a.prompt_tokens < 0) throw UsageError("-n and --prompt-tokens must be 0 or more");
}

void check_serve(const Args &a) {
    if (a.port < 0 || a.port > 65535) throw UsageError("--port must be 0..65535");
    if (a.n_predict < 1) throw UsageError("-n must be 1 or more");
    if (a.queue < 0 || a.image_cache < 0) throw UsageError("--queue and --image-cache must be 0 or more");
    if (a.max_image_bytes < 1) throw UsageError("--max-image-bytes must be 1 or more");
}

void env_alias(std::string &field, const char *var) {
    const char *v = std::getenv(var);
    if (field.empty() && v) field = v;
}

}  // namespace

const char *usage(Binary which) {
    static const auto text = [](Binary w) {
        std::string s = w == Binary::Run
            ? "usage: edgevlm-run -m LLM.gguf [--mmproj MMPROJ.gguf --image IMG] -p \"question\" [options]\n"
              "  greedy decoding unless --temp > 0; text is streamed to stdout; --json writes a timing record.\n"
            : "usage: edgevlm-serve -m LLM.gguf [--mmproj MMPROJ.gguf] [--port P] [options]\n"
              "  OpenAI-compatible chat completions on http://HOST:PORT/v1 (one request at a time, others queued).\n";
#define EDGEVLM_OPTION(key, flag, alias, kind, def, binaries, help)                                                  \
        if (takes(w, #binaries))                                                                                     \
            s += std::string("  ") + flag + (*alias ? std::string(", ") + alias : std::string()) + kind_value(#kind) + \
                 "\n      " + help + show_default(#def) + "\n";
#include "options.def"
#undef EDGEVLM_OPTION
        return s;
    };
    static const std::string run = text(Binary::Run), serve = text(Binary::Serve);
    return which == Binary::Run ? run.c_str() : serve.c_str();
}

Args parse_args(Binary which, int argc, char **argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string f = argv[i];
        if (f == "-h" || f == "--help") throw UsageError("");
#define EDGEVLM_OPTION(key, flag, alias, kind, def, binaries, help)                     \
        if (takes(which, #binaries) && (f == flag || (*alias && f == alias))) {        \
            take_##kind(a.key, f, argc, argv, i);                                      \
            continue;                                                                  \
        }
#include "options.def"
#undef EDGEVLM_OPTION
        throw UsageError("unknown option " + f);
    }
    if (a.model.empty()) throw UsageError("-m LLM.gguf is required");
    if (a.threads < 1 || a.n_ctx < 0 || a.n_gpu_layers < 0) throw UsageError("-t must be 1 or more, -c and -ngl 0 or more");
    if (a.temp < 0 || a.top_p <= 0 || a.top_p > 1 || a.top_k < 1)
        throw UsageError("--temp must be 0 or more, --top-p in (0, 1], --top-k 1 or more");
    if (a.seed < 0) throw UsageError("--seed must be 0 or more");
    if (which == Binary::Run) check_run(a);
    else check_serve(a);
    apply_env_aliases(a, which);
    return a;
}

int main_with_args(Binary which, int argc, char **argv, const std::function<int(const Args &)> &body) {
    try {
        return body(parse_args(which, argc, argv));
    } catch (const UsageError &e) {
        if (*e.what()) std::fprintf(stderr, "error: %s\n", e.what());
        std::fputs(usage(which), stderr);
        return EDGEVLM_EXIT_FAILURE;
    } catch (const Failure &e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return e.exit_code();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return EDGEVLM_EXIT_FAILURE;
    }
}

void apply_env_aliases(Args &a, Binary which) {
    env_alias(a.off, "EDGEVLM_RUN_OFF");
    if (which == Binary::Run) env_alias(a.prompt_cache, "EDGEVLM_PROMPT_CACHE");
    env_alias(a.projector, "EDGEVLM_PROJECTOR");
    env_alias(a.vit_matmul, "EDGEVLM_VIT_MATMUL");
    env_alias(a.vision_device, "EDGEVLM_VISION_DEVICE");
}

}  // namespace edgevlm::run
