"""With no model configured and no provider key, a running Ollama is found at ``[llm]
ollama_url``: a real local HTTP server stands in for it (it only lists models)."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent_tui.core.llm import choose_model
from tests.conftest import CLI, cli_env


class _Tags(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"models": [{"name": "llama3.2:1b"}]}).encode()
        self.send_response(200 if self.path == "/api/tags" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def ollama() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tags)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_a_running_ollama_is_found_at_the_configured_address(ollama: str) -> None:
    choice = choose_model(None, environ={}, ollama_url=ollama)
    assert choice.model == "ollama_chat/llama3.2:1b"
    assert choice.api_base == ollama and choice.why == f"Ollama is running at {ollama}"


def test_no_ollama_no_model() -> None:
    assert choose_model(None, environ={}, ollama_url=_closed_port_url()).model is None
    assert choose_model(None, environ={}, ollama_url="").model is None  # the probe is off


def test_configuration_and_keys_come_first(ollama: str) -> None:
    assert choose_model("openai/x", environ={}, ollama_url=ollama).model == "openai/x"
    keyed = choose_model(None, environ={"OPENAI_API_KEY": "sk-x"}, ollama_url=ollama)
    assert keyed.why == "OPENAI_API_KEY is set"


def test_the_cli_reads_the_address_from_the_config(ollama: str, home: Path) -> None:
    def doctor(url: str) -> dict:
        out = subprocess.run(
            [*CLI, "doctor", "--json"],
            env=cli_env(home, AGENT_TUI_LLM__OLLAMA_URL=url),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "Traceback" not in out.stderr, out.stderr
        return json.loads(out.stdout)["model"]

    assert doctor(ollama)["model"] == "ollama_chat/llama3.2:1b"
    assert doctor("")["model"] is None
