# Cross toolchain for android-arm64 without the NDK: Debian's aarch64-linux-gnu GCC, fully static binaries.
# A static glibc binary needs only the Linux kernel's syscall interface, which Android has, so it runs from
# /data/local/tmp on a phone exactly like an NDK binary (no bionic, no /system/lib64 dependencies).
#
# Every C/C++ file — ggml and edgevlm's own kernels alike — is compiled for the Snapdragon 888's ISA
# (Cortex-A78/X1/A55: ARMv8.2-A with dotprod and fp16 arithmetic; no SVE, no i8mm).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER   aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(EDGEVLM_ARM_MARCH "armv8.2-a+dotprod+fp16" CACHE STRING "-march for every translation unit")
set(CMAKE_C_FLAGS_INIT   "-march=${EDGEVLM_ARM_MARCH}")
set(CMAKE_CXX_FLAGS_INIT "-march=${EDGEVLM_ARM_MARCH}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
# A static link needs static archives: make find_library take the .a, and hand FindOpenMP the static
# libgomp directly (it searches the compiler's implicit link dirs, where the .so wins otherwise).
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
execute_process(COMMAND aarch64-linux-gnu-gcc -print-file-name=libgomp.a
                OUTPUT_VARIABLE EDGEVLM_LIBGOMP_A OUTPUT_STRIP_TRAILING_WHITESPACE)
if (EXISTS "${EDGEVLM_LIBGOMP_A}")
    set(OpenMP_gomp_LIBRARY "${EDGEVLM_LIBGOMP_A}" CACHE FILEPATH "static libgomp for -static links")
endif()

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# try_run and tests execute under qemu with the phone's CPU
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -cpu cortex-a76)
