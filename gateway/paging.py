"""One page of a longer list, the way every list the gateway shows people is cut.

A list a person reads (a department's files, the resolution queue, the batches, an entity's records) can
hold hundreds of thousands of entries; the queries that fill pages ask for one page and the total, never
for everything. Page numbers start at 1; a number past the end gives the last page, so a link kept from
yesterday (after entries were resolved or removed) still shows something.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_SIZE = 50
MAX_SIZE = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_index(self) -> int:
        """1-based position of the first item shown (0 when the list is empty)."""
        return (self.number - 1) * self.size + 1 if self.items else 0


@dataclass(frozen=True)
class Window:
    """Which rows a page asks for, once the total is known."""

    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def window(number: int, size: int, total: int) -> Window:
    """The page ``number`` of ``size`` items over ``total``, clamped to the pages that exist."""
    size = min(max(size, 1), MAX_SIZE)
    last = max(1, -(-total // size))
    return Window(min(max(number, 1), last), size)


def page_of(items: Sequence[T], number: int, size: int = DEFAULT_SIZE) -> Page[T]:
    """A page of a list already in memory (the rejected rows a stored receipt lists)."""
    at = window(number, size, len(items))
    return Page(list(items[at.offset : at.offset + at.size]), at.number, at.size, len(items))
