"""Application services: one use case per function, each one short story —
open the unit of work, load, call the domain, save, commit. They take and return
domain values, never GraphQL types."""
