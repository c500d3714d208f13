// The C ABI of the runtime's stages (edgevlm_session.h): a thin shell over edgevlm::run::Session that turns
// exceptions into a status and edgevlm_last_error(). Contexts are sized as edgevlm-run sizes them, so the
// Python Runtime's greedy tokens are edgevlm-run's.
#include <algorithm>
#include <memory>
#include <string>
#include <new>

#include "args.h"
#include "edgevlm.h"
#include "session.h"
#include "status.h"

using namespace edgevlm::run;

struct edgevlm_session {
    std::unique_ptr<Session> s;
};

namespace {

template <class F>
int guarded(F &&fn) {
    try {
        edgevlm::clear_error();
        fn();
        return EDGEVLM_OK;
    } catch (const std::bad_alloc &) {
        return edgevlm::set_error(EDGEVLM_ERR_OUT_OF_MEMORY, "out of memory");
    } catch (const std::exception &e) {
        return edgevlm::set_error(EDGEVLM_ERR_INVALID_ARGUMENT, e.what());
    }
}

}  // namespace

extern "C" {

edgevlm_session_params edgevlm_session_default_params(void) {
    const Args a;
    return {nullptr, nullptr, a.threads, a.n_gpu_layers, a.verbose};
}

edgevlm_generate_params edgevlm_generate_default_params(void) {
    const Args a;
    return {a.n_predict, a.temp, a.top_k, a.top_p, (uint32_t)a.seed, a.ignore_eos};
}

edgevlm_session *edgevlm_session_load(const edgevlm_session_params *p) {
    auto out = std::make_unique<edgevlm_session>();
    const int st = guarded([&] {
        if (!p || !p->model) throw Failure("no model given");
        SessionOptions o;
        o.model = p->model;
        o.mmproj = p->mmproj ? p->mmproj : "";
        o.threads = p->threads > 0 ? p->threads : 1;
        o.n_gpu_layers = p->n_gpu_layers;
        o.verbose = p->verbose;
        o.plan.free_vision = false;   // a Runtime answers many questions
        out->s = std::make_unique<Session>(o, nullptr);
        out->s->load();
    });
    return st == EDGEVLM_OK ? out.release() : nullptr;
}

int edgevlm_session_n_embd(const edgevlm_session *s) { return s ? s->s->n_embd() : 0; }
int edgevlm_session_n_image_tokens(const edgevlm_session *s) { return s ? s->s->n_image_tokens() : 0; }

int edgevlm_session_encode_image(edgevlm_session *s, const char *path, float *out, edgevlm_vision_timings *t) {
    return guarded([&] {
        if (!s || !path || !out) throw Failure("null argument");
        ImageEmbedding e = s->s->encode_file(path);
        std::copy(e.data.begin(), e.data.end(), out);
        if (t) *t = e.timings;
    });
}

int edgevlm_session_prefill(edgevlm_session *s, const char *question, const float *image_embd, int32_t max_tokens,
                            int32_t *n_prompt) {
    return guarded([&] {
        if (!s || !question || max_tokens < 0) throw Failure("null argument or negative max_tokens");
        Session &x = *s->s;
        const bool with_image = image_embd != nullptr;
        if (with_image && !x.n_image_tokens()) throw Failure("this model has no mmproj: it cannot take an image");
        const PromptTokens p = x.tokenize(vicuna_v1(x.system_prompt(), question, with_image), with_image);
        ImageEmbedding img;
        if (with_image) {
            img.n_tokens = x.n_image_tokens();
            img.data.assign(image_embd, image_embd + (size_t)img.n_tokens * x.n_embd());
        }
        // a fresh context per answer, sized as edgevlm-run sizes it (small buffers: the default plan)
        x.create_context(context_for_prompt(p, img.n_tokens, max_tokens, 0, x.n_ctx_train(), true), 0);
        x.warm_prefix(p.before);
        const PrefillReport r = x.prefill(p, with_image ? &img : nullptr, 1);
        if (n_prompt) *n_prompt = r.n_prompt;
    });
}

int edgevlm_session_generate(edgevlm_session *s, const edgevlm_generate_params *p, edgevlm_token_fn on_token,
                             void *user, int32_t *n_tokens) {
    return guarded([&] {
        if (!s || !p) throw Failure("null argument");
        if (!s->s->n_ctx()) throw Failure("generate before prefill");
        GenerateParams g;
        g.max_tokens = p->max_tokens;
        g.ignore_eos = p->ignore_eos;
        g.sampler = {p->temp, p->top_k, p->top_p, p->seed};
        const GenerateReport r = s->s->generate(g, [&](llama_token t, const std::string &piece) {
            return !on_token || on_token(t, piece.data(), (int32_t)piece.size(), user) != 0;
        });
        if (n_tokens) *n_tokens = (int32_t)r.tokens.size();
    });
}

int edgevlm_session_token_piece(const edgevlm_session *s, int32_t token, char *buf, int32_t cap) {
    if (!s || !buf || cap < 0) return -1;
    const std::string piece = s->s->piece(token);
    if ((int32_t)piece.size() > cap) return -1;
    std::copy(piece.begin(), piece.end(), buf);
    return (int)piece.size();
}

const char *edgevlm_session_info(const edgevlm_session *s, const char *name) {
    if (!s || !name) return nullptr;
    const LoadReport &r = s->s->load_report();
    const std::string n = name;
    if (n == "llm_backend") return r.llm_backend.c_str();
    if (n == "vision_backend") return r.vision_backend.c_str();
    if (n == "mmproj_type") return r.mmproj_type.c_str();
    if (n == "projector_impl") return r.projector_impl.c_str();
    if (n == "vit_matmul") return r.vit_matmul.c_str();
    if (n == "system_prompt") return s->s->system_prompt().c_str();
    return nullptr;
}

void edgevlm_session_free(edgevlm_session *s) { delete s; }

}  // extern "C"
