"""Issue 3's pagination bar: the AWS CLI's auto-pagination (v1 and v2) and boto3's paginators return every item
of 1,000 task definitions and 1,000 tasks, page by opaque nextToken, with no token on the last page."""

import unittest

from harness import TEST_IMAGE, BerthTestCase, wait_for

COUNT = 1000


class PaginationTest(BerthTestCase):

    def test_thousand_task_definitions_and_tasks(self):
        ecs = self.ecs
        ecs.create_cluster(clusterName="pages")
        # A secret berth has no value for fails each task with ResourceInitializationError before any container
        # exists: 1,000 real tasks without 1,000 containers (or 1,000 slow failing pulls) on the engine.
        for _ in range(COUNT):
            ecs.register_task_definition(family="pages", containerDefinitions=[
                {"name": "c", "image": TEST_IMAGE, "memory": 16,
                 "secrets": [{"name": "S", "valueFrom": "/berth/absent"}]}])
        for _ in range(COUNT // 10):
            out = ecs.run_task(cluster="pages", taskDefinition="pages", count=10)
            self.assertEqual(len(out["tasks"]), 10)

        def all_stopped():
            n = 0
            for page in ecs.get_paginator("list_tasks").paginate(cluster="pages", desiredStatus="STOPPED"):
                n += len(page["taskArns"])
            return n == COUNT

        wait_for(all_stopped, timeout=240, interval=2, what="1,000 tasks to stop")

        expected_defs = {f"arn:aws:ecs:us-east-1:000000000000:task-definition/pages:{i}" for i in range(1, COUNT + 1)}
        for v in (1, 2):
            with self.subTest(cli=v):
                out = self.cli_ok(v, "ecs", "list-task-definitions", "--family-prefix", "pages")
                self.assertEqual(len(out["taskDefinitionArns"]), COUNT)
                self.assertEqual(set(out["taskDefinitionArns"]), expected_defs)
                self.assertNotIn("nextToken", out)
                out = self.cli_ok(v, "ecs", "list-tasks", "--cluster", "pages", "--desired-status", "STOPPED")
                self.assertEqual(len(out["taskArns"]), COUNT)
                self.assertEqual(len(set(out["taskArns"])), COUNT)
                # An explicit small page size still walks every page.
                out = self.cli_ok(v, "ecs", "list-tasks", "--cluster", "pages", "--desired-status", "STOPPED",
                                  "--page-size", "37")
                self.assertEqual(len(set(out["taskArns"])), COUNT)

        pages = list(ecs.get_paginator("list_task_definitions").paginate(
            familyPrefix="pages", PaginationConfig={"PageSize": 100}))
        self.assertEqual(len(pages), 10)
        self.assertTrue(all("nextToken" in p for p in pages[:-1]))
        self.assertNotIn("nextToken", pages[-1])
        self.assertEqual(sum(len(p["taskDefinitionArns"]) for p in pages), COUNT)
        # Ascending by revision, as ECS sorts by default.
        first = pages[0]["taskDefinitionArns"]
        self.assertEqual(first[0].rsplit(":", 1)[1], "1")
        self.assertEqual(first[99].rsplit(":", 1)[1], "100")


if __name__ == "__main__":
    unittest.main()
