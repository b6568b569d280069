"""Name -> object registries and Dassl's "did you mean" availability check."""
from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any, Iterable, Optional, TypeVar

from safe_clip.engine.errors import UserKeyError, UserValueError

__all__ = ["Registry", "check_availability", "get_most_similar_str_to_a_from_b"]

T = TypeVar("T")


class Registry:
    """Maps names to classes or functions; `@REGISTRY.register()` registers under `obj.__name__`."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._obj_map: dict[str, Any] = {}

    def _do_register(self, name: str, obj: Any, force: bool = False) -> None:
        if name in self._obj_map and not force:
            raise UserKeyError(f'An object named "{name}" was already registered in "{self._name}" registry')
        self._obj_map[name] = obj

    def register(self, obj: Optional[T] = None, force: bool = False) -> Any:
        """Registers `obj`, or returns a decorator that does when called without an object."""
        if obj is None:

            def decorator(fn_or_class: T) -> T:
                self._do_register(fn_or_class.__name__, fn_or_class, force=force)
                return fn_or_class

            return decorator
        self._do_register(obj.__name__, obj, force=force)
        return obj

    def get(self, name: str) -> Any:
        if name not in self._obj_map:
            raise UserKeyError(f'Object name "{name}" does not exist in "{self._name}" registry')
        return self._obj_map[name]

    def registered_names(self) -> list[str]:
        """Names in registration order."""
        return list(self._obj_map.keys())

    def __contains__(self, name: object) -> bool:
        return name in self._obj_map

    def __repr__(self) -> str:
        return f"Registry({self._name!r}, names={self.registered_names()})"


def get_most_similar_str_to_a_from_b(a: str, b: Iterable[str]) -> Optional[str]:
    """The candidate in `b` most similar to `a` (difflib ratio; the last one wins ties, as in Dassl)."""
    best_ratio = 0.0
    chosen = None
    for candidate in b:
        ratio = SequenceMatcher(None, a, candidate).ratio()
        if ratio >= best_ratio:
            best_ratio = ratio
            chosen = candidate
    return chosen


def check_availability(requested: str, available: list[str]) -> None:
    """Raises Dassl's ValueError (one line, with the closest name) when `requested` is not in `available`."""
    if requested not in available:
        closest = get_most_similar_str_to_a_from_b(requested, available)
        raise UserValueError(
            f"The requested one is expected to belong to {available}, but got [{requested}] "
            f"(do you mean [{closest}]?)"
        )

