// Command lines of edgevlm-run and edgevlm-serve (the options themselves, with their defaults: options.def).
// Parsing errors throw UsageError (exit 2).
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace edgevlm::run {

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

using FLAG_t = bool;
using STR_t = std::string;
using INT_t = int;
using FLOAT_t = float;
using BYTES_t = int64_t;

// One field per entry of options.def, with its default (options of both binaries: each parser takes its own).
struct Args {
#define EDGEVLM_OPTION(key, flag, alias, kind, def, binaries, help) kind##_t key = def;
#include "options.def"
#undef EDGEVLM_OPTION
};

enum class Binary { Run, Serve };

Args parse_args(Binary which, int argc, char **argv);
const char *usage(Binary which);

// main() of edgevlm-run and edgevlm-serve: `body` on the parsed options, its exit code returned. A UsageError
// prints the error and the usage (exit 2), a Failure one line and its own code (exits.h), any other exception
// one line (exit 2).
int main_with_args(Binary which, int argc, char **argv, const std::function<int(const Args &)> &body);

// The deprecated environment aliases of options (EDGEVLM_RUN_OFF, ...): an option left empty takes the
// variable's value. Kept so scripts written before the options still work.
void apply_env_aliases(Args &a, Binary which);

}  // namespace edgevlm::run
