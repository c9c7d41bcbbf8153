"""The simulation engine: what any Convex deployment has, with or without a Workpool.

It imports nothing of :mod:`refmodel.workpool` or :mod:`refmodel.world`: pools use it through
its public parts, and :class:`~refmodel.engine.deployment.Deployment` is its front.

- :mod:`~refmodel.engine.clock`: virtual time, the event queue and its loop (CLK-1 to CLK-4).
- :mod:`~refmodel.engine.tracer`: numbers trace events and delivers them (DET-1, section 6).
- :mod:`~refmodel.engine.startqueue`: FIFO start into bounded slots (ORD-1, ORD-2, WC-1).
- :mod:`~refmodel.engine.runtime`: runs actions, mutations and queries (EXE-1, EXE-4).
- :mod:`~refmodel.engine.store`: the document store with OCC (OCC-1, OCC-2).
- :mod:`~refmodel.engine.functions`: the registry of functions, and actions declared as data.
- :mod:`~refmodel.engine.scheduler`: the plain Convex scheduler (SCH-1 to SCH-3).
- :mod:`~refmodel.engine.deployment`: a deployment: all of the above, and the API that moves
  time (CLK-4, DET-2).
"""
