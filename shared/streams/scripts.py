"""The Lua scripts behind the bus: each is one atomic step in Redis (publish, commit, trim)."""

# KEYS: 1 input stream, 2 dead-letter stream, 3 error hash, 4.. output streams
# ARGV: group, consumer, now_ms, lowest input id, highest input id, plan, then data arguments.
# The plan is one string of space-separated tokens, one per input: "<id>:a:<n_outputs>" (ack, writing
# n outputs, each taking 4 data arguments: key index, type, v, data) or "<id>:d" (dead-letter, taking 2:
# error, deliveries). Packing the ids into one argument keeps the client's per-argument cost off the
# hot path. Returns one flag per input: 1 committed, 0 no longer ours (reclaimed by another consumer,
# or committed already by an earlier attempt of this same call).
COMMIT_LUA = """
local group, consumer, now_ms = ARGV[1], ARGV[2], ARGV[3]
local owned_ids = {}
local rows = redis.call('XPENDING', KEYS[1], group, ARGV[4], ARGV[5], 100000, consumer)
for _, row in ipairs(rows) do owned_ids[row[1]] = true end
local i = 7
local done = {}
for token in string.gmatch(ARGV[6], '%S+') do
  local id, action, n_out = string.match(token, '^([^:]+):(%a):?(%d*)$')
  local owned = owned_ids[id] == true
  if action == 'a' then
    n_out = tonumber(n_out)
    if owned then
      for o = 1, n_out do
        redis.call('XADD', KEYS[tonumber(ARGV[i])], '*', 'type', ARGV[i + 1], 'v', ARGV[i + 2], 'data', ARGV[i + 3])
        i = i + 4
      end
    else
      i = i + 4 * n_out
    end
  else
    local err, deliveries = ARGV[i], ARGV[i + 1]
    i = i + 2
    if owned then
      local entry = redis.call('XRANGE', KEYS[1], id, id)
      local dead = {'source_stream', KEYS[1], 'source_id', id, 'group', group, 'consumer', consumer,
                    'error', err, 'deliveries', deliveries, 'dead_at_ms', now_ms}
      if #entry > 0 then
        local f = entry[1][2]
        for k = 1, #f, 2 do
          if f[k] == 'type' or f[k] == 'v' or f[k] == 'data' then
            dead[#dead + 1] = f[k]; dead[#dead + 1] = f[k + 1]
          else
            dead[#dead + 1] = 'orig_' .. f[k]; dead[#dead + 1] = f[k + 1]
          end
        end
      end
      redis.call('XADD', KEYS[2], '*', unpack(dead))
    end
  end
  if owned then
    redis.call('XACK', KEYS[1], group, id)
    redis.call('HDEL', KEYS[3], id)
  end
  done[#done + 1] = owned and 1 or 0
end
return done
"""

# KEYS: output streams. ARGV: n x (key_index, type, v, data). Returns the new entry ids, in order.
# One script call instead of a pipeline of XADDs: one reply to parse, and the batch lands whole or not at all.
PUBLISH_LUA = """
local ids = {}
for i = 1, #ARGV, 4 do
  ids[#ids + 1] = redis.call('XADD', KEYS[tonumber(ARGV[i])], '*', 'type', ARGV[i + 1], 'v', ARGV[i + 2],
                             'data', ARGV[i + 3])
end
return ids
"""

# KEYS: 1 output stream, 2 a sorted set of keys already published. ARGV: member, score, prune-below score
# ('' for none), type, v, data. Publishes only when the member is new, and records it in the same script,
# so "published" and "recorded" cannot disagree whatever crashes. Returns the entry id, or false.
PUBLISH_ONCE_LUA = """
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return false end
local id = redis.call('XADD', KEYS[1], '*', 'type', ARGV[4], 'v', ARGV[5], 'data', ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if ARGV[3] ~= '' then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3]) end
return id
"""

# KEYS: 1 stream. ARGV: cutoff id (retention). Returns the number of entries removed.
TRIM_LUA = """
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a_ms, a_seq, b_ms, b_seq)
  return a_ms < b_ms or (a_ms == b_ms and a_seq < b_seq)
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local min_ms, min_seq = parse(ARGV[1])
for _, g in ipairs(groups) do
  local info = {}
  for k = 1, #g, 2 do info[g[k]] = g[k + 1] end
  local ms, seq
  local summary = redis.call('XPENDING', KEYS[1], info['name'])
  if tonumber(summary[1]) > 0 then
    ms, seq = parse(summary[2])
  else
    ms, seq = parse(info['last-delivered-id'])
    seq = seq + 1
  end
  if less(ms, seq, min_ms, min_seq) then min_ms, min_seq = ms, seq end
end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%.0f-%.0f', min_ms, min_seq))
"""


# KEYS: 1 stream. ARGV: cutoff id. Trims by age a stream that no group reads (a log such as `decisions`);
# a stream with a group is left to trim_acknowledged, so a reader added later never loses entries.
TRIM_LOG_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if #redis.call('XINFO', 'GROUPS', KEYS[1]) > 0 then return -1 end
return redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
"""
