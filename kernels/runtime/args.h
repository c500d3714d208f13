// Command line of edgevlm-run (the options themselves: options.def). Parsing errors throw UsageError (exit 2).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace edgevlm::run {

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Args {
    std::string model, mmproj, image, prompt, json;
    std::string dump_embd, dump_logits;   // raw float32 files for parity checks across ISAs
    int n_predict = 128;
    int threads = 4;
    int n_gpu_layers = 0;    // LLM layers on a GPU backend; 0 = CPU only
    int prompt_tokens = 0;   // pad the prompt to this many tokens (benchmarks); 0 = as is
    int n_ctx = 0;           // 0 = just enough for prompt + n_predict
    float temp = 0.0f;       // 0 = greedy
    int top_k = 40;
    float top_p = 0.95f;
    uint32_t seed = 0;
    bool verbose = false;
    bool no_stream = false;
    bool ignore_eos = false; // generate exactly n_predict tokens (benchmarks)
};

Args parse_args(int argc, char **argv);
const char *usage();

}  // namespace edgevlm::run
