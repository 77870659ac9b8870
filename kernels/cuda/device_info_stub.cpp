// Used when Vesta is built without CUDA (VESTA_CUDA=OFF or no nvcc).
#include "kernels/cuda/device_info.h"

namespace vesta::kernels::cuda {

DeviceProbe probe_devices() {
  DeviceProbe probe;
  probe.reason = "this build has no CUDA support (VESTA_CUDA=OFF or nvcc not found)";
  return probe;
}

}  // namespace vesta::kernels::cuda
