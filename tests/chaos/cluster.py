"""The system under test: Redis (appendonly, restartable on its AOF), the
controllable HTTP upstream, three `switchboard serve` nodes sharing Redis
(each with a builtin, a stdio and an HTTP upstream) and nginx in front
(deploy/nginx/switchboard.conf through scripts/nginx-front.sh, as
scripts/cluster.sh runs it). Every process is started and stopped by its pid
here, nothing by name."""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def token() -> tuple[str, str]:
    t = "sb_" + secrets.token_urlsafe(32)
    return t, hashlib.sha256(t.encode()).hexdigest()


def wait_http(url: str, proc: subprocess.Popen | None, what: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            r = httpx2.get(url, timeout=1.0)
            if r.status_code < 500:
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before answering {url}")
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within {limit} s")


def vmrss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_table() -> list[dict]:
    """Every process: pid, ppid, state, cmdline."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2 :].split()
        out.append({"pid": int(d), "ppid": int(rest[1]), "state": rest[0], "cmd": cmd})
    return out


@dataclass
class Node:
    n: int
    port: int
    admin_port: int
    log: Path
    proc: subprocess.Popen | None = None
    starts: int = 0
    stopped: bool = False  # SIGSTOPped now

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None


@dataclass
class Cluster:
    binary: Path
    out: Path
    nodes: list[Node] = field(default_factory=list)
    redis: subprocess.Popen | None = None
    upstream: subprocess.Popen | None = None
    nginx: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.run_dir = self.out / "run"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.redis_port = free_port()
        self.upstream_port = free_port()
        self.front_port = free_port()
        self.admin_token, admin_sha = token()
        self.quota_key, quota_sha = token()
        self.sealing_key = secrets.token_hex(32)
        self.prefix = "chaos"
        # An empty file: `switchboard stdio --config` serves the built-in
        # toolset; its path marks our stdio children in the process table.
        self.stdio_config = self.run_dir / "stdio-upstream.toml"
        self.stdio_config.write_text("# the chaos run's stdio upstream: the built-in toolset\n")
        self.config = self.run_dir / "node.toml"
        self.config.write_text(self.node_config(admin_sha, quota_sha))

    # The quota tenant's limits (checked from the history).
    QUOTA_RATE = 4.0
    QUOTA_BURST = 8
    QUOTA_SESSIONS = 3

    def node_config(self, admin_sha: str, quota_sha: str) -> str:
        return f"""# written by tests/chaos/cluster.py
shutdown_grace_secs = 8
store = "redis"
redis_url = "redis://127.0.0.1:{self.redis_port}"
redis_prefix = "{self.prefix}"
redis_timeout_ms = 250
sealing_key = "{self.sealing_key}"
request_timeout_secs = 20
client_request_timeout_secs = 20
session_init_timeout_secs = 10
task_lease_secs = 10
# Every task a run creates stays countable (its record kept to the end, for
# the check of how often it ran): a cap of 100 per identity, the default,
# let the task clients create tasks only in the run's first two minutes.
max_tasks_per_identity = 20000
keep_alive_secs = 5
sse_retry_ms = 500
config_watch = false

[[tenants]]
id = "quota"
api_keys = [{{ id = "q", sha256 = "{quota_sha}" }}]
rate = {{ per_second = {self.QUOTA_RATE}, burst = {self.QUOTA_BURST} }}
max_sessions = {self.QUOTA_SESSIONS}

[admin]
token_sha256 = "{admin_sha}"

[[upstreams]]
name = "builtin"
kind = "builtin"
prefix = ""

[[upstreams]]
name = "sb"
command = "{self.binary}"
args = ["stdio", "--config", "{self.stdio_config}"]
mode = "shared"
processes = 1
prefix = "sb__"
call_timeout_secs = 8
breaker_cool_down_secs = 2

[[upstreams]]
name = "py"
kind = "http"
url = "http://127.0.0.1:{self.upstream_port}/mcp"
mode = "shared"
protocol = "session"
prefix = "py__"
call_timeout_secs = 8
breaker_cool_down_secs = 2
"""

    # ---- Redis ---------------------------------------------------------
    def start_redis(self) -> None:
        rdir = self.run_dir / "redis"
        rdir.mkdir(exist_ok=True)
        log = open(self.run_dir / "redis.log", "a")
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(rdir)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = subprocess.run(["redis-cli", "-p", str(self.redis_port), "ping"], capture_output=True, text=True)
            if r.stdout.strip() == "PONG":
                return
            if self.redis.poll() is not None:
                raise RuntimeError("redis-server exited")
            time.sleep(0.1)
        raise RuntimeError("redis did not come up")

    def redis_cli(self, *args: str) -> str:
        r = subprocess.run(["redis-cli", "-p", str(self.redis_port), *args], capture_output=True, text=True, timeout=10)
        return r.stdout

    # ---- upstream ------------------------------------------------------
    def start_upstream(self) -> None:
        log = open(self.run_dir / "upstream.log", "a")
        self.upstream = subprocess.Popen(
            [PY, str(ROOT / "tests/chaos/upstream.py"), str(self.upstream_port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        wait_http(f"http://127.0.0.1:{self.upstream_port}/healthz", self.upstream, "the HTTP upstream")

    def upstream_mode(self, mode: str) -> None:
        httpx2.post(f"http://127.0.0.1:{self.upstream_port}/control", json={"mode": mode}, timeout=5)

    # ---- nodes ---------------------------------------------------------
    def start_node(self, node: Node) -> None:
        env = dict(os.environ)
        env.update(
            SWITCHBOARD_ADVERTISE_URL=f"{node.url}/mcp",
            SWITCHBOARD_ADMIN__NODE_ID=f"node-{node.n}",
            SWITCHBOARD_ADMIN__LISTEN=f"127.0.0.1:{node.admin_port}",
            SWITCHBOARD_LOG_FORMAT="json",
            RUST_LOG=env.get("CHAOS_RUST_LOG", "warn"),
        )
        log = open(node.log, "a")
        log.write(f"\n=== start {node.starts + 1} at {time.time():.3f}\n")
        log.flush()
        node.proc = subprocess.Popen(
            [str(self.binary), "serve", "--config", str(self.config), "--listen", f"127.0.0.1:{node.port}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )
        node.starts += 1
        node.stopped = False
        wait_http(f"{node.url}/healthz", node.proc, f"node {node.n}", limit=60)

    def start_nodes(self) -> None:
        for n in (1, 2, 3):
            node = Node(n=n, port=free_port(), admin_port=free_port(), log=self.run_dir / f"node{n}.log")
            self.nodes.append(node)
            self.start_node(node)

    def admin(self, node: Node, path: str, timeout: float = 3.0) -> dict | None:
        try:
            r = httpx2.get(
                f"http://127.0.0.1:{node.admin_port}/admin/v1{path}",
                headers={"Authorization": f"Bearer {self.admin_token}"},
                timeout=timeout,
            )
            return r.json() if r.status_code == 200 else None
        except Exception:  # noqa: BLE001 - node down or stopped
            return None

    def stdio_children(self, table: list[dict] | None = None) -> list[dict]:
        """Our stdio upstream processes (their command line names our config)."""
        table = table if table is not None else proc_table()
        marker = str(self.stdio_config)
        return [p for p in table if marker in p["cmd"] and "stdio" in p["cmd"] and "setpriv" not in p["cmd"].split()[0]]

    def ours(self, table: list[dict] | None = None) -> list[dict]:
        """Every process whose command line names this run's directory."""
        table = table if table is not None else proc_table()
        marker = str(self.run_dir)
        me = os.getpid()
        return [p for p in table if marker in p["cmd"] and p["pid"] != me]

    # ---- nginx ---------------------------------------------------------
    def start_nginx(self) -> None:
        ndir = self.run_dir / "nginx"
        ndir.mkdir(exist_ok=True)
        nodes = [f"127.0.0.1:{n.port}" for n in self.nodes]
        front = subprocess.run(
            [str(ROOT / "scripts/nginx-front.sh"), f"127.0.0.1:{self.front_port}", *nodes],
            capture_output=True, text=True, check=True,
        ).stdout
        (ndir / "switchboard.conf").write_text(front)
        (ndir / "nginx.conf").write_text(f"""daemon off;
worker_processes 1;
pid {ndir}/nginx.pid;
error_log {ndir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  log_format upstream '$msec $upstream_addr $status "$request"';
  access_log {ndir}/access.log upstream;
  client_body_temp_path {ndir}/body;
  proxy_temp_path {ndir}/proxy;
  fastcgi_temp_path {ndir}/fastcgi;
  uwsgi_temp_path {ndir}/uwsgi;
  scgi_temp_path {ndir}/scgi;
  include {ndir}/switchboard.conf;
}}
""")
        nginx = "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "nginx"
        self.nginx = subprocess.Popen(
            [nginx, "-p", str(ndir), "-c", str(ndir / "nginx.conf")],
            stdout=open(ndir / "stdout.log", "a"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        wait_http(f"http://127.0.0.1:{self.front_port}/healthz", self.nginx, "nginx")

    @property
    def front(self) -> str:
        return f"http://127.0.0.1:{self.front_port}"

    def start(self) -> None:
        self.start_redis()
        self.start_upstream()
        self.start_nodes()
        self.start_nginx()

    # ---- stopping ------------------------------------------------------
    @staticmethod
    def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, wait: float = 15.0) -> None:
        if proc is None or proc.poll() is not None:
            return
        try:
            os.kill(proc.pid, signal.SIGCONT)
            os.kill(proc.pid, sig)
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def stop_all(self) -> dict:
        """Drain every node (SIGTERM), then the rest; returns the exit codes."""
        codes = {}
        for node in self.nodes:
            if node.proc is not None:
                try:
                    os.kill(node.proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                os.kill(node.proc.pid, signal.SIGTERM)
        for node in self.nodes:
            if node.proc is not None:
                try:
                    codes[f"node-{node.n}"] = node.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.kill(node.proc.pid, signal.SIGKILL)
                    codes[f"node-{node.n}"] = f"killed after 30 s: {node.proc.wait()}"
        for name, proc in (("nginx", self.nginx), ("upstream", self.upstream), ("redis", self.redis)):
            if proc is not None:
                if name == "nginx" and proc.poll() is None:
                    os.kill(proc.pid, signal.SIGQUIT)
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        os.kill(proc.pid, signal.SIGKILL)
                        proc.wait()
                else:
                    self._stop(proc)
                codes[name] = proc.returncode
        return codes
