# SPDX-License-Identifier: MIT
"""The OpenAPI document (api/openapi.json, served at /openapi.json) and the Swagger UI at /docs/
against the real server: one server on the fake provider answers every documented route and
every error status that can be brought about from outside, and each real answer (status,
content type, headers, body) is validated against what the document says for that route and
status (JSON Schema 2020-12, the document's components resolvable). The route table in
src/http/server.c and the document's paths must name the same routes."""
import http.client
import io
import json
import re
import socket
import time
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
from jsonschema import Draft202012Validator, FormatChecker, RefResolver
from PIL import Image

import ghhttp as G

DOC_FILE = G.REPO / "api" / "openapi.json"
SERVER_C = G.REPO / "src" / "http" / "server.c"
ANALYZE = "/api/v1/analyze"
IDENTS = "/api/v1/identifications"

# Paths served from the files compiled into the binary rather than by the route table.
STATIC = {"/": {"get"}, "/openapi.json": {"get"}, "/docs/": {"get"}}
# The Swagger UI files /docs/ must load, and their types.
DOCS_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
              "init.js": "text/javascript"}

# Every documented (route, status) must be answered and validated by this module's tests (the
# shared 503 response aside: a store that fails, memory that runs out and a full analysis
# queue are tests/http/test_paths.py's). Doc.seen collects them; the doc fixture checks the
# set once every test of the module has run, in whatever order.


# --- the document ----------------------------------------------------------------------------

class Doc:
    def __init__(self, doc):
        self.doc = doc
        self.resolver = RefResolver.from_schema(doc)
        self.seen = set()  # (path, method, status) validated so far
        self.ran = set()   # node ids of the module's tests that ran

    def deref(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            obj = self.resolver.resolve(obj["$ref"])[1]
        return obj

    def validator(self, schema):
        return Draft202012Validator(schema, resolver=self.resolver, format_checker=FormatChecker())

    def validate(self, instance, schema, what):
        errors = sorted(self.validator(schema).iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, "%s does not match the document:\n%s\n--- instance:\n%s" % (
            what, "\n".join("at /%s: %s" % ("/".join(map(str, e.absolute_path)), e.message)
                            for e in errors[:10]), json.dumps(instance)[:2000])

    def operation(self, path, method):
        assert path in self.doc["paths"], "%s is not in the document" % path
        ops = self.doc["paths"][path]
        assert method in ops, "%s %s is not in the document" % (method.upper(), path)
        return ops[method]

    def check(self, r, path, method, status=None, code=None):
        """Validates response r of METHOD path against the document and returns its body
        (parsed JSON for JSON types, text for text types, b"" when none)."""
        if status is not None:
            assert r.status == status, r
        op = self.operation(path, method)
        key = str(r.status)
        assert key in op["responses"], "%s %s answered %s, which the document does not list: %r" \
            % (method.upper(), path, r.status, r)
        self.seen.add((path, method, key))
        resp = self.deref(op["responses"][key])
        what = "%s %s -> %s" % (method.upper(), path, r.status)
        for name, h in resp.get("headers", {}).items():
            h = self.deref(h)
            value = r.header(name)
            if h.get("required"):
                assert value is not None, "%s lacks header %s: %s" % (what, name, dict(r.headers))
            if value is not None:
                self.validate(value, h["schema"], "%s header %s" % (what, name))
        content = resp.get("content")
        if not content:
            assert r.body == b"", what
            return b""
        actual = media_type(r.header("Content-Type") or "")
        keys = [k for k in content if media_type(k) == actual]
        assert keys, "%s has Content-Type %r; the document says %s" % (
            what, r.header("Content-Type"), list(content))
        schema = content[keys[0]]["schema"]
        if actual[0].endswith("json"):
            body = r.json()
        else:
            body = r.body.decode("utf-8")
        self.validate(body, schema, what)
        if actual[0] == "application/problem+json":
            assert body["request_id"] == r.header("X-Request-ID"), (body, dict(r.headers))
            if code is not None:
                assert body["code"] == code, body
        return body


def media_type(value):
    """(type, {param: value}) of a Content-Type, lower-cased, for comparing."""
    parts = [p.strip() for p in value.split(";") if p.strip()]
    params = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        params[k.strip().lower()] = v.strip().strip('"').lower()
    return (parts[0].lower() if parts else "", tuple(sorted(params.items())))


def template(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def server_routes():
    """{(path template, method)} of src/http/server.c's routes[] table (HEAD left out: it
    goes with GET)."""
    text = SERVER_C.read_text()
    m = re.search(r"static const struct route routes\[\]\s*=\s*\{(.*?)\n\};", text, re.S)
    assert m, "no routes[] table in %s" % SERVER_C
    rx = re.compile(r'\{\s*"(/[^"]*)"\s*,\s*([01])\s*,\s*"([^"]*)"\s*,\s*(\w+)\s*,\s*(\w+)\s*'
                    r'(?:,\s*("[^"]*"|NULL)\s*)?(?:,\s*\d\s*)?\}')
    out = set()
    for path, prefix, allow, _get, _post, suffix in rx.findall(m.group(1)):
        if prefix == "1":
            path += "{}" + (suffix.strip('"') if suffix and suffix != "NULL" else "")
        for method in allow.split(","):
            method = method.strip().lower()
            if method and method != "head":
                out.add((path, method))
    assert out, "could not read the routes[] entries of %s" % SERVER_C
    return out


def server_subtrees():
    """{path: {methods}} of the table's subtree routes (GH_ROUTE_SUBTREE: the path and all
    below it, routed by their handler)."""
    text = SERVER_C.read_text()
    rx = re.compile(r'\{\s*"(/[^"]*)"\s*,\s*GH_ROUTE_SUBTREE\s*,\s*"([^"]*)"')
    return {path: {m.strip().lower() for m in allow.split(",")} - {"head"}
            for path, allow in rx.findall(text)}


# --- fixtures --------------------------------------------------------------------------------

pytestmark = pytest.mark.usefixtures("fresh_fake")  # fake: tests/http/conftest.py


@pytest.fixture(scope="module")
def doc(request):
    """The document; after the module's last test, checks that every documented status was
    seen, when the whole module ran (a -k subset cannot see them all)."""
    d = Doc(json.loads(DOC_FILE.read_text()))
    yield d
    module = request.node
    selected = {i.nodeid for i in request.session.items if i.path == module.path}
    collected = {i.nodeid for i in module.collect()}
    if collected and selected == collected == d.ran:
        missing = documented_statuses(d) - d.seen
        assert not missing, "documented but never seen: %s" % sorted(missing)


@pytest.fixture(autouse=True)
def _count_run(request, doc):
    yield
    doc.ran.add(request.node.nodeid)


def documented_statuses(d):
    """{(path, method, status)} the document lists, the shared 503 response left out."""
    shared_503 = "#/components/responses/ServiceUnavailable"
    want = set()
    for path, ops in d.doc["paths"].items():
        for method, op in ops.items():
            for status, resp in op["responses"].items():
                if resp.get("$ref") != shared_503:
                    want.add((path, method, status))
    return want


@pytest.fixture(scope="module")
def server(module_procs, binary, fake):
    """Short provider timeout (504 in a second), no retries (502 at once), a 1 MB upload limit
    (413 cheaply)."""
    return module_procs.server(binary, provider=fake, args=[
        "--provider-timeout-ms", "1000", "--provider-retries", "0", "--max-upload-mb", "1"])


def raw_response(data):
    """A G.Response from raw HTTP/1.1 response bytes (one response, Content-Length framed)."""
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, _, header_bytes = head.partition(b"\r\n")
    headers = http.client.parse_headers(io.BytesIO(header_bytes + b"\r\n\r\n"))
    n = int(headers.get("Content-Length", len(body)))
    return G.Response(int(status_line.split()[1]), headers, body[:n], 0.0)


def declared_too_big(port, path, length):
    """Headers of a POST declaring a body over the limit, and nothing else: the server answers
    413 from the headers."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\n"
                  b"Content-Length: %d\r\n\r\n" % (path.encode(), length))
        data = b""
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if b"\r\n\r\n" in data:
                r = raw_response(data)
                if len(r.body) >= int(r.header("Content-Length") or 0):
                    return r
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                c = s.recv(65536)
            except socket.timeout:
                break
            if not c:
                break
            data += c
        return raw_response(data)
    finally:
        s.close()


def reencode(data, quality=80):
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def post_json(s, path, body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return s.request("POST", path, data, {"Content-Type": "application/json"})


# --- the document itself ---------------------------------------------------------------------

def test_served_document_is_the_file_and_valid(server, doc):
    r = server.get("/openapi.json")
    served = doc.check(r, "/openapi.json", "get", 200)
    assert served == doc.doc, "/openapi.json is not api/openapi.json: rebuild"
    assert served["openapi"] == "3.1.0"
    # revalidation
    doc.check(server.get("/openapi.json", headers={"If-None-Match": r.header("ETag")}),
              "/openapi.json", "get", 304)
    # every schema is a valid 2020-12 schema, and every $ref resolves
    for name, schema in doc.doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)

    def refs(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    yield v
                else:
                    yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)
    for ref in set(refs(doc.doc)):
        assert doc.resolver.resolve(ref)[1] is not None, ref
    # every operation: an id, the request-id parameter, a 405, X-Request-ID on every answer
    ids = []
    for path, ops in doc.doc["paths"].items():
        for method, op in ops.items():
            ids.append(op["operationId"])
            assert "405" in op["responses"], (path, method)
            for status, resp in op["responses"].items():
                assert "X-Request-ID" in doc.deref(resp).get("headers", {}), (path, method, status)
                for media, body in doc.deref(resp).get("content", {}).items():
                    if media.endswith("json"):
                        assert "schema" in body, (path, method, status)
    assert len(ids) == len(set(ids)), "operationIds repeat"
    # the version is the binary's
    health = server.get("/health").json()
    assert doc.doc["info"]["version"] == health["version"], \
        "bump info.version of api/openapi.json to %s" % health["version"]


def test_route_table_and_document_agree(server, doc):
    routes = server_routes()
    documented = {(template(p), m) for p, ops in doc.doc["paths"].items() for m in ops
                  if p not in STATIC}
    # a documented path below a subtree route is served when the subtree takes its method
    for path, methods in server_subtrees().items():
        routes |= {(p, m) for p, m in documented
                   if (p == path or p.startswith(path + "/")) and m in methods}
    assert documented - routes == set(), \
        "documented, but not in src/http/server.c's routes[]: %s" % sorted(documented - routes)
    assert routes - documented == set(), \
        "in src/http/server.c's routes[], but not documented: %s" % sorted(routes - documented)
    assert set(STATIC) <= set(doc.doc["paths"])


# --- routes, each status ---------------------------------------------------------------------

def test_health_and_cache_stats(server, doc):
    for path in ("/health", "/api/v1/health"):
        body = doc.check(server.get(path), path, "get", 200)
        assert body["status"] == "ok"
        r = server.request("HEAD", path)
        assert r.status == 200 and r.body == b"" and r.header("X-Request-ID"), r
    doc.check(server.get("/api/v1/cache/stats"), "/api/v1/cache/stats", "get", 200)
    doc.check(server.get("/api/v1/quality?precision=0.9"), "/api/v1/quality", "get", 200)
    doc.check(server.get("/api/v1/quality?precision=0"), "/api/v1/quality", "get", 400,
              "invalid_parameter")


def test_equipment(server, doc):
    full = doc.check(server.get("/api/v1/equipment"), "/api/v1/equipment", "get", 200)
    assert full["count"] == len(full["equipment"]) > 0
    # the built-in catalogue has exactly the documented members (others only pass through
    # from a --catalogue file)
    props = set(doc.doc["components"]["schemas"]["Equipment"]["properties"])
    for e in full["equipment"]:
        assert set(e) == props, (e["slug"], set(e) ^ props)
    for query in ("category=free_weights", "muscle=glutes", "q=bar", "q=zzzz-nothing"):
        body = doc.check(server.get("/api/v1/equipment?" + query), "/api/v1/equipment", "get",
                         200)
        assert body["count"] == len(body["equipment"])
    path = "/api/v1/equipment/{id}"
    for ident in ("barbell", "11"):
        doc.check(server.get("/api/v1/equipment/" + ident), path, "get", 200)
    doc.check(server.get("/api/v1/equipment/no-such-thing"), path, "get", 404,
              "equipment_not_found")
    doc.check(server.get("/api/v1/equipment/9999"), path, "get", 404, "equipment_not_found")


def test_exercises(server, doc):
    path = "/api/v1/exercises"
    full = doc.check(server.get(path), path, "get", 200)
    assert full["count"] == len(full["exercises"]) >= 150
    props = set(doc.doc["components"]["schemas"]["Exercise"]["properties"])
    assert all(set(x) == props for x in full["exercises"])
    for query in ("equipment=cable-column", "muscle=glutes", "pattern=hinge", "measure=time",
                  "q=Bench%20Press%20(Barbell)", "q=zzzz-nothing", "pattern="):
        body = doc.check(server.get(path + "?" + query), path, "get", 200)
        assert body["count"] == len(body["exercises"])
    for query in ("equipment=flux-capacitor", "muscle=calf", "pattern=lunge", "measure=kg",
                  "q=" + "x" * 101):
        doc.check(server.get(path + "?" + query), path, "get", 400, "invalid_parameter")
    one = path + "/{slug}"
    doc.check(server.get(path + "/barbell-bench-press"), one, "get", 200)
    doc.check(server.get(path + "/no-such-exercise"), one, "get", 404, "exercise_not_found")


def test_analyze_answers(server, fake, doc, photos):
    body = doc.check(server.analyze(photos[0], query="top_k=2"), ANALYZE, "post", 200)
    assert body["cached"] is False and body["identified"] is True
    assert body["identification_id"] == body["request_id"]
    hit = doc.check(server.analyze(photos[0], raw=True), ANALYZE, "post", 200)
    assert hit["cached"] is True and hit["cache"]["layer"] in ("memory", "exact")
    near = doc.check(server.analyze(reencode(photos[0]), ctype=None, raw=True,
                                    headers={"Content-Type": "application/octet-stream"}),
                     ANALYZE, "post", 200)
    assert near["cached"] is True and near["cache"]["layer"] == "near"
    fake.control(mode="unknown_slug")
    unsure = doc.check(server.analyze(photos[1], query="nocache=true&top_k=0"), ANALYZE, "post",
                       200)
    assert unsure["identified"] is False and unsure["equipment"] is None
    assert unsure["alternatives"] == []
    # a request id of the client's is echoed
    r = server.analyze(photos[2], headers={"X-Request-ID": "openapi-test.1"})
    assert doc.check(r, ANALYZE, "post", 200)["request_id"] == "openapi-test.1"


BAD_ANALYZE = [
    # (name, query, body, headers, status, code)
    ("top_k", "top_k=9", "PHOTO", "image/jpeg", 400, "invalid_parameter"),
    ("nocache", "nocache=maybe", "PHOTO", "image/jpeg", 400, "invalid_parameter"),
    ("provider", "provider=dall-e", "PHOTO", "image/jpeg", 400, "invalid_parameter"),
    ("empty body", "", b"", "image/jpeg", 400, "empty_body"),
    ("no file field", "", "FORM:other", None, 400, "missing_file"),
    ("empty file", "", "FORM:empty", None, 400, "empty_file"),
    ("bad multipart", "", b"not multipart\r\n", "multipart/form-data; boundary=b", 400,
     "malformed_multipart"),
    ("text/plain", "", "PHOTO", "text/plain", 415, "unsupported_media_type"),
    ("PNG as JPEG", "", "PNG", "image/jpeg", 415, "type_mismatch"),
    ("truncated", "", "HALF", "image/jpeg", 422, "undecodable_image"),
    ("too small", "", "TINY", "image/jpeg", 422, "image_dimensions_out_of_range"),
    ("other provider", "provider=llava", "PHOTO", "image/jpeg", 503, "provider_unavailable"),
]


def test_analyze_errors(server, doc, photos):
    for name, query, body, ctype, status, code in BAD_ANALYZE:
        headers = {"Content-Type": ctype} if ctype else {}
        if body == "PHOTO":
            body = photos[3]
        elif body == "PNG":
            body = G.solid(100, 100, "PNG")
        elif body == "HALF":
            body = photos[3][:len(photos[3]) // 2]
        elif body == "TINY":
            body = G.solid(30, 30, "JPEG")
        elif body == "FORM:other":
            body, headers["Content-Type"] = G.multipart([("other", "p.jpg", None, photos[3])])
        elif body == "FORM:empty":
            body, headers["Content-Type"] = G.multipart([("file", "p.jpg", "image/jpeg", b"")])
        r = server.request("POST", ANALYZE + ("?" + query if query else ""), body, headers)
        try:
            doc.check(r, ANALYZE, "post", status, code)
        except AssertionError as e:
            raise AssertionError("%s: %s" % (name, e)) from None
    r = declared_too_big(server.port, ANALYZE, 2_000_000)
    doc.check(r, ANALYZE, "post", 413, "payload_too_large")


def test_analyze_provider_failures(server, fake, doc, photos):
    fake.control(mode="server_error")
    doc.check(server.analyze(photos[4]), ANALYZE, "post", 502, "provider_error")
    fake.control(mode="slow", slow_seconds=3)
    doc.check(server.analyze(photos[5]), ANALYZE, "post", 504, "provider_timeout")


def test_identifications_and_feedback(server, fake, doc, photos):
    first = server.analyze(photos[6]).json()
    server.analyze(photos[6])  # a cache hit, recorded too
    rid = first["identification_id"]
    page = doc.check(server.get(IDENTS + "?limit=1"), IDENTS, "get", 200)
    assert len(page["items"]) == 1 and page["items"][0]["cached"] is True
    older = doc.check(server.get(IDENTS + "?limit=100&before=%d" % page["next_before"]),
                      IDENTS, "get", 200)
    assert older["next_before"] is None and older["items"]
    for query in ("limit=0", "limit=101", "limit=x", "before=-1"):
        doc.check(server.get(IDENTS + "?" + query), IDENTS, "get", 400, "invalid_parameter")
    one = IDENTS + "/{id}"
    rec = doc.check(server.get(IDENTS + "/" + rid), one, "get", 200)
    assert rec["request_id"] == rid and rec["cached"] is False and rec["corrected"] is False
    assert doc.check(server.get(IDENTS + "/%d" % rec["id"]), one, "get", 200) == rec
    doc.check(server.get(IDENTS + "/999999"), one, "get", 404, "identification_not_found")
    doc.check(server.get(IDENTS + "/no-such-request"), one, "get", 404,
              "identification_not_found")

    fb = IDENTS + "/{id}/feedback"
    url = IDENTS + "/%s/feedback" % rid
    doc.check(post_json(server, url, b"{not json"), fb, "post", 400, "invalid_json")
    doc.check(post_json(server, url, {"name": "barbell"}), fb, "post", 400, "invalid_json")
    doc.check(post_json(server, url, {"slug": "flux-capacitor"}), fb, "post", 422,
              "unknown_equipment")
    doc.check(post_json(server, IDENTS + "/999999/feedback", {"slug": "barbell"}), fb, "post",
              404, "identification_not_found")
    doc.check(declared_too_big(server.port, url, 2_000_000), fb, "post", 413,
              "payload_too_large")
    doc.check(server.request("POST", url, b"slug=barbell",
                             {"Content-Type": "application/x-www-form-urlencoded"}),
              fb, "post", 415, "unsupported_media_type")
    fixed = doc.check(post_json(server, url, {"slug": "squat-rack"}), fb, "post", 200)
    assert fixed["identification"]["corrected"] is True
    assert fixed["equipment"]["slug"] == "squat-rack"
    again = doc.check(server.analyze(photos[6]), ANALYZE, "post", 200)
    assert again["corrected"] is True and again["equipment"]["slug"] == "squat-rack"
    # the statistics with a cache that holds something
    stats = doc.check(server.get("/api/v1/cache/stats"), "/api/v1/cache/stats", "get", 200)
    assert stats["entries"] > 0 and stats["oldest"] and stats["layers"]["memory"]["hits"] > 0


def test_metrics(server, doc):
    text = doc.check(server.get("/metrics"), "/metrics", "get", 200)
    sample = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eEInfNa]+( -?[0-9]+)?$")
    for line in text.splitlines():
        assert not line or line.startswith("#") or sample.match(line), line


def test_docs_page_and_its_files(server, doc):
    r = server.get("/docs/")
    html = doc.check(r, "/docs/", "get", 200)
    doc.check(server.get("/docs/", headers={"If-None-Match": r.header("ETag")}), "/docs/",
              "get", 304)

    class Refs(HTMLParser):
        refs = []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "script" and a.get("src"):
                self.refs.append(a["src"])
            if tag == "link" and a.get("href"):
                self.refs.append(a["href"])
    p = Refs()
    p.feed(html)
    names = {ref.rsplit("/", 1)[-1] for ref in p.refs}
    assert set(DOCS_FILES) <= names, p.refs
    for ref in p.refs:
        assert not re.match(r"^([a-z]+:)?//", ref), "the page loads %s from elsewhere" % ref
        f = server.get(urljoin("/docs/", ref))
        assert f.status == 200, (ref, f)
        want = DOCS_FILES.get(ref.rsplit("/", 1)[-1])
        if want:
            assert f.content_type == want, (ref, f.content_type)
        assert f.header("ETag") and f.header("X-Request-ID"), (ref, dict(f.headers))
    bundle = server.get("/docs/swagger-ui-bundle.js").body
    assert b"SwaggerUIBundle" in bundle and len(bundle) > 500_000
    init = server.get("/docs/init.js").body.decode()
    assert "../openapi.json" in init and "SwaggerUIBundle(" in init
    assert not re.search(r"https?://", init)
    # the web app at / is HTML too
    r = server.get("/")
    doc.check(r, "/", "get", 200)
    doc.check(server.get("/", headers={"If-None-Match": r.header("ETag")}), "/", "get", 304)


AUTH = "/api/v1/auth/"


def test_accounts(procs, binary, doc, run_gymhelper, tmp_path):
    """The accounts routes on a server with AUTH_MODE=required and sign-up allowed."""
    url = "sqlite:///%s" % (tmp_path / "accounts.db")
    r = run_gymhelper(binary, "user", "add", "oa", "--password-stdin", "--database-url", url,
                      input=b"oa-password-1\n")
    assert r.returncode == 0, r
    s = procs.server(binary, args=["--database-url", url, "--auth-mode", "required",
                                   "--allow-signup", "true"],
                     env={"LOGIN_MAX_FAILURES": "2"})
    login = AUTH + "login"
    doc.check(post_json(s, login, {"username": "oa"}), login, "post", 400, "invalid_json")
    doc.check(s.request("POST", login, b"{}", {"Content-Type": "text/plain"}), login, "post",
              415, "unsupported_media_type")
    signed = doc.check(post_json(s, login, {"username": "oa", "password": "oa-password-1"}),
                       login, "post", 200)
    doc.check(post_json(s, login, {"username": "oa", "password": "wrong"}), login, "post", 401,
              "unauthorized")
    refresh = AUTH + "refresh"
    doc.check(post_json(s, refresh, {}), refresh, "post", 400, "invalid_json")
    rotated = doc.check(post_json(s, refresh, {"refresh_token": signed["refresh_token"]}),
                        refresh, "post", 200)
    me = doc.check(s.get("/api/v1/me", {"Authorization": "Bearer " + rotated["access_token"]}),
                   "/api/v1/me", "get", 200)
    assert me["kind"] == "user"
    logout = AUTH + "logout"
    doc.check(post_json(s, logout, {"refresh_token": rotated["refresh_token"]}), logout, "post",
              204)
    doc.check(post_json(s, refresh, {"refresh_token": signed["refresh_token"]}), refresh, "post",
              401, "unauthorized")
    reg = AUTH + "register"
    r = post_json(s, reg, {"username": "ob", "password": "ob-password-1", "use_cookie": True})
    doc.check(r, reg, "post", 201)
    jar = {"Cookie": r.header("Set-Cookie").split(";")[0]}
    cross = dict(jar, **{"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"})
    for path in (refresh, logout):  # the cookie only from this origin's JSON requests
        doc.check(s.request("POST", path, b"", jar), path, "post", 415, "unsupported_media_type")
        doc.check(s.request("POST", path, b"{}", cross), path, "post", 403, "forbidden")
    doc.check(post_json(s, reg, {"username": "ob", "password": "ob-password-1"}), reg, "post",
              409, "username_taken")
    doc.check(post_json(s, reg, {"username": "o b", "password": "ob-password-1"}), reg, "post",
              422, "invalid_account")
    cfg = doc.check(s.get(AUTH + "config"), AUTH + "config", "get", 200)
    assert cfg == {"mode": "required", "signup": True, "access_token_ttl": 900,
                   "session_cookie": False}
    off = procs.server(binary, args=["--database-url", url, "--auth-mode", "required"])
    doc.check(post_json(off, reg, {"username": "oc", "password": "oc-password-1"}), reg, "post",
              403, "forbidden")
    doc.check(post_json(s, login, {"username": "oa", "password": "wrong"}), login, "post", 401,
              "unauthorized")
    doc.check(post_json(s, login, {"username": "oa", "password": "wrong"}), login, "post", 429,
              "rate_limited")


CORR = "/api/v1/corrections"


def test_corrections_review(procs, binary, fake, doc, photos, run_gymhelper, tmp_path):
    """The review routes on a server with AUTH_MODE=required: a user's correction, listed and
    judged by an admin."""
    url = "sqlite:///%s" % (tmp_path / "review.db")
    for name, role in (("ou", "user"), ("oadm", "admin")):
        r = run_gymhelper(binary, "user", "add", name, "--role", role, "--password-stdin",
                          "--database-url", url, input=(name + "-password-1\n").encode())
        assert r.returncode == 0, r
    s = procs.server(binary, provider=fake, args=["--database-url", url, "--auth-mode",
                                                  "required", "--cache-ttl-seconds", "6",
                                                  "--lru-entries", "0"])
    tok = {}
    for name in ("ou", "oadm"):
        r = post_json(s, AUTH + "login", {"username": name, "password": name + "-password-1"})
        tok[name] = {"Authorization": "Bearer " + r.json()["access_token"]}
    votes = []
    for photo in photos[7:9]:
        a = s.analyze(photo, headers=tok["ou"]).json()
        r = s.request("POST", IDENTS + "/%s/feedback" % a["identification_id"],
                      json.dumps({"slug": "squat-rack"}).encode(),
                      dict(tok["ou"], **{"Content-Type": "application/json"}))
        votes.append(doc.check(r, IDENTS + "/{id}/feedback", "post", 200)["correction"])
    assert [v["status"] for v in votes] == ["pending", "pending"]
    doc.check(s.get(CORR), CORR, "get", 401, "unauthorized")
    doc.check(s.get(CORR, tok["ou"]), CORR, "get", 403, "forbidden")
    page = doc.check(s.get(CORR + "?status=pending&limit=1", tok["oadm"]), CORR, "get", 200)
    assert page["items"][0]["id"] == votes[1]["id"] and page["next"] == votes[1]["id"]
    doc.check(s.get(CORR + "?status=maybe", tok["oadm"]), CORR, "get", 400, "invalid_parameter")
    for verb in ("accept", "reject"):
        path = CORR + "/{id}/" + verb
        url1 = "%s/%d/%s" % (CORR, votes[0]["id"], verb)
        doc.check(s.request("POST", url1, None), path, "post", 401, "unauthorized")
        doc.check(s.request("POST", url1, None, tok["ou"]), path, "post", 403, "forbidden")
        doc.check(s.request("POST", "%s/999999/%s" % (CORR, verb), None, tok["oadm"]), path,
                  "post", 404, "correction_not_found")
    # judged while the photos' answers are cached (6 s)
    acc = CORR + "/{id}/accept"
    rej = CORR + "/{id}/reject"
    done = doc.check(s.request("POST", "%s/%d/accept" % (CORR, votes[0]["id"]), None,
                               tok["oadm"]), acc, "post", 200)
    assert done["status"] == "accepted", done
    doc.check(s.request("POST", "%s/%d/reject" % (CORR, votes[0]["id"]), None, tok["oadm"]),
              rej, "post", 409, "conflict")
    done = doc.check(s.request("POST", "%s/%d/reject" % (CORR, votes[1]["id"]), None,
                               tok["oadm"]), rej, "post", 200)
    assert done["status"] == "rejected", done
    # once the photo's answer expired, accepting cannot build the shared answer
    deadline = time.monotonic() + 60
    while s.get("/api/v1/cache/stats", tok["oadm"]).json()["live_entries"] > 0:
        assert time.monotonic() < deadline, "the entries did not expire"
        time.sleep(0.2)
    doc.check(s.request("POST", "%s/%d/accept" % (CORR, votes[1]["id"]), None, tok["oadm"]),
              acc, "post", 409, "conflict")


def test_security_is_documented_and_enforced(procs, binary, fake, doc, photos, run_gymhelper,
                                            tmp_path):
    """With AUTH_MODE=required an operation answers a request without credentials 401 exactly
    when the document gives it a security requirement (bearer JWT or API key, and {} for open
    mode), and every documented 403 is brought about. The requests come through a trusted proxy
    for a client off loopback, which /metrics does not answer anonymously."""
    url = "sqlite:///%s" % (tmp_path / "security.db")
    for name, role in (("su", "user"), ("sadm", "admin")):
        r = run_gymhelper(binary, "user", "add", name, "--role", role, "--password-stdin",
                          "--database-url", url, input=(name + "-password-1\n").encode())
        assert r.returncode == 0, r
    r = run_gymhelper(binary, "key", "create", "--name", "scripts", "--scope", "analyze",
                      "--user", "su", "--database-url", url)
    assert r.returncode == 0, r
    key = re.search(r"\bgh_[A-Za-z0-9_-]{43}\b", r.stdout).group(0)
    s = procs.server(binary, provider=fake, args=["--database-url", url, "--auth-mode", "required"],
                     env={"TRUSTED_PROXIES": "127.0.0.1"})
    away = {"X-Forwarded-For": "203.0.113.9"}
    tok = {}
    for name in ("su", "sadm"):
        r = post_json(s, AUTH + "login", {"username": name, "password": name + "-password-1"})
        tok[name] = dict(away, Authorization="Bearer " + r.json()["access_token"])
    schemes = doc.doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == dict(schemes["bearerAuth"], type="http", scheme="bearer",
                                         bearerFormat="JWT")
    assert schemes["apiKey"] == dict(schemes["apiKey"], type="apiKey", name="X-API-Key")
    for path, ops in doc.doc["paths"].items():
        for method, op in ops.items():
            sec = op.get("security")
            headers, body = dict(away), None
            if method == "post":
                headers["Content-Type"], body = "application/json", b"{}"
            if path == ANALYZE:
                headers["Content-Type"], body = "image/jpeg", photos[0]
            r = s.request(method.upper(), path.replace("{id}", "1").replace("{slug}", "barbell"),
                          body, headers)
            if sec is None:
                assert r.status != 401, (path, method, r)
                continue
            assert sec == [{"bearerAuth": []}, {"apiKey": []}, {}], (path, method, sec)
            doc.check(r, path, method, 401, "unauthorized")
            bad = dict(headers, Authorization="Bearer not-a-token")
            r = s.request(method.upper(), path.replace("{id}", "1"), body, bad)
            doc.check(r, path, method, 401, "unauthorized")
    # the 403s: a user's nocache, a key without the scope, another user's history, /metrics
    doc.check(s.analyze(photos[1], query="nocache=true", headers=tok["su"]), ANALYZE, "post", 403,
              "forbidden")
    a = s.analyze(photos[1], headers=dict(away, **{"X-API-Key": key}))
    assert a.status == 200, a
    fb = IDENTS + "/{id}/feedback"
    doc.check(s.request("POST", "%s/%s/feedback" % (IDENTS, a.json()["identification_id"]),
                        b'{"slug": "squat-rack"}',
                        dict(away, **{"X-API-Key": key, "Content-Type": "application/json"})),
              fb, "post", 403, "forbidden")
    doc.check(s.get(IDENTS + "?user=sadm", tok["su"]), IDENTS, "get", 403, "forbidden")
    doc.check(s.get(IDENTS + "?user=nobody", tok["sadm"]), IDENTS, "get", 404, "user_not_found")
    doc.check(s.get("/metrics", tok["su"]), "/metrics", "get", 403, "forbidden")
    assert s.get("/metrics", tok["sadm"]).status == 200
    # the workout log, plans and share links: the analyze key lacks the `workouts` scope
    family = ("/api/v1/gyms", "/api/v1/workouts", "/api/v1/progress", "/api/v1/exports",
              "/api/v1/imports", "/api/v1/plans", "/api/v1/shares")
    for path, ops in doc.doc["paths"].items():
        if not any(path == f or path.startswith(f + "/") for f in family):
            continue
        url = re.sub(r"\{[a-z_]+\}", "1", path.replace("{slug}", "barbell"))
        for method in ops:
            r = s.request(method.upper(), url, b"{}" if method in ("post", "patch") else None,
                          dict(away, **{"X-API-Key": key, "Content-Type": "application/json"}))
            doc.check(r, path, method, 403, "forbidden")


def test_json_bodies_over_16_kb_are_the_documented_413(server, doc):
    """Every JSON route's body is capped at 16 KB, refused from Content-Length."""
    big = json.dumps({"notes": "a" * 17000}).encode()
    for path, ops in doc.doc["paths"].items():
        for method, op in ops.items():
            if "requestBody" not in op or path in ("/api/v1/analyze", "/api/v1/imports"):
                continue
            url = re.sub(r"\{[a-z_]+\}", "1", path)
            r = server.request(method.upper(), url, big, {"Content-Type": "application/json"})
            doc.check(r, path, method, 413, "payload_too_large")


def test_plans_and_shares(server, doc):
    """Plans and share links (open mode: the local user), each documented status."""
    gen = "/api/v1/plans/generate"
    body = {"client_id": "openapi-plan-1", "goal": "muscle", "days_per_week": 3,
            "equipment": ["dumbbell", "weight-bench"]}
    plan = doc.check(post_json(server, gen, body), gen, "post", 201)
    doc.check(post_json(server, gen, body), gen, "post", 200)
    doc.check(post_json(server, gen, {"goal": "bulk", "days_per_week": 3, "equipment": []}), gen,
              "post", 400, "invalid_field")
    doc.check(post_json(server, gen, b"[1"), gen, "post", 400, "invalid_json")
    doc.check(post_json(server, gen, {"goal": "muscle", "days_per_week": 3, "gym_id": 987654}),
              gen, "post", 404, "gym_not_found")
    doc.check(post_json(server, gen, {"goal": "muscle", "days_per_week": 3,
                                      "equipment": ["laser-sword"]}), gen, "post", 422,
              "unknown_equipment")
    doc.check(server.request("POST", gen, b"goal=muscle", {"Content-Type": "text/plain"}), gen,
              "post", 415, "unsupported_media_type")
    doc.check(server.get("/api/v1/plans"), "/api/v1/plans", "get", 200)
    one = "/api/v1/plans/{id}"
    doc.check(server.get("/api/v1/plans/%d" % plan["id"]), one, "get", 200)
    doc.check(server.get("/api/v1/plans/987654"), one, "get", 404, "plan_not_found")
    start = "/api/v1/plans/{id}/days/{n}/start"
    url = "/api/v1/plans/%d/days/1/start" % plan["id"]
    doc.check(post_json(server, url, {"client_id": "openapi-start-1"}), start, "post", 201)
    doc.check(post_json(server, url, {"client_id": "openapi-start-1"}), start, "post", 200)
    doc.check(post_json(server, url, {}), start, "post", 400, "invalid_field")
    doc.check(post_json(server, "/api/v1/plans/%d/days/9/start" % plan["id"],
                        {"client_id": "openapi-start-2"}),
              start, "post", 404, "plan_day_not_found")
    doc.check(server.request("POST", url, b"x", {"Content-Type": "text/plain"}), start, "post",
              415, "unsupported_media_type")
    shares = "/api/v1/shares"
    link = doc.check(post_json(server, shares, {"kind": "plan", "id": plan["id"]}), shares, "post",
                     201)
    doc.check(post_json(server, shares, {"kind": "gym", "id": 1}), shares, "post", 400,
              "invalid_field")
    doc.check(post_json(server, shares, {"kind": "workout", "id": 987654}), shares, "post", 404,
              "workout_not_found")
    doc.check(server.request("POST", shares, b"x", {"Content-Type": "text/plain"}), shares, "post",
              415, "unsupported_media_type")
    doc.check(server.get(shares), shares, "get", 200)
    shared = "/api/v1/shared/{token}"
    doc.check(server.get("/api/v1/shared/" + link["token"]), shared, "get", 200)
    revoke = "/api/v1/shares/{token}"
    doc.check(server.request("DELETE", "/api/v1/shares/" + link["token"]), revoke, "delete", 204)
    doc.check(server.request("DELETE", "/api/v1/shares/" + link["token"]), revoke, "delete", 404,
              "share_not_found")
    doc.check(server.get("/api/v1/shared/" + link["token"]), shared, "get", 404, "share_not_found")
    doc.check(server.request("DELETE", "/api/v1/plans/%d" % plan["id"]), one, "delete", 204)
    doc.check(server.request("DELETE", "/api/v1/plans/%d" % plan["id"]), one, "delete", 404,
              "plan_not_found")


def test_every_path_answers_405_with_its_methods(server, doc):
    failures = []
    for path, ops in doc.doc["paths"].items():
        wrong = next(m for m in ("DELETE", "PUT", "PATCH", "GET", "POST") if m.lower() not in ops)
        r = server.request(wrong, path.replace("{id}", "x1"))
        try:
            for method in ops:  # the one answer is each operation's documented 405
                doc.check(r, path, method, 405, "method_not_allowed")
            allowed = {m.strip().lower() for m in r.header("Allow").split(",")} - {"head"}
            assert allowed == set(ops), "Allow: %s" % r.header("Allow")
        except AssertionError as e:
            failures.append("%s %s: %s" % (wrong, path, str(e).splitlines()[0]))
    assert not failures, "\n".join(failures)


def test_an_unknown_path_is_the_documented_404(server, doc):
    r = server.get("/api/v1/no-such-thing")
    resp = doc.deref(doc.doc["components"]["responses"]["NotFound"])
    assert r.status == 404 and r.content_type == "application/problem+json", r
    doc.validate(r.json(), resp["content"]["application/problem+json"]["schema"], "404")
    doc.validate(r.header("X-Request-ID"), doc.deref(resp["headers"]["X-Request-ID"])["schema"],
                 "404 X-Request-ID")


def test_every_limited_path_answers_the_documented_429(procs, binary, doc):
    """A client whose request bucket is spent gets the documented 429 on every route but health
    and metrics, decided from the headers."""
    s = procs.server(binary, env={"RATE_LIMIT_REQUESTS_PER_MINUTE": "1",
                                  "RATE_LIMIT_REQUESTS_BURST": "1"})
    assert s.get("/api/v1/equipment").status == 200
    for path, ops in doc.doc["paths"].items():
        for method, op in ops.items():
            if "429" not in op["responses"]:
                continue
            body = b"{}" if method == "post" else None
            headers = {"Content-Type": "application/json"} if body else {}
            r = s.request(method.upper(), path.replace("{id}", "1"), body, headers)
            doc.check(r, path, method, 429, "rate_limited")


def test_health_503_without_store_or_provider(module_procs, binary, doc, tmp_path_factory):
    """No store (its PostgreSQL stopped after the start) and no provider: /health says
    "unavailable" with 503, the signal a load balancer takes the instance out on."""
    from servers.postgres import PostgresServer
    pg = PostgresServer(tmp_path_factory.mktemp("pg")).start()
    try:
        s = module_procs.server(binary, workdir=tmp_path_factory.mktemp("nostore"),
                                args=["--database-url", pg.create_database("health")])
        for path in ("/health", "/api/v1/health"):
            body = doc.check(s.get(path, timeout=30), path, "get", 200)
            assert body["status"] == "degraded", body  # no provider, but the store answers
        pg.stop()
        for path in ("/health", "/api/v1/health"):
            body = doc.check(s.get(path, timeout=30), path, "get", 503)
            assert body["status"] == "unavailable", body
            assert body["store"]["ok"] is False and body["provider"]["ready"] is False, body
    finally:
        pg.cleanup()


def test_feedback_on_an_expired_answer_is_409(module_procs, binary, fake, doc, photos,
                                              tmp_path_factory):
    """The correction is built from the cached answer: once that expired, 409 says to upload
    the photo again."""
    s = module_procs.server(binary, workdir=tmp_path_factory.mktemp("ttl"), provider=fake,
                            args=["--cache-ttl-seconds", "1", "--lru-entries", "0"])
    r = s.analyze(photos[4])
    assert r.status == 200, r
    ident = r.json()["identification_id"]
    deadline = time.monotonic() + 60
    while s.stats()["expired"] < 1:
        assert time.monotonic() < deadline, "the entry did not expire"
        time.sleep(0.2)
    path = IDENTS + "/{id}/feedback"
    r = post_json(s, "%s/%s/feedback" % (IDENTS, ident), {"slug": "squat-rack"})
    body = doc.check(r, path, "post", 409, "conflict")
    assert "upload the photo again" in body["detail"], body


def test_workout_log_routes(server, doc):
    """Every documented status of the workout log (issue 12), open mode's local user."""
    W, G_ = "/api/v1/workouts", "/api/v1/gyms"

    def send(method, path, body=None, ctype="application/json"):
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        return server.request(method, path, data, {"Content-Type": ctype} if data else {})
    gym = {"client_id": "oa-gym-00001", "name": "Doc gym", "equipment": ["smith-machine"]}
    g = doc.check(send("POST", G_, gym), G_, "post", 201)
    doc.check(send("POST", G_, gym), G_, "post", 200)
    doc.check(send("POST", G_, b"{nope"), G_, "post", 400, "invalid_json")
    doc.check(send("POST", G_, b"{}", "text/plain"), G_, "post", 415, "unsupported_media_type")
    doc.check(send("POST", G_, {"client_id": "oa-gym-00002", "name": "X", "equipment": ["no"]}),
              G_, "post", 422, "unknown_equipment")
    doc.check(send("GET", G_), G_, "get", 200)
    one, eq = G_ + "/{id}", G_ + "/{id}/equipment/{slug}"
    gp = "%s/%d" % (G_, g["id"])
    doc.check(send("GET", gp), one, "get", 200)
    doc.check(send("GET", G_ + "/999999"), one, "get", 404, "gym_not_found")
    doc.check(send("PATCH", gp, {"name": "Renamed"}), one, "patch", 200)
    doc.check(send("PATCH", gp, {"name": ""}), one, "patch", 400, "invalid_field")
    doc.check(send("PATCH", G_ + "/999999", {"name": "N"}), one, "patch", 404, "gym_not_found")
    doc.check(send("PUT", gp + "/equipment/leg-press-machine"), eq, "put", 200)
    doc.check(send("PUT", gp + "/equipment/no-such"), eq, "put", 404, "equipment_not_found")
    doc.check(send("DELETE", gp + "/equipment/leg-press-machine"), eq, "delete", 200)
    doc.check(send("DELETE", G_ + "/999999/equipment/smith-machine"), eq, "delete", 404,
              "gym_not_found")
    wo = {"client_id": "oa-wo-000001", "started_at": "2026-11-30T18:00:00Z", "gym_id": g["id"]}
    w = doc.check(send("POST", W, wo), W, "post", 201)
    doc.check(send("POST", W, wo), W, "post", 200)
    doc.check(send("POST", W, {"client_id": "x"}), W, "post", 400, "invalid_field")
    doc.check(send("POST", W, {"client_id": "oa-wo-000002", "gym_id": 999999}), W, "post", 404,
              "gym_not_found")
    doc.check(send("GET", W + "?limit=5"), W, "get", 200)
    doc.check(send("GET", W + "?limit=0"), W, "get", 400, "invalid_parameter")
    wone, sets, sone = W + "/{id}", W + "/{id}/sets", W + "/{id}/sets/{set_id}"
    wp = "%s/%d" % (W, w["id"])
    st = {"client_id": "oa-set-00001", "exercise": "barbell-bench-press", "weight": 60, "reps": 8}
    s1 = doc.check(send("POST", wp + "/sets", st), sets, "post", 201)
    doc.check(send("POST", wp + "/sets", st), sets, "post", 200)
    doc.check(send("POST", wp + "/sets", b"[1]"), sets, "post", 400, "invalid_json")
    doc.check(send("POST", W + "/999999/sets", st), sets, "post", 404, "workout_not_found")
    doc.check(send("POST", wp + "/sets", {"client_id": "oa-set-00002", "exercise": "running",
                                          "reps": 3}), sets, "post", 422, "set_does_not_fit")
    sp = "%s/sets/%d" % (wp, s1["id"])
    doc.check(send("GET", sp), sone, "get", 200)
    doc.check(send("GET", wp + "/sets/999999"), sone, "get", 404, "set_not_found")
    doc.check(send("PATCH", sp, {"reps": 9}), sone, "patch", 200)
    doc.check(send("PATCH", sp, {"weight": None}), sone, "patch", 422, "set_does_not_fit")
    doc.check(send("PATCH", wp + "/sets/999999", {"reps": 1}), sone, "patch", 404,
              "set_not_found")
    doc.check(send("GET", wp), wone, "get", 200)
    doc.check(send("GET", W + "/999999"), wone, "get", 404, "workout_not_found")
    doc.check(send("PATCH", wp, {"ended_at": "2026-11-30T19:00:00Z", "notes": "ok"}), wone,
              "patch", 200)
    doc.check(send("PATCH", wp, {"ended_at": "later"}), wone, "patch", 400, "invalid_field")
    doc.check(send("PATCH", W + "/999999", {"notes": "x"}), wone, "patch", 404,
              "workout_not_found")
    pe, pl, pm = ("/api/v1/progress/exercises/{slug}", "/api/v1/progress/exercises/{slug}/last",
                  "/api/v1/progress/muscles")
    doc.check(send("GET", "/api/v1/progress/exercises/barbell-bench-press?weeks=52"), pe, "get",
              200)
    doc.check(send("GET", "/api/v1/progress/exercises/barbell-bench-press?weeks=0"), pe, "get",
              400, "invalid_parameter")
    doc.check(send("GET", "/api/v1/progress/exercises/nope"), pe, "get", 404,
              "exercise_not_found")
    doc.check(send("GET", "/api/v1/progress/exercises/barbell-bench-press/last"), pl, "get", 200)
    doc.check(send("GET", "/api/v1/progress/exercises/nope/last"), pl, "get", 404,
              "exercise_not_found")
    doc.check(send("GET", pm + "?weeks=4"), pm, "get", 200)
    doc.check(send("GET", pm + "?weeks=0"), pm, "get", 400, "invalid_parameter")
    ex = "/api/v1/exports/workouts.csv"
    csv_text = doc.check(send("GET", ex), ex, "get", 200)
    imp = "/api/v1/imports"
    doc.check(send("POST", imp + "?format=gymhelper", csv_text.encode(), "text/csv"), imp, "post",
              200)
    doc.check(send("POST", imp + "?format=fitbod", b"a\n", "text/csv"), imp, "post", 400,
              "invalid_parameter")
    doc.check(send("POST", imp + "?format=strong", b"a\n", "image/png"), imp, "post", 415,
              "unsupported_media_type")
    doc.check(send("POST", imp + "?format=hevy", b"a,b\n1,2\n", "text/csv"), imp, "post", 422,
              "invalid_csv")
    doc.check(send("POST", imp + "?format=strong", b"Date,Exercise Name\n" + b"x\n" * 200001,
                   "text/csv"), imp, "post", 413, "payload_too_large")
    doc.check(send("DELETE", sp), sone, "delete", 204)
    doc.check(send("DELETE", sp), sone, "delete", 404, "set_not_found")
    doc.check(send("DELETE", wp), wone, "delete", 204)
    doc.check(send("DELETE", wp), wone, "delete", 404, "workout_not_found")
    doc.check(send("DELETE", gp), one, "delete", 204)
    doc.check(send("DELETE", gp), one, "delete", 404, "gym_not_found")


def test_workout_log_routes_need_an_identity(procs, binary, doc, tmp_path):
    """With AUTH_MODE=required, every workout route answers the documented 401 without one."""
    s = procs.server(binary, args=["--database-url", "sqlite:///%s" % (tmp_path / "w.db"),
                                   "--auth-mode", "required"])
    for path, ops in doc.doc["paths"].items():
        for method, op in ops.items():
            if "Workouts" not in op.get("tags", []):
                continue
            url = re.sub(r"\{[^}]*\}", "1", path)
            body = b"{}" if method in ("post", "patch") else None
            r = s.request(method.upper(), url, body,
                          {"Content-Type": "application/json"} if body else {})
            doc.check(r, path, method, 401, "unauthorized")
