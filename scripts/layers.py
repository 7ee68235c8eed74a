#!/usr/bin/env python3
"""Check that Switchboard's parts import only downward.

Two checks, both printed, either one failing the script:

1. Crates. The workspace's crate graph (from `cargo metadata`) against the
   intended order in LAYERS below: every normal dependency of a crate must
   be a crate of an earlier layer (dev-dependencies are exempt: a test may
   drive the parts above it). A crate missing from LAYERS fails too, so a
   new crate is placed on purpose.
2. Modules. Inside each crate, the top-level modules of `src/` and which
   others each one names (`crate::x`, `use crate::{x, y::z}`, `super::x`
   from a top-level file). Any circle between modules fails, except in the
   crates listed in UNTANGLING, whose circle is reported with its size.
   Inline `#[cfg(test)]` modules are left out, as dev-dependencies are.

    scripts/layers.py            # both checks; exit 1 on a violation
    scripts/layers.py --graph    # also print each crate's dependencies

It cannot see a method defined in another file's `impl` block (no `use`
names it), so keep behaviour next to its type.
"""

import json
import os
import re
import subprocess
import sys

# The intended order, bottom first. A crate may depend only on crates of
# earlier layers.
LAYERS = [
    # Secrets in the configuration: below everything that takes a
    # credential.
    ["switchboard-secret"],
    # The process allocator (the binary's; no Switchboard dependencies).
    ["switchboard-alloc"],
    # Foundations: the wire format, limits, credentials, spans, store traits.
    ["switchboard-proto", "switchboard-limits", "switchboard-auth", "switchboard-policy",
     "switchboard-telemetry", "switchboard-store", "switchboard-bench"],
    # The tool runtime, the store backends, upstream identity (tokens from
    # an identity provider).
    ["switchboard-runtime", "switchboard-store-file", "switchboard-store-redis",
     "switchboard-identity"],
    # Providers of tools (built-in, upstream gateway) and observation.
    ["switchboard-everything", "switchboard-upstream", "switchboard-observe",
     "switchboard-oauth"],
    # Configuration (names upstream and tenant settings).
    ["switchboard-config"],
    # HTTP vocabulary: the one error map, guards, era, SSE, connections.
    ["switchboard-http"],
    # The stateless exchange; tenancy (who a client is, what it may do,
    # the gate every request passes).
    ["switchboard-stateless", "switchboard-tenancy"],
    # The session era's state and behaviour; durable tasks.
    ["switchboard-session", "switchboard-tasks"],
    # What arrives from the other nodes: the bus inbox, server events'
    # relay and fan-out, owner forwarding; operations: health, readiness
    # and metrics, capacity gauges, the reaper's loop, upstream start.
    ["switchboard-cluster", "switchboard-ops"],
    # The fronts: the /mcp endpoint (session era and stateless), the
    # 2024-11-05 transport, the metadata document, the stdio front.
    ["switchboard-fronts"],
    # The server: the composition root (builds the services, merges the
    # fronts' and ops' routes) and the accept loop.
    ["switchboard-server"],
    # The library face and binary; the test kit.
    ["switchboard", "switchboard-testkit"],
]

# Crates whose module circle is being taken apart (issue 17); reported, not
# failed. Remove a crate from here once its circle is gone.
UNTANGLING = set()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def metadata():
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["packages"]


def check_crates(packages, show):
    names = {p["name"] for p in packages}
    layer = {c: i for i, group in enumerate(LAYERS) for c in group}
    bad = []
    for p in sorted(packages, key=lambda p: (layer.get(p["name"], 99), p["name"])):
        name = p["name"]
        deps = sorted({d["name"] for d in p["dependencies"]
                       if d["name"] in names and d.get("kind") is None})
        if name not in layer:
            bad.append(f"{name} is in no layer of scripts/layers.py")
            continue
        for d in deps:
            if d not in layer:
                continue  # reported as its own crate
            if layer[d] >= layer[name]:
                bad.append(f"{name} (layer {layer[name]}) depends on {d} (layer {layer[d]})")
        if show:
            print(f"  [{layer[name]}] {name} -> {', '.join(d.removeprefix('switchboard-') for d in deps) or '-'}")
    return bad


MOD_REF = re.compile(r"\bcrate::(\{[^;]*?\}|[a-z_][a-z0-9_]*)", re.S)
SUPER_REF = re.compile(r"\bsuper::(\{[^;]*?\}|[a-z_][a-z0-9_]*)", re.S)
COMMENT = re.compile(r"//[^\n]*")
TEST_MOD = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+\w+\s*\{")


def without_tests(text):
    """The text less its inline `#[cfg(test)] mod … { … }` blocks: a test
    may use the parts beside it, as a dev-dependency may."""
    while (m := TEST_MOD.search(text)):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        text = text[:m.start()] + text[i:]
    return text


def heads(group):
    """The first path segment of each item of `x` or `{x::y, z, w as v}`."""
    if not group.startswith("{"):
        return {group}
    inner, depth, part, parts = group[1:-1], 0, "", []
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(part)
            part = ""
        else:
            part += ch
    parts.append(part)
    return {re.split(r"::|\s", p.strip())[0] for p in parts if p.strip()}


def modules_of(src):
    """Top-level module name -> the files that make it up."""
    mods = {}
    for entry in os.listdir(src):
        path = os.path.join(src, entry)
        if entry in ("lib.rs", "main.rs", "bin"):
            continue
        if entry.endswith(".rs"):
            mods.setdefault(entry[:-3], []).append(path)
        elif os.path.isdir(path):
            for d, _, files in os.walk(path):
                mods.setdefault(entry, []).extend(
                    os.path.join(d, f) for f in files if f.endswith(".rs"))
    return mods


def module_graph(src):
    mods = modules_of(src)
    graph = {m: set() for m in mods}
    for m, files in mods.items():
        for f in files:
            text = without_tests(COMMENT.sub("", open(f, encoding="utf-8").read()))
            refs = set()
            for g in MOD_REF.findall(text):
                refs |= heads(g)
            if os.path.dirname(f) == src:  # a top-level file: super is the root
                for g in SUPER_REF.findall(text):
                    refs |= heads(g)
            graph[m] |= {r for r in refs if r in mods and r != m}
    return graph


def circles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check_modules(packages):
    bad = []
    for p in sorted(packages, key=lambda p: p["name"]):
        src = os.path.join(os.path.dirname(p["manifest_path"]), "src")
        if not os.path.isdir(src):
            continue
        for comp in circles(module_graph(src)):
            line = f"{p['name']}: a circle of {len(comp)} modules: {', '.join(comp)}"
            if p["name"] in UNTANGLING:
                print(f"  (being untangled) {line}")
            else:
                bad.append(line)
    return bad


def main():
    show = "--graph" in sys.argv[1:]
    packages = metadata()
    print(f"checking crates ({len(packages)} in {len(LAYERS)} layers): each depends only on earlier layers")
    bad = check_crates(packages, show)
    print("checking modules: no circle inside any crate")
    bad += check_modules(packages)
    for line in bad:
        print(f"  VIOLATION {line}")
    print("layers: FAILED" if bad else "layers: ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
