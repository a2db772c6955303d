"""A fake OpenAI-compatible chat-completions server on 127.0.0.1 with scripted faults.

Each request takes the next action from `script` (the last one repeats): "ok", "malformed"
(content that is not JSON), "bad_body" (a 200 whose body is not JSON), "429", "500", "slow"
(sleeps past the client's timeout, then answers), "echo_401" (rejects the key and, like some
proxies, echoes the Authorization header it got).
"""
from __future__ import annotations

import json
import re
import threading
import time

from .loopback import FakeHandler, LoopbackServer, send_body


def realistic_reply(messages: list[dict]) -> str:
    """What a competent teacher (or judge) would answer, derived from the prompt."""
    user = messages[-1]["content"]
    if "Rate the answer" in user:  # the evaluation's judge: faithful when the answer's words are in the passages
        passages, answer = user.split("Question:")[0].lower(), user.split("<answer>")[1].split("</answer>")[0]
        words = re.findall(r"\w+", answer.lower())
        supported = sum(w in passages for w in words) / max(1, len(words))
        return json.dumps({"faithfulness": 5 if supported > 0.8 else 1, "relevance": 4})
    answer = re.search(r"Answer: (.+?)\n", user)
    if answer:
        words = answer.group(1).split()
        return json.dumps({"question": f"What does the paper report about {' '.join(words[2:6])}?"})
    passage = re.search(r"<passage>\n(.+?)\n</passage>", user, re.S).group(1)
    first = passage.split(". ")[0]
    return json.dumps({"questions": [{"question": f"According to the passage, what holds for {' '.join(first.split()[:4])}?",
                                      "answer": first, "kind": "factual"}]})


class _Handler(FakeHandler):
    def do_POST(self):
        fake = self.fake
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        fake.requests.append({"body": body, "auth": self.headers.get("Authorization")})
        action = fake._next()
        if action in ("429", "500"):
            self.send_response(int(action))
            self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(b'{"error": "busy"}')
            return
        if action == "echo_401":
            message = f"Incorrect API key provided: {self.headers.get('Authorization')}"
            send_body(self, json.dumps({"error": {"message": message}}).encode(), "application/json", 401)
            return
        if action == "slow":
            time.sleep(fake.slow_s)
        if action == "bad_body":
            payload = b"<html>gateway error</html>"
        else:
            content = "Sure! Here are questions: {question: oops" if action == "malformed" else realistic_reply(body["messages"])
            payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}],
                                  "usage": {"completion_tokens": len(content.split())}}).encode()
        send_body(self, payload, "application/json")


class FakeOpenAI(LoopbackServer):
    handler = _Handler
    path_prefix = "/v1"

    def __init__(self, script: list[str], slow_s: float = 3.0) -> None:
        self.script, self.slow_s = list(script), slow_s
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        super().__init__()

    def _next(self) -> str:
        with self._lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]
