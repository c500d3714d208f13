// The JSON record of one edgevlm-run invocation (read by the benchmark harness: keys are a contract).
#pragma once

#include <string>
#include <vector>

#include "llama.h"

namespace edgevlm::run {

struct Record {
    double load_ms = 0;   // loading and setup not hidden behind the image encode (all of it when run in turn)
    double llm_load_ms = 0, vision_load_ms = 0, context_ms = 0;   // the loads on their own (wall ms)
    double vit_ms = 0, projector_ms = 0, image_encode_ms = 0;
    int prompt_tokens = 0, image_tokens = 0;
    double prompt_ms = 0;
    int gen_tokens = 0;
    double decode_ms = 0;
    double ttft_ms = 0, total_ms = 0;   // process start -> first / last token: what the user waits, load included
    double peak_rss_mb = 0;                      // the kernel's peak (VmHWM); all memory fields in MiB
    double peak_anon_mb = -1, peak_file_mb = -1; // highest anonymous / file-backed RSS sampled (memory.h); -1: no /proc
    int threads = 0;
    int n_gpu_layers = 0;      // LLM layers that ran on llm_backend (0: all on the CPU)
    std::string text, model, mmproj, image, vision_backend, llm_backend = "CPU", mmproj_type, projector_impl, vit_matmul;
    std::string prompt_cache = "off";   // EDGEVLM_PROMPT_CACHE: "off", "hit" (start's KV read) or "written"
    std::vector<llama_token> tokens;
};

double peak_rss_mb();
std::string build_flags();   // SIMD path, compiler, -march and friends
std::string llama_commit();

// Writes to path.tmp-<pid> then renames; throws std::runtime_error on failure.
void write_json(const std::string &path, const Record &r);

}  // namespace edgevlm::run
