/* Uses the Snapdragon 888 features the android-arm64 build enables: sdot (dotprod) and fp16 arithmetic. */
#include <arm_neon.h>
#include <stdio.h>

int main(int argc, char **argv) {
    (void)argv;
    int8x16_t a = vdupq_n_s8((int8_t)argc), b = vdupq_n_s8(3);
    int32x4_t acc = vdotq_s32(vdupq_n_s32(0), a, b);          /* needs +dotprod */
    float16x8_t h = vmulq_f16(vdupq_n_f16(1.5), vdupq_n_f16(2.0)); /* needs +fp16 */
    printf("dot=%d half=%.1f\n", vgetq_lane_s32(acc, 0), (double)vgetq_lane_f16(h, 0));
    return 0;
}
