// The component-independent part of the C ABI: version, SIMD path, last error, half conversions.
#include <cstring>
#include <string>

#include "edgevlm.h"
#include "simd.h"
#include "status.h"

#ifndef EDGEVLM_VERSION_STRING
#define EDGEVLM_VERSION_STRING "0.1.0"
#endif

namespace edgevlm {

namespace {
thread_local std::string g_last_error;
}

int set_error(int status, const std::string &message) {
    g_last_error = message;
    return status;
}

void clear_error() { g_last_error.clear(); }

float half_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);  // inf / nan
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else {  // subnormal half: normalise
        int e = -1;
        do { ++e; mant <<= 1; } while (!(mant & 0x400u));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t float_to_half(float f) {  // round to nearest even
    uint32_t x;
    std::memcpy(&x, &f, sizeof x);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    const uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0);
    if (ax >= 0x477ff000u) return sign | 0x7c00u;  // overflows to inf
    if (ax < 0x38800000u) {                         // subnormal or zero half
        if (ax < 0x33000000u) return sign;
        const uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - e;  // half subnormal = m * 2^(e-126) in units of 2^-24
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) ++r;
        return sign | (uint16_t)r;
    }
    uint32_t r = ((ax >> 13) - (112u << 10));
    const uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) ++r;
    return sign | (uint16_t)r;
}

}  // namespace edgevlm

extern "C" {

const char *edgevlm_version(void) { return EDGEVLM_VERSION_STRING; }

const char *edgevlm_simd(void) { return EDGEVLM_SIMD_NAME; }

const char *edgevlm_last_error(void) { return edgevlm::g_last_error.c_str(); }

}  // extern "C"
