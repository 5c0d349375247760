"""Container instances and the agent API, attributes, task definitions in full, task protection, ExecuteCommand,
daemons and Express gateway services: through AWS CLI v1 and v2, boto3 and raw requests.

Every raw answer is checked member by member against the operation's output shape in botocore's model (the
shape a real client parses), besides the values the behaviour decides."""

import json
import os
import re
import tempfile
import unittest

import botocore.session
from botocore import xform_name

from harness import ACCOUNT, REGION, SLEEPER, BerthTestCase, busybox

ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}"
INSTANCE_ARN = re.compile(rf"^{ARN}:container-instance/(?P<cluster>[^/]+)/(?P<id>[0-9a-f]{{32}})$")
RESERVED_PORTS = ["22", "2375", "2376", "51678", "51679"]

_model = botocore.session.get_session().get_service_model("ecs")


def shape_problems(shape, value, path="$"):
    """Where `value` does not fit the botocore shape: unknown members, wrong types, values outside an enum."""
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {value!r}"]
        out = []
        for k, v in value.items():
            if k not in shape.members:
                out.append(f"{path}.{k}: not a member of {shape.name}")
            else:
                out += shape_problems(shape.members[k], v, f"{path}.{k}")
        return out
    if t == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {value!r}"]
        return [p for i, v in enumerate(value) for p in shape_problems(shape.member, v, f"{path}[{i}]")]
    if t == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {value!r}"]
        return [p for k, v in value.items() for p in shape_problems(shape.value, v, f"{path}.{k}")]
    if t == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        if shape.enum and value not in shape.enum:
            return [f"{path}: {value!r} is not one of {shape.enum}"]
        return []
    if t in ("integer", "long"):
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: expected an integer, got {value!r}"]
    if t in ("double", "float", "timestamp"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if t == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    return []


def identity_document(instance_id, instance_type="t3.large"):
    return json.dumps({"instanceId": instance_id, "instanceType": instance_type, "imageId": "ami-0abcdef1234567890",
                       "availabilityZone": f"{REGION}b", "architecture": "x86_64", "region": REGION,
                       "accountId": ACCOUNT, "privateIp": "10.0.0.5"})


TOTAL_RESOURCES = [
    {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
    {"name": "MEMORY", "type": "INTEGER", "integerValue": 3768},
    {"name": "PORTS", "type": "STRINGSET", "stringSetValue": RESERVED_PORTS},
    {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
]


class InstancesTest(BerthTestCase):

    # ---- helpers

    def call(self, op, body):
        """Calls `op` through boto3 and checks the JSON berth actually sent, member by member, against the output
        shape (boto3 itself would silently drop what the shape lacks); returns that JSON."""
        captured = {}

        def grab(http_response=None, **_):
            captured["body"] = http_response.content

        event = f"after-call.ecs.{op}"
        self.ecs.meta.events.register(event, grab)
        try:
            getattr(self.ecs, xform_name(op))(**body)
        finally:
            self.ecs.meta.events.unregister(event, grab)
        out = json.loads(captured["body"])
        output = _model.operation_model(op).output_shape
        if output is not None:
            self.assertEqual(shape_problems(output, out), [], f"{op} answer does not fit its shape: {out}")
        return out

    def error(self, op, body, error_type, contains=None):
        status, _, out = self.raw(op, body)
        self.assertEqual(status, 400, f"{op}: {out!r}")
        self.assertEqual(out.get("__type"), error_type, out)
        if contains:
            self.assertIn(contains, out.get("message", ""))
        return out

    def cli_error(self, v, *args):
        rc, out, err = self.cli(v, *args)
        # 254 is a service error; CLI v1 says 255 when it comes while paginating.
        self.assertIn(rc, (254, 255), f"expected a service error from aws v{v} {args}: {out!r} {err}")
        self.assertIn("An error occurred (", err)
        return err

    def register_instance(self, cluster="default", instance_id="i-0123456789abcdef0", **extra):
        body = {"cluster": cluster, "instanceIdentityDocument": identity_document(instance_id),
                "instanceIdentityDocumentSignature": "c2lnbmF0dXJl", "totalResources": TOTAL_RESOURCES,
                "versionInfo": {"agentVersion": "1.80.0", "agentHash": "abc", "dockerVersion": "DockerVersion: 20.10"},
                "attributes": [{"name": "ecs.capability.privileged-container"}, {"name": "stack", "value": "prod"}]}
        body.update(extra)
        return self.call("RegisterContainerInstance", body)["containerInstance"]

    @staticmethod
    def attrs(instance):
        return {a["name"]: a.get("value") for a in instance["attributes"]}

    # ---- container instances through both CLIs

    def test_container_instances_cli_v1(self):
        self.check_container_instances_cli(1)

    def test_container_instances_cli_v2(self):
        self.check_container_instances_cli(2)

    def check_container_instances_cli(self, v):
        cluster = f"ci-v{v}"
        self.cli_ok(v, "ecs", "create-cluster", "--cluster-name", cluster)
        out = self.cli_ok(v, "ecs", "register-container-instance", "--cluster", cluster,
                          "--instance-identity-document", identity_document("i-0aaa"),
                          "--instance-identity-document-signature", "c2lnbmF0dXJl",
                          "--total-resources", json.dumps(TOTAL_RESOURCES),
                          "--version-info", "agentVersion=1.80.0,agentHash=abc,dockerVersion=20.10",
                          "--attributes", "name=stack,value=prod", "name=ecs.capability.secrets.asm.environment-variables",
                          "--tags", "key=team,value=core")
        ci = out["containerInstance"]
        m = INSTANCE_ARN.match(ci["containerInstanceArn"])
        self.assertIsNotNone(m, ci["containerInstanceArn"])
        self.assertEqual(m.group("cluster"), cluster)
        arn, iid = ci["containerInstanceArn"], m.group("id")
        self.assertEqual(ci["ec2InstanceId"], "i-0aaa")
        self.assertEqual(ci["status"], "ACTIVE")
        self.assertIs(ci["agentConnected"], True)
        self.assertEqual(ci["runningTasksCount"], 0)
        self.assertEqual(ci["pendingTasksCount"], 0)
        self.assertEqual(ci["versionInfo"], {"agentVersion": "1.80.0", "agentHash": "abc", "dockerVersion": "20.10"})
        self.assertEqual(ci["tags"], [{"key": "team", "value": "core"}])
        # CLI v1 prints epoch seconds, CLI v2 ISO-8601.
        self.assertIsInstance(ci["registeredAt"], (int, float, str))
        if isinstance(ci["registeredAt"], str):
            self.assertRegex(ci["registeredAt"], r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
        ports = next(r for r in ci["registeredResources"] if r["name"] == "PORTS")
        self.assertEqual(ports["stringSetValue"], RESERVED_PORTS)
        self.assertEqual(ci["remainingResources"], ci["registeredResources"])
        attrs = self.attrs(ci)
        self.assertEqual(attrs["stack"], "prod")
        self.assertEqual(attrs["ecs.instance-type"], "t3.large")
        self.assertEqual(attrs["ecs.availability-zone"], f"{REGION}b")
        self.assertEqual(attrs["ecs.ami-id"], "ami-0abcdef1234567890")
        self.assertIn("ecs.capability.secrets.asm.environment-variables", attrs)

        out = self.cli_ok(v, "ecs", "describe-container-instances", "--cluster", cluster,
                          "--container-instances", iid, "nope", "--include", "TAGS")
        self.assertEqual(out["containerInstances"][0]["containerInstanceArn"], arn)
        self.assertEqual(out["containerInstances"][0]["tags"], [{"key": "team", "value": "core"}])
        self.assertEqual(out["failures"], [{"arn": f"{ARN}:container-instance/{cluster}/nope", "reason": "MISSING"}])

        self.assertEqual(self.cli_ok(v, "ecs", "list-container-instances", "--cluster", cluster)["containerInstanceArns"],
                         [arn])
        out = self.cli_ok(v, "ecs", "list-container-instances", "--cluster", cluster, "--filter",
                          "attribute:ecs.instance-type =~ t3.* and attribute:stack in [prod, dev]")
        self.assertEqual(out["containerInstanceArns"], [arn])
        out = self.cli_ok(v, "ecs", "list-container-instances", "--cluster", cluster, "--filter",
                          "not(attribute:stack == prod)")
        self.assertEqual(out["containerInstanceArns"], [])
        err = self.cli_error(v, "ecs", "list-container-instances", "--cluster", cluster, "--filter", "attribute:stack ==")
        self.assertIn("InvalidParameterException", err)

        out = self.cli_ok(v, "ecs", "put-attributes", "--cluster", cluster, "--attributes",
                          f"name=rack,value=r1,targetType=container-instance,targetId={iid}")
        self.assertEqual(out["attributes"], [{"name": "rack", "value": "r1", "targetType": "container-instance",
                                              "targetId": iid}])
        out = self.cli_ok(v, "ecs", "list-attributes", "--cluster", cluster, "--target-type", "container-instance",
                          "--attribute-name", "rack")
        self.assertEqual(out["attributes"], [{"name": "rack", "value": "r1", "targetType": "container-instance",
                                              "targetId": arn}])
        self.cli_ok(v, "ecs", "delete-attributes", "--cluster", cluster, "--attributes", f"name=rack,targetId={arn}")
        out = self.cli_ok(v, "ecs", "list-attributes", "--cluster", cluster, "--target-type", "container-instance",
                          "--attribute-name", "rack")
        self.assertEqual(out["attributes"], [])

        out = self.cli_ok(v, "ecs", "update-container-instances-state", "--cluster", cluster,
                          "--container-instances", arn, "--status", "DRAINING")
        self.assertEqual(out["containerInstances"][0]["status"], "DRAINING")
        self.assertEqual(out["failures"], [])
        out = self.cli_ok(v, "ecs", "list-container-instances", "--cluster", cluster, "--status", "DRAINING")
        self.assertEqual(out["containerInstanceArns"], [arn])

        err = self.cli_error(v, "ecs", "update-container-agent", "--cluster", cluster, "--container-instance", arn)
        self.assertIn("NoUpdateAvailableException", err)
        self.assertIn("There is no update available for your container agent.", err)

        out = self.cli_ok(v, "ecs", "discover-poll-endpoint", "--cluster", cluster, "--container-instance", arn)
        self.assertEqual(out["endpoint"], self.berth.url + "/")
        self.assertEqual(out["telemetryEndpoint"], self.berth.url + "/")

        err = self.cli_error(v, "ecs", "delete-cluster", "--cluster", cluster)
        self.assertIn("ClusterContainsContainerInstancesException", err)
        out = self.cli_ok(v, "ecs", "deregister-container-instance", "--cluster", cluster, "--container-instance", arn)
        self.assertEqual(out["containerInstance"]["status"], "INACTIVE")
        self.assertIs(out["containerInstance"]["agentConnected"], False)
        self.assertEqual(self.cli_ok(v, "ecs", "list-container-instances", "--cluster", cluster)["containerInstanceArns"],
                         [])
        self.cli_ok(v, "ecs", "delete-cluster", "--cluster", cluster)

    # ---- container instances through boto3 and raw calls (shapes, agent calls, errors)

    def test_container_instances_boto3_and_shapes(self):
        self.ecs.create_cluster()
        ci = self.register_instance(tags=[{"key": "a", "value": "b"}])
        arn = ci["containerInstanceArn"]
        out = self.call("DescribeContainerInstances", {"containerInstances": [arn, "ffff"],
                                                       "include": ["TAGS", "CONTAINER_INSTANCE_HEALTH"]})
        self.assertEqual(out["containerInstances"][0]["healthStatus"]["overallStatus"], "INSUFFICIENT_DATA")
        self.assertEqual(out["failures"][0]["reason"], "MISSING")

        # Re-registration (what the agent does when it restarts) keeps the ARN; a new instance type is refused.
        again = self.register_instance(containerInstanceArn=arn, versionInfo={"agentVersion": "1.81.0"})
        self.assertEqual(again["containerInstanceArn"], arn)
        self.assertEqual(again["versionInfo"]["agentVersion"], "1.81.0")
        self.assertGreater(again["version"], ci["version"])
        body = {"cluster": "default", "containerInstanceArn": arn,
                "instanceIdentityDocument": identity_document("i-0123456789abcdef0", "m5.xlarge")}
        self.error("RegisterContainerInstance", body, "ClientException", "Container instance type changes are not supported.")

        for i in range(3):
            self.register_instance(instance_id=f"i-{i}")
        pages = list(self.ecs.get_paginator("list_container_instances").paginate(PaginationConfig={"PageSize": 2}))
        arns = [a for p in pages for a in p["containerInstanceArns"]]
        self.assertEqual(len(arns), 4)
        self.assertEqual(len(pages), 2)
        self.assertNotIn("nextToken", pages[-1])
        self.call("ListContainerInstances", {"filter": "ec2InstanceId == i-1"})
        self.assertEqual(len(self.ecs.list_container_instances(filter="ec2InstanceId in [i-1, i-2]")["containerInstanceArns"]), 2)

        self.call("UpdateContainerInstancesState", {"containerInstances": [arn, "nope"], "status": "DRAINING"})
        self.call("PutAttributes", {"attributes": [{"name": "x", "value": "1", "targetId": arn}]})
        self.call("ListAttributes", {"targetType": "container-instance", "attributeName": "x"})
        self.call("DeleteAttributes", {"attributes": [{"name": "x", "targetId": arn}]})
        self.call("DiscoverPollEndpoint", {"containerInstance": arn})
        self.assertEqual(self.ecs.discover_poll_endpoint(containerInstance=arn)["endpoint"], self.berth.url + "/")

        self.ecs.register_task_definition(family="agentcalls", containerDefinitions=[busybox("main", SLEEPER)])
        task = self.ecs.run_task(taskDefinition="agentcalls")["tasks"][0]["taskArn"]
        out = self.call("SubmitTaskStateChange", {"task": task, "status": "RUNNING",
                                                  "containers": [{"containerName": "main", "status": "RUNNING"}]})
        self.assertEqual(out, {"acknowledgment": "true"})
        self.assertEqual(self.call("SubmitContainerStateChange", {"task": task, "containerName": "main",
                                                                  "status": "RUNNING"}), {"acknowledgment": "true"})
        self.assertEqual(self.call("SubmitAttachmentStateChanges", {"attachments": [
            {"attachmentArn": f"{ARN}:attachment/0123", "status": "ATTACHED"}]}), {"acknowledgment": "true"})
        self.ecs.stop_task(task=task)
        self.error("SubmitTaskStateChange", {"task": "ffff"}, "InvalidParameterException")

        with self.assertRaises(self.ecs.exceptions.ClusterNotFoundException):
            self.ecs.register_container_instance(cluster="nope")
        with self.assertRaises(self.ecs.exceptions.InvalidParameterException):
            self.ecs.list_container_instances(filter="bogus == 1")
        with self.assertRaises(self.ecs.exceptions.TargetNotFoundException):
            self.ecs.put_attributes(attributes=[{"name": "x", "targetId": f"{ARN}:container-instance/default/ffff"}])
        with self.assertRaises(self.ecs.exceptions.AttributeLimitExceededException):
            self.ecs.put_attributes(attributes=[{"name": f"c{i}", "targetId": arn} for i in range(10)])
        with self.assertRaises(self.ecs.exceptions.MissingVersionException):
            bare = self.ecs.register_container_instance()["containerInstance"]["containerInstanceArn"]
            self.ecs.update_container_agent(containerInstance=bare)
        with self.assertRaises(self.ecs.exceptions.InvalidParameterException):
            self.ecs.deregister_container_instance(containerInstance="ffff")
        out = self.call("DeregisterContainerInstance", {"containerInstance": arn, "force": True})
        self.assertEqual(out["containerInstance"]["status"], "INACTIVE")
        self.error("RegisterContainerInstance", {"containerInstanceArn": arn}, "ClientException", "is inactive")

    def test_instances_survive_a_restart_with_data_dir(self):
        data = tempfile.mkdtemp(prefix="berth-instances-")
        first = self.start_extra_berth("--data-dir", data, name="instances-first")
        ecs = first.boto3_client()
        ecs.create_cluster(clusterName="keep")
        ci = ecs.register_container_instance(cluster="keep", totalResources=TOTAL_RESOURCES)["containerInstance"]
        ecs.put_attributes(cluster="keep", attributes=[{"name": "rack", "value": "r9", "targetId": ci["containerInstanceArn"]}])
        td = ecs.register_daemon_task_definition(family="keepd", containerDefinitions=[{"name": "m", "image": "busybox"}])
        self.assertEqual(first.terminate(), 0)
        second = self.start_extra_berth("--data-dir", data, name="instances-second")
        ecs = second.boto3_client()
        got = ecs.describe_container_instances(cluster="keep", containerInstances=[ci["containerInstanceArn"]])
        self.assertEqual(got["failures"], [])
        self.assertEqual(self.attrs(got["containerInstances"][0])["rack"], "r9")
        self.assertEqual(ecs.describe_daemon_task_definition(daemonTaskDefinition=td["daemonTaskDefinitionArn"])
                         ["daemonTaskDefinition"]["family"], "keepd")

    # ---- task definitions in full

    EVERYTHING = {
        "family": "everything",
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/task",
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/exec",
        "networkMode": "bridge",
        "containerDefinitions": [
            {"name": "app", "image": "nginx:1.27", "cpu": 256, "memory": 512, "memoryReservation": 256,
             "repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:us-east-1:000000000000:secret:c"},
             "links": ["sidecar:side"],
             "portMappings": [{"containerPort": 80, "hostPort": 8080, "protocol": "tcp", "name": "http",
                               "appProtocol": "http"}],
             "essential": True, "restartPolicy": {"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60},
             "entryPoint": ["/entry.sh"], "command": ["nginx"], "environment": [{"name": "A", "value": "1"}],
             "environmentFiles": [{"value": "arn:aws:s3:::b/app.env", "type": "s3"}],
             "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": False}],
             "volumesFrom": [{"sourceContainer": "sidecar", "readOnly": True}],
             "linuxParameters": {"capabilities": {"add": ["NET_ADMIN"], "drop": []}, "initProcessEnabled": True,
                                 "tmpfs": [{"containerPath": "/tmp", "size": 64}], "sharedMemorySize": 64},
             "secrets": [{"name": "PW", "valueFrom": "arn:aws:ssm:us-east-1:000000000000:parameter/pw"}],
             "dependsOn": [{"containerName": "sidecar", "condition": "START"}], "startTimeout": 30, "stopTimeout": 20,
             "versionConsistency": "disabled", "hostname": "web", "user": "nginx", "workingDirectory": "/srv",
             "disableNetworking": False, "privileged": False, "readonlyRootFilesystem": True,
             "dnsServers": ["10.0.0.2"], "dnsSearchDomains": ["internal"],
             "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.10"}], "dockerSecurityOptions": ["no-new-privileges"],
             "interactive": False, "pseudoTerminal": False, "dockerLabels": {"team": "web"},
             "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
             "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "10m"}},
             "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0},
             "systemControls": [{"namespace": "net.core.somaxconn", "value": "1024"}],
             "resourceRequirements": [{"value": "1", "type": "GPU"}],
             "firelensConfiguration": {"type": "fluentbit", "options": {"enable-ecs-log-metadata": "true"}},
             "credentialSpecs": ["credentialspecdomainless:arn:aws:s3:::b/spec.json"]},
            {"name": "sidecar", "image": "busybox", "cpu": 0, "memory": 64, "essential": False, "portMappings": [],
             "environment": [], "mountPoints": [], "volumesFrom": []},
        ],
        "volumes": [{"name": "data", "host": {"sourcePath": "/srv/data"}}],
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t3.*"}],
        "requiresCompatibilities": ["EC2"],
        "cpu": "1024", "memory": "2048",
        "pidMode": "task", "ipcMode": "task",
        "proxyConfiguration": {"type": "APPMESH", "containerName": "sidecar", "properties": [{"name": "AppPorts", "value": "80"}]},
        "inferenceAccelerators": [{"deviceName": "d1", "deviceType": "eia2.medium"}],
        "ephemeralStorage": {"sizeInGiB": 30},
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "enableFaultInjection": True,
    }

    def test_task_definition_every_field_round_trips(self):
        tags = [{"key": "team", "value": "web"}]
        registered = self.call("RegisterTaskDefinition", dict(self.EVERYTHING, tags=tags))
        self.assertEqual(registered["tags"], tags)
        described = self.call("DescribeTaskDefinition", {"taskDefinition": "everything:1", "include": ["TAGS"]})
        self.assertEqual(described["tags"], tags)
        td = described["taskDefinition"]
        computed = {"taskDefinitionArn": f"{ARN}:task-definition/everything:1", "revision": 1, "status": "ACTIVE",
                    "registeredBy": f"arn:aws:iam::{ACCOUNT}:root", "compatibilities": ["EXTERNAL", "EC2"]}
        for k, v in computed.items():
            self.assertEqual(td.pop(k), v, k)
        self.assertIsInstance(td.pop("registeredAt"), (int, float))
        self.assertEqual(td, self.EVERYTHING)
        self.assertEqual(registered["taskDefinition"], described["taskDefinition"] | computed | {"registeredAt": registered["taskDefinition"]["registeredAt"]})
        # CLI v1 (botocore 1.43) reads every field back; CLI v2 here predates some of them and drops those it
        # does not know, so it is checked on what it does.
        out = self.cli_ok(1, "ecs", "describe-task-definition", "--task-definition", "everything", "--include", "TAGS")
        self.assertEqual(out["taskDefinition"]["containerDefinitions"], self.EVERYTHING["containerDefinitions"])
        self.assertEqual(out["tags"], tags)
        out = self.cli_ok(2, "ecs", "describe-task-definition", "--task-definition", "everything", "--include", "TAGS")
        self.assertEqual(out["taskDefinition"]["volumes"], self.EVERYTHING["volumes"])
        self.assertEqual(out["taskDefinition"]["containerDefinitions"][0]["linuxParameters"],
                         self.EVERYTHING["containerDefinitions"][0]["linuxParameters"])
        self.assertEqual(out["tags"], tags)

    def test_delete_task_definitions(self):
        for _ in range(3):
            self.register("gone", [busybox("c", ["true"])])
        self.ecs.deregister_task_definition(taskDefinition="gone:1")
        self.ecs.deregister_task_definition(taskDefinition="gone:2")
        out = self.call("DeleteTaskDefinitions", {"taskDefinitions": ["gone:1", "gone:3", "gone:7"]})
        self.assertEqual([t["taskDefinitionArn"] for t in out["taskDefinitions"]], [f"{ARN}:task-definition/gone:1"])
        self.assertEqual(out["taskDefinitions"][0]["status"], "DELETE_IN_PROGRESS")
        self.assertEqual([(f["arn"], f["reason"]) for f in out["failures"]],
                         [(f"{ARN}:task-definition/gone:3", "ACTIVE"), (f"{ARN}:task-definition/gone:7", "MISSING")])
        out = self.cli_ok(1, "ecs", "delete-task-definitions", "--task-definitions", f"{ARN}:task-definition/gone:2")
        self.assertEqual(out["taskDefinitions"][0]["status"], "DELETE_IN_PROGRESS")
        self.assertIn("deleteRequestedAt", out["taskDefinitions"][0])
        listed = self.ecs.list_task_definitions(status="DELETE_IN_PROGRESS")["taskDefinitionArns"]
        self.assertEqual(listed, [f"{ARN}:task-definition/gone:1", f"{ARN}:task-definition/gone:2"])
        with self.assertRaises(self.ecs.exceptions.InvalidParameterException):
            self.ecs.delete_task_definitions(taskDefinitions=["gone"])

    # ---- task protection and ExecuteCommand

    def test_task_protection_and_execute_command(self):
        self.ecs.create_cluster(clusterName="prot")
        self.register("prot", [busybox("main", SLEEPER, stopTimeout=2)])
        service_task = self.ecs.run_task(cluster="prot", taskDefinition="prot", group="service:api")["tasks"][0]["taskArn"]
        standalone = self.ecs.run_task(cluster="prot", taskDefinition="prot")["tasks"][0]["taskArn"]
        try:
            out = self.call("UpdateTaskProtection", {"cluster": "prot", "tasks": [service_task, standalone],
                                                     "protectionEnabled": True, "expiresInMinutes": 60})
            self.assertEqual(len(out["protectedTasks"]), 1)
            p = out["protectedTasks"][0]
            self.assertEqual(p["taskArn"], service_task)
            self.assertIs(p["protectionEnabled"], True)
            self.assertIsInstance(p["expirationDate"], (int, float))
            self.assertEqual(out["failures"][0]["arn"], standalone)
            self.assertEqual(out["failures"][0]["reason"], "TASK_NOT_VALID")
            for v in (1, 2):
                got = self.cli_ok(v, "ecs", "get-task-protection", "--cluster", "prot", "--tasks", service_task)
                self.assertIs(got["protectedTasks"][0]["protectionEnabled"], True)
            got = self.ecs.get_task_protection(cluster="prot", tasks=[service_task])
            self.assertTrue(hasattr(got["protectedTasks"][0]["expirationDate"], "tzinfo"))
            self.call("GetTaskProtection", {"cluster": "prot", "tasks": [service_task, "ffff"]})
            off = self.cli_ok(1, "ecs", "update-task-protection", "--cluster", "prot", "--tasks", service_task,
                              "--no-protection-enabled")
            self.assertEqual(off["protectedTasks"], [{"taskArn": service_task, "protectionEnabled": False}])
            with self.assertRaises(self.ecs.exceptions.InvalidParameterException):
                self.ecs.update_task_protection(cluster="prot", tasks=[service_task], protectionEnabled=True,
                                                expiresInMinutes=2881)

            with self.assertRaises(self.ecs.exceptions.TargetNotConnectedException) as ctx:
                self.ecs.execute_command(cluster="prot", task=service_task, container="main", command="sh",
                                         interactive=True)
            self.assertIn("berth does not support ECS Exec", str(ctx.exception))
            self.error("ExecuteCommand", {"cluster": "prot", "task": "ffff", "command": "sh", "interactive": True},
                       "InvalidParameterException")
        finally:
            for t in (service_task, standalone):
                self.ecs.stop_task(cluster="prot", task=t)

    # ---- daemons

    def test_daemons(self):
        self.ecs.create_cluster(clusterName="dmn")
        cluster_arn = f"{ARN}:cluster/dmn"
        cp = f"{ARN}:capacity-provider/managed"
        out = self.call("RegisterDaemonTaskDefinition", {
            "family": "agent", "cpu": "256", "memory": "512",
            "containerDefinitions": [{"name": "monitor", "image": "monitor:1", "memory": 128}],
            "tags": [{"key": "k", "value": "v"}]})
        td1 = out["daemonTaskDefinitionArn"]
        self.assertEqual(td1, f"{ARN}:daemon-task-definition/agent:1")
        td2 = self.cli_ok(1, "ecs", "register-daemon-task-definition", "--family", "agent", "--container-definitions",
                          json.dumps([{"name": "monitor", "image": "monitor:2"}]))["daemonTaskDefinitionArn"]
        self.assertEqual(td2, f"{ARN}:daemon-task-definition/agent:2")
        d = self.call("DescribeDaemonTaskDefinition", {"daemonTaskDefinition": "agent:1"})["daemonTaskDefinition"]
        self.assertEqual((d["family"], d["revision"], d["status"], d["cpu"]), ("agent", 1, "ACTIVE", "256"))
        self.assertEqual(self.ecs.describe_daemon_task_definition(daemonTaskDefinition="agent")
                         ["daemonTaskDefinition"]["daemonTaskDefinitionArn"], td2)
        listed = self.call("ListDaemonTaskDefinitions", {"family": "agent"})["daemonTaskDefinitions"]
        self.assertEqual([x["arn"] for x in listed], [td1, td2])
        listed = self.cli_ok(1, "ecs", "list-daemon-task-definitions", "--revision", "LAST_REGISTERED")
        self.assertEqual([x["arn"] for x in listed["daemonTaskDefinitions"]], [td2])

        created = self.call("CreateDaemon", {"daemonName": "monitor", "clusterArn": cluster_arn,
                                             "daemonTaskDefinitionArn": td1, "capacityProviderArns": [cp],
                                             "deploymentConfiguration": {"drainPercent": 10.0, "bakeTimeInMinutes": 5},
                                             "tags": [{"key": "a", "value": "b"}]})
        daemon = created["daemonArn"]
        self.assertEqual(daemon, f"{ARN}:daemon/dmn/monitor")
        self.assertEqual(created["status"], "ACTIVE")
        self.assertRegex(created["deploymentArn"], rf"^{ARN}:daemon-deployment/dmn/monitor/[A-Za-z0-9]{{16}}$")

        desc = self.call("DescribeDaemon", {"daemonArn": daemon})["daemon"]
        self.assertEqual(desc["clusterArn"], cluster_arn)
        rev1 = desc["currentRevisions"][0]["arn"]
        self.assertRegex(rev1, rf"^{ARN}:daemon-revision/dmn/monitor/\d{{19}}$")
        self.assertEqual(desc["currentRevisions"][0]["capacityProviders"], [{"arn": cp, "runningCount": 0}])

        updated = self.cli_ok(1, "ecs", "update-daemon", "--daemon-arn", daemon, "--daemon-task-definition-arn", td2,
                              "--capacity-provider-arns", cp, "--enable-execute-command")
        self.assertNotEqual(updated["deploymentArn"], created["deploymentArn"])
        again = self.call("UpdateDaemon", {"daemonArn": daemon, "daemonTaskDefinitionArn": td2,
                                           "capacityProviderArns": [cp], "enableExecuteCommand": True})
        self.assertEqual(again["status"], "ACTIVE")
        self.assertEqual(again["daemonArn"], daemon)
        deps = self.call("DescribeDaemonDeployments", {"daemonDeploymentArns": [updated["deploymentArn"], "nope"]})
        dep = deps["daemonDeployments"][0]
        self.assertEqual(dep["status"], "SUCCESSFUL")
        self.assertEqual(dep["sourceDaemonRevisions"][0]["arn"], rev1)
        self.assertEqual(dep["deploymentConfiguration"], {"drainPercent": 10.0, "bakeTimeInMinutes": 5})
        self.assertEqual(deps["failures"], [{"arn": "nope", "reason": "MISSING"}])
        revs = self.call("DescribeDaemonRevisions", {"daemonRevisionArns": [dep["targetDaemonRevision"]["arn"]]})
        self.assertEqual(revs["daemonRevisions"][0]["daemonTaskDefinitionArn"], td2)
        self.assertIs(revs["daemonRevisions"][0]["enableExecuteCommand"], True)
        self.assertEqual(revs["daemonRevisions"][0]["containerImages"], [{"containerName": "monitor", "image": "monitor:2"}])
        listed = self.call("ListDaemonDeployments", {"daemonArn": daemon})["daemonDeployments"]
        self.assertEqual([x["daemonDeploymentArn"] for x in listed],
                         [again["deploymentArn"], updated["deploymentArn"], created["deploymentArn"]])
        pages = list(self.ecs.get_paginator("list_daemon_deployments").paginate(
            daemonArn=daemon, PaginationConfig={"PageSize": 1})) if self.ecs.can_paginate("list_daemon_deployments") else []
        if pages:
            self.assertEqual(sum(len(p["daemonDeployments"]) for p in pages), 3)
        summaries = self.call("ListDaemons", {"clusterArn": cluster_arn})["daemonSummariesList"]
        self.assertEqual([s["daemonArn"] for s in summaries], [daemon])
        self.assertEqual(self.cli_ok(1, "ecs", "list-daemons")["daemonSummariesList"][0]["daemonArn"], daemon)

        deleted = self.call("DeleteDaemon", {"daemonArn": daemon})
        self.assertEqual(deleted["status"], "DELETE_IN_PROGRESS")
        self.assertEqual(self.call("DeleteDaemonTaskDefinition", {"daemonTaskDefinition": td1})["daemonTaskDefinitionArn"], td1)

        with self.assertRaises(self.ecs.exceptions.DaemonNotActiveException):
            self.ecs.delete_daemon(daemonArn=daemon)
        with self.assertRaises(self.ecs.exceptions.DaemonNotFoundException):
            self.ecs.describe_daemon(daemonArn=f"{ARN}:daemon/dmn/ghost")
        with self.assertRaises(self.ecs.exceptions.ClusterNotFoundException):
            self.ecs.create_daemon(daemonName="x", clusterArn=f"{ARN}:cluster/nope", daemonTaskDefinitionArn=td2,
                                   capacityProviderArns=[cp])
        with self.assertRaises(self.ecs.exceptions.InvalidParameterException):
            self.ecs.create_daemon(daemonName="x", clusterArn=cluster_arn, daemonTaskDefinitionArn=td2,
                                   capacityProviderArns=["not-an-arn"])
        with self.assertRaises(self.ecs.exceptions.ClientException):
            self.ecs.register_daemon_task_definition(family="bad family", containerDefinitions=[{"name": "a", "image": "i"}])
        with self.assertRaises(self.ecs.exceptions.ClientException):
            self.ecs.create_daemon(daemonName="x", clusterArn=cluster_arn, daemonTaskDefinitionArn=td1,
                                   capacityProviderArns=[cp])  # td1 is being deleted

    # ---- Express gateway services

    def test_express_gateway_services(self):
        self.ecs.create_cluster()
        created = self.call("CreateExpressGatewayService", {
            "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/exec",
            "infrastructureRoleArn": f"arn:aws:iam::{ACCOUNT}:role/infra",
            "serviceName": "web", "primaryContainer": {"image": "nginx:1.27"},
            "tags": [{"key": "a", "value": "b"}]})["service"]
        arn = created["serviceArn"]
        self.assertEqual(arn, f"{ARN}:service/default/web")
        self.assertEqual(created["status"], {"statusCode": "ACTIVE"})
        config = created["activeConfigurations"][0]
        self.assertEqual((config["cpu"], config["memory"], config["healthCheckPath"]), ("256", "512", "/ping"))
        self.assertEqual(config["primaryContainer"], {"image": "nginx:1.27", "containerPort": 80})
        self.assertRegex(config["serviceRevisionArn"], rf"^{ARN}:service-revision/default/web/\d{{19}}$")
        self.assertRegex(created["currentDeployment"], rf"^{ARN}:service-deployment/default/web/")

        described = self.cli_ok(1, "ecs", "describe-express-gateway-service", "--service-arn", arn, "--include", "TAGS")
        self.assertEqual(described["service"]["tags"], [{"key": "a", "value": "b"}])
        self.call("DescribeExpressGatewayService", {"serviceArn": arn})

        updated = self.call("UpdateExpressGatewayService", {"serviceArn": arn, "cpu": "512", "memory": "1024",
                                                            "healthCheckPath": "/health"})["service"]
        self.assertEqual(updated["targetConfiguration"]["cpu"], "512")
        self.assertEqual(updated["targetConfiguration"]["healthCheckPath"], "/health")
        self.assertNotEqual(updated["targetConfiguration"]["serviceRevisionArn"], config["serviceRevisionArn"])
        out = self.ecs.update_express_gateway_service(serviceArn=arn, scalingTarget={"minTaskCount": 1, "maxTaskCount": 3})
        self.assertEqual(out["service"]["targetConfiguration"]["scalingTarget"]["maxTaskCount"], 3)

        deleted = self.cli_ok(1, "ecs", "delete-express-gateway-service", "--service-arn", arn)
        self.assertEqual(deleted["service"]["status"]["statusCode"], "DRAINING")
        other = self.call("CreateExpressGatewayService", {
            "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/exec",
            "infrastructureRoleArn": f"arn:aws:iam::{ACCOUNT}:role/infra",
            "serviceName": "web2", "primaryContainer": {"image": "nginx"}})["service"]
        gone = self.call("DeleteExpressGatewayService", {"serviceArn": other["serviceArn"]})["service"]
        self.assertEqual(gone["status"]["statusCode"], "DRAINING")
        self.assertEqual(self.ecs.describe_express_gateway_service(serviceArn=arn)["service"]["status"]["statusCode"],
                         "INACTIVE")

        with self.assertRaises(self.ecs.exceptions.ServiceNotActiveException):
            self.ecs.delete_express_gateway_service(serviceArn=arn)
        with self.assertRaises(self.ecs.exceptions.ResourceNotFoundException):
            self.ecs.describe_express_gateway_service(serviceArn=f"{ARN}:service/default/ghost")
        with self.assertRaises(self.ecs.exceptions.InvalidParameterException):
            self.ecs.create_express_gateway_service(executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/exec",
                                                    infrastructureRoleArn=f"arn:aws:iam::{ACCOUNT}:role/infra",
                                                    primaryContainer={"image": "nginx"}, cpu="256", memory="8192")
        with self.assertRaises(self.ecs.exceptions.ClusterNotFoundException):
            self.ecs.create_express_gateway_service(executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/exec",
                                                    infrastructureRoleArn=f"arn:aws:iam::{ACCOUNT}:role/infra",
                                                    primaryContainer={"image": "nginx"}, cluster="nope")


if __name__ == "__main__":
    unittest.main()
