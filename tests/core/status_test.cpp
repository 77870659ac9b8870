#include "core/status.h"

#include <gtest/gtest.h>

namespace vesta::core {
namespace {

TEST(Status, CodesMapToHttpStatuses) {
  EXPECT_EQ(http_status_for(StatusCode::kOk), 200);
  EXPECT_EQ(http_status_for(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(http_status_for(StatusCode::kNotFound), 404);
  EXPECT_EQ(http_status_for(StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(http_status_for(StatusCode::kConflict), 409);
  EXPECT_EQ(http_status_for(StatusCode::kPayloadTooLarge), 413);
  EXPECT_EQ(http_status_for(StatusCode::kUnprocessable), 422);
  EXPECT_EQ(http_status_for(StatusCode::kInternal), 500);
  EXPECT_EQ(http_status_for(StatusCode::kUnavailable), 503);
  EXPECT_EQ(http_status_for(StatusCode::kDeadlineExceeded), 503);
  EXPECT_EQ(http_status_for(StatusCode::kCancelled), 499);
  EXPECT_EQ(http_status_for(StatusCode::kResourceExhausted), 503);
}

TEST(Status, ToStringNamesTheCode) {
  EXPECT_EQ(Status::ok().to_string(), "Ok");
  EXPECT_EQ(invalid_argument("limit is -1").to_string(), "InvalidArgument: limit is -1");
}

Status fails_at(int step, int bad) {
  return step == bad ? not_found("step " + std::to_string(step)) : Status::ok();
}

Status run_steps(int bad) {
  for (int step = 0; step < 3; ++step) VESTA_RETURN_IF_ERROR(fails_at(step, bad));
  return Status::ok();
}

TEST(Status, ReturnIfErrorPropagatesTheFirstFailure) {
  EXPECT_TRUE(run_steps(-1).is_ok());
  const Status s = run_steps(1);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "step 1");
}

TEST(Result, HoldsAValueOrAStatus) {
  Result<int> good = 5;
  ASSERT_TRUE(good.is_ok());
  EXPECT_EQ(good.value(), 5);
  EXPECT_TRUE(good.status().is_ok());
  Result<int> bad = invalid_argument("no");
  EXPECT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(CheckDeathTest, FailedCheckAbortsWithLocationAndMessage) {
  EXPECT_DEATH(VESTA_CHECK(1 + 1 == 3) << "arithmetic " << 42,
               "status_test.cpp:[0-9]+: check failed: 1 \\+ 1 == 3: arithmetic 42");
}

TEST(CheckDeathTest, ValueOfAFailedResultAborts) {
  Result<int> bad = invalid_argument("nope");
  EXPECT_DEATH((void)bad.value(), "value\\(\\) of a failed Result: InvalidArgument: nope");
}

}  // namespace
}  // namespace vesta::core
