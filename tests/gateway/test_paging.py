"""gateway/paging.py: how every list shown to people is cut into pages."""

from __future__ import annotations

from gateway.paging import MAX_SIZE, Page, page_of, window


def test_a_window_stays_within_the_pages_that_exist() -> None:
    assert (window(1, 50, 0).number, window(1, 50, 0).offset) == (1, 0)
    assert (window(3, 50, 120).number, window(3, 50, 120).offset) == (3, 100)
    assert window(9, 50, 120).number == 3  # past the end: the last page
    assert window(0, 50, 120).number == 1
    assert window(1, 10_000, 5).size == MAX_SIZE
    assert window(2, 0, 5).size == 1


def test_a_page_knows_its_neighbours() -> None:
    middle = Page(list(range(10)), number=2, size=10, total=25)
    assert (middle.pages, middle.has_previous, middle.has_next, middle.first_index) == (3, True, True, 11)
    empty = Page([], number=1, size=10, total=0)
    assert (empty.pages, empty.has_previous, empty.has_next, empty.first_index) == (1, False, False, 0)


def test_a_list_in_memory_is_paged_the_same_way() -> None:
    rows = list(range(1, 121))
    assert page_of(rows, 1).items == list(range(1, 51))
    last = page_of(rows, 7)
    assert (last.number, last.items, last.total) == (3, list(range(101, 121)), 120)
