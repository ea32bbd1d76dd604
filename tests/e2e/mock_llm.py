"""A mock LLM upstream for the model gateway's tests: OpenAI's Chat Completions and Anthropic's
Messages API, whole and streamed, in one threaded HTTP server that records every request.

What it does depends on the model name asked for:
  ``fail``    answers 500;
  ``slow``    waits 3 s before answering;
  ``hold``    waits 0.3 s (keeps calls in flight together);
  ``nousage`` gives no token counts;
  ``drip``    streams 40 pieces 0.1 s apart.
Token counts are fixed, so that tests know to the token what each call costs."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OPENAI_USAGE = {"prompt_tokens": 11, "completion_tokens": 7}
ANTHROPIC_USAGE = {"input_tokens": 13, "cache_read_input_tokens": 2, "output_tokens": 5}


class MockLlm:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._json(200, {"object": "list", "data": [{"id": "mock", "object": "model"}]})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                with mock.lock:
                    mock.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                          "body": body})
                model = str(body.get("model", ""))
                if "slow" in model:
                    time.sleep(3)
                if "hold" in model:
                    time.sleep(0.3)
                if "fail" in model:
                    self._json(500, {"error": {"message": "upstream exploded", "type": "server_error"}})
                    return
                anthropic = self.path.endswith("/messages")
                if body.get("stream"):
                    self._stream(anthropic, model, body)
                elif anthropic:
                    answer = {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
                              "content": [{"type": "text", "text": "Hello from the mock"}],
                              "stop_reason": "end_turn"}
                    if "nousage" not in model:
                        answer["usage"] = ANTHROPIC_USAGE
                    self._json(200, answer)
                else:
                    answer = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model,
                              "choices": [{"index": 0, "finish_reason": "stop",
                                           "message": {"role": "assistant", "content": "Hello from the mock"}}]}
                    if "nousage" not in model:
                        answer["usage"] = dict(OPENAI_USAGE, total_tokens=18)
                    self._json(200, answer)

            def _json(self, status: int, value: dict) -> None:
                data = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, anthropic: bool, model: str, body: dict) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                pieces = 40 if "drip" in model else 4
                gap = 0.1 if "drip" in model else 0
                usage = "nousage" not in model
                try:
                    if anthropic:
                        start = {"type": "message_start", "message": {
                            "id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
                            "usage": ({"input_tokens": 13, "cache_read_input_tokens": 2, "output_tokens": 1}
                                      if usage else {})}}
                        self._event("message_start", start)
                        self._event("content_block_start", {"type": "content_block_start", "index": 0,
                                                            "content_block": {"type": "text", "text": ""}})
                        for i in range(pieces):
                            self._event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                                "delta": {"type": "text_delta", "text": f"word{i} "}})
                            time.sleep(gap)
                        self._event("content_block_stop", {"type": "content_block_stop", "index": 0})
                        delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}
                        if usage:
                            delta["usage"] = {"output_tokens": 5}
                        self._event("message_delta", delta)
                        self._event("message_stop", {"type": "message_stop"})
                    else:
                        for i in range(pieces):
                            self._data({"id": "c1", "object": "chat.completion.chunk", "model": model,
                                        "choices": [{"index": 0, "delta": {"content": f"word{i} "}}]})
                            time.sleep(gap)
                        wants_usage = (body.get("stream_options") or {}).get("include_usage")
                        if usage and wants_usage:
                            self._data({"id": "c1", "object": "chat.completion.chunk", "model": model,
                                        "choices": [], "usage": dict(OPENAI_USAGE, total_tokens=18)})
                        self.wfile.write(b"data: [DONE]\n\n")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _data(self, value: dict) -> None:
                self.wfile.write(b"data: " + json.dumps(value).encode() + b"\n\n")
                self.wfile.flush()

            def _event(self, name: str, value: dict) -> None:
                self.wfile.write(f"event: {name}\n".encode() + b"data: " + json.dumps(value).encode() + b"\n\n")
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def calls(self, model_part: str = "") -> list[dict]:
        with self.lock:
            return [r for r in self.requests if model_part in str(r["body"].get("model", ""))]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
