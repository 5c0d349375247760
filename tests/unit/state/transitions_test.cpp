#include <gtest/gtest.h>

#include <berth/state/transitions.hpp>

namespace berth::state {
namespace {

TEST(TransitionsTest, TaskMovesOnlyForwardAndBumpsVersion) {
  Task t;
  EXPECT_TRUE(advance_task(t, TaskStatus::kPending, 10));
  EXPECT_EQ(t.version, 2);
  EXPECT_FALSE(advance_task(t, TaskStatus::kPending, 11));
  EXPECT_FALSE(advance_task(t, TaskStatus::kProvisioning, 11));
  EXPECT_EQ(t.version, 2);
  EXPECT_TRUE(advance_task(t, TaskStatus::kRunning, 20));
  EXPECT_EQ(t.started_at, 20);
  EXPECT_TRUE(advance_task(t, TaskStatus::kStopped, 30));
  EXPECT_EQ(t.stopping_at, 30);
  EXPECT_EQ(t.execution_stopped_at, 30);
  EXPECT_EQ(t.stopped_at, 30);
  EXPECT_EQ(t.desired_status, TaskStatus::kStopped);
  EXPECT_FALSE(advance_task(t, TaskStatus::kRunning, 40));
}

TEST(TransitionsTest, FirstStopReasonWins) {
  Task t;
  EXPECT_TRUE(request_task_stop(t, "EssentialContainerExited", "Essential container in task exited", 5));
  EXPECT_FALSE(request_task_stop(t, "UserInitiated", "Task stopped by user", 6));
  EXPECT_EQ(t.stop_code, "EssentialContainerExited");
  EXPECT_EQ(t.stopping_at, 5);
}

TEST(TransitionsTest, ContainerStatusNeverMovesBack) {
  Task t;
  Container c;
  EXPECT_TRUE(advance_container(t, c, ContainerStatus::kStopped, 1));
  EXPECT_FALSE(advance_container(t, c, ContainerStatus::kRunning, 2));
  EXPECT_EQ(c.last_status, ContainerStatus::kStopped);
}

TEST(TransitionsTest, StatusNamesAreEcsNames) {
  EXPECT_EQ(to_string(TaskStatus::kProvisioning), "PROVISIONING");
  EXPECT_EQ(to_string(TaskStatus::kDeprovisioning), "DEPROVISIONING");
  EXPECT_EQ(to_string(ContainerStatus::kRunning), "RUNNING");
}

}  // namespace
}  // namespace berth::state
