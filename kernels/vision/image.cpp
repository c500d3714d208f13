#include "image.h"

#include <climits>
#include <cmath>
#include <stdexcept>

#define STB_IMAGE_STATIC  // private copy: libmtmd carries its own, symbols must not clash
#define STB_IMAGE_IMPLEMENTATION
#include "stb/stb_image.h"

namespace edgevlm {

namespace {

// stb's pixels (or its failure) as an RgbImage; `what` names the input in the message.
RgbImage from_stb(unsigned char *data, int w, int h, const std::string &what) {
    if (!data) {
        const char *why = stbi_failure_reason();
        throw std::runtime_error("cannot read image " + what + ": " + (why ? why : "unknown reason"));
    }
    RgbImage img;
    img.w = w;
    img.h = h;
    img.rgb.assign(data, data + (size_t)w * h * 3);
    stbi_image_free(data);
    return img;
}

}  // namespace

RgbImage load_image(const std::string &path) {
    int w = 0, h = 0, n = 0;
    unsigned char *data = stbi_load(path.c_str(), &w, &h, &n, 3);   // before w, h are read
    return from_stb(data, w, h, path);
}

RgbImage decode_image(const unsigned char *data, size_t size, const std::string &what) {
    if (size > (size_t)INT_MAX) throw std::runtime_error("cannot read image " + what + ": too large");
    int w = 0, h = 0, n = 0;
    unsigned char *px = stbi_load_from_memory(data, (int)size, &w, &h, &n, 3);
    return from_stb(px, w, h, what);
}

RgbImage pad_to_square(const RgbImage &img, const uint8_t fill[3]) {
    if (img.w == img.h) return img;
    const int side = img.w > img.h ? img.w : img.h;
    const int x0 = (side - img.w) / 2, y0 = (side - img.h) / 2;
    RgbImage out;
    out.w = out.h = side;
    out.rgb.resize((size_t)side * side * 3);
    for (size_t i = 0; i < (size_t)side * side; ++i)
        for (int c = 0; c < 3; ++c) out.rgb[i * 3 + c] = fill[c];
    for (int y = 0; y < img.h; ++y)
        std::copy(img.rgb.begin() + (size_t)y * img.w * 3, img.rgb.begin() + (size_t)(y + 1) * img.w * 3,
                  out.rgb.begin() + ((size_t)(y + y0) * side + x0) * 3);
    return out;
}

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's fixed-point precision for 8-bit images

double bicubic(double x) {  // Pillow's BICUBIC filter, a = -0.5, support 2
    const double a = -0.5;
    x = std::fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

// Per output pixel: first input index, tap count, and fixed-point weights (Pillow's precompute_coeffs
// followed by normalize_coeffs_8bpc), ksize taps per output.
struct Coeffs {
    int ksize = 0;
    std::vector<int> start, count;
    std::vector<int32_t> k;
};

Coeffs precompute(int in_size, int out_size) {
    const double scale = (double)in_size / out_size;
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = 2.0 * filterscale;
    Coeffs c;
    c.ksize = (int)std::ceil(support) * 2 + 1;
    c.start.resize(out_size);
    c.count.resize(out_size);
    c.k.assign((size_t)out_size * c.ksize, 0);
    std::vector<double> w(c.ksize);
    for (int xx = 0; xx < out_size; ++xx) {
        const double center = (xx + 0.5) * scale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            w[x] = bicubic((x + xmin - center + 0.5) / filterscale);
            ww += w[x];
        }
        for (int x = 0; x < xmax; ++x) {
            const double v = ww != 0.0 ? w[x] / ww : w[x];
            c.k[(size_t)xx * c.ksize + x] = (int32_t)(v < 0 ? -0.5 + v * (1 << kPrecisionBits)
                                                            : 0.5 + v * (1 << kPrecisionBits));
        }
        c.start[xx] = xmin;
        c.count[xx] = xmax;
    }
    return c;
}

inline uint8_t clip8(int32_t v) {
    if (v >= (1 << kPrecisionBits << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> kPrecisionBits);
}

}  // namespace

RgbImage resize_bicubic(const RgbImage &img, int out_w, int out_h) {
    // Horizontal pass into an out_w x img.h image, then the vertical pass, each rounding to 8 bits
    // (Pillow does the same; skipping a pass when a side keeps its size, which is an identity here too).
    const Coeffs ch = precompute(img.w, out_w), cv = precompute(img.h, out_h);
    std::vector<uint8_t> tmp((size_t)out_w * img.h * 3);
    for (int y = 0; y < img.h; ++y) {
        const uint8_t *row = img.rgb.data() + (size_t)y * img.w * 3;
        for (int xx = 0; xx < out_w; ++xx) {
            const int32_t *k = ch.k.data() + (size_t)xx * ch.ksize;
            for (int c = 0; c < 3; ++c) {
                int32_t ss = 1 << (kPrecisionBits - 1);
                for (int x = 0; x < ch.count[xx]; ++x) ss += row[(ch.start[xx] + x) * 3 + c] * k[x];
                tmp[((size_t)y * out_w + xx) * 3 + c] = clip8(ss);
            }
        }
    }
    RgbImage out;
    out.w = out_w;
    out.h = out_h;
    out.rgb.resize((size_t)out_w * out_h * 3);
    for (int yy = 0; yy < out_h; ++yy) {
        const int32_t *k = cv.k.data() + (size_t)yy * cv.ksize;
        for (int x = 0; x < out_w * 3; ++x) {
            int32_t ss = 1 << (kPrecisionBits - 1);
            for (int y = 0; y < cv.count[yy]; ++y) ss += tmp[(size_t)(cv.start[yy] + y) * out_w * 3 + x] * k[y];
            out.rgb[(size_t)yy * out_w * 3 + x] = clip8(ss);
        }
    }
    return out;
}

void normalize_planar(const RgbImage &img, const float mean[3], const float std[3], float *out) {
    const size_t n = (size_t)img.w * img.h;
    for (int c = 0; c < 3; ++c)
        for (size_t i = 0; i < n; ++i)
            out[c * n + i] = (float)(((double)img.rgb[i * 3 + c] / 255.0 - mean[c]) / std[c]);
}

}  // namespace edgevlm
