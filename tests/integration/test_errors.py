"""Malformed and hostile requests: every one gets an AWS-shaped answer, never a 5xx or a dropped connection."""

import copy
import http.client
import json
import os
import random
import unittest

from harness import ECS_PREFIX, TEST_IMAGE, BerthTestCase, busybox, sh

MAX_BODY = 65536


class ErrorsTest(BerthTestCase):
    # A small body limit so the oversized-body case needs only 100 KB.
    berth_args = ("--max-body-bytes", str(MAX_BODY))

    @classmethod
    def tearDownClass(cls):
        # After every malformed request above, berth must still answer the plain things.
        problems = []
        try:
            if cls.berth.health().get("status") != "ok":
                problems.append("health is not ok")
            status, _, body = cls.berth.raw("ListClusters", b"{}")
            if status != 200:
                problems.append(f"ListClusters answered {status}: {body!r}")
        except Exception as e:  # noqa: BLE001
            problems.append(f"berth stopped answering: {e!r}")
        try:
            super().tearDownClass()
        finally:
            if problems:
                raise AssertionError("after the error tests: " + "; ".join(problems))

    def assert_aws_error(self, answer, status, error_type, message_contains=None):
        code, headers, body = answer
        self.assertEqual(code, status, f"body: {body!r}")
        self.assertIsInstance(body, dict, f"error body is not a JSON object: {body!r}")
        self.assertEqual(body.get("__type"), error_type, body)
        self.assertIsInstance(body.get("message"), str, body)
        self.assertTrue(body["message"], body)
        if message_contains:
            self.assertIn(message_contains, body["message"])
        self.assertTrue(headers.get("x-amzn-requestid"), f"no x-amzn-RequestId header: {headers}")
        return body

    def test_malformed_requests(self):
        cases = [
            ("bad JSON", ("ListClusters", b'{"maxResults": '), 400, "SerializationException", None),
            ("JSON array body", ("ListClusters", b"[]"), 400, "SerializationException", None),
            ("JSON string body", ("ListClusters", b'"hello"'), 400, "SerializationException", None),
            ("unknown target prefix", ("NotAService_20200101.ListClusters", b"{}"), 400,
             "UnknownOperationException", None),
            ("unknown operation", (f"{ECS_PREFIX}.FlyToTheMoon", b"{}"), 400, "UnknownOperationException", None),
            ("missing X-Amz-Target", (None, b"{}"), 400, "UnknownOperationException", None),
            ("count as string", ("RunTask", {"taskDefinition": "x", "count": "3"}), 400,
             "SerializationException", None),
            ("containerDefinitions as object",
             ("RegisterTaskDefinition", {"family": "f", "containerDefinitions": {"name": "a"}}), 400,
             "SerializationException", None),
            ("RunTask without taskDefinition", ("RunTask", {"cluster": "default"}), 400, "ValidationException",
             "Member must not be null"),
            ("bad enum", ("RunTask", {"taskDefinition": "x", "launchType": "MOON"}), 400, "ValidationException",
             "MOON"),
            ("10,000 levels of nesting", ("ListClusters", b"[" * 10000 + b"]" * 10000), 400,
             "SerializationException", None),
            ("10,000 nested objects", ("ListClusters", b'{"a":' * 10000 + b"1" + b"}" * 10000), 400,
             "SerializationException", None),
            ("invalid UTF-8", ("CreateCluster", b'{"clusterName": "\xff\xfe\xfd"}'), 400,
             "SerializationException", None),
            ("unimplemented operation", ("AmazonEC2ContainerRegistry_V20150921.DescribeRepositories", {}), 400,
             "ValidationException", "DescribeRepositories"),
            ("unknown task definition", ("DescribeTaskDefinition", {"taskDefinition": "nope:7"}), 400,
             "ClientException", "Unable to describe task definition."),
            ("unknown cluster", ("ListTasks", {"cluster": "nope"}), 400, "ClusterNotFoundException",
             "Cluster not found."),
        ]
        for name, (target, body), status, error_type, contains in cases:
            with self.subTest(name):
                self.assert_aws_error(self.raw(target, body), status, error_type, contains)

    def test_unsupported_operation_names_itself(self):
        # Every ECS operation is answered; ECR and Application Auto Scaling ones not yet, each with its service's
        # own error type. Valid input, so the model validation that runs first has nothing to say.
        for target, error_type in (("AmazonEC2ContainerRegistry_V20150921.DescribeRepositories", "ValidationException"),
                                   ("AnyScaleFrontendService.DescribeScalableTargets", "ValidationException")):
            body = {"ServiceNamespace": "ecs"} if target.startswith("AnyScale") else {}
            with self.subTest(target):
                answer = self.assert_aws_error(self.raw(target, body), 400, error_type)
                op = target.split(".", 1)[1]
                self.assertEqual(answer["message"], f"The {op} operation is not supported by berth yet.")

    def test_oversized_body(self):
        padding = "x" * (100 * 1024)
        answer = self.raw("CreateCluster", json.dumps({"clusterName": "big", "tags": [
            {"key": "k", "value": padding}]}).encode())
        self.assert_aws_error(answer, 413, "RequestEntityTooLargeException")
        # Just under the limit is still read and answered normally (here: a validation error, not a 413).
        under = json.dumps({"clusterName": "x" * (MAX_BODY - 100)}).encode()
        self.assertLess(len(under), MAX_BODY)
        status, _, body = self.raw("CreateCluster", under)
        self.assertNotEqual(status, 413, body)
        self.assertLess(status, 500, body)

    def test_too_many_headers(self):
        headers = {f"X-Berth-Filler-{i}": str(i) for i in range(150)}
        self.assert_aws_error(self.raw("ListClusters", b"{}", headers), 431, "RequestHeaderFieldsTooLarge")

    def test_empty_body_is_an_empty_input(self):
        status, headers, body = self.raw("ListClusters", b"")
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"clusterArns": []})
        self.assertTrue(headers.get("x-amzn-requestid"))
        self.assertTrue(headers.get("content-type", "").startswith("application/x-amz-json-1.1"), headers)

    def test_cli_errors(self):
        self.ecs.register_task_definition(family="exists", containerDefinitions=[busybox("a", sh("exit 0"))])
        # A service error exits 254 with CLI v2; CLI v1 uses 255 for every failure (awscli/clidriver.py).
        for v, service_error_rc in ((1, 255), (2, 254)):
            with self.subTest(cli=v):
                rc, _, err = self.cli(v, "ecs", "run-task", "--cluster", "nope", "--task-definition", "exists")
                self.assertEqual(rc, service_error_rc, err)
                self.assertIn("(ClusterNotFoundException)", err)
                self.assertIn("Cluster not found.", err)
                rc, _, err = self.cli(v, "ecs", "describe-task-definition", "--task-definition", "nope")
                self.assertEqual(rc, service_error_rc, err)
                self.assertIn("(ClientException)", err)
                self.assertIn("Unable to describe task definition.", err)
        # The same through boto3: the code comes from __type.
        import botocore.exceptions
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.ecs.describe_task_definition(taskDefinition="nope")
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ClientException")
        self.assertEqual(ctx.exception.response["Error"]["Message"], "Unable to describe task definition.")

    def test_still_serving_after_abuse(self):
        # Everything above in one go, then the plain operations must still work.
        self.raw("ListClusters", b"[" * 10000)
        self.raw(None, b"\x00\xff" * 100)
        self.raw("ListClusters", b"{}", {f"X-F-{i}": "v" for i in range(150)})
        self.raw("CreateCluster", b'{"clusterName":"' + b"a" * (2 * MAX_BODY) + b'"}')
        self.assertEqual(self.berth.health()["status"], "ok")
        for v in (1, 2):
            with self.subTest(cli=v):
                out = self.cli_ok(v, "ecs", "list-clusters")
                self.assertEqual(out["clusterArns"], [])

    def test_keep_alive_survives_errors(self):
        """An error answer must not poison the connection it came on."""
        conn = http.client.HTTPConnection("127.0.0.1", self.berth.port, timeout=30)
        try:
            for body in (b"{nope", b"{}", b"[]", b"{}"):
                conn.request("POST", "/", body, {"Content-Type": "application/x-amz-json-1.1",
                                                  "X-Amz-Target": f"{ECS_PREFIX}.ListClusters"})
                resp = conn.getresponse()
                data = json.loads(resp.read())
                if body == b"{}":
                    self.assertEqual(resp.status, 200, data)
                else:
                    self.assertEqual(resp.status, 400, data)
                    self.assertEqual(data["__type"], "SerializationException")
        finally:
            conn.close()

    # ---- fuzz

    SEEDS = [
        ("CreateCluster", {"clusterName": "fuzz", "tags": [{"key": "k", "value": "v"}],
                           "settings": [{"name": "containerInsights", "value": "enabled"}]}),
        ("ListClusters", {"maxResults": 10}),
        ("DescribeClusters", {"clusters": ["fuzz", "default"], "include": ["TAGS", "SETTINGS"]}),
        ("RegisterTaskDefinition", {
            "family": "fuzz", "networkMode": "bridge", "cpu": "256", "memory": "512",
            "containerDefinitions": [{
                "name": "a", "image": TEST_IMAGE, "command": ["sh", "-c", "exit 0"], "memory": 32,
                "essential": True, "environment": [{"name": "A", "value": "b"}],
                "portMappings": [{"containerPort": 80, "protocol": "tcp"}], "stopTimeout": 1}]}),
        ("DescribeTaskDefinition", {"taskDefinition": "fuzz", "include": ["TAGS"]}),
        ("ListTaskDefinitions", {"familyPrefix": "fuzz", "status": "ACTIVE", "sort": "DESC", "maxResults": 5}),
        ("ListTaskDefinitionFamilies", {"familyPrefix": "fu", "status": "ALL", "maxResults": 3}),
        ("DeregisterTaskDefinition", {"taskDefinition": "fuzz:1"}),
        ("RunTask", {"cluster": "fuzz", "taskDefinition": "fuzz", "count": 1, "launchType": "EC2",
                     "startedBy": "fuzz", "overrides": {"containerOverrides": [{
                         "name": "a", "command": ["sh", "-c", "exit 0"],
                         "environment": [{"name": "X", "value": "y"}]}]}}),
        ("DescribeTasks", {"cluster": "fuzz", "tasks": ["0123456789abcdef0123456789abcdef"], "include": ["TAGS"]}),
        ("ListTasks", {"cluster": "fuzz", "desiredStatus": "STOPPED", "maxResults": 10, "family": "fuzz"}),
        ("StopTask", {"cluster": "fuzz", "task": "0123456789abcdef0123456789abcdef", "reason": "fuzz"}),
        ("DeleteCluster", {"cluster": "fuzz"}),
    ]

    JUNK = [None, True, False, 0, -1, 1, 2 ** 31, -2 ** 31 - 1, 2 ** 63, 2 ** 64 + 1, 10 ** 40, 1e308, -1e308,
            0.5, -0.0, "", " ", "x" * 3000, "\u0000", "\u00fc\U0001F600\u202e", "../../etc/passwd", "%s%n",
            "arn:aws:ecs:us-east-1:000000000000:cluster/fuzz", "fuzz:999999999999", "fuzz:-1", "fuzz:0",
            [], {}, [[[]]], {"a": {"b": {"c": {}}}}, [None], [1, "a", None], {"name": None}]

    def test_fuzz(self):
        seed = int(os.environ.get("BERTH_FUZZ_SEED", "20241122"))
        rng = random.Random(seed)
        statuses = {}
        for i in range(300):
            op, seed_body = rng.choice(self.SEEDS)
            target, body = self.mutate(rng, op, copy.deepcopy(seed_body))
            try:
                status, _, answer = self.raw(target, body)
            except (OSError, http.client.HTTPException) as e:
                self.fail(f"request {i} (seed {seed}) dropped the connection: {e!r}; target={target} "
                          f"body={body[:300]!r}")
            statuses[status] = statuses.get(status, 0) + 1
            where = f"request {i} (seed {seed}): target={target} body={body[:300]!r} -> {status} {answer!r:.300}"
            self.assertTrue(status == 200 or 400 <= status < 500, where)
            self.assertIsInstance(answer, dict, where)
            if status != 200:
                self.assertIsInstance(answer.get("__type"), str, where)
                self.assertTrue(answer["__type"], where)
            self.assertTrue(self.berth.alive(), where)
        self.assertTrue(self.berth.alive(), "berth died during the fuzz loop")
        self.assertEqual(self.berth.health()["status"], "ok")
        self.ecs.list_clusters()
        # The fuzz must reach past the parser: some requests succeed and some fail.
        self.assertIn(200, statuses, statuses)
        self.assertTrue(any(400 <= s < 500 for s in statuses), statuses)

    def mutate(self, rng, op, body):
        """One to three random changes to a valid request. Returns (target, body bytes)."""
        target = op
        for _ in range(rng.randint(1, 3)):
            kind = rng.randrange(10)
            if kind == 0:
                self.drop_random_key(rng, body)
            elif kind in (1, 2, 3):
                self.replace_random_value(rng, body, rng.choice(self.JUNK))
            elif kind == 4:
                self.replace_random_value(rng, body, self.random_string(rng))
            elif kind == 5:
                body[rng.choice(["unknownMember", "Cluster", "__type", "", "\u00e9"])] = rng.choice(self.JUNK)
            elif kind == 6:
                self.grow_random_list(rng, body)
            elif kind == 7:
                target = rng.choice([op, op.lower(), op + "X", "", f"{ECS_PREFIX}.", f"{ECS_PREFIX}..{op}",
                                     f"{ECS_PREFIX}.{op}.{op}", f"AmazonEC2ContainerRegistry_V20150921.{op}",
                                     f"{ECS_PREFIX}.{op}\u00e9"])
            else:
                pass  # byte-level changes below
        raw = json.dumps(body, ensure_ascii=rng.random() < 0.5).encode()
        if rng.random() < 0.2:
            raw = self.mangle_bytes(rng, raw)
        if target and "." not in target:
            target = f"{ECS_PREFIX}.{target}"
        return target or None, raw

    @staticmethod
    def containers(value):
        """Every dict and list inside value (with value itself)."""
        found = [value]
        if isinstance(value, dict):
            for v in value.values():
                found += ErrorsTest.containers(v)
        elif isinstance(value, list):
            for v in value:
                found += ErrorsTest.containers(v)
        return [c for c in found if isinstance(c, (dict, list))]

    def drop_random_key(self, rng, body):
        dicts = [c for c in self.containers(body) if isinstance(c, dict) and c]
        if dicts:
            d = rng.choice(dicts)
            del d[rng.choice(list(d))]

    def replace_random_value(self, rng, body, value):
        holders = [c for c in self.containers(body) if c]
        if not holders:
            return
        h = rng.choice(holders)
        if isinstance(h, dict):
            h[rng.choice(list(h))] = value
        else:
            h[rng.randrange(len(h))] = value

    def grow_random_list(self, rng, body):
        lists = [c for c in self.containers(body) if isinstance(c, list) and c]
        if lists:
            lst = rng.choice(lists)
            lst.extend([copy.deepcopy(lst[0]) for _ in range(rng.choice([1, 10, 101, 250]))])

    @staticmethod
    def random_string(rng):
        alphabet = "abcXYZ019-_:/ .*\"\\\n\t\u00e9\u4e2d\U0001F680"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))

    @staticmethod
    def mangle_bytes(rng, raw):
        choice = rng.randrange(4)
        if choice == 0 and raw:
            return raw[:rng.randrange(len(raw))]
        if choice == 1 and raw:
            i = rng.randrange(len(raw))
            return raw[:i] + bytes([rng.randrange(256)]) + raw[i + 1:]
        if choice == 2:
            i = rng.randrange(len(raw) + 1)
            return raw[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 20))) + raw[i:]
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))


if __name__ == "__main__":
    unittest.main()
