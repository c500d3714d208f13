// The stop signals of edgevlm-run and edgevlm-serve (SIGTERM, SIGINT, SIGHUP) go to one handler; SIGPIPE is
// ignored (a reader gone is a failed write, not the end of the process).
#pragma once

namespace edgevlm::run {

void on_stop_signals(void (*handler)(int));

}  // namespace edgevlm::run
