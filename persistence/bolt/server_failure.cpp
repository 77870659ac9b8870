#include "persistence/bolt/server_failure.h"

namespace vesta::bolt {

ServerFailure ServerFailure::from_metadata(const Dictionary& metadata) {
  ServerFailure failure;
  for (const char* key : {"neo4j_code", "code"}) {
    const Value* code = metadata.find(key);
    if (code != nullptr && code->is<std::string>() && !code->as<std::string>().empty()) {
      failure.code = code->as<std::string>();
      break;
    }
  }
  if (failure.code.empty()) failure.code = "Neo.DatabaseError.General.UnknownError";
  const Value* message = metadata.find("message");
  if (message != nullptr && message->is<std::string>())
    failure.message = message->as<std::string>();
  return failure;
}

bool ServerFailure::transient() const {
  if (code == "Neo.TransientError.Transaction.Terminated" ||
      code == "Neo.TransientError.Transaction.LockClientStopped") {
    return false;
  }
  if (code == "Neo.ClientError.Cluster.NotALeader" ||
      code == "Neo.ClientError.General.ForbiddenOnReadOnlyDatabase") {
    return true;
  }
  return code.starts_with("Neo.TransientError.");
}

core::Status ServerFailure::to_status() const {
  core::StatusCode status_code = core::StatusCode::kInternal;
  if (transient()) {
    status_code = core::StatusCode::kUnavailable;
  } else if (code.starts_with("Neo.ClientError.")) {
    status_code = core::StatusCode::kInvalidArgument;
  }
  return {status_code, code + ": " + (message.empty() ? "(no message)" : message)};
}

bool is_transient(const core::Status& status) {
  return status.code() == core::StatusCode::kUnavailable ||
         status.code() == core::StatusCode::kDeadlineExceeded;
}

}  // namespace vesta::bolt
