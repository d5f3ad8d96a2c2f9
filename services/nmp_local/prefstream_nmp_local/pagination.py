"""The platform's list style: ``?page=&page_size=&sort=&filter[key]=value`` → list envelope.

Pages past the end return ``data: []`` because the SDK's auto-pager keeps asking for
``page + 1`` until it gets an empty page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams

from prefstream_nmp_local.errors import ApiError

JsonObj = dict[str, Any]
Getter = Callable[[JsonObj], Any]

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
_BRACKETS = re.compile(r"^(filter|search)((?:\[[^\[\]]+\])+)$")


@dataclass(frozen=True)
class ListQuery:
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    sort: str = "-created_at"
    filters: dict[str, str] = field(default_factory=dict)
    search: dict[str, str] = field(default_factory=dict)


def parse_list_query(
    params: QueryParams, sorts: Sequence[str], default_sort: str = "-created_at"
) -> ListQuery:
    """Read page/sort/filter[...] params; bad values give the platform's 422."""
    page = _int_param(params, "page", 1, 1, None)
    page_size = _int_param(params, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    sort = params.get("sort") or default_sort
    if sort not in sorts:
        raise _invalid("sort", f"Input should be one of {', '.join(sorts)}", sort)
    filters: dict[str, str] = {}
    search: dict[str, str] = {}
    for key, value in params.multi_items():
        m = _BRACKETS.match(key)
        if m:
            path = ".".join(re.findall(r"\[([^\[\]]+)\]", m.group(2)))
            (filters if m.group(1) == "filter" else search)[path] = value
    return ListQuery(page, page_size, sort, filters, search)


def select(
    items: list[JsonObj], query: ListQuery, getters: Mapping[str, Getter] | None = None
) -> list[JsonObj]:
    """Apply filters (exact match; comma = any of), search (substring) and sort."""
    getters = getters or {}
    out = [
        it
        for it in items
        if all(_matches(_get(it, k, getters), v) for k, v in query.filters.items())
        and all(
            v.lower() in str(_get(it, k, getters) or "").lower() for k, v in query.search.items()
        )
    ]
    key = query.sort.lstrip("-")
    out.sort(key=lambda it: _sort_key(_get(it, key, getters)), reverse=query.sort.startswith("-"))
    return out


def envelope(items: list[JsonObj], query: ListQuery) -> JsonObj:
    """Slice one page and wrap it as ``{"object": "list", "data", "pagination", "sort"}``."""
    total = len(items)
    start = (query.page - 1) * query.page_size
    page = items[start : start + query.page_size]
    return {
        "object": "list",
        "data": page,
        "pagination": {
            "page": query.page,
            "page_size": query.page_size,
            "current_page_size": len(page),
            "total_pages": math.ceil(total / query.page_size),
            "total_results": total,
        },
        "sort": query.sort,
    }


def _get(item: JsonObj, key: str, getters: Mapping[str, Getter]) -> Any:
    if key in getters:
        return getters[key](item)
    value: Any = item
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _matches(actual: Any, wanted: str) -> bool:
    options = wanted.split(",")
    if isinstance(actual, list):
        return any(_scalar_eq(a, o) for a in actual for o in options)
    return any(_scalar_eq(actual, o) for o in options)


def _scalar_eq(actual: Any, wanted: str) -> bool:
    if isinstance(actual, bool):
        return wanted.lower() == str(actual).lower()
    if isinstance(actual, dict):
        name = actual.get("name")
        ns = actual.get("namespace")
        return wanted in (name, f"{ns}/{name}")
    return actual is not None and str(actual) == wanted


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value))


def int_param(
    params: QueryParams, name: str, invalid: Callable[[str], Exception]
) -> tuple[int, str] | None:
    """Query parameter ``name`` as an integer, with the text it was read from; ``None`` when
    it is absent or empty. Raises ``invalid(text)`` when the text is not an integer."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw), raw
    except ValueError:
        raise invalid(raw) from None


def _int_param(params: QueryParams, name: str, default: int, lo: int, hi: int | None) -> int:
    parsed = int_param(
        params, name, lambda raw: _invalid(name, "Input should be a valid integer", raw)
    )
    if parsed is None:
        return default
    value, raw = parsed
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise _invalid(name, f"Input should be {bound}", raw)
    return value


def _invalid(name: str, msg: str, value: str) -> ApiError:
    return ApiError(
        422, [{"type": "value_error", "loc": ["query", name], "msg": msg, "input": value}]
    )
