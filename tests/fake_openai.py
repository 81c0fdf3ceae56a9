#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Fake OpenAI Chat Completions server for tests (stdlib only).

Checks every request the way the real API would reject it (path, auth, model, the image as a
JPEG data URL, a strict json_schema response_format over the catalogue slugs) and answers by
mode. Prints "PORT <n>" as its first stdout line and nothing after it; --verbose logs to stderr.

Control endpoints for end-to-end tests:
  POST /_control  {"mode": ..., "answer": ..., "script": [modes...], "slow_seconds": ...,
                   "confidence": ...}
                  script modes are used one per chat request, then "mode" again; "hold" keeps
                  each call waiting (up to 120 s) until POST /_release, then answers "good"
  GET  /_calls    {"calls": n, "held": n, "last_request": {...}}
  GET  /v1/models the model list, with the key checked as for chat (what `gymhelper doctor` asks)
  POST /_release  lets every held call answer
  POST /_reset    back to the command-line settings, counters cleared
"""
import argparse
import base64
import binascii
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("good", "unknown_slug", "malformed", "text", "rate_limit", "server_error", "slow",
         "auth", "refusal", "messy", "null", "huge", "hold")
CHAT_PATH = "/v1/chat/completions"
MAX_BODY = 32 * 1024 * 1024


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.mode = self.args.mode
        self.answer = self.args.answer
        self.slow_seconds = self.args.slow_seconds
        self.script = []
        self.calls = 0
        self.held = 0
        self.confidence = 0.91
        self.last_request = None
        if hasattr(self, "release"):
            self.release.set()  # whoever is still held goes on
        self.release = threading.Event()

    def next_mode(self):
        """Counts the call and picks its mode under the lock, so concurrent calls each get one."""
        with self.lock:
            self.calls += 1
            if self.script:
                return self.script.pop(0), self.answer
            return self.mode, self.answer


class RequestError(Exception):
    def __init__(self, status, message, code=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def error_body(message, type_="invalid_request_error", code=None):
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def find_parts(messages):
    """(system texts, user text parts, user image parts) of a Chat Completions message list."""
    system, texts, images = [], [], []
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            raise RequestError(400, "each message needs a role of system, user or assistant")
        content = m.get("content")
        if m["role"] == "system":
            if not isinstance(content, str) or not content:
                raise RequestError(400, "the system message needs text content")
            system.append(content)
        elif m["role"] == "user":
            parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
            for p in parts:
                if not isinstance(p, dict):
                    raise RequestError(400, "content parts must be objects")
                if p.get("type") == "text" and isinstance(p.get("text"), str):
                    texts.append(p["text"])
                elif p.get("type") == "image_url" and isinstance(p.get("image_url"), dict):
                    images.append(p["image_url"])
                else:
                    raise RequestError(400, "unknown content part %r" % p.get("type"))
    return system, texts, images


def check_image(image):
    url = image.get("url")
    prefix = "data:image/jpeg;base64,"
    if not isinstance(url, str) or not url.startswith(prefix):
        raise RequestError(400, "image_url.url must be a data:image/jpeg;base64, URL")
    try:
        raw = base64.b64decode(url[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "image_url.url holds invalid base64")
    if raw[:3] != b"\xff\xd8\xff":
        raise RequestError(400, "the image is not a JPEG")
    if image.get("detail", "auto") not in ("low", "high", "auto"):
        raise RequestError(400, "image_url.detail must be low, high or auto")
    return len(raw)


def check_schema(rf):
    if not isinstance(rf, dict) or rf.get("type") != "json_schema":
        raise RequestError(400, "response_format.type must be json_schema")
    js = rf.get("json_schema")
    if not isinstance(js, dict) or not isinstance(js.get("name"), str) or not js["name"]:
        raise RequestError(400, "response_format.json_schema needs a name")
    schema = js.get("schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise RequestError(400, "the schema must describe an object")
    props = schema.get("properties") or {}
    if js.get("strict") is True:
        # OpenAI's strict mode: every property required, no others allowed.
        if schema.get("additionalProperties") is not False or \
                sorted(schema.get("required") or []) != sorted(props):
            raise RequestError(400, "strict schemas need additionalProperties false and every "
                               "property required")
    enum = (props.get("slug") or {}).get("enum")
    slugs = [s for s in enum if isinstance(s, str)] if isinstance(enum, list) else []
    if not slugs:
        raise RequestError(400, "the schema's slug enum is empty")
    for name in ("confidence", "alternatives"):
        if name not in props:
            raise RequestError(400, "the schema has no %s" % name)
    return slugs


def check_request(state, handler, body):
    args = state.args
    if not args.llava:
        auth = handler.headers.get("Authorization")
        if not auth:
            raise RequestError(401, "You didn't provide an API key.")
        if auth != "Bearer " + args.key:
            raise RequestError(401, "Incorrect API key provided.", "invalid_api_key")
    if (handler.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
        raise RequestError(400, "Content-Type must be application/json")
    try:
        req = json.loads(body)
    except ValueError:
        raise RequestError(400, "We could not parse the JSON body of your request.")
    if not isinstance(req, dict):
        raise RequestError(400, "the body must be a JSON object")
    if req.get("model") != args.model:
        raise RequestError(404, "The model `%s` does not exist" % req.get("model"),
                           "model_not_found")
    messages = req.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "messages must be a non-empty array")
    system, texts, images = find_parts(messages)
    if len(images) != 1:
        raise RequestError(400, "expected exactly one image, got %d" % len(images))
    image_bytes = check_image(images[0])
    slugs = check_schema(req.get("response_format"))
    text = "\n".join(texts)
    missing = [s for s in slugs if s not in text]
    if missing:
        raise RequestError(400, "the prompt does not list slug %s" % missing[0])
    if req.get("temperature") not in (0, 0.0):
        raise RequestError(400, "temperature must be 0")
    mt = req.get("max_tokens")
    if not isinstance(mt, int) or isinstance(mt, bool) or not 0 < mt <= 4096:
        raise RequestError(400, "max_tokens must be a positive integer")
    return {
        "model": req["model"],
        "has_image": True,
        "image_bytes": image_bytes,
        "detail": images[0].get("detail"),
        "n_slugs": len(slugs),
        "has_system": bool(system),
        "has_auth": handler.headers.get("Authorization") is not None,
        "request_id": handler.headers.get("X-Request-ID"),
        "temperature": req.get("temperature"),
        "max_tokens": mt,
        "response_format_type": req["response_format"]["type"],
        "user_text": text,
    }, slugs


def completion(model, content, refusal=None):
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": refusal},
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 812, "completion_tokens": 23, "total_tokens": 835},
    }


def answer_json(answer, slugs, confidence=0.91):
    others = [s for s in slugs if s != answer][:2]
    return {"slug": answer, "confidence": confidence,
            "alternatives": [{"slug": s, "confidence": c} for s, c in zip(others, (0.05, 0.02))]}


def messy_json(answer, slugs):
    """Everything a client must not trust: out-of-range numbers, the answer repeated, unknown
    and duplicate slugs, too many alternatives."""
    others = [s for s in slugs if s != answer]
    first = others[0] if others else answer
    alts = [{"slug": answer, "confidence": 0.5}, {"slug": "flux-capacitor", "confidence": 0.4},
            {"slug": first, "confidence": -0.3}, {"slug": first, "confidence": 0.3}]
    alts += [{"slug": s, "confidence": 0.1 + i / 10} for i, s in enumerate(others[1:])]
    return {"slug": answer, "confidence": 1.7, "alternatives": alts}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai/1"

    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            sys.stderr.write("fake_openai: " + (fmt % args) + "\n")

    def send_json(self, status, obj, headers=()):
        data = json.dumps(obj).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to tell it

    def read_body(self):
        try:
            n = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            raise RequestError(400, "bad Content-Length")
        return self.rfile.read(n)

    def do_GET(self):
        state = self.server.state
        if self.path == "/_calls":
            with state.lock:
                self.send_json(200, {"calls": state.calls, "held": state.held,
                                     "last_request": state.last_request})
            return
        if self.path == "/v1/models":  # as the real API: the key is checked, the models listed
            args = state.args
            if not args.llava and self.headers.get("Authorization") != "Bearer " + args.key:
                self.send_json(401, error_body("Incorrect API key provided.",
                                               code="invalid_api_key"))
                return
            self.send_json(200, {"object": "list", "data": [
                {"id": args.model, "object": "model", "created": 0, "owned_by": "system"}]})
            return
        self.send_json(404, error_body("Invalid URL (GET %s)" % self.path))

    def do_POST(self):
        try:
            body = self.read_body()
        except RequestError as e:
            self.send_json(e.status, error_body(e.message))
            return
        if self.path == "/_control":
            self.control(body)
        elif self.path == "/_release":
            with self.server.state.lock:
                self.server.state.release.set()
            self.send_json(200, {"ok": True})
        elif self.path == "/_reset":
            with self.server.state.lock:
                self.server.state.reset()
            self.send_json(200, {"ok": True})
        elif self.path == CHAT_PATH:
            self.chat(body)
        else:
            self.send_json(404, error_body("Invalid URL (POST %s)" % self.path))

    def control(self, body):
        state = self.server.state
        try:
            c = json.loads(body or b"{}")
            script = c.get("script", [])
            modes = ([c["mode"]] if "mode" in c else []) + list(script)
            if any(m not in MODES for m in modes):
                raise ValueError("unknown mode")
        except (ValueError, TypeError, AttributeError) as e:
            self.send_json(400, error_body("bad control request: %s" % e))
            return
        with state.lock:
            state.mode = c.get("mode", state.mode)
            state.answer = c.get("answer", state.answer)
            state.slow_seconds = float(c.get("slow_seconds", state.slow_seconds))
            state.confidence = float(c.get("confidence", state.confidence))
            if "hold" in modes:
                state.release = threading.Event()
            state.script = list(script)
        self.send_json(200, {"ok": True})

    def chat(self, body):
        state = self.server.state
        mode, answer = state.next_mode()
        try:
            info, slugs = check_request(state, self, body)
        except RequestError as e:
            self.send_json(e.status, error_body(e.message, code=e.code))
            return
        with state.lock:
            state.last_request = dict(info, mode=mode)
        self.respond(mode, answer, slugs, info["model"])

    def respond(self, mode, answer, slugs, model):
        state = self.server.state
        # OpenAI reports the dated snapshot it used; Ollama echoes the name.
        served = model if state.args.llava else model + "-2024-07-18"
        if mode == "slow":
            time.sleep(state.slow_seconds)
            mode = "good"
        if mode == "hold":
            with state.lock:
                state.held += 1
                release = state.release
            release.wait(120)
            mode = "good"
        if mode == "good":
            self.send_json(200, completion(served, json.dumps(
                answer_json(answer, slugs, state.confidence))))
        elif mode == "messy":
            self.send_json(200, completion(served, json.dumps(messy_json(answer, slugs))))
        elif mode == "null":
            self.send_json(200, completion(served, json.dumps(
                {"slug": None, "confidence": 0.2, "alternatives": []})))
        elif mode == "unknown_slug":
            self.send_json(200, completion(served, json.dumps(
                answer_json("flux-capacitor", slugs))))
        elif mode == "malformed":
            self.send_json(200, completion(served, "this is not json {"))
        elif mode == "text":
            obj = dict(answer_json(answer, slugs), note="braces } and { inside a string")
            text = ("Sure! The answer format is {slug, confidence}. Here it is:\n```json\n%s\n```"
                    "\nHope that helps {:" % json.dumps(obj, indent=2))
            self.send_json(200, completion(served, text))
        elif mode == "huge":
            self.send_json(200, completion(served, "x" * (2 * 1024 * 1024)))
        elif mode == "refusal":
            self.send_json(200, completion(served, None, "I'm sorry, I can't help with that."))
        elif mode == "rate_limit":
            self.send_json(429, error_body(
                "Rate limit reached for %s on requests per min (RPM): Limit 3, Used 3." % model,
                "requests", "rate_limit_exceeded"), headers=[("Retry-After", "1")])
        elif mode == "server_error":
            self.send_json(500, error_body(
                "The server had an error while processing your request. Sorry about that!",
                "server_error"))
        elif mode == "auth":
            # Echoes the key it got, as a careless server might: clients must scrub it.
            got = (self.headers.get("Authorization") or "").replace("Bearer ", "", 1)
            self.send_json(401, error_body("Incorrect API key provided: %s." % got,
                                           code="invalid_api_key"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key", default="sk-test")
    ap.add_argument("--model", default="gpt-4o-mini")
    ap.add_argument("--answer", default="")
    ap.add_argument("--mode", default="good", choices=MODES)
    ap.add_argument("--llava", action="store_true", help="no Authorization required")
    ap.add_argument("--slow-seconds", type=float, default=10.0)
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = ap.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)
    sys.stdout.write("PORT %d\n" % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
