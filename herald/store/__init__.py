"""Persistence: one narrow interface (base.py) and its implementations."""
