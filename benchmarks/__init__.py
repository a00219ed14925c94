"""Benchmarks for referatvagt: ``python -m benchmarks [--scale tiny|small] [--out PATH]``.

Every speed is measured against a baseline run in the same process on the same text; see README.md.
"""
