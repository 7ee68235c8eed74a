#!/usr/bin/python3
"""Check rendered Kubernetes manifests (`kubectl kustomize` output) against a
Switchboard binary: what the pods would run is what the binary accepts and
serves.

    /usr/bin/python3 packaging/tests/k8s_check.py --binary B --name NAME \
        [--redis-url URL] RENDERED.yaml

For every Deployment or StatefulSet, for its container running the image:
  - the pod's files are laid out in a scratch directory: each volumeMount
    becomes a directory (a ConfigMap's keys as files, a Secret's keys as
    test values, a PVC or emptyDir empty), and the mount paths in the
    arguments and environment are pointed there;
  - the environment is what the kubelet would give: literal values with
    their $(VAR) references expanded, fieldRefs given test values
    (status.podIP 127.0.0.1), secretKeyRefs given test values by key
    (redis-url is --redis-url; sealing-key random hex; admin-token-sha256
    the digest of a test token);
  - `switchboard check-config` accepts the config file with that
    environment, and its effective configuration is read back;
  - static checks against it: the MCP listener's port is the container's
    port and the probes' and the Prometheus annotation's; no Service targets
    the admin listener, which is on loopback; terminationGracePeriodSeconds
    covers the preStop pause plus shutdown_grace_secs; several replicas
    need store = "redis" and a PodDisruptionBudget; store = "file" is on a
    PersistentVolumeClaim with one replica and the Recreate strategy;
  - live: `switchboard serve` with exactly those arguments and environment
    (the listeners moved to free loopback ports), every probe path answers
    200, /metrics has switchboard_ series, /mcp on the container port asks
    for a bearer token as configured, the admin listener answers its token,
    and SIGTERM stops it with status 0.

With no --redis-url, a workload on store = "redis" is checked statically
only (SKIP line). Prints "PASS|FAIL|SKIP k8s/NAME <check>: ..." lines; exits
1 if any failed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request

import yaml

ADMIN_TOKEN = "sb-packaging-admin-" + secrets.token_hex(16)
FIELD_VALUES = {
    "status.podIP": "127.0.0.1",
    "status.hostIP": "127.0.0.1",
    "metadata.namespace": "default",
    "spec.nodeName": "node-test",
    "spec.serviceAccountName": "default",
}
# The image's ENTRYPOINT (packaging/container/Dockerfile).
ENTRYPOINT = "/usr/bin/switchboard"


class Checks:
    def __init__(self, name: str) -> None:
        self.name = name
        self.failed = 0

    def ok(self, check: str, cond: bool, detail: str = "", quiet: bool = False) -> bool:
        """A check's PASS or FAIL line; a quiet one (laying out the pod) prints only when it fails."""
        word = "PASS" if cond else "FAIL"
        self.failed += 0 if cond else 1
        if not (cond and quiet):
            print(f"{word} k8s/{self.name} {check}" + (f": {detail}" if detail else ""), flush=True)
        return cond

    def skip(self, check: str, why: str) -> None:
        print(f"SKIP k8s/{self.name} {check}: {why}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_of(addr: str) -> int:
    return int(addr.rsplit(":", 1)[1])


def host_of(addr: str) -> str:
    return addr.rsplit(":", 1)[0].strip("[]")


def http(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        return 0, str(e)


def secret_value(key: str, redis_url: str | None) -> str | None:
    if key == "redis-url":
        return redis_url or "redis://127.0.0.1:6379"
    if key == "sealing-key":
        return secrets.token_hex(32)
    if key == "admin-token-sha256":
        return hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()
    return None


def expand(value: str, env: dict[str, str]) -> str:
    # Kubernetes' $(VAR) references to variables defined before; $$ escapes.
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), value)


class Pod:
    """One workload's container, laid out in a scratch directory."""

    def __init__(self, docs: list[dict], workload: dict, scratch: str, redis_url: str | None, checks: Checks) -> None:
        self.docs = docs
        self.workload = workload
        self.checks = checks
        self.spec = workload["spec"]["template"]["spec"]
        self.labels = workload["spec"]["template"]["metadata"].get("labels", {})
        self.annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
        self.container = self.spec["containers"][0]
        self.mounts: dict[str, str] = {}  # mountPath -> scratch directory
        self.volume_kind: dict[str, str] = {}  # mountPath -> configMap | secret | persistentVolumeClaim | emptyDir | ...
        volumes = {v["name"]: v for v in self.spec.get("volumes", [])}
        for i, m in enumerate(self.container.get("volumeMounts", [])):
            d = os.path.join(scratch, f"mount{i}")
            os.makedirs(d)
            vol = volumes.get(m["name"])
            if not checks.ok(f"volume {m['name']} is defined", vol is not None, m["mountPath"], quiet=True):
                continue
            kind = next(k for k in vol if k != "name")
            self.volume_kind[m["mountPath"]] = kind
            if kind == "configMap":
                cm = self.find("ConfigMap", vol["configMap"]["name"])
                if checks.ok(f"ConfigMap {vol['configMap']['name']} is rendered", cm is not None, quiet=True):
                    for key, text in (cm.get("data") or {}).items():
                        with open(os.path.join(d, key), "w") as f:
                            f.write(text)
            elif kind == "secret":
                for item in vol["secret"].get("items", []):
                    value = secret_value(item["key"], redis_url)
                    if checks.ok(f"test value for secret key {item['key']}", value is not None, quiet=True):
                        with open(os.path.join(d, item.get("path", item["key"])), "w") as f:
                            f.write(value or "")
            self.mounts[m["mountPath"]] = d
        self.env: dict[str, str] = {}
        for e in self.container.get("env", []):
            if "value" in e:
                self.env[e["name"]] = self.local(expand(e["value"], self.env))
            elif "fieldRef" in e.get("valueFrom", {}):
                path = e["valueFrom"]["fieldRef"]["fieldPath"]
                value = FIELD_VALUES.get(path, f"{workload['metadata']['name']}-test-0" if path == "metadata.name" else None)
                if checks.ok(f"test value for fieldRef {path}", value is not None, e["name"], quiet=True):
                    self.env[e["name"]] = value or ""
            elif "secretKeyRef" in e.get("valueFrom", {}):
                key = e["valueFrom"]["secretKeyRef"]["key"]
                value = secret_value(key, redis_url)
                if checks.ok(f"test value for secret key {key}", value is not None, e["name"], quiet=True):
                    self.env[e["name"]] = value or ""
            else:
                checks.ok(f"env {e['name']} has a source this check knows", False, str(e))
        command = self.container.get("command") or [ENTRYPOINT]
        self.args = [self.local(a) for a in command[1:] + self.container.get("args", [])]
        self.ports = {p.get("name", str(p["containerPort"])): p["containerPort"] for p in self.container.get("ports", [])}

    def find(self, kind: str, name: str) -> dict | None:
        return next((d for d in self.docs if d["kind"] == kind and d["metadata"]["name"] == name), None)

    def local(self, value: str) -> str:
        """A path inside the pod, as it is in the scratch directory."""
        for mount in sorted(self.mounts, key=len, reverse=True):
            if value == mount or value.startswith(mount.rstrip("/") + "/"):
                return self.mounts[mount] + value[len(mount.rstrip("/")):]
        return value

    def probe_port(self, port: int | str) -> int | None:
        return self.ports.get(port) if isinstance(port, str) else port

    def config_path(self) -> str | None:
        if "--config" in self.args:
            i = self.args.index("--config")
            return self.args[i + 1] if i + 1 < len(self.args) else None
        return None


def run_env(pod: Pod, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    env.update(pod.env)
    env.update(extra or {})
    return env


def check_workload(docs: list[dict], workload: dict, binary: str, redis_url: str | None, checks: Checks) -> None:
    name = f"{workload['kind']} {workload['metadata']['name']}"
    scratch = tempfile.mkdtemp(prefix="sb-k8s-")
    try:
        pod = Pod(docs, workload, scratch, redis_url, checks)
        c = pod.container
        checks.ok(f"{name}: runs serve with a config file", pod.args[:1] == ["serve"] and pod.config_path() is not None,
                  " ".join(pod.args))

        # check-config: the file as the pod has it, with the pod's environment.
        config = pod.config_path()
        r = subprocess.run([binary, "check-config", config or "/nonexistent"], env=run_env(pod),
                           capture_output=True, text=True, timeout=30)
        if not checks.ok(f"{name}: switchboard check-config accepts the ConfigMap's file and the env "
                         f"({', '.join(sorted(pod.env))})", r.returncode == 0,
                         r.stderr.strip()[-400:] or r.stdout.strip()[-400:]):
            return
        eff = tomllib.loads(r.stdout)
        listen = eff["listen"]
        admin = eff.get("admin", {}).get("listen", "127.0.0.1:8081")
        store = eff.get("store", "memory")
        grace = int(eff["shutdown_grace_secs"])

        # Ports: the container's port is the MCP listener; nothing else is declared.
        mcp_port = port_of(listen)
        checks.ok(f"{name}: containerPort {sorted(pod.ports.values())} is the MCP listener's port ({listen})",
                  list(pod.ports.values()) == [mcp_port])
        checks.ok(f"{name}: the MCP listener is on every address of the pod", host_of(listen) in ("0.0.0.0", "::"),
                  listen)
        checks.ok(f"{name}: the admin listener ({admin}) is on the pod's loopback",
                  host_of(admin) in ("127.0.0.1", "::1", "localhost"))
        for svc in (d for d in docs if d["kind"] == "Service"):
            sel = svc["spec"].get("selector", {})
            if not sel or any(pod.labels.get(k) != v for k, v in sel.items()):
                continue
            for p in svc["spec"]["ports"]:
                target = p.get("targetPort", p["port"])
                tport = pod.probe_port(target)
                checks.ok(f"{name}: Service {svc['metadata']['name']} port {p['port']} targets the MCP listener, "
                          f"not the admin one", tport == mcp_port and tport != port_of(admin), f"targetPort {target}")

        # Probes.
        probes = {k: c[k] for k in ("startupProbe", "readinessProbe", "livenessProbe") if k in c}
        checks.ok(f"{name}: readiness on /readyz, liveness on /healthz",
                  probes.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz"
                  and probes.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz")
        for kind, probe in probes.items():
            get = probe.get("httpGet", {})
            checks.ok(f"{name}: {kind} {get.get('path')} on port {get.get('port')} is the MCP listener",
                      pod.probe_port(get.get("port")) == mcp_port)
        ann = pod.annotations
        if ann.get("prometheus.io/scrape") == "true":
            checks.ok(f"{name}: Prometheus scrapes {ann.get('prometheus.io/path')} on port "
                      f"{ann.get('prometheus.io/port')}, the MCP listener",
                      ann.get("prometheus.io/port") == str(mcp_port) and ann.get("prometheus.io/path") == "/metrics")
        else:
            checks.ok(f"{name}: Prometheus scrape annotations", False, "prometheus.io/scrape is not \"true\"")

        # Stopping: the pause before SIGTERM, then the drain.
        pause = (c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}) or {}).get("seconds", 0)
        tgps = pod.spec.get("terminationGracePeriodSeconds", 30)
        checks.ok(f"{name}: terminationGracePeriodSeconds {tgps} = preStop pause {pause} + shutdown_grace_secs "
                  f"{grace} + a margin of 1-15 s", pause + grace + 1 <= tgps <= pause + grace + 15)
        checks.ok(f"{name}: a preStop hook delays SIGTERM until the endpoints drop the pod", pause >= 1,
                  str(c.get("lifecycle", {}).get("preStop")))

        # Non-root, read-only.
        sc, psc = c.get("securityContext", {}), pod.spec.get("securityContext", {})
        checks.ok(f"{name}: runs as non-root with a read-only root filesystem and no capabilities",
                  psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0
                  and sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
                  and sc.get("capabilities", {}).get("drop") == ["ALL"])

        # Scale and store.
        replicas = workload["spec"].get("replicas", 1)
        if replicas > 1:
            checks.ok(f"{name}: {replicas} replicas share one store (redis)", store == "redis", f"store = {store!r}")
            checks.ok(f"{name}: every replica has the same sealing_key (from a Secret)",
                      any(e["name"] == "SWITCHBOARD_SEALING_KEY" and "secretKeyRef" in e.get("valueFrom", {})
                          for e in c.get("env", [])))
            pdbs = [d for d in docs if d["kind"] == "PodDisruptionBudget"
                    and all(pod.labels.get(k) == v for k, v in d["spec"]["selector"].get("matchLabels", {}).items())]
            checks.ok(f"{name}: a PodDisruptionBudget covers its pods", len(pdbs) == 1,
                      ", ".join(d["metadata"]["name"] for d in pdbs))
        if store == "file":
            state_dir = os.path.dirname(eff["store_path"])
            mount = next((m for m, d in pod.mounts.items() if os.path.realpath(d) == os.path.realpath(state_dir)), None)
            checks.ok(f"{name}: store_path is on a PersistentVolumeClaim",
                      mount is not None and pod.volume_kind.get(mount) == "persistentVolumeClaim",
                      f"{eff['store_path']} (mount {mount}: {pod.volume_kind.get(mount or '')})")
            checks.ok(f"{name}: one replica with the Recreate strategy owns the database file",
                      replicas == 1 and workload["spec"].get("strategy", {}).get("type") == "Recreate"
                      if workload["kind"] == "Deployment" else replicas == 1)
        for e in c.get("env", []):
            if re.search(r"(?i)(secret|password|token|key)$", e["name"]) and "value" in e:
                checks.ok(f"{name}: {e['name']} comes from a Secret", False, "given as a literal value")

        # Live: the same arguments and environment, listeners on free loopback ports.
        if store == "redis" and not redis_url:
            checks.skip(f"{name}: serve with this config", "no Redis for store = \"redis\" (no --redis-url)")
            return
        live(pod, name, binary, mcp_port, grace, eff, checks)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def live(pod: Pod, name: str, binary: str, mcp_port: int, grace: int, eff: dict, checks: Checks) -> None:
    port, aport = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = run_env(pod, {"SWITCHBOARD_LISTEN": f"127.0.0.1:{port}", "SWITCHBOARD_ADMIN__LISTEN": f"127.0.0.1:{aport}",
                        "SWITCHBOARD_LOG_FORMAT": "json"})
    log = tempfile.NamedTemporaryFile(prefix="sb-k8s-serve-", suffix=".log", delete=False)
    proc = subprocess.Popen([binary, *pod.args], env=env, stdout=log, stderr=subprocess.STDOUT,
                            cwd=os.path.dirname(log.name))
    try:
        c = pod.container
        startup = c.get("startupProbe", c.get("livenessProbe", {})).get("httpGet", {}).get("path", "/healthz")
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline and proc.poll() is None:
            status, _ = http("GET", base + startup)
            if status == 200:
                break
            time.sleep(0.1)
        if not checks.ok(f"{name}: serve starts with the pod's arguments and environment "
                         f"(listeners moved to 127.0.0.1:{port} and :{aport})", status == 200,
                         f"exit status {proc.poll()}" if proc.poll() is not None else f"{startup}: {status}"):
            with open(log.name) as f:
                print(f.read()[-2000:], file=sys.stderr)
            return
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            get = c.get(kind, {}).get("httpGet")
            if get:
                st, body = http("GET", base + get["path"])
                checks.ok(f"{name}: {kind} GET {get['path']} on the container port answers 200", st == 200,
                          f"{st} {body[:120]}")
        st, body = http("GET", base + pod.annotations.get("prometheus.io/path", "/metrics"))
        checks.ok(f"{name}: Prometheus path answers with switchboard_ series", st == 200 and "switchboard_" in body,
                  f"{st}, {body.count(chr(10))} lines")
        init = (b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
                b'"capabilities":{},"clientInfo":{"name":"k8s-check","version":"1"}}}')
        st, body = http("POST", base + "/mcp", {"Content-Type": "application/json",
                                                "Accept": "application/json, text/event-stream"}, init)
        anonymous = eff.get("auth", {}).get("anonymous", "auto")
        want = 200 if anonymous == "on" else 401
        checks.ok(f"{name}: /mcp on the container port answers MCP (anonymous = {anonymous!r}: {want})", st == want,
                  f"{st} {body[:160]}")
        if eff.get("admin", {}).get("token_sha256"):
            st, body = http("GET", f"http://127.0.0.1:{aport}/admin/v1/node",
                            {"Authorization": f"Bearer {ADMIN_TOKEN}"})
            checks.ok(f"{name}: the admin listener answers its token (from the Secret)", st == 200, f"{st} {body[:120]}")
        # SIGTERM: the drain, then status 0 within the grace.
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=grace + 5)
        except subprocess.TimeoutExpired:
            rc = None
        checks.ok(f"{name}: SIGTERM stops it with status 0 within shutdown_grace_secs", rc == 0, f"status {rc}")
        if eff.get("store") == "file":
            checks.ok(f"{name}: the file store's database is on the volume", os.path.isfile(eff["store_path"]),
                      eff["store_path"])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        os.unlink(log.name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--redis-url")
    ap.add_argument("rendered")
    a = ap.parse_args()
    checks = Checks(a.name)
    with open(a.rendered) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    checks.ok("renders at least one Deployment or StatefulSet", bool(workloads),
              ", ".join(f"{d['kind']} {d['metadata']['name']}" for d in docs))
    for w in workloads:
        check_workload(docs, w, os.path.realpath(a.binary), a.redis_url, checks)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
