"""Container-definition fields as the engine sees them: one bridge-mode EC2 task using every Linux field Docker on
this machine accepts, each checked in `docker inspect` (and, where inspect can't show the effect, from inside
the running container)."""

from harness import SLEEPER, TEST_IMAGE, BerthTestCase, busybox, docker, docker_inspect, wait_for

CLUSTER = "fields"
MIB = 1024 * 1024
SECOND = 1_000_000_000


def caps(values):
    """The engine stores capabilities as CAP_X whichever way they were given."""
    return sorted(v if v.startswith("CAP_") else "CAP_" + v for v in values or [])


class ContainerFieldsTest(BerthTestCase):

    def setUp(self):
        super().setUp()
        self.ecs.create_cluster(clusterName=CLUSTER)

    def container(self, task, name):
        for c in task["containers"]:
            if c["name"] == name:
                return c
        self.fail(f"task has no container {name}: {task['containers']}")

    def exec(self, container_id, *command):
        out = docker("exec", container_id, *command)
        self.assertEqual(out.returncode, 0, f"docker exec {command}: {out.stderr}")
        return out.stdout

    def test_every_linux_field_reaches_the_engine(self):
        main = busybox(
            "main", SLEEPER,
            cpu=128,
            memory=96,
            memoryReservation=32,
            environment=[{"name": "GREETING", "value": "hello"}],
            workingDirectory="/scratch",
            user="1000:1000",
            hostname="fields-host",
            dockerLabels={"team": "berth", "tier": "test"},
            ulimits=[{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
            linuxParameters={
                "capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]},
                "initProcessEnabled": True,
                "sharedMemorySize": 64,
                "tmpfs": [{"containerPath": "/scratch", "size": 16, "mountOptions": ["noexec", "nosuid"]}],
                "devices": [{"hostPath": "/dev/null", "containerPath": "/dev/berth-null",
                             "permissions": ["read", "write"]}],
            },
            readonlyRootFilesystem=True,
            extraHosts=[{"hostname": "db.internal", "ipAddress": "10.9.8.7"}],
            dnsServers=["10.0.0.2"],
            dnsSearchDomains=["corp.example"],
            systemControls=[{"namespace": "net.core.somaxconn", "value": "511"}],
            healthCheck={"command": ["CMD-SHELL", "test -d /scratch"], "interval": 5, "timeout": 2,
                         "retries": 2, "startPeriod": 1},
            logConfiguration={"logDriver": "json-file", "options": {"max-size": "1m", "max-file": "2"}},
            stopTimeout=5,
        )
        # awslogs keeps the engine's default driver (berth serves the logs itself).
        remote_logs = busybox("logs", SLEEPER, essential=False,
                              logConfiguration={"logDriver": "awslogs",
                                                "options": {"awslogs-group": "/ecs/fields",
                                                            "awslogs-region": "us-east-1",
                                                            "awslogs-stream-prefix": "fields"}})
        self.register("fields", [main, remote_logs], networkMode="bridge", requiresCompatibilities=["EC2"])
        out = self.ecs.run_task(cluster=CLUSTER, taskDefinition="fields", launchType="EC2")
        self.assertEqual(out.get("failures", []), [])
        arn = out["tasks"][0]["taskArn"]
        task = self.wait_task(CLUSTER, arn, "RUNNING")

        main_id = self.container(task, "main")["runtimeId"]
        doc = docker_inspect(main_id)
        self.assertIsNotNone(doc)
        config, host = doc["Config"], doc["HostConfig"]

        with self.subTest("plain fields"):
            self.assertEqual(host["NetworkMode"], "bridge")
            self.assertEqual(host["CpuShares"], 128)
            self.assertEqual(host["Memory"], 96 * MIB)
            self.assertEqual(host["MemoryReservation"], 32 * MIB)
            self.assertIn("GREETING=hello", config["Env"])
            self.assertEqual(config["WorkingDir"], "/scratch")
            self.assertEqual(config["User"], "1000:1000")
            self.assertEqual(config["Hostname"], "fields-host")
            self.assertEqual(config["Labels"]["team"], "berth")
            self.assertEqual(config["Labels"]["tier"], "test")
            self.assertEqual(config["StopTimeout"], 5)
            self.assertEqual(self.exec(main_id, "hostname").strip(), "fields-host")
            self.assertEqual(self.exec(main_id, "id", "-u").strip(), "1000")

        with self.subTest("ulimits"):
            self.assertEqual(host["Ulimits"], [{"Name": "nofile", "Soft": 1024, "Hard": 2048}])
            self.assertEqual(self.exec(main_id, "sh", "-c", "ulimit -n; ulimit -Hn").split(), ["1024", "2048"])

        with self.subTest("linuxParameters"):
            self.assertEqual(caps(host["CapAdd"]), ["CAP_NET_ADMIN"])
            self.assertEqual(caps(host["CapDrop"]), ["CAP_MKNOD"])
            self.assertIs(host["Init"], True)
            self.assertEqual(self.exec(main_id, "cat", "/proc/1/comm").strip(), "docker-init")
            self.assertEqual(host["ShmSize"], 64 * MIB)
            shm = self.exec(main_id, "df", "-k", "/dev/shm").splitlines()[-1].split()
            self.assertEqual(int(shm[1]), 64 * 1024)
            scratch = [line.split() for line in self.exec(main_id, "cat", "/proc/mounts").splitlines()
                       if line.split()[1] == "/scratch"]
            self.assertEqual(len(scratch), 1, scratch)
            self.assertEqual(scratch[0][2], "tmpfs")
            options = scratch[0][3].split(",")
            self.assertIn("noexec", options)
            self.assertIn("nosuid", options)
            self.assertIn("size=16384k", options)
            self.assertEqual(host["Devices"], [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/berth-null",
                                                "CgroupPermissions": "rw"}])
            self.exec(main_id, "test", "-c", "/dev/berth-null")

        with self.subTest("readonlyRootFilesystem"):
            self.assertIs(host["ReadonlyRootfs"], True)
            out = docker("exec", main_id, "touch", "/should-fail")
            self.assertNotEqual(out.returncode, 0)
            self.assertIn("Read-only file system", out.stderr + out.stdout)

        with self.subTest("extraHosts, dnsServers, dnsSearchDomains"):
            self.assertEqual(host["ExtraHosts"], ["db.internal:10.9.8.7"])
            self.assertIn("10.9.8.7\tdb.internal", self.exec(main_id, "cat", "/etc/hosts"))
            self.assertEqual(host["Dns"], ["10.0.0.2"])
            self.assertEqual(host["DnsSearch"], ["corp.example"])
            resolv = self.exec(main_id, "cat", "/etc/resolv.conf")
            self.assertIn("nameserver 10.0.0.2", resolv)
            self.assertIn("search corp.example", resolv)

        with self.subTest("systemControls"):
            self.assertEqual(host["Sysctls"], {"net.core.somaxconn": "511"})
            self.assertEqual(self.exec(main_id, "cat", "/proc/sys/net/core/somaxconn").strip(), "511")

        with self.subTest("logConfiguration"):
            self.assertEqual(host["LogConfig"], {"Type": "json-file",
                                                 "Config": {"max-size": "1m", "max-file": "2"}})

        with self.subTest("healthCheck"):
            self.assertEqual(config["Healthcheck"], {"Test": ["CMD-SHELL", "test -d /scratch"],
                                                     "Interval": 5 * SECOND, "Timeout": 2 * SECOND,
                                                     "StartPeriod": 1 * SECOND, "Retries": 2})
            wait_for(lambda: (docker_inspect(main_id)["State"].get("Health") or {}).get("Status") == "healthy",
                     timeout=60, what="the engine to call the container healthy")
            healthy = wait_for(
                lambda: (lambda t: t if self.container(t, "main").get("healthStatus") == "HEALTHY" else None)(
                    self.describe_task(CLUSTER, arn)),
                timeout=30, what="DescribeTasks to report the container HEALTHY")
            self.assertEqual(healthy["lastStatus"], "RUNNING")

        with self.subTest("remote log driver"):
            logs = docker_inspect(self.container(task, "logs")["runtimeId"])["HostConfig"]
            default_driver = docker("info", "-f", "{{.LoggingDriver}}", check=True).stdout.strip()
            self.assertEqual(logs["LogConfig"]["Type"], default_driver)
            self.assertNotIn("awslogs-group", logs["LogConfig"].get("Config") or {})
            self.assertFalse(host.get("Privileged"))

        self.ecs.stop_task(cluster=CLUSTER, task=arn)
        task = self.wait_task(CLUSTER, arn, "STOPPED", timeout=60)
        self.assertEqual(task.get("stopCode"), "UserInitiated")

    def test_privileged(self):
        # Some engines (Docker inside a container without every capability) can't start privileged containers;
        # then berth must still ask for it and report the engine's refusal as ECS reports a failed start.
        probe = docker("run", "--rm", "--privileged", TEST_IMAGE, "true")
        engine_can = probe.returncode == 0
        self.register("priv", [busybox("main", SLEEPER, privileged=True)])
        out = self.ecs.run_task(cluster=CLUSTER, taskDefinition="priv", launchType="EC2")
        self.assertEqual(out.get("failures", []), [])
        arn = out["tasks"][0]["taskArn"]
        task = self.wait_task(CLUSTER, arn, "RUNNING" if engine_can else "STOPPED")
        runtime_id = self.container(task, "main")["runtimeId"]
        self.assertIs(docker_inspect(runtime_id)["HostConfig"]["Privileged"], True)
        if engine_can:
            # The default set, as an unprivileged container has it, is 00000000a80425fb.
            cap_eff = [line.split()[1] for line in self.exec(runtime_id, "cat", "/proc/1/status").splitlines()
                       if line.startswith("CapEff:")]
            self.assertNotEqual(cap_eff, ["00000000a80425fb"])
        else:
            self.assertEqual(task.get("stopCode"), "TaskFailedToStart")
            self.assertTrue(task.get("stoppedReason", "").startswith("CannotStartContainerError:"),
                            task.get("stoppedReason"))
            self.assertIn(probe.stderr.strip().splitlines()[0].split("Error response from daemon: ")[-1][:40],
                          task["stoppedReason"])
