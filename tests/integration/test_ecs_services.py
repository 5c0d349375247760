"""ECS services, service deployments/revisions and task sets through AWS CLI v1 and v2 and boto3: every
operation's answer checked against its output shape in the botocore model and field by field, the AWS waiters
(services-stable, services-inactive), bad input for each resource type, counts from the real tasks the service
scheduler starts on the engine and --data-dir persistence. (How the scheduler keeps, replaces and rolls tasks is
tested in test_service_scheduler.py.)"""

import json
import os
import re
import tempfile
import unittest

import botocore.exceptions
import botocore.session

from harness import ACCOUNT, REGION, SLEEPER, BerthTestCase, busybox, cli_version, wait_for

ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:"
DEPLOYMENT_ID = re.compile(r"^ecs-svc/[1-9][0-9]{18}$")
SERVICE_DEPLOYMENT_ARN = re.compile(re.escape(ARN) + r"service-deployment/([^/]+)/([^/]+)/[A-Za-z0-9_-]{21}$")
FAST = {"Delay": 1, "MaxAttempts": 30}
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0abc"], "securityGroups": ["sg-0abc"]}}

_MODEL = botocore.session.get_session().get_service_model("ecs")


def shape_problems(value, shape, path="$"):
    """Where a raw JSON answer departs from a botocore shape: unknown members, wrong types, unknown enums."""
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        problems = []
        for key, v in value.items():
            if key not in shape.members:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
            else:
                problems += shape_problems(v, shape.members[key], f"{path}.{key}")
        return problems
    if t == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [p for i, v in enumerate(value) for p in shape_problems(v, shape.member, f"{path}[{i}]")]
    if t == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map"]
        return [p for k, v in value.items() for p in shape_problems(v, shape.value, f"{path}.{k}")]
    if t == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        if shape.enum and value not in shape.enum:
            return [f"{path}: {value!r} is not one of {shape.enum}"]
        return []
    if t in ("integer", "long"):
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: expected an integer"]
    if t == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean"]
    if t in ("double", "float", "timestamp"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number (timestamps are epoch seconds)"]
    return []


class EcsServicesTest(BerthTestCase):
    # Tasks without a health check count as healthy after 1 s instead of ECS's 40, so deployments finish quickly.
    berth_args = ("--service-healthy-after", "1")

    def setUp(self):
        super().setUp()
        self.ecs.create_cluster(clusterName="svc")
        self.td1 = self.register("web", [busybox("app", SLEEPER, stopTimeout=2)])["taskDefinitionArn"]

    # ---- helpers

    def raw_ok(self, op, body):
        """One request on the wire; the answer must be 200 and conform to the operation's output shape."""
        status, _, doc = self.raw(op, body)
        self.assertEqual(status, 200, f"{op}: {doc}")
        problems = shape_problems(doc, _MODEL.operation_model(op).output_shape)
        self.assertEqual(problems, [], f"{op} answer does not match the model")
        return doc

    def raw_error(self, op, body, code, message=None):
        status, _, doc = self.raw(op, body)
        self.assertEqual(status, 400, f"{op}: {doc}")
        self.assertEqual(doc.get("__type"), code, doc)
        if message is not None:
            self.assertEqual(doc.get("message"), message)
        return doc

    def cli_error(self, v, *args):
        """A service error: CLI v2 exits 254, CLI v1 255 (as test_errors.py notes)."""
        rc, _, err = self.cli(v, *args)
        self.assertEqual(rc, 255 if v == 1 else 254, err)
        return err

    def create(self, name, **kw):
        kw.setdefault("cluster", "svc")
        kw.setdefault("taskDefinition", "web")
        if kw.get("schedulingStrategy") != "DAEMON":
            kw.setdefault("desiredCount", 0)
        return self.ecs.create_service(serviceName=name, **kw)["service"]

    def describe(self, name, cluster="svc", **kw):
        out = self.ecs.describe_services(cluster=cluster, services=[name], **kw)
        self.assertEqual(out["failures"], [], out)
        return out["services"][0]

    def wait_completed(self, name, cluster="svc"):
        return wait_for(lambda: (lambda s: s if s["deployments"][0]["rolloutState"] == "COMPLETED" else None)(
            self.describe(name, cluster)), timeout=10, what=f"{name}'s deployment to complete")

    def wait_one_deployment(self, name, cluster="svc"):
        return wait_for(lambda: (lambda s: s if len(s["deployments"]) == 1 else None)(self.describe(name, cluster)),
                        timeout=10, what=f"{name} to be left with one deployment")

    # ---- the service lifecycle with each CLI

    def test_service_lifecycle_cli_v1(self):
        self.check_lifecycle(1)

    def test_service_lifecycle_cli_v2(self):
        self.check_lifecycle(2)

    def check_lifecycle(self, v):
        name = f"life-v{v}"
        service_arn = f"{ARN}service/svc/{name}"
        out = self.cli_ok(v, "ecs", "create-service", "--cluster", "svc", "--service-name", name,
                          "--task-definition", "web:1", "--desired-count", "0",
                          "--tags", "key=team,value=core", "--enable-execute-command")
        s = out["service"]
        self.assertEqual(s["serviceArn"], service_arn)
        self.assertEqual(s["serviceName"], name)
        self.assertEqual(s["clusterArn"], f"{ARN}cluster/svc")
        self.assertEqual(s["status"], "ACTIVE")
        self.assertEqual((s["desiredCount"], s["runningCount"], s["pendingCount"]), (0, 0, 0))
        self.assertEqual(s["launchType"], "EC2")
        self.assertEqual(s["taskDefinition"], self.td1)
        self.assertEqual(s["deploymentConfiguration"]["maximumPercent"], 200)
        self.assertEqual(s["deploymentConfiguration"]["minimumHealthyPercent"], 100)
        self.assertEqual(s["deploymentConfiguration"]["deploymentCircuitBreaker"], {"enable": False, "rollback": False})
        self.assertEqual(s["schedulingStrategy"], "REPLICA")
        self.assertEqual(s["deploymentController"], {"type": "ECS"})
        self.assertEqual(s["enableExecuteCommand"], True)
        self.assertEqual(s["tags"], [{"key": "team", "value": "core"}])
        self.assertEqual(s["createdBy"], f"arn:aws:iam::{ACCOUNT}:root")
        self.assertEqual(len(s["deployments"]), 1)
        d = s["deployments"][0]
        self.assertRegex(d["id"], DEPLOYMENT_ID)
        self.assertEqual(d["status"], "PRIMARY")
        self.assertEqual(d["taskDefinition"], self.td1)
        self.assertEqual(d["rolloutState"], "IN_PROGRESS")
        self.assertEqual(d["rolloutStateReason"], f"ECS deployment {d['id']} in progress.")
        # CLI v2 2.9 predates currentServiceDeployment and drops it; the wire carries it.
        self.assertRegex(self.describe(name)["currentServiceDeployment"], SERVICE_DEPLOYMENT_ARN)
        if v == 1:
            self.assertEqual(s["currentServiceDeployment"], self.describe(name)["currentServiceDeployment"])

        rc, _, err = self.cli(v, "ecs", "wait", "services-stable", "--cluster", "svc", "--services", name)
        self.assertEqual(rc, 0, f"wait services-stable: {err}")
        out = self.cli_ok(v, "ecs", "describe-services", "--cluster", "svc", "--services", name, "ghost",
                          "--include", "TAGS")
        self.assertEqual(len(out["services"]), 1)
        s = out["services"][0]
        self.assertEqual(s["tags"], [{"key": "team", "value": "core"}])
        self.assertEqual(out["failures"], [{"arn": f"{ARN}service/svc/ghost", "reason": "MISSING"}])
        s = wait_for(lambda: (lambda x: x if x["deployments"][0]["rolloutState"] == "COMPLETED" else None)(
            self.describe(name)), timeout=10, what="the deployment to complete")
        self.assertEqual(s["deployments"][0]["rolloutStateReason"], f"ECS deployment {d['id']} completed.")
        messages = [e["message"] for e in s["events"]]
        self.assertEqual(messages[:2], [f"(service {name}) has reached a steady state.",
                                        f"(service {name}) (deployment {d['id']}) deployment completed."])

        out = self.cli_ok(v, "ecs", "list-services", "--cluster", "svc")
        self.assertEqual(out["serviceArns"], [service_arn])

        # desiredCount alone: same PRIMARY deployment, scaled in place.
        out = self.cli_ok(v, "ecs", "update-service", "--cluster", "svc", "--service", name, "--desired-count", "3")
        self.assertEqual(out["service"]["desiredCount"], 3)
        self.assertEqual([x["id"] for x in out["service"]["deployments"]], [d["id"]])
        self.assertEqual(out["service"]["deployments"][0]["desiredCount"], 3)
        # A forced deployment: a new PRIMARY, the old one ACTIVE.
        out = self.cli_ok(v, "ecs", "update-service", "--cluster", "svc", "--service", name, "--force-new-deployment")
        deps = out["service"]["deployments"]
        self.assertEqual([x["status"] for x in deps], ["PRIMARY", "ACTIVE"])
        self.assertEqual(deps[1]["id"], d["id"])
        self.assertNotEqual(deps[0]["id"], d["id"])
        self.assertEqual(deps[0]["desiredCount"], 3)

        err = self.cli_error(v, "ecs", "delete-service", "--cluster", "svc", "--service", name)
        self.assertIn("(InvalidParameterException)", err)
        self.assertIn("The service cannot be stopped while it is scaled above 0.", err)
        out = self.cli_ok(v, "ecs", "delete-service", "--cluster", "svc", "--service", name, "--force")
        self.assertEqual(out["service"]["status"], "DRAINING")
        self.assertEqual(out["service"]["desiredCount"], 0)
        rc, _, err = self.cli(v, "ecs", "wait", "services-inactive", "--cluster", "svc", "--services", name)
        self.assertEqual(rc, 0, f"wait services-inactive: {err}")
        out = self.cli_ok(v, "ecs", "describe-services", "--cluster", "svc", "--services", name)
        self.assertEqual(out["services"][0]["status"], "INACTIVE")
        self.assertEqual(self.cli_ok(v, "ecs", "list-services", "--cluster", "svc")["serviceArns"], [])
        err = self.cli_error(v, "ecs", "update-service", "--cluster", "svc", "--service", name, "--desired-count", "1")
        self.assertIn("(ServiceNotActiveException)", err)
        self.assertIn("Service was not ACTIVE.", err)

    def test_list_services_paginates_with_both_clis_and_boto3(self):
        for i in range(12):
            self.create(f"p{i:02d}")
        self.create("daemon", schedulingStrategy="DAEMON")
        expected = sorted(f"{ARN}service/svc/p{i:02d}" for i in range(12)) + [f"{ARN}service/svc/daemon"]
        for v in (1, 2):
            with self.subTest(cli=v):
                out = self.cli_ok(v, "ecs", "list-services", "--cluster", "svc")  # the CLI follows nextToken
                self.assertEqual(sorted(out["serviceArns"]), sorted(expected))
                self.assertNotIn("nextToken", out)
        first = self.raw_ok("ListServices", {"cluster": "svc"})
        self.assertEqual(len(first["serviceArns"]), 10)  # ListServices pages by 10 by default
        self.assertIn("nextToken", first)
        pages = list(self.ecs.get_paginator("list_services").paginate(cluster="svc", PaginationConfig={"PageSize": 4}))
        self.assertEqual(len(pages), 4)
        self.assertEqual(sum(len(p["serviceArns"]) for p in pages), 13)
        self.assertEqual(self.ecs.list_services(cluster="svc", schedulingStrategy="DAEMON")["serviceArns"],
                         [f"{ARN}service/svc/daemon"])
        self.assertEqual(self.ecs.list_services(cluster="svc", launchType="FARGATE")["serviceArns"], [])

    # ---- deployments with boto3, and the service history API

    def test_new_task_definition_starts_a_deployment_recorded_in_the_history(self):
        ecs = self.ecs
        first = self.create("hist")
        first_id = first["deployments"][0]["id"]
        ecs.get_waiter("services_stable").wait(cluster="svc", services=["hist"], WaiterConfig=FAST)
        self.wait_completed("hist")  # else the next deployment would supersede it (STOPPED)
        td2 = self.register("web", [busybox("app", SLEEPER)])["taskDefinitionArn"]
        s = ecs.update_service(cluster="svc", service="hist", taskDefinition="web")["service"]
        self.assertEqual(s["taskDefinition"], td2)
        self.assertEqual([d["status"] for d in s["deployments"]], ["PRIMARY", "ACTIVE"])
        self.assertEqual(s["deployments"][0]["taskDefinition"], td2)
        self.assertEqual(s["deployments"][1]["id"], first_id)
        self.assertEqual(s["deployments"][1]["taskDefinition"], self.td1)
        ecs.get_waiter("services_stable").wait(cluster="svc", services=["hist"], WaiterConfig=FAST)

        listed = ecs.list_service_deployments(cluster="svc", service="hist")["serviceDeployments"]
        self.assertEqual(len(listed), 2)
        newest, oldest = listed
        self.assertEqual(newest["serviceDeploymentArn"], s["currentServiceDeployment"])
        self.assertEqual(newest["status"], "SUCCESSFUL")
        self.assertEqual(oldest["status"], "SUCCESSFUL")
        self.assertEqual(newest["serviceArn"], f"{ARN}service/svc/hist")
        self.assertEqual(newest["clusterArn"], f"{ARN}cluster/svc")
        self.assertTrue(hasattr(newest["createdAt"], "tzinfo"))
        self.assertTrue(hasattr(newest["finishedAt"], "tzinfo"))
        only_ok = ecs.list_service_deployments(cluster="svc", service="hist", status=["IN_PROGRESS"])
        self.assertEqual(only_ok["serviceDeployments"], [])

        out = ecs.describe_service_deployments(serviceDeploymentArns=[newest["serviceDeploymentArn"],
                                                                      f"{ARN}service-deployment/svc/hist/nope"])
        [d] = out["serviceDeployments"]
        self.assertEqual(out["failures"], [{"arn": f"{ARN}service-deployment/svc/hist/nope", "reason": "MISSING"}])
        self.assertEqual(d["status"], "SUCCESSFUL")
        self.assertEqual(d["targetServiceRevision"]["arn"], newest["targetServiceRevisionArn"])
        self.assertEqual([r["arn"] for r in d["sourceServiceRevisions"]], [oldest["targetServiceRevisionArn"]])
        self.assertEqual(d["deploymentConfiguration"]["maximumPercent"], 200)
        self.assertTrue(newest["targetServiceRevisionArn"].endswith("/" + s["deployments"][0]["id"][len("ecs-svc/"):]))

        revs = ecs.describe_service_revisions(serviceRevisionArns=[oldest["targetServiceRevisionArn"],
                                                                   newest["targetServiceRevisionArn"]])
        self.assertEqual(revs["failures"], [])
        old_rev, new_rev = revs["serviceRevisions"]
        self.assertEqual(old_rev["taskDefinition"], self.td1)
        self.assertEqual(new_rev["taskDefinition"], td2)
        self.assertEqual(new_rev["serviceArn"], f"{ARN}service/svc/hist")
        self.assertEqual(new_rev["launchType"], "EC2")
        self.assertEqual(new_rev["containerImages"], [{"containerName": "app", "image": "berth-test/busybox:latest"}])

        # A deployment still under way can be rolled back to the revision before it.
        td3 = self.register("web", [busybox("app", SLEEPER)])["taskDefinitionArn"]
        s = ecs.update_service(cluster="svc", service="hist", taskDefinition=td3, desiredCount=1)["service"]
        current = s["currentServiceDeployment"]
        stopped = ecs.stop_service_deployment(serviceDeploymentArn=current, stopType="ROLLBACK")
        self.assertEqual(stopped["serviceDeploymentArn"], current)
        d = ecs.describe_service_deployments(serviceDeploymentArns=[current])["serviceDeployments"][0]
        self.assertIn(d["status"], ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"))
        self.assertEqual(d["rollback"]["serviceRevisionArn"], newest["targetServiceRevisionArn"])
        self.assertEqual(self.describe("hist")["taskDefinition"], td2)
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            ecs.continue_service_deployment(serviceDeploymentArn=current, hookId="ecs-pause-none")
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidParameterException")
        with self.assertRaises(ecs.exceptions.ServiceDeploymentNotFoundException):
            ecs.stop_service_deployment(serviceDeploymentArn=f"{ARN}service-deployment/svc/hist/nope")
        with self.assertRaises(ecs.exceptions.ServiceNotFoundException):
            ecs.list_service_deployments(cluster="svc", service="ghost")

    def test_service_history_with_cli_v1(self):
        # CLI v2 on this machine (2.9) predates these commands; CLI v1 and boto3 carry them.
        self.create("h1")
        out = self.cli_ok(1, "ecs", "list-service-deployments", "--cluster", "svc", "--service", "h1")
        [brief] = out["serviceDeployments"]
        self.assertRegex(brief["serviceDeploymentArn"], SERVICE_DEPLOYMENT_ARN)
        out = self.cli_ok(1, "ecs", "describe-service-deployments", "--service-deployment-arns",
                          brief["serviceDeploymentArn"])
        self.assertEqual(out["serviceDeployments"][0]["serviceDeploymentArn"], brief["serviceDeploymentArn"])
        out = self.cli_ok(1, "ecs", "describe-service-revisions", "--service-revision-arns",
                          brief["targetServiceRevisionArn"], f"{ARN}service-revision/svc/h1/1")
        self.assertEqual(out["serviceRevisions"][0]["taskDefinition"], self.td1)
        self.assertEqual(out["failures"], [{"arn": f"{ARN}service-revision/svc/h1/1", "reason": "MISSING"}])
        err = self.cli_error(1, "ecs", "stop-service-deployment", "--service-deployment-arn",
                             f"{ARN}service-deployment/svc/h1/nope")
        self.assertIn("(ServiceDeploymentNotFoundException)", err)
        # The first deployment has nothing to roll back to.
        wait_for(lambda: self.ecs.list_service_deployments(cluster="svc", service="h1")["serviceDeployments"][0]
                 ["status"] == "SUCCESSFUL", timeout=10, what="the first deployment to succeed")
        err = self.cli_error(1, "ecs", "stop-service-deployment", "--service-deployment-arn",
                             brief["serviceDeploymentArn"])
        self.assertIn("(ConflictException)", err)
        err = self.cli_error(1, "ecs", "continue-service-deployment", "--service-deployment-arn",
                             f"{ARN}service-deployment/svc/h1/nope", "--hook-id", "h")
        self.assertIn("(ServiceDeploymentNotFoundException)", err)

    # ---- bad input for services

    def test_service_bad_input(self):
        ecs = self.ecs
        self.register("vpc", [busybox("app", SLEEPER)], networkMode="awsvpc")
        self.create("dup")
        cases = [
            (dict(serviceName="dup", taskDefinition="web", desiredCount=0), "InvalidParameterException",
             "Creation of service was not idempotent."),
            (dict(serviceName="n1", taskDefinition="vpc", desiredCount=0), "InvalidParameterException",
             "Network Configuration must be provided when networkMode 'awsvpc' is specified."),
            (dict(serviceName="n2", taskDefinition="web", desiredCount=0, networkConfiguration=NETWORK),
             "InvalidParameterException",
             "Network Configuration is not valid for the given networkMode of this task definition."),
            (dict(serviceName="n3", taskDefinition="web", schedulingStrategy="DAEMON", desiredCount=1),
             "InvalidParameterException",
             "The daemon scheduling strategy does not support a desired count for services. Remove the desired "
             "count value and try again"),
            (dict(serviceName="n4", taskDefinition="web", desiredCount=1, launchType="EC2",
                  capacityProviderStrategy=[{"capacityProvider": "FARGATE"}]), "InvalidParameterException",
             "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try "
             "again."),
            (dict(serviceName="n5", taskDefinition="ghost", desiredCount=1), "InvalidParameterException",
             "TaskDefinition not found."),
            (dict(serviceName="n6", taskDefinition="web", desiredCount=1, cluster="nope"), "ClusterNotFoundException",
             "Cluster not found."),
        ]
        for kw, code, message in cases:
            kw.setdefault("cluster", "svc")
            with self.subTest(**{k: str(v) for k, v in kw.items()}):
                with self.assertRaises(botocore.exceptions.ClientError) as e:
                    ecs.create_service(**kw)
                self.assertEqual(e.exception.response["Error"]["Code"], code)
                self.assertEqual(e.exception.response["Error"]["Message"], message)
        with self.assertRaises(ecs.exceptions.ServiceNotFoundException) as e:
            ecs.update_service(cluster="svc", service="ghost", desiredCount=1)
        self.assertEqual(e.exception.response["Error"]["Message"], "Service not found.")
        with self.assertRaises(ecs.exceptions.ServiceNotFoundException):
            ecs.delete_service(cluster="svc", service="ghost")
        with self.assertRaises(ecs.exceptions.InvalidParameterException):
            ecs.describe_services(cluster="svc", services=[f"s{i}" for i in range(11)])
        # The model's own checks answer before any handler.
        self.raw_error("CreateService", {"cluster": "svc", "taskDefinition": "web"}, "ValidationException")
        for v in (1, 2):
            with self.subTest(cli=v):
                err = self.cli_error(v, "ecs", "create-service", "--cluster", "svc", "--service-name", "dup",
                                     "--task-definition", "web", "--desired-count", "0")
                self.assertIn("Creation of service was not idempotent.", err)

    def test_fargate_service_with_network_configuration(self):
        self.ecs.create_cluster(clusterName="fg", capacityProviders=["FARGATE", "FARGATE_SPOT"])
        self.register("fgweb", [busybox("app", SLEEPER)], networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                      cpu="256", memory="512")
        s = self.ecs.create_service(cluster="fg", serviceName="api", taskDefinition="fgweb", desiredCount=2,
                                    launchType="FARGATE", networkConfiguration=NETWORK, healthCheckGracePeriodSeconds=60,
                                    loadBalancers=[{"targetGroupArn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:"
                                                                      "targetgroup/tg/0123456789abcdef",
                                                    "containerName": "app", "containerPort": 80}])["service"]
        self.assertEqual(s["launchType"], "FARGATE")
        self.assertEqual(s["platformVersion"], "LATEST")
        self.assertEqual(s["platformFamily"], "Linux")
        self.assertEqual(s["networkConfiguration"]["awsvpcConfiguration"],
                         {"subnets": ["subnet-0abc"], "securityGroups": ["sg-0abc"], "assignPublicIp": "DISABLED"})
        self.assertEqual(s["roleArn"], f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/"
                                       "AWSServiceRoleForECS")
        self.assertEqual(s["healthCheckGracePeriodSeconds"], 60)
        self.assertEqual(s["loadBalancers"][0]["containerPort"], 80)
        d = s["deployments"][0]
        self.assertEqual((d["platformVersion"], d["platformFamily"]), ("1.4.0", "Linux"))
        self.assertEqual(d["networkConfiguration"], s["networkConfiguration"])
        # Moving to a capacity provider strategy takes a forced deployment, as in ECS.
        cps = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
        with self.assertRaises(self.ecs.exceptions.InvalidParameterException):
            self.ecs.update_service(cluster="fg", service="api", capacityProviderStrategy=cps)
        s = self.ecs.update_service(cluster="fg", service="api", capacityProviderStrategy=cps,
                                    forceNewDeployment=True)["service"]
        self.assertNotIn("launchType", s)
        self.assertEqual(s["capacityProviderStrategy"], cps)
        self.assertEqual(len(s["deployments"]), 2)
        # The scheduler runs the new deployment's tasks on FARGATE_SPOT and retires the old ones.
        def on_spot():
            tasks = self.ecs.describe_tasks(cluster="fg", tasks=self.ecs.list_tasks(cluster="fg", serviceName="api")
                                            ["taskArns"] or ["none"])["tasks"]
            running = [t for t in tasks if t["lastStatus"] == "RUNNING"]
            return running if len(running) == 2 and all(t.get("capacityProviderName") == "FARGATE_SPOT"
                                                         for t in running) else None
        for t in wait_for(on_spot, timeout=60, what="two FARGATE_SPOT tasks"):
            self.assertEqual(t["launchType"], "FARGATE")
            self.assertEqual(t["group"], "service:api")
            self.assertEqual(t["platformVersion"], "1.4.0")
        s = self.wait_one_deployment("api", cluster="fg")
        self.assertEqual((s["runningCount"], s["desiredCount"]), (2, 2))

    # ---- counts come from real tasks of the service's group

    def test_counts_and_draining_follow_real_tasks(self):
        self.create("real", desiredCount=1)
        deployment = self.describe("real")["deployments"][0]["id"]
        self.ecs.get_waiter("services_stable").wait(cluster="svc", services=["real"], WaiterConfig=FAST)
        [task_arn] = self.ecs.list_tasks(cluster="svc", serviceName="real")["taskArns"]
        task = self.wait_task("svc", task_arn, "RUNNING")
        self.assertEqual((task["group"], task["startedBy"]), ("service:real", deployment))
        s = self.describe("real")
        self.assertEqual((s["runningCount"], s["pendingCount"]), (1, 0))
        self.assertEqual(s["deployments"][0]["runningCount"], 1)
        s = wait_for(lambda: (lambda x: x if x["deployments"][0]["rolloutState"] == "COMPLETED" else None)(
            self.describe("real")), timeout=10, what="steady state")
        self.assertEqual(s["currentServiceRevisions"][0]["runningTaskCount"], 1)

        self.assertEqual(self.ecs.delete_service(cluster="svc", service="real", force=True)["service"]["status"],
                         "DRAINING")
        self.ecs.get_waiter("services_inactive").wait(cluster="svc", services=["real"], WaiterConfig=FAST)
        self.assertEqual(self.describe("real")["status"], "INACTIVE")
        # The service's task went with it.
        self.assertEqual(self.wait_task("svc", task_arn, "STOPPED")["stopCode"], "ServiceSchedulerInitiated")

    # ---- task sets (EXTERNAL deployment controller)

    def test_task_sets_with_cli_v2_and_boto3(self):
        self.create("rolling")
        err = self.cli_error(2, "ecs", "create-task-set", "--cluster", "svc", "--service", "rolling",
                             "--task-definition", "web")
        self.assertIn("Amazon ECS only supports task set management on services configured to use external "
                      "deployment controllers.", err)
        ext = self.cli_ok(2, "ecs", "create-service", "--cluster", "svc", "--service-name", "ext", "--desired-count",
                          "4", "--deployment-controller", "type=EXTERNAL")["service"]
        self.assertEqual(ext["deploymentController"], {"type": "EXTERNAL"})
        self.assertEqual(ext["deployments"], [])
        self.assertEqual(ext["taskSets"], [])

        ts = self.cli_ok(2, "ecs", "create-task-set", "--cluster", "svc", "--service", "ext", "--task-definition",
                         "web:1", "--external-id", "blue", "--scale", "value=25,unit=PERCENT")["taskSet"]
        self.assertRegex(ts["id"], DEPLOYMENT_ID)
        self.assertEqual(ts["taskSetArn"], f"{ARN}task-set/svc/ext/{ts['id']}")
        self.assertEqual(ts["serviceArn"], f"{ARN}service/svc/ext")
        self.assertEqual(ts["clusterArn"], f"{ARN}cluster/svc")
        self.assertEqual(ts["status"], "ACTIVE")
        self.assertEqual(ts["externalId"], "blue")
        self.assertEqual(ts["taskDefinition"], self.td1)
        self.assertEqual(ts["scale"], {"value": 25.0, "unit": "PERCENT"})
        self.assertEqual(ts["computedDesiredCount"], 1)
        self.assertEqual((ts["runningCount"], ts["pendingCount"]), (0, 0))
        self.assertEqual(ts["launchType"], "EC2")
        self.assertEqual(ts["stabilityStatus"], "STABILIZING")

        ts = self.cli_ok(2, "ecs", "update-task-set", "--cluster", "svc", "--service", "ext", "--task-set", ts["id"],
                         "--scale", "value=50,unit=PERCENT")["taskSet"]
        self.assertEqual(ts["computedDesiredCount"], 2)
        primary = self.cli_ok(2, "ecs", "update-service-primary-task-set", "--cluster", "svc", "--service", "ext",
                              "--primary-task-set", ts["taskSetArn"])["taskSet"]
        self.assertEqual(primary["status"], "PRIMARY")
        self.assertEqual(self.describe("ext")["taskDefinition"], self.td1)
        out = self.cli_ok(2, "ecs", "describe-task-sets", "--cluster", "svc", "--service", "ext", "--task-sets",
                          ts["id"], "ecs-svc/1")
        self.assertEqual([t["id"] for t in out["taskSets"]], [ts["id"]])
        self.assertEqual(out["failures"], [{"arn": "ecs-svc/1", "reason": "MISSING"}])

        green = self.ecs.create_task_set(cluster="svc", service="ext", taskDefinition="web",
                                         tags=[{"key": "colour", "value": "green"}])["taskSet"]
        self.assertEqual(green["scale"], {"value": 0.0, "unit": "PERCENT"})
        self.assertEqual(green["tags"], [{"key": "colour", "value": "green"}])
        sets = self.ecs.describe_task_sets(cluster="svc", service="ext", include=["TAGS"])["taskSets"]
        self.assertEqual(sorted(t["status"] for t in sets), ["ACTIVE", "PRIMARY"])
        with self.assertRaises(self.ecs.exceptions.InvalidParameterException):
            self.ecs.delete_task_set(cluster="svc", service="ext", taskSet=ts["id"])  # still scaled above 0
        out = self.cli_ok(2, "ecs", "delete-task-set", "--cluster", "svc", "--service", "ext", "--task-set", ts["id"],
                          "--force")
        self.assertEqual(out["taskSet"]["status"], "DRAINING")
        wait_for(lambda: [t["id"] for t in self.ecs.describe_task_sets(cluster="svc", service="ext")["taskSets"]]
                 == [green["id"]], timeout=10, what="the drained task set to go")
        with self.assertRaises(self.ecs.exceptions.TaskSetNotFoundException):
            self.ecs.update_task_set(cluster="svc", service="ext", taskSet=ts["id"],
                                     scale={"value": 10.0, "unit": "PERCENT"})
        with self.assertRaises(self.ecs.exceptions.TaskSetNotFoundException):
            self.ecs.update_service_primary_task_set(cluster="svc", service="ext", primaryTaskSet=ts["id"])

    # ---- namespaces

    def test_list_services_by_namespace(self):
        self.create("shop-a", serviceConnectConfiguration={"enabled": True, "namespace": "shop"})
        self.create("other", serviceConnectConfiguration={"enabled": True, "namespace": "elsewhere"})
        for v in (1, 2):
            with self.subTest(cli=v):
                out = self.cli_ok(v, "ecs", "list-services-by-namespace", "--namespace", "shop")
                self.assertEqual(out["serviceArns"], [f"{ARN}service/svc/shop-a"])
                err = self.cli_error(v, "ecs", "list-services-by-namespace", "--namespace", "nowhere")
                self.assertIn("(NamespaceNotFoundException)", err)

    # ---- every answer conforms to the model's output shape

    def test_every_answer_matches_the_output_shape(self):
        self.ecs.create_cluster(clusterName="fg", capacityProviders=["FARGATE"])
        # A health check whose first result comes after 300 s: the task never counts as healthy during the test,
        # so the service's deployments stay in progress (StopServiceDeployment can still stop one).
        slow_check = {"command": ["CMD-SHELL", "true"], "interval": 300, "startPeriod": 300}
        self.register("fgweb", [busybox("app", SLEEPER, healthCheck=slow_check)], networkMode="awsvpc",
                      requiresCompatibilities=["FARGATE"], cpu="256", memory="512")
        full = self.raw_ok("CreateService", {
            "cluster": "fg", "serviceName": "full", "taskDefinition": "fgweb", "desiredCount": 1,
            "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}],
            "networkConfiguration": NETWORK, "tags": [{"key": "k", "value": "v"}],
            "serviceConnectConfiguration": {"enabled": True, "namespace": "ns"},
            "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": True},
                                        "alarms": {"alarmNames": ["a"], "enable": True, "rollback": False}},
            "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}],
            "volumeConfigurations": [{"name": "v", "managedEBSVolume": {"sizeInGiB": 1,
                                                                        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/x"}}]})
        self.assertEqual(full["service"]["serviceName"], "full")
        self.raw_ok("UpdateService", {"cluster": "fg", "service": "full", "forceNewDeployment": True})
        self.raw_ok("DescribeServices", {"cluster": "fg", "services": ["full", "ghost"], "include": ["TAGS"]})
        self.raw_ok("ListServices", {"cluster": "fg"})
        self.raw_ok("ListServicesByNamespace", {"namespace": "ns"})
        listed = self.raw_ok("ListServiceDeployments", {"cluster": "fg", "service": "full"})["serviceDeployments"]
        self.assertEqual(len(listed), 2)
        self.raw_ok("DescribeServiceDeployments",
                    {"serviceDeploymentArns": [d["serviceDeploymentArn"] for d in listed] + ["arn:nope"]})
        self.raw_ok("DescribeServiceRevisions",
                    {"serviceRevisionArns": [d["targetServiceRevisionArn"] for d in listed] + ["arn:nope"]})
        self.raw_ok("StopServiceDeployment", {"serviceDeploymentArn": listed[0]["serviceDeploymentArn"]})
        self.raw_error("ContinueServiceDeployment", {"serviceDeploymentArn": listed[0]["serviceDeploymentArn"],
                                                     "hookId": "h"}, "InvalidParameterException")
        self.raw_ok("DescribeServices", {"cluster": "fg", "services": ["full"]})
        self.raw_ok("CreateService", {"cluster": "svc", "serviceName": "ext", "desiredCount": 2,
                                      "deploymentController": {"type": "EXTERNAL"}})
        ts = self.raw_ok("CreateTaskSet", {"cluster": "svc", "service": "ext", "taskDefinition": "web",
                                           "scale": {"value": 100, "unit": "PERCENT"},
                                           "tags": [{"key": "k", "value": "v"}]})["taskSet"]
        self.raw_ok("UpdateTaskSet", {"cluster": "svc", "service": "ext", "taskSet": ts["id"],
                                      "scale": {"value": 50, "unit": "PERCENT"}})
        self.raw_ok("UpdateServicePrimaryTaskSet", {"cluster": "svc", "service": "ext", "primaryTaskSet": ts["id"]})
        self.raw_ok("DescribeTaskSets", {"cluster": "svc", "service": "ext", "taskSets": [ts["id"], "x"],
                                         "include": ["TAGS"]})
        self.raw_ok("DescribeServices", {"cluster": "svc", "services": ["ext"]})
        self.raw_ok("DeleteTaskSet", {"cluster": "svc", "service": "ext", "taskSet": ts["id"], "force": True})
        self.raw_ok("DeleteService", {"cluster": "svc", "service": "ext", "force": True})
        self.raw_error("CreateTaskSet", {"cluster": "svc", "service": "ext", "taskDefinition": "web"},
                       "ServiceNotActiveException", "Service was not ACTIVE.")

    # ---- --data-dir keeps services

    def test_services_survive_a_restart_with_data_dir(self):
        data = tempfile.mkdtemp(prefix="berth-svc-data-")
        b = self.start_extra_berth("--data-dir", data)
        ecs = b.boto3_client()
        ecs.create_cluster(clusterName="keep")
        ecs.register_task_definition(family="k", containerDefinitions=[busybox("app", SLEEPER)])
        s = ecs.create_service(cluster="keep", serviceName="kept", taskDefinition="k", desiredCount=0,
                               tags=[{"key": "a", "value": "b"}])["service"]
        history = ecs.list_service_deployments(cluster="keep", service="kept")["serviceDeployments"]
        wait_for(lambda: os.path.exists(os.path.join(data, "state.json")) and
                 "kept" in open(os.path.join(data, "state.json")).read(), timeout=10, what="the snapshot")
        self.assertEqual(b.terminate(), 0)
        b2 = self.start_extra_berth("--data-dir", data, name="restarted")
        ecs2 = b2.boto3_client()
        again = ecs2.describe_services(cluster="keep", services=["kept"], include=["TAGS"])["services"][0]
        self.assertEqual(again["serviceArn"], s["serviceArn"])
        self.assertEqual(again["deployments"][0]["id"], s["deployments"][0]["id"])
        self.assertEqual(again["tags"], [{"key": "a", "value": "b"}])
        self.assertEqual(again["createdAt"], s["createdAt"])
        self.assertEqual(ecs2.list_service_deployments(cluster="keep", service="kept")["serviceDeployments"][0]
                         ["serviceDeploymentArn"], history[0]["serviceDeploymentArn"])


if __name__ == "__main__":
    unittest.main()
