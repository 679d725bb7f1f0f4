"""The domain of sesshu: rules, validation, permissions and use-case services.

Nothing in this package imports a UI, storage or crypto library; ``tests/test_boundaries.py``
enforces that. Adapters in ``storage/``, ``exports/`` and ``sync/`` implement the ports in
``core.ports``.
"""
