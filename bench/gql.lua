-- wrk script: POSTs one GraphQL request (the JSON file BENCH_BODY) with the bearer token
-- BENCH_TOKEN, and prints one machine-readable result line at the end.

local token = os.getenv("BENCH_TOKEN")
local file = assert(io.open(os.getenv("BENCH_BODY"), "r"))
local body = file:read("*a")
file:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f non2xx=%d socket_errors=%d\n",
    summary.requests,
    summary.duration,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000,
    latency:percentile(90) / 1000,
    latency:percentile(99) / 1000,
    latency.max / 1000,
    e.status,
    e.connect + e.read + e.write + e.timeout))
end
