"""The service scheduler with the real binary, AWS CLI v1 and v2, boto3 and real containers: a service keeps its
tasks running (a container killed from outside is replaced), rolling updates stay within minimumHealthyPercent and
maximumPercent as observed through describe-services, the deployment circuit breaker fails a deployment whose
image cannot be pulled and rolls back, DeleteService --force stops the tasks, and a DAEMON service follows the
cluster's container instances.

berth runs with --service-healthy-after 2 (ECS waits 40 s before a task without a health check counts as healthy),
so rollouts take seconds rather than minutes."""

import time
import unittest

from harness import ACCOUNT, REGION, SLEEPER, BerthTestCase, busybox, docker, docker_inspect, wait_for

ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:"
CLUSTER = "i6-sched"
FAST = {"Delay": 1, "MaxAttempts": 60}
# Nothing listens on port 1: the pull fails at once, as a missing image does.
BAD_IMAGE = "127.0.0.1:1/berth-issue6/missing:latest"


class ServiceSchedulerTest(BerthTestCase):
    berth_args = ("--service-healthy-after", "2")

    def setUp(self):
        super().setUp()
        self.ecs.create_cluster(clusterName=CLUSTER)
        self.td1 = self.register("i6web", [busybox("app", SLEEPER, stopTimeout=2)])["taskDefinitionArn"]

    # ---- helpers

    def describe(self, name):
        out = self.ecs.describe_services(cluster=CLUSTER, services=[name])
        self.assertEqual(out["failures"], [])
        return out["services"][0]

    def service_tasks(self, name, desired="RUNNING"):
        arns = self.ecs.list_tasks(cluster=CLUSTER, serviceName=name, desiredStatus=desired)["taskArns"]
        if not arns:
            return []
        return self.ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]

    def wait_completed(self, name, timeout=60):
        def done():
            s = self.describe(name)
            ok = (len(s["deployments"]) == 1 and s["deployments"][0]["rolloutState"] == "COMPLETED"
                  and s["runningCount"] == s["desiredCount"])
            return s if ok else None
        return wait_for(done, timeout=timeout, what=f"{name} to complete its deployment")

    def events(self, name):
        return [e["message"] for e in self.describe(name)["events"]]

    def container_running(self, runtime_id):
        doc = docker_inspect(runtime_id)
        return doc is not None and doc["State"]["Running"]

    # ---- a service of three: steady state, and a killed container replaced

    def test_service_of_three_is_stable_and_replaces_a_killed_task(self):
        out = self.cli_ok(1, "ecs", "create-service", "--cluster", CLUSTER, "--service-name", "three",
                          "--task-definition", "i6web", "--desired-count", "3")
        deployment = out["service"]["deployments"][0]["id"]
        rc, _, err = self.cli(2, "ecs", "wait", "services-stable", "--cluster", CLUSTER, "--services", "three")
        self.assertEqual(rc, 0, f"aws ecs wait services-stable: {err}")
        s = self.describe("three")
        self.assertEqual((s["runningCount"], s["pendingCount"], len(s["deployments"])), (3, 0, 1))
        tasks = self.service_tasks("three")
        self.assertEqual(len(tasks), 3)
        for t in tasks:
            self.assertEqual(t["lastStatus"], "RUNNING")
            self.assertEqual(t["group"], "service:three")
            self.assertEqual(t["startedBy"], deployment)
            self.assertEqual(t["taskDefinitionArn"], self.td1)
            self.assertTrue(self.container_running(t["containers"][0]["runtimeId"]), t["taskArn"])
        started = [m for m in self.events("three") if m.startswith("(service three) has started ")]
        self.assertEqual(len(started), 1, self.events("three"))
        for t in tasks:
            self.assertIn(f"(task {t['taskArn'].rsplit('/', 1)[1]})", started[0])
        self.wait_completed("three")
        self.assertEqual(self.events("three")[0], "(service three) has reached a steady state.")

        # Kill one task's container from outside berth: the scheduler replaces it.
        victim = tasks[1]
        out = docker("kill", victim["containers"][0]["runtimeId"])
        self.assertEqual(out.returncode, 0, out.stderr)
        dead = self.wait_task(CLUSTER, victim["taskArn"], "STOPPED", timeout=30)
        self.assertEqual(dead["stopCode"], "EssentialContainerExited")
        survivors = {t["taskArn"] for t in tasks} - {victim["taskArn"]}

        def replaced():
            now = self.service_tasks("three")
            running = [t for t in now if t["lastStatus"] == "RUNNING"]
            fresh = [t for t in running if t["taskArn"] not in survivors]
            return fresh if len(running) == 3 and len(fresh) == 1 else None
        [fresh] = wait_for(replaced, timeout=30, what="a replacement task RUNNING")
        self.assertEqual(fresh["startedBy"], deployment)
        self.assertTrue(self.container_running(fresh["containers"][0]["runtimeId"]))
        self.assertIn(f"(service three) has started 1 tasks: (task {fresh['taskArn'].rsplit('/', 1)[1]}).",
                      self.events("three"))
        # A replacement is not a deployment.
        self.assertEqual([d["id"] for d in self.describe("three")["deployments"]], [deployment])

    # ---- a rolling update within its limits

    def test_rolling_update_50_200_stays_within_two_and_eight_tasks(self):
        self.ecs.create_service(cluster=CLUSTER, serviceName="roll", taskDefinition="i6web", desiredCount=4,
                                deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200})
        self.wait_completed("roll")
        td2 = self.register("i6web", [busybox("app", SLEEPER, stopTimeout=2,
                                              environment=[{"name": "V", "value": "2"}])])["taskDefinitionArn"]
        out = self.cli_ok(2, "ecs", "update-service", "--cluster", CLUSTER, "--service", "roll",
                          "--task-definition", td2)
        self.assertEqual([d["status"] for d in out["service"]["deployments"]], ["PRIMARY", "ACTIVE"])
        observations = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            s = self.describe("roll")
            old = [d for d in s["deployments"] if d["taskDefinition"] == self.td1]
            observations.append((s["runningCount"], s["pendingCount"],
                                 old[0]["runningCount"] if old else 0))
            if len(s["deployments"]) == 1 and s["deployments"][0]["rolloutState"] == "COMPLETED" \
                    and s["runningCount"] == 4:
                break
            time.sleep(0.1)
        else:
            self.fail(f"the rolling update did not complete; last observations {observations[-5:]}")
        running = [o[0] for o in observations]
        total = [o[0] + o[1] for o in observations]
        self.assertGreaterEqual(min(running), 2, observations)
        self.assertLessEqual(max(total), 8, observations)
        # It did roll: the old deployment went down to the 50% floor while the new tasks started.
        self.assertIn(2, [o[2] for o in observations], observations)
        tasks = self.service_tasks("roll")
        self.assertEqual(len(tasks), 4)
        self.assertEqual({t["taskDefinitionArn"] for t in tasks}, {td2})
        for t in tasks:
            env = docker_inspect(t["containers"][0]["runtimeId"])["Config"]["Env"]
            self.assertIn("V=2", env)
        stopped = self.service_tasks("roll", desired="STOPPED")
        self.assertEqual(len(stopped), 4)
        for t in stopped:
            self.assertEqual(t["stopCode"], "ServiceSchedulerInitiated")
            self.assertTrue(t["stoppedReason"].startswith("Scaling activity initiated by (deployment ecs-svc/"))

    # ---- the circuit breaker

    def test_bad_image_trips_the_circuit_breaker_and_rolls_back(self):
        ecs = self.ecs
        ecs.create_service(cluster=CLUSTER, serviceName="cb", taskDefinition="i6web", desiredCount=2,
                           deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}})
        good = self.wait_completed("cb")["deployments"][0]["id"]
        good_tasks = {t["taskArn"] for t in self.service_tasks("cb")}
        bad_td = self.register("i6web", [busybox("app", SLEEPER, image=BAD_IMAGE)])["taskDefinitionArn"]
        out = self.cli_ok(1, "ecs", "update-service", "--cluster", CLUSTER, "--service", "cb",
                          "--task-definition", bad_td)
        bad = out["service"]["deployments"][0]["id"]
        sd_arn = out["service"]["currentServiceDeployment"]

        def rolled_back():
            s = self.describe("cb")
            d = s["deployments"]
            return s if len(d) == 1 and d[0]["id"] == good and d[0]["rolloutState"] == "COMPLETED" else None
        s = wait_for(rolled_back, timeout=90, what="the circuit breaker to roll back")
        self.assertEqual(s["taskDefinition"], self.td1)
        messages = [e["message"] for e in s["events"]]
        self.assertIn(f"(service cb) (deployment {bad}) deployment failed: tasks failed to start.", messages)
        self.assertIn(f"(service cb) rolling back to deployment {good}.", messages)
        self.assertLess(messages.index(f"(service cb) rolling back to deployment {good}."),
                        messages.index(f"(service cb) (deployment {bad}) deployment failed: tasks failed to start."))
        # The failed tasks stopped without ever running; the good ones never stopped (100% minimum).
        failed = [t for t in self.service_tasks("cb", desired="STOPPED") if t["taskDefinitionArn"] == bad_td]
        self.assertGreaterEqual(len(failed), 3)
        for t in failed:
            self.assertEqual(t["stopCode"], "TaskFailedToStart")
            self.assertIn("CannotPullContainerError", t["stoppedReason"])
        self.assertEqual({t["taskArn"] for t in self.service_tasks("cb")}, good_tasks)
        # The service deployment tells the same story (CLI v1 knows these newer commands).
        d = self.cli_ok(1, "ecs", "describe-service-deployments", "--service-deployment-arns",
                        sd_arn)["serviceDeployments"][0]
        self.assertEqual(d["status"], "ROLLBACK_SUCCESSFUL")
        self.assertEqual(d["statusReason"], "ECS deployment circuit breaker: task failed to start.")
        self.assertEqual(d["deploymentCircuitBreaker"]["status"], "TRIGGERED")
        self.assertEqual(d["deploymentCircuitBreaker"]["threshold"], 3)
        self.assertGreaterEqual(d["deploymentCircuitBreaker"]["failureCount"], 3)
        self.assertTrue(d["rollback"]["serviceRevisionArn"].endswith("/" + good[len("ecs-svc/"):]))

    def test_bad_image_without_rollback_ends_failed(self):
        self.ecs.create_service(cluster=CLUSTER, serviceName="nocb", taskDefinition="i6web", desiredCount=1,
                                deploymentConfiguration={"minimumHealthyPercent": 0, "maximumPercent": 100,
                                                         "deploymentCircuitBreaker": {"enable": True,
                                                                                      "rollback": False}})
        self.wait_completed("nocb")
        bad_td = self.register("i6web", [busybox("app", SLEEPER, image=BAD_IMAGE)])["taskDefinitionArn"]
        self.ecs.update_service(cluster=CLUSTER, service="nocb", taskDefinition=bad_td)

        def failed():
            s = self.describe("nocb")
            return s if s["deployments"][0]["rolloutState"] == "FAILED" else None
        s = wait_for(failed, timeout=90, what="the deployment to fail")
        d = s["deployments"][0]
        self.assertEqual(d["rolloutStateReason"], "ECS deployment circuit breaker: task failed to start.")
        self.assertEqual(d["failedTasks"], 3)
        self.assertEqual(d["taskDefinition"], bad_td)
        # A FAILED deployment launches nothing more.
        time.sleep(3)
        self.assertEqual(self.describe("nocb")["deployments"][0]["failedTasks"], 3)
        self.assertEqual(len([t for t in self.service_tasks("nocb", desired="STOPPED")
                              if t["taskDefinitionArn"] == bad_td]), 3)
        self.assertIn("(service nocb) is unable to consistently start tasks successfully.", self.events("nocb"))

    # ---- deletion

    def test_delete_with_force_stops_the_tasks(self):
        self.ecs.create_service(cluster=CLUSTER, serviceName="gone", taskDefinition="i6web", desiredCount=2)
        self.ecs.get_waiter("services_stable").wait(cluster=CLUSTER, services=["gone"], WaiterConfig=FAST)
        tasks = self.service_tasks("gone")
        self.assertEqual(len(tasks), 2)
        rc, _, err = self.cli(2, "ecs", "delete-service", "--cluster", CLUSTER, "--service", "gone")
        self.assertNotEqual(rc, 0)
        self.assertIn("The service cannot be stopped while it is scaled above 0.", err)
        out = self.cli_ok(2, "ecs", "delete-service", "--cluster", CLUSTER, "--service", "gone", "--force")
        self.assertEqual(out["service"]["status"], "DRAINING")
        rc, _, err = self.cli(2, "ecs", "wait", "services-inactive", "--cluster", CLUSTER, "--services", "gone")
        self.assertEqual(rc, 0, f"aws ecs wait services-inactive: {err}")
        self.assertEqual(self.describe("gone")["status"], "INACTIVE")
        for t in tasks:
            t = self.wait_task(CLUSTER, t["taskArn"], "STOPPED", timeout=30)
            self.assertEqual(t["stopCode"], "ServiceSchedulerInitiated")
            self.assertFalse(self.container_running(t["containers"][0]["runtimeId"]))
        rc, _, err = self.cli(1, "ecs", "update-service", "--cluster", CLUSTER, "--service", "gone",
                              "--desired-count", "1")
        self.assertIn("(ServiceNotActiveException)", err)

    # ---- DAEMON

    def test_daemon_runs_one_task_per_instance(self):
        ecs = self.ecs
        first = ecs.register_container_instance(cluster=CLUSTER)["containerInstance"]["containerInstanceArn"]
        ecs.create_service(cluster=CLUSTER, serviceName="agent", taskDefinition="i6web", schedulingStrategy="DAEMON")
        wait_for(lambda: len([t for t in self.service_tasks("agent") if t["lastStatus"] == "RUNNING"]) == 1,
                 timeout=30, what="the daemon task on the first instance")
        second = ecs.register_container_instance(cluster=CLUSTER)["containerInstance"]["containerInstanceArn"]

        def two():
            running = [t for t in self.service_tasks("agent") if t["lastStatus"] == "RUNNING"]
            return running if len(running) == 2 else None
        running = wait_for(two, timeout=30, what="a daemon task on the new instance")
        self.assertEqual({t["containerInstanceArn"] for t in running}, {first, second})
        self.assertEqual(self.describe("agent")["desiredCount"], 2)
        ecs.update_container_instances_state(cluster=CLUSTER, containerInstances=[first], status="DRAINING")

        def drained():
            running = [t for t in self.service_tasks("agent") if t["lastStatus"] == "RUNNING"]
            return running if len(running) == 1 and running[0]["containerInstanceArn"] == second else None
        wait_for(drained, timeout=30, what="the daemon task to leave the draining instance")
        self.assertEqual(self.describe("agent")["desiredCount"], 1)


if __name__ == "__main__":
    unittest.main()
