// edgevlm-run: MobileVLM on a device with nothing but this binary, libllama and libedgevlm: one question,
// answered through the runtime's stages (session.h, shared with edgevlm-serve and the Python Runtime):
// load (LLM beside the image encode) -> context -> prefill (fixed start, image, question) -> decode, streamed
// to stdout. Errors: one line on stderr, exit code 2 (a prompt beyond the context: 4; exits.h).
// SIGTERM/SIGINT: stops after the current token, exit 143/130.
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "args.h"
#include "edgevlm_stage.h"
#include "memory.h"
#include "plan.h"
#include "prefix_cache.h"
#include "record.h"
#include "session.h"
#include "signals.h"

using namespace edgevlm::run;

namespace {

volatile sig_atomic_t g_signal = 0;       // the signal that asked us to stop
volatile sig_atomic_t g_generating = 0;   // between tokens we stop cleanly; elsewhere we leave at once

// Outside the decode loop nothing is half-written (outputs go to temp names), so leaving is the clean end;
// inside it the loop sees g_signal after the current token.
void on_signal(int sig) {
    g_signal = sig;
    if (!g_generating) _exit(128 + sig);
}


// --dump-embd / --dump-logits: raw little-endian float32, written to a temp name and renamed.
void dump_floats(const std::string &path, const float *data, size_t n) {
    const std::string tmp = path + ".tmp-" + std::to_string(getpid());
    FILE *f = std::fopen(tmp.c_str(), "wb");
    const bool ok = f && std::fwrite(data, sizeof(float), n, f) == n;
    if (!f || std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw Failure("cannot write " + path);
    }
}


void record_load(const LoadReport &l, const ImageEmbedding &img, Record &r) {
    r.llm_load_ms = l.llm_load_ms;
    r.vision_load_ms = l.vision_load_ms;
    r.llm_backend = l.llm_backend;
    r.n_gpu_layers = l.n_gpu_layers;
    r.vision_backend = l.vision_backend;
    r.mmproj_type = l.mmproj_type;
    r.projector_impl = l.projector_impl;
    r.vit_matmul = l.vit_matmul;
    r.vit_ms = img.timings.vit_ms;
    r.projector_ms = img.timings.projector_ms;
    r.image_encode_ms = img.timings.total_ms;
}

PromptTokens question_tokens(const Session &s, const Args &a, int n_image) {
    const bool with_image = !a.image.empty();
    PromptTokens pt = s.tokenize(vicuna_v1(s.system_prompt(), a.prompt, with_image), with_image);
    try {
        pad_prompt(s.vocab(), pt, n_image, a.prompt_tokens);
    } catch (const PromptError &e) {
        throw Failure(e.what());
    }
    return pt;
}

// The answer, streamed; TTFT runs from process start to the first sampled token.
void decode(Session &s, const Args &a, Clock::time_point process_start, Record &r) {
    GenerateParams g;
    g.max_tokens = a.n_predict;
    g.ignore_eos = a.ignore_eos;
    g.sampler = {a.temp, a.top_k, a.top_p, (uint32_t)a.seed};
    g_generating = 1;
    if (g_signal) _exit(128 + g_signal);
    const GenerateReport out = s.generate(g, [&a](llama_token, const std::string &piece) {
        // a reader gone (SIGPIPE is ignored) ends the answer like a signal
        const bool written = a.no_stream || (std::fputs(piece.c_str(), stdout) >= 0 && std::fflush(stdout) == 0);
        return g_signal == 0 && written;
    });
    g_generating = 0;
    if (a.n_predict > 0) r.ttft_ms = std::chrono::duration<double, std::milli>(out.first_token - process_start).count();
    r.tokens = out.tokens;
    r.text = out.text;
    r.decode_ms = out.decode_ms;
    r.gen_tokens = (int)out.tokens.size();
}

int run(const Args &a, Clock::time_point process_start) {
    Record r;
    r.model = a.model;
    r.mmproj = a.mmproj;
    r.image = a.image;
    r.threads = a.threads;
    const SessionOptions options = session_options(a);
    const Plan &plan = options.plan;
    MemorySampler memory;
    const bool with_image = !a.mmproj.empty();
    if (with_image) require_file(a.image, "image");
    Session s(options, &memory);

    // load: the LLM on a second thread while the vision encoder loads and encodes the image (plan.overlap)
    auto t0 = Clock::now();
    ImageEmbedding emb;
    s.load([&] {
        if (!with_image) return;
        emb = s.encode_file(a.image);
        if (plan.free_vision) s.free_vision();
    });
    record_load(s.load_report(), emb, r);
    const PromptTokens pt = question_tokens(s, a, emb.n_tokens);
    r.image_tokens = emb.n_tokens;
    r.prompt_tokens = (int)(pt.before.size() + pt.after.size()) + emb.n_tokens;

    const auto t_ctx = Clock::now();
    s.create_context(context_for_prompt(pt, emb.n_tokens, a.n_predict, a.n_ctx, s.n_ctx_train(),
                                       plan.small_buffers), a.mem_available);
    r.context_ms = ms_since(t_ctx);
    r.load_ms = ms_since(t0) - r.image_encode_ms;   // what the loads cost beyond the image encode

    t0 = Clock::now();
    const PrefixCache cache(a.prompt_cache, a.model);
    r.prompt_cache = s.warm_prefix(pt.before, &cache);
    s.prefill(pt, with_image ? &emb : nullptr, 1);
    r.prompt_ms = ms_since(t0);
    if (!a.dump_embd.empty()) dump_floats(a.dump_embd, emb.data.data(), emb.data.size());
    if (!a.dump_logits.empty()) dump_floats(a.dump_logits, s.last_logits(), (size_t)s.n_vocab());
    std::vector<float>().swap(emb.data);

    decode(s, a, process_start, r);
    edgevlm_stage_marker(EDGEVLM_STAGE_FINISH);
    memory.sample();
    r.total_ms = ms_since(process_start);
    if (!a.no_stream) std::fputs("\n", stdout);
    if (g_signal) return 128 + g_signal;   // interrupted: no record of a cut answer
    const MemoryPeaks peaks = memory.peaks();
    r.peak_rss_mb = peak_rss_mb();
    r.peak_anon_mb = peaks.anon_mb;
    r.peak_file_mb = peaks.file_mb;
    if (!a.json.empty()) write_json(a.json, r);
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    const auto process_start = Clock::now();
    on_stop_signals(on_signal);
    return main_with_args(Binary::Run, argc, argv, [process_start](const Args &a) { return run(a, process_start); });
}
