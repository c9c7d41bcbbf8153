"""Proposals: semantics the component's users have asked for, as profiles of their own.

Each module here builds a :class:`~refmodel.workpool.profiles.Profile` from a built-in one by
replacing one part, with nothing of the engine or the pool edited, so that what a proposal
would change can be measured before anyone builds it.

- :mod:`~refmodel.proposals.borrowing`: pools lend idle slots to each other (workpool#144).
"""
