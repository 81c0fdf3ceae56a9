-- SPDX-License-Identifier: MIT
-- wrk script for bench/http_bench.py: POSTs the same JPEG as the raw body on every request
-- (Content-Type: image/jpeg), so every request after the first is an exact-key cache hit.
--
-- Environment: GH_BENCH_BODY = path of the JPEG to send.
-- The request is static (no request() hook) and there is no response() hook, so wrk's own
-- cost per request stays minimal; statuses >= 400 and socket errors are counted by wrk itself
-- and printed by done() on one machine-readable line starting with "GHBENCH".

local path = os.getenv("GH_BENCH_BODY")
assert(path and path ~= "", "GH_BENCH_BODY is not set")
local f = assert(io.open(path, "rb"))
local data = f:read("*a")
f:close()
assert(#data > 4 and data:sub(1, 2) == "\255\216", "GH_BENCH_BODY is not a JPEG")

wrk.method = "POST"
wrk.body = data
wrk.headers["Content-Type"] = "image/jpeg"

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "GHBENCH requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d "
         .. "connect=%d read=%d write=%d status=%d timeout=%d checked=0 want_layer=0 other_layer=0\n",
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end
