"""StartTask: one task on each named container instance, with ECS's failures for unknown ones."""

import json

from harness import TEST_IMAGE, BerthTestCase


def identity(instance_id):
    return json.dumps({"instanceId": instance_id, "instanceType": "t3.micro", "availabilityZone": "us-east-1a",
                       "region": "us-east-1", "accountId": "000000000000", "imageId": "ami-0123456789abcdef0",
                       "architecture": "x86_64", "privateIp": "10.0.0.5"})


class StartTaskTest(BerthTestCase):

    def test_start_task_on_named_instances(self):
        ecs = self.ecs
        ecs.create_cluster(clusterName="st")
        arns = []
        for iid in ("i-0aaa", "i-0bbb"):
            ci = ecs.register_container_instance(cluster="st", instanceIdentityDocument=identity(iid))
            arns.append(ci["containerInstance"]["containerInstanceArn"])
        ecs.register_task_definition(family="st", containerDefinitions=[
            {"name": "c", "image": TEST_IMAGE, "memory": 32, "command": ["sleep", "300"]}])
        missing = "arn:aws:ecs:us-east-1:000000000000:container-instance/st/0123456789abcdef0123456789abcdef"
        out = ecs.start_task(cluster="st", taskDefinition="st", containerInstances=[arns[0], arns[1], missing],
                             startedBy="ci")
        self.assertEqual(len(out["tasks"]), 2)
        self.assertEqual([t["containerInstanceArn"] for t in out["tasks"]], arns)
        self.assertEqual(out["failures"], [{"arn": missing, "reason": "MISSING"}])
        for t in out["tasks"]:
            self.assertEqual(t["launchType"], "EC2")
            self.assertEqual(t["startedBy"], "ci")
            self.assertEqual(t["group"], "family:st")
            running = self.wait_task("st", t["taskArn"], "RUNNING")
            self.assertEqual(running["containerInstanceArn"], t["containerInstanceArn"])
        # The CLI shapes the same call (v1 and v2).
        for v in (1, 2):
            with self.subTest(cli=v):
                answer = self.cli_ok(v, "ecs", "start-task", "--cluster", "st", "--task-definition", "st",
                                     "--container-instances", arns[0])
                self.assertEqual(len(answer["tasks"]), 1)
                self.assertEqual(answer["tasks"][0]["containerInstanceArn"], arns[0])
                self.assertEqual(answer.get("failures", []), [])

    def test_start_task_bad_input(self):
        ecs = self.ecs
        ecs.create_cluster(clusterName="st")
        status, _, body = self.raw("StartTask", {"cluster": "st", "taskDefinition": "nope",
                                                 "containerInstances": ["abc"]})
        self.assertEqual(status, 400, body)
        self.assertEqual(body["__type"], "InvalidParameterException")
        status, _, body = self.raw("StartTask", {"cluster": "st", "taskDefinition": "x"})
        self.assertEqual(status, 400, body)
        self.assertEqual(body["__type"], "ValidationException")
        self.assertIn("containerInstances", body["message"])
        status, _, body = self.raw("StartTask", {"cluster": "nope", "taskDefinition": "x",
                                                 "containerInstances": ["abc"]})
        self.assertEqual(status, 400, body)
        self.assertEqual(body["__type"], "ClusterNotFoundException")
