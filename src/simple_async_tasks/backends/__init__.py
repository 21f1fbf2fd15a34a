"""Backends: implementations of the ``TaskDao`` and ``TaskQueue`` contracts."""
