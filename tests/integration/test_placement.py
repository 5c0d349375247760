"""EC2 placement over container instances with real capacity, end to end: `berth serve --instances` makes the
instances, the real AWS CLI v1 and v2 and boto3 place tasks with strategies and constraints, and the engine shows
where they went (each instance's cgroup caps its tasks, each instance publishes on its own loopback address).

Every cluster here is prefixed i5 (issue 5) so nothing collides with other suites on the shared engine."""

import glob
import json
import os
import socket
import tempfile
import urllib.error
import urllib.request

from harness import TEST_IMAGE, BerthTestCase, docker_inspect, sh, wait_for

T3_MICRO_MEMORY = 998  # MiB the agent registers for a t3.micro (1 GiB less the kernel's share)
T3_NANO_MEMORY = 499
CGROUP_ROOT = "/sys/fs/cgroup"


def short(arn):
    return arn.rsplit("/", 1)[1]


def resource(instance, name, which="remainingResources"):
    for r in instance[which]:
        if r["name"] == name:
            return r.get("stringSetValue", r.get("integerValue"))
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(ip, port):
    """The HTTP status a server at ip:port answers with (httpd answers 404 for /)."""
    try:
        with urllib.request.urlopen(f"http://{ip}:{port}/", timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def sleeper(memory=None, reservation=None, **extra):
    d = {"name": "app", "image": TEST_IMAGE, "command": sh("trap 'exit 0' TERM; while :; do sleep 1; done")}
    if memory is not None:
        d["memory"] = memory
    if reservation is not None:
        d["memoryReservation"] = reservation
    d.update(extra)
    return d


def remove_instance_cgroups(instance_ids):
    """What a berth with --data-dir leaves when its containers are removed behind its back: empty cgroups."""
    for iid in instance_ids:
        for path in glob.glob(f"{CGROUP_ROOT}/*/berth/{iid}") + [f"{CGROUP_ROOT}/berth/{iid}"]:
            try:
                os.rmdir(path)
            except OSError:
                pass


class PlacementTest(BerthTestCase):
    berth_args = ("--instances", "i5fill=2:t3.micro", "--instances", "i5pack=2:m5.large",
                  "--instances", "i5oom=1:t3.nano")

    # ---- helpers

    def instances(self, cluster):
        arns = self.ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
        return self.ecs.describe_container_instances(cluster=cluster, containerInstances=arns)["containerInstances"]

    def instance(self, cluster, arn):
        return self.ecs.describe_container_instances(cluster=cluster, containerInstances=[arn])["containerInstances"][0]

    def container_of(self, cluster, task_arn):
        task = self.describe_task(cluster, task_arn)
        return docker_inspect(task["containers"][0]["runtimeId"])

    def wait_running(self, cluster, task_arns):
        return [self.wait_task(cluster, arn, "RUNNING") for arn in task_arns]

    def run_cli(self, v, cluster, family, *extra):
        return self.cli_ok(v, "ecs", "run-task", "--cluster", cluster, "--task-definition", family, *extra)

    def cgroup_limit(self, instance_id):
        path = f"{CGROUP_ROOT}/memory/berth/{instance_id}/memory.limit_in_bytes"
        if not os.path.exists(path):
            path = f"{CGROUP_ROOT}/berth/{instance_id}/memory.max"
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return int(f.read().strip())

    def cgroups_capped(self):
        return "are not capped" not in self.berth.log_text()

    def require_cgroups(self):
        if not self.cgroups_capped():
            self.skipTest("this engine's cgroups cannot be written by berth: " + self.berth.log_tail(5))

    # ---- tests

    def test_two_micro_instances_fill_up_and_the_next_task_fails_on_memory(self):
        instances = self.instances("i5fill")
        self.assertEqual(len(instances), 2)
        for ci in instances:
            self.assertEqual(resource(ci, "MEMORY", "registeredResources"), T3_MICRO_MEMORY)
            self.assertEqual(resource(ci, "CPU", "registeredResources"), 2048)
            attrs = {a["name"]: a.get("value") for a in ci["attributes"]}
            self.assertEqual(attrs["ecs.instance-type"], "t3.micro")
        self.register("i5big", [sleeper(memory=400)])

        # CLI v1 starts four: two per instance.
        out = self.run_cli(1, "i5fill", "i5big", "--count", "4")
        self.assertEqual(out["failures"], [])
        tasks = [t["taskArn"] for t in out["tasks"]]
        per_instance = {}
        for t in out["tasks"]:
            per_instance.setdefault(t["containerInstanceArn"], []).append(t["taskArn"])
        self.assertEqual(sorted(len(v) for v in per_instance.values()), [2, 2])
        self.wait_running("i5fill", tasks)

        # Each task's container lives under its instance's cgroup, capped at the instance's memory (where the
        # engine's cgroups can be written; the OOM test below covers the cap itself).
        for arn in tasks if self.cgroups_capped() else []:
            task = self.describe_task("i5fill", arn)
            iid = short(task["containerInstanceArn"])
            doc = self.container_of("i5fill", arn)
            self.assertEqual(doc["HostConfig"]["CgroupParent"], f"/berth/{iid}")
            self.assertEqual(self.cgroup_limit(iid), T3_MICRO_MEMORY * 1024 * 1024)

        # Both instances show what is left, through CLI v2.
        described = self.cli_ok(2, "ecs", "describe-container-instances", "--cluster", "i5fill",
                                "--container-instances", *per_instance.keys())["containerInstances"]
        for ci in described:
            self.assertEqual(ci["runningTasksCount"], 2)
            self.assertEqual(ci["pendingTasksCount"], 0)
            self.assertEqual(resource(ci, "MEMORY"), T3_MICRO_MEMORY - 800)

        # The fifth fails on memory, on both instances (CLI v2).
        out = self.run_cli(2, "i5fill", "i5big")
        self.assertEqual(out["tasks"], [])
        self.assertEqual(sorted(f["arn"] for f in out["failures"]), sorted(per_instance))
        self.assertEqual({f["reason"] for f in out["failures"]}, {"RESOURCE:MEMORY"})

        # A stopped task gives its memory back: the next one lands where it ran.
        victim = tasks[0]
        where = self.describe_task("i5fill", victim)["containerInstanceArn"]
        self.ecs.stop_task(cluster="i5fill", task=victim)
        self.wait_task("i5fill", victim, "STOPPED")
        again = self.ecs.run_task(cluster="i5fill", taskDefinition="i5big")
        self.assertEqual(again["failures"], [])
        self.assertEqual(again["tasks"][0]["containerInstanceArn"], where)
        self.wait_task("i5fill", again["tasks"][0]["taskArn"], "RUNNING")

    def test_binpack_fills_one_instance_while_spread_alternates(self):
        self.register("i5small", [sleeper(memory=1000)])
        # binpack on memory (CLI v1 shorthand): every task goes to the same instance while it has room.
        packed = self.run_cli(1, "i5pack", "i5small", "--count", "3", "--placement-strategy",
                              "type=binpack,field=memory")
        self.assertEqual(packed["failures"], [])
        where = {t["containerInstanceArn"] for t in packed["tasks"]}
        self.assertEqual(len(where), 1, packed["tasks"])
        # spread on instanceId (CLI v2, JSON): the group alternates between the two instances.
        spread = self.run_cli(2, "i5pack", "i5small", "--count", "4", "--group", "i5-spread",
                              "--placement-strategy", json.dumps([{"type": "spread", "field": "instanceId"}]))
        order = [t["containerInstanceArn"] for t in spread["tasks"]]
        self.assertEqual(len(order), 4)
        self.assertNotEqual(order[0], order[1])
        self.assertEqual(order[0], order[2])
        self.assertEqual(order[1], order[3])
        self.wait_running("i5pack", [t["taskArn"] for t in packed["tasks"] + spread["tasks"]])
        # The instances account for it all: 3 + 2 tasks on one, 2 on the other.
        counts = sorted(ci["runningTasksCount"] for ci in self.instances("i5pack"))
        self.assertEqual(counts, [2, 5])
        # ListTasks by container instance (boto3).
        packed_on = where.pop()
        listed = self.ecs.list_tasks(cluster="i5pack", containerInstance=packed_on)["taskArns"]
        self.assertEqual(len(listed), 5)

    def test_distinct_instance_places_one_per_instance_and_member_of_filters(self):
        self.register("i5one", [sleeper(memory=64)])
        out = self.run_cli(2, "i5pack", "i5one", "--count", "3", "--placement-constraints",
                           "type=distinctInstance")
        self.assertEqual(len(out["tasks"]), 2)
        self.assertEqual(len({t["containerInstanceArn"] for t in out["tasks"]}), 2)
        self.assertEqual({f["reason"] for f in out["failures"]}, {"DistinctInstance placement constraint unsatisfied."})
        self.wait_running("i5pack", [t["taskArn"] for t in out["tasks"]])
        # memberOf with the cluster query language (CLI v1): only the instance in zone b.
        zone_b = [ci for ci in self.instances("i5pack")
                  if {a["name"]: a.get("value") for a in ci["attributes"]}["ecs.availability-zone"] == "us-east-1b"]
        self.assertEqual(len(zone_b), 1)
        out = self.run_cli(1, "i5pack", "i5one", "--count", "2", "--placement-constraints",
                           "type=memberOf,expression=attribute:ecs.availability-zone==us-east-1b")
        self.assertEqual({t["containerInstanceArn"] for t in out["tasks"]}, {zone_b[0]["containerInstanceArn"]})
        self.assertEqual({t["availabilityZone"] for t in out["tasks"]}, {"us-east-1b"})
        self.wait_running("i5pack", [t["taskArn"] for t in out["tasks"]])
        # A malformed expression is the ECS error, through both CLIs, and nothing runs.
        for v in (1, 2):
            rc, _, err = self.cli(v, "ecs", "run-task", "--cluster", "i5pack", "--task-definition", "i5one",
                                  "--placement-constraints", "type=memberOf,expression=attribute:x in [a")
            self.assertIn(rc, (254, 255), err)  # v1 says 255 for service errors
            self.assertIn("InvalidParameterException", err)
            self.assertIn("The cluster query expression is not valid", err)

    def test_a_task_over_its_instance_memory_is_oom_killed(self):
        # No container limit of its own: only the t3.nano's cap (499 MiB) stands in the way of 700 MB.
        self.register("i5hog", [sleeper(reservation=64, command=sh(
            "x=$(head -c 700000000 /dev/zero | tr '\\0' a); echo survived; sleep 60"))])
        out = self.ecs.run_task(cluster="i5oom", taskDefinition="i5hog")
        self.assertEqual(out["failures"], [])
        arn = out["tasks"][0]["taskArn"]
        iid = short(out["tasks"][0]["containerInstanceArn"])
        # The instance's cgroup is made before its first container: by now berth knows whether it could.
        wait_for(lambda: self.describe_task("i5oom", arn)["lastStatus"] != "PROVISIONING", what="the task to start")
        self.require_cgroups()
        self.assertEqual(self.cgroup_limit(iid), T3_NANO_MEMORY * 1024 * 1024)
        stopped = self.wait_task("i5oom", arn, "STOPPED", timeout=120)
        container = stopped["containers"][0]
        self.assertEqual(container["exitCode"], 137, stopped)
        self.assertIn("OutOfMemoryError", container.get("reason", ""))
        self.assertEqual(stopped["stopCode"], "EssentialContainerExited")
        doc = docker_inspect(container["runtimeId"])
        self.assertEqual(doc["HostConfig"]["Memory"], 0)  # the cap was the instance's, not the container's
        self.assertEqual(doc["HostConfig"]["CgroupParent"], f"/berth/{iid}")
        self.assertTrue(doc["State"]["OOMKilled"])
        ci = self.instance("i5oom", out["tasks"][0]["containerInstanceArn"])
        self.assertEqual(resource(ci, "MEMORY"), T3_NANO_MEMORY)
        self.assertEqual(ci["runningTasksCount"] + ci["pendingTasksCount"], 0)

    def test_each_instance_publishes_the_same_host_port_on_its_own_address(self):
        port = free_port()
        self.register("i5web", [{"name": "web", "image": TEST_IMAGE, "memory": 32,
                                 "command": ["httpd", "-f", "-p", "80", "-h", "/"],
                                 "portMappings": [{"containerPort": 80, "hostPort": port}]}])
        out = self.ecs.run_task(cluster="i5pack", taskDefinition="i5web", count=3)
        self.assertEqual(len(out["tasks"]), 2)
        self.assertEqual({f["reason"] for f in out["failures"]}, {"RESOURCE:PORTS"})
        running = self.wait_running("i5pack", [t["taskArn"] for t in out["tasks"]])
        addresses = set()
        for t in running:
            binding = t["containers"][0]["networkBindings"][0]
            self.assertEqual(binding["hostPort"], port)
            self.assertTrue(binding["bindIP"].startswith("127."), binding)
            addresses.add(binding["bindIP"])
            self.assertEqual(wait_for(lambda: http_status(binding["bindIP"], port), timeout=30,
                                      what="httpd to answer"), 404)
        self.assertEqual(len(addresses), 2)
        for ci in self.instances("i5pack"):
            self.assertIn(str(port), resource(ci, "PORTS"))

    def test_draining_start_task_and_forced_deregistration(self):
        self.register("i5d", [sleeper(memory=64)])
        first, second = [ci["containerInstanceArn"] for ci in self.instances("i5pack")]
        self.cli_ok(1, "ecs", "update-container-instances-state", "--cluster", "i5pack", "--container-instances",
                    first, "--status", "DRAINING")
        out = self.run_cli(2, "i5pack", "i5d", "--count", "3")
        self.assertEqual({t["containerInstanceArn"] for t in out["tasks"]}, {second})
        # StartTask checks the named instances like any placement.
        started = self.cli_ok(1, "ecs", "start-task", "--cluster", "i5pack", "--task-definition", "i5d",
                              "--container-instances", first, second)
        self.assertEqual([t["containerInstanceArn"] for t in started["tasks"]], [second])
        self.assertEqual(started["failures"], [{"arn": first, "reason": "INACTIVE"}])
        tasks = [t["taskArn"] for t in out["tasks"] + started["tasks"]]
        self.wait_running("i5pack", tasks)
        listed = self.cli_ok(2, "ecs", "list-tasks", "--cluster", "i5pack", "--container-instance", second)
        self.assertEqual(sorted(listed["taskArns"]), sorted(tasks))
        # Deregistration with force orphans the tasks: they keep running, the instance no longer counts them.
        rc, _, err = self.cli(1, "ecs", "deregister-container-instance", "--cluster", "i5pack",
                              "--container-instance", second)
        self.assertIn(rc, (254, 255), err)
        self.assertIn("Found running tasks on the instance.", err)
        gone = self.cli_ok(2, "ecs", "deregister-container-instance", "--cluster", "i5pack",
                           "--container-instance", second, "--force")["containerInstance"]
        self.assertEqual(gone["status"], "INACTIVE")
        self.assertEqual(gone["runningTasksCount"], 0)
        for arn in tasks:
            task = self.describe_task("i5pack", arn)
            self.assertEqual(task["lastStatus"], "RUNNING")
            self.assertTrue(docker_inspect(task["containers"][0]["runtimeId"])["State"]["Running"])
        # Only a draining instance is left: nothing can be placed.
        rc, _, err = self.cli(2, "ecs", "run-task", "--cluster", "i5pack", "--task-definition", "i5d")
        self.assertIn(rc, (254, 255), err)
        self.assertIn("No Container Instances were found in your cluster.", err)

    def test_instances_and_their_accounting_survive_a_restart(self):
        data = tempfile.mkdtemp(prefix="berth-i5-")
        first = self.start_extra_berth("--data-dir", data, "--instances", "i5keep=2:t3.small", name="i5-first")
        ecs = first.boto3_client()
        arns = sorted(ecs.list_container_instances(cluster="i5keep")["containerInstanceArns"])
        self.assertEqual(len(arns), 2)
        ids = [short(a) for a in arns]
        self.register("i5k", [sleeper(memory=256, cpu=512)], client=ecs)
        task = ecs.run_task(cluster="i5keep", taskDefinition="i5k")["tasks"][0]
        self.wait_task("i5keep", task["taskArn"], "RUNNING", client=ecs)
        before = ecs.describe_container_instances(cluster="i5keep", containerInstances=arns)["containerInstances"]
        self.assertEqual(first.terminate(), 0)

        # Cleaned up after the second berth and its containers are gone (cleanups run last-in, first-out).
        self.addCleanup(remove_instance_cgroups, ids)
        second = self.start_extra_berth("--data-dir", data, "--instances", "i5keep=2:t3.small", name="i5-second")
        ecs = second.boto3_client()
        # The same two instances (no duplicates), counting the task that kept running meanwhile.
        self.assertEqual(sorted(ecs.list_container_instances(cluster="i5keep")["containerInstanceArns"]), arns)
        after = ecs.describe_container_instances(cluster="i5keep", containerInstances=arns)["containerInstances"]
        for b, a in zip(before, after):
            self.assertEqual(a["remainingResources"], b["remainingResources"])
            self.assertEqual(a["runningTasksCount"], b["runningTasksCount"])
        again = self.wait_task("i5keep", task["taskArn"], "RUNNING", client=ecs)
        self.assertEqual(again["containerInstanceArn"], task["containerInstanceArn"])
        # A crash frees the instance: the container dies behind berth's back.
        doc = docker_inspect(again["containers"][0]["runtimeId"])
        os.kill(doc["State"]["Pid"], 9)
        self.wait_task("i5keep", task["taskArn"], "STOPPED", client=ecs)
        ci = ecs.describe_container_instances(cluster="i5keep",
                                              containerInstances=[task["containerInstanceArn"]])["containerInstances"][0]
        self.assertEqual(ci["runningTasksCount"], 0)
        self.assertEqual(resource(ci, "CPU"), 2048)
