"""Fuzzing of every front door (the Python API, the scenario loader, the trace reader and
checker, the adapter program's request reader, the CLI's arguments).

CI runs a short budget; ``tox -e fuzz`` runs the long one (see :mod:`tests.fuzz.budget`).
"""
