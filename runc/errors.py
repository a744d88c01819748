"""The one error type the runtime raises: its text is the line runc would print."""

from __future__ import annotations


class RuncError(Exception):
    """Any failure of a runtime verb; str(e) is runc's one-line message."""
