#include <cuda_runtime_api.h>

#include <cstdio>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_info.h"

namespace vesta::kernels::cuda {
namespace {

core::Status count_devices(int* count) {
  VESTA_CUDA_TRY(cudaGetDeviceCount(count));
  return core::Status::ok();
}

core::Status describe_device(int device, std::string* out) {
  cudaDeviceProp prop{};
  VESTA_CUDA_TRY(cudaGetDeviceProperties(&prop, device));
  char text[320];
  std::snprintf(text, sizeof text, "%s (sm_%d%d, %.1f GiB)", prop.name, prop.major, prop.minor,
                static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
  *out = text;
  return core::Status::ok();
}

}  // namespace

DeviceProbe probe_devices() {
  DeviceProbe probe;
  probe.compiled = true;
  int count = 0;
  if (core::Status status = count_devices(&count); !status.is_ok()) {
    probe.reason = status.message();
    return probe;
  }
  if (count == 0) probe.reason = "the CUDA runtime reports no device";
  for (int d = 0; d < count; ++d) {
    std::string description;
    if (core::Status status = describe_device(d, &description); !status.is_ok()) {
      description = "device " + std::to_string(d) + ": " + status.message();
    }
    probe.devices.push_back(std::move(description));
  }
  probe.device_count = count;
  return probe;
}

}  // namespace vesta::kernels::cuda
