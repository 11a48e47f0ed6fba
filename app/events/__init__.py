"""Domain events after commit: the envelope they travel in, the event bus port and
its two adapters (Redis Streams for deployments, in-process for the embedded backend
and tests). See ARCHITECTURE.md, section app/events."""
