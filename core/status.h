#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/check.h"

namespace vesta::core {

// What went wrong, in terms a caller can act on. The server maps each code to
// one HTTP status (see http_status_for); nothing else in the tree does.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // 400: the input is malformed or out of range
  kNotFound,           // 404
  kAlreadyExists,      // 409
  kConflict,           // 409: the state does not allow the request now
  kPayloadTooLarge,    // 413
  kUnprocessable,      // 422: well-formed but semantically wrong
  kDeadlineExceeded,   // 503 (a lock or queue wait timed out)
  kCancelled,          // 499: the caller gave up (its client went away)
  kUnavailable,        // 503: a dependency is down; retry later
  kResourceExhausted,  // 503: out of memory or capacity
  kInternal,           // 500: a bug or an unexpected failure
};

std::string_view status_code_name(StatusCode code);

// The HTTP status a response carrying `code` should have.
int http_status_for(StatusCode code);

// A success or a failure with a code and a message that names the input at
// fault. Cheap to copy when ok. Not thread-safe for concurrent mutation.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: vector of point 7 has 3 values, expected 4".
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string message) {
  return {StatusCode::kInvalidArgument, std::move(message)};
}
inline Status not_found(std::string message) { return {StatusCode::kNotFound, std::move(message)}; }
inline Status internal_error(std::string message) {
  return {StatusCode::kInternal, std::move(message)};
}

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    VESTA_CHECK(!std::get<Status>(data_).is_ok()) << "Result built from an ok Status";
  }

  bool is_ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(data_);
  }
  T& value() & {
    VESTA_CHECK(is_ok()) << "value() of a failed Result: " << status().to_string();
    return std::get<T>(data_);
  }
  const T& value() const& {
    VESTA_CHECK(is_ok()) << "value() of a failed Result: " << status().to_string();
    return std::get<T>(data_);
  }
  T&& value() && {
    VESTA_CHECK(is_ok()) << "value() of a failed Result: " << status().to_string();
    return std::get<T>(std::move(data_));
  }

 private:
  std::variant<T, Status> data_;
};

}  // namespace vesta::core

// Returns the Status of `expr` from the enclosing function when it failed.
#define VESTA_RETURN_IF_ERROR(expr)                   \
  do {                                                \
    ::vesta::core::Status vesta_status_ = (expr);     \
    if (!vesta_status_.is_ok()) return vesta_status_; \
  } while (false)
