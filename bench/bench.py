#!/usr/bin/env python3
"""berth's benchmarks, each printed beside a peer measured in the same run.

  startup      time from exec to the first answered ListClusters: berth vs moto_server
  api          ListClusters throughput and latency under wrk: berth vs moto_server
  memory       resident memory after the api run: berth vs moto_server
  runtask      RunTask -> RUNNING for one task and a burst of 10, beside `docker run -d` of the same image
  service      a service of 20: CreateService -> steady state, and a task killed from outside -> its
               replacement RUNNING, beside the engine's own create+start of 1 and of 20 containers

Figures only: nothing here asserts a time (machines are shared and noisy).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE = "berth-test/busybox:latest"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, op, body=None, timeout=2.0):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/", data=json.dumps(body or {}).encode(), method="POST",
        headers={"Content-Type": "application/x-amz-json-1.1",
                 "X-Amz-Target": f"AmazonEC2ContainerServiceV20141113.{op}",
                 "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ecs/aws4_request, "
                                  "SignedHeaders=host, Signature=0"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"{}")


class Server:
    def __init__(self, name, argv):
        self.name, self.argv, self.port, self.proc = name, argv, None, None

    def start(self):
        self.port = free_port()
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = t0 + 30
        while time.perf_counter() < deadline:
            try:
                call(self.port, "ListClusters", timeout=0.5)
                return time.perf_counter() - t0
            except Exception:
                time.sleep(0.002)
        raise RuntimeError(f"{self.name} did not answer within 30 s")

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        return float("nan")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def wrk(port, seconds, connections):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s",
                          os.path.join(HERE, "list_clusters.lua"), f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("BENCH "))
    return dict(kv.split("=") for kv in line.split()[1:])


def row(label, a, b, unit, lower_is_better=True):
    ratio = (b / a) if lower_is_better else (a / b)
    print(f"  {label:<34} {a:>10.2f} {unit:<5} {b:>10.2f} {unit:<5}  berth is {ratio:,.1f}x")


def bench_runtask(berth, burst):
    call(berth.port, "CreateCluster", {"clusterName": "bench"})
    call(berth.port, "RegisterTaskDefinition", {
        "family": "bench", "containerDefinitions": [
            {"name": "c", "image": IMAGE, "memory": 32, "command": ["sleep", "300"]}]})

    def run(count):
        t0 = time.perf_counter()
        out = call(berth.port, "RunTask", {"cluster": "bench", "taskDefinition": "bench", "count": count})
        arns = [t["taskArn"] for t in out["tasks"]]
        while True:
            d = call(berth.port, "DescribeTasks", {"cluster": "bench", "tasks": arns})
            if all(t["lastStatus"] == "RUNNING" for t in d["tasks"]):
                break
            if any(t["lastStatus"] == "STOPPED" for t in d["tasks"]):
                raise RuntimeError("bench task stopped: " + json.dumps(d["tasks"][0].get("stoppedReason")))
            time.sleep(0.005)
        dt = time.perf_counter() - t0
        for a in arns:
            call(berth.port, "StopTask", {"cluster": "bench", "task": a})
        return dt

    def docker_run(count):
        t0 = time.perf_counter()
        procs = [subprocess.Popen(["docker", "run", "-d", "--label", "berth-bench=1", IMAGE, "sleep", "300"],
                                  stdout=subprocess.DEVNULL) for _ in range(count)]
        for p in procs:
            p.wait()
        dt = time.perf_counter() - t0
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", "label=berth-bench=1"], capture_output=True,
                             text=True).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
        return dt

    one = statistics.median(run(1) for _ in range(3))
    one_docker = statistics.median(docker_run(1) for _ in range(3))
    many = run(burst)
    many_docker = docker_run(burst)
    return one, one_docker, many, many_docker


def bench_service(berth, count):
    """Times a service of `count` tasks to steady state and the replacement of a killed task, and the engine's
    own `docker create` + `docker start` of one container and of `count` at once, in the same run."""
    call(berth.port, "CreateCluster", {"clusterName": "bench-svc"})
    call(berth.port, "RegisterTaskDefinition", {
        "family": "bench-svc", "containerDefinitions": [
            {"name": "c", "image": IMAGE, "cpu": 128, "memory": 16, "command": ["sleep", "300"]}]})

    def describe():
        return call(berth.port, "DescribeServices", {"cluster": "bench-svc", "services": ["s"]})["services"][0]

    t0 = time.perf_counter()
    call(berth.port, "CreateService", {"cluster": "bench-svc", "serviceName": "s", "taskDefinition": "bench-svc",
                                       "desiredCount": count}, timeout=10)
    running_at = None
    while True:
        s = describe()
        if running_at is None and s["runningCount"] == count and len(s["deployments"]) == 1:
            running_at = time.perf_counter() - t0  # what the services-stable waiter waits for
        if s["deployments"][0]["rolloutState"] == "COMPLETED":
            break
        if time.perf_counter() - t0 > 300:
            raise RuntimeError("the service did not reach a steady state within 300 s")
        time.sleep(0.005)
    steady = time.perf_counter() - t0

    arns = call(berth.port, "ListTasks", {"cluster": "bench-svc", "serviceName": "s"})["taskArns"]
    victim = call(berth.port, "DescribeTasks", {"cluster": "bench-svc", "tasks": arns[:1]})["tasks"][0]
    t0 = time.perf_counter()
    subprocess.run(["docker", "kill", victim["containers"][0]["runtimeId"]], capture_output=True, check=True)
    killed = time.perf_counter() - t0
    while True:
        now = call(berth.port, "ListTasks", {"cluster": "bench-svc", "serviceName": "s"})["taskArns"]
        fresh = [a for a in now if a not in arns]
        if fresh:
            t = call(berth.port, "DescribeTasks", {"cluster": "bench-svc", "tasks": fresh})["tasks"]
            if any(x["lastStatus"] == "RUNNING" for x in t):
                break
        if time.perf_counter() - t0 > 120:
            raise RuntimeError("no replacement within 120 s")
        time.sleep(0.005)
    replaced = time.perf_counter() - t0
    call(berth.port, "DeleteService", {"cluster": "bench-svc", "service": "s", "force": True})

    def docker_create_start(n):
        t0 = time.perf_counter()
        # The limits berth gives the service's containers (cpu 128, memory 16 MiB), so both start alike.
        created = [subprocess.Popen(["docker", "create", "--label", "berth-bench=1", "--cpu-shares", "128",
                                     "--memory", "16m", IMAGE, "sleep", "300"],
                                    stdout=subprocess.PIPE, text=True) for _ in range(n)]
        ids = [p.communicate()[0].strip() for p in created]
        for p in [subprocess.Popen(["docker", "start", i], stdout=subprocess.DEVNULL) for i in ids]:
            p.wait()
        dt = time.perf_counter() - t0
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
        return dt

    one_docker = statistics.median(docker_create_start(1) for _ in range(3))
    many_docker = docker_create_start(count)
    return running_at, steady, killed, replaced, one_docker, many_docker


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--berth", default=os.path.join(HERE, "..", "build", "release", "bin", "berth"))
    ap.add_argument("--seconds", type=int, default=5, help="wrk duration per server")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--starts", type=int, default=5, help="cold starts per server")
    ap.add_argument("--skip-runtask", action="store_true")
    ap.add_argument("--skip-service", action="store_true")
    ap.add_argument("--service-size", type=int, default=20, help="tasks in the service benchmark")
    args = ap.parse_args()

    for tool in ("wrk", "moto_server"):
        if not shutil.which(tool):
            sys.exit(f"bench needs {tool} on PATH")
    berth = Server("berth", [args.berth, "serve", "--port", "{port}", "--log-level", "warn"])
    moto = Server("moto_server", ["moto_server", "-p", "{port}"])

    print(f"{'':36} {'berth':>16} {'moto_server':>16}")
    starts = {}
    for s in (berth, moto):
        times = []
        for _ in range(args.starts):
            times.append(s.start())
            s.stop()
        starts[s.name] = statistics.median(times) * 1000
    row("startup to first answer (median)", starts["berth"], starts["moto_server"], "ms")

    results = {}
    rss = {}
    for s in (berth, moto):
        s.start()
        try:
            for i in range(20):
                call(s.port, "CreateCluster", {"clusterName": f"c{i}"})
            results[s.name] = {k: float(v) for k, v in wrk(s.port, args.seconds, args.connections).items()}
            rss[s.name] = s.rss_mib()
        finally:
            s.stop()
    b, m = results["berth"], results["moto_server"]
    row("ListClusters throughput", b["rps"], m["rps"], "req/s", lower_is_better=False)
    row("ListClusters latency p50", b["p50_ms"], m["p50_ms"], "ms")
    row("ListClusters latency p99", b["p99_ms"], m["p99_ms"], "ms")
    row("resident memory after load", rss["berth"], rss["moto_server"], "MiB")
    if b["errors"] or m["errors"]:
        print(f"  (errors during wrk: berth {b['errors']:.0f}, moto_server {m['errors']:.0f})")

    if not args.skip_runtask:
        berth.start()
        try:
            one, one_docker, many, many_docker = bench_runtask(berth, 10)
        finally:
            berth.stop()
        print(f"\n{'':36} {'berth':>16} {'docker run -d':>16}")
        print(f"  {'RunTask -> RUNNING, 1 task':<34} {one*1000:>10.1f} ms    {one_docker*1000:>10.1f} ms    "
              f"ratio {one/one_docker:.2f}")
        print(f"  {'RunTask -> RUNNING, burst of 10':<34} {many*1000:>10.1f} ms    {many_docker*1000:>10.1f} ms    "
              f"ratio {many/many_docker:.2f}")
        print("  (moto_server runs no containers, so the peer here is the engine itself)")

    if not args.skip_service:
        # ECS counts a task without a health check as healthy 40 s after it starts; 0 here measures berth itself.
        svc_berth = Server("berth", [args.berth, "serve", "--port", "{port}", "--log-level", "warn",
                                     "--service-healthy-after", "0"])
        svc_berth.start()
        try:
            n = args.service_size
            running, steady, killed, replaced, one_docker, many_docker = bench_service(svc_berth, n)
        finally:
            svc_berth.stop()
        print(f"\n{'':36} {'berth':>16} {'docker create+start':>20}")
        print(f"  {f'service of {n}: all RUNNING':<34} {running*1000:>10.1f} ms    {many_docker*1000:>10.1f} ms "
              f"({n} at once)")
        print(f"  {f'service of {n}: steady state':<34} {steady*1000:>10.1f} ms")
        print(f"  {'killed task -> replacement RUNNING':<34} {replaced*1000:>10.1f} ms    {one_docker*1000:>10.1f} ms "
              f"(1 container)")
        print(f"  (the replacement time includes `docker kill` itself: {killed*1000:.1f} ms; steady state counts tasks "
              "healthy at once with --service-healthy-after 0, where ECS waits 40 s)")


if __name__ == "__main__":
    main()
