"""The standalone verifier of por-toolkit: formats, byte encodings and checks.

This package imports nothing from the exchange side (``por``), no web framework and no ORM,
so that an auditor can read and trust it alone. See ``docs/spec.md``.
"""

__version__ = "0.1.0"
