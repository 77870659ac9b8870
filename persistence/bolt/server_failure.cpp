#include "persistence/bolt/server_failure.h"

namespace vesta::bolt {
namespace {

// The second part of a status code: "Neo.ClientError.Statement.SyntaxError"
// is a ClientError. Other servers keep the shape with their own first part
// (FalkorDB.ClientError.Security.Unauthorized, Memgraph.ClientError...).
std::string_view classification(std::string_view code) {
  const size_t first = code.find('.');
  if (first == std::string_view::npos) return {};
  const size_t second = code.find('.', first + 1);
  return code.substr(
      first + 1, second == std::string_view::npos ? std::string_view::npos : second - first - 1);
}

}  // namespace

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
  return classification(code) == "TransientError";
}

core::Status ServerFailure::to_status() const {
  core::StatusCode status_code = core::StatusCode::kInternal;
  if (transient()) {
    status_code = core::StatusCode::kUnavailable;
  } else if (classification(code) == "ClientError") {
    status_code = core::StatusCode::kInvalidArgument;
  }
  return {status_code, code + ": " + (message.empty() ? "(no message)" : message)};
}

bool is_transient(const core::Status& status) {
  return status.code() == core::StatusCode::kUnavailable ||
         status.code() == core::StatusCode::kDeadlineExceeded;
}

}  // namespace vesta::bolt
