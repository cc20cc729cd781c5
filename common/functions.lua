#!lua name=a0m_v1
--
-- a0migrate's Redis function library. Every state change of a run goes
-- through one of these functions so that it is atomic, uses the server's
-- clock (TIME) and checks the fencing token of the batch it touches.
--
-- Times are integer milliseconds (microseconds for the rate limiter).
-- Outcome values are "name" or "name|code|path"; the stats hash counts by
-- name and changes only when a user's outcome really changes, so retries
-- and resumed runs never count anyone twice.

local function now_ms()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function now_us()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000000 + tonumber(t[2])
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
    local ok = false
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

-- KEYS: tat   ARGV: rate_per_s, burst, max_wait_ms
-- GCRA with reservations. Returns {0, 0} allowed now, {1, wait_ms} a slot
-- is booked wait_ms ahead (sleep, then send), {2, wait_ms} denied (sleep
-- about wait_ms, then ask again).
local function gcra_acquire(keys, args)
    local now = now_us()
    local t = 1000000 / tonumber(args[1])
    local tau = t * tonumber(args[2])
    local max_wait = tonumber(args[3]) * 1000
    local tat = tonumber(redis.call('GET', keys[1])) or now
    if tat > now + tau + 3600000000 then
        tat = now
    end
    local new_tat = math.max(tat, now) + t
    local wait = new_tat - tau - now
    if wait > max_wait then
        return { 2, math.ceil(wait / 1000) }
    end
    local ttl = math.ceil((new_tat - now) / 1000) + 1
    redis.call('SET', keys[1], string.format('%d', new_tat), 'PX', ttl)
    if wait <= 0 then
        return { 0, 0 }
    end
    return { 1, math.ceil(wait / 1000) }
end

-- KEYS: tat, pause   ARGV: rate_per_s, burst, pause_ms
-- A 429 from Auth0: nobody sends before now + pause_ms, and the bucket
-- restarts empty so traffic resumes at the sustained rate.
local function gcra_penalize(keys, args)
    local now = now_us()
    local t = 1000000 / tonumber(args[1])
    local tau = t * tonumber(args[2])
    local pause = tonumber(args[3]) * 1000
    local target = now + pause + tau - t
    local tat = tonumber(redis.call('GET', keys[1])) or now
    if target > tat then
        local ttl = math.ceil((target - now) / 1000) + 1
        redis.call('SET', keys[1], string.format('%d', target), 'PX', ttl)
    end
    redis.call('SET', keys[2], string.format('%d', now + pause), 'PX',
               math.max(1, math.ceil(pause / 1000)))
    return math.ceil(pause / 1000)
end

-- KEYS: holders, fence   ARGV: capacity, holder, lease_ms
-- Import-job slots. Holders are batches, scored by lease expiry.
-- Returns {1, fence} when held, {0, wait_ms} when all slots are taken.
local function sem_acquire(keys, args)
    local now = now_ms()
    redis.call('ZREMRANGEBYSCORE', keys[1], '-inf', now)
    local until_ms = now + tonumber(args[3])
    if redis.call('ZSCORE', keys[1], args[2]) then
        redis.call('ZADD', keys[1], 'XX', until_ms, args[2])
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
    redis.call('ZADD', keys[1], 'XX', now + tonumber(args[2]), args[1])
    return 1
end

-- KEYS: holders, wake   ARGV: holder. Frees a slot and wakes one waiter.
local function sem_release(keys, args)
    local n = redis.call('ZREM', keys[1], args[1])
    redis.call('LPUSH', keys[2], '1')
    redis.call('LTRIM', keys[2], 0, 15)
    return n
end

redis.register_function('a0m_plan_batch', plan_batch)
redis.register_function('a0m_set_outcomes', set_outcomes)
redis.register_function('a0m_claim', claim)
redis.register_function('a0m_transition', transition)
redis.register_function('a0m_complete', complete)
redis.register_function('a0m_release', release)
redis.register_function('a0m_split', split)
redis.register_function('a0m_gcra_acquire', gcra_acquire)
redis.register_function('a0m_gcra_penalize', gcra_penalize)
redis.register_function('a0m_sem_acquire', sem_acquire)
redis.register_function('a0m_sem_renew', sem_renew)
redis.register_function('a0m_sem_release', sem_release)
