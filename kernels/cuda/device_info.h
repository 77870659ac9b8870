#pragma once

#include <string>
#include <vector>

namespace vesta::kernels::cuda {

// What the CUDA runtime reports about this machine. Plain C++: callers need no
// CUDA headers, and a build without CUDA links the stub implementation.
struct DeviceProbe {
  bool compiled = false;             // this binary was built with the CUDA path
  int device_count = 0;              // usable devices; 0 when none or no driver
  std::string reason;                // why device_count is 0, when it is
  std::vector<std::string> devices;  // "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)"
};

// Asks the CUDA runtime once per call; never fails: a missing driver or device
// is reported in `reason`, and CUDA's sticky error state is cleared.
DeviceProbe probe_devices();

}  // namespace vesta::kernels::cuda
