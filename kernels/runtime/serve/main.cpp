// edgevlm-serve: MobileVLM behind an OpenAI-compatible HTTP endpoint on the device's loopback. The model is
// loaded once, the conversation's fixed start (BOS, system prompt, "USER: ") evaluated once; each request
// runs through the same stages as edgevlm-run (session.h). Prints one line when it accepts connections:
//   edgevlm-serve listening on http://HOST:PORT
// Errors before that: one line on stderr, exit 2. SIGTERM / SIGINT / SIGHUP: the running answer stops after
// its current token, the server closes, exit 0.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "args.h"
#include "plan.h"
#include "server.h"
#include "session.h"
#include "signals.h"

using namespace edgevlm::run;

namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_serving = 0;

void on_signal(int) {
    g_stop = 1;
    if (!g_serving) _exit(0);   // still loading: nothing to finish
}



// The context every request shares: -c, else 1024 tokens or the model's training context if smaller (a
// question with an image needs ~200 before the answer; the KV cache is allocated whole). Batches of 256: each
// prompt chunk (text before the image, the 144 image rows, the question) is one decode, as in edgevlm-run.
ContextSize serve_context(const Session &s, const Args &a) {
    ContextSize size;
    size.n_ctx = a.n_ctx ? a.n_ctx : std::min(1024, std::max(256, s.n_ctx_train()));
    size.n_batch = std::min(256, size.n_ctx);
    size.n_outputs_max = 1;
    return size;
}

int serve(const Args &a) {
    SessionOptions options = session_options(a);
    options.plan.free_vision = false;   // every request may bring an image
    Session session(options, nullptr);
    session.load();
    session.create_context(serve_context(session, a), a.mem_available);
    // the fixed start: the text before the image of any single question
    session.warm_prefix(session.tokenize(vicuna_v1(session.system_prompt(), "", true), true).before);
    edgevlm::serve::Server server(session, a);
    const int port = server.bind(a.host, a.port);
    if (port < 0) throw Failure("cannot listen on " + a.host + ":" + std::to_string(a.port) + " (in use, or not an address of this machine)");
    g_serving = 1;
    std::printf("edgevlm-serve listening on http://%s:%d\n", a.host.c_str(), port);
    std::fflush(stdout);
    std::thread watcher([&server] {
        while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        server.stop();
    });
    server.listen();
    g_stop = 1;
    watcher.join();
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    on_stop_signals(on_signal);
    return main_with_args(Binary::Serve, argc, argv, serve);
}
