"""The recorded history: one JSON object a line, appended as things happen.

Every line has `k` (its kind) and `t` or `t0`/`t1` (Unix seconds). Kinds:

- `meta`: the run's parameters (seed, minutes, clients, limits of the config);
- `req`: one request of one client: `client`, `era`, `method`, `name` (tool),
  `rid`, `session`, `t0`, `t1`, `limit` (the client's timeout), `outcome`
  (`result`, `error` with `code`/`msg`, `http` with `status`, `transport`
  with `msg`, `timeout`), `answers` (responses with this id received: must be
  1 for `result`/`error`), `ids` (the SSE event ids of its response stream,
  in order, across resumptions), `resumes`, `tenant`;
- `stream`: one connection of a standalone GET stream: `client`, `session`,
  `conn` (its number), `sent_last_event_id`, `priming` (the priming id, on a
  fresh stream), `ids` (event ids received, in order), `end` (why it ended);
- `session`: a session's life seen by its client: `opened`, `closed`,
  `close` (outcome of its DELETE, or `stream_closed` for HTTP+SSE);
- `task`: a task the client created: `task_id`, `created`, `terminal`,
  `status`, `polls`, `text`;
- `task_record`: the task's record read from Redis at the end (`runs`);
- `log_tail`: the last sequence number in a GET stream's event log at the
  end (`session`, `seq`), read from Redis once load stopped;
- `fault`: `kind`, `target`, `t0`, `t1`, `detail`;
- `node_start`: `node`, `pid`, `t`, `why`;
- `procs`: a process-table sample of this run's processes (`t`, `nodes`:
  live node pids, `stdio`: [pid, ppid] of stdio upstream children);
- `rss`: `node`, `pid`, `kb`, `phase` (`prefault`, `warm` after a restart,
  `post` after load stopped);
- `sessions_count`: `t`, `phase`, `cluster` (sessions in the store),
  `nodes` (live sessions per node);
- `store_check`: per session a client ended, whether Redis still holds its
  record (`exists`);
- `final_procs`: this run's processes left after the shutdown.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path


class History:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._f = open(path, "w", buffering=1)
        self._lock = threading.Lock()

    def write(self, k: str, **fields) -> None:
        fields["k"] = k
        if "t" not in fields and "t0" not in fields:
            fields["t"] = time.time()
        line = json.dumps(fields, separators=(",", ":"), default=str)
        with self._lock:
            self._f.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self._f.close()


def load(path: Path) -> list[dict]:
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out
