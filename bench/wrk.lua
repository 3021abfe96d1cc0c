-- Replays precomputed, signed Twilio webhooks (written by bench/traffic.py), one file per thread.
-- Usage: wrk -t T -c C -d 10s -s bench/wrk.lua http://127.0.0.1:PORT -- /path/prefix
-- Each line of PREFIX.N.txt is: path <TAB> X-Twilio-Signature <TAB> urlencoded body.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  local file = args[1] .. "." .. id .. ".txt"
  requests = {}
  for line in io.lines(file) do
    local path, signature, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", path, {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Twilio-Signature"] = signature,
    }, body)
  end
  total = #requests
  index = 0
  wraps = 0
  bad = 0
end

function request()
  index = index + 1
  if index > total then
    index = 1
    wraps = wraps + 1  -- replaying a request the help line has seen: reported, never hidden
  end
  return requests[index]
end

-- A 200 that carries the safe "something has gone wrong" words is a failure too.
function response(status, headers, body)
  if status ~= 200 or body:find("gone wrong", 1, true) or body:find("has a problem", 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local wrapped, failed = 0, 0
  for _, thread in ipairs(threads) do
    wrapped = wrapped + thread:get("wraps")
    failed = failed + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "status_errors": %d, "timeouts": %d, "bad_responses": %d, "wraps": %d, '
      .. '"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p95": %d, "p99": %d, "p999": %d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    failed, wrapped, latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency:percentile(99.9)))
end
