"""Task metadata v3/v4 and task role credentials at http://169.254.170.2, read from inside real containers
(bridge and awsvpc) through the variables berth injects, and from the host with botocore's own container
credential provider. Also: one task cannot read another's credentials or metadata, credentials end with the task,
and the execution role never reaches a container."""

import datetime
import json
import os
import re
import time
import urllib.error
import urllib.request

from harness import SLEEPER, BerthTestCase, docker, docker_inspect, sh, wait_for

CLUSTER = "meta"
METADATA = "http://169.254.170.2"
ROLE = "arn:aws:iam::111122223333:role/app"
OVERRIDE_ROLE = "arn:aws:iam::444455556666:role/override"
EXEC_ROLE = "arn:aws:iam::111122223333:role/exec-role-never-in-a-container"
TOKEN_RE = r"[0-9a-f]{32}"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"

# Everything a container can learn, one section per endpoint, then it stays up for the isolation checks.
# (busybox's wget crashes with -T, so no timeout flag; the harness bounds the wait.)
PROBE = """
sleep 1
for p in "" /task /taskWithTags /stats /task/stats; do echo "==v4$p"; wget -qO- "$ECS_CONTAINER_METADATA_URI_V4$p"; echo; done
echo "==v3"; wget -qO- "$ECS_CONTAINER_METADATA_URI"; echo
echo "==creds"; if [ -n "$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" ]; then wget -qO- "http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"; fi; echo
echo "==env"; env | grep -E '^(ECS_|AWS_)' | sort
echo "==end"
trap 'exit 0' TERM; while :; do sleep 1; done
"""


def sections(logs):
    """{"v4": text, "v4/task": text, ..., "env": text} from the probe's output."""
    out, name = {}, None
    for line in logs.splitlines():
        if line.startswith("=="):
            name = line[2:]
            out[name] = ""
        elif name is not None:
            out[name] += line + "\n"
    return out


def rfc3339(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def http_get(url):
    """(status, parsed JSON) from the host."""
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class MetadataTest(BerthTestCase):

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise __import__("unittest").SkipTest("binding 169.254.170.2:80 needs root")
        super().setUpClass()
        # berth makes the address exist and binds it in the background: wait for it (a failure here is a failure).
        wait_for(lambda: "task metadata and credentials endpoint on" in cls.berth.log_text(), timeout=30,
                 what="berth to serve 169.254.170.2:80\n" + cls.berth.log_tail())

    def setUp(self):
        super().setUp()
        self.ecs.create_cluster(clusterName=CLUSTER)

    # ---- helpers

    def run_task(self, family, containers, **kw):
        register = {k: kw.pop(k) for k in list(kw) if k in ("taskRoleArn", "executionRoleArn", "networkMode",
                                                               "cpu", "memory", "requiresCompatibilities")}
        self.register(family, containers, **register)
        out = self.ecs.run_task(cluster=CLUSTER, taskDefinition=family, **kw)
        self.assertEqual(out.get("failures", []), [])
        return self.wait_task(CLUSTER, out["tasks"][0]["taskArn"], "RUNNING", timeout=120)

    def probe_output(self, runtime_id):
        def done():
            out = docker("logs", runtime_id)
            return out.stdout if "==end" in out.stdout else None

        return sections(wait_for(done, timeout=90, what="the probe to finish"))

    def env_of(self, runtime_id):
        doc = docker_inspect(runtime_id)
        return dict(kv.split("=", 1) for kv in doc["Config"]["Env"])

    def check_container_document(self, doc, task, container, inspect, version):
        self.assertEqual(doc["DockerId"], container["runtimeId"])
        self.assertEqual(doc["Name"], container["name"])
        self.assertEqual(doc["DockerName"], inspect["Name"].lstrip("/"))
        self.assertEqual(doc["Image"], "berth-test/busybox:latest")
        self.assertEqual(doc["ImageID"], inspect["Image"])
        self.assertEqual(doc["Labels"]["com.amazonaws.ecs.task-arn"], task["taskArn"])
        self.assertEqual(doc["Labels"]["com.amazonaws.ecs.container-name"], container["name"])
        self.assertEqual(doc["Labels"]["com.amazonaws.ecs.task-definition-family"], task["taskDefinitionArn"]
                         .split("/")[-1].split(":")[0])
        self.assertEqual(doc["Labels"]["team"], "metadata")
        self.assertEqual(doc["DesiredStatus"], "RUNNING")
        self.assertEqual(doc["KnownStatus"], "RUNNING")
        self.assertEqual(doc["Limits"], {"CPU": 128, "Memory": 64})
        self.assertLessEqual(rfc3339(doc["CreatedAt"]), rfc3339(doc["StartedAt"]))
        self.assertEqual(doc["Type"], "NORMAL")
        self.assertNotIn("ExitCode", doc)
        if version == 4:
            self.assertEqual(doc["ContainerARN"], container["containerArn"])
        else:
            self.assertNotIn("ContainerARN", doc)

    def check_credentials(self, text, role):
        creds = json.loads(text)
        self.assertEqual(set(creds), {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "RoleArn"})
        self.assertEqual(creds["RoleArn"], role)
        self.assertRegex(creds["AccessKeyId"], r"^ASIA[A-Z2-7]{16}$")
        self.assertEqual(len(creds["SecretAccessKey"]), 40)
        self.assertTrue(creds["Token"])
        ahead = rfc3339(creds["Expiration"]) - datetime.datetime.now(datetime.timezone.utc)
        self.assertTrue(datetime.timedelta(hours=5) < ahead <= datetime.timedelta(hours=6, minutes=1), ahead)
        return creds

    # ---- tests

    def test_bridge_task_reads_its_metadata_and_credentials(self):
        task = self.run_task("meta-bridge",
                             [{"name": "probe", "image": "berth-test/busybox:latest", "command": sh(PROBE),
                               "cpu": 128, "memory": 64, "dockerLabels": {"team": "metadata"},
                               "portMappings": [{"containerPort": 8080}]}],
                             taskRoleArn=ROLE, executionRoleArn=EXEC_ROLE, cpu="256", memory="512",
                             tags=[{"key": "owner", "value": "tests"}])
        [container] = task["containers"]
        inspect = docker_inspect(container["runtimeId"])
        out = self.probe_output(container["runtimeId"])

        env = dict(line.split("=", 1) for line in out["env"].splitlines() if "=" in line)
        token = re.fullmatch(rf"http://169\.254\.170\.2/v4/({TOKEN_RE})", env["ECS_CONTAINER_METADATA_URI_V4"])
        self.assertIsNotNone(token, env)
        self.assertEqual(env["ECS_CONTAINER_METADATA_URI"], f"{METADATA}/v3/{token.group(1)}")
        self.assertEqual(env["ECS_AGENT_URI"], f"{METADATA}/api/{token.group(1)}")
        self.assertRegex(env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], rf"^/v2/credentials/{UUID_RE}$")
        self.assertEqual(env["AWS_EXECUTION_ENV"], "AWS_ECS_EC2")
        self.assertEqual(env["AWS_REGION"], "us-east-1")
        self.assertEqual(env["AWS_DEFAULT_REGION"], "us-east-1")

        doc = json.loads(out["v4"])
        self.check_container_document(doc, task, container, inspect, 4)
        bridge_ip = inspect["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        self.assertEqual(doc["Networks"], [{"NetworkMode": "bridge", "IPv4Addresses": [bridge_ip]}])
        [binding] = container["networkBindings"]
        self.assertEqual(doc["Ports"], [{"ContainerPort": 8080, "Protocol": "tcp", "HostPort": binding["hostPort"],
                                         "HostIp": binding["bindIP"]}])

        t = json.loads(out["v4/task"])
        self.assertEqual(t["Cluster"], CLUSTER)
        self.assertEqual(t["TaskARN"], task["taskArn"])
        self.assertEqual(t["Family"], "meta-bridge")
        self.assertEqual(t["Revision"], "1")
        self.assertEqual(t["DesiredStatus"], "RUNNING")
        self.assertEqual(t["KnownStatus"], "RUNNING")
        self.assertEqual(t["Limits"], {"CPU": 0.25, "Memory": 512})
        self.assertEqual(t["AvailabilityZone"], "us-east-1a")
        self.assertEqual(t["LaunchType"], "EC2")
        self.assertLessEqual(rfc3339(t["PullStartedAt"]), rfc3339(t["PullStoppedAt"]))
        self.assertEqual([c["DockerId"] for c in t["Containers"]], [container["runtimeId"]])
        self.assertNotIn("TaskTags", t)
        self.assertEqual(json.loads(out["v4/taskWithTags"])["TaskTags"], {"owner": "tests"})

        stats = json.loads(out["v4/stats"])
        self.assertEqual(stats["id"], container["runtimeId"])
        self.assertGreater(stats["memory_stats"]["usage"], 0)
        self.assertGreater(stats["cpu_stats"]["cpu_usage"]["total_usage"], 0)
        self.assertIn("eth0", stats["networks"])
        self.assertEqual(set(stats["network_rate_stats"]), {"rx_bytes_per_sec", "tx_bytes_per_sec"})
        task_stats = json.loads(out["v4/task/stats"])
        self.assertEqual(list(task_stats), [container["runtimeId"]])
        self.assertIn("memory_stats", task_stats[container["runtimeId"]])

        v3 = json.loads(out["v3"])
        self.check_container_document(v3, task, container, inspect, 3)

        self.check_credentials(out["creds"], ROLE)
        # The execution role is berth's business: not in the environment, the documents or the credentials.
        self.assertNotIn(EXEC_ROLE, docker("logs", container["runtimeId"]).stdout)
        self.assertNotIn(EXEC_ROLE, json.dumps(inspect["Config"]["Env"]))
        # Nor does berth's log carry the secrets or the ids.
        log = self.berth.log_text()
        creds = json.loads(out["creds"])
        for secret in (creds["SecretAccessKey"], creds["Token"], token.group(1),
                       env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"].rsplit("/", 1)[1]):
            self.assertNotIn(secret, log)

    def test_awsvpc_fargate_task_with_a_run_task_role_override(self):
        task = self.run_task("meta-vpc",
                             [{"name": "probe", "image": "berth-test/busybox:latest", "command": sh(PROBE),
                               "cpu": 128, "memory": 64, "dockerLabels": {"team": "metadata"},
                               "portMappings": [{"containerPort": 8080}]}],
                             networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
                             taskRoleArn=ROLE, launchType="FARGATE",
                             networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}},
                             overrides={"taskRoleArn": OVERRIDE_ROLE})
        [container] = task["containers"]
        eni_ip = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}["privateIPv4Address"]
        out = self.probe_output(container["runtimeId"])
        env = dict(line.split("=", 1) for line in out["env"].splitlines() if "=" in line)
        self.assertEqual(env["AWS_EXECUTION_ENV"], "AWS_ECS_FARGATE")

        doc = json.loads(out["v4"])
        self.check_container_document(doc, task, container, docker_inspect(container["runtimeId"]), 4)
        [net] = doc["Networks"]
        self.assertEqual(net["NetworkMode"], "awsvpc")
        self.assertEqual(net["IPv4Addresses"], [eni_ip])
        self.assertEqual(net["AttachmentIndex"], 0)
        self.assertEqual(net["PrivateDNSName"], "ip-" + eni_ip.replace(".", "-") + ".ec2.internal")
        self.assertEqual(doc["Ports"], [{"ContainerPort": 8080, "Protocol": "tcp", "HostPort": 8080}])

        t = json.loads(out["v4/task"])
        self.assertEqual(t["Cluster"], task["clusterArn"])  # Fargate names the cluster by ARN
        self.assertEqual(t["LaunchType"], "FARGATE")
        pause = [c for c in t["Containers"] if c["Type"] == "CNI_PAUSE"]
        self.assertEqual([c["Name"] for c in pause], ["~internal~ecs~pause"])
        self.assertIn("eth0", json.loads(out["v4/stats"])["networks"])  # the task's interface

        # RunTask's override wins over the task definition's role.
        self.check_credentials(out["creds"], OVERRIDE_ROLE)

    def test_no_task_role_no_credentials(self):
        task = self.run_task("meta-norole", [{"name": "probe", "image": "berth-test/busybox:latest",
                                              "command": sh(PROBE), "cpu": 128, "memory": 64,
                                              "dockerLabels": {"team": "metadata"}}])
        out = self.probe_output(task["containers"][0]["runtimeId"])
        self.assertNotIn("AWS_CONTAINER_CREDENTIALS", out["env"])
        self.assertEqual(out["creds"].strip(), "")
        self.assertEqual(json.loads(out["v4"])["Name"], "probe")

    def test_boto3_container_provider_loads_them_from_the_host(self):
        from botocore.credentials import ContainerProvider

        task = self.run_task("meta-sdk", [{"name": "app", "image": "berth-test/busybox:latest",
                                           "command": SLEEPER, "memory": 64}], taskRoleArn=ROLE)
        relative = self.env_of(task["containers"][0]["runtimeId"])["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
        for environ in ({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": relative},
                        {"AWS_CONTAINER_CREDENTIALS_FULL_URI": METADATA + relative}):
            with self.subTest(environ=list(environ)):
                creds = ContainerProvider(environ=environ).load()
                self.assertIsNotNone(creds)
                frozen = creds.get_frozen_credentials()
                self.assertRegex(frozen.access_key, r"^ASIA[A-Z2-7]{16}$")
                self.assertTrue(frozen.token)
        # Signed with the task's keys, a call to berth acts in the role's account.
        client = self.berth.boto3_client(access_key=frozen.access_key, session_token=frozen.token)
        arn = client.create_cluster(clusterName="from-task")["cluster"]["clusterArn"]
        self.assertEqual(arn, "arn:aws:ecs:us-east-1:111122223333:cluster/from-task")

    def test_a_task_cannot_read_another_tasks_credentials_or_metadata(self):
        a = self.run_task("meta-a", [{"name": "app", "image": "berth-test/busybox:latest", "command": SLEEPER,
                                      "memory": 64}], taskRoleArn=ROLE)
        b = self.run_task("meta-b", [{"name": "app", "image": "berth-test/busybox:latest", "command": SLEEPER,
                                      "memory": 64}], taskRoleArn=OVERRIDE_ROLE)
        a_id, b_id = a["containers"][0]["runtimeId"], b["containers"][0]["runtimeId"]
        a_env, b_env = self.env_of(a_id), self.env_of(b_id)
        b_creds = METADATA + b_env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
        b_meta = b_env["ECS_CONTAINER_METADATA_URI_V4"]
        self.assertNotEqual(a_env["ECS_CONTAINER_METADATA_URI_V4"], b_meta)

        def fetch_from(container_id, url):
            return docker("exec", container_id, "wget", "-qO-", url)

        own = fetch_from(b_id, b_creds)
        self.assertEqual(own.returncode, 0, own.stderr)
        self.assertEqual(json.loads(own.stdout)["RoleArn"], OVERRIDE_ROLE)
        for url in (b_creds, b_meta, b_meta + "/task"):
            with self.subTest(url=url.split("/")[3]):
                stolen = fetch_from(a_id, url)
                self.assertNotEqual(stolen.returncode, 0, stolen.stdout)
                self.assertIn("403", stolen.stderr)
        # Unknown ids are simply not found.
        self.assertIn("400", fetch_from(a_id, METADATA + "/v2/credentials/not-a-real-id").stderr)
        self.assertIn("404", fetch_from(a_id, METADATA + "/v4/" + "0" * 32).stderr)

        # Once B is stopped its credentials are gone, for everyone; its metadata stays for the host.
        self.ecs.stop_task(cluster=CLUSTER, task=b["taskArn"])
        self.wait_task(CLUSTER, b["taskArn"], "STOPPED", timeout=60)
        status, body = http_get(b_creds)
        self.assertEqual(status, 400)
        self.assertEqual(body["code"], "InvalidIdInRequest")
        status, body = http_get(b_meta)
        self.assertEqual(status, 200)
        self.assertEqual(body["KnownStatus"], "STOPPED")
        self.assertEqual(body["DesiredStatus"], "STOPPED")
        status, body = http_get(METADATA + a_env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"])
        self.assertEqual((status, body["RoleArn"]), (200, ROLE))
