#!/usr/bin/env python3
"""Bakes the payload shapes of the webhooks the mock GitHub sends out of @octokit/webhooks-schemas.

Writes orchestrator-github/src/mock/webhooks_shapes.json: for each event/action the mock sends, the
objects it holds (which fields exist, which are required, what a neutral value of each is), so the
mock keeps only the fields GitHub's payloads have and fills the required ones it does not model.
The values themselves come from the mock's state; the conformance test
(orchestrator-github/tests/mock_webhooks.rs) validates what is delivered against the full schema.

Run after .ci/tools/npm-webhooks.sh, from the repository root:
    python3 .ci/tools/npm-webhooks/gen-shapes.py
"""
import json
import os
import sys

EVENTS = [
    "release$created", "release$published", "release$edited",
    "workflow_run$requested", "workflow_run$in_progress", "workflow_run$completed",
    "push$event",
    "pull_request$opened", "pull_request$edited", "pull_request$closed",
    "pull_request$reopened", "pull_request$synchronize",
    "pull_request_review$submitted",
    "issue_comment$created", "issue_comment$edited",
]

tools = os.environ.get("ORCHESTRATOR_TOOLS_DIR", os.path.expanduser("~/.cache/orchestrator-ci"))
schema_file = os.path.join(tools, "npm-webhooks/node_modules/@octokit/webhooks-schemas/schema.json")
schema = json.load(open(schema_file))
defs = schema["definitions"]
out_defs = {}


def leaf_default(x):
    if "const" in x:
        return x["const"]
    if "enum" in x:
        return x["enum"][0]
    types = x.get("type", "object")
    types = types if isinstance(types, list) else [types]
    if "null" in types:
        return None
    t = types[0]
    fmt = x.get("format", "")
    if t == "string":
        return {"date-time": "2020-01-01T00:00:00Z", "uri": "https://github.com",
                "uri-template": "https://github.com", "email": "noreply@github.com"}.get(fmt, "")
    if t in ("integer", "number"):
        return 0
    if t == "boolean":
        return False
    if t == "array":
        return []
    return {}


def node(x):
    """The shape node of schema `x` (see the module docs of webhooks.rs)."""
    if "$ref" in x:
        name = x["$ref"].split("/")[-1]
        if name not in out_defs:
            out_defs[name] = None  # in progress (recursive definitions)
            out_defs[name] = node(defs[name])
        return {"r": name}
    for key in ("oneOf", "anyOf"):
        if key in x:
            branches = x[key]
            nullable = any(b.get("type") == "null" for b in branches)
            # The first non-null branch shapes a value; its neutral value is null when allowed.
            shaped = next((node(b) for b in branches if b.get("type") != "null"), {"v": None})
            if nullable:
                shaped = dict(shaped, n=True)
            return shaped
    if "allOf" in x:
        props, required, extra = {}, [], True
        for member in x["allOf"]:
            n = node(member)
            while "r" in n:
                n = out_defs[n["r"]] or {"o": {}, "q": []}
            if "o" in n:
                for k, v in n["o"].items():
                    props.setdefault(k, v)
                required += [k for k in n["q"] if k not in required]
                extra = extra and n.get("x", False)
        shaped = {"o": props, "q": required}
        if extra:
            shaped["x"] = True
        return shaped
    types = x.get("type")
    types = types if isinstance(types, list) else [types]
    if "object" in types and "properties" in x:
        shaped = {"o": {k: node(v) for k, v in x["properties"].items()},
                  "q": x.get("required", [])}
        if x.get("additionalProperties") is not False:
            shaped["x"] = True
        if "null" in types:
            shaped["n"] = True
        return shaped
    if "array" in types and isinstance(x.get("items"), dict):
        shaped = {"a": node(x["items"])}
        if "null" in types:
            shaped["n"] = True
        return shaped
    return {"v": leaf_default(x)}


events = {ev: node(defs[ev]) for ev in EVENTS}
out = {
    "source": "@octokit/webhooks-schemas " + json.load(open(os.path.join(os.path.dirname(schema_file), "package.json")))["version"],
    "events": events,
    "defs": out_defs,
}
target = "orchestrator-github/src/mock/webhooks_shapes.json"
with open(target, "w") as f:
    json.dump(out, f, separators=(",", ":"), sort_keys=True)
    f.write("\n")
print(f"wrote {target} ({os.path.getsize(target)} bytes)", file=sys.stderr)
