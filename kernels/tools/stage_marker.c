/* edgevlm_stage_marker (kernels/include/edgevlm_stage.h). QEMU's plugin API v1 cannot read a guest's
 * registers or memory, but it reports the address of every load: the marker loads slots[stage], so the
 * address tells the watching plugin which stage begins. On a device this is 4 instructions and a cache hit. */
#include "edgevlm_stage.h"

__attribute__((visibility("default"))) volatile unsigned char edgevlm_stage_slots[256];

__attribute__((noinline, visibility("default"))) void edgevlm_stage_marker(int stage) {
    (void)edgevlm_stage_slots[(unsigned)stage & 255u];
}
