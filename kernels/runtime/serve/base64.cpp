#include "base64.h"

namespace edgevlm::serve {

namespace {

int value_of(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

}  // namespace

std::optional<std::string> base64_decode(const std::string &text) {
    size_t n = text.size();
    while (n > 0 && text[n - 1] == '=' && text.size() - n < 2) --n;   // at most two '='
    if (n % 4 == 1 || (text.size() != n && text.size() % 4 != 0)) return std::nullopt;
    std::string out;
    out.reserve(n / 4 * 3 + 2);
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; ++i) {
        const int v = value_of((unsigned char)text[i]);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += (char)((acc >> bits) & 0xff);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;   // non-zero padding bits
    return out;
}

}  // namespace edgevlm::serve
