"""Tasks as ECS runs them, end to end: network modes (bridge, host, none, awsvpc with its pause container),
Fargate (launch type, capacity providers, the bounded pool), dependsOn, health checks, volumes (host, empty,
Docker, EFS, volumesFrom), secrets and environment files, RunTask overrides, clean-up and retention, and image
pull timestamps. Every test looks at both sides: what describe-tasks reports and what `docker inspect` shows."""

import datetime
import json
import os
import shutil
import socket
import tempfile
import time
import urllib.request

from harness import (ACCOUNT, READY, REGION, SLEEPER, TEST_IMAGE, BerthTestCase, busybox, containers_of_tasks, docker,
                     docker_inspect, docker_ps, sh, wait_for, wait_logged)

MIB = 1024 * 1024
PAUSE_NAME = "~internal~ecs~pause"
LABEL_CONTAINER_NAME = "com.amazonaws.ecs.container-name"
LABEL_TASK_ARN = "com.amazonaws.ecs.task-arn"
HTTPD = ["httpd", "-f", "-p", "8080", "-h", "/www"]
AWSVPC = {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"], "securityGroups": ["sg-0123456789abcdef0"]}}
AWSVPC_SHORTHAND = "awsvpcConfiguration={subnets=[subnet-0123456789abcdef0],securityGroups=[sg-0123456789abcdef0]}"
NEVER_STARTED = "0001-01-01T00:00:00Z"


# --------------------------------------------------------------------------------------------------------------
# Helpers


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path="/", timeout=5):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
        return resp.read().decode()


def docker_ns(stamp):
    """A `docker inspect` RFC 3339 time with nanoseconds ("2026-11-22T12:06:40.184282219Z") as integer nanoseconds
    since the epoch, so that two stamps compare exactly."""
    assert stamp and stamp != NEVER_STARTED, f"not a time: {stamp!r}"
    stamp = stamp.rstrip("Z")
    base, _, frac = stamp.partition(".")
    dt = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 1_000_000_000 + int((frac + "000000000")[:9])


def volume_exists(name):
    return docker("volume", "inspect", name).returncode == 0


def remove_volume(name):
    docker("volume", "rm", "-f", name)


def details_of(attachment):
    return {d["name"]: d["value"] for d in attachment.get("details", [])}


def awsvpc_network(cluster):
    return f"berth-{ACCOUNT}-{REGION}-{cluster}"


def fargate_definition(family, containers, cpu="256", memory="512", **kw):
    return dict(family=family, containerDefinitions=containers, networkMode="awsvpc",
                requiresCompatibilities=["FARGATE"], cpu=cpu, memory=memory, **kw)


def plain(name, command, **extra):
    """A container definition without a container-level memory limit (Fargate gives it the task's)."""
    d = {"name": name, "image": TEST_IMAGE, "command": list(command)}
    d.update(extra)
    return d


class RuntimeTestCase(BerthTestCase):
    cluster = "runtime"

    def setUp(self):
        super().setUp()
        self.ecs.create_cluster(clusterName=self.cluster)

    def container(self, task, name):
        for c in task["containers"]:
            if c["name"] == name:
                return c
        self.fail(f"task has no container {name}: {task['containers']}")

    def inspect(self, task, name):
        c = self.container(task, name)
        self.assertIn("runtimeId", c, f"container {name} has no runtimeId: {c}")
        doc = docker_inspect(c["runtimeId"])
        self.assertIsNotNone(doc, f"the engine does not know container {name} ({c['runtimeId']})")
        return doc

    def exec(self, container_id, *command, check=True):
        out = docker("exec", container_id, *command)
        if check:
            self.assertEqual(out.returncode, 0, f"docker exec {command}: {out.stderr}")
        return out

    def run_task(self, family, client=None, cluster=None, **kw):
        client = client or self.ecs
        out = client.run_task(cluster=cluster or self.cluster, taskDefinition=family, **kw)
        self.assertEqual(out.get("failures", []), [])
        return out["tasks"]

    def run_one(self, family, containers, run_kw=None, **td_kw):
        self.register(family, containers, **td_kw)
        [task] = self.run_task(family, **(run_kw or {}))
        return task["taskArn"]

    def pause_container(self, task_arn):
        ids = docker_ps(f"label={LABEL_TASK_ARN}={task_arn}", f"label={LABEL_CONTAINER_NAME}={PAUSE_NAME}")
        self.assertEqual(len(ids), 1, f"expected one pause container for {task_arn}, found {ids}")
        return docker_inspect(ids[0])

    def wait_container(self, task_arn, name, predicate, what, timeout=60, cluster=None):
        def check():
            t = self.describe_task(cluster or self.cluster, task_arn)
            return t if predicate(self.container(t, name)) else None

        return wait_for(check, timeout=timeout, what=what)

    def track_volume(self, name):
        """Removes a Docker volume after the test whatever happens (the suite must not leak volumes)."""
        self.addCleanup(remove_volume, name)


# --------------------------------------------------------------------------------------------------------------
# Network modes


class NetworkModeTest(RuntimeTestCase):
    cluster = "netmodes"

    def test_bridge_static_and_dynamic_host_ports(self):
        static = free_port()
        arn = self.run_one("bridge-ports", [
            busybox("static", HTTPD, portMappings=[{"containerPort": 8080, "hostPort": static}]),
            busybox("dynamic", HTTPD, portMappings=[{"containerPort": 8080, "protocol": "tcp"}]),
        ], networkMode="bridge")
        task = self.wait_task(self.cluster, arn, "RUNNING")

        [b_static] = self.container(task, "static")["networkBindings"]
        self.assertEqual(b_static, {"bindIP": "127.0.0.1", "containerPort": 8080, "hostPort": static,
                                    "protocol": "tcp"})
        [b_dynamic] = self.container(task, "dynamic")["networkBindings"]
        self.assertEqual(b_dynamic["containerPort"], 8080)
        self.assertEqual(b_dynamic["protocol"], "tcp")
        self.assertEqual(b_dynamic["bindIP"], "127.0.0.1")
        self.assertGreater(b_dynamic["hostPort"], 0)
        self.assertNotEqual(b_dynamic["hostPort"], static)

        for name, binding in (("static", b_static), ("dynamic", b_dynamic)):
            doc = self.inspect(task, name)
            self.assertEqual(doc["HostConfig"]["NetworkMode"], "bridge")
            [published] = doc["NetworkSettings"]["Ports"]["8080/tcp"]
            self.assertEqual(int(published["HostPort"]), binding["hostPort"])
            self.assertEqual(published["HostIp"], "127.0.0.1")
            body = wait_for(lambda p=binding["hostPort"]: self._try_get(p), timeout=30, what=f"httpd of {name}")
            self.assertEqual(body.strip(), "hello from berth")

    def _try_get(self, port):
        try:
            return http_get(port)
        except OSError:
            return None

    def test_host_network_mode(self):
        port = free_port()
        arn = self.run_one("hostmode", [busybox("web", ["httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"],
                                                portMappings=[{"containerPort": port, "hostPort": port}])],
                           networkMode="host")
        task = self.wait_task(self.cluster, arn, "RUNNING")
        doc = self.inspect(task, "web")
        self.assertEqual(doc["HostConfig"]["NetworkMode"], "host")
        self.assertEqual(doc["HostConfig"].get("PortBindings") or {}, {})
        # Listening in the host's namespace: reachable on the host without any published port.
        body = wait_for(lambda: self._try_get(port), timeout=30, what="httpd on the host network")
        self.assertEqual(body.strip(), "hello from berth")
        self.assertEqual(self.container(task, "web")["lastStatus"], "RUNNING")
        self.assertEqual(task.get("attachments", []), [])

    def test_none_network_mode(self):
        arn = self.run_one("nonemode", [busybox("main", SLEEPER)], networkMode="none")
        task = self.wait_task(self.cluster, arn, "RUNNING")
        doc = self.inspect(task, "main")
        self.assertEqual(doc["HostConfig"]["NetworkMode"], "none")
        # Only the loopback interface inside.
        out = self.exec(doc["Id"], "cat", "/proc/net/dev").stdout
        interfaces = sorted(line.split(":")[0].strip() for line in out.splitlines()[2:] if ":" in line)
        self.assertEqual(interfaces, ["lo"])
        self.assertEqual(self.container(task, "main")["networkBindings"], [])
        self.assertEqual(task.get("attachments", []), [])

    def test_awsvpc_pause_container_localhost_and_eni(self):
        self.register("vpc", [
            busybox("web", HTTPD, portMappings=[{"containerPort": 8080}]),
            busybox("client", SLEEPER),
        ], networkMode="awsvpc")
        # The AWS CLI v2's shorthand for the network configuration.
        out = self.cli_ok(2, "ecs", "run-task", "--cluster", self.cluster, "--task-definition", "vpc",
                          "--network-configuration", AWSVPC_SHORTHAND)
        self.assertEqual(out.get("failures", []), [])
        arn = out["tasks"][0]["taskArn"]
        # RunTask answers before the ENI exists: PRECREATED, with only the subnet known.
        [att] = out["tasks"][0]["attachments"]
        self.assertEqual((att["type"], att["status"]), ("ElasticNetworkInterface", "PRECREATED"))
        self.assertEqual(att["details"], [{"name": "subnetId", "value": "subnet-0123456789abcdef0"}])
        task = self.wait_task(self.cluster, arn, "RUNNING")

        # The ENI attachment, as ECS reports it.
        [att] = task["attachments"]
        self.assertEqual(att["type"], "ElasticNetworkInterface")
        self.assertEqual(att["status"], "ATTACHED")
        details = details_of(att)
        self.assertEqual(details["subnetId"], "subnet-0123456789abcdef0")
        self.assertRegex(details["networkInterfaceId"], r"^eni-[0-9a-f]+$")
        self.assertRegex(details["macAddress"], r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
        ip = details["privateIPv4Address"]
        self.assertRegex(ip, r"^\d+\.\d+\.\d+\.\d+$")
        self.assertEqual(details["privateDnsName"], "ip-" + ip.replace(".", "-") + ".ec2.internal")
        for name in ("web", "client"):
            self.assertEqual(self.container(task, name)["networkInterfaces"],
                             [{"attachmentId": att["id"], "privateIpv4Address": ip}])

        # The pause container owns the namespace, on the cluster's network, with the ENI's addresses.
        pause = self.pause_container(arn)
        self.assertIn("internalecspause", pause["Name"])
        self.assertEqual(pause["Config"]["Labels"][LABEL_CONTAINER_NAME], PAUSE_NAME)
        self.assertTrue(pause["State"]["Running"])
        network = awsvpc_network(self.cluster)
        self.assertIn(network, pause["NetworkSettings"]["Networks"])
        endpoint = pause["NetworkSettings"]["Networks"][network]
        self.assertEqual(endpoint["IPAddress"], ip)
        self.assertEqual(endpoint["MacAddress"], details["macAddress"])
        self.assertEqual(docker("network", "inspect", network).returncode, 0)

        # The task's containers join it and talk over localhost.
        for name in ("web", "client"):
            doc = self.inspect(task, name)
            self.assertEqual(doc["HostConfig"]["NetworkMode"], "container:" + pause["Id"])
        client_id = self.container(task, "client")["runtimeId"]
        body = wait_for(lambda: self.exec(client_id, "wget", "-qO-", "http://localhost:8080/", check=False).stdout,
                        timeout=30, what="web on localhost from the client container")
        self.assertEqual(body.strip(), "hello from berth")
        # awsvpc publishes nothing on the host.
        self.assertEqual(self.inspect(task, "web")["HostConfig"].get("PortBindings") or {}, {})

        # Stopping detaches the ENI and stops the pause container.
        self.ecs.stop_task(cluster=self.cluster, task=arn)
        task = self.wait_task(self.cluster, arn, "STOPPED")
        [att] = task["attachments"]
        self.assertEqual(att["status"], "DELETED")
        pause = docker_inspect(pause["Id"])
        self.assertTrue(pause is None or not pause["State"]["Running"], "the pause container still runs")

    def test_awsvpc_tasks_reach_each_other_by_private_ip(self):
        self.register("vpc-web", [busybox("web", HTTPD, portMappings=[{"containerPort": 8080}])],
                      networkMode="awsvpc")
        self.register("vpc-client", [busybox("client", SLEEPER)], networkMode="awsvpc")
        [web] = self.run_task("vpc-web", networkConfiguration=AWSVPC)
        [client] = self.run_task("vpc-client", networkConfiguration=AWSVPC)
        web = self.wait_task(self.cluster, web["taskArn"], "RUNNING")
        client = self.wait_task(self.cluster, client["taskArn"], "RUNNING")
        web_ip = details_of(web["attachments"][0])["privateIPv4Address"]
        client_ip = details_of(client["attachments"][0])["privateIPv4Address"]
        self.assertNotEqual(web_ip, client_ip)
        self.assertNotEqual(web["attachments"][0]["id"], client["attachments"][0]["id"])
        # Both pause containers sit on the one cluster network, like two ENIs in one VPC.
        network = awsvpc_network(self.cluster)
        for task in (web, client):
            self.assertIn(network, self.pause_container(task["taskArn"])["NetworkSettings"]["Networks"])
        client_id = self.container(client, "client")["runtimeId"]
        body = wait_for(lambda: self.exec(client_id, "wget", "-qO-", f"http://{web_ip}:8080/", check=False).stdout,
                        timeout=30, what="the web task from the client task by private IP")
        self.assertEqual(body.strip(), "hello from berth")

    def test_awsvpc_in_another_account_and_region(self):
        account, region, cluster = "123456789012", "eu-west-1", "vpc-eu"
        ecs = self.berth.boto3_client(access_key=account, region=region)
        ecs.create_cluster(clusterName=cluster)
        ecs.register_task_definition(family="vpc-eu", networkMode="awsvpc",
                                     containerDefinitions=[busybox("main", SLEEPER)])
        arn = ecs.run_task(cluster=cluster, taskDefinition="vpc-eu", networkConfiguration=AWSVPC)["tasks"][0][
            "taskArn"]
        task = self.wait_task(cluster, arn, "RUNNING", client=ecs)
        self.assertTrue(task["taskArn"].startswith(f"arn:aws:ecs:{region}:{account}:task/{cluster}/"))
        details = details_of(task["attachments"][0])
        ip = details["privateIPv4Address"]
        pause = self.pause_container(arn)
        network = f"berth-{account}-{region}-{cluster}"
        self.assertEqual(pause["NetworkSettings"]["Networks"][network]["IPAddress"], ip)
        self.assertEqual(self.inspect(task, "main")["HostConfig"]["NetworkMode"], "container:" + pause["Id"])
        # Outside us-east-1, EC2 private DNS names are ip-a-b-c-d.<region>.compute.internal.
        self.assertEqual(details["privateDnsName"], "ip-" + ip.replace(".", "-") + f".{region}.compute.internal")

    def test_awsvpc_requires_network_configuration(self):
        self.register("vpc-noconf", [busybox("main", SLEEPER)], networkMode="awsvpc")
        for v in (1, 2):
            with self.subTest(cli=v):
                rc, _, err = self.cli(v, "ecs", "run-task", "--cluster", self.cluster, "--task-definition",
                                      "vpc-noconf")
                self.assertNotEqual(rc, 0)
                self.assertIn("InvalidParameterException", err)
                self.assertIn("Network Configuration must be provided when networkMode 'awsvpc' is specified.", err)
        self.assertEqual(self.ecs.list_tasks(cluster=self.cluster)["taskArns"], [])


# --------------------------------------------------------------------------------------------------------------
# Fargate


class FargateTest(RuntimeTestCase):
    cluster = "fargate"

    def check_fargate_container(self, task, name, cpu_units, memory_mib):
        doc = self.inspect(task, name)
        host = doc["HostConfig"]
        self.assertEqual(host["NanoCpus"], cpu_units * 1_000_000_000 // 1024)
        self.assertEqual(host["Memory"], memory_mib * MIB)
        pause = self.pause_container(task["taskArn"])
        self.assertEqual(host["NetworkMode"], "container:" + pause["Id"])
        return doc

    def check_fargate_task(self, task, cpu="256", memory="512"):
        self.assertEqual(task["launchType"], "FARGATE")
        self.assertEqual(task["platformVersion"], "1.4.0")
        self.assertEqual(task["platformFamily"], "Linux")
        self.assertEqual(task["ephemeralStorage"], {"sizeInGiB": 20})
        self.assertEqual(task["cpu"], cpu)
        self.assertEqual(task["memory"], memory)
        [att] = task["attachments"]
        self.assertEqual(att["type"], "ElasticNetworkInterface")
        self.assertEqual(att["status"], "ATTACHED")

    def test_launch_type_fargate(self):
        td = fargate_definition("fg-launch", [plain("app", SLEEPER)])
        path = os.path.join(tempfile.mkdtemp(prefix="berth-td-"), "td.json")
        self.addCleanup(shutil.rmtree, os.path.dirname(path), True)
        with open(path, "w") as f:
            json.dump(td, f)
        self.cli_ok(1, "ecs", "register-task-definition", "--cli-input-json", "file://" + path)
        out = self.cli_ok(2, "ecs", "run-task", "--cluster", self.cluster, "--task-definition", "fg-launch",
                          "--launch-type", "FARGATE", "--network-configuration", AWSVPC_SHORTHAND)
        arn = out["tasks"][0]["taskArn"]
        task = self.wait_task(self.cluster, arn, "RUNNING")
        self.check_fargate_task(task)
        self.assertNotIn("capacityProviderName", task)
        self.check_fargate_container(task, "app", 256, 512)
        listed = self.ecs.list_tasks(cluster=self.cluster, launchType="FARGATE")["taskArns"]
        self.assertEqual(listed, [arn])

    def test_ephemeral_storage_from_definition(self):
        # 20 GiB is the default; a task definition may ask for 21-200 GiB and the task reports what it got.
        self.ecs.register_task_definition(**fargate_definition("fg-disk", [plain("app", SLEEPER)],
                                                               ephemeralStorage={"sizeInGiB": 30}))
        [t] = self.run_task("fg-disk", launchType="FARGATE", networkConfiguration=AWSVPC)
        task = self.wait_task(self.cluster, t["taskArn"], "RUNNING")
        self.check_fargate_container(task, "app", 256, 512)
        self.assertEqual(task["ephemeralStorage"], {"sizeInGiB": 30})

    def test_fargate_rejects_a_non_fargate_definition(self):
        self.register("ec2-only", [busybox("main", SLEEPER)], networkMode="awsvpc", requiresCompatibilities=["EC2"])
        with self.assertRaises(self.ecs.exceptions.InvalidParameterException):
            self.ecs.run_task(cluster=self.cluster, taskDefinition="ec2-only", launchType="FARGATE",
                              networkConfiguration=AWSVPC)

    def test_capacity_provider_strategy(self):
        cluster = "fgcp"
        self.cli_ok(1, "ecs", "create-cluster", "--cluster-name", cluster,
                    "--capacity-providers", "FARGATE", "FARGATE_SPOT",
                    "--default-capacity-provider-strategy", "capacityProvider=FARGATE,weight=1")
        self.ecs.register_task_definition(**fargate_definition("fg-cp", [plain("app", SLEEPER)]))
        out = self.cli_ok(1, "ecs", "run-task", "--cluster", cluster, "--task-definition", "fg-cp",
                          "--capacity-provider-strategy", "capacityProvider=FARGATE_SPOT,weight=1",
                          "--network-configuration", AWSVPC_SHORTHAND)
        spot_arn = out["tasks"][0]["taskArn"]
        # No launch type and no strategy: the cluster's default strategy.
        [default] = self.run_task("fg-cp", cluster=cluster, networkConfiguration=AWSVPC)
        for arn, provider in ((spot_arn, "FARGATE_SPOT"), (default["taskArn"], "FARGATE")):
            with self.subTest(provider=provider):
                task = self.wait_task(cluster, arn, "RUNNING")
                self.check_fargate_task(task)
                self.assertEqual(task["capacityProviderName"], provider)
                self.check_fargate_container(task, "app", 256, 512)

    def test_pool_bound_keeps_tasks_provisioning(self):
        b = self.start_extra_berth("--fargate-cpu", "512", "--fargate-memory", "1024")
        ecs = b.boto3_client()
        ecs.create_cluster(clusterName=self.cluster)
        ecs.register_task_definition(**fargate_definition("fg-pool", [plain("app", SLEEPER)]))
        tasks = ecs.run_task(cluster=self.cluster, taskDefinition="fg-pool", launchType="FARGATE",
                             networkConfiguration=AWSVPC, count=3)["tasks"]
        arns = [t["taskArn"] for t in tasks]

        def two_running():
            described = ecs.describe_tasks(cluster=self.cluster, tasks=arns)["tasks"]
            by_status = {}
            for t in described:
                by_status.setdefault(t["lastStatus"], []).append(t)
            return by_status if len(by_status.get("RUNNING", [])) == 2 else None

        by_status = wait_for(two_running, timeout=60, what="two tasks of the 512/1024 pool running")
        [waiting] = by_status.get("PROVISIONING", [None])
        self.assertIsNotNone(waiting, f"no PROVISIONING task: {by_status.keys()}")
        waiting_id = waiting["taskArn"].rsplit("/", 1)[1]
        # It stays there, with nothing on the engine, while the pool is full.
        for _ in range(3):
            time.sleep(1)
            t = self.describe_task(self.cluster, waiting["taskArn"], client=ecs)
            self.assertEqual(t["lastStatus"], "PROVISIONING")
            self.assertEqual(containers_of_tasks({waiting_id}), [])
            self.assertTrue(all("runtimeId" not in c for c in t["containers"]))
        # A running task stops: the waiting one gets its place.
        ecs.stop_task(cluster=self.cluster, task=by_status["RUNNING"][0]["taskArn"])
        task = self.wait_task(self.cluster, waiting["taskArn"], "RUNNING", client=ecs)
        self.check_fargate_container(task, "app", 256, 512)


# --------------------------------------------------------------------------------------------------------------
# dependsOn


class DependsOnTest(RuntimeTestCase):
    cluster = "deps"

    def test_success_dependency_starts_app_after_init_exits_0(self):
        arn = self.run_one("dep-success", [
            busybox("init", sh("sleep 2; exit 0"), essential=False),
            busybox("app", SLEEPER, dependsOn=[{"containerName": "init", "condition": "SUCCESS"}]),
        ])
        task = self.wait_task(self.cluster, arn, "RUNNING")
        init = self.container(task, "init")
        self.assertEqual(init["lastStatus"], "STOPPED")
        self.assertEqual(init.get("exitCode"), 0)
        self.assertEqual(self.container(task, "app")["lastStatus"], "RUNNING")
        init_doc, app_doc = self.inspect(task, "init"), self.inspect(task, "app")
        self.assertEqual(init_doc["State"]["ExitCode"], 0)
        self.assertTrue(app_doc["State"]["Running"])
        self.assertGreaterEqual(docker_ns(app_doc["State"]["StartedAt"]), docker_ns(init_doc["State"]["FinishedAt"]))

    def test_failed_init_stops_task(self):
        arn = self.run_one("dep-fail", [
            busybox("init", sh("exit 3"), essential=False),
            busybox("app", SLEEPER, dependsOn=[{"containerName": "init", "condition": "SUCCESS"}]),
        ])
        task = self.wait_task(self.cluster, arn, "STOPPED")
        self.assertEqual(task.get("stopCode"), "TaskFailedToStart")
        self.assertEqual(self.container(task, "init").get("exitCode"), 3)
        app = self.container(task, "app")
        self.assertEqual(app["lastStatus"], "STOPPED")
        self.assertNotIn("exitCode", app)
        # The app container was never started on the engine.
        if "runtimeId" in app:
            self.assertEqual(docker_inspect(app["runtimeId"])["State"]["StartedAt"], NEVER_STARTED)

    def test_complete_and_start_conditions(self):
        arn = self.run_one("dep-complete", [
            busybox("init", sh("sleep 1; exit 5"), essential=False),
            busybox("app", SLEEPER, dependsOn=[{"containerName": "init", "condition": "COMPLETE"}]),
            busybox("sidecar", SLEEPER, essential=False,
                    dependsOn=[{"containerName": "app", "condition": "START"}]),
        ])
        task = self.wait_task(self.cluster, arn, "RUNNING")
        self.assertEqual(self.container(task, "init").get("exitCode"), 5)
        init, app, side = (self.inspect(task, n) for n in ("init", "app", "sidecar"))
        self.assertTrue(app["State"]["Running"])
        self.assertTrue(side["State"]["Running"])
        self.assertGreaterEqual(docker_ns(app["State"]["StartedAt"]), docker_ns(init["State"]["FinishedAt"]))
        self.assertGreaterEqual(docker_ns(side["State"]["StartedAt"]), docker_ns(app["State"]["StartedAt"]))

    def test_healthy_condition(self):
        arn = self.run_one("dep-healthy", [
            busybox("db", SLEEPER, healthCheck={"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2,
                                                "retries": 2}),
            busybox("app", SLEEPER, dependsOn=[{"containerName": "db", "condition": "HEALTHY"}]),
        ])
        task = self.wait_task(self.cluster, arn, "RUNNING", timeout=90)
        self.assertEqual(self.container(task, "db")["healthStatus"], "HEALTHY")
        db, app = self.inspect(task, "db"), self.inspect(task, "app")
        self.assertEqual(db["State"]["Health"]["Status"], "healthy")
        first_pass = min(docker_ns(entry["End"]) for entry in db["State"]["Health"]["Log"] if entry["ExitCode"] == 0)
        self.assertGreaterEqual(docker_ns(app["State"]["StartedAt"]), first_pass)

    def test_start_timeout_stops_the_task(self):
        # The dependency never completes; its startTimeout (3 s, not the default 180 s) ends the wait.
        arn = self.run_one("dep-timeout", [
            busybox("slow", SLEEPER, essential=False, startTimeout=3),
            busybox("app", SLEEPER, dependsOn=[{"containerName": "slow", "condition": "COMPLETE"}]),
        ])
        task = self.wait_task(self.cluster, arn, "STOPPED", timeout=90)
        self.assertEqual(task.get("stopCode"), "TaskFailedToStart")
        app = self.container(task, "app")
        self.assertNotIn("exitCode", app)
        if "runtimeId" in app:
            self.assertEqual(docker_inspect(app["runtimeId"])["State"]["StartedAt"], NEVER_STARTED)
        slow = self.container(task, "slow")
        self.assertEqual(slow["lastStatus"], "STOPPED")
        self.assertFalse(docker_inspect(slow["runtimeId"])["State"]["Running"])

    def test_shutdown_in_reverse_dependency_order(self):
        # app depends on db; app takes ~2 s to exit on SIGTERM; db must only be stopped after it.
        arn = self.run_one("dep-order", [
            busybox("db", SLEEPER),
            busybox("app", sh(f"trap 'sleep 2; exit 0' TERM; echo {READY}; while :; do sleep 1; done"), stopTimeout=20,
                    dependsOn=[{"containerName": "db", "condition": "START"}]),
        ])
        running = self.wait_task(self.cluster, arn, "RUNNING")
        for name in ("db", "app"):
            wait_logged(self.container(running, name)["runtimeId"])
        self.ecs.stop_task(cluster=self.cluster, task=arn)
        task = self.wait_task(self.cluster, arn, "STOPPED", timeout=60)
        db, app = self.inspect(task, "db"), self.inspect(task, "app")
        self.assertEqual(app["State"]["ExitCode"], 0)
        self.assertEqual(db["State"]["ExitCode"], 0)
        self.assertEqual(self.container(task, "app").get("exitCode"), 0)
        self.assertEqual(self.container(task, "db").get("exitCode"), 0)
        self.assertGreaterEqual(docker_ns(db["State"]["FinishedAt"]), docker_ns(app["State"]["FinishedAt"]))
        self.assertGreaterEqual(docker_ns(app["State"]["StartedAt"]), docker_ns(db["State"]["StartedAt"]))


# --------------------------------------------------------------------------------------------------------------
# Health checks


class HealthCheckTest(RuntimeTestCase):
    cluster = "health"

    def test_passing_check_is_healthy(self):
        check = ["CMD-SHELL", "wget -q -O /dev/null http://localhost:8080/ || exit 1"]
        arn = self.run_one("hc-pass", [
            busybox("web", HTTPD, healthCheck={"command": check, "interval": 5, "timeout": 2, "retries": 2}),
            busybox("plain", SLEEPER),
            busybox("flaky", SLEEPER, essential=False,
                    healthCheck={"command": ["CMD-SHELL", "exit 1"], "interval": 5, "retries": 1}),
        ])
        self.wait_task(self.cluster, arn, "RUNNING")
        task = self.wait_container(arn, "web", lambda c: c.get("healthStatus") == "HEALTHY",
                                   "the web container to be HEALTHY")
        task = self.wait_container(arn, "flaky", lambda c: c.get("healthStatus") == "UNHEALTHY",
                                   "the non-essential container to be UNHEALTHY")
        # Rolled up from the essential containers with a check: an unhealthy non-essential one does not count.
        self.assertEqual(task["healthStatus"], "HEALTHY")
        self.assertEqual(self.container(task, "plain")["healthStatus"], "UNKNOWN")
        web = self.inspect(task, "web")
        self.assertEqual(web["Config"]["Healthcheck"]["Test"], check)
        self.assertEqual(web["Config"]["Healthcheck"]["Interval"], 5_000_000_000)
        self.assertEqual(web["Config"]["Healthcheck"]["Timeout"], 2_000_000_000)
        self.assertEqual(web["Config"]["Healthcheck"]["Retries"], 2)
        self.assertEqual(web["State"]["Health"]["Status"], "healthy")
        self.assertEqual(self.inspect(task, "flaky")["State"]["Health"]["Status"], "unhealthy")
        self.assertNotIn("Health", self.inspect(task, "plain")["State"])

    def test_failing_check_is_unhealthy_and_task_keeps_running(self):
        arn = self.run_one("hc-fail", [
            busybox("main", SLEEPER, healthCheck={"command": ["CMD", "false"], "interval": 5, "timeout": 2,
                                                  "retries": 1}),
        ])
        self.wait_task(self.cluster, arn, "RUNNING")
        task = self.wait_container(arn, "main", lambda c: c.get("healthStatus") == "UNHEALTHY",
                                   "the container to be UNHEALTHY")
        self.assertEqual(task["healthStatus"], "UNHEALTHY")
        doc = self.inspect(task, "main")
        self.assertEqual(doc["Config"]["Healthcheck"]["Test"], ["CMD", "false"])
        self.assertEqual(doc["State"]["Health"]["Status"], "unhealthy")
        # A standalone task is not replaced: it keeps running while unhealthy.
        for _ in range(3):
            time.sleep(1)
            task = self.describe_task(self.cluster, arn)
            self.assertEqual(task["lastStatus"], "RUNNING")
            self.assertEqual(task["desiredStatus"], "RUNNING")
            self.assertEqual(task["healthStatus"], "UNHEALTHY")
        self.assertTrue(docker_inspect(doc["Id"])["State"]["Running"])

    def test_image_healthcheck_is_ignored(self):
        # An image whose own HEALTHCHECK always fails; the task definition defines none.
        image = "berth-test/busybox-unhealthy:" + os.urandom(4).hex()
        base = docker("create", TEST_IMAGE, "true", check=True).stdout.strip()
        self.addCleanup(docker, "rm", "-f", base)
        docker("commit", "--change", "HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD false", base, image,
               check=True)
        self.addCleanup(docker, "rmi", "-f", image)
        arn = self.run_one("hc-image", [dict(busybox("main", SLEEPER), image=image)])
        task = self.wait_task(self.cluster, arn, "RUNNING")
        doc = self.inspect(task, "main")
        health = (doc["Config"].get("Healthcheck") or {}).get("Test")
        if health != ["NONE"]:
            # The engine runs the image's check; ECS still reports no verdict from it.
            wait_for(lambda: (docker_inspect(doc["Id"])["State"].get("Health") or {}).get("Status") == "unhealthy",
                     timeout=30, what="the image's own check to fail")
        for _ in range(3):
            task = self.describe_task(self.cluster, arn)
            self.assertEqual(self.container(task, "main")["healthStatus"], "UNKNOWN")
            self.assertEqual(task["healthStatus"], "UNKNOWN")
            self.assertEqual(task["lastStatus"], "RUNNING")
            time.sleep(1)

    def test_no_check_is_unknown(self):
        arn = self.run_one("hc-none", [busybox("main", SLEEPER)])
        task = self.wait_task(self.cluster, arn, "RUNNING")
        self.assertEqual(task["healthStatus"], "UNKNOWN")
        self.assertEqual(self.container(task, "main")["healthStatus"], "UNKNOWN")
        self.assertIsNone(self.inspect(task, "main")["Config"].get("Healthcheck"))


# --------------------------------------------------------------------------------------------------------------
# Volumes


class VolumeTest(RuntimeTestCase):
    cluster = "volumes"

    @classmethod
    def setUpClass(cls):
        cls.efs_dir = tempfile.mkdtemp(prefix="berth-efs-")
        cls.berth_args = ("--efs-dir", cls.efs_dir, "--container-cleanup-wait", "2")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.efs_dir, ignore_errors=True)

    def mounts(self, doc):
        return {m["Destination"]: m for m in doc["Mounts"]}

    def test_host_bind_mounts_and_read_only(self):
        host_dir = tempfile.mkdtemp(prefix="berth-host-vol-")
        self.addCleanup(shutil.rmtree, host_dir, True)
        with open(os.path.join(host_dir, "in.txt"), "w") as f:
            f.write("from-host\n")
        script = ("cp /ro/in.txt /rw/copy.txt; "
                  "if touch /ro/probe 2>/dev/null; then echo writable; else echo readonly; fi > /rw/ro-status; "
                  "trap 'exit 0' TERM; while :; do sleep 1; done")
        arn = self.run_one("hostvol", [busybox("main", sh(script), mountPoints=[
            {"sourceVolume": "data", "containerPath": "/rw"},
            {"sourceVolume": "data", "containerPath": "/ro", "readOnly": True},
        ])], volumes=[{"name": "data", "host": {"sourcePath": host_dir}}])
        task = self.wait_task(self.cluster, arn, "RUNNING")
        status_file = os.path.join(host_dir, "ro-status")
        wait_for(lambda: os.path.exists(status_file) and open(status_file).read().strip(), timeout=30,
                 what="the container to write into the host directory")
        with open(os.path.join(host_dir, "copy.txt")) as f:
            self.assertEqual(f.read(), "from-host\n")
        with open(status_file) as f:
            self.assertEqual(f.read().strip(), "readonly")
        self.assertFalse(os.path.exists(os.path.join(host_dir, "probe")))
        mounts = self.mounts(self.inspect(task, "main"))
        self.assertEqual(mounts["/rw"]["Type"], "bind")
        self.assertEqual(mounts["/rw"]["Source"], host_dir)
        self.assertTrue(mounts["/rw"]["RW"])
        self.assertEqual(mounts["/ro"]["Source"], host_dir)
        self.assertFalse(mounts["/ro"]["RW"])

    def test_host_source_path_refused_on_fargate(self):
        self.ecs.register_task_definition(**fargate_definition(
            "fg-hostvol", [plain("main", SLEEPER, mountPoints=[{"sourceVolume": "data", "containerPath": "/d"}])],
            volumes=[{"name": "data", "host": {"sourcePath": "/tmp"}}]))
        with self.assertRaises(self.ecs.exceptions.InvalidParameterException):
            self.ecs.run_task(cluster=self.cluster, taskDefinition="fg-hostvol", launchType="FARGATE",
                              networkConfiguration=AWSVPC)

    def test_empty_volume_volumes_from_and_clean_up(self):
        arn = self.run_one("scratchvol", [
            busybox("writer", sh("echo shared-data > /scratch/file; trap 'exit 0' TERM; while :; do sleep 1; done"),
                    mountPoints=[{"sourceVolume": "scratch", "containerPath": "/scratch"}]),
            busybox("reader", SLEEPER, mountPoints=[{"sourceVolume": "scratch", "containerPath": "/in",
                                                     "readOnly": True}]),
            busybox("viewer", SLEEPER, volumesFrom=[{"sourceContainer": "writer", "readOnly": True}]),
        ], volumes=[{"name": "scratch"}])
        task_id = arn.rsplit("/", 1)[1]
        volume = f"ecs-scratchvol-1-scratch-{task_id[:12]}"
        self.track_volume(volume)
        task = self.wait_task(self.cluster, arn, "RUNNING")
        self.assertTrue(volume_exists(volume), f"no Docker volume {volume}")

        writer, reader, viewer = (self.inspect(task, n) for n in ("writer", "reader", "viewer"))
        self.assertEqual(self.mounts(writer)["/scratch"]["Type"], "volume")
        self.assertEqual(self.mounts(writer)["/scratch"]["Name"], volume)
        self.assertTrue(self.mounts(writer)["/scratch"]["RW"])
        self.assertEqual(self.mounts(reader)["/in"]["Name"], volume)
        self.assertFalse(self.mounts(reader)["/in"]["RW"])
        self.assertEqual(viewer["HostConfig"]["VolumesFrom"], [writer["Id"] + ":ro"])
        self.assertEqual(self.mounts(viewer)["/scratch"]["Name"], volume)

        read = wait_for(lambda: self.exec(reader["Id"], "cat", "/in/file", check=False).stdout, timeout=30,
                        what="the reader to see the writer's file")
        self.assertEqual(read, "shared-data\n")
        self.assertEqual(self.exec(viewer["Id"], "cat", "/scratch/file").stdout, "shared-data\n")
        self.assertNotEqual(self.exec(reader["Id"], "touch", "/in/x", check=False).returncode, 0)

        # After STOPPED and the clean-up wait (2 s here), the containers and the task's volume are removed.
        self.ecs.stop_task(cluster=self.cluster, task=arn)
        self.wait_task(self.cluster, arn, "STOPPED")
        ids = [writer["Id"], reader["Id"], viewer["Id"]]
        wait_for(lambda: all(docker_inspect(i) is None for i in ids), timeout=60,
                 what="berth to remove the stopped task's containers")
        wait_for(lambda: not volume_exists(volume), timeout=60, what=f"berth to remove volume {volume}")
        # The task itself is still described (retention is the default hour).
        self.assertEqual(self.describe_task(self.cluster, arn)["lastStatus"], "STOPPED")

    def test_docker_volume_configuration_task_and_shared_scope(self):
        shared = "berth-shared-" + os.urandom(4).hex()
        self.track_volume(shared)
        volumes = [
            {"name": "mine", "dockerVolumeConfiguration": {
                "scope": "task", "driver": "local", "labels": {"purpose": "task-scope"},
                "driverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=8m"}}},
            {"name": shared, "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True,
                                                           "driver": "local"}},
        ]
        mounts = [{"sourceVolume": "mine", "containerPath": "/mine"},
                  {"sourceVolume": shared, "containerPath": "/shared"}]
        script = ("ls /mine > /shared/seen-by-$ROLE; echo $ROLE > /mine/me; echo $ROLE >> /shared/log; "
                  "trap 'exit 0' TERM; while :; do sleep 1; done")
        self.register("dockervol", [busybox("main", sh(script), mountPoints=mounts)], volumes=volumes)
        arns = []
        for role in ("first", "second"):
            [t] = self.run_task("dockervol", overrides={"containerOverrides": [
                {"name": "main", "environment": [{"name": "ROLE", "value": role}]}]})
            arns.append(t["taskArn"])
            self.wait_task(self.cluster, t["taskArn"], "RUNNING")
        task_volumes = [f"ecs-dockervol-1-mine-{a.rsplit('/', 1)[1][:12]}" for a in arns]
        for v in task_volumes:
            self.track_volume(v)
        main_id = self.container(self.describe_task(self.cluster, arns[1]), "main")["runtimeId"]
        log = wait_for(lambda: self.exec(main_id, "cat", "/shared/log", check=False).stdout.split(), timeout=30,
                       what="both tasks to write to the shared volume")
        self.assertEqual(sorted(log), ["first", "second"])
        # The task-scoped volume is each task's own: the second task found it empty.
        self.assertEqual(self.exec(main_id, "cat", "/shared/seen-by-second").stdout, "")
        self.assertEqual(self.exec(main_id, "cat", "/mine/me").stdout, "second\n")

        for arn, v in zip(arns, task_volumes):
            doc = self.inspect(self.describe_task(self.cluster, arn), "main")
            by_dest = self.mounts(doc)
            self.assertEqual(by_dest["/mine"]["Name"], v)
            self.assertEqual(by_dest["/shared"]["Name"], shared)
            info = json.loads(docker("volume", "inspect", v, check=True).stdout)[0]
            self.assertEqual(info["Driver"], "local")
            self.assertEqual(info["Labels"].get("purpose"), "task-scope")
            self.assertEqual(info["Options"], {"type": "tmpfs", "device": "tmpfs", "o": "size=8m"})
        mounts_inside = self.exec(main_id, "cat", "/proc/mounts").stdout.splitlines()
        self.assertTrue(any(line.split()[1] == "/mine" and line.split()[2] == "tmpfs" for line in mounts_inside),
                        mounts_inside)
        for arn in arns:
            self.ecs.stop_task(cluster=self.cluster, task=arn)
        for arn in arns:
            self.wait_task(self.cluster, arn, "STOPPED")
        wait_for(lambda: not any(volume_exists(v) for v in task_volumes), timeout=60,
                 what="berth to remove the task-scoped volumes")
        # A shared volume outlives the tasks that used it.
        self.assertTrue(volume_exists(shared))

    def test_efs_shared_between_ec2_and_fargate_tasks(self):
        fs = "fs-0123456789abcdef0"
        efs_volume = [{"name": "efs", "efsVolumeConfiguration": {"fileSystemId": fs, "rootDirectory": "/app"}}]
        mount = [{"sourceVolume": "efs", "containerPath": "/mnt/efs"}]
        keep = "trap 'exit 0' TERM; while :; do sleep 1; done"
        self.register("efs-ec2", [busybox("main", sh(f"echo from-ec2 > /mnt/efs/ec2.txt; {keep}"),
                                          mountPoints=mount)], volumes=efs_volume)
        self.ecs.register_task_definition(**fargate_definition(
            "efs-fg", [plain("main", sh(f"echo from-fargate > /mnt/efs/fargate.txt; {keep}"), mountPoints=mount)],
            volumes=efs_volume))
        [ec2] = self.run_task("efs-ec2")
        ec2 = self.wait_task(self.cluster, ec2["taskArn"], "RUNNING")
        [fg] = self.run_task("efs-fg", launchType="FARGATE", networkConfiguration=AWSVPC)
        fg = self.wait_task(self.cluster, fg["taskArn"], "RUNNING")
        self.assertEqual(fg["launchType"], "FARGATE")

        root = os.path.join(self.efs_dir, fs, "app")
        for task in (ec2, fg):
            m = self.mounts(self.inspect(task, "main"))["/mnt/efs"]
            self.assertEqual(m["Type"], "bind")
            self.assertEqual(m["Source"], root)
            self.assertTrue(m["RW"])
        for name, text in (("ec2.txt", "from-ec2\n"), ("fargate.txt", "from-fargate\n")):
            path = os.path.join(root, name)
            wait_for(lambda p=path: os.path.exists(p) and os.path.getsize(p) > 0, timeout=30, what=f"{path}")
            with open(path) as f:
                self.assertEqual(f.read(), text)
        # Each task reads what the other wrote.
        ec2_id = self.container(ec2, "main")["runtimeId"]
        fg_id = self.container(fg, "main")["runtimeId"]
        self.assertEqual(self.exec(fg_id, "cat", "/mnt/efs/ec2.txt").stdout, "from-ec2\n")
        self.assertEqual(self.exec(ec2_id, "cat", "/mnt/efs/fargate.txt").stdout, "from-fargate\n")

    def test_task_volumes_removed_at_reset_and_shutdown(self):
        # Without --data-dir, reset and a stopping berth forget every task: their task-scoped volumes must go
        # with the containers, or every run leaks one Docker volume per task.
        b = self.start_extra_berth()
        ecs = b.boto3_client()

        def run_with_volume():
            ecs.create_cluster(clusterName=self.cluster)
            ecs.register_task_definition(family="leak", volumes=[{"name": "scratch"}], containerDefinitions=[
                busybox("main", SLEEPER, mountPoints=[{"sourceVolume": "scratch", "containerPath": "/s"}])])
            arn = ecs.run_task(cluster=self.cluster, taskDefinition="leak")["tasks"][0]["taskArn"]
            volume = f"ecs-leak-1-scratch-{arn.rsplit('/', 1)[1][:12]}"
            self.track_volume(volume)
            self.wait_task(self.cluster, arn, "RUNNING", client=ecs)
            self.assertTrue(volume_exists(volume))
            return volume

        with self.subTest(at="reset"):
            volume = run_with_volume()
            b.reset()
            self.assertFalse(volume_exists(volume), f"berth left volume {volume} behind after /_berth/reset")
        with self.subTest(at="shutdown"):
            volume = run_with_volume()
            self.assertEqual(b.stop_and_check(), [])
            self.assertFalse(volume_exists(volume), f"berth left volume {volume} behind after shutdown")


# --------------------------------------------------------------------------------------------------------------
# Secrets and environment files

SECRET_VALUES = {
    "/app/db-password": "ssm-by-name-7f3a",
    "arn:aws:ssm:us-east-1:000000000000:parameter/app/api-key": "ssm-by-arn-91cc",
    "/app/token": "ssm-name-via-arn-44d0",
    "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-creds-AbCdEf":
        json.dumps({"username": "admin-5e2b", "password": "asm-pass-b81d"}),
}


class SecretsTest(RuntimeTestCase):
    cluster = "secrets"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="berth-secrets-")
        cls.secrets_file = os.path.join(cls.tmp, "secrets.json")
        with open(cls.secrets_file, "w") as f:
            json.dump(SECRET_VALUES, f)
        cls.s3_dir = os.path.join(cls.tmp, "s3")
        os.makedirs(os.path.join(cls.s3_dir, "config-bucket", "envs"))
        with open(os.path.join(cls.s3_dir, "config-bucket", "envs", "app.env"), "w") as f:
            f.write("# comment\nFROM_FILE=file-value\nSHARED=from-file\n\nSECOND_FILE_VAR=x=y\n")
        cls.berth_args = ("--secrets-file", cls.secrets_file, "--s3-dir", cls.s3_dir, "--log-level", "trace")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def assert_no_secret_in_log(self):
        log = self.berth.log_text()
        for value in ["ssm-by-name-7f3a", "ssm-by-arn-91cc", "ssm-name-via-arn-44d0", "admin-5e2b",
                      "asm-pass-b81d"]:
            self.assertNotIn(value, log, "a secret value appears in berth's log")

    def test_secrets_become_environment(self):
        asm = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-creds-AbCdEf"
        arn = self.run_one("secrets", [busybox("main", SLEEPER, secrets=[
            {"name": "DB_PASSWORD", "valueFrom": "/app/db-password"},
            {"name": "API_KEY", "valueFrom": "arn:aws:ssm:us-east-1:000000000000:parameter/app/api-key"},
            {"name": "TOKEN", "valueFrom": "arn:aws:ssm:us-east-1:000000000000:parameter/app/token"},
            {"name": "DB_CREDS", "valueFrom": asm},
            {"name": "DB_USER", "valueFrom": asm + ":username::"},
            {"name": "DB_PASS_STAGED", "valueFrom": asm + ":password:AWSCURRENT:"},
        ])])
        task = self.wait_task(self.cluster, arn, "RUNNING")
        doc = self.inspect(task, "main")
        env = doc["Config"]["Env"]
        self.assertIn("DB_PASSWORD=ssm-by-name-7f3a", env)
        self.assertIn("API_KEY=ssm-by-arn-91cc", env)
        self.assertIn("TOKEN=ssm-name-via-arn-44d0", env)
        self.assertIn("DB_USER=admin-5e2b", env)
        self.assertIn("DB_PASS_STAGED=asm-pass-b81d", env)
        creds = [e for e in env if e.startswith("DB_CREDS=")]
        self.assertEqual(len(creds), 1)
        self.assertEqual(json.loads(creds[0].split("=", 1)[1]), {"username": "admin-5e2b",
                                                                 "password": "asm-pass-b81d"})
        self.assertEqual(self.exec(doc["Id"], "sh", "-c", "echo $DB_PASSWORD").stdout, "ssm-by-name-7f3a\n")
        # Neither berth's log nor the API show the values.
        self.assertNotIn("ssm-by-name-7f3a", json.dumps(task, default=str))
        self.assert_no_secret_in_log()

    def test_missing_secret_fails_the_task(self):
        asm = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-creds-AbCdEf"
        for family, missing in (("nosecret", "/app/not-there"), ("nojsonkey", asm + ":no-such-key::")):
            with self.subTest(valueFrom=missing):
                arn = self.run_one(family, [busybox("main", SLEEPER, secrets=[
                    {"name": "DB_PASSWORD", "valueFrom": "/app/db-password"},
                    {"name": "GONE", "valueFrom": missing},
                ])])
                task = self.wait_task(self.cluster, arn, "STOPPED")
                self.assertEqual(task.get("stopCode"), "TaskFailedToStart")
                self.assertTrue(task.get("stoppedReason", "").startswith(
                    "ResourceInitializationError: unable to pull secrets or registry auth"),
                    task.get("stoppedReason"))
                self.assertNotIn("ssm-by-name-7f3a", task.get("stoppedReason", ""))
                self.assertEqual(self.container(task, "main")["lastStatus"], "STOPPED")
                self.assertEqual(containers_of_tasks({arn.rsplit("/", 1)[1]}), [], "a container was created anyway")
        self.assert_no_secret_in_log()

    def test_environment_files_from_s3_dir(self):
        arn = self.run_one("envfiles", [busybox(
            "main", SLEEPER,
            environmentFiles=[{"value": "arn:aws:s3:::config-bucket/envs/app.env", "type": "s3"}],
            environment=[{"name": "SHARED", "value": "from-environment"}])])
        task = self.wait_task(self.cluster, arn, "RUNNING")
        env = self.inspect(task, "main")["Config"]["Env"]
        self.assertIn("FROM_FILE=file-value", env)
        self.assertIn("SECOND_FILE_VAR=x=y", env)
        self.assertIn("SHARED=from-environment", env)
        self.assertNotIn("SHARED=from-file", env)
        self.assertFalse(any(e.startswith("#") for e in env))

    def test_missing_environment_file_fails_the_task(self):
        arn = self.run_one("noenvfile", [busybox(
            "main", SLEEPER, environmentFiles=[{"value": "arn:aws:s3:::config-bucket/envs/missing.env",
                                                "type": "s3"}])])
        task = self.wait_task(self.cluster, arn, "STOPPED")
        self.assertEqual(task.get("stopCode"), "TaskFailedToStart")
        self.assertTrue(task.get("stoppedReason", "").startswith("ResourceInitializationError:"),
                        task.get("stoppedReason"))
        self.assertEqual(containers_of_tasks({arn.rsplit("/", 1)[1]}), [])


# --------------------------------------------------------------------------------------------------------------
# RunTask overrides and images


class OverridesAndImagesTest(RuntimeTestCase):
    cluster = "overrides"

    def test_container_overrides_on_ec2(self):
        self.register("ovr", [busybox("main", sh("echo definition; sleep 3600"), cpu=64, memory=64,
                                      environment=[{"name": "MODE", "value": "definition"}])])
        command = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
        out = self.cli_ok(1, "ecs", "run-task", "--cluster", self.cluster, "--task-definition", "ovr",
                          "--overrides", json.dumps({"containerOverrides": [{
                              "name": "main", "command": command, "cpu": 256, "memory": 128,
                              "environment": [{"name": "MODE", "value": "override"}]}]}))
        arn = out["tasks"][0]["taskArn"]
        task = self.wait_task(self.cluster, arn, "RUNNING")
        doc = self.inspect(task, "main")
        self.assertEqual(doc["Config"]["Cmd"], command)
        self.assertIn("MODE=override", doc["Config"]["Env"])
        self.assertNotIn("MODE=definition", doc["Config"]["Env"])
        self.assertEqual(doc["HostConfig"]["CpuShares"], 256)
        self.assertEqual(doc["HostConfig"]["Memory"], 128 * MIB)
        c = self.container(task, "main")
        self.assertEqual(c["cpu"], "256")
        self.assertEqual(c["memory"], "128")
        [o] = task["overrides"]["containerOverrides"]
        self.assertEqual((o["name"], o["command"], o["cpu"], o["memory"]), ("main", command, 256, 128))

    def test_task_cpu_and_memory_overrides_on_fargate(self):
        self.ecs.register_task_definition(**fargate_definition("fg-ovr", [plain("main", SLEEPER)]))
        [t] = self.run_task("fg-ovr", launchType="FARGATE", networkConfiguration=AWSVPC,
                            overrides={"cpu": "512", "memory": "1024"})
        task = self.wait_task(self.cluster, t["taskArn"], "RUNNING")
        self.assertEqual(task["cpu"], "512")
        self.assertEqual(task["memory"], "1024")
        self.assertEqual(task["overrides"].get("cpu"), "512")
        self.assertEqual(task["overrides"].get("memory"), "1024")
        host = self.inspect(task, "main")["HostConfig"]
        self.assertEqual(host["NanoCpus"], 500_000_000)
        self.assertEqual(host["Memory"], 1024 * MIB)

    def test_pull_timestamps_on_success(self):
        arn = self.run_one("pulled", [busybox("main", SLEEPER)])
        task = self.wait_task(self.cluster, arn, "RUNNING")
        for key in ("pullStartedAt", "pullStoppedAt", "startedAt"):
            self.assertIn(key, task)
        self.assertLessEqual(task["createdAt"], task["pullStartedAt"])
        self.assertLessEqual(task["pullStartedAt"], task["pullStoppedAt"])
        self.assertLessEqual(task["pullStoppedAt"], task["startedAt"])
        doc = self.inspect(task, "main")
        self.assertEqual(doc["Config"]["Image"], TEST_IMAGE)
        self.assertTrue(doc["State"]["Running"])

    def test_missing_image_on_fargate(self):
        self.ecs.register_task_definition(**fargate_definition(
            "fg-noimage", [{"name": "main", "image": "berth-test/does-not-exist:nope"}]))
        [t] = self.run_task("fg-noimage", launchType="FARGATE", networkConfiguration=AWSVPC)
        arn = t["taskArn"]
        task = self.wait_task(self.cluster, arn, "STOPPED", timeout=90)
        self.assertEqual(task.get("stopCode"), "TaskFailedToStart")
        self.assertTrue(task.get("stoppedReason", "").startswith("CannotPullContainerError:"),
                        task.get("stoppedReason"))
        self.assertIn("pullStartedAt", task)
        c = self.container(task, "main")
        self.assertNotIn("runtimeId", c)
        self.assertTrue(c.get("reason", "").startswith("CannotPullContainerError:"))
        # Only the pause container ever reached the engine, and it is stopped with the ENI deleted.
        on_engine = containers_of_tasks({arn.rsplit("/", 1)[1]})
        self.assertEqual(len(on_engine), 1, on_engine)
        pause = docker_inspect(on_engine[0][0])
        self.assertEqual(pause["Config"]["Labels"][LABEL_CONTAINER_NAME], PAUSE_NAME)
        self.assertFalse(pause["State"]["Running"])
        self.assertEqual(task["attachments"][0]["status"], "DELETED")


# --------------------------------------------------------------------------------------------------------------
# Clean-up and retention


class CleanupTest(RuntimeTestCase):
    cluster = "cleanup"
    berth_args = ("--container-cleanup-wait", "2", "--task-retention", "8")

    def test_containers_then_task_go_away(self):
        self.register("gone", [busybox("main", SLEEPER, mountPoints=[{"sourceVolume": "s", "containerPath": "/s"}])],
                      networkMode="awsvpc", volumes=[{"name": "s"}])
        [t] = self.run_task("gone", networkConfiguration=AWSVPC)
        arn = t["taskArn"]
        task_id = arn.rsplit("/", 1)[1]
        volume = f"ecs-gone-1-s-{task_id[:12]}"
        self.track_volume(volume)
        task = self.wait_task(self.cluster, arn, "RUNNING")
        main_id = self.container(task, "main")["runtimeId"]
        pause_id = self.pause_container(arn)["Id"]
        self.assertTrue(volume_exists(volume))
        self.ecs.stop_task(cluster=self.cluster, task=arn)
        self.wait_task(self.cluster, arn, "STOPPED")

        # After the 2 s clean-up wait: container, pause container and task volume removed...
        wait_for(lambda: docker_inspect(main_id) is None and docker_inspect(pause_id) is None, timeout=60,
                 what="the task's containers to be removed")
        wait_for(lambda: not volume_exists(volume), timeout=60, what="the task's volume to be removed")
        self.assertEqual(containers_of_tasks({task_id}), [])
        # ...while the task itself is still described and listed until the retention (8 s) is over.
        out = self.ecs.describe_tasks(cluster=self.cluster, tasks=[arn])
        if not out.get("failures"):
            self.assertEqual(out["tasks"][0]["lastStatus"], "STOPPED")

        def missing():
            out = self.ecs.describe_tasks(cluster=self.cluster, tasks=[arn])
            return out["failures"] if out["failures"] else None

        failures = wait_for(missing, timeout=60, what="the stopped task to be forgotten")
        self.assertEqual(failures, [{"arn": arn, "reason": "MISSING"}])
        self.assertEqual(self.ecs.list_tasks(cluster=self.cluster, desiredStatus="STOPPED")["taskArns"], [])
        rc, out, err = self.cli(2, "ecs", "describe-tasks", "--cluster", self.cluster, "--tasks", arn)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["failures"], [{"arn": arn, "reason": "MISSING"}])
