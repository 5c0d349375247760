"""boto3 against berth: the slice with boto3's own waiters, modeled errors, pagination (boto3 and both CLIs),
account/region isolation and AWS_ENDPOINT_URL."""

import unittest
import urllib.request

import botocore.exceptions

from harness import (ACCOUNT, REGION, SLEEPER, BerthTestCase, busybox, cli_version, docker_inspect, sh, wait_for)

FAST = {"Delay": 1, "MaxAttempts": 60}


class Boto3Test(BerthTestCase):

    def test_slice_with_waiters(self):
        ecs = self.ecs
        cluster = ecs.create_cluster(clusterName="b3")["cluster"]
        self.assertEqual(cluster["clusterArn"], f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/b3")
        td = self.register("b3web", [busybox("web", ["httpd", "-f", "-p", "8080", "-h", "/www"],
                                             portMappings=[{"containerPort": 8080, "protocol": "tcp"}],
                                             environment=[{"name": "FROM", "value": "boto3"}], stopTimeout=2)])
        self.assertEqual(td["revision"], 1)
        out = ecs.run_task(cluster="b3", taskDefinition="b3web:1", launchType="EC2", startedBy="boto3-test")
        self.assertEqual(out["failures"], [])
        arn = out["tasks"][0]["taskArn"]
        ecs.get_waiter("tasks_running").wait(cluster="b3", tasks=[arn], WaiterConfig=FAST)
        task = self.describe_task("b3", arn)
        self.assertEqual(task["lastStatus"], "RUNNING")
        self.assertEqual(task.get("startedBy"), "boto3-test")
        self.assertEqual(task["launchType"], "EC2")
        c = task["containers"][0]
        port = c["networkBindings"][0]["hostPort"]
        body = wait_for(lambda: self.http_get(port), timeout=30, what="httpd")
        self.assertIn("hello from berth", body)
        self.assertIn("FROM=boto3", docker_inspect(c["runtimeId"])["Config"]["Env"])

        out = ecs.stop_task(cluster="b3", task=arn, reason="done with it")
        self.assertEqual(out["task"]["desiredStatus"], "STOPPED")
        ecs.get_waiter("tasks_stopped").wait(cluster="b3", tasks=[arn], WaiterConfig=FAST)
        task = self.describe_task("b3", arn)
        self.assertEqual(task["lastStatus"], "STOPPED")
        self.assertEqual(task["stopCode"], "UserInitiated")
        self.assertEqual(task["stoppedReason"], "done with it")
        self.assertIsInstance(task["containers"][0].get("exitCode"), int)
        # boto3 parses the epoch-second timestamps into datetimes.
        for field in ("createdAt", "startedAt", "stoppingAt", "stoppedAt"):
            self.assertTrue(hasattr(task.get(field), "tzinfo"), f"{field}: {task.get(field)!r}")

        self.assertNotIn(arn, ecs.list_tasks(cluster="b3")["taskArns"])
        self.assertIn(arn, ecs.list_tasks(cluster="b3", desiredStatus="STOPPED")["taskArns"])
        self.assertEqual(ecs.delete_cluster(cluster="b3")["cluster"]["status"], "INACTIVE")

    @staticmethod
    def http_get(port):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                return r.read().decode()
        except OSError:
            return None

    def test_tasks_running_waiter_fails_on_stopped(self):
        self.ecs.create_cluster(clusterName="w")
        self.register("dies", [busybox("main", sh("exit 2"))])
        arn = self.ecs.run_task(cluster="w", taskDefinition="dies")["tasks"][0]["taskArn"]
        self.wait_task("w", arn, "STOPPED")
        with self.assertRaises(botocore.exceptions.WaiterError) as ctx:
            self.ecs.get_waiter("tasks_running").wait(cluster="w", tasks=[arn], WaiterConfig=FAST)
        self.assertIn("terminal failure state", str(ctx.exception))

    def test_client_error_codes(self):
        cases = [
            (lambda: self.ecs.run_task(cluster="nope", taskDefinition="x"), "ClusterNotFoundException",
             "Cluster not found."),
            (lambda: self.ecs.list_tasks(cluster="nope"), "ClusterNotFoundException", "Cluster not found."),
            (lambda: self.ecs.describe_task_definition(taskDefinition="ghost"), "ClientException",
             "Unable to describe task definition."),
        ]
        for call, code, message in cases:
            with self.subTest(code=code, message=message):
                with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                    call()
                err = ctx.exception.response["Error"]
                self.assertEqual(err["Code"], code)
                self.assertEqual(err["Message"], message)
                self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
                self.assertTrue(ctx.exception.response["ResponseMetadata"].get("RequestId"))
        # The modeled exception class is what boto3 raises, so `except ecs.exceptions.X` works.
        with self.assertRaises(self.ecs.exceptions.ClusterNotFoundException):
            self.ecs.stop_task(cluster="nope", task="0123456789abcdef0123456789abcdef")
        with self.assertRaises(botocore.exceptions.ParamValidationError):
            self.ecs.run_task(cluster="default")  # client-side: taskDefinition missing

    # ---- pagination

    def register_revisions(self, family, n):
        arns = []
        for _ in range(n):
            arns.append(self.register(family, [busybox("c", sh("exit 0"))])["taskDefinitionArn"])
        self.assertEqual(arns[-1], f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{n}")
        return arns

    def test_pagination(self):
        expected = self.register_revisions("paged", 120)
        self.register("paged-other", [busybox("c", sh("exit 0"))])  # shares the prefix, must not be listed

        with self.subTest("boto3 paginator, PageSize 50"):
            pages = list(self.ecs.get_paginator("list_task_definitions").paginate(
                familyPrefix="paged", PaginationConfig={"PageSize": 50}))
            got = [arn for p in pages for arn in p["taskDefinitionArns"]]
            self.assertEqual(len(got), 120)
            self.assertEqual(got, expected)
            self.assertGreaterEqual(len(pages), 3)
            for p in pages:
                self.assertLessEqual(len(p["taskDefinitionArns"]), 50)
            for p in pages[:-1]:
                self.assertTrue(p.get("nextToken"))
            self.assertNotIn("nextToken", pages[-1])

        with self.subTest("maxResults by hand"):
            first = self.ecs.list_task_definitions(familyPrefix="paged", maxResults=100)
            self.assertEqual(first["taskDefinitionArns"], expected[:100])
            second = self.ecs.list_task_definitions(familyPrefix="paged", maxResults=100,
                                                    nextToken=first["nextToken"])
            self.assertEqual(second["taskDefinitionArns"], expected[100:])
            self.assertNotIn("nextToken", second)
            desc = self.ecs.list_task_definitions(familyPrefix="paged", sort="DESC", maxResults=5)
            self.assertEqual(desc["taskDefinitionArns"], expected[::-1][:5])

        for v in (1, 2):
            for extra in ((), ("--page-size", "50")):
                with self.subTest(cli=v, args=extra):
                    out = self.cli_ok(v, "ecs", "list-task-definitions", "--family-prefix", "paged", *extra)
                    self.assertEqual(out["taskDefinitionArns"], expected)
                    self.assertNotIn("nextToken", out)

    # ---- isolation

    def test_account_and_region_isolation(self):
        self.ecs.create_cluster(clusterName="home")
        other = self.berth.boto3_client(access_key="111122223333", region="eu-west-1")
        self.assertEqual(other.list_clusters()["clusterArns"], [])
        made = other.create_cluster(clusterName="away")["cluster"]
        self.assertEqual(made["clusterArn"], "arn:aws:ecs:eu-west-1:111122223333:cluster/away")
        self.assertEqual(other.list_clusters()["clusterArns"], [made["clusterArn"]])
        self.assertEqual(self.ecs.list_clusters()["clusterArns"],
                         [f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/home"])
        missing = self.ecs.describe_clusters(clusters=["away"])
        self.assertEqual(missing["clusters"], [])
        self.assertEqual(missing["failures"][0]["reason"], "MISSING")

        # Same account, other region: separate again.
        same_account = self.berth.boto3_client(access_key="111122223333", region=REGION)
        self.assertEqual(same_account.list_clusters()["clusterArns"], [])

        # Everything a task carries names that account and region.
        td = self.register("iso", [busybox("main", SLEEPER)], client=other)
        self.assertTrue(td["taskDefinitionArn"].startswith("arn:aws:ecs:eu-west-1:111122223333:task-definition/"))
        task = other.run_task(cluster="away", taskDefinition="iso")["tasks"][0]
        self.assertRegex(task["taskArn"], r"^arn:aws:ecs:eu-west-1:111122223333:task/away/[0-9a-f]{32}$")
        task = self.wait_task("away", task["taskArn"], "RUNNING", client=other)
        c = task["containers"][0]
        self.assertTrue(c["containerArn"].startswith("arn:aws:ecs:eu-west-1:111122223333:container/away/"))
        labels = docker_inspect(c["runtimeId"])["Config"]["Labels"]
        self.assertEqual(labels["com.amazonaws.ecs.cluster"], made["clusterArn"])
        self.assertEqual(self.ecs.list_task_definition_families()["families"], [])
        with self.assertRaises(self.ecs.exceptions.ClusterNotFoundException):
            self.ecs.list_tasks(cluster="away")

    # ---- AWS_ENDPOINT_URL

    def check_endpoint_env(self, v):
        env = {"AWS_ENDPOINT_URL": self.berth.url}
        out = self.cli_ok(v, "ecs", "create-cluster", "--cluster-name", f"env-v{v}", endpoint=False, env=env,
                          timeout=60)
        self.assertEqual(out["cluster"]["clusterArn"], f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/env-v{v}")
        # It really went to this berth.
        self.assertIn(out["cluster"]["clusterArn"], self.ecs.list_clusters()["clusterArns"])
        out = self.cli_ok(v, "ecs", "list-clusters", endpoint=False, env={"AWS_ENDPOINT_URL_ECS": self.berth.url},
                          timeout=60)
        self.assertEqual(out["clusterArns"], [f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/env-v{v}"])

    def test_endpoint_env_cli_v1(self):
        self.check_endpoint_env(1)

    def test_endpoint_env_cli_v2(self):
        if cli_version(2) < (2, 13, 0):
            self.skipTest(f"AWS CLI v2 {'.'.join(map(str, cli_version(2)))} predates AWS_ENDPOINT_URL (2.13)")
        self.check_endpoint_env(2)

    def test_endpoint_env_boto3(self):
        import os

        import boto3
        saved = os.environ.get("AWS_ENDPOINT_URL")
        os.environ["AWS_ENDPOINT_URL"] = self.berth.url
        try:
            client = boto3.session.Session().client("ecs")
            client.create_cluster(clusterName="from-env")
        finally:
            if saved is None:
                del os.environ["AWS_ENDPOINT_URL"]
            else:
                os.environ["AWS_ENDPOINT_URL"] = saved
        self.assertEqual(self.ecs.list_clusters()["clusterArns"],
                         [f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/from-env"])


if __name__ == "__main__":
    unittest.main()
