// Used when Vesta is built without CUDA (VESTA_CUDA=OFF or no nvcc): there is
// never a device, and every entry point says so.
#include "kernels/cuda/flat_search.h"

namespace vesta::kernels::cuda {
namespace {

core::Status no_cuda() {
  return {core::StatusCode::kUnavailable,
          "this build has no CUDA support (VESTA_CUDA=OFF or nvcc not found)"};
}

}  // namespace

class DeviceRuntime {};

core::Result<std::shared_ptr<DeviceRuntime>> open_device(const DeviceOptions&) { return no_cuda(); }

DeviceFacts device_facts(const DeviceRuntime&) { return {}; }

SearchCounts search_counts(const DeviceRuntime&) { return {}; }

core::Result<std::unique_ptr<DeviceFlatIndex>> DeviceFlatIndex::create(
    std::shared_ptr<DeviceRuntime>, size_t, size_t, DistanceKind) {
  return no_cuda();
}

}  // namespace vesta::kernels::cuda
