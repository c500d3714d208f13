// How edgevlm-run and edgevlm-serve end: their exit codes and the errors that carry them. One home for the
// codes: edgevlm/bench/bounds.py reads the EDGEVLM_EXIT_* lines of this file, so the Python side tells a
// refused request (its own exit 2, bad input) from a device fault. Signals end a run with 128 + the signal.
#pragma once

#include <stdexcept>

#define EDGEVLM_EXIT_FAILURE 2          // a bad option or file, a context beyond the memory: one line on stderr
#define EDGEVLM_EXIT_BEYOND_CONTEXT 4   // the prompt (+ image + -n) is beyond the context: one line on stderr

namespace edgevlm::run {

// Errors of the stages: one line; the binaries exit with exit_code(), the server answers them.
struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
    virtual int exit_code() const { return EDGEVLM_EXIT_FAILURE; }
};

// A request the context cannot hold, refused before any of it is evaluated.
struct BeyondContext : Failure {
    using Failure::Failure;
    int exit_code() const override { return EDGEVLM_EXIT_BEYOND_CONTEXT; }
};

}  // namespace edgevlm::run
