"""berth inside a container (docker/make-image.sh): it answers on a published port and runs tasks on the host's
engine through the mounted socket; `docker stop` shuts it down cleanly and removes its task containers."""

import json
import os
import socket
import subprocess
import unittest
import urllib.request

import boto3

from harness import HERE, TEST_IMAGE, berth_binary, docker, docker_ps, wait_for

IMAGE = "berth-itest/berth:latest"
NAME = "berth-itest-container"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ContainerImageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        script = os.path.join(HERE, "..", "..", "docker", "make-image.sh")
        subprocess.run([script, berth_binary(), IMAGE], check=True, capture_output=True, text=True)
        docker("rm", "-f", NAME)

    @classmethod
    def tearDownClass(cls):
        docker("rm", "-f", NAME)
        docker("rmi", IMAGE)

    def test_runs_tasks_from_inside_a_container(self):
        port = free_port()
        out = docker("run", "-d", "--name", NAME, "-p", f"127.0.0.1:{port}:4566",
                     "-v", "/var/run/docker.sock:/var/run/docker.sock", IMAGE)
        self.assertEqual(out.returncode, 0, out.stderr)
        base = f"http://127.0.0.1:{port}"

        def health():
            try:
                with urllib.request.urlopen(base + "/_berth/health", timeout=2) as r:
                    return json.loads(r.read())
            except OSError:
                return None

        h = wait_for(health, timeout=30, what="berth in a container to answer")
        self.assertTrue(h["docker"]["reachable"], h)

        ecs = boto3.client("ecs", endpoint_url=base, region_name="us-east-1", aws_access_key_id="test",
                           aws_secret_access_key="test")
        ecs.create_cluster(clusterName="boxed")
        ecs.register_task_definition(family="boxed", containerDefinitions=[
            {"name": "s", "image": TEST_IMAGE, "memory": 32, "command": ["sleep", "300"]}])
        arn = ecs.run_task(cluster="boxed", taskDefinition="boxed")["tasks"][0]["taskArn"]
        ecs.get_waiter("tasks_running").wait(cluster="boxed", tasks=[arn],
                                             WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        runtime_id = ecs.describe_tasks(cluster="boxed", tasks=[arn])["tasks"][0]["containers"][0]["runtimeId"]
        running = docker("inspect", "-f", "{{.State.Running}}", runtime_id)
        self.assertEqual(running.stdout.strip(), "true")

        stopped = docker("stop", "-t", "20", NAME, timeout=60)
        self.assertEqual(stopped.returncode, 0, stopped.stderr)
        code = docker("inspect", "-f", "{{.State.ExitCode}}", NAME).stdout.strip()
        self.assertEqual(code, "0", docker("logs", NAME).stderr[-2000:])
        self.assertEqual(docker_ps(f"label=com.amazonaws.ecs.task-arn={arn}"), [])


if __name__ == "__main__":
    unittest.main()
