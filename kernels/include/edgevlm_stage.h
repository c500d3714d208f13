/* Stage markers: edgevlm_stage_marker(stage) is a no-op a program calls where one stage of its work ends and
 * the next begins. Nothing watches it on a device; under qemu-user, edgevlm's TCG plugin
 * (kernels/tools/qemu_cost) books the instructions executed between two calls to the stage named by the first
 * (benchmarks/arm_cost.py). The ids are the one home of the stage names: arm_cost.py reads them from here.
 * Each call costs a handful of instructions. */
#ifndef EDGEVLM_STAGE_H
#define EDGEVLM_STAGE_H

#ifdef __cplusplus
extern "C" {
#endif

enum edgevlm_stage {
    EDGEVLM_STAGE_STARTUP = 0,      /* process start to the first marker (libc start, argument parsing) */
    EDGEVLM_STAGE_VISION_LOAD = 1,  /* mmproj read, ViT matrices repacked */
    EDGEVLM_STAGE_VIT = 2,          /* image decode + preprocessing + ViT (attention split by functions) */
    EDGEVLM_STAGE_PROJECTOR = 3,    /* LDP / LDPv2 projector */
    EDGEVLM_STAGE_LLM_LOAD = 4,     /* LLM GGUF read, weights repacked */
    EDGEVLM_STAGE_CONTEXT = 5,      /* llama context, KV cache, threadpool, tokenization */
    EDGEVLM_STAGE_PREFILL = 6,      /* the prompt: text before the image, the image embeddings, text after */
    EDGEVLM_STAGE_DECODE = 7,       /* entered once per generated token: sampling + one llama_decode */
    EDGEVLM_STAGE_FINISH = 8,       /* memory peaks, the JSON record, teardown */
    EDGEVLM_STAGE_COUNT = 9
};

/* Never inlined, never removed: the plugin recognises it by its address (nm) and the stage by the address of
 * the one byte it loads from edgevlm_stage_slots. */
void edgevlm_stage_marker(int stage);

#ifdef __cplusplus
}
#endif

#endif
