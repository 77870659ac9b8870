#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "core/status.h"

namespace vesta::kernels::cuda {

// Turns a failed CUDA runtime call into a Status naming the call and the
// error, and clears CUDA's last-error state so later calls start clean.
inline core::Status cuda_status(cudaError_t error, const char* call) {
  if (error == cudaSuccess) return core::Status::ok();
  (void)cudaGetLastError();
  std::string message = std::string(call) + " failed: " + cudaGetErrorName(error) + " (" +
                        cudaGetErrorString(error) + ")";
  const core::StatusCode code = error == cudaErrorMemoryAllocation
                                    ? core::StatusCode::kResourceExhausted
                                    : core::StatusCode::kUnavailable;
  return {code, std::move(message)};
}

}  // namespace vesta::kernels::cuda

// Evaluates a CUDA runtime call and returns its failure as a Status.
#define VESTA_CUDA_TRY(call) \
  VESTA_RETURN_IF_ERROR(::vesta::kernels::cuda::cuda_status((call), #call))
