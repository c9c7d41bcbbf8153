"""The Workpool: pools, their work items and the one lifecycle those follow.

- :mod:`~refmodel.workpool.lifecycle`: the states and the transition table (LIF-1).
- :mod:`~refmodel.workpool.options`: pool options and retry behaviours (CFG-1 to CFG-6).
- :mod:`~refmodel.workpool.pool`: enqueue, start, finish, retry, cancel (ENQ, PAR, RTY, CAN).
- :mod:`~refmodel.workpool.status`: what users read of an item (STS-1 to STS-5).
- :mod:`~refmodel.workpool.poolctx`: the seed's ``pool.ctx(ctx)`` wrapper (CTX-1 to CTX-3).
"""
