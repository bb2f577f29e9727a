"""Store adapters, installed as ``vecbench.adapters``: one module per engine.

Each module must import without its client library; the client is imported when the
store connects (``__enter__``), and a missing one raises MissingDependencyError.
"""
