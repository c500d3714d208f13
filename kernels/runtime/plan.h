// What edgevlm-run does beyond a plain load-then-run to answer one question fast and small. Every saving is
// on by default and can be switched off for measurement (benchmarks/e2e.py's breakdown) or diagnosis:
//   --off name[,name...]   (exact names; an unknown one is an error, exit 2; env EDGEVLM_RUN_OFF, deprecated)
//   overlap        load the LLM on a second thread while the vision encoder loads and encodes the image
//   free-vision    free the vision encoder (weights, graph, buffers) once the image is encoded: a
//                  single-shot run never encodes again
//   drop-pages     drop the LLM file's mapped pages while it loads: ggml repacks most matrices into its own
//                  (anonymous) buffers, so the file pages it read them from would be held twice
//   small-buffers  size the LLM's batch and output buffers to this prompt (largest chunk, one row of logits)
//                  instead of 512 tokens
// None of them changes a computed value: greedy tokens are identical with any set switched off
// (tests/runtime/test_e2e_plan.py).
#pragma once

#include <stdexcept>
#include <string>

namespace edgevlm::run {

struct Plan {
    bool overlap = true, free_vision = true, drop_pages = true, small_buffers = true;
};

struct PlanError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// From --off (empty: everything on). Throws PlanError on an unknown name.
Plan parse_plan_off(const std::string &off);

}  // namespace edgevlm::run
