"""Exception types of the built-in engine.

Each is a `safe_clip.errors.UserError` (so `train.py` prints it as one line) and also the built-in type Dassl
raises in the same situation (so host code written against Dassl, `except ValueError:` and the like, still works).
"""
from __future__ import annotations

from safe_clip.errors import UserError


class UserValueError(UserError, ValueError):
    """A setting or name that is not one of the accepted values."""


class UserTypeError(UserError, TypeError):
    """A setting of the wrong type."""


class UserKeyError(UserError, KeyError):
    """A name missing from a registry or a mapping."""

    def __str__(self) -> str:
        # KeyError's str() quotes its argument; a one-line message reads better without the quotes.
        return str(self.args[0]) if self.args else ""


class UserFileNotFoundError(UserError, FileNotFoundError):
    """A file the run needs does not exist."""


class UnsupportedFeatureError(UserError, NotImplementedError):
    """A Dassl feature that the built-in engine does not implement (use the real Dassl for it)."""
