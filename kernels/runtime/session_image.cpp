// The encode stage: an image (a file, or PNG/JPEG bytes as edgevlm-serve receives them) through the vision
// encoder into n_image x n_embd embeddings.
#include <cstring>

#include "edgevlm_stage.h"
#include "image.h"
#include "session.h"

namespace edgevlm::run {

namespace {

// PNG: the 8-byte signature and an IEND chunk at the end; JPEG: SOI and EOI. stb_image decodes some cut
// files without an error (a JPEG's missing scans come out grey), so a truncated upload is caught here.
void check_png_or_jpeg(const unsigned char *d, size_t n, const std::string &what) {
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 8 && std::memcmp(d, png, 8) == 0) {
        if (n < 20 || std::memcmp(d + n - 8, "IEND", 4) != 0) throw Failure("image " + what + " is a truncated PNG");
        return;
    }
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff) {
        if (n < 4 || d[n - 2] != 0xff || d[n - 1] != 0xd9) throw Failure("image " + what + " is a truncated JPEG");
        return;
    }
    throw Failure("image " + what + " is neither PNG nor JPEG");
}

}  // namespace

ImageEmbedding Session::encode_file(const std::string &path) {
    if (!vision_) throw Failure(has_vision() ? "the vision encoder was freed" : "this model has no mmproj: it cannot take an image");
    require_file(path, "image");
    ImageEmbedding e;
    e.n_tokens = n_image_tokens_;
    e.data.resize((size_t)n_image_tokens_ * vision_embd_);
    edgevlm_stage_marker(EDGEVLM_STAGE_VIT);
    if (edgevlm_vision_encode_file(vision_, path.c_str(), e.data.data(), &e.timings) != EDGEVLM_OK)
        throw Failure(edgevlm_last_error());
    sample_memory();   // the encoder's buffers are still held here
    return e;
}

ImageEmbedding Session::encode_bytes(const unsigned char *data, size_t size, const std::string &what) {
    if (!vision_) throw Failure("this model has no mmproj: it cannot take an image");
    check_png_or_jpeg(data, size, what);
    RgbImage img;
    const auto t0 = Clock::now();
    try {
        img = decode_image(data, size, what);
    } catch (const std::exception &e) {
        throw Failure(e.what());
    }
    const double decode_ms = ms_since(t0);
    ImageEmbedding e;
    e.n_tokens = n_image_tokens_;
    e.data.resize((size_t)n_image_tokens_ * vision_embd_);
    edgevlm_stage_marker(EDGEVLM_STAGE_VIT);
    if (edgevlm_vision_encode_rgb(vision_, img.rgb.data(), img.w, img.h, e.data.data(), &e.timings) != EDGEVLM_OK)
        throw Failure(edgevlm_last_error());
    e.timings.decode_ms = decode_ms;
    e.timings.total_ms += decode_ms;
    sample_memory();
    return e;
}

}  // namespace edgevlm::run
