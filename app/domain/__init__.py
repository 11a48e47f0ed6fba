"""The domain: pure Python, no I/O. Imports nothing from the rest of `app`."""
