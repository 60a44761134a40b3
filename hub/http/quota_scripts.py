"""The Lua scripts behind :class:`~hub.http.quota.RedisQuota`, one atomic step each.

Keys of one budget (all under ``hub:quota:<budget>:``):

- ``log``: sorted set of calls, scored by when their slot starts to count down (ms on
  the Redis clock): a granted call is scored when its lease runs out (in the future)
  until it is settled, then when it ended. An entry leaves the window one window after
  its score.
- ``marks``: calls the upstream counted and the hub did not make (another user of the
  same client, or a 429 that fills the window), adopted from its own count: one member
  ``<nonce>:<calls>`` per adoption, however many calls it stands for, scored so that it
  leaves the window when the upstream says its count drops. Every script counts a mark
  as its calls, at its score, exactly as that many log entries;
- ``marked``: the calls of every mark in ``marks``, so that counting the window does
  not read them one by one.
- ``room``: waiting tickets ``<score>:<id>``, scored ``rank * 1e13 + enqueue ms``
  (highest priority, then oldest, first); a ticket that asks for ``n`` slots at once
  (a step of several calls takes them together) has ``n - 1`` more members
  ``<ticket>#<i>`` at the same score, so the room counts slots, not tickets: a caller's
  rank in it is the number of slots asked for ahead of it;
- ``alive``: the same tickets, scored by when they expire unless their caller comes back;
- ``owners``: the ticket of each waiting caller that named itself (a task's id, the same
  on every delivery of its message), so that a message delivered again after its
  worker died before it kept its ticket takes back its place instead of a second one;
- ``pause``: present while the upstream asked for no calls at all (429 ``Retry-After``), or
  while the hub holds off after a bare 429 (one that says neither when to call again nor
  when the count resets): 1 s after the first, doubling at each further one answered to a
  call made after the pause ended, up to the window;
- ``strikes``: bare 429s in a row (gone at the first success, or two windows after the
  last): while it is present, one call at a time goes out (a probe), the others wait;
- ``probe``: the lease of the call out as a probe, while it is out;
- ``parked``: the message of each waiting step parked until its turn (ticket -> payload),
  kept until the woken step comes; ``granted``: slots the releaser took for a woken step
  (ticket -> ``<id> <n> <granted at> <free at>,<free at>...``: when each of its slots
  frees, in the order its calls use them), which its ACQUIRE takes up instead of asking
  again (``- <n> 0 0``: a caller ahead of it took them before it came);
  ``woken``: woken tickets, scored by when their slots' lease runs out: a step that has
  not come by then (its message was lost) takes its place in the room again and is woken
  again (see :data:`RELEASE`);
- ``stats``: moving averages of how long calls take and how late waiting callers come
  back, so that estimates further than one window ahead allow for them; and two
  counters: ``repeated``, calls a step made before it found no slot for its next one
  (its next attempt makes them again), and ``idle_ms``, slot-milliseconds free while
  tickets waited (``idle_at``: since when that is counted).

Ids come from the caller (unique per process and call), so no counter key is needed.
Every score is a whole number of milliseconds under 1e14, so it survives Lua's number to
string conversion exactly. The common path (a slot free, nobody waiting) runs six Redis
commands.
"""

from __future__ import annotations

__all__ = [
    "ACQUIRE",
    "FIRST_LEAD_MS",
    "GIVE_BACK",
    "GIVE_BACK_GRANTED",
    "PARK",
    "RELEASE",
    "SETTLE",
    "STATUS",
]

#: the Redis clock, and the calls of the upstream's marks (see ``marks`` above).
#: Expects locals: marks, marked, window.
_MARKS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function mark_calls(mark)
  return tonumber(string.match(mark, ':(%d+)$'))
end
-- calls of the marks in the window; marks that left it are dropped
local function marked_in_window()
  local n = tonumber(redis.call('GET', marked) or '0')
  if n == 0 then
    return 0
  end
  local gone = redis.call('ZRANGEBYSCORE', marks, '-inf', now - window)
  if #gone > 0 then
    for _, mark in ipairs(gone) do
      n = n - mark_calls(mark)
    end
    redis.call('ZREMRANGEBYSCORE', marks, '-inf', now - window)
    if n > 0 then
      redis.call('SET', marked, n)
    else
      redis.call('DEL', marked)
    end
  end
  return n
end
-- calls of the marks scored after ``after`` (a mark starts to count down at its score)
local function marked_after(after)
  local n = 0
  for _, mark in ipairs(redis.call('ZRANGEBYSCORE', marks, '(' .. after, '+inf')) do
    n = n + mark_calls(mark)
  end
  return n
end
"""

#: slots free while tickets wait, integrated over time (see ``idle_ms`` above).
#: Expects locals: log, room, stats, limit, window, now, and marked_in_window() from _MARKS;
#: runs before any entry leaves ``log``.
_IDLE = """
local function count_idle()
  local since = tonumber(redis.call('HGET', stats, 'idle_at'))
  if since and since < now then
    -- calls counted at ``since``, then each frees its slot one window after its score
    local busy = redis.call('ZCOUNT', log, '(' .. since - window, '+inf') + marked_in_window()
    local freed = redis.call('ZRANGEBYSCORE', log, '(' .. since - window, now - window,
      'WITHSCORES', 'LIMIT', 0, limit)
    local at, idle = since, 0
    for i = 2, #freed, 2 do
      local t = tonumber(freed[i]) + window
      idle = idle + math.max(0, limit - busy) * (t - at)
      busy, at = busy - 1, t
    end
    idle = idle + math.max(0, limit - busy) * (now - at)
    if idle > 0 then
      redis.call('HINCRBY', stats, 'idle_ms', idle)
    end
  end
  if redis.call('ZCARD', room) > 0 then
    redis.call('HSET', stats, 'idle_at', now)
  elseif since then
    redis.call('HDEL', stats, 'idle_at')
  end
end
"""

#: the lead before any woken step has come: see _LEAD
FIRST_LEAD_MS = 250

#: how far ahead of its turn a parked step is granted its slots, so that it comes at its
#: turn: how long woken steps have taken to come (a moving average, +25% and 5 ms for the
#: spread), at most a quarter of the window and at most 100 ms. A step that comes early
#: waits in its worker until its slots free; one that comes late leaves them unused
#: meanwhile. The 100 ms cap: when woken steps are slow to come because every worker
#: process is busy, granting further ahead would only keep more processes waiting.
#: Before any woken step has come (a budget's first waits: a backlog just arrived, and
#: the workers are still taking it up and parking it), a quarter of the window, at most
#: :data:`FIRST_LEAD_MS`: the first woken steps are late by the time the backlog takes to
#: park, and the first step to come sets the average. A slot granted ahead still goes to
#: a caller ahead of the woken step that arrives before it comes (see ACQUIRE), so
#: priority stays exact. Expects locals: stats, window.
_LEAD = """
local function wake_lead()
  local took = tonumber(redis.call('HGET', stats, 'wake_ms') or '-1')
  if took < 0 then
    return math.min(math.floor(window / 4), FIRST_LEAD_MS)
  end
  return math.min(math.floor(took * 1.25) + 5, math.floor(window / 4), 100)
end
""".replace("FIRST_LEAD_MS", str(FIRST_LEAD_MS))

#: the slots recorded in ``granted`` for a woken step: its lease id, how many, and when
#: each frees (ms from now, 0 when free), or nil for ``-`` (taken by a caller ahead).
_GRANTED = """
local function granted_slots(record, now)
  local base, n, _, turns = string.match(record or '', '^(%S+) (%d+) (%d+) (%S+)$')
  if not base or base == '-' then
    return nil
  end
  local early = {}
  for turn in string.gmatch(turns, '%d+') do
    early[#early + 1] = math.max(0, tonumber(turn) - now)
  end
  return base, tonumber(n), early
end
"""

#: window count and the grant-time estimate shared by ACQUIRE and STATUS.
#: Expects locals: log, room, alive, stats, marks, marked, owners, limit, window.
_COMMON = (
    _MARKS
    + _IDLE
    + """
-- entries that left the window are dropped by SETTLE and before any estimate
local held = marked_in_window()
local used = redis.call('ZCOUNT', log, '(' .. now - window, '+inf') + held
-- a ticket leaves the room with the further slots it asked for (``<ticket>#<i>``)
local function drop_ticket(ticket)
  local at = tonumber(string.match(ticket, '^(%d+)'))
  local gone, prefix = {ticket}, ticket .. '#'
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', room, at, at)) do
    if string.sub(member, 1, #prefix) == prefix then
      gone[#gone + 1] = member
    end
  end
  redis.call('ZREM', room, unpack(gone))
end
local function purge_dead()
  local dead = redis.call('ZRANGEBYSCORE', alive, '-inf', now, 'LIMIT', 0, 100)
  if #dead > 0 then
    for _, ticket in ipairs(dead) do
      drop_ticket(ticket)
    end
    redis.call('ZREM', alive, unpack(dead))
    local named = {}
    for i, ticket in ipairs(dead) do
      named[i] = string.match(ticket, ':(.*)$')
    end
    redis.call('HDEL', owners, unpack(named))
  end
  return #dead
end
-- the score of the idx-th (from 0) call ended, oldest first, a mark counting as its calls
local function ended_score(idx)
  local skipped = 0
  if held > 0 then
    local found = redis.call('ZRANGEBYSCORE', marks, '-inf', now + 1, 'WITHSCORES')
    for i = 1, #found, 2 do
      local before = redis.call('ZCOUNT', log, '-inf', '(' .. found[i + 1])
      if idx - skipped < before then
        break
      end
      local calls = mark_calls(found[i])
      if idx - skipped < before + calls then
        return tonumber(found[i + 1])
      end
      skipped = skipped + calls
    end
  end
  local entry = redis.call('ZRANGE', log, idx - skipped, idx - skipped, 'WITHSCORES')
  return tonumber(entry[2])
end
-- when the (k+1)-th slot from now is granted, if every caller ahead takes its slot at
-- once: slots free now go first, then each ended call frees its slot one window after
-- it ended, calls in flight one window from now (they end about now), and so on, one
-- window per round
local function grant_time(k)
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
  -- a slot is busy one window after the call that took it ended, and that call ended
  -- some time after its slot freed: its caller came back late, then the call took time
  local drift = redis.call('HMGET', stats, 'late_ms', 'call_ms')
  local cycle = window + (tonumber(drift[1]) or 0) + (tonumber(drift[2]) or 0)
  local free = limit - used
  local rounds = math.floor(k / limit)
  local r = k - rounds * limit
  local at = now
  if r >= free then
    local idx = r - free
    local ended = redis.call('ZCOUNT', log, '-inf', now + 1)
    if held > 0 then
      ended = ended + held - marked_after(now + 1)
    end
    if idx < ended then
      at = ended_score(idx) + window
    else
      at = now + (tonumber(drift[2]) or 0) + window
    end
  end
  return math.floor(at + rounds * cycle)
end
-- moving averages of how late waiting callers come back and how long calls take
local function observe(field, value)
  local old = tonumber(redis.call('HGET', stats, field))
  if old then
    value = old + (value - old) / 16
  end
  redis.call('HSET', stats, field, math.floor(value + 0.5))
end
"""
)

#: KEYS: log room alive pause stats marks marked owners strikes probe granted parked woken
#: ARGV: limit window_ms lease_ms grace_ms cost ticket rank join id owner made
#: -> {1, used} (leases ``<id>`` or ``<id>.<n>`` for n = 2..cost)
#:    or {2, used, base, n, early_ms...}: slots the releaser granted the ticket
#:    (``<base>``, ``<base>.<i>``), each free ``early_ms`` from now (the step was woken
#:    that much ahead of its first slot's turn; its later calls wait for theirs), or
#:    slots granted ahead to a step behind the caller that has not come yet
#:    or {0, used, wait_ms, ticket, ahead} (ahead: slots asked for ahead of the caller)
#: join=0: a caller that will not come back takes no ticket (ticket is then '').
#: owner: '' or the caller's name, the same every time it comes (its ticket is then
#: ``<score>:<owner>``). made: calls the caller made before this one in the same
#: attempt; told to wait, it will make them again (counted as ``repeated``).
ACQUIRE = (
    """
local log, room, alive, pause, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local marks, marked, owners = KEYS[6], KEYS[7], KEYS[8]
local strikes, probe, granted, parked, woken = KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local lease, grace = tonumber(ARGV[3]), tonumber(ARGV[4])
local cost, ticket, rank = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local join, id, owner = ARGV[8] == '1', ARGV[9], ARGV[10] or ''
local made = tonumber(ARGV[11] or '0')
"""
    + _COMMON
    + _GRANTED
    + """
if ticket ~= '' and granted then
  -- woken at its turn: its slots were taken for it when they freed
  local slots = redis.call('HGET', granted, ticket)
  if slots then
    redis.call('HDEL', granted, ticket)
    redis.call('HDEL', parked, ticket)
    redis.call('ZREM', woken, ticket)
    local base, n, early = granted_slots(slots, now)
    local until_ms = base and redis.call('ZSCORE', log, base)
    -- slots whose lease ran out before the step came count as calls made: ask anew
    if until_ms and tonumber(until_ms) > now + 1 then
      local at, turn = string.match(slots, '^%S+ %d+ (%d+) (%d+)')
      observe('wake_ms', now - tonumber(at))
      observe('late_ms', math.max(0, now - tonumber(turn)))
      return {2, used, base, n, unpack(early)}
    end
  end
end
count_idle()
local score
if ticket ~= '' then
  score = tonumber(string.match(ticket, '^(%d+)'))
else
  score = rank * 1e13 + now
end
-- callers of a higher priority, or of the same one and waiting longer, go first
local function count_ahead()
  local n = false
  if ticket ~= '' then
    n = redis.call('ZRANK', room, ticket)
  end
  if not n then
    n = redis.call('ZCOUNT', room, '-inf', score)
  end
  return n
end
local ahead = count_ahead()
if ahead > 0 and ticket == '' and owner ~= '' then
  -- its message delivered again: its worker died before it could keep its ticket
  local kept = redis.call('HGET', owners, owner)
  if kept then
    ticket, score = kept, tonumber(string.match(kept, '^(%d+)'))
    ahead = count_ahead()
  end
end
if ahead > 0 and purge_dead() > 0 then
  ahead = count_ahead()
end
-- the caller holds its slots now: its ticket leaves the room, and its owner's note goes
local function leave_room()
  if ticket ~= '' and redis.call('ZSCORE', alive, ticket) then
    drop_ticket(ticket)
    redis.call('ZREM', alive, ticket)
    count_idle()
  end
  if owner ~= '' then
    redis.call('HDEL', owners, owner)
  end
end
local paused = redis.call('PTTL', pause)
local storm = redis.call('EXISTS', strikes) == 1
if paused <= 0 and storm then
  -- after bare 429s one call goes out at a time; the others come back when it should
  -- have been answered
  local probing = redis.call('PTTL', probe)
  if probing > 0 then
    local took = tonumber(redis.call('HGET', stats, 'call_ms') or '0')
    paused = math.min(probing, math.max(100, 2 * took))
  end
end
if paused <= 0 and ahead + cost <= limit - used then
  local until_ms = now + lease
  if storm then
    redis.call('SET', probe, id, 'PX', lease)
  end
  redis.call('ZADD', log, until_ms, id)
  for i = 2, cost do
    redis.call('ZADD', log, until_ms, id .. '.' .. i)
  end
  if ticket ~= '' then
    local due = redis.call('ZSCORE', alive, ticket)
    if due then
      observe('late_ms', math.max(0, now - (tonumber(due) - grace)))
    end
  end
  leave_room()
  return {1, used + cost}
end
local at = grant_time(ahead + cost - 1)
if paused > 0 and now + paused > at then
  at = now + paused
end
-- a step granted its slots ahead of its turn that has not come yet, and that is behind
-- this caller in the room's order, gives them up to it when they free sooner than this
-- caller's turn (priority stays exact): it waits again at its place when it comes
if paused <= 0 and not storm then
  local victim, victim_score, taken
  for _, other in ipairs(redis.call('ZRANGEBYSCORE', woken, '(' .. now, '+inf',
      'LIMIT', 0, 200)) do
    local other_score = tonumber(string.match(other, '^(%d+)'))
    if other_score > score and (not victim or other_score > victim_score) then
      local base, n, early = granted_slots(redis.call('HGET', granted, other), now)
      if base and n >= cost and now + early[math.min(cost, #early)] < at then
        local until_ms = redis.call('ZSCORE', log, base)
        if until_ms and tonumber(until_ms) > now + 1 then
          victim, victim_score, taken = other, other_score, {base, n, early}
        end
      end
    end
  end
  if victim then
    -- ``-``: its slots went to a caller ahead of it (the lost-message sweep still
    -- applies to it until it comes)
    redis.call('HSET', granted, victim, '- ' .. taken[2] .. ' 0 0')
    redis.call('HINCRBY', stats, 'overtaken', 1)
    leave_room()
    return {2, used, taken[1], taken[2], unpack(taken[3])}
  end
end
-- +2: the caller's clock and timer are not Redis's; better a hair late than early
local wait = math.max(1, at - now + 2)
if made > 0 then
  redis.call('HINCRBY', stats, 'repeated', made)
end
if not join then
  return {0, used, wait, '', ahead}
end
if ticket == '' then
  ticket = score .. ':' .. (owner ~= '' and owner or id)
else
  drop_ticket(ticket)  -- it may ask for another number of slots than last time
end
redis.call('ZADD', room, score, ticket)
for i = 2, cost do
  redis.call('ZADD', room, score, ticket .. '#' .. i)
end
redis.call('ZADD', alive, now + wait + grace, ticket)
-- the releaser takes slots for woken steps with the callers' own call lease
redis.call('HSET', stats, 'lease_ms', lease)
count_idle()
if owner ~= '' then
  redis.call('HSET', owners, owner, ticket)
end
return {0, used, wait, ticket, ahead}
"""
)

#: KEYS: log pause stats marks marked strikes probe room due bell
#: ARGV: lease_id window_ms limit remaining reset_ms pause_ms nonce lease_ms outcome budget
#: answered_ms_ago (remaining, reset_ms: -1 when not reported; outcome: 'ok', 'throttled'
#: (a bare 429) or ''; answered_ms_ago: 0 for a settle sent as its answer came)
#: -> the pause in force, in ms (0: none)
SETTLE = (
    """
local log, pause, stats, marks, marked = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local strikes, probe, room, due, bell = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local id, window, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local remaining, reset, pause_ms = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local lease, outcome = tonumber(ARGV[8]), ARGV[9]
"""
    + _MARKS
    + _IDLE
    + _LEAD
    + """
count_idle()
-- when the answer arrived: ARGV[11] ms before now (a settle sent after it, with the
-- step's next round trip), as measured by the caller up to when it sent this
local answered = now - math.max(0, tonumber(ARGV[11]) or 0)
if id ~= '' then
  local until_ms = redis.call('ZSCORE', log, id)
  if until_ms and tonumber(until_ms) > answered + 1 then
    -- the upstream received the call by its answer at the latest: its slot counts from
    -- then (+1: the clock is read in whole milliseconds)
    redis.call('ZADD', log, answered + 1, id)
    local took = answered - (tonumber(until_ms) - lease)
    local old = tonumber(redis.call('HGET', stats, 'call_ms'))
    if old then
      took = old + (took - old) / 16
    end
    redis.call('HSET', stats, 'call_ms', math.floor(took + 0.5))
  end
end
redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
if remaining >= 0 then
  -- the upstream counts more than the hub does (another user of the same client, or a
  -- 429): one mark takes up the difference until the upstream's count drops
  local counted = redis.call('ZCARD', log) + marked_in_window()
  local extra = math.min(limit, limit - counted - remaining)
  if reset < 0 then reset = window end
  -- (with no reset left, the mark would have left the window already)
  if extra > 0 and reset > 0 then
    redis.call('ZADD', marks, now + reset - window, ARGV[7] .. ':' .. extra)
    redis.call('INCRBY', marked, extra)
  end
end
if pause_ms > 0 and redis.call('PTTL', pause) < pause_ms then
  redis.call('SET', pause, '1', 'PX', pause_ms)
end
if id ~= '' and redis.call('GET', probe) == id then
  redis.call('DEL', probe)
end
if outcome == 'ok' then
  redis.call('DEL', strikes)
elseif outcome == 'throttled' and redis.call('PTTL', pause) <= 0 then
  -- a bare 429 to a call made while no pause held: hold off, longer each time
  local n = math.min(redis.call('INCR', strikes), 40)
  local hold = math.floor(math.min(1000 * 2 ^ (n - 1), window))
  redis.call('SET', pause, '1', 'PX', hold)
  redis.call('PEXPIRE', strikes, 2 * window)
end
if id ~= '' and due and redis.call('ZCARD', room) > 0 then
  -- parked steps wait: this call's slot frees one window from now; wake the releaser
  -- then (less the lead it grants ahead by) if it meant to sleep longer
  local at, name = redis.call('ZSCORE', due, ARGV[10]), ARGV[10]
  local wake_at = answered + 1 + window - wake_lead()
  if at and tonumber(at) > wake_at then
    redis.call('ZADD', due, wake_at, name)
    redis.call('LPUSH', bell, name)
    redis.call('LTRIM', bell, 0, 15)
  end
end
return math.max(0, redis.call('PTTL', pause))
"""
)

#: KEYS: log room alive pause stats marks marked owners
#: ARGV: limit window_ms
#: -> {now_ms, used, in_flight, paused_ms, next_free_ms, drain_ms, repeated, idle_ms,
#:     waiting interactive, default, bulk} (waiting: slots asked for, by priority)
STATUS = (
    """
local log, room, alive, pause, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local marks, marked, owners = KEYS[6], KEYS[7], KEYS[8]
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
"""
    + _COMMON
    + """
count_idle()
purge_dead()
local in_flight = redis.call('ZCOUNT', log, '(' .. now + 1, '+inf')
if held > 0 then
  -- a mark scored ahead (the upstream resets later than a window from now) counts as
  -- its calls would: not ended yet
  in_flight = in_flight + marked_after(now + 1)
end
local paused = math.max(0, redis.call('PTTL', pause))
local waiting, total = {}, 0
for r = 0, 2 do
  waiting[r + 1] = redis.call('ZCOUNT', room, r * 1e13, '(' .. (r + 1) * 1e13)
  total = total + waiting[r + 1]
end
local next_free = 0
if used >= limit then
  next_free = grant_time(0) - now
end
local drain = 0
if total > 0 then
  drain = math.max(paused, grant_time(total - 1) - now)
end
local counters = redis.call('HMGET', stats, 'repeated', 'idle_ms')
return {now, used, in_flight, paused, math.max(paused, next_free), drain,
        tonumber(counters[1]) or 0, tonumber(counters[2]) or 0,
        waiting[1], waiting[2], waiting[3]}
"""
)

#: KEYS: room alive parked due bell
#: ARGV: ticket payload budget keep_ms -> 1 parked, or 0: the ticket left the room
#: (expired), the caller must come back by itself
PARK = """
local room, alive, parked, due, bell = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local ticket, payload, name, keep = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if not redis.call('ZSCORE', room, ticket) then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', parked, ticket, payload)
-- its message lives here now: its place is kept as long as the message
redis.call('ZADD', alive, now + keep, ticket)
redis.call('ZADD', due, now, name)
redis.call('LPUSH', bell, name)
redis.call('LTRIM', bell, 0, 15)
return 1
"""

#: slots of budget ``name`` are free now: its releaser looks again at once, when it has
#: parked steps to wake. Expects locals: due, bell.
_RING = """
local function ring(name)
  if redis.call('ZSCORE', due, name) then
    local t = redis.call('TIME')
    redis.call('ZADD', due, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), name)
    redis.call('LPUSH', bell, name)
    redis.call('LTRIM', bell, 0, 15)
  end
end
"""

#: KEYS: log due bell; ARGV: budget lease_id... -> nothing
#: Slots given back before their calls went out: free now, so wake the releaser.
GIVE_BACK = (
    """
local log, due, bell = KEYS[1], KEYS[2], KEYS[3]
"""
    + _RING
    + """
redis.call('ZREM', log, unpack(ARGV, 2))
ring(ARGV[1])
return 0
"""
)

#: KEYS: granted log due bell; ARGV: budget ticket -> the slots given back (0: none held)
#: A woken step's attempt ended without taking up the slots taken for it (it was done
#: already, it waits for a concurrency place or another budget): they are free now, and
#: the releaser is woken for them. The ticket keeps its score: asked again, it takes its
#: place in the room again.
GIVE_BACK_GRANTED = (
    """
local granted, log, due, bell = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
"""
    + _RING
    + """
local slots = redis.call('HGET', granted, ARGV[2])
if not slots then
  return 0
end
redis.call('HDEL', granted, ARGV[2])
local base, n = string.match(slots, '^(%S+) (%d+)')
if not base or base == '-' then
  return 0
end
local ids = {base}
for i = 2, tonumber(n) do
  ids[#ids + 1] = base .. '.' .. i
end
redis.call('ZREM', log, unpack(ids))
ring(ARGV[1])
return #ids
"""
)

#: KEYS: log room alive pause stats marks marked owners strikes probe parked granted due
#:       budgets woken
#: ARGV: budget lease_ms keep_ms (lease_ms: when the waiting callers named none)
#: -> {next_ms, payload...}: the messages of the parked steps granted their slots, in the
#: room's order (priority, then age); next_ms: when to look again (-1: nobody waits).
#: Grants from the head of the room only while the head's slots are all free, so no step
#: overtakes one ahead of it; a head whose step is not parked (it is about to park, or
#: comes back by itself) stops the walk. The slots are taken in the log exactly as
#: ACQUIRE takes them (``w<n>``, ``w<n>.<i>``), recorded in ``granted`` for the woken step.
RELEASE = (
    """
local log, room, alive, pause, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local marks, marked, owners = KEYS[6], KEYS[7], KEYS[8]
local strikes, probe, parked, granted = KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local due, budgets, woken = KEYS[13], KEYS[14], KEYS[15]
local name, lease, keep = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local cfg = redis.call('HGET', budgets, name)
if not cfg then
  redis.call('ZREM', due, name)
  return {-1}
end
cfg = cjson.decode(cfg)
local limit = tonumber(cfg['effective_limit'])
local window = math.max(1, math.floor(tonumber(cfg['window_seconds']) * 1000 + 0.5))
lease = tonumber(redis.call('HGET', KEYS[5], 'lease_ms') or lease)
"""
    + _COMMON
    + _LEAD
    + """
count_idle()
purge_dead()
-- woken steps that never came (their message was lost): back in the room at their place
for _, ticket in ipairs(redis.call('ZRANGEBYSCORE', woken, '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('ZREM', woken, ticket)
  local slots = redis.call('HGET', granted, ticket)
  redis.call('HDEL', granted, ticket)
  if slots and redis.call('HEXISTS', parked, ticket) == 1 then
    local score = tonumber(string.match(ticket, '^(%d+)'))
    redis.call('ZADD', room, score, ticket)
    for i = 2, tonumber(string.match(slots, '^%S+ (%d+)')) do
      redis.call('ZADD', room, score, ticket .. '#' .. i)
    end
    redis.call('ZADD', alive, now + keep, ticket)
  end
end
-- when ``need`` slots are free, if only calls that ended must leave the window first
-- (nil: calls still out must end first, and when they will is not known)
local function exact_free(need)
  local idx = used + need - limit - 1
  if idx < 0 then
    return now
  end
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
  local ended = redis.call('ZCOUNT', log, '-inf', now + 1)
  if held > 0 then
    ended = ended + held - marked_after(now + 1)
  end
  if idx < ended then
    return ended_score(idx) + window
  end
  return nil
end
-- the first ticket in the room and the slots it asked for
local function head()
  local first = redis.call('ZRANGE', room, 0, 0)[1]
  if not first then
    return nil, 0
  end
  local ticket = string.match(first, '^([^#]*)')
  local at = tonumber(string.match(ticket, '^(%d+)'))
  local cost, prefix = 0, ticket .. '#'
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', room, at, at)) do
    if member == ticket or string.sub(member, 1, #prefix) == prefix then
      cost = cost + 1
    end
  end
  return ticket, cost
end
local out, next_at = {0}, -1
local paused = redis.call('PTTL', pause)
while true do
  local ticket, cost = head()
  if not ticket then
    break
  end
  if paused > 0 then
    next_at = now + paused
    break
  end
  local payload = redis.call('HGET', parked, ticket)
  if not payload then
    -- its step parks in a moment (and rings), or comes back by itself
    next_at = now + 50
    break
  end
  local storm = redis.call('EXISTS', strikes) == 1
  if storm and redis.call('EXISTS', probe) == 1 then
    next_at = now + math.max(100, 2 * tonumber(redis.call('HGET', stats, 'call_ms') or '0'))
    break
  end
  cost = math.min(cost, limit)
  -- granted up to ``lead`` ms before its first slot frees, so that it comes at its turn,
  -- once it is known when each of its slots frees; each call goes no earlier than its
  -- slot frees (``turns``): a step of several calls makes its first call in the first
  -- slot that frees, not only once all of them have
  local turns = {}
  for i = 1, cost do
    turns[i] = exact_free(i)
    if not turns[i] then
      break
    end
  end
  -- No sooner than 20 ms before its last slot frees (about one call's time): its worker
  -- process would wait for that slot, and the next step woken for the same slots would
  -- inherit their spread, step after step, keeping processes waiting that a busy
  -- cluster needs.
  local free_at, lead = turns[cost], wake_lead()
  local start = free_at and math.max(turns[1], free_at - 20)
  if not free_at or start > now + lead then
    next_at = free_at and start - lead or grant_time(cost - 1)
    break
  end
  local base = 'w' .. redis.call('HINCRBY', stats, 'woken', 1)
  redis.call('ZADD', log, now + lease, base)
  for i = 2, cost do
    redis.call('ZADD', log, now + lease, base .. '.' .. i)
  end
  if storm then
    redis.call('SET', probe, base, 'PX', lease)
  end
  redis.call('HSET', granted, ticket,
    base .. ' ' .. cost .. ' ' .. now .. ' ' .. table.concat(turns, ','))
  redis.call('PEXPIRE', granted, 2 * lease)
  drop_ticket(ticket)
  redis.call('ZREM', alive, ticket)
  redis.call('ZADD', woken, now + lease, ticket)
  redis.call('HDEL', owners, string.match(ticket, ':(.*)$'))
  used = used + cost
  out[#out + 1] = payload
end
count_idle()
local lost = redis.call('ZRANGE', woken, 0, 0, 'WITHSCORES')
if lost[2] and (next_at < 0 or tonumber(lost[2]) < next_at) then
  next_at = tonumber(lost[2])
end
if next_at >= 0 then
  redis.call('ZADD', due, next_at, name)
  out[1] = math.max(0, next_at - now)
else
  redis.call('ZREM', due, name)
  out[1] = -1
end
return out
"""
)
