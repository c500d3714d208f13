# android-arm64 with the Android NDK: wraps the NDK's own toolchain file ($ANDROID_NDK_HOME) for arm64-v8a,
# API 28, and adds the Snapdragon 888 -march for every translation unit (ggml and edgevlm's kernels).
if (NOT DEFINED ENV{ANDROID_NDK_HOME})
    message(FATAL_ERROR "ANDROID_NDK_HOME is not set; use toolchains/aarch64-linux-gnu.cmake instead")
endif()
set(ANDROID_ABI arm64-v8a CACHE STRING "")
set(ANDROID_PLATFORM android-28 CACHE STRING "")
set(ANDROID_STL c++_static CACHE STRING "")
include($ENV{ANDROID_NDK_HOME}/build/cmake/android.toolchain.cmake)
set(EDGEVLM_ARM_MARCH "armv8.2-a+dotprod+fp16" CACHE STRING "-march for every translation unit")
string(APPEND CMAKE_C_FLAGS_INIT   " -march=${EDGEVLM_ARM_MARCH}")
string(APPEND CMAKE_CXX_FLAGS_INIT " -march=${EDGEVLM_ARM_MARCH}")
