"""Clusters, capacity providers, account settings and tags through AWS CLI v1 and v2, boto3 and raw requests.

Every operation of the group is called through a real client and its answer checked member by member against
the output shape of the botocore model (no member the model does not know, every value of the model's type),
then value by value against what ECS answers. Each resource type also gets its bad-input cases.
"""

import copy
import datetime
import os
import random
import shutil
import tempfile

import botocore.exceptions
import botocore.session

from harness import ACCOUNT, REGION, SLEEPER, BerthTestCase, busybox, sh

ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ASG = f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:0f2a8bd1-0000-4000-8000-000000000000:" \
      "autoScalingGroupName/"

_MODEL = botocore.session.get_session().get_service_model("ecs")

# ECS's account setting defaults (ecs-account-settings guide; Fargate task retirement guide).
DEFAULT_SETTINGS = {
    "awsvpcTrunking": "disabled",
    "containerInsights": "disabled",
    "containerInstanceLongArnFormat": "enabled",
    "defaultLogDriverMode": "non-blocking",
    "fargateEventWindows": "disabled",
    "fargateFIPSMode": "disabled",
    "fargateTaskRetirementWaitPeriod": "7",
    "guardDutyActivate": "off",
    "serviceLongArnFormat": "enabled",
    "tagResourceAuthorization": "on",
    "taskLongArnFormat": "enabled",
}

STATISTICS = [
    "runningEC2TasksCount", "runningFargateTasksCount", "pendingEC2TasksCount", "pendingFargateTasksCount",
    "runningExternalTasksCount", "pendingExternalTasksCount", "runningManagedInstancesTasksCount",
    "pendingManagedInstancesTasksCount", "activeEC2ServiceCount", "activeFargateServiceCount",
    "drainingEC2ServiceCount", "drainingFargateServiceCount", "activeExternalServiceCount",
    "drainingExternalServiceCount", "activeManagedInstancesServiceCount", "drainingManagedInstancesServiceCount",
]


def shape_problems(value, shape, path="$", source="raw"):
    """Where `value` departs from botocore shape `shape`: unknown members, wrong types, values outside an enum.
    `source` says how timestamps look: epoch numbers (raw), datetimes (boto3) or strings (CLI)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {value!r}"]
        problems = []
        for key, member in value.items():
            if key not in shape.members:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
            else:
                problems += shape_problems(member, shape.members[key], f"{path}.{key}", source)
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {value!r}"]
        return [p for i, item in enumerate(value) for p in shape_problems(item, shape.member, f"{path}[{i}]", source)]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {value!r}"]
        return [p for k, v in value.items() for p in shape_problems(v, shape.value, f"{path}[{k}]", source)]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        if shape.enum and value not in shape.enum:
            return [f"{path}: {value!r} is not one of {shape.enum}"]
        return []
    if kind in ("integer", "long"):
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: expected an integer, "
                                                                                   f"got {value!r}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if kind in ("double", "float"):
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [f"{path}: not a number"]
    if kind == "timestamp":
        expected = {"raw": (int, float), "boto3": datetime.datetime, "cli": str}[source]
        return [] if isinstance(value, expected) else [f"{path}: timestamp {value!r} is not {expected}"]
    return []


class EcsClustersTest(BerthTestCase):

    # ---- helpers

    def assert_shape(self, operation, output, source):
        output = {k: v for k, v in output.items() if k != "ResponseMetadata"} if isinstance(output, dict) else output
        if source == "cli" and output == "":
            output = {}
        shape = _MODEL.operation_model(operation).output_shape
        if shape is None:
            self.assertEqual(output, {}, f"{operation} has no output shape")
            return output
        problems = shape_problems(output, shape, source=source)
        self.assertEqual(problems, [], f"{operation} answer departs from the model: {output}")
        return output

    def cli_op(self, v, operation, *args):
        """Runs `aws ecs <command>` for `operation` and checks the answer against the output shape."""
        command = "".join("-" + c.lower() if c.isupper() else c for c in operation).lstrip("-")
        out = self.cli_ok(v, "ecs", command, *args)
        return self.assert_shape(operation, out, "cli")

    def boto(self, operation, **kwargs):
        """Calls `operation` through boto3 and checks the answer against the output shape."""
        method = "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")
        out = getattr(self.ecs, method)(**kwargs)
        return self.assert_shape(operation, out, "boto3")

    def boto_error(self, code, call, message=None):
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            call()
        err = ctx.exception.response["Error"]
        self.assertEqual(err["Code"], code, err)
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        if message is not None:
            self.assertEqual(err["Message"], message)
        return err["Message"]

    def raw_ok(self, operation, body):
        status, _, out = self.raw(operation, body)
        self.assertEqual(status, 200, f"{operation} {body}: {out}")
        return self.assert_shape(operation, out, "raw")

    def raw_error(self, operation, body, code):
        status, _, out = self.raw(operation, body)
        self.assertEqual((status, out.get("__type")), (400, code), f"{operation} {body}: {out}")
        return out["message"]

    def create_asg_provider(self, name, group, **provider):
        provider["autoScalingGroupArn"] = ASG + group
        return self.boto("CreateCapacityProvider", name=name, autoScalingGroupProvider=provider)["capacityProvider"]

    # ---- clusters

    def test_cluster_lifecycle_cli(self):
        for v in (1, 2):
            with self.subTest(cli=v):
                self.check_cluster_lifecycle(v)

    def check_cluster_lifecycle(self, v):
        name = f"life-v{v}"
        arn = f"{ARN}cluster/{name}"
        c = self.cli_op(v, "CreateCluster", "--cluster-name", name, "--tags", "key=team,value=a",
                        "--settings", "name=containerInsights,value=enabled",
                        "--configuration", '{"executeCommandConfiguration": {"logging": "NONE"}}')["cluster"]
        self.assertEqual(c["clusterArn"], arn)
        self.assertEqual(c["clusterName"], name)
        self.assertEqual(c["status"], "ACTIVE")
        self.assertEqual(c["tags"], [{"key": "team", "value": "a"}])
        self.assertEqual(c["settings"], [{"name": "containerInsights", "value": "enabled"}])
        self.assertEqual(c["configuration"], {"executeCommandConfiguration": {"logging": "NONE"}})
        for counter in ("registeredContainerInstancesCount", "runningTasksCount", "pendingTasksCount",
                        "activeServicesCount"):
            self.assertEqual(c[counter], 0, counter)
        self.assertEqual(c["statistics"], [])
        self.assertEqual(c["capacityProviders"], [])
        self.assertEqual(c["defaultCapacityProviderStrategy"], [])

        d = self.cli_op(v, "DescribeClusters", "--clusters", name, "--include", "TAGS", "SETTINGS",
                        "CONFIGURATIONS", "STATISTICS", "ATTACHMENTS")
        self.assertEqual(d["failures"], [])
        c = d["clusters"][0]
        self.assertEqual(c["tags"], [{"key": "team", "value": "a"}])
        self.assertEqual(c["configuration"], {"executeCommandConfiguration": {"logging": "NONE"}})
        self.assertEqual(c["attachments"], [])
        if v == 1:  # CLI v2 2.9 predates the Managed Instances counters, which it would drop anyway: same list
            self.assertEqual([s["name"] for s in c["statistics"]], STATISTICS)
        self.assertTrue(all(s["value"] == "0" for s in c["statistics"]))
        bare = self.cli_op(v, "DescribeClusters", "--clusters", arn)["clusters"][0]
        self.assertEqual((bare["tags"], bare["settings"], bare["statistics"]), ([], [], []))
        self.assertNotIn("configuration", bare)

        c = self.cli_op(v, "UpdateCluster", "--cluster", name, "--settings", "name=containerInsights,value=disabled",
                        "--service-connect-defaults", "namespace=ns-" + name)["cluster"]
        self.assertEqual(c["settings"], [{"name": "containerInsights", "value": "disabled"}])
        self.assertEqual(c["serviceConnectDefaults"], {"namespace": "ns-" + name})
        self.assertEqual(c["configuration"], {"executeCommandConfiguration": {"logging": "NONE"}})
        c = self.cli_op(v, "UpdateClusterSettings", "--cluster", arn,
                        "--settings", "name=containerInsights,value=enhanced")["cluster"]
        self.assertEqual(c["settings"], [{"name": "containerInsights", "value": "enhanced"}])

        c = self.cli_op(v, "PutClusterCapacityProviders", "--cluster", name,
                        "--capacity-providers", "FARGATE", "FARGATE_SPOT",
                        "--default-capacity-provider-strategy", "capacityProvider=FARGATE,weight=1,base=1",
                        "capacityProvider=FARGATE_SPOT,weight=4")["cluster"]
        self.assertEqual(c["capacityProviders"], ["FARGATE", "FARGATE_SPOT"])
        self.assertEqual(c["defaultCapacityProviderStrategy"],
                         [{"capacityProvider": "FARGATE", "weight": 1, "base": 1},
                          {"capacityProvider": "FARGATE_SPOT", "weight": 4, "base": 0}])
        c = self.cli_op(v, "PutClusterCapacityProviders", "--cluster", name, "--capacity-providers", "[]",
                        "--default-capacity-provider-strategy", "[]")["cluster"]
        self.assertEqual((c["capacityProviders"], c["defaultCapacityProviderStrategy"]), ([], []))

        self.assertIn(arn, self.cli_op(v, "ListClusters")["clusterArns"])
        c = self.cli_op(v, "DeleteCluster", "--cluster", name)["cluster"]
        self.assertEqual(c["status"], "INACTIVE")
        self.assertEqual(c["clusterArn"], arn)
        self.assertNotIn(arn, self.cli_op(v, "ListClusters")["clusterArns"])
        self.assertEqual(self.cli_op(v, "DescribeClusters", "--clusters", name)["clusters"][0]["status"], "INACTIVE")

    def test_cluster_counters_follow_real_tasks(self):
        self.boto("CreateCluster", clusterName="count")
        self.register("sleeper", [busybox("main", SLEEPER)])
        arn = self.ecs.run_task(cluster="count", taskDefinition="sleeper")["tasks"][0]["taskArn"]
        self.wait_task("count", arn, "RUNNING")
        c = self.boto("DescribeClusters", clusters=["count"], include=["STATISTICS"])["clusters"][0]
        self.assertEqual((c["runningTasksCount"], c["pendingTasksCount"]), (1, 0))
        stats = {s["name"]: s["value"] for s in c["statistics"]}
        self.assertEqual(stats["runningEC2TasksCount"], "1")
        self.assertEqual(stats["runningFargateTasksCount"], "0")
        self.boto_error("ClusterContainsTasksException", lambda: self.ecs.delete_cluster(cluster="count"),
                        "The Cluster cannot be deleted while Tasks are active.")
        self.ecs.stop_task(cluster="count", task=arn)
        self.wait_task("count", arn, "STOPPED")
        c = self.boto("DescribeClusters", clusters=["count"])["clusters"][0]
        self.assertEqual((c["runningTasksCount"], c["pendingTasksCount"]), (0, 0))
        self.assertEqual(self.boto("DeleteCluster", cluster="count")["cluster"]["status"], "INACTIVE")

    def test_cluster_bad_input(self):
        self.boto_error("InvalidParameterException", lambda: self.ecs.create_cluster(clusterName="bad name!"))
        self.ecs.create_cluster(clusterName="dev", tags=[{"key": "k", "value": "1"}])
        self.assertEqual(self.boto("CreateCluster", clusterName="dev")["cluster"]["tags"], [{"key": "k", "value": "1"}])
        self.boto_error("InvalidParameterException",
                        lambda: self.ecs.create_cluster(clusterName="dev", tags=[{"key": "k", "value": "2"}]),
                        "Arguments on this idempotent request are inconsistent with arguments used in previous "
                        "request(s).")
        self.boto_error("InvalidParameterException", lambda: self.ecs.create_cluster(
            clusterName="bad", settings=[{"name": "containerInsights", "value": "sometimes"}]))
        self.boto_error("InvalidParameterException", lambda: self.ecs.create_cluster(
            clusterName="bad", tags=[{"key": "aws:reserved", "value": "x"}]))
        self.boto_error("InvalidParameterException", lambda: self.ecs.update_cluster(
            cluster="dev", configuration={"executeCommandConfiguration": {"logging": "OVERRIDE"}}))
        self.boto_error("ClusterNotFoundException", lambda: self.ecs.update_cluster_settings(
            cluster="ghost", settings=[{"name": "containerInsights", "value": "enabled"}]), "Cluster not found.")
        self.boto_error("InvalidParameterException",
                        lambda: self.ecs.describe_clusters(clusters=[f"c{i}" for i in range(101)]))
        d = self.boto("DescribeClusters", clusters=["dev", "ghost", f"{ARN}cluster/ghost2"])
        self.assertEqual([c["clusterName"] for c in d["clusters"]], ["dev"])
        self.assertEqual(d["failures"], [{"arn": f"{ARN}cluster/ghost", "reason": "MISSING"},
                                         {"arn": f"{ARN}cluster/ghost2", "reason": "MISSING"}])
        # Capacity providers and strategies.
        put = self.ecs.put_cluster_capacity_providers
        self.boto_error("InvalidParameterException", lambda: put(
            cluster="dev", capacityProviders=["ghost"], defaultCapacityProviderStrategy=[]),
            "The specified capacity provider was not found. Specify a valid capacity provider and try again.")
        self.boto_error("InvalidParameterException", lambda: put(
            cluster="dev", capacityProviders=["FARGATE"],
            defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}]),
            "The specified capacity provider strategy cannot contain a capacity provider that is not associated "
            "with the cluster. Associate the capacity provider with the cluster or specify a valid capacity "
            "provider and try again.")
        self.boto_error("InvalidParameterException", lambda: put(
            cluster="dev", capacityProviders=["FARGATE", "FARGATE_SPOT"],
            defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "base": 1},
                                             {"capacityProvider": "FARGATE_SPOT", "base": 2}]))
        self.create_asg_provider("cp-mix", "g-mix")
        self.boto_error("InvalidParameterException", lambda: put(
            cluster="dev", capacityProviders=["FARGATE", "cp-mix"],
            defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1},
                                             {"capacityProvider": "cp-mix", "weight": 1}]),
            "A capacity provider strategy cannot contain a mix of capacity providers using Auto Scaling groups "
            "and Fargate providers. Specify one or the other and try again.")
        self.boto_error("ClusterNotFoundException", lambda: put(
            cluster="ghost", capacityProviders=[], defaultCapacityProviderStrategy=[]))
        # RunTask without a launch type follows the cluster's default strategy: Fargate, which this EC2-only
        # task definition does not support.
        self.register("strategy", [busybox("main", sh("exit 0"))])
        put(cluster="dev", capacityProviders=["FARGATE"],
            defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}])
        self.boto_error("InvalidParameterException",
                        lambda: self.ecs.run_task(cluster="dev", taskDefinition="strategy"))
        # A weight above the model's bound never reaches the handler.
        self.raw_error("PutClusterCapacityProviders",
                       {"cluster": "dev", "capacityProviders": ["FARGATE"],
                        "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1001}]},
                       "ValidationException")
        # The CLI prints ECS's error and exits 254.
        rc, _, err = self.cli(2, "ecs", "delete-cluster", "--cluster", "ghost")
        self.assertEqual(rc, 254)
        self.assertIn("An error occurred (ClusterNotFoundException) when calling the DeleteCluster operation: "
                      "Cluster not found.", err)

    # ---- capacity providers

    def test_capacity_providers_cli(self):
        for v in (1, 2):
            with self.subTest(cli=v):
                self.check_capacity_providers_cli(v)

    def check_capacity_providers_cli(self, v):
        name = f"cp-cli-v{v}"
        arn = f"{ARN}capacity-provider/{name}"
        group = ASG + f"g-cli-v{v}"
        cp = self.cli_op(v, "CreateCapacityProvider", "--name", name, "--auto-scaling-group-provider",
                         f"autoScalingGroupArn={group},managedScaling={{status=ENABLED,targetCapacity=90}},"
                         "managedTerminationProtection=DISABLED", "--tags", "key=k,value=v")["capacityProvider"]
        self.assertEqual(cp["capacityProviderArn"], arn)
        self.assertEqual(cp["name"], name)
        self.assertEqual(cp["status"], "ACTIVE")
        self.assertEqual(cp["tags"], [{"key": "k", "value": "v"}])
        asg = cp["autoScalingGroupProvider"]
        self.assertEqual(asg["autoScalingGroupArn"], group)
        self.assertEqual(asg["managedScaling"], {"status": "ENABLED", "targetCapacity": 90, "minimumScalingStepSize": 1,
                                                 "maximumScalingStepSize": 10000, "instanceWarmupPeriod": 300})
        self.assertEqual(asg["managedTerminationProtection"], "DISABLED")
        if v == 1:  # CLI v2 2.9 predates managedDraining and the provider type; it drops what it does not know
            self.assertEqual(asg["managedDraining"], "ENABLED")
            self.assertEqual(cp["type"], "EC2_AUTOSCALING")
        self.assertNotIn("updateStatus", cp)

        d = self.cli_op(v, "DescribeCapacityProviders", "--capacity-providers", name, "--include", "TAGS")
        self.assertEqual(d["failures"], [])
        self.assertEqual(d["capacityProviders"], [cp])

        u = self.cli_op(v, "UpdateCapacityProvider", "--name", name, "--auto-scaling-group-provider",
                        "managedScaling={targetCapacity=50},managedTerminationProtection=DISABLED")["capacityProvider"]
        self.assertEqual(u["updateStatus"], "UPDATE_IN_PROGRESS")
        self.assertEqual(u["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"], 90)  # as it was
        d = self.cli_op(v, "DescribeCapacityProviders", "--capacity-providers", arn)["capacityProviders"][0]
        self.assertEqual(d["updateStatus"], "UPDATE_COMPLETE")
        self.assertEqual(d["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"], 50)
        self.assertEqual(d["autoScalingGroupProvider"]["managedScaling"]["status"], "ENABLED")
        self.assertEqual(d["tags"], [])  # only with --include TAGS

        cluster = f"cp-cluster-v{v}"
        self.cli_op(v, "CreateCluster", "--cluster-name", cluster, "--capacity-providers", name,
                    "--default-capacity-provider-strategy", f"capacityProvider={name},weight=1")
        failed = self.cli_op(v, "DeleteCapacityProvider", "--capacity-provider", name)["capacityProvider"]
        self.assertEqual(failed["status"], "ACTIVE")
        self.assertEqual(failed["updateStatus"], "DELETE_FAILED")
        self.assertEqual(failed["updateStatusReason"],
                         f"The capacity provider cannot be deleted because it is associated with cluster: {cluster}. "
                         "Remove the capacity provider from the cluster and try again.")
        self.cli_op(v, "PutClusterCapacityProviders", "--cluster", cluster, "--capacity-providers", "[]",
                    "--default-capacity-provider-strategy", "[]")
        deleted = self.cli_op(v, "DeleteCapacityProvider", "--capacity-provider", arn)["capacityProvider"]
        self.assertEqual(deleted["status"], "DEPROVISIONING")
        self.assertEqual(deleted["updateStatus"], "DELETE_IN_PROGRESS")
        d = self.cli_op(v, "DescribeCapacityProviders", "--capacity-providers", name)["capacityProviders"][0]
        self.assertEqual((d["status"], d["updateStatus"]), ("INACTIVE", "DELETE_COMPLETE"))
        names = [p["name"] for p in self.cli_op(v, "DescribeCapacityProviders")["capacityProviders"]]
        self.assertNotIn(name, names)
        self.assertEqual(names[-2:], ["FARGATE", "FARGATE_SPOT"])

    def test_capacity_providers_boto3_builtins_and_pages(self):
        d = self.boto("DescribeCapacityProviders")
        self.assertEqual(d["capacityProviders"], [
            {"capacityProviderArn": f"{ARN}capacity-provider/FARGATE", "name": "FARGATE", "status": "ACTIVE",
             "tags": [], "type": "FARGATE"},
            {"capacityProviderArn": f"{ARN}capacity-provider/FARGATE_SPOT", "name": "FARGATE_SPOT",
             "status": "ACTIVE", "tags": [], "type": "FARGATE_SPOT"}])
        self.assertNotIn("nextToken", d)
        for i in range(12):
            self.boto("CreateCapacityProvider", name=f"cp-{i:02d}",
                      autoScalingGroupProvider={"autoScalingGroupArn": ASG + f"g-{i:02d}"},
                      tags=[{"key": "n", "value": str(i)}])
        seen = []
        kwargs = {"maxResults": 5, "include": ["TAGS"]}
        pages = 0
        while True:
            page = self.boto("DescribeCapacityProviders", **kwargs)
            pages += 1
            self.assertLessEqual(len(page["capacityProviders"]), 5)
            seen += page["capacityProviders"]
            if "nextToken" not in page:
                break
            kwargs["nextToken"] = page["nextToken"]
        self.assertEqual(pages, 3)
        self.assertEqual([p["name"] for p in seen], [f"cp-{i:02d}" for i in range(12)] + ["FARGATE", "FARGATE_SPOT"])
        self.assertEqual(seen[3]["tags"], [{"key": "n", "value": "3"}])
        self.assertEqual(self.boto("DescribeCapacityProviders")["capacityProviders"][0]["tags"], [])
        d = self.boto("DescribeCapacityProviders", capacityProviders=["cp-05", "nope", f"{ARN}capacity-provider/FARGATE"])
        self.assertEqual([p["name"] for p in d["capacityProviders"]], ["cp-05", "FARGATE"])
        self.assertEqual(d["failures"], [{"arn": f"{ARN}capacity-provider/nope", "reason": "MISSING"}])
        self.boto("CreateCluster", clusterName="with-cp", capacityProviders=["cp-07", "FARGATE"])
        d = self.boto("DescribeCapacityProviders", cluster="with-cp")
        self.assertEqual([p["name"] for p in d["capacityProviders"]], ["cp-07", "FARGATE"])
        self.boto_error("InvalidParameterException", lambda: self.ecs.describe_capacity_providers(maxResults=11))
        self.boto_error("InvalidParameterException", lambda: self.ecs.describe_capacity_providers(nextToken="junk!"))

    def test_managed_instances_provider(self):
        self.boto("CreateCluster", clusterName="mi")
        provider = {
            "infrastructureRoleArn": f"arn:aws:iam::{ACCOUNT}:role/ecsInfrastructure",
            "instanceLaunchTemplate": {
                "ec2InstanceProfileArn": f"arn:aws:iam::{ACCOUNT}:instance-profile/ecsInstance",
                "networkConfiguration": {"subnets": ["subnet-0a"], "securityGroups": ["sg-0b"]},
                "storageConfiguration": {"storageSizeGiB": 50},
                "monitoring": "BASIC",
                "instanceRequirements": {"vCpuCount": {"min": 2, "max": 8}, "memoryMiB": {"min": 4096}},
            },
            "propagateTags": "CAPACITY_PROVIDER",
        }
        self.boto_error("InvalidParameterException", lambda: self.ecs.create_capacity_provider(
            name="mi-cp", managedInstancesProvider=provider))
        cp = self.boto("CreateCapacityProvider", name="mi-cp", cluster="mi",
                       managedInstancesProvider=provider)["capacityProvider"]
        self.assertEqual(cp["type"], "MANAGED_INSTANCES")
        self.assertEqual(cp["cluster"], "mi")
        self.assertEqual(cp["managedInstancesProvider"], provider)
        self.assertNotIn("autoScalingGroupProvider", cp)
        self.assertEqual(self.boto("DescribeClusters", clusters=["mi"])["clusters"][0]["capacityProviders"], ["mi-cp"])
        self.assertNotIn("mi-cp", [p["name"] for p in self.boto("DescribeCapacityProviders")["capacityProviders"]])
        update = {"infrastructureRoleArn": f"arn:aws:iam::{ACCOUNT}:role/other",
                  "instanceLaunchTemplate": {"monitoring": "DETAILED"}}
        self.boto_error("ClientException", lambda: self.ecs.update_capacity_provider(
            name="mi-cp", managedInstancesProvider=update))
        self.boto("UpdateCapacityProvider", name="mi-cp", cluster="mi", managedInstancesProvider=update)
        d = self.boto("DescribeCapacityProviders", cluster="mi", capacityProviders=["mi-cp"])["capacityProviders"][0]
        self.assertEqual(d["managedInstancesProvider"]["infrastructureRoleArn"], update["infrastructureRoleArn"])
        template = d["managedInstancesProvider"]["instanceLaunchTemplate"]
        self.assertEqual(template["monitoring"], "DETAILED")
        self.assertEqual(template["networkConfiguration"], provider["instanceLaunchTemplate"]["networkConfiguration"])
        self.boto_error("ClientException", lambda: self.ecs.delete_cluster(cluster="mi"),
                        "The Cluster cannot be deleted while Cluster Scoped Capacity Providers are attached to the "
                        "cluster.")
        self.assertEqual(self.boto("DeleteCapacityProvider", capacityProvider="mi-cp",
                                   cluster="mi")["capacityProvider"]["status"], "DEPROVISIONING")
        self.assertEqual(self.boto("DeleteCluster", cluster="mi")["cluster"]["status"], "INACTIVE")

    def test_capacity_provider_bad_input(self):
        invalid_name = ("The specified capacity provider name is invalid. Up to 255 characters are allowed, including "
                        "letters (upper and lowercase), numbers, underscores, and hyphens. The name cannot be prefixed "
                        "with \"aws\", \"ecs\", or \"fargate\". Specify a valid name and try again.")
        for name in ("FARGATE", "aws-x", "Ecs1", "fargate_two", "has space"):
            with self.subTest(name=name):
                self.boto_error("ClientException", lambda: self.ecs.create_capacity_provider(
                    name=name, autoScalingGroupProvider={"autoScalingGroupArn": ASG + "g"}), invalid_name)
        self.create_asg_provider("cp1", "g1")
        self.boto_error("ClientException", lambda: self.create_asg_provider("cp1", "g2"))
        self.boto_error("ClientException", lambda: self.create_asg_provider("cp2", "g1"),
                        "The specified Auto Scaling group ARN is already being used by another capacity provider. "
                        "Specify a unique Auto Scaling group ARN and try again.")
        self.boto_error("InvalidParameterException", lambda: self.ecs.create_capacity_provider(name="cp3"))
        self.raw_error("CreateCapacityProvider", {"name": "cp3", "autoScalingGroupProvider": {
            "autoScalingGroupArn": "g3", "managedScaling": {"targetCapacity": 0}}}, "ValidationException")
        missing = "The specified capacity provider does not exist. Specify a valid name or ARN and try again."
        self.boto_error("ClientException", lambda: self.ecs.update_capacity_provider(
            name="ghost", autoScalingGroupProvider={"managedTerminationProtection": "ENABLED"}), missing)
        self.boto_error("ClientException", lambda: self.ecs.delete_capacity_provider(capacityProvider="ghost"), missing)
        self.boto_error("ClientException", lambda: self.ecs.update_capacity_provider(
            name="FARGATE", autoScalingGroupProvider={"managedTerminationProtection": "ENABLED"}))
        self.boto_error("ClientException", lambda: self.ecs.delete_capacity_provider(capacityProvider="FARGATE"))
        self.boto_error("InvalidParameterException", lambda: self.ecs.update_capacity_provider(name="cp1"))
        self.boto("CreateCluster", clusterName="a", capacityProviders=["cp1"])
        self.boto_error("InvalidParameterException", lambda: self.ecs.create_cluster(
            clusterName="b", capacityProviders=["cp1"]))
        self.boto_error("ClusterNotFoundException", lambda: self.ecs.describe_capacity_providers(cluster="ghost"))

    # ---- account settings

    def test_account_settings(self):
        first = self.boto("ListAccountSettings", effectiveSettings=True)
        self.assertEqual(len(first["settings"]), 10)
        self.assertIn("nextToken", first)
        settings = []
        for page in self.ecs.get_paginator("list_account_settings").paginate(effectiveSettings=True):
            self.assert_shape("ListAccountSettings", page, "boto3")
            settings += page["settings"]
        self.assertEqual({s["name"]: s["value"] for s in settings}, DEFAULT_SETTINGS)
        self.assertEqual({s["principalArn"] for s in settings}, {ROOT})
        self.assertEqual({s["name"]: s["type"] for s in settings}["guardDutyActivate"], "aws_managed")
        self.assertEqual({s["type"] for s in settings if s["name"] != "guardDutyActivate"}, {"user"})
        # The CLI follows nextToken by itself.
        out = self.cli_op(2, "ListAccountSettings", "--effective-settings")
        self.assertEqual(sorted(s["name"] for s in out["settings"]), sorted(DEFAULT_SETTINGS))
        self.assertEqual(self.boto("ListAccountSettings")["settings"], [])

        s = self.cli_op(1, "PutAccountSettingDefault", "--name", "containerInsights", "--value", "enhanced")
        self.assertEqual(s["setting"], {"name": "containerInsights", "value": "enhanced", "principalArn": ROOT,
                                        "type": "user"})
        c = self.boto("CreateCluster", clusterName="insights")["cluster"]
        self.assertEqual(c["settings"], [{"name": "containerInsights", "value": "enhanced"}])

        user = f"arn:aws:iam::{ACCOUNT}:user/dev"
        s = self.cli_op(2, "PutAccountSetting", "--name", "awsvpcTrunking", "--value", "enabled",
                        "--principal-arn", user)
        # CLI v2 2.9 predates the setting's type member and drops it.
        self.assertEqual(s["setting"], {"name": "awsvpcTrunking", "value": "enabled", "principalArn": user})
        s = self.boto("PutAccountSetting", name="fargateTaskRetirementWaitPeriod", value="14")["setting"]
        self.assertEqual((s["principalArn"], s["value"]), (ROOT, "14"))
        own = self.boto("ListAccountSettings", principalArn=user)["settings"]
        self.assertEqual(own, [{"name": "awsvpcTrunking", "value": "enabled", "principalArn": user, "type": "user"}])
        eff = self.boto("ListAccountSettings", principalArn=user, effectiveSettings=True, name="containerInsights")
        self.assertEqual(eff["settings"], [{"name": "containerInsights", "value": "enhanced", "principalArn": ROOT,
                                            "type": "user"}])
        filtered = self.boto("ListAccountSettings", effectiveSettings=True, name="awsvpcTrunking", value="disabled")
        self.assertEqual([x["principalArn"] for x in filtered["settings"]], [ROOT])

        d = self.cli_op(1, "DeleteAccountSetting", "--name", "awsvpcTrunking", "--principal-arn", user)
        self.assertEqual(d["setting"], {"name": "awsvpcTrunking", "value": "enabled", "principalArn": user,
                                        "type": "user"})
        self.assertEqual(self.boto("ListAccountSettings", principalArn=user)["settings"], [])
        d = self.boto("DeleteAccountSetting", name="containerInsights")["setting"]
        self.assertEqual(d["value"], "enhanced")
        self.assertEqual(self.boto("CreateCluster", clusterName="plain")["cluster"]["settings"],
                         [{"name": "containerInsights", "value": "disabled"}])

    def test_account_setting_bad_input(self):
        err = self.ecs.put_account_setting
        self.boto_error("InvalidParameterException", lambda: err(name="containerInsights", value="sometimes"))
        self.boto_error("InvalidParameterException", lambda: err(name="fargateTaskRetirementWaitPeriod", value="3"))
        self.boto_error("InvalidParameterException", lambda: err(
            name="fargateTaskRetirementWaitPeriod", value="0", principalArn=f"arn:aws:iam::{ACCOUNT}:role/r"))
        self.boto_error("InvalidParameterException", lambda: err(name="guardDutyActivate", value="on"))
        self.boto_error("InvalidParameterException", lambda: err(
            name="awsvpcTrunking", value="enabled", principalArn="arn:aws:iam::111122223333:user/u"))
        self.boto_error("UnsupportedFeatureException", lambda: err(name="serviceLongArnFormat", value="disabled"))
        self.boto_error("InvalidParameterException", lambda: self.ecs.list_account_settings(value="enabled"))
        self.raw_error("PutAccountSetting", {"name": "dualStack", "value": "enabled"}, "ValidationException")
        rc, _, stderr = self.cli(2, "ecs", "put-account-setting-default", "--name", "awsvpcTrunking",
                                 "--value", "maybe")
        self.assertEqual(rc, 254)
        self.assertIn("(InvalidParameterException)", stderr)

    # ---- tags

    def test_tags_cli(self):
        self.ecs.create_cluster(clusterName="tagged")
        self.create_asg_provider("cp-tagged", "g-tagged")
        td = self.register("tagged", [busybox("main", sh("exit 0"))])["taskDefinitionArn"]
        task = self.ecs.run_task(cluster="tagged", taskDefinition="tagged")["tasks"][0]["taskArn"]
        self.wait_task("tagged", task, "STOPPED")
        arns = [f"{ARN}cluster/tagged", f"{ARN}capacity-provider/cp-tagged", td, task]
        for v in (1, 2):
            for arn in arns:
                with self.subTest(cli=v, arn=arn):
                    out = self.cli_op(v, "TagResource", "--resource-arn", arn, "--tags",
                                      f"key=v{v},value=1", "key=shared,value=x")
                    self.assertEqual(out, {})
                    self.cli_op(v, "TagResource", "--resource-arn", arn, "--tags", "key=shared,value=y")
                    tags = self.cli_op(v, "ListTagsForResource", "--resource-arn", arn)["tags"]
                    self.assertIn({"key": f"v{v}", "value": "1"}, tags)
                    self.assertEqual([t for t in tags if t["key"] == "shared"], [{"key": "shared", "value": "y"}])
                    self.assertEqual(self.cli_op(v, "UntagResource", "--resource-arn", arn, "--tag-keys", "shared",
                                                 "nothing-here"), {})
                    tags = self.cli_op(v, "ListTagsForResource", "--resource-arn", arn)["tags"]
                    self.assertNotIn("shared", [t["key"] for t in tags])
        for arn in arns:
            self.assertEqual(self.boto("ListTagsForResource", resourceArn=arn)["tags"],
                             [{"key": "v1", "value": "1"}, {"key": "v2", "value": "1"}])
        # The same tags show where the resources are described.
        c = self.boto("DescribeClusters", clusters=["tagged"], include=["TAGS"])["clusters"][0]
        self.assertEqual(c["tags"], [{"key": "v1", "value": "1"}, {"key": "v2", "value": "1"}])
        t = self.ecs.describe_tasks(cluster="tagged", tasks=[task], include=["TAGS"])["tasks"][0]
        self.assertEqual(t["tags"], [{"key": "v1", "value": "1"}, {"key": "v2", "value": "1"}])

    def test_tag_bad_input(self):
        self.ecs.create_cluster(clusterName="t")
        cluster = f"{ARN}cluster/t"
        tag = self.ecs.tag_resource
        self.boto_error("InvalidParameterException", lambda: tag(resourceArn=cluster,
                                                                 tags=[{"key": "aws:x", "value": "v"}]))
        self.boto_error("InvalidParameterException", lambda: tag(resourceArn=cluster,
                                                                 tags=[{"key": "k", "value": "AWS:v"}]))
        self.boto_error("InvalidParameterException", lambda: self.ecs.untag_resource(resourceArn=cluster,
                                                                                     tagKeys=["aws:x"]))
        tag(resourceArn=cluster, tags=[{"key": f"k{i}", "value": ""} for i in range(50)])
        self.boto_error("InvalidParameterException", lambda: tag(resourceArn=cluster,
                                                                 tags=[{"key": "k50", "value": ""}]))
        self.assertEqual(len(self.boto("ListTagsForResource", resourceArn=cluster)["tags"]), 50)
        self.raw_error("TagResource", {"resourceArn": cluster, "tags": [{"key": "k" * 129, "value": ""}]},
                       "ValidationException")
        self.raw_error("TagResource", {"resourceArn": cluster, "tags": [{"key": "k", "value": "v" * 257}]},
                       "ValidationException")
        lst = self.ecs.list_tags_for_resource
        self.boto_error("ClusterNotFoundException", lambda: lst(resourceArn=f"{ARN}cluster/ghost"), "Cluster not found.")
        self.boto_error("ResourceNotFoundException", lambda: tag(resourceArn=f"{ARN}task-definition/ghost:1",
                                                                 tags=[{"key": "k", "value": "v"}]))
        self.boto_error("ResourceNotFoundException", lambda: lst(resourceArn=f"{ARN}capacity-provider/ghost"))
        self.boto_error("InvalidParameterException", lambda: lst(resourceArn=f"{ARN}task/" + "0" * 32),
                        "Long arn format must be used for tagging operations")
        for bad in ("cluster-t", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/r", f"{ARN}container/t/a/b"):
            with self.subTest(arn=bad):
                self.boto_error("InvalidParameterException", lambda: lst(resourceArn=bad),
                                "The ARN provided is invalid.")

    # ---- the whole group, raw

    def test_raw_answers_hold_only_model_members(self):
        """Clients drop members they do not know; a raw request sees everything berth sends."""
        self.raw_ok("CreateCapacityProvider", {"name": "raw-cp", "autoScalingGroupProvider": {
            "autoScalingGroupArn": ASG + "raw"}, "tags": [{"key": "k", "value": "v"}]})
        self.raw_ok("CreateCluster", {"clusterName": "raw", "capacityProviders": ["raw-cp", "FARGATE"],
                                      "tags": [{"key": "k", "value": "v"}],
                                      "configuration": {"managedStorageConfiguration": {"kmsKeyId": "key"}},
                                      "serviceConnectDefaults": {"namespace": "raw-ns"}})
        self.raw_ok("DescribeClusters", {"clusters": ["raw", "ghost"], "include": [
            "ATTACHMENTS", "CONFIGURATIONS", "SETTINGS", "STATISTICS", "TAGS"]})
        self.raw_ok("ListClusters", {})
        self.raw_ok("UpdateCluster", {"cluster": "raw", "settings": [{"name": "containerInsights", "value": "enabled"}]})
        self.raw_ok("UpdateClusterSettings", {"cluster": "raw", "settings": [
            {"name": "containerInsights", "value": "disabled"}]})
        self.raw_ok("DescribeCapacityProviders", {"include": ["TAGS"]})
        self.raw_ok("DescribeCapacityProviders", {"capacityProviders": ["raw-cp", "ghost"]})
        self.raw_ok("UpdateCapacityProvider", {"name": "raw-cp", "autoScalingGroupProvider": {
            "managedDraining": "DISABLED"}})
        self.raw_ok("DeleteCapacityProvider", {"capacityProvider": "raw-cp"})  # DELETE_FAILED: still associated
        self.raw_ok("PutClusterCapacityProviders", {"cluster": "raw", "capacityProviders": [],
                                                    "defaultCapacityProviderStrategy": []})
        self.raw_ok("DeleteCapacityProvider", {"capacityProvider": "raw-cp"})
        self.raw_ok("TagResource", {"resourceArn": f"{ARN}cluster/raw", "tags": [{"key": "a", "value": "b"}]})
        self.raw_ok("UntagResource", {"resourceArn": f"{ARN}cluster/raw", "tagKeys": ["a"]})
        self.raw_ok("ListTagsForResource", {"resourceArn": f"{ARN}cluster/raw"})
        self.raw_ok("PutAccountSetting", {"name": "awsvpcTrunking", "value": "enabled"})
        self.raw_ok("PutAccountSettingDefault", {"name": "containerInsights", "value": "enabled"})
        self.raw_ok("ListAccountSettings", {"effectiveSettings": True, "maxResults": 10})
        self.raw_ok("DeleteAccountSetting", {"name": "awsvpcTrunking"})
        self.raw_ok("DeleteCluster", {"cluster": "raw"})

    # ---- fuzz

    FUZZ_SEEDS = [
        ("CreateCluster", {"clusterName": "fz", "tags": [{"key": "k", "value": "v"}],
                           "settings": [{"name": "containerInsights", "value": "enabled"}],
                           "configuration": {"executeCommandConfiguration": {"logging": "OVERRIDE",
                                                                             "logConfiguration": {}}},
                           "capacityProviders": ["FARGATE", "fz-cp"], "serviceConnectDefaults": {"namespace": "n"},
                           "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1,
                                                                "base": 1}]}),
        ("UpdateCluster", {"cluster": "fz", "settings": [{"name": "containerInsights", "value": "enhanced"}],
                           "configuration": {"managedStorageConfiguration": {"kmsKeyId": "k"}},
                           "serviceConnectDefaults": {"namespace": ""}}),
        ("UpdateClusterSettings", {"cluster": "fz", "settings": [{"name": "containerInsights", "value": "enabled"}]}),
        ("PutClusterCapacityProviders", {"cluster": "fz", "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
                                         "defaultCapacityProviderStrategy": [
                                             {"capacityProvider": "FARGATE_SPOT", "weight": 2, "base": 0}]}),
        ("DescribeClusters", {"clusters": ["fz"], "include": ["STATISTICS", "TAGS"]}),
        ("DeleteCluster", {"cluster": "fz"}),
        ("CreateCapacityProvider", {"name": "fz-cp", "autoScalingGroupProvider": {
            "autoScalingGroupArn": "g", "managedScaling": {"status": "ENABLED", "targetCapacity": 50},
            "managedDraining": "ENABLED"}, "tags": [{"key": "k", "value": "v"}]}),
        ("CreateCapacityProvider", {"name": "fz-mi", "cluster": "fz", "managedInstancesProvider": {
            "infrastructureRoleArn": "r", "instanceLaunchTemplate": {
                "ec2InstanceProfileArn": "p", "networkConfiguration": {"subnets": ["s"]}}}}),
        ("UpdateCapacityProvider", {"name": "fz-cp", "autoScalingGroupProvider": {
            "managedScaling": {"minimumScalingStepSize": 2}, "managedTerminationProtection": "ENABLED"}}),
        ("UpdateCapacityProvider", {"name": "fz-mi", "cluster": "fz", "managedInstancesProvider": {
            "infrastructureRoleArn": "r2", "instanceLaunchTemplate": {"monitoring": "DETAILED"}}}),
        ("DescribeCapacityProviders", {"capacityProviders": ["fz-cp", "FARGATE"], "include": ["TAGS"],
                                       "maxResults": 5, "cluster": "fz"}),
        ("DeleteCapacityProvider", {"capacityProvider": "fz-cp", "cluster": "fz"}),
        ("PutAccountSetting", {"name": "awsvpcTrunking", "value": "enabled",
                               "principalArn": f"arn:aws:iam::{ACCOUNT}:user/u"}),
        ("PutAccountSettingDefault", {"name": "containerInsights", "value": "enhanced"}),
        ("ListAccountSettings", {"name": "containerInsights", "value": "enhanced", "effectiveSettings": True,
                                 "maxResults": 3, "principalArn": f"arn:aws:iam::{ACCOUNT}:root"}),
        ("DeleteAccountSetting", {"name": "awsvpcTrunking", "principalArn": f"arn:aws:iam::{ACCOUNT}:user/u"}),
        ("TagResource", {"resourceArn": f"{ARN}cluster/fz", "tags": [{"key": "a", "value": "b"}]}),
        ("UntagResource", {"resourceArn": f"{ARN}capacity-provider/fz-cp", "tagKeys": ["a"]}),
        ("ListTagsForResource", {"resourceArn": f"{ARN}cluster/fz"}),
    ]
    JUNK = [None, True, 0, -1, 2 ** 31, 10 ** 40, 0.5, "", "x" * 3000, "\u0000", "aws:x", "FARGATE",
            f"{ARN}cluster/fz", f"{ARN}capacity-provider/fz-cp", [], {}, [None], [1, "a"], {"name": None},
            [{"capacityProvider": "FARGATE"}], [{"key": None}]]

    def test_fuzz_group(self):
        """Random damage to valid requests of the group: never a 5xx, never a dead berth."""
        seed = int(os.environ.get("BERTH_FUZZ_SEED", "20261122"))
        rng = random.Random(seed)
        statuses = {}
        for i in range(400):
            op, body = rng.choice(self.FUZZ_SEEDS)
            body = copy.deepcopy(body)
            for _ in range(rng.randint(1, 3)):
                holders = [h for h in self.containers(body) if h]
                if not holders:
                    break
                holder = rng.choice(holders)
                key = rng.choice(list(holder.keys()) if isinstance(holder, dict) else range(len(holder)))
                if rng.random() < 0.25 and isinstance(holder, dict):
                    del holder[key]
                else:
                    holder[key] = copy.deepcopy(rng.choice(self.JUNK))
            status, _, answer = self.raw(op, body)
            statuses[status] = statuses.get(status, 0) + 1
            where = f"request {i} (seed {seed}): {op} {body!r:.400} -> {status} {answer!r:.300}"
            self.assertTrue(status == 200 or 400 <= status < 500, where)
            self.assertIsInstance(answer, dict, where)
            if status == 200:
                self.assertEqual(shape_problems(answer, _MODEL.operation_model(op).output_shape) if
                                 _MODEL.operation_model(op).output_shape else [], [], where)
            else:
                self.assertTrue(answer.get("__type"), where)
        self.assertTrue(self.berth.alive(), "berth died during the fuzz loop")
        self.assertIn(200, statuses, statuses)
        self.assertTrue(any(400 <= s < 500 for s in statuses), statuses)

    def test_every_member_missing_null_or_empty(self):
        """Each member of each seed request, one at a time, removed, null, or an empty object or list."""
        sent = 0
        for op, seed_body in self.FUZZ_SEEDS:
            for path in self.paths(seed_body):
                for change in ("delete", None, {}, []):
                    body = copy.deepcopy(seed_body)
                    holder = body
                    for step in path[:-1]:
                        holder = holder[step]
                    if change == "delete":
                        if not isinstance(holder, dict):
                            continue
                        del holder[path[-1]]
                    else:
                        holder[path[-1]] = copy.deepcopy(change)
                    status, _, answer = self.raw(op, body)
                    sent += 1
                    where = f"{op} {body!r:.400} -> {status} {answer!r:.300}"
                    self.assertTrue(status == 200 or 400 <= status < 500, where)
                    self.assertTrue(status == 200 or answer.get("__type"), where)
        self.assertGreater(sent, 300)
        self.assertTrue(self.berth.alive(), "berth died")

    @staticmethod
    def paths(value, prefix=()):
        """The path of every member and list entry inside value."""
        found = []
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
        for key, child in items:
            found.append(prefix + (key,))
            found += EcsClustersTest.paths(child, prefix + (key,))
        return found

    @staticmethod
    def containers(value):
        found = [value]
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
        for child in children:
            if isinstance(child, (dict, list)):
                found += EcsClustersTest.containers(child)
        return found

    # ---- persistence

    def test_state_survives_a_restart(self):
        data_dir = tempfile.mkdtemp(prefix="berth-clusters-data-")
        self.addCleanup(shutil.rmtree, data_dir, True)
        first = self.start_extra_berth("--data-dir", data_dir, name="clusters-first")
        ecs = first.boto3_client()
        ecs.create_capacity_provider(name="kept", autoScalingGroupProvider={"autoScalingGroupArn": ASG + "kept"},
                                     tags=[{"key": "k", "value": "v"}])
        ecs.put_account_setting_default(name="containerInsights", value="enhanced")
        ecs.create_cluster(clusterName="kept", capacityProviders=["kept"],
                           defaultCapacityProviderStrategy=[{"capacityProvider": "kept", "weight": 2}])
        before = ecs.describe_capacity_providers(capacityProviders=["kept"], include=["TAGS"])["capacityProviders"]
        self.assertEqual(first.terminate(), 0)
        self.assertTrue(os.path.exists(os.path.join(data_dir, "state.json")))

        second = self.start_extra_berth("--data-dir", data_dir, name="clusters-second")
        ecs = second.boto3_client()
        self.assertEqual(ecs.describe_capacity_providers(capacityProviders=["kept"],
                                                         include=["TAGS"])["capacityProviders"], before)
        c = ecs.describe_clusters(clusters=["kept"], include=["SETTINGS"])["clusters"][0]
        self.assertEqual(c["capacityProviders"], ["kept"])
        self.assertEqual(c["defaultCapacityProviderStrategy"], [{"capacityProvider": "kept", "weight": 2, "base": 0}])
        self.assertEqual(c["settings"], [{"name": "containerInsights", "value": "enhanced"}])
        setting = ecs.list_account_settings(name="containerInsights")["settings"]
        self.assertEqual(setting, [{"name": "containerInsights", "value": "enhanced", "principalArn": ROOT,
                                    "type": "user"}])
