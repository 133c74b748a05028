"""The model registry: versions made from runs, aliases with history, promotion policy, approvals.

``versions`` creates and reads versions, ``aliases`` moves aliases (compare-and-set) and
answers "which version did an alias point at, at time T", ``policy`` evaluates a target's
gates and roles from conf/registry, ``approvals`` runs the request -> approve/reject state
machine. Front doors reach these through ``mlplat.ops`` (``mlplat/ops/registry.py``).
"""
