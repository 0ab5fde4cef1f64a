"""Run the Python blocks of one Markdown file in order, in one namespace (a subprocess of
tests/test_docs.py). Prints one line per block; exits 1 at the first failing block."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import sys
import traceback
from pathlib import Path

#: a ```python block, or a hidden setup block ``<!-- docs-test: setup ... -->`` that
#: gives a block what the page assumes (e.g. ``llm``, a chat model the reader has)
BLOCK = re.compile(
    r"^```python\n(?P<code>.*?)^```|^<!--\s*docs-test:\s*setup\n(?P<setup>.*?)^-->", re.S | re.M
)
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\s*\((.+?)\)\s*-->\s*$")


def blocks(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, code, skip reason) of each ```python block and hidden setup of ``path``."""
    text = path.read_text()
    out = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.search(before)
        code = match.group("code") if match.group("code") is not None else match.group("setup")
        out.append((line, code, skip.group(1) if skip else None))
    return out


def main(path: str) -> int:
    namespace: dict[str, object] = {"__name__": "__docs__"}
    loop = asyncio.new_event_loop()  # one loop for every block: top-level await works
    asyncio.set_event_loop(loop)
    for line, code, skip in blocks(Path(path)):
        if skip:
            print(f"{path}:{line}: skipped ({skip})")
            continue
        try:
            compiled = compile(code, f"{path}:{line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            result = eval(compiled, namespace)
            if inspect.iscoroutine(result):
                loop.run_until_complete(result)
        except BaseException:
            traceback.print_exc()
            print(f"{path}:{line}: FAILED")
            return 1
        print(f"{path}:{line}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
