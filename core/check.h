#pragma once

#include <sstream>

// VESTA_CHECK(cond) << "context"; aborts with file, line, the condition and the
// streamed context when `cond` is false. For invariants only: input from a user
// must never be able to reach a failing check (return a Status instead).

namespace vesta::core::detail {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;

  template <typename T>
  CheckFailure& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Lets `VESTA_CHECK(c) << x;` be one expression of type void.
struct CheckVoidify {
  void operator&(const CheckFailure&) {}
};

}  // namespace vesta::core::detail

#define VESTA_CHECK(condition)                          \
  (condition) ? (void)0                                 \
              : ::vesta::core::detail::CheckVoidify() & \
                    ::vesta::core::detail::CheckFailure(__FILE__, __LINE__, #condition)
