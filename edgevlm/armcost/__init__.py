"""The arm64 cost model: what the android-arm64 bundle executes, counted under qemu-user.

A TCG plugin built by the project (kernels/tools/qemu_cost) counts executed guest instructions per translated
block exactly and books them to stages (markers the runtime calls, or function entries for the stock tools);
`symbols` attributes blocks to functions with nm, `cycles` weights each block with llvm-mca's estimate for a
Cortex-X1 and a Cortex-A78. Same bundle + same input -> the same counts, whatever the host's load.
"""
