#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Peer for bench/http_bench.py: the seed's own Python design (FastAPI on Uvicorn) doing
gymhelper's exact-key cache-hit path, so the two can be compared on the same machine.

POST /api/v1/analyze reads the raw body, takes its SHA-256 and looks it up in an in-process
dict; a hit returns the stored answer JSON text as is (no re-serialising), a miss answers 404
(the peer has no provider: it only measures the hit path). GET /health answers 200 for the
readiness check.

The dict is filled at import time from the JSON file named by the environment variable
GH_PEER_CACHE: an object {"<sha256 hex>": "<answer JSON text>", ...}. Each Uvicorn worker
imports the module and loads its own copy.

Run (from the repository root):
  GH_PEER_CACHE=/tmp/x/peer-cache.json /usr/bin/python3 -m uvicorn bench.peer_fastapi:app \
      --host 127.0.0.1 --port 8001 --workers 2 --loop uvloop --log-level warning
"""
import hashlib
import json
import os

from fastapi import FastAPI, Request
from fastapi.responses import Response


def _load_cache():
    path = os.environ.get("GH_PEER_CACHE")
    if not path:
        raise RuntimeError("GH_PEER_CACHE is not set (path of the answer JSON file)")
    with open(path, encoding="utf-8") as f:
        cache = json.load(f)
    if not isinstance(cache, dict) or not all(isinstance(v, str) for v in cache.values()):
        raise RuntimeError("%s: expected an object of sha256 -> answer JSON text" % path)
    return {k.lower(): v.encode("utf-8") for k, v in cache.items()}


CACHE = _load_cache()
MISS = b'{"type":"about:blank","title":"Not cached","status":404,"code":"not_cached"}'

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.post("/api/v1/analyze")
async def analyze(request: Request):
    body = await request.body()
    answer = CACHE.get(hashlib.sha256(body).hexdigest())
    if answer is None:
        return Response(content=MISS, status_code=404, media_type="application/problem+json")
    return Response(content=answer, media_type="application/json")


@app.get("/health")
async def health():
    return Response(content=b'{"status":"ok"}', media_type="application/json")
