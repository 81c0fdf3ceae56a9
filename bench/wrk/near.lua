-- SPDX-License-Identifier: MIT
-- wrk script for bench/http_bench.py: near-duplicate cache hits. Every request POSTs the same
-- picture with different bytes: a JPEG COM segment (0xFF 0xFE, 2-byte big-endian length that
-- counts itself, then the payload) is inserted right after the SOI marker (the first 2 bytes).
-- The payload is "gh-bench <nonce> t<thread> n<counter>", so every body in a run, and across
-- runs with different nonces, is unique: a new SHA-256 (no exact-key hit) with identical
-- pixels (pHash distance 0, a near-duplicate hit). The server stores an exact entry for each
-- body it answers, which is why a body must never repeat.
--
-- Environment: GH_BENCH_BODY = path of the JPEG; GH_BENCH_NONCE = a string unique to the run.
-- response() counts 200 answers whose cache layer is "near" and those with another layer;
-- done() prints them with wrk's own counters on one line starting with "GHBENCH".

local path = os.getenv("GH_BENCH_BODY")
assert(path and path ~= "", "GH_BENCH_BODY is not set")
local nonce = os.getenv("GH_BENCH_NONCE") or tostring(os.time())
local f = assert(io.open(path, "rb"))
local data = f:read("*a")
f:close()
assert(#data > 4 and data:sub(1, 2) == "\255\216", "GH_BENCH_BODY is not a JPEG")

local soi, rest = data:sub(1, 2), data:sub(3)

wrk.method = "POST"
wrk.headers["Content-Type"] = "image/jpeg"

-- Main state: the thread objects, so that done() can collect their counters.
local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

-- Thread states (globals, read back with thread:get).
counter = 0
checked = 0
want_layer = 0
other_layer = 0

function request()
   counter = counter + 1
   local payload = string.format("gh-bench %s t%d n%d", nonce, tid or 0, counter)
   local n = #payload + 2
   local com = "\255\254" .. string.char(math.floor(n / 256), n % 256) .. payload
   return wrk.format(nil, nil, nil, soi .. com .. rest)
end

function response(status, headers, body)
   if status == 200 then
      checked = checked + 1
      if body and body:find('"layer":"near"', 1, true) then
         want_layer = want_layer + 1
      else
         other_layer = other_layer + 1
      end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local c, w, o = 0, 0, 0
   for _, t in ipairs(threads) do
      c = c + (t:get("checked") or 0)
      w = w + (t:get("want_layer") or 0)
      o = o + (t:get("other_layer") or 0)
   end
   io.write(string.format(
      "GHBENCH requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d "
         .. "connect=%d read=%d write=%d status=%d timeout=%d checked=%d want_layer=%d other_layer=%d\n",
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout, c, w, o))
end
