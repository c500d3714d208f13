// MobileVLM's image preprocessing in C++ (the device binary has no Python): decode (stb_image from the
// pinned llama.cpp), pad to square with the mean colour, resize with PIL's bicubic filter (the same
// fixed-point two-pass algorithm as Pillow's Resample.c, so pixels match Python's reference exactly),
// rescale 1/255 and normalise into a planar 3 x S x S float image.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace edgevlm {

struct RgbImage {
    int w = 0, h = 0;
    std::vector<uint8_t> rgb;  // h x w x 3
};

// Throws std::runtime_error naming the file when it is missing or not a decodable image.
RgbImage load_image(const std::string &path);
// The same from bytes in memory (`what` names them in the message).
RgbImage decode_image(const unsigned char *data, size_t size, const std::string &what);

// Centre on a square canvas filled with `fill` (MobileVLM's expand2square: offset (side - short) / 2).
RgbImage pad_to_square(const RgbImage &img, const uint8_t fill[3]);

// Pillow's Image.resize(size, Image.BICUBIC) for 8-bit RGB.
RgbImage resize_bicubic(const RgbImage &img, int out_w, int out_h);

// out: 3 x h x w planar, (v / 255 - mean[c]) / std[c].
void normalize_planar(const RgbImage &img, const float mean[3], const float std[3], float *out);

}  // namespace edgevlm
