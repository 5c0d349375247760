"""berth's own surface: /_berth/health, reset, an unreachable engine, graceful shutdown, logs, the command line."""

import json
import socket
import subprocess
import time
import unittest
import uuid

from harness import (ACCOUNT, REGION, SLEEPER, BerthTestCase, berth_binary, busybox, containers_of_tasks,
                     docker_inspect, sh)


def run_berth_cli(*args, timeout=20):
    return subprocess.run([berth_binary(), *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class AdminTest(BerthTestCase):

    def start_sleeper(self, client, cluster="adm", family="sleeper", container=None):
        client.create_cluster(clusterName=cluster)
        client.register_task_definition(family=family, containerDefinitions=[container or busybox("main", SLEEPER)])
        arn = client.run_task(cluster=cluster, taskDefinition=family)["tasks"][0]["taskArn"]
        task = self.wait_task(cluster, arn, "RUNNING", client=client)
        runtime_id = task["containers"][0]["runtimeId"]
        self.assertTrue(docker_inspect(runtime_id)["State"]["Running"])
        return arn, runtime_id

    # ---- health and reset

    def test_health(self):
        first = self.berth.health()
        self.assertEqual(first["status"], "ok")
        version = run_berth_cli("version").stdout.strip()
        self.assertEqual(version, f"berth {first['version']}")
        self.assertIsInstance(first["uptimeSeconds"], (int, float))
        self.assertGreaterEqual(first["uptimeSeconds"], 0)
        docker = first["docker"]
        self.assertIs(docker["reachable"], True)
        self.assertIsInstance(docker.get("version"), str)
        self.assertTrue(docker["version"])
        self.assertIsInstance(docker.get("apiVersion"), str)
        self.assertNotIn("error", docker)
        second = self.berth.health()
        self.assertGreaterEqual(second["uptimeSeconds"], first["uptimeSeconds"])
        status, headers, _ = self.berth.request("GET", "/_berth/health")
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)

    def test_reset_removes_state_and_containers(self):
        for path in ("/_berth/reset", "/moto-api/reset"):
            with self.subTest(path):
                arn, runtime_id = self.start_sleeper(self.ecs)
                self.assertEqual(len(self.ecs.list_clusters()["clusterArns"]), 1)
                self.berth.reset(path)
                self.assertEqual(self.ecs.list_clusters()["clusterArns"], [])
                self.assertEqual(self.ecs.list_task_definition_families()["families"], [])
                with self.assertRaises(self.ecs.exceptions.ClusterNotFoundException):
                    self.ecs.describe_tasks(cluster="adm", tasks=[arn])
                self.assertIsNone(docker_inspect(runtime_id), f"{path} left container {runtime_id} behind")

    # ---- an engine that is not there

    def test_unreachable_docker(self):
        sock = f"/tmp/berth-nonexistent-{uuid.uuid4().hex[:8]}.sock"
        b = self.start_extra_berth("--docker-host", f"unix://{sock}")
        health = b.health()
        self.assertEqual(health["status"], "ok")
        self.assertIs(health["docker"]["reachable"], False)
        self.assertIsInstance(health["docker"].get("error"), str)
        self.assertTrue(health["docker"]["error"])

        ecs = b.boto3_client()
        ecs.create_cluster(clusterName="nodocker")
        ecs.register_task_definition(family="f", containerDefinitions=[busybox("main", SLEEPER)])
        out = ecs.run_task(cluster="nodocker", taskDefinition="f")
        self.assertEqual(out["failures"], [])
        arn = out["tasks"][0]["taskArn"]
        task = self.wait_task("nodocker", arn, "STOPPED", client=ecs)
        self.assertEqual(task.get("stopCode"), "TaskFailedToStart")
        reason = task.get("stoppedReason", "")
        self.assertTrue(sock in reason or "docker" in reason.lower(), f"reason does not name the failure: {reason}")

        # Still serving.
        self.assertEqual(ecs.list_clusters()["clusterArns"], [f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/nodocker"])
        self.assertEqual(b.health()["docker"]["reachable"], False)
        problems = b.stop_and_check(timeout=30)
        self.assertEqual(problems, [], b.log_tail())

    # ---- shutdown

    def test_graceful_shutdown_removes_running_containers(self):
        b = self.start_extra_berth()
        # A container that ignores SIGTERM with the default 30 s stopTimeout: berth must not wait for it.
        stubborn = busybox("main", sh("trap '' TERM; while :; do sleep 1; done"))
        _, runtime_id = self.start_sleeper(b.boto3_client(), container=stubborn)
        b.collect_instances()
        self.assertTrue(b.instances, "could not learn the berth instance label from its container")
        rc = b.terminate(timeout=20)
        self.assertEqual(rc, 0, b.log_tail())
        self.assertIsNone(docker_inspect(runtime_id), "container survived berth's shutdown")
        self.assertEqual(b.leftover_containers(), [])

    def test_shutdown_right_after_run_task(self):
        """SIGTERM while RunTask's containers are still being created: the ones created during the shutdown
        must go too. Three rounds, because the window is a race."""
        for round_ in range(3):
            with self.subTest(round=round_):
                b = self.start_extra_berth(name=f"shutdown-race-{round_}")
                ecs = b.boto3_client()
                ecs.create_cluster(clusterName="race")
                ecs.register_task_definition(family="race", containerDefinitions=[busybox("main", SLEEPER)])
                tasks = ecs.run_task(cluster="race", taskDefinition="race", count=10)["tasks"]
                self.assertEqual(len(tasks), 10)
                rc = b.terminate(timeout=20)
                self.assertEqual(rc, 0, b.log_tail())
                time.sleep(2)  # let creates the engine accepted before berth exited finish (settling, not timing)
                left = b.leftover_containers()
                states = [(docker_inspect(c) or {}).get("State", {}).get("Status") for c in left]
                self.assertEqual(left, [], f"berth exited leaving containers in states {states}")

    def test_reset_right_after_run_task(self):
        for round_ in range(3):
            with self.subTest(round=round_):
                self.ecs.create_cluster(clusterName="race")
                self.ecs.register_task_definition(family="race", containerDefinitions=[busybox("main", SLEEPER)])
                tasks = self.ecs.run_task(cluster="race", taskDefinition="race", count=10)["tasks"]
                task_ids = {t["taskArn"].rsplit("/", 1)[1] for t in tasks}
                self.berth.reset()
                time.sleep(2)  # settling, not timing
                self.assertEqual(containers_of_tasks(task_ids), [])
                self.assertEqual(self.ecs.list_clusters()["clusterArns"], [])

    # ---- logs

    def test_json_logs(self):
        b = self.start_extra_berth("--log-format", "json", "--log-level", "debug")
        ecs = b.boto3_client()
        ecs.create_cluster(clusterName="logs")
        # Things that make berth log awkward text: a pull of an odd reference, an exit, a reset.
        ecs.register_task_definition(family="odd", containerDefinitions=[
            {"name": "main", "image": 'berth-test/"quoted"\\back\tslash:\u00e9', "memory": 32}])
        ecs.register_task_definition(family="ok", containerDefinitions=[busybox("main", sh("exit 4"))])
        odd = ecs.run_task(cluster="logs", taskDefinition="odd")["tasks"][0]["taskArn"]
        ok = ecs.run_task(cluster="logs", taskDefinition="ok")["tasks"][0]["taskArn"]
        self.wait_task("logs", odd, "STOPPED", client=ecs)
        self.wait_task("logs", ok, "STOPPED", client=ecs)
        b.raw("ListClusters", b"{broken")
        self.assertEqual(b.stop_and_check(), [])

        with open(b.log_path, "rb") as f:
            lines = f.read().split(b"\n")
        self.assertEqual(lines[-1], b"", "log does not end with a newline")
        lines = lines[:-1]
        self.assertGreaterEqual(len(lines), 3, lines)
        for i, line in enumerate(lines):
            with self.subTest(line=i):
                try:
                    doc = json.loads(line.decode("utf-8"))
                except ValueError as e:
                    self.fail(f"log line {i} is not JSON ({e}): {line!r}")
                self.assertIsInstance(doc, dict, line)
                for key in ("time", "level", "msg"):
                    self.assertIsInstance(doc.get(key), str, line)
        msgs = [json.loads(line)["msg"] for line in lines]
        self.assertTrue(any("listening" in m for m in msgs), msgs)

    def test_secrets_never_logged(self):
        b = self.start_extra_berth("--log-level", "trace")
        signature = "5ec2e75ec2e75ec2e7" + "0123456789abcdef" * 2 + "5ec2e75ec2e75e"
        token = "BERTHSECRETTOKEN-" + uuid.uuid4().hex
        auth = ("AWS4-HMAC-SHA256 Credential=AKIDBERTHTEST/20240101/us-east-1/ecs/aws4_request, "
                f"SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature={signature}")
        secret_headers = {"Authorization": auth, "X-Amz-Security-Token": token, "X-Amz-Date": "20240101T000000Z"}
        answers = [
            b.raw("ListClusters", b"{}", secret_headers),
            b.raw("CreateCluster", {"clusterName": "sec"}, secret_headers),
            b.raw("ListClusters", b"{not json", secret_headers),
            b.raw("NoSuchOperation", b"{}", secret_headers),
            b.raw("RunTask", {"launchType": "MOON"}, secret_headers),
            b.raw("ListClusters", b"{}", {**secret_headers, **{f"X-Pad-{i}": "p" for i in range(150)}}),
            b.raw("CreateCluster", b'{"clusterName":"' + b"a" * (5 * 1024 * 1024) + b'"}', secret_headers),
        ]
        self.assertEqual(answers[0][0], 200)
        self.assertEqual(answers[1][0], 200)
        # Real signed traffic with a session token, including a task that fails to pull.
        boto_token = "BOTO3SECRETTOKEN-" + uuid.uuid4().hex
        ecs = b.boto3_client(session_token=boto_token)
        ecs.register_task_definition(family="sec", containerDefinitions=[
            {"name": "main", "image": "berth-test/not-here:1", "memory": 32}])
        arn = ecs.run_task(cluster="sec", taskDefinition="sec")["tasks"][0]["taskArn"]
        self.wait_task("sec", arn, "STOPPED", client=ecs)
        self.assertEqual(b.stop_and_check(), [])

        log = b.log_text()
        self.assertTrue(log.strip(), "empty log")
        for secret in (signature, token, boto_token):
            self.assertNotIn(secret, log)
        # Not even partially (e.g. a truncated header dump).
        self.assertNotIn(signature[:24], log)
        self.assertNotIn(token[:24], log)
        self.assertNotIn(boto_token[:24], log)

    # ---- the command line

    def test_version_and_help(self):
        out = run_berth_cli("version")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout.strip(), r"^berth \d+\.\d+\.\d+")
        out = run_berth_cli("--help")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("serve", out.stdout)
        self.assertIn("--port", out.stdout)

    def test_bad_port_flag(self):
        out = run_berth_cli("serve", "--port", "99999")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("--port", out.stdout + out.stderr)

    def test_port_in_use(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            try:
                out = run_berth_cli("serve", "--port", str(port), timeout=10)
            except subprocess.TimeoutExpired:
                self.fail(f"berth kept running although port {port} is taken")
        self.assertNotEqual(out.returncode, 0)
        self.assertNotIn("berth ready", out.stdout)
        self.assertIn(str(port), out.stdout + out.stderr)


if __name__ == "__main__":
    unittest.main()
