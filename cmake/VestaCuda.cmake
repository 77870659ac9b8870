# Resolves VESTA_CUDA (AUTO/ON/OFF) into VESTA_CUDA_ENABLED and enables the
# CUDA language when it is on.
include(CheckLanguage)

set(VESTA_CUDA_ENABLED OFF)
if(NOT VESTA_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(VESTA_CUDA_ENABLED ON)
  elseif(VESTA_CUDA STREQUAL "ON")
    message(FATAL_ERROR "VESTA_CUDA=ON but no CUDA compiler (nvcc) was found")
  else()
    message(STATUS "nvcc not found: building without the CUDA path")
  endif()
endif()

if(VESTA_CUDA_ENABLED)
  # sm_80 and sm_90 machine code plus PTX for newer devices.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 80-real 90)
  endif()
  enable_language(CUDA)
  # CMake 3.25 does not know nvcc 13's C++20 flag; tell it.
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  set(CMAKE_CUDA_EXTENSIONS OFF)
  find_package(CUDAToolkit REQUIRED)
endif()
