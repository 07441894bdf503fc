//! The Lua scripts that change a job's state atomically, and the key
//! layout they share with the Rust side.
//!
//! Keys (prefix `verdant:jobs:` by default, `P` below):
//!
//! ```text
//! P q:<queue>      stream of ready jobs (field `id`), consumer group `workers`
//! P job:<id>       hash: name queue payload state attempts max_retries
//!                  timeout_ms unique result error progress enqueued_at ...
//! P delayed        zset: job id scored by run-at (ms since the epoch):
//!                  delayed jobs and retries waiting for their backoff
//! P dead           list of dead job ids (newest first)
//! P unique:<key>   the id of the pending job holding a unique key
//! P done:<id>      list that gets one element when the job ends (done,
//!                  dead or cancelled) if the hash has a `waiter` field:
//!                  `wait` sets the field, then blocks on the list
//! P queues         set of queue names seen; P stat:done, P stat:dead
//! ```
//!
//! Every script builds its keys from the prefix it is given, so the
//! scripts assume one Redis server (not a Cluster: see docs/jobs.md).
//! Each script runs as `EVALSHA` (loaded once per server, `EVAL` on a
//! `NOSCRIPT`), through the `redis` crate's `Script`.

use std::sync::LazyLock;

use redis::Script;

/// The consumer group every worker reads through.
pub(crate) const GROUP: &str = "workers";

/// Unique key check, the job hash, and the stream entry or the delayed
/// zset entry, in one step. Returns `{1, id}` or `{0, id_of_holder}`.
pub(crate) static ENQUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p, id, queue = ARGV[1], ARGV[2], ARGV[3]
local unique = ARGV[8]
if unique ~= '' then
  local holder = redis.call('GET', p..'unique:'..unique)
  if holder then return {0, holder} end
  redis.call('SET', p..'unique:'..unique, id)
end
local run_at, now = tonumber(ARGV[9]), tonumber(ARGV[10])
local state = 'queued'
if run_at > now then state = 'scheduled' end
redis.call('HSET', p..'job:'..id, 'name', ARGV[4], 'queue', queue, 'payload', ARGV[5],
  'max_retries', ARGV[6], 'timeout_ms', ARGV[7], 'unique', unique, 'state', state,
  'attempts', 0, 'enqueued_at', ARGV[10])
redis.call('SADD', p..'queues', queue)
if state == 'scheduled' then
  redis.call('ZADD', p..'delayed', run_at, id)
else
  redis.call('XADD', p..'q:'..queue, '*', 'id', id)
end
return {1, id}
"#,
    )
});

/// Marks a batch of fetched entries running and returns their jobs.
/// ARGV: prefix, now, then (queue, entry id, job id) triples. An entry
/// whose job was cancelled, or whose hash is gone, is acknowledged and
/// deleted, and `false` stands in its place.
pub(crate) static START: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p, now = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV, 3 do
  local queue, entry, id = ARGV[i], ARGV[i+1], ARGV[i+2]
  local key = p..'job:'..id
  local h = redis.call('HMGET', key, 'name', 'payload', 'state', 'max_retries', 'timeout_ms')
  if not h[1] or h[3] == 'cancelled' or h[3] == 'done' or h[3] == 'dead' then
    redis.call('XACK', p..'q:'..queue, 'workers', entry)
    redis.call('XDEL', p..'q:'..queue, entry)
    out[#out+1] = false
  else
    local attempts = redis.call('HINCRBY', key, 'attempts', 1)
    redis.call('HSET', key, 'state', 'running', 'started_at', now)
    out[#out+1] = {h[1], h[2], attempts, h[4], h[5]}
  end
end
return out
"#,
    )
});

/// Acknowledges a batch of finished jobs and stores their results.
/// ARGV: prefix, now, result ttl (s), then (queue, entry, id, result).
pub(crate) static COMPLETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p, now, ttl = ARGV[1], ARGV[2], ARGV[3]
for i = 4, #ARGV, 4 do
  local queue, entry, id = ARGV[i], ARGV[i+1], ARGV[i+2]
  local key = p..'job:'..id
  redis.call('XACK', p..'q:'..queue, 'workers', entry)
  redis.call('XDEL', p..'q:'..queue, entry)
  redis.call('HSET', key, 'state', 'done', 'result', ARGV[i+3], 'finished_at', now)
  redis.call('EXPIRE', key, ttl)
  local h = redis.call('HMGET', key, 'unique', 'waiter')
  if h[1] and h[1] ~= '' and redis.call('GET', p..'unique:'..h[1]) == id then
    redis.call('DEL', p..'unique:'..h[1])
  end
  if h[2] then
    redis.call('RPUSH', p..'done:'..id, 'done')
    redis.call('EXPIRE', p..'done:'..id, ttl)
  end
end
redis.call('INCRBY', p..'stat:done', (#ARGV - 3) / 4)
return 1
"#,
    )
});

/// A failed attempt: back to the delayed zset for a retry (retry_at >= 0)
/// or to the dead letter list. ARGV: prefix, now, ttl, queue, entry, id,
/// error, retry_at.
pub(crate) static FAIL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p, now, ttl = ARGV[1], ARGV[2], ARGV[3]
local queue, entry, id, err, retry_at = ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
local key = p..'job:'..id
redis.call('XACK', p..'q:'..queue, 'workers', entry)
redis.call('XDEL', p..'q:'..queue, entry)
if redis.call('EXISTS', key) == 0 then return 0 end
if retry_at >= 0 then
  redis.call('HSET', key, 'state', 'retrying', 'error', err)
  redis.call('ZADD', p..'delayed', retry_at, id)
  return 1
end
redis.call('HSET', key, 'state', 'dead', 'error', err, 'finished_at', now)
redis.call('LPUSH', p..'dead', id)
local unique = redis.call('HGET', key, 'unique')
if unique and unique ~= '' and redis.call('GET', p..'unique:'..unique) == id then
  redis.call('DEL', p..'unique:'..unique)
end
redis.call('RPUSH', p..'done:'..id, 'dead')
redis.call('EXPIRE', p..'done:'..id, ttl)
redis.call('INCR', p..'stat:dead')
return 2
"#,
    )
});

/// Moves due delayed jobs to their queues' streams. ARGV: prefix, now,
/// limit. Returns how many moved.
pub(crate) static PROMOTE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p, now, limit = ARGV[1], ARGV[2], ARGV[3]
local ids = redis.call('ZRANGEBYSCORE', p..'delayed', '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  redis.call('ZREM', p..'delayed', id)
  local h = redis.call('HMGET', p..'job:'..id, 'queue', 'state')
  if h[1] and h[2] ~= 'cancelled' then
    redis.call('HSET', p..'job:'..id, 'state', 'queued')
    redis.call('XADD', p..'q:'..h[1], '*', 'id', id)
  end
end
return #ids
"#,
    )
});

/// Cancels a job that has not started. ARGV: prefix, id, ttl. Returns 1
/// if cancelled, 0 if it is running or finished, -1 if unknown.
pub(crate) static CANCEL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p, id, ttl = ARGV[1], ARGV[2], ARGV[3]
local key = p..'job:'..id
local state = redis.call('HGET', key, 'state')
if not state then return -1 end
if state ~= 'queued' and state ~= 'scheduled' and state ~= 'retrying' then return 0 end
redis.call('HSET', key, 'state', 'cancelled')
redis.call('EXPIRE', key, ttl)
redis.call('ZREM', p..'delayed', id)
local unique = redis.call('HGET', key, 'unique')
if unique and unique ~= '' and redis.call('GET', p..'unique:'..unique) == id then
  redis.call('DEL', p..'unique:'..unique)
end
redis.call('RPUSH', p..'done:'..id, 'cancelled')
redis.call('EXPIRE', p..'done:'..id, ttl)
return 1
"#,
    )
});

/// Puts a dead job back on its queue with its attempts reset. ARGV:
/// prefix, id. Returns 1, or 0 if the id is not in the dead letter list.
pub(crate) static REQUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p, id = ARGV[1], ARGV[2]
if redis.call('LREM', p..'dead', 1, id) == 0 then return 0 end
local key = p..'job:'..id
local queue = redis.call('HGET', key, 'queue')
if not queue then return 0 end
redis.call('HSET', key, 'state', 'queued', 'attempts', 0)
redis.call('HDEL', key, 'error', 'finished_at')
redis.call('DEL', p..'done:'..id)
redis.call('XADD', p..'q:'..queue, '*', 'id', id)
return 1
"#,
    )
});

/// Hands a started job back (graceful stop past its deadline): the
/// attempt does not count. ARGV: prefix, queue, entry, id.
pub(crate) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p, queue, entry, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = p..'job:'..id
redis.call('XACK', p..'q:'..queue, 'workers', entry)
redis.call('XDEL', p..'q:'..queue, entry)
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HINCRBY', key, 'attempts', -1)
redis.call('HSET', key, 'state', 'queued')
redis.call('XADD', p..'q:'..queue, '*', 'id', id)
return 1
"#,
    )
});
