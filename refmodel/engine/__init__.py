"""The simulation engine: what any Convex deployment has, with or without a Workpool.

- :mod:`~refmodel.engine.clock`: virtual time and the event queue (rules CLK-1, CLK-3).
- :mod:`~refmodel.engine.startqueue`: FIFO start into bounded slots (ORD-1, ORD-2, WC-1).
- :mod:`~refmodel.engine.runtime`: runs actions, mutations and queries (EXE-1, EXE-4).
- :mod:`~refmodel.engine.store`: the document store with OCC (EXE-2, OCC-1, OCC-2).
- :mod:`~refmodel.engine.functions`: the registry of functions.
- :mod:`~refmodel.engine.scheduler`: the plain Convex scheduler (SCH-1 to SCH-3).
"""
