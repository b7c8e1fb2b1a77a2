#!/usr/bin/env python3
"""Render Kiln's Helm chart the way `helm template` does, for the subset of the template
language the chart uses: `{{ .Values.a.b }}`, `{{ .Release.Name }}`,
`{{ .Release.Namespace }}`, `{{ .Chart.Name }}`, `{{ .Chart.Version }}`,
`{{ .Chart.AppVersion }}`. Any other template action is an error, so the chart cannot drift
into constructs this renderer would get wrong. Used by the tests on machines without Helm;
where Helm exists, `helm template` gives the same documents.

usage: render-chart.py CHART_DIR [--release NAME] [--namespace NS] [--set key.path=value ...]
"""
import argparse
import os
import re
import sys

import yaml

ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")


def lookup(root, dotted, where):
    node = root
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise SystemExit(f"{where}: no value for .{dotted}")
        node = node[part]
    if isinstance(node, (dict, list)):
        raise SystemExit(f"{where}: .{dotted} is not a scalar")
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("chart")
    ap.add_argument("--release", default="kiln-admit")
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--set", action="append", default=[])
    args = ap.parse_args()

    with open(os.path.join(args.chart, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)
    with open(os.path.join(args.chart, "values.yaml")) as f:
        values = yaml.safe_load(f) or {}
    for item in args.set:
        key, _, value = item.partition("=")
        node = values
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    scope = {
        "Values": values,
        "Release": {"Name": args.release, "Namespace": args.namespace},
        "Chart": {
            "Name": chart["name"],
            "Version": chart["version"],
            "AppVersion": chart.get("appVersion", ""),
        },
    }
    tdir = os.path.join(args.chart, "templates")
    out = []
    for name in sorted(os.listdir(tdir)):
        if not name.endswith(".yaml"):
            continue
        where = f"{chart['name']}/templates/{name}"
        with open(os.path.join(tdir, name)) as f:
            text = f.read()

        def sub(m, where=where):
            expr = m.group(1)
            if not re.fullmatch(r"\.(Values|Release|Chart)(\.[A-Za-z0-9_]+)+", expr):
                raise SystemExit(f"{where}: unsupported template action {{{{ {expr} }}}}")
            return lookup(scope, expr[1:], where)

        rendered = ACTION.sub(sub, text)
        # Each template may hold several documents; keep helm's "# Source:" header.
        for doc in re.split(r"^---\s*$", rendered, flags=re.M):
            if doc.strip() and any(
                line.strip() and not line.lstrip().startswith("#") for line in doc.splitlines()
            ):
                out.append(f"# Source: {where}\n" + doc.strip("\n") + "\n")
    sys.stdout.write("---\n" + "---\n".join(out))


if __name__ == "__main__":
    main()
