"""What the Python interop clients share: PASS/FAIL lines and their count,
and the text of a tool result. Imported by the clients beside it (each runs
as a script, so this folder is on its path)."""

from __future__ import annotations

from mcp import types


class Checks:
    def __init__(self) -> None:
        self.failed = 0

    def ok(self, name: str, cond: bool, detail: str = "") -> bool:
        if cond:
            print(f"PASS {name}" + (f" ({detail})" if detail else ""), flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail or 'check failed'}", flush=True)
        return cond


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))
