-- wrk script for bench/ingest.py: POST telemetry batches whose readings never repeat.
--
-- A reading's identity is (device, metric, ts) and a resent one is a no-op, so every request
-- carries timestamps no other request of the run uses: request k of thread t (of THREADS)
-- takes the slot k*THREADS + t, and each slot is ceil(BATCH/METRICS) consecutive
-- milliseconds from TS_BASE.
-- Each timestamp carries METRICS readings, one per metric; metric names include RUN_ID so
-- separate runs against the same database never collide either.
--
-- THREADS comes from the environment, not from setup(): wrk starts each thread as soon as its
-- own setup() returned, so a count that later setup() calls raised would race with requests
-- already being made (duplicate slots, caught by ingest.py's stored-rows check).
--
-- Environment (set by ingest.py): TOKEN, DEVICE_ID, THREADS, BATCH, METRICS, TS_BASE (epoch ms),
-- TS_FORMAT ("ms" for integer epoch milliseconds, "rfc3339" for strings), RUN_ID.
-- done() prints one line "BENCH_RESULT {json}" that ingest.py parses.

local token = os.getenv("TOKEN") or ""
local device_id = os.getenv("DEVICE_ID") or "00000000-0000-0000-0000-000000000000"
local batch = tonumber(os.getenv("BATCH") or "10")
local n_metrics = math.min(tonumber(os.getenv("METRICS") or "10"), batch)
local ts_base = tonumber(os.getenv("TS_BASE") or "0")
local ts_format = os.getenv("TS_FORMAT") or "ms"
local run_id = os.getenv("RUN_ID") or "0"
local thread_count = tonumber(os.getenv("THREADS") or "1")

local ts_per_req = math.ceil(batch / n_metrics)
local path = "/api/v1/devices/" .. device_id .. "/telemetry"
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. token,
}

-- Precomputed pieces: only the timestamps change between requests.
local metric_parts = {}
for m = 0, n_metrics - 1 do
  metric_parts[m] = string.format(',"metric":"bench.r%s.m%d","value":%d.5}', run_id, m, 20 + m)
end

local function ts_text(ms)
  if ts_format == "rfc3339" then
    local seconds = math.floor(ms / 1000)
    return string.format('"%s.%03dZ"', os.date("!%Y-%m-%dT%H:%M:%S", seconds), ms % 1000)
  end
  return string.format("%d", ms)
end

-- Per thread state (each wrk thread runs its own Lua state). Globals, because done() reads
-- them from the main state through thread:get, which sees only globals.
slot_index = 0 -- set by setup() before the thread starts
sent = 0
statuses = {}
first_error = ""

-- setup() runs in the main Lua state: keep the threads so done() can read their counters.
local threads = {}

function setup(thread)
  if #threads >= thread_count then
    error("wrk runs more threads than THREADS=" .. thread_count .. ": slots would repeat")
  end
  thread:set("slot_index", #threads)
  table.insert(threads, thread)
end

function request()
  local slot = sent * thread_count + slot_index
  sent = sent + 1
  local first_ms = ts_base + slot * ts_per_req
  local parts = {}
  local n = 0
  for i = 0, ts_per_req - 1 do
    local ts = '{"ts":' .. ts_text(first_ms + i)
    for m = 0, n_metrics - 1 do
      if n < batch then
        n = n + 1
        parts[n] = ts .. metric_parts[m]
      end
    end
  end
  local body = '{"readings":[' .. table.concat(parts, ",") .. "]}"
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 300 and first_error == "" then
    first_error = string.sub(body or "", 1, 300)
  end
end

local function json_string(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local totals = {}
  local error_sample = ""
  for _, t in ipairs(threads) do
    for status, count in pairs(t:get("statuses") or {}) do
      totals[status] = (totals[status] or 0) + count
    end
    local sample = t:get("first_error") or ""
    if error_sample == "" then
      error_sample = sample
    end
  end
  local parts = {}
  for status, count in pairs(totals) do
    table.insert(parts, string.format('"%s":%d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"statuses":{%s},'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d},"error_sample":%s}\n',
    summary.requests, summary.duration, summary.bytes, table.concat(parts, ","),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    json_string(error_sample)))
end
