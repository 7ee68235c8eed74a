//! A `RateLimiter` shared by every node: the GCRA state lives in Redis and
//! one Lua script takes a token, timed by Redis's own clock.

use redis::Script;
use switchboard_limits::{Decision, LimiterError, Rate, RateLimiter};

use crate::conn::Redis;

const NANOS_PER_MS: u128 = 1_000_000;

/// One GCRA step on Redis's clock (`TIME`), in exact integers.
///
/// Lua numbers are doubles, exact only below 2^53, while a TAT in
/// nanoseconds since the epoch is about 2^61 and `T * burst` may reach
/// 2^96. So the script does its arithmetic on non-negative decimal strings
/// split into base-1e9 limbs (compare, add, subtract: all it needs).
///
/// `KEYS[1]` the bucket, `ARGV[1]` = T and `ARGV[2]` = limit (= T * burst),
/// in nanoseconds. Returns `{allowed (1 or 0), ahead}` with
/// `ahead = max(stored, now) + T - now` in nanoseconds; the caller derives
/// `remaining` or `retry_after` from it. When allowed it stores the new TAT
/// with a TTL just past the moment it is no longer ahead of now, after which
/// a missing key is exactly a fresh one.
const CHECK_LUA: &str = r"
local BASE = 1000000000
local function parse(s)
  local a, i = {}, #s
  while i > 0 do
    local j = math.max(1, i - 8)
    a[#a + 1] = tonumber(string.sub(s, j, i))
    i = j - 1
  end
  return a
end
local function fmt(a)
  local n = #a
  while n > 1 and a[n] == 0 do n = n - 1 end
  local out = { string.format('%d', a[n] or 0) }
  for k = n - 1, 1, -1 do out[#out + 1] = string.format('%09d', a[k]) end
  return table.concat(out)
end
local function cmp(a, b)
  for k = math.max(#a, #b), 1, -1 do
    local x, y = a[k] or 0, b[k] or 0
    if x ~= y then
      if x < y then return -1 end
      return 1
    end
  end
  return 0
end
local function add(a, b)
  local r, carry = {}, 0
  for k = 1, math.max(#a, #b) do
    local s = (a[k] or 0) + (b[k] or 0) + carry
    if s >= BASE then r[k] = s - BASE; carry = 1 else r[k] = s; carry = 0 end
  end
  if carry > 0 then r[#r + 1] = carry end
  return r
end
local function sub(a, b)
  local r, borrow = {}, 0
  for k = 1, #a do
    local d = a[k] - (b[k] or 0) - borrow
    if d < 0 then r[k] = d + BASE; borrow = 1 else r[k] = d; borrow = 0 end
  end
  return r
end
local function approx(a)
  local x = 0
  for k = #a, 1, -1 do x = x * BASE + a[k] end
  return x
end

local time = redis.call('TIME')
local now = parse(time[1] .. string.format('%06d', tonumber(time[2])) .. '000')
local t = parse(ARGV[1])
local limit = parse(ARGV[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  if not string.match(stored, '^%d+$') then
    return redis.error_reply('ERR rate limit state at ' .. KEYS[1] .. ' is not a number')
  end
  local s = parse(stored)
  if cmp(s, now) > 0 then tat = s end
end
local new_tat = add(tat, t)
local ahead = sub(new_tat, now)
if cmp(ahead, limit) <= 0 then
  -- Past ceil(ahead in ms) the stored TAT is not after now: gone is the same.
  local ms = math.floor(approx(ahead) / 1000000) + 1
  if ms > 1e15 then ms = 1e15 end
  redis.call('SET', KEYS[1], fmt(new_tat), 'PX', string.format('%d', ms))
  return { 1, fmt(ahead) }
end
return { 0, fmt(ahead) }
";

/// A [`RateLimiter`] whose state every node shares: each key's theoretical
/// arrival time (TAT) at `<prefix>:rl:{<key>}`, updated by one Lua script
/// on Redis's clock so that nodes with skewed clocks still agree.
///
/// It computes exactly the formulas on [`RateLimiter`] (those of
/// `MemoryRateLimiter`), in whole nanoseconds; Redis's `TIME` has microsecond
/// resolution. One round trip per check (`EVALSHA`, loading the script only
/// when Redis does not have it). A stored TAT expires once it is no longer
/// after now, so idle keys vanish by themselves and [`sweep`] does nothing.
/// Every check waits at most the connection's timeout; Redis unreachable,
/// slow or answering an error is [`LimiterError::Unavailable`].
///
/// Windows beyond 10^15 ms (`T * burst`, some 30 000 years) keep their
/// state only that long.
///
/// [`sweep`]: RateLimiter::sweep
#[derive(Debug, Clone)]
pub struct RedisRateLimiter {
    redis: Redis,
    script: Script,
}

impl RedisRateLimiter {
    /// A limiter on `redis`, under its prefix.
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            script: Script::new(CHECK_LUA),
        }
    }
}

#[async_trait::async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &str, rate: Rate) -> Result<Decision, LimiterError> {
        let t = rate.emission_interval().as_nanos();
        let limit = t * u128::from(rate.burst.max(1));
        let mut call = self.script.prepare_invoke();
        call.key(self.redis.keys.rate(key))
            .arg(t.to_string())
            .arg(limit.to_string());
        let (allowed, ahead): (i64, String) = self
            .redis
            .bounded("rate check", |mut c| async move {
                call.invoke_async(&mut c).await
            })
            .await
            .map_err(|e| LimiterError::Unavailable(e.to_string()))?;
        let ahead: u128 = ahead
            .parse()
            .map_err(|_| LimiterError::Unavailable(format!("the rate check answered {ahead:?}")))?;
        Ok(decide(allowed == 1, ahead, t, limit))
    }

    async fn sweep(&self) -> usize {
        // Redis expires idle keys itself.
        0
    }
}

/// The decision for a step whose new TAT is `ahead` past now: the same
/// integer formulas as the memory limiter's.
fn decide(allowed: bool, ahead: u128, t: u128, limit: u128) -> Decision {
    if allowed && ahead <= limit {
        // At most burst - 1, so it fits.
        let remaining = u32::try_from((limit - ahead) / t).unwrap_or(u32::MAX);
        Decision::Allowed { remaining }
    } else {
        let ms = ahead.saturating_sub(limit).div_ceil(NANOS_PER_MS).max(1);
        let retry_after = std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX));
        Decision::Limited { retry_after }
    }
}

#[cfg(test)]
mod tests {
    use super::decide;
    use std::time::Duration;
    use switchboard_limits::Decision;

    #[test]
    fn decisions_follow_the_formulas() {
        let t = 100_000_000; // 10 per second
        let limit = t * 5;
        assert_eq!(
            decide(true, t, t, limit),
            Decision::Allowed { remaining: 4 }
        );
        assert_eq!(
            decide(true, limit, t, limit),
            Decision::Allowed { remaining: 0 }
        );
        assert_eq!(
            decide(false, limit + t, t, limit),
            Decision::Limited {
                retry_after: Duration::from_millis(100)
            }
        );
        assert_eq!(
            decide(false, limit + 1, t, limit),
            Decision::Limited {
                retry_after: Duration::from_millis(1)
            }
        );
    }
}
