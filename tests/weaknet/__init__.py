"""Weak-network harness: a TCP fault proxy (``tests.weaknet.proxy.FaultProxy``) and its tests.

Kept empty on purpose: ``python -m tests.weaknet.proxy`` must not find the module already imported.
"""
