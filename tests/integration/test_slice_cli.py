"""The first slice end to end with the real AWS CLI v1 and v2: cluster, task definition, RunTask, a real
container answering HTTP, StopTask, ListTasks, DeleteCluster."""

import json
import re
import unittest
import urllib.request

from harness import ACCOUNT, REGION, TEST_IMAGE, BerthTestCase, docker_inspect, docker_ps, wait_for

TASK_ARN = re.compile(r"^arn:aws:ecs:us-east-1:000000000000:task/(?P<cluster>[^/]+)/(?P<id>[0-9a-f]{32})$")


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()
    except OSError:
        return None


class SliceCliTest(BerthTestCase):

    def test_slice_cli_v1(self):
        self.check_slice(1)

    def test_slice_cli_v2(self):
        self.check_slice(2)

    def check_slice(self, v):
        cluster = f"slice-v{v}"
        family = f"web-v{v}"
        greeting = f"hello-from-cli-v{v}"
        cluster_arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}"

        out = self.cli_ok(v, "ecs", "create-cluster", "--cluster-name", cluster)
        self.assertEqual(out["cluster"]["clusterArn"], cluster_arn)
        self.assertEqual(out["cluster"]["clusterName"], cluster)
        self.assertEqual(out["cluster"]["status"], "ACTIVE")

        container = {
            "name": "web",
            "image": TEST_IMAGE,
            "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
            "memory": 64,
            "portMappings": [{"containerPort": 8080}],
            "environment": [{"name": "GREETING", "value": greeting}],
            # busybox httpd as PID 1 has no SIGTERM handler: keep the SIGKILL grace short.
            "stopTimeout": 2,
        }
        out = self.cli_ok(v, "ecs", "register-task-definition", "--family", family,
                          "--container-definitions", json.dumps([container]))
        td = out["taskDefinition"]
        self.assertEqual(td["taskDefinitionArn"], f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:1")
        self.assertEqual(td["revision"], 1)
        self.assertEqual(td["status"], "ACTIVE")

        out = self.cli_ok(v, "ecs", "run-task", "--cluster", cluster, "--task-definition", family)
        self.assertEqual(out.get("failures", []), [])
        self.assertEqual(len(out["tasks"]), 1)
        task_arn = out["tasks"][0]["taskArn"]
        m = TASK_ARN.match(task_arn)
        self.assertIsNotNone(m, task_arn)
        self.assertEqual(m.group("cluster"), cluster)

        rc, _, err = self.cli(v, "ecs", "wait", "tasks-running", "--cluster", cluster, "--tasks", task_arn)
        self.assertEqual(rc, 0, f"wait tasks-running failed: {err}")

        task = self.describe(v, cluster, task_arn)
        self.assertEqual(task["lastStatus"], "RUNNING")
        self.assertEqual(task["desiredStatus"], "RUNNING")
        self.assertEqual(task["clusterArn"], cluster_arn)
        self.assertEqual(task["taskDefinitionArn"], td["taskDefinitionArn"])
        self.assertEqual(len(task["containers"]), 1)
        c = task["containers"][0]
        self.assertEqual(c["name"], "web")
        self.assertEqual(c["lastStatus"], "RUNNING")
        runtime_id = c.get("runtimeId")
        self.assertTrue(runtime_id, f"container has no runtimeId: {c}")
        bindings = c.get("networkBindings") or []
        self.assertEqual(len(bindings), 1, c)
        self.assertEqual(bindings[0]["containerPort"], 8080)
        self.assertEqual(bindings[0].get("protocol"), "tcp")
        host_port = bindings[0].get("hostPort")
        self.assertIsInstance(host_port, int)
        self.assertGreater(host_port, 0)

        # The engine really runs it, labelled the way the ECS agent labels containers.
        self.assertIn(runtime_id, docker_ps(f"id={runtime_id}", all_states=False), "container not in docker ps")
        doc = docker_inspect(runtime_id)
        self.assertIsNotNone(doc)
        labels = doc["Config"]["Labels"]
        self.assertEqual(labels.get("com.amazonaws.ecs.cluster"), cluster_arn)
        self.assertEqual(labels.get("com.amazonaws.ecs.task-arn"), task_arn)
        self.assertEqual(labels.get("com.amazonaws.ecs.container-name"), "web")
        self.assertEqual(labels.get("com.amazonaws.ecs.task-definition-family"), family)
        self.assertEqual(labels.get("com.amazonaws.ecs.task-definition-version"), "1")
        self.assertIn(f"GREETING={greeting}", doc["Config"]["Env"])

        body = wait_for(lambda: http_get(f"http://127.0.0.1:{host_port}/"), timeout=30,
                        what=f"httpd on host port {host_port}")
        self.assertIn("hello from berth", body)

        out = self.cli_ok(v, "ecs", "stop-task", "--cluster", cluster, "--task", task_arn)
        self.assertEqual(out["task"]["taskArn"], task_arn)
        self.assertEqual(out["task"]["desiredStatus"], "STOPPED")
        rc, _, err = self.cli(v, "ecs", "wait", "tasks-stopped", "--cluster", cluster, "--tasks", task_arn)
        self.assertEqual(rc, 0, f"wait tasks-stopped failed: {err}")

        task = self.describe(v, cluster, task_arn)
        self.assertEqual(task["lastStatus"], "STOPPED")
        self.assertEqual(task["desiredStatus"], "STOPPED")
        self.assertEqual(task.get("stopCode"), "UserInitiated")
        self.assertEqual(task.get("stoppedReason"), "Task stopped by user")
        c = task["containers"][0]
        self.assertEqual(c["lastStatus"], "STOPPED")
        self.assertIsInstance(c.get("exitCode"), int, f"no exitCode on the stopped container: {c}")
        for field in ("createdAt", "startedAt", "stoppingAt", "stoppedAt"):
            self.assertIn(field, task, f"stopped task lacks {field}")
        self.assertLessEqual(task["createdAt"], task["startedAt"])
        self.assertLessEqual(task["startedAt"], task["stoppingAt"])
        self.assertLessEqual(task["stoppingAt"], task["stoppedAt"])
        doc = docker_inspect(runtime_id)
        self.assertTrue(doc is None or not doc["State"]["Running"], "container still running after STOPPED")

        out = self.cli_ok(v, "ecs", "list-tasks", "--cluster", cluster)
        self.assertNotIn(task_arn, out["taskArns"])
        out = self.cli_ok(v, "ecs", "list-tasks", "--cluster", cluster, "--desired-status", "STOPPED")
        self.assertIn(task_arn, out["taskArns"])

        out = self.cli_ok(v, "ecs", "delete-cluster", "--cluster", cluster)
        self.assertEqual(out["cluster"]["clusterArn"], cluster_arn)
        self.assertEqual(out["cluster"]["status"], "INACTIVE")

        out = self.cli_ok(v, "ecs", "describe-clusters", "--clusters", "no-such-cluster")
        self.assertEqual(out["clusters"], [])
        self.assertEqual(out["failures"], [
            {"arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/no-such-cluster", "reason": "MISSING"}])

    def describe(self, v, cluster, task_arn):
        out = self.cli_ok(v, "ecs", "describe-tasks", "--cluster", cluster, "--tasks", task_arn)
        self.assertEqual(out.get("failures", []), [])
        self.assertEqual(len(out["tasks"]), 1)
        return out["tasks"][0]


if __name__ == "__main__":
    unittest.main()
