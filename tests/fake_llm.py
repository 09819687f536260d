"""A scripted OpenAI-compatible chat server on 127.0.0.1: the one test double (the LLM provider).

Tests queue replies; each request pops the next one. A reply can be text, tool calls, an HTTP error
(with headers such as Retry-After), a delay, a stream cut mid-way or one that ends cleanly without a
finish reason. Requests are recorded so tests can assert what the model was told. Streaming uses SSE
exactly as the OpenAI API does.

Faults of real local servers (llama.cpp) can be switched on: ``interrupting`` ends a running stream
without a finish reason when another request arrives; ``context_limit`` answers prompts longer than
that many tokens (4 characters each) with llama.cpp's overflow error or, with ``overflow="empty"``,
an empty streamed answer; ``down()`` and ``up()`` stop and restart listening on the same port.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer."""

    content: str = ""
    tool_calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""
    delay: float = 0.0
    cut_after: int | None = None  # close the stream after this many chunks
    no_finish: bool = False  # end the stream cleanly ([DONE]) without a finish reason
    chunk_delay: float = 0.0  # seconds between streamed chunks (a slow model)
    usage: bool = True  # report usage (some servers never do)
    prompt_tokens: int = 100
    completion_tokens: int = 20


def text(content: str, **kw: Any) -> Reply:
    return Reply(content=content, **kw)


def call(name: str, arguments: dict[str, Any] | str | None = None, **kw: Any) -> Reply:
    return Reply(tool_calls=[(name, arguments if arguments is not None else {})], **kw)


def calls(*pairs: tuple[str, dict[str, Any] | str], **kw: Any) -> Reply:
    return Reply(tool_calls=list(pairs), **kw)


class _QuietServer(ThreadingHTTPServer):
    """Clients that give up (timeouts, killed workers) are expected here, not errors."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeLLM:
    """The server. Use as a context manager; ``api_base`` goes to litellm."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        """``time.time()`` of each request's arrival, in the order of ``requests``."""
        self.lock = threading.Lock()
        self.interrupting = False
        self.context_limit: int | None = None
        self.overflow = "error"
        self.models = ["test-model"]
        self._active: set[threading.Event] = set()
        self._down = False
        self.most_active = 0
        """The most streams that were ever running at once."""
        self.meet = 0
        """When set, a stream of an agent turn (a request that offers tools) waits, up to 10 s,
        until this many are running before it answers: concurrency shown without a race."""
        self._arrived = threading.Condition(self.lock)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                if fake._down:
                    self.close_connection = True
                    return
                if not self.path.rstrip("/").endswith("/models"):
                    self.send_error(404)
                    return
                payload = json.dumps(
                    {
                        "object": "list",
                        "data": [{"id": m, "object": "model"} for m in fake.models],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                try:
                    self._handle()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (a timeout, a kill)

            def _handle(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if fake._down:  # a kept-alive connection to a server that went down
                    self.close_connection = True
                    return
                with fake.lock:
                    fake.requests.append(body)
                    fake.arrivals.append(time.time())
                    overflow = fake._overflows(body)
                    if overflow and fake.overflow == "error":
                        reply = Reply(
                            status=400,
                            error=f"request ({_tokens(body)} tokens) exceeds the available "
                            f"context size ({fake.context_limit} tokens), try increasing it",
                        )
                    elif overflow:
                        reply = Reply(content="")
                    else:
                        reply = (
                            fake.replies.popleft()
                            if fake.replies
                            else Reply(status=500, error="the test script has no reply left")
                        )
                    if fake.interrupting:
                        for other in fake._active:
                            other.set()  # a new request interrupts the running one
                if reply.delay:
                    time.sleep(reply.delay)
                    self.close_connection = True
                if reply.status != 200:
                    payload = json.dumps(
                        {
                            "error": {
                                "message": reply.error or "error",
                                "type": "test",
                                "code": reply.status,
                            }
                        }
                    )
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload.encode())
                    return
                if body.get("stream"):
                    self._stream(body, reply)
                else:
                    payload = json.dumps(_full(body, reply)).encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            def _stream(self, body: dict[str, Any], reply: Reply) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()

                def send(data: bytes) -> None:
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()

                interrupted = threading.Event()
                with fake.lock:
                    fake._active.add(interrupted)
                    fake.most_active = max(fake.most_active, len(fake._active))
                    fake._arrived.notify_all()
                    if fake.meet and body.get("tools"):
                        fake._arrived.wait_for(lambda: len(fake._active) >= fake.meet, timeout=10)
                try:
                    chunks = _chunks(body, reply)
                    for n, chunk in enumerate(chunks):
                        if reply.cut_after is not None and n >= reply.cut_after:
                            self.close_connection = True  # no final chunk: a broken body
                            return
                        finishing = any(c.get("finish_reason") for c in chunk["choices"])
                        if interrupted.is_set() or (reply.no_finish and finishing):
                            break  # ended early, cleanly: no finish reason was sent
                        send(f"data: {json.dumps(chunk)}\n\n".encode())
                        if reply.chunk_delay and n < len(chunks) - 2:
                            interrupted.wait(reply.chunk_delay)
                    send(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                finally:
                    with fake.lock:
                        fake._active.discard(interrupted)

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def _overflows(self, body: dict[str, Any]) -> bool:
        return self.context_limit is not None and _tokens(body) > self.context_limit

    def down(self) -> None:
        """Stop listening: connections are refused until :meth:`up` (a stream in flight ends
        normally; kept-alive connections are closed at their next request)."""
        self._down = True
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def up(self) -> None:
        """Listen again on the same port."""
        self._down = False
        port = self.server.server_address[1]
        handler = self.server.RequestHandlerClass
        self.server = _QuietServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def script(self, *replies: Reply) -> FakeLLM:
        with self.lock:
            self.replies.extend(replies)
        return self

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _tokens(body: dict[str, Any]) -> int:
    """The prompt's size as a server would count it, roughly: 4 characters a token."""
    return len(json.dumps(body.get("messages", []))) // 4


def _args_text(arguments: dict[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def _full(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": name, "arguments": _args_text(args)},
            }
            for name, args in reply.tool_calls
        ]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:10]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        **({"usage": _usage(reply)} if reply.usage else {}),
    }


def _chunks(body: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:10]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    words = reply.content.split(" ") if reply.content else []
    for i, word in enumerate(words):
        out.append(chunk({"content": word if i == 0 else " " + word}))
    for index, (name, args) in enumerate(reply.tool_calls):
        text_args = _args_text(args)
        call_id = f"call_{uuid.uuid4().hex[:12]}"
        out.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        half = max(1, len(text_args) // 2)
        for piece in (text_args[:half], text_args[half:]):
            if piece:
                out.append(
                    chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                )
    out.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
    if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
        out.append({**base, "choices": [], "usage": _usage(reply)})
    return out
