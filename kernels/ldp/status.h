// Error reporting behind the C ABI: a per-thread message read by edgevlm_last_error(). Shared by every
// component of libedgevlm (LDP, vision encoder): set the message, return the status code.
#pragma once

#include <string>

#include "edgevlm.h"

namespace edgevlm {

int set_error(int status, const std::string &message);
void clear_error();

}  // namespace edgevlm
