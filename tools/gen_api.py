#!/usr/bin/env python3
"""Writes the compact AWS API tables in api/ from the botocore models installed on this machine.

berth validates requests against these tables and compiles them in (src/protocol/embed_api.cmake), so a build
needs neither Python nor botocore; only a model refresh does. Run it after upgrading botocore and commit api/.

    tools/gen_api.py            rewrite api/<service>.json
    tools/gen_api.py --check    exit 1 if api/ is not what this botocore would produce (for CI)

Table format (ASCII JSON, one operation or shape per line so a model change reads well in a diff):

    {"format":1,"id":"ecs",
    "metadata":{"apiVersion":"2014-11-13",...,"targetPrefix":"AmazonEC2ContainerServiceV20141113"},
    "operations":{
    "RunTask":{"errors":["ClientException",...],"input":"RunTaskRequest","output":"RunTaskResponse"},
    ...},
    "shapes":{
    "RunTaskRequest":{"members":[["capacityProviderStrategy","CapacityProviderStrategy"],...],
                      "required":["taskDefinition"],"type":"structure"},
    ...}}

Keys are sorted; member, required, enum and error lists keep model order (Coral reports enums in that order).
"""

import argparse
import gzip
import json
import os
import sys

# Only services whose model lists AWS JSON (1.0/1.1) among its protocols belong here. CloudWatch lists JSON 1.0
# beside smithy-rpc-v2-cbor (what botocore 1.43 picks) and query (what AWS CLI v2 2.9 speaks); the table keeps the
# JSON view, and the other wire protocols map onto the same operations and shapes.
SERVICES = ("ecs", "ecr", "application-autoscaling", "cloudwatch")

FORMAT_VERSION = 1

METADATA_KEYS = ("apiVersion", "endpointPrefix", "jsonVersion", "protocol", "serviceId", "signingName",
                 "targetPrefix")

# The shape types berth's model understands (model.hpp ShapeType), plus "document" (any JSON value).
KNOWN_TYPES = {"structure", "list", "map", "string", "integer", "long", "boolean", "double", "float",
               "timestamp", "blob"}

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def botocore_data_dir():
    try:
        import botocore  # pylint: disable=import-outside-toplevel
    except ImportError:
        sys.exit("gen_api.py: botocore is not installed (pip install botocore)")
    return os.path.join(os.path.dirname(botocore.__file__), "data")


def load_botocore_model(data_dir, service):
    service_dir = os.path.join(data_dir, service)
    if not os.path.isdir(service_dir):
        sys.exit(f"gen_api.py: botocore has no model for '{service}' in {data_dir}")
    # API versions are ISO dates, so the lexically greatest directory is the newest.
    versions = sorted(v for v in os.listdir(service_dir) if os.path.isdir(os.path.join(service_dir, v)))
    if not versions:
        sys.exit(f"gen_api.py: no API version directory under {service_dir}")
    base = os.path.join(service_dir, versions[-1], "service-2.json")
    if os.path.exists(base + ".gz"):
        with gzip.open(base + ".gz", "rt", encoding="utf-8") as f:
            return json.load(f)
    with open(base, encoding="utf-8") as f:
        return json.load(f)


def reduce_shape(service, name, shape):
    kind = shape.get("type")
    if shape.get("document"):
        # Smithy document: any JSON value. Kept as its own type so the loader can leave it unchecked.
        return {"type": "document"}
    if kind not in KNOWN_TYPES:
        sys.exit(f"gen_api.py: {service} shape {name} has type '{kind}', which berth does not model yet")
    out = {"type": kind}
    if kind == "structure":
        out["members"] = [[member, ref["shape"]] for member, ref in shape.get("members", {}).items()]
        if shape.get("required"):
            out["required"] = list(shape["required"])
        if shape.get("union"):
            out["union"] = True
    elif kind == "list":
        out["member"] = shape["member"]["shape"]
    elif kind == "map":
        out["key"] = shape["key"]["shape"]
        out["value"] = shape["value"]["shape"]
    if "enum" in shape:
        out["enum"] = list(shape["enum"])
    for bound in ("min", "max"):
        if bound in shape:
            out[bound] = shape[bound]
    if shape.get("exception"):
        out["exception"] = True
        # JSON services mostly model no status: client faults are 400, server faults ("fault") 500.
        status = shape.get("error", {}).get("httpStatusCode")
        if status is None:
            status = 500 if shape.get("fault") else 400
        out["httpStatusCode"] = status
    return out


def reduce_operation(op):
    out = {"errors": [e["shape"] for e in op.get("errors", [])]}
    if "input" in op:
        out["input"] = op["input"]["shape"]
    if "output" in op:
        out["output"] = op["output"]["shape"]
    return out


def compact_dump(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def render_table(service, model):
    metadata = model["metadata"]
    protocols = metadata.get("protocols", [metadata.get("protocol")])
    if metadata.get("protocol") != "json" and "json" not in protocols:
        sys.exit(f"gen_api.py: {service} speaks {metadata.get('protocol')}, not AWS JSON; berth cannot route it")
    kept = {k: metadata[k] for k in METADATA_KEYS if k in metadata}
    kept["protocol"] = "json"
    lines = ["{" + f'"format":{FORMAT_VERSION},"id":{compact_dump(service)},']
    lines.append(f'"metadata":{compact_dump(kept)},')
    lines.append('"operations":{')
    ops = sorted(model["operations"].items())
    for i, (name, op) in enumerate(ops):
        sep = "," if i + 1 < len(ops) else ""
        lines.append(f"{compact_dump(name)}:{compact_dump(reduce_operation(op))}{sep}")
    lines.append("},")
    lines.append('"shapes":{')
    shapes = sorted(model["shapes"].items())
    for i, (name, shape) in enumerate(shapes):
        sep = "," if i + 1 < len(shapes) else ""
        lines.append(f"{compact_dump(name)}:{compact_dump(reduce_shape(service, name, shape))}{sep}")
    lines.append("}}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # the hand-assembled outer object must still be JSON
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="compare with api/ instead of writing it")
    parser.add_argument("--api-dir", default=os.path.join(REPO_ROOT, "api"), help="where the tables live")
    args = parser.parse_args()

    data_dir = botocore_data_dir()
    stale = []
    for service in SERVICES:
        text = render_table(service, load_botocore_model(data_dir, service))
        path = os.path.join(args.api_dir, f"{service}.json")
        if args.check:
            try:
                with open(path, encoding="ascii", newline="") as f:
                    current = f.read()
            except (OSError, UnicodeDecodeError):
                current = None
            if current != text:
                stale.append(path)
            continue
        os.makedirs(args.api_dir, exist_ok=True)
        with open(path, "w", encoding="ascii", newline="\n") as f:
            f.write(text)
        print(f"wrote {path}")

    if stale:
        for path in stale:
            print(f"stale: {path} (run tools/gen_api.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
