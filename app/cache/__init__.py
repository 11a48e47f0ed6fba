"""The cache port and its two adapters.

`port.Cache` is what the services and loaders depend on: a read-through cache of small
JSON-ready values by string key that never raises on infrastructure failure (a cache
that cannot answer behaves as a miss). Two adapters implement it:

- `redis_cache.RedisCache`: shared between instances, used when WHISTLE_REDIS_URL is set;
- `memory_cache.MemoryCache`: an in-process LRU with per-entry TTL, used otherwise.

Both store values as JSON, so a value read back is a fresh copy with JSON types
(tuples come back as lists) whichever adapter is configured.
"""
