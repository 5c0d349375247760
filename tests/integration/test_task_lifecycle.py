"""Task lifecycle against the real engine: exit codes, kills, pull failures, essential vs non-essential
containers, stopTimeout, RunTask count, overrides and the tasks-running waiter's failure path."""

import unittest

from harness import READY, SLEEPER, BerthTestCase, busybox, docker, docker_inspect, sh, wait_for, wait_logged

CLUSTER = "life"


class TaskLifecycleTest(BerthTestCase):

    def setUp(self):
        super().setUp()
        self.ecs.create_cluster(clusterName=CLUSTER)

    def run_one(self, family, containers, **kw):
        self.register(family, containers)
        out = self.ecs.run_task(cluster=CLUSTER, taskDefinition=family, **kw)
        self.assertEqual(out.get("failures", []), [])
        return out["tasks"]

    def container(self, task, name):
        for c in task["containers"]:
            if c["name"] == name:
                return c
        self.fail(f"task has no container {name}: {task['containers']}")

    def test_exit_code_propagates(self):
        [task] = self.run_one("exit3", [busybox("main", sh("exit 3"))])
        task = self.wait_task(CLUSTER, task["taskArn"], "STOPPED")
        c = self.container(task, "main")
        self.assertEqual(c["lastStatus"], "STOPPED")
        self.assertEqual(c.get("exitCode"), 3)
        self.assertEqual(task.get("stopCode"), "EssentialContainerExited")
        self.assertEqual(task.get("stoppedReason"), "Essential container in task exited")
        self.assertEqual(task["desiredStatus"], "STOPPED")

    def test_container_killed_outside_berth(self):
        [task] = self.run_one("victim", [busybox("main", SLEEPER)])
        task = self.wait_task(CLUSTER, task["taskArn"], "RUNNING")
        runtime_id = self.container(task, "main")["runtimeId"]
        out = docker("kill", runtime_id)
        self.assertEqual(out.returncode, 0, out.stderr)
        task = self.wait_task(CLUSTER, task["taskArn"], "STOPPED")
        c = self.container(task, "main")
        self.assertEqual(c.get("exitCode"), 137)
        self.assertEqual(task.get("stopCode"), "EssentialContainerExited")

    def test_image_that_cannot_be_pulled(self):
        [task] = self.run_one("badimage", [{"name": "main", "image": "berth-test/does-not-exist:nope",
                                            "memory": 64}])
        task = self.wait_task(CLUSTER, task["taskArn"], "STOPPED")
        self.assertEqual(task.get("stopCode"), "TaskFailedToStart")
        reason = task.get("stoppedReason", "")
        self.assertTrue(reason.startswith("CannotPullContainerError:"), reason)
        self.assertGreater(len(reason), len("CannotPullContainerError:"), "no engine message in the reason")
        c = self.container(task, "main")
        self.assertEqual(c["lastStatus"], "STOPPED")
        self.assertEqual(c.get("reason"), reason)
        self.assertNotIn("exitCode", c)

    def test_non_essential_exit_keeps_task_running(self):
        [task] = self.run_one("pair", [busybox("main", SLEEPER),
                                       busybox("sidecar", sh("exit 0"), essential=False)])
        arn = task["taskArn"]

        def sidecar_done():
            t = self.describe_task(CLUSTER, arn)
            self.assertNotEqual(t["lastStatus"], "STOPPED", f"task stopped: {t.get('stoppedReason')}")
            side = self.container(t, "sidecar")
            return t if side["lastStatus"] == "STOPPED" else None

        task = wait_for(sidecar_done, timeout=60, what="the non-essential container to exit")
        self.assertEqual(self.container(task, "sidecar").get("exitCode"), 0)
        # Several more looks: the task must stay RUNNING with its essential container.
        for _ in range(3):
            task = self.wait_task(CLUSTER, arn, "RUNNING")
            self.assertEqual(task["desiredStatus"], "RUNNING")
            self.assertEqual(self.container(task, "main")["lastStatus"], "RUNNING")
            main_id = self.container(task, "main")["runtimeId"]
            self.assertTrue(docker_inspect(main_id)["State"]["Running"])

    def test_stop_timeout_then_sigkill(self):
        stubborn = busybox("main", sh("trap '' TERM; while :; do sleep 1; done"), stopTimeout=3)
        [task] = self.run_one("stubborn", [stubborn])
        arn = task["taskArn"]
        self.wait_task(CLUSTER, arn, "RUNNING")
        self.ecs.stop_task(cluster=CLUSTER, task=arn)
        # The default stopTimeout is 30 s; a STOPPED task well before that shows the 3 s value was used.
        task = self.wait_task(CLUSTER, arn, "STOPPED", timeout=25)
        self.assertEqual(self.container(task, "main").get("exitCode"), 137)
        self.assertEqual(task.get("stopCode"), "UserInitiated")

    def test_sigterm_first(self):
        polite = busybox("main", sh(f"trap 'exit 143' TERM; echo {READY}; sleep 3600 & wait"), stopTimeout=60)
        [task] = self.run_one("polite", [polite])
        arn = task["taskArn"]
        running = self.wait_task(CLUSTER, arn, "RUNNING")
        wait_logged(self.container(running, "main")["runtimeId"])
        out = self.ecs.stop_task(cluster=CLUSTER, task=arn, reason="enough")
        self.assertEqual(out["task"]["desiredStatus"], "STOPPED")
        task = self.wait_task(CLUSTER, arn, "STOPPED", timeout=50)
        self.assertEqual(self.container(task, "main").get("exitCode"), 143)
        self.assertEqual(task.get("stopCode"), "UserInitiated")
        self.assertEqual(task.get("stoppedReason"), "enough")

    def test_run_task_count(self):
        tasks = self.run_one("three", [busybox("main", SLEEPER)], count=3)
        self.assertEqual(len(tasks), 3)
        arns = {t["taskArn"] for t in tasks}
        self.assertEqual(len(arns), 3)
        runtime_ids = set()
        for arn in arns:
            task = self.wait_task(CLUSTER, arn, "RUNNING")
            runtime_ids.add(self.container(task, "main")["runtimeId"])
        self.assertEqual(len(runtime_ids), 3)
        cluster_arn = tasks[0]["clusterArn"]
        on_engine = set()
        for rid in runtime_ids:
            doc = docker_inspect(rid)
            self.assertIsNotNone(doc)
            self.assertTrue(doc["State"]["Running"])
            self.assertEqual(doc["Config"]["Labels"]["com.amazonaws.ecs.cluster"], cluster_arn)
            self.assertIn(doc["Config"]["Labels"]["com.amazonaws.ecs.task-arn"], arns)
            on_engine.add(doc["Config"]["Labels"]["com.amazonaws.ecs.task-arn"])
        self.assertEqual(on_engine, arns)
        listed = self.ecs.list_tasks(cluster=CLUSTER)["taskArns"]
        self.assertEqual(set(listed), arns)

    def test_overrides_applied(self):
        self.register("ovr", [busybox("main", sh("echo from-definition; sleep 3600"),
                                      environment=[{"name": "KEEP", "value": "kept"},
                                                   {"name": "MODE", "value": "definition"}])])
        override_cmd = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done; echo overridden"]
        out = self.ecs.run_task(cluster=CLUSTER, taskDefinition="ovr", overrides={"containerOverrides": [{
            "name": "main",
            "command": override_cmd,
            "environment": [{"name": "MODE", "value": "override"}, {"name": "EXTRA", "value": "yes"}],
        }]})
        arn = out["tasks"][0]["taskArn"]
        task = self.wait_task(CLUSTER, arn, "RUNNING")
        doc = docker_inspect(self.container(task, "main")["runtimeId"])
        self.assertEqual(doc["Config"]["Cmd"], override_cmd)
        env = doc["Config"]["Env"]
        self.assertIn("MODE=override", env)
        self.assertNotIn("MODE=definition", env)
        self.assertIn("EXTRA=yes", env)
        self.assertIn("KEEP=kept", env)
        overrides = task["overrides"]["containerOverrides"]
        self.assertEqual([o["name"] for o in overrides], ["main"])
        self.assertEqual(overrides[0].get("command"), override_cmd)

    def test_container_settings_reach_docker(self):
        script = "trap 'exit 0' TERM; while :; do sleep 1; done"
        self.register("settings", [busybox(
            "main", [script], entryPoint=["sh", "-c"], memory=96, memoryReservation=48, cpu=128,
            workingDirectory="/www", user="1000:1000", hostname="berth-host",
            dockerLabels={"team": "integration", "x.y": "z"})])
        arn = self.ecs.run_task(cluster=CLUSTER, taskDefinition="settings")["tasks"][0]["taskArn"]
        task = self.wait_task(CLUSTER, arn, "RUNNING")
        doc = docker_inspect(self.container(task, "main")["runtimeId"])
        config, host = doc["Config"], doc["HostConfig"]
        self.assertEqual(config["Entrypoint"], ["sh", "-c"])
        self.assertEqual(config["Cmd"], [script])
        self.assertEqual(config["WorkingDir"], "/www")
        self.assertEqual(config["User"], "1000:1000")
        self.assertEqual(config["Hostname"], "berth-host")
        self.assertEqual(config["Labels"].get("team"), "integration")
        self.assertEqual(config["Labels"].get("x.y"), "z")
        self.assertEqual(host["Memory"], 96 * 1024 * 1024)
        self.assertEqual(host["MemoryReservation"], 48 * 1024 * 1024)
        self.assertEqual(host["CpuShares"], 128)
        self.assertEqual(host["NetworkMode"], "bridge")

    def test_tasks_running_waiter_fails_for_stopped_task(self):
        [task] = self.run_one("quitter", [busybox("main", sh("exit 1"))])
        arn = task["taskArn"]
        self.wait_task(CLUSTER, arn, "STOPPED")
        for v in (1, 2):
            with self.subTest(cli=v):
                rc, _, err = self.cli(v, "ecs", "wait", "tasks-running", "--cluster", CLUSTER, "--tasks", arn,
                                      timeout=120)
                self.assertNotEqual(rc, 0)
                self.assertIn("Waiter TasksRunning failed", err)


if __name__ == "__main__":
    unittest.main()
