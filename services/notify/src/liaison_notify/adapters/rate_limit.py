"""Sends per window (a second on a channel, a minute on one bot), shared by every worker
process through Redis.

A fixed window per scope: each batch asks for as many sends as it holds and is granted what is
left of the window; the rest wait for the next window (a later scan, never a sleep). Windows
follow the caller's clock, so a test moves them by moving its clock.
"""

from datetime import datetime

from redis.asyncio import Redis

# INCRBY the window's counter by the wish, keep it a little longer than the window, and grant
# what the counter had left before this wish, at most the wish.
_TAKE = """
local after = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local before = after - tonumber(ARGV[1])
return math.max(0, math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - before))
"""


class RateLimiter:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self.redis = redis
        self.namespace = namespace

    async def take(self, scope: str, wanted: int, limit: int, now: datetime, seconds: int = 1) -> int:
        """How many of ``wanted`` sends in ``scope`` may go in the window of ``seconds`` that
        ``now`` falls in."""
        if wanted <= 0:
            return 0
        key = f"{self.namespace}:rate:{scope}:{seconds}:{int(now.timestamp()) // seconds}"
        granted = await self.redis.eval(_TAKE, 1, key, wanted, limit, seconds + 5)
        return int(granted)


def window_end(now: datetime, seconds: int) -> datetime:
    """When the window of ``seconds`` that ``now`` falls in ends: the deferred sends' due time."""
    start = int(now.timestamp()) // seconds * seconds
    return datetime.fromtimestamp(start + seconds, now.tzinfo)
