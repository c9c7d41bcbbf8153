"""The Workpool: pools, their work items, the one lifecycle those follow, and the profiles.

A file per concern, each the home of the rules it names:

- :mod:`~refmodel.workpool.lifecycle`: the states and the transition table (LIF-1).
- :mod:`~refmodel.workpool.profiles`: what differs between semantics (PRF-1).
- :mod:`~refmodel.workpool.options`: pool options and retry behaviours (CFG-1 to CFG-6).
- :mod:`~refmodel.workpool.items`: ids and work records (ENQ-1, STS-4, CAN-5).
- :mod:`~refmodel.workpool.enqueue`: enqueue validation and eligibility (ENQ-2 to ENQ-7).
- :mod:`~refmodel.workpool.slots`: who may start when (PAR-1, PAR-2).
- :mod:`~refmodel.workpool.retries`: which failures are retried, and the backoff (RTY-1 to
  RTY-4).
- :mod:`~refmodel.workpool.timeouts`: per-kind timeouts (TMO-1, TMO-2).
- :mod:`~refmodel.workpool.cancel`: cancel and cancel_all (CAN-1 to CAN-3, CAN-6, CAN-7).
- :mod:`~refmodel.workpool.completion`: onComplete callbacks (ONC-1 to ONC-3).
- :mod:`~refmodel.workpool.retention`: results kept for the ttl, then evicted (TTL-1, TTL-2).
- :mod:`~refmodel.workpool.results`: try_result and poll_result (RES-1 to RES-4).
- :mod:`~refmodel.workpool.status`: what users read of an item (STS-1 to STS-5).
- :mod:`~refmodel.workpool.pool`: the pool, which applies the table (the only place that
  changes an item's state).
- :mod:`~refmodel.workpool.poolctx`: the seed's ``pool.ctx(ctx)`` wrapper (CTX-1 to CTX-3,
  CAN-4).
"""
