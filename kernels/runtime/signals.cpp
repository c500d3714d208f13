#include "signals.h"

#include <signal.h>

#include <initializer_list>

namespace edgevlm::run {

void on_stop_signals(void (*handler)(int)) {
    struct sigaction sa{};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

}  // namespace edgevlm::run
