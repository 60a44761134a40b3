"""The circuit breaker's Lua scripts, run atomically on the Redis server's clock.

Per API client ``<key>``: the hash ``hub:breaker:<key>`` (``state``: closed, open or
half_open; ``until``: ms when an open breaker lets a probe through; ``opens``: opens in a
row, for the backoff; ``probe`` and ``probe_until``: the one call let through while
half-open, and when its lease ends), the sliding logs of calls and failures
(``...:calls``, ``...:failures``, sorted sets scored by ms), and the steps waiting
(``...:held``, scored by when each counts no longer).
"""

from __future__ import annotations

__all__ = ["ADMIT", "CANCEL", "RECORD", "STATUS"]

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: state hash, held zset. ARGV: probe id, probe lease ms, waiting step id, longest
# wait while a probe is out (ms).
# Returns {verdict, wait ms, previous state}: 0 go, 1 wait, 2 go as the probe.
ADMIT = (
    _NOW
    + """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'closed' then return {0, 0, ''} end
local function hold(wait)
  redis.call('ZADD', KEYS[2], now + wait + 5000, ARGV[3])
  redis.call('PEXPIRE', KEYS[2], wait + 60000)
  return {1, wait, ''}
end
local previous = ''
if state == 'open' then
  local untl = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
  if now < untl then return hold(untl - now) end
  redis.call('HSET', KEYS[1], 'state', 'half_open')
  previous = 'open'
else
  local busy = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
  if now < busy then return hold(math.min(busy - now, tonumber(ARGV[4]))) end
end
redis.call('HSET', KEYS[1], 'probe', ARGV[1], 'probe_until', now + tonumber(ARGV[2]))
redis.call('ZREM', KEYS[2], ARGV[3])
return {2, 0, previous}
"""
)

# KEYS: state hash, calls zset, failures zset, transitions hash.
# ARGV: failed (1/0), probe id ('' for none), min calls, failure rate, window ms, open ms,
# max open ms, call id, transition field prefix.
# Returns {new state ('' when unchanged), previous state, calls, failures, open ms}; for
# an answer that finds the breaker open already (not a probe): {'', state, 0, 0, ms left}.
RECORD = (
    _NOW
    + """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local failed = ARGV[1] == '1'
local function open(opens, calls, fails)
  local ms = math.min(tonumber(ARGV[6]) * 2 ^ (opens - 1), tonumber(ARGV[7]))
  redis.call('HSET', KEYS[1], 'state', 'open', 'until', now + ms, 'opens', opens,
    'calls', calls, 'failures', fails, 'probe_until', 0)
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('HINCRBY', KEYS[4], ARGV[9] .. 'open', 1)
  return {'open', state, calls, fails, ms}
end
if ARGV[2] ~= '' then
  if state ~= 'half_open' or redis.call('HGET', KEYS[1], 'probe') ~= ARGV[2] then
    return {'', state, 0, 0, 0}
  end
  if failed then
    local opens = tonumber(redis.call('HGET', KEYS[1], 'opens') or '0') + 1
    return open(opens, 0, 0)
  end
  redis.call('HSET', KEYS[1], 'state', 'closed', 'opens', 0, 'probe_until', 0)
  redis.call('HDEL', KEYS[1], 'until', 'probe')
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('HINCRBY', KEYS[4], ARGV[9] .. 'closed', 1)
  return {'closed', state, 0, 0, 0}
end
if state ~= 'closed' then
  -- an answer to a call let through before it opened: how long it stays open
  local untl = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
  return {'', state, 0, 0, math.max(untl - now, 0)}
end
local window = tonumber(ARGV[5])
redis.call('ZADD', KEYS[2], now, ARGV[8])
if failed then redis.call('ZADD', KEYS[3], now, ARGV[8]) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
redis.call('PEXPIRE', KEYS[2], window)
redis.call('PEXPIRE', KEYS[3], window)
local calls = redis.call('ZCARD', KEYS[2])
local fails = redis.call('ZCARD', KEYS[3])
if failed and calls >= tonumber(ARGV[3]) and fails >= tonumber(ARGV[4]) * calls then
  return open(1, calls, fails)
end
return {'', state, calls, fails, 0}
"""
)

# KEYS: state hash. ARGV: probe id. A probe that never went out frees its place.
CANCEL = """
if redis.call('HGET', KEYS[1], 'probe') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'probe_until', 0)
end
return 0
"""

# KEYS: state hash, calls zset, failures zset, held zset. ARGV: window ms.
# Returns {state, ms until a probe (open), opens, calls, failures, held steps}.
STATUS = (
    _NOW
    + """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local untl = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
local opens = tonumber(redis.call('HGET', KEYS[1], 'opens') or '0')
local since = now - tonumber(ARGV[1])
local calls = redis.call('ZCOUNT', KEYS[2], since, '+inf')
local fails = redis.call('ZCOUNT', KEYS[3], since, '+inf')
local held = redis.call('ZCOUNT', KEYS[4], now, '+inf')
return {state, math.max(0, untl - now), opens, calls, fails, held}
"""
)
