# SPDX-License-Identifier: MIT
"""Security headers on every response (issue 10 item 5): the page, static files, JSON answers,
problem documents, early refusals and the API docs all carry the CSP, nosniff, no framing, no
referrer and a Permissions-Policy that allows the camera for the app. The web app's own
pages get no 'unsafe-inline' (tests/browser checks that Chromium reports zero violations)."""
import base64
import hashlib
import re

import ghhttp as G

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def check(r, docs=False):
    for name, value in HEADERS.items():
        assert r.header(name) == value, (name, dict(r.headers))
    csp = r.header("Content-Security-Policy")
    assert csp and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp, csp
    assert ("unsafe-inline" in csp) == docs, csp
    assert "unsafe-eval" not in csp, csp
    assert "camera=(self)" in r.header("Permissions-Policy"), dict(r.headers)
    return csp


def test_every_kind_of_response_carries_them(server, photos):
    csp = check(server.get("/"))
    # the page's one inline <style> is allowed by its hash, nothing else inline
    page = server.get("/").body
    styles = re.findall(rb"<style>(.*?)</style>", page, re.S)
    assert len(styles) == 1
    digest = base64.b64encode(hashlib.sha256(styles[0]).digest()).decode()
    assert "'sha256-%s'" % digest in csp, csp
    assert not re.search(rb"<script>|\son[a-z]+=|\sstyle=", page), "inline script or handler"
    check(server.get("/app.js"))
    check(server.get("/api/v1/equipment"))
    check(server.get("/health"))
    check(server.get("/api/v1/no-such-thing"))                      # problem document
    check(server.request("DELETE", "/api/v1/equipment"))            # 405
    check(server.analyze(photos[0]))                                # an analysis
    big = b"x" * 100
    r = server.request("POST", "/api/v1/analyze", big,
                       {"Content-Type": "image/jpeg", "Content-Length": "99999999999"})
    check(r)                                                        # refused from the headers
    check(server.get("/docs/"), docs=True)
    check(server.get("/openapi.json"))
