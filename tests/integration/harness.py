"""Shared machinery for berth's integration tests.

Every test class gets its own berth process (`berth serve --port 0`), started in setUpClass and stopped with
SIGTERM in tearDownClass. The stop is itself a test: berth must exit 0 and must have removed every container it
started. Each test resets berth in setUp so tests stay independent.

The clients are the real ones on the machine: AWS CLI v1 (`aws` on PATH), AWS CLI v2 (/usr/bin/aws), boto3,
http.client for raw requests, and the docker CLI to look at what berth did to the engine.
"""

import atexit
import http.client
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TEST_IMAGE = "berth-test/busybox:latest"
REGION = "us-east-1"
ACCOUNT = "000000000000"
ECS_PREFIX = "AmazonEC2ContainerServiceV20141113"
READY_RE = re.compile(r"^berth ready on http://127\.0\.0\.1:(\d+)$")
LABEL_INSTANCE = "dev.berth.instance"
LABEL_TASK_ID = "dev.berth.task-id"
TASK_ARN_RE = re.compile(r"^arn:aws:ecs:[^:]+:\d{12}:task/[^/]+/([0-9a-f]{32})$")

# Where berth's logs and the clients' empty config files go. Kept when something fails, removed otherwise.
WORK_DIR = tempfile.mkdtemp(prefix="berth-integration-")


def berth_binary():
    path = os.environ.get("BERTH_BIN") or os.path.join(HERE, "..", "..", "build", "dev", "bin", "berth")
    return os.path.abspath(path)


def _clean_environment():
    """No ambient AWS or berth configuration may leak into berth or the clients."""
    for key in list(os.environ):
        if (key.startswith("AWS_") and key != "AWS_CA_BUNDLE") or key.startswith("BERTH_"):
            del os.environ[key]
    empty = os.path.join(WORK_DIR, "aws-empty-config")
    open(empty, "w").close()
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": empty,
        "AWS_SHARED_CREDENTIALS_FILE": empty,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    })


_clean_environment()

# --------------------------------------------------------------------------------------------------------------
# Clients


def cli_executable(version):
    """AWS CLI v1 is the first `aws` on PATH that is not /usr/bin/aws; v2 is Debian's /usr/bin/aws."""
    if version == 2:
        return "/usr/bin/aws"
    for d in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(d, "aws")
        if os.path.realpath(candidate) in ("/usr/bin/aws", "/bin/aws"):
            continue
        if os.access(candidate, os.X_OK):
            return candidate
    raise unittest.SkipTest("AWS CLI v1 not found on PATH")


_cli_versions = {}


def cli_version(version):
    """The (major, minor, patch) of one of the CLIs, e.g. (2, 9, 19)."""
    if version not in _cli_versions:
        out = subprocess.run([cli_executable(version), "--version"], capture_output=True, text=True, timeout=60)
        m = re.search(r"aws-cli/(\d+)\.(\d+)\.(\d+)", out.stdout + out.stderr)
        _cli_versions[version] = tuple(int(x) for x in m.groups()) if m else (0, 0, 0)
    return _cli_versions[version]


def parse_output(text):
    if not text.strip():
        return ""
    try:
        return json.loads(text)
    except ValueError:
        return text


# Task ids seen in any response; used to find which containers on the engine belong to which berth.
_seen_task_ids = set()


# --------------------------------------------------------------------------------------------------------------
# Docker


def docker(*args, check=False, timeout=60):
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


def docker_inspect(container_id):
    """The container's `docker inspect` document, or None when the engine does not know it."""
    out = docker("inspect", "--type", "container", container_id)
    if out.returncode != 0:
        return None
    doc = json.loads(out.stdout)[0]
    labels = (doc.get("Config") or {}).get("Labels") or {}
    if labels.get(LABEL_INSTANCE):
        _seen_instances.add(labels[LABEL_INSTANCE])
    return doc


def docker_ps(*filters, all_states=True):
    """IDs of containers matching every `label=...`/`id=...` filter."""
    args = ["ps", "-q", "--no-trunc"]
    if all_states:
        args.append("-a")
    for f in filters:
        args += ["--filter", f]
    out = docker(*args, check=True)
    return [line for line in out.stdout.split() if line]


def containers_of_instance(instance_id):
    return docker_ps(f"label={LABEL_INSTANCE}={instance_id}")


def containers_of_tasks(task_ids):
    """Containers on the engine that carry one of these task ids, as (id, task_id, instance)."""
    out = docker("ps", "-a", "--no-trunc", "--filter", f"label={LABEL_TASK_ID}", "--format",
                 '{{.ID}}\t{{.Label "' + LABEL_TASK_ID + '"}}\t{{.Label "' + LABEL_INSTANCE + '"}}', check=True)
    found = []
    for line in out.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[1] in task_ids:
            found.append(tuple(parts))
    return found


def force_remove(container_ids):
    if container_ids:
        docker("rm", "-f", *container_ids, timeout=120)


_seen_instances = set()


# --------------------------------------------------------------------------------------------------------------
# Polling


def wait_for(fn, timeout=60, interval=0.5, what="condition"):
    """Calls fn until it returns something truthy and returns that; fails after `timeout` seconds with the last
    value it saw. The deadline is a bound against hanging, never a performance assertion."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------------------------
# One berth process

_live = []


class Berth:
    """A berth process on a free port with its stderr in a log file."""

    def __init__(self, *args, name="berth", binary=None):
        self.args = list(args)
        self.binary = binary or berth_binary()
        self.name = name
        self.proc = None
        self.port = None
        self.log_path = None
        self.task_ids = set()  # every task id seen while this berth was the one answering
        self.instances = set()

    # ---- process

    def start(self, ready_timeout=10):
        if not os.access(self.binary, os.X_OK):
            raise RuntimeError(f"berth binary not found: {self.binary}")
        fd, self.log_path = tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log", dir=WORK_DIR)
        log = os.fdopen(fd, "wb")
        self.proc = subprocess.Popen([self.binary, "serve", "--port", "0", *self.args], stdout=subprocess.PIPE,
                                     stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        _live.append(self)
        line = self._read_ready_line(ready_timeout)
        m = READY_RE.match(line)
        if not m:
            self.kill()
            raise RuntimeError(f"unexpected first stdout line from berth: {line!r}\n{self.log_tail()}")
        self.port = int(m.group(1))
        return self

    def _read_ready_line(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise RuntimeError(f"berth printed no ready line within {timeout}s\n{self.log_tail()}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    rc = self.proc.wait(5)
                    raise RuntimeError(f"berth exited ({rc}) before it was ready\n{self.log_tail()}")
                buf += chunk
        return buf.split(b"\n", 1)[0].decode()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout=30):
        """SIGTERM and wait; returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = None
        self._forget()
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._forget()

    def _forget(self):
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        if self in _live:
            _live.remove(self)

    def log_text(self):
        if not self.log_path:
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, lines=60):
        text = self.log_text().splitlines()
        return f"---- last {min(lines, len(text))} lines of {self.log_path} ----\n" + "\n".join(text[-lines:])

    # ---- containers

    def collect_instances(self):
        """Learns this berth's dev.berth.instance from containers carrying task ids it handed out."""
        for _, _, instance in containers_of_tasks(self.task_ids):
            if instance:
                self.instances.add(instance)
        return self.instances

    def leftover_containers(self):
        """Containers still on the engine that this berth started."""
        left = set()
        for instance in self.instances:
            left.update(containers_of_instance(instance))
        left.update(cid for cid, _, _ in containers_of_tasks(self.task_ids))
        return sorted(left)

    def stop_and_check(self, timeout=30):
        """SIGTERM; returns a list of problems (empty when berth exited 0 and removed its containers). Whatever
        berth left behind is then removed, so a failure never leaks containers."""
        problems = []
        try:
            self.collect_instances()
        except Exception as e:  # noqa: BLE001 - the engine being odd must not skip the shutdown
            problems.append(f"could not list containers before shutdown: {e}")
        rc = self.terminate(timeout)
        if rc != 0:
            problems.append(f"berth exited with {rc} after SIGTERM (expected 0)")
        left = self.leftover_containers()
        if left:
            problems.append(f"berth left {len(left)} container(s) behind after shutdown: {left}")
            force_remove(left)
        return problems

    def cleanup(self):
        """Safety net for berths a test started itself: stop it and remove whatever it left."""
        if self.alive():
            try:
                self.collect_instances()
            except Exception:  # noqa: BLE001
                pass
            self.terminate(20)
        force_remove(self.leftover_containers())

    # ---- HTTP

    def request(self, method, path, body=None, headers=None, timeout=30):
        """One request on a fresh connection: (status, {lower-case header: value}, parsed JSON or bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            body = body if body is not None else b""
            if isinstance(body, str):
                body = body.encode()
            hdrs = dict(headers or {})
            hdrs.setdefault("Content-Length", str(len(body)))
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.endheaders()
            try:
                if body:
                    conn.send(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer (413) before reading everything; its answer still counts
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, self._parse(data)
        finally:
            conn.close()

    def _parse(self, data):
        try:
            doc = json.loads(data)
        except ValueError:
            return data
        self.note(doc)
        return doc

    def note(self, doc):
        """Remembers the task ids this berth handed out (to find its containers later)."""
        found = set()
        note_into(doc, found)
        self.task_ids.update(found)
        _seen_task_ids.update(found)

    def raw(self, target, body=b"{}", headers=None):
        """POST / as an AWS JSON 1.1 call. target None sends no X-Amz-Target at all; a bare operation name gets
        the ECS prefix."""
        hdrs = {"Content-Type": "application/x-amz-json-1.1"}
        if target is not None:
            hdrs["X-Amz-Target"] = target if "." in target else f"{ECS_PREFIX}.{target}"
        hdrs.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        return self.request("POST", "/", body, hdrs)

    def health(self):
        status, _, body = self.request("GET", "/_berth/health")
        if status != 200:
            raise AssertionError(f"health answered {status}: {body!r}")
        return body

    def reset(self, path="/_berth/reset"):
        status, _, body = self.request("POST", path, timeout=60)
        if status != 200:
            raise AssertionError(f"{path} answered {status}: {body!r}")
        return body

    def cli(self, version, *args, endpoint=True, env=None, timeout=180):
        """Runs AWS CLI v1 or v2: (rc, parsed JSON or text, stderr)."""
        cmd = [cli_executable(version), *args]
        if endpoint:
            cmd += ["--endpoint-url", self.url]
        cmd += ["--output", "json"]
        full_env = dict(os.environ)
        full_env.update(env or {})
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
        parsed = parse_output(out.stdout)
        self.note(parsed)
        return out.returncode, parsed, out.stderr

    def boto3_client(self, service="ecs", access_key="test", region=REGION, session_token=None, **kw):
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key="test",
                                        aws_session_token=session_token, region_name=region)
        config = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=10,
                        read_timeout=60)
        client = session.client(service, endpoint_url=kw.pop("endpoint_url", self.url), config=config, **kw)

        def after_call(parsed=None, **_):
            if parsed is not None:
                self.note(parsed)

        client.meta.events.register("after-call", after_call)
        return client


def note_into(value, out):
    if isinstance(value, dict):
        for v in value.values():
            note_into(v, out)
    elif isinstance(value, list):
        for v in value:
            note_into(v, out)
    elif isinstance(value, str):
        m = TASK_ARN_RE.match(value)
        if m:
            out.add(m.group(1))


@atexit.register
def _cleanup_everything():
    """Last resort: nothing the suite started may outlive it."""
    for b in list(_live):
        try:
            b.cleanup()
        except Exception:  # noqa: BLE001
            pass
    try:
        left = [cid for cid, _, _ in containers_of_tasks(_seen_task_ids)]
        for instance in _seen_instances:
            left += containers_of_instance(instance)
        force_remove(sorted(set(left)))
    except Exception:  # noqa: BLE001
        pass


# --------------------------------------------------------------------------------------------------------------
# Test base class


class BerthTestCase(unittest.TestCase):
    """One berth per class; reset before every test; shutdown checked after the last one."""

    berth_args = ()
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.berth = Berth(*cls.berth_args, name=cls.__name__).start()

    @classmethod
    def tearDownClass(cls):
        berth = cls.__dict__.get("berth") or getattr(cls, "berth", None)
        if berth is None:
            return
        problems = berth.stop_and_check()
        if problems:
            raise AssertionError("berth shutdown: " + "; ".join(problems) + "\n" + berth.log_tail())

    def setUp(self):
        self.assertTrue(self.berth.alive(), "berth is not running\n" + self.berth.log_tail())
        try:
            self.berth.collect_instances()
        except Exception:  # noqa: BLE001
            pass
        self.berth.reset()
        self._default_ecs = None

    def tearDown(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and not getattr(outcome, "success", True):
            for b in [self.berth, *getattr(self, "_extra_berths", [])]:
                sys.stderr.write(f"\n[{self.id()}] {b.name} log:\n{b.log_tail()}\n")

    # ---- conveniences

    @property
    def ecs(self):
        """A boto3 ECS client for the default account and region."""
        if self._default_ecs is None:
            self._default_ecs = self.berth.boto3_client()
        return self._default_ecs

    def cli(self, version, *args, **kw):
        return self.berth.cli(version, *args, **kw)

    def cli_ok(self, version, *args, **kw):
        rc, out, err = self.cli(version, *args, **kw)
        self.assertEqual(rc, 0, f"aws v{version} {' '.join(args)} failed: {err}")
        return out

    def raw(self, target, body=b"{}", headers=None):
        return self.berth.raw(target, body, headers)

    def start_extra_berth(self, *args, name=None):
        """A further berth for this test only, always stopped and cleaned up afterwards."""
        b = Berth(*args, name=name or self.id().rsplit(".", 1)[-1])
        b.start()
        self.addCleanup(b.cleanup)
        if not hasattr(self, "_extra_berths"):
            self._extra_berths = []
        self._extra_berths.append(b)
        return b

    def register(self, family, containers, client=None, **kw):
        client = client or self.ecs
        return client.register_task_definition(family=family, containerDefinitions=containers, **kw)[
            "taskDefinition"]

    def describe_task(self, cluster, task_arn, client=None):
        client = client or self.ecs
        out = client.describe_tasks(cluster=cluster, tasks=[task_arn])
        self.assertEqual(out.get("failures", []), [], f"describe-tasks failures for {task_arn}")
        self.assertEqual(len(out["tasks"]), 1)
        return out["tasks"][0]

    def wait_task(self, cluster, task_arn, status, timeout=60, client=None):
        """Polls DescribeTasks until lastStatus is `status`; a task that stops first fails the wait (unless
        STOPPED is what we wait for)."""
        seen = {}

        def check():
            t = self.describe_task(cluster, task_arn, client)
            seen["task"] = t
            if t["lastStatus"] == status:
                return t
            if t["lastStatus"] == "STOPPED" and status != "STOPPED":
                raise AssertionError(f"task stopped while waiting for {status}: stopCode={t.get('stopCode')} "
                                     f"reason={t.get('stoppedReason')!r} containers={t.get('containers')}")
            return None

        return wait_for(check, timeout=timeout, what=f"task {task_arn} to be {status}")


def busybox(name, command, **extra):
    """A container definition running the test image."""
    d = {"name": name, "image": TEST_IMAGE, "command": list(command), "memory": 64}
    d.update(extra)
    return d


def sh(script):
    return ["sh", "-c", script]


# A long-running command that exits 0 promptly on SIGTERM (PID 1 ignores signals it has no handler for). It prints
# READY once its trap is set: a test that signals it must first wait for that (wait_logged), or on a loaded
# engine the signal can land before the shell has installed its handler.
READY = "ready"
SLEEPER = sh(f"trap 'exit 0' TERM; echo {READY}; while :; do sleep 1; done")


def wait_logged(container_id, text=READY, timeout=60):
    """Waits until the container's output holds `text`."""
    def logged():
        out = docker("logs", container_id)
        return text in out.stdout or text in out.stderr
    wait_for(logged, timeout=timeout, what=f"{text!r} in the output of container {container_id}")
