"""The chaos test: `make chaos` (see chaos/run.py and README, "Chaos test")."""
