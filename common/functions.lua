#!lua name=a0m_v2
--
-- a0migrate's Redis function library. Every state change of a run goes
-- through one of these functions so that it is atomic, uses the server's
-- clock (TIME) and checks the fencing token of the batch it touches.
--
-- Times are integer milliseconds of the server clock.
-- Outcome values are "name" or "name|code|path"; the stats hash counts by
-- name and changes only when a user's outcome really changes, so retries
-- and resumed runs never count anyone twice.

local function now_ms()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function outcome_name(v)
    if not v then
        return nil
    end
    local i = string.find(v, '|', 1, true)
    if i then
        return string.sub(v, 1, i - 1)
    end
    return v
end

-- Sets one user's outcome; returns 1 when it changed.
local function set_outcome(users, stats, uid, value)
    local old = redis.call('HGET', users, uid)
    if old == value then
        return 0
    end
    redis.call('HSET', users, uid, value)
    local oname = outcome_name(old)
    local nname = outcome_name(value)
    if oname ~= nname then
        if oname then
            redis.call('HINCRBY', stats, oname, -1)
        else
            redis.call('HINCRBY', stats, 'total', 1)
        end
        redis.call('HINCRBY', stats, nname, 1)
    end
    return 1
end

local function event(events, ...)
    redis.call('XADD', events, 'MAXLEN', '~', '100000', '*', ...)
end

-- KEYS: batch, users, stats, pending
-- ARGV: batch_no, uid...
-- Registers a planned batch and its users as pending. An existing batch
-- keeps its state (resume). Returns {state, attempt, job_id}, or for a
-- SPLIT batch {state, attempt, "child1,child2"}.
local function plan_batch(keys, args)
    local batch, users, stats, pending = keys[1], keys[2], keys[3], keys[4]
    local st = redis.call('HMGET', batch, 'state', 'attempt', 'job_id',
                          'children')
    if st[1] == 'SPLIT' then
        return { st[1], tonumber(st[2]) or 0, st[4] or '' }
    end
    if st[1] then
        return { st[1], tonumber(st[2]) or 0, st[3] or '' }
    end
    redis.call('HSET', batch, 'state', 'PENDING', 'attempt', 0,
               'nusers', #args - 1, 'token', 0, 'created', now_ms())
    for i = 2, #args do
        if redis.call('HEXISTS', users, args[i]) == 0 then
            set_outcome(users, stats, args[i], 'pending')
        end
    end
    redis.call('ZADD', pending, tonumber(args[1]), args[1])
    redis.call('HINCRBY', stats, 'batches', 1)
    return { 'PENDING', 0, '' }
end

-- KEYS: users, stats   ARGV: uid, value [, uid, value ...]
local function set_outcomes(keys, args)
    local n = 0
    for i = 1, #args, 2 do
        n = n + set_outcome(keys[1], keys[2], args[i], args[i + 1])
    end
    return n
end

-- KEYS: batch, leases, fence, pending, events
-- ARGV: batch_no, worker, lease_ms, epoch, max_attempts
-- Hands a batch to a worker. PENDING becomes LEASED; SUBMITTED stays
-- SUBMITTED (the new holder adopts the job); RECONCILE stays RECONCILE.
-- An expired LEASED or SUBMITTING batch is taken over first. Anything
-- else, or a lease still held, is refused; a batch out of attempts
-- becomes POISON.
-- Returns {token, state, attempt, job_id} or {0, reason}.
local function claim(keys, args)
    local batch, leases, fence, pending, events =
        keys[1], keys[2], keys[3], keys[4], keys[5]
    local now = now_ms()
    local st = redis.call('HMGET', batch, 'state', 'lease_until', 'attempt',
                          'job_id')
    local state, lease_until = st[1], tonumber(st[2]) or 0
    if not state then
        return { 0, 'unknown batch' }
    end
    -- A holder whose lease ran out is gone: its batch is taken over.
    if lease_until <= now then
        if state == 'LEASED' then
            state = 'PENDING'
        elseif state == 'SUBMITTING' then
            state = 'RECONCILE'
        end
    end
    local adoptable = state == 'SUBMITTED' or state == 'RECONCILE'
    if state ~= 'PENDING' and not adoptable then
        return { 0, 'batch is ' .. state }
    end
    if adoptable and lease_until > now then
        return { 0, 'lease held' }
    end
    local token = redis.call('INCR', fence)
    local attempt = tonumber(st[3]) or 0
    local newstate = state
    if state == 'PENDING' then
        if attempt >= tonumber(args[5]) then
            redis.call('HSET', batch, 'state', 'POISON', 'token', 0)
            redis.call('ZREM', pending, args[1])
            return { 0, 'poison' }
        end
        newstate = 'LEASED'
        attempt = attempt + 1
    end
    local until_ms = now + tonumber(args[3])
    redis.call('HSET', batch, 'state', newstate, 'token', token,
               'worker', args[2], 'lease_until', until_ms,
               'attempt', attempt, 'epoch', args[4])
    redis.call('ZADD', leases, until_ms, args[1])
    redis.call('ZREM', pending, args[1])
    event(events, 'batch', args[1], 'state', newstate, 'worker', args[2])
    return { token, newstate, attempt, st[4] or '' }
end

-- KEYS: batch, leases   ARGV: batch_no, token, from (comma list), to,
--                              lease_ms [, field, value ...]
-- The one guarded transition. Fails with 'stale' when the token is not the
-- batch's current one, with 'state' when the batch is not in a from state.
local function transition(keys, args)
    local batch, leases = keys[1], keys[2]
    local st = redis.call('HMGET', batch, 'state', 'token')
    if st[2] ~= args[2] then
        return redis.error_reply('stale token')
    end
    -- Already there with our token: a retry after a lost reply.
    local ok = st[1] == args[4]
    for s in string.gmatch(args[3], '[^,]+') do
        if s == st[1] then
            ok = true
        end
    end
    if not ok then
        return redis.error_reply('batch is ' .. tostring(st[1]))
    end
    local now = now_ms()
    local until_ms = now + tonumber(args[5])
    redis.call('HSET', batch, 'state', args[4], 'lease_until', until_ms)
    redis.call('ZADD', leases, until_ms, args[1])
    for i = 6, #args, 2 do
        redis.call('HSET', batch, args[i], args[i + 1])
    end
    return now
end

-- KEYS: batch, users, stats, leases, events
-- ARGV: batch_no, token, summary, uid, value [, uid, value ...]
-- Ends a batch: writes every user's outcome and moves it to DONE.
local function complete(keys, args)
    local batch, users, stats, leases, events =
        keys[1], keys[2], keys[3], keys[4], keys[5]
    local st = redis.call('HMGET', batch, 'state', 'token')
    if st[2] ~= args[2] then
        return redis.error_reply('stale token')
    end
    if st[1] == 'DONE' or st[1] == 'POISON' then
        return redis.error_reply('batch is ' .. st[1])
    end
    local changed = 0
    for i = 4, #args, 2 do
        changed = changed + set_outcome(users, stats, args[i], args[i + 1])
    end
    redis.call('HSET', batch, 'state', 'DONE', 'summary', args[3],
               'finished', now_ms())
    redis.call('ZREM', leases, args[1])
    redis.call('HINCRBY', stats, 'batches_done', 1)
    event(events, 'batch', args[1], 'state', 'DONE', 'summary', args[3])
    return changed
end

-- KEYS: batch, leases, pending, users, stats, events
-- ARGV: batch_no, max_attempts, reason [, token [, refund]]
-- Takes a batch back from its holder (dead worker, failure, expired lease).
-- With a token, only that holder's lease is taken back. LEASED returns to
-- PENDING, or POISON after max_attempts; SUBMITTING (outcome of the POST
-- unknown) becomes RECONCILE; SUBMITTED and RECONCILE stay for adoption.
-- With refund "1" the lease never reached its holder, so it does not
-- count as an attempt. Returns the new state.
local function release(keys, args)
    local batch, leases, pending, users, stats, events =
        keys[1], keys[2], keys[3], keys[4], keys[5], keys[6]
    local st = redis.call('HMGET', batch, 'state', 'attempt', 'token')
    local state, attempt = st[1], tonumber(st[2]) or 0
    if args[4] and args[4] ~= '' and args[4] ~= '0' and st[3] ~= args[4] then
        return redis.error_reply('stale token')
    end
    if not state or state == 'DONE' or state == 'POISON' then
        return state or 'UNKNOWN'
    end
    local newstate = state
    if state == 'LEASED' and args[5] == '1' then
        newstate = 'PENDING'
        attempt = math.max(0, attempt - 1)
        redis.call('HSET', batch, 'attempt', attempt)
    elseif state == 'LEASED' then
        if attempt >= tonumber(args[2]) then
            newstate = 'POISON'
        else
            newstate = 'PENDING'
        end
    elseif state == 'SUBMITTING' then
        newstate = 'RECONCILE'
    end
    redis.call('HSET', batch, 'state', newstate, 'token', 0,
               'lease_until', 0, 'last_error', args[3])
    redis.call('ZREM', leases, args[1])
    if newstate == 'PENDING' then
        redis.call('ZADD', pending, tonumber(args[1]), args[1])
    end
    if newstate == 'POISON' then
        redis.call('HINCRBY', stats, 'batches_poison', 1)
    end
    event(events, 'batch', args[1], 'state', newstate, 'reason', args[3])
    return newstate
end

-- KEYS: parent, parent_users, c1, c1_users, c2, c2_users, pending,
--       leases, stats, events
-- ARGV: parent_no, c1_no, c2_no, n1, uid...
-- A batch Auth0 refused as too large becomes two: the first n1 users go
-- to c1, the rest to c2, with their outcomes; the parent is SPLIT and
-- names its children. Idempotent: a SPLIT parent returns its children.
local function split(keys, args)
    local st = redis.call('HMGET', keys[1], 'state', 'children')
    if st[1] == 'SPLIT' then
        return st[2]
    end
    if st[1] ~= 'LEASED' and st[1] ~= 'PENDING' then
        return redis.error_reply('batch is ' .. tostring(st[1]))
    end
    local n1 = tonumber(args[4])
    local now = now_ms()
    for i = 5, #args do
        local child = i - 4 <= n1 and 3 or 5
        local v = redis.call('HGET', keys[2], args[i]) or 'pending'
        redis.call('HSET', keys[child + 1], args[i], v)
        redis.call('HDEL', keys[2], args[i])
    end
    local sizes = { n1, #args - 4 - n1 }
    for k, child in ipairs({ 3, 5 }) do
        redis.call('HSET', keys[child], 'state', 'PENDING', 'attempt', 0,
                   'nusers', sizes[k], 'token', 0, 'created', now,
                   'parent', args[1])
        redis.call('ZADD', keys[7], tonumber(args[k + 1]), args[k + 1])
    end
    local children = args[2] .. ',' .. args[3]
    redis.call('HSET', keys[1], 'state', 'SPLIT', 'children', children,
               'token', 0)
    redis.call('ZREM', keys[7], args[1])
    redis.call('ZREM', keys[8], args[1])
    redis.call('HINCRBY', keys[9], 'batches', 1)
    event(keys[10], 'batch', args[1], 'state', 'SPLIT', 'children', children)
    return children
end

-- ---- farm-wide rate limiter ----------------------------------------------
--
-- One bucket per target tenant and bucket name (a0m:{T}:rl:NAME), shared by
-- every worker on every host. A bucket is a GCRA kept as its level: how
-- many micro-requests are still in it at a base time, draining at the
-- sustained rate. A request adds a million and may go once the level after
-- it fits within burst million. Rates come in milli-requests per second,
-- which is exactly micro-requests per millisecond, so every quantity is an
-- integer and every time is a whole millisecond of this server's clock:
-- 16/s (62.5 ms apart) is as exact as 10/s, and no caller's clock is ever
-- compared with anything.

local MICRO = 1000000
local PAUSE_MIN_MS = 250
local PAUSE_MAX_MS = 120000

-- Level of a bucket at now; a clock that stepped back drains nothing.
local function rl_level(key, now, per_ms)
    local v = redis.call('GET', key)
    if not v then
        return 0
    end
    local base, level = string.match(v, '^(%d+) (%d+)$')
    if not base then
        return 0
    end
    local left = tonumber(level) - math.max(0, now - tonumber(base)) * per_ms
    return math.max(0, left)
end

-- Stores a level; the key lives exactly until the bucket is empty again.
local function rl_store(key, now, level, per_ms)
    local ttl = math.ceil(level / per_ms) + 1
    redis.call('SET', key, string.format('%d %d', now, level), 'PX', ttl)
end

-- Per-bucket rate and burst from ARGV pairs starting at first.
local function rl_params(args, first, i)
    local per_ms = math.max(1, tonumber(args[first + 2 * (i - 1)]) or 1)
    local burst = math.max(1, tonumber(args[first + 2 * i - 1]) or 1)
    return per_ms, burst * MICRO
end

-- What the last Auth0 response said about its bucket, for metrics.
local function rl_note(last, stats, now, args, at)
    if #args < at + 4 then
        return
    end
    local limit, remaining = tonumber(args[at + 1]), tonumber(args[at + 2])
    redis.call('HSET', last, 'group', args[at], 'limit', args[at + 1],
               'remaining', args[at + 2], 'reset', args[at + 3],
               'status', args[at + 4], 'at', now)
    if limit and remaining and limit > 0 and remaining >= 0 and
        remaining * 10 < limit then
        redis.call('HINCRBY', stats, 'near_limit', 1)
    end
end

-- KEYS: pause, stats, last, bucket...
-- ARGV: max_wait_ms, (rate_mrps, burst) per bucket
--       [, group, limit, remaining, reset, status of the last response]
-- Books one request in every bucket at the earliest time all of them (and
-- any farm pause) allow. Returns {0, 0}: go now; {1, wait_ms}: a slot is
-- booked wait_ms ahead, sleep then send; {2, wait_ms}: denied, nothing
-- booked, the earliest slot is wait_ms away.
local function rl_acquire(keys, args)
    local now = now_ms()
    local n = #keys - 3
    -- exact: the moment (ms from now, fractional) every bucket conforms
    local exact = 0
    local pause_until = tonumber(redis.call('GET', keys[1])) or 0
    if pause_until > now then
        exact = pause_until - now
    end
    local levels = {}
    for i = 1, n do
        local per_ms, tau = rl_params(args, 2, i)
        levels[i] = rl_level(keys[i + 3], now, per_ms)
        local over = levels[i] + MICRO - tau
        if over > 0 then
            exact = math.max(exact, over / per_ms)
        end
    end
    local wait = math.ceil(exact)
    rl_note(keys[3], keys[2], now, args, 2 + 2 * n)
    if wait > tonumber(args[1]) then
        redis.call('HINCRBY', keys[2], 'denied', 1)
        return { 2, wait }
    end
    -- Booked at that exact moment, so that rounding the caller's sleep up
    -- to a whole millisecond never lowers the rate; a bucket that would
    -- have drained further by then is charged from then.
    for i = 1, n do
        local per_ms = rl_params(args, 2, i)
        local level = math.max(levels[i], math.floor(exact * per_ms)) + MICRO
        rl_store(keys[i + 3], now, level, per_ms)
    end
    redis.call('HINCRBY', keys[2], 'granted', 1)
    if wait > 0 then
        redis.call('HINCRBY', keys[2], 'reserved', 1)
        redis.call('HINCRBY', keys[2], 'reserved_ms', wait)
        return { 1, wait }
    end
    return { 0, 0 }
end

-- Pause asked for, or when the response gave none, a backoff that doubles
-- with every such 429 in the last minute.
local function rl_pause_ms(strikes, asked)
    if asked < PAUSE_MIN_MS then
        local k = redis.call('INCR', strikes)
        redis.call('PEXPIRE', strikes, 60000)
        asked = PAUSE_MIN_MS * 2 ^ (math.min(k, 10) - 1)
    end
    return math.min(PAUSE_MAX_MS, math.max(PAUSE_MIN_MS, asked))
end

-- KEYS: pause, stats, pauses, strikes, bucket...
-- ARGV: pause_ms, reason, (rate_mrps, burst) per bucket
-- Auth0 said 429 (or, with reason "brake", that its bucket runs low):
-- nobody sends before now + pause, and every bucket restarts empty at
-- that moment, so traffic resumes at the sustained rate, not in a burst.
-- Returns the pause applied (ms).
local function rl_penalize(keys, args)
    local now = now_ms()
    local pause = rl_pause_ms(keys[4], tonumber(args[1]) or 0)
    local until_ms = now + pause
    local old = tonumber(redis.call('GET', keys[1])) or 0
    if until_ms > old then
        redis.call('SET', keys[1], string.format('%d', until_ms), 'PX', pause)
    end
    for i = 1, #keys - 4 do
        local per_ms, tau = rl_params(args, 3, i)
        -- At until_ms exactly one request fits; after it, the rate.
        local target = pause * per_ms + tau - MICRO
        if target > rl_level(keys[i + 4], now, per_ms) then
            rl_store(keys[i + 4], now, target, per_ms)
        end
    end
    local what = args[2] == 'brake' and 'brakes' or 'penalties'
    redis.call('HINCRBY', keys[2], what, 1)
    redis.call('LPUSH', keys[3],
               string.format('%d %d %s', now, until_ms, args[2]))
    redis.call('LTRIM', keys[3], 0, 999)
    return pause
end

-- ---- import-job semaphore ------------------------------------------------
--
-- a0m:{T}:jobs is a sorted set of holders scored by lease expiry. Holders
-- are batches, not workers: a job Auth0 runs keeps its slot whoever polls
-- it, and a holder's lease is only ever extended, never cut short.
-- Members "auth0:N" stand for jobs Auth0 counts that the farm does not
-- know of.

-- KEYS: holders, fence   ARGV: capacity, holder, lease_ms
-- Returns {1, fence} when held, {0, wait_ms} when all slots are taken.
local function sem_acquire(keys, args)
    local now = now_ms()
    redis.call('ZREMRANGEBYSCORE', keys[1], '-inf', now)
    local until_ms = now + tonumber(args[3])
    if redis.call('ZSCORE', keys[1], args[2]) then
        redis.call('ZADD', keys[1], 'XX', 'GT', until_ms, args[2])
        return { 1, 0 }
    end
    if redis.call('ZCARD', keys[1]) < tonumber(args[1]) then
        redis.call('ZADD', keys[1], until_ms, args[2])
        return { 1, redis.call('INCR', keys[2]) }
    end
    local first = redis.call('ZRANGE', keys[1], 0, 0, 'WITHSCORES')
    return { 0, math.max(1, tonumber(first[2]) - now) }
end

-- KEYS: holders   ARGV: holder, lease_ms. Returns 1, or 0 if lost.
local function sem_renew(keys, args)
    local now = now_ms()
    local score = tonumber(redis.call('ZSCORE', keys[1], args[1]))
    if not score or score <= now then
        return 0
    end
    redis.call('ZADD', keys[1], 'XX', 'GT', now + tonumber(args[2]), args[1])
    return 1
end

-- KEYS: holders, wake   ARGV: holder. Frees a slot and wakes one waiter.
local function sem_release(keys, args)
    local n = redis.call('ZREM', keys[1], args[1])
    redis.call('LPUSH', keys[2], '1')
    redis.call('LTRIM', keys[2], 0, 15)
    return n
end

-- KEYS: holders, fence   ARGV: holder, hold_ms
-- Auth0 refused a job because its own count is full: the holder gives its
-- slot to a stand-in for the job we cannot see, for hold_ms, and queues
-- again. Nobody is woken: no slot was freed.
local function sem_yield(keys, args)
    local now = now_ms()
    redis.call('ZREM', keys[1], args[1])
    local n = redis.call('INCR', keys[2])
    redis.call('ZADD', keys[1], now + tonumber(args[2]), 'auth0:' .. n)
    return 1
end

redis.register_function('a0m_plan_batch', plan_batch)
redis.register_function('a0m_set_outcomes', set_outcomes)
redis.register_function('a0m_claim', claim)
redis.register_function('a0m_transition', transition)
redis.register_function('a0m_complete', complete)
redis.register_function('a0m_release', release)
redis.register_function('a0m_split', split)
redis.register_function('a0m_rl_acquire', rl_acquire)
redis.register_function('a0m_rl_penalize', rl_penalize)
redis.register_function('a0m_sem_acquire', sem_acquire)
redis.register_function('a0m_sem_renew', sem_renew)
redis.register_function('a0m_sem_release', sem_release)
redis.register_function('a0m_sem_yield', sem_yield)
