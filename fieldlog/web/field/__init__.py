"""The rep's screens: Today, visit entry, my visits, proposals, customers.

One blueprint, ``field``; its pages live in this package by subject (docs/architecture.md).
"""

from . import customers, follow_ups, proposals, today, visits
from .blueprint import bp

__all__ = ["bp", "customers", "follow_ups", "proposals", "today", "visits"]
