// Strict base64 (RFC 4648, standard alphabet, '=' padding optional): the bytes of a data: URL.
#pragma once

#include <optional>
#include <string>

namespace edgevlm::serve {

// nullopt when the text is not base64 (a character outside the alphabet, a bad length or padding).
std::optional<std::string> base64_decode(const std::string &text);

}  // namespace edgevlm::serve
