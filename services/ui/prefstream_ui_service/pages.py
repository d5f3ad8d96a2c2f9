"""The HTML of the web view: Jinja2 templates (autoescaped: every name on the page comes
from a topic anyone may write to) rendered from the views. A page is the frame plus a
fragment; an open page fetches only the fragment again when the view changed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from prefstream_ui_service.views import JobDetail, Overview

_ENV = Environment(
    loader=PackageLoader("prefstream_ui_service", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

OVERVIEW = "overview.html"
JOB = "job.html"


@dataclass(frozen=True)
class Frame:
    """What every page shows around its fragment."""

    title: str
    src: str
    """Where the page fetches its fragment again (with ``since=version``)."""
    version: int
    refresh_ms: int
    broker: str
    topics: Sequence[str]
    replayed: bool
    now: datetime
    home: str = "/"

    @property
    def static(self) -> str:
        return f"{self.home}static"


def overview_fragment(overview: Overview, *, replayed: bool, home: str = "/") -> str:
    return _ENV.get_template(OVERVIEW).render(overview=overview, replayed=replayed, home=home)


def job_fragment(detail: JobDetail | None, job_key: str, *, replayed: bool, home: str = "/") -> str:
    return _ENV.get_template(JOB).render(
        detail=detail, job_key=job_key, replayed=replayed, home=home
    )


def overview_page(frame: Frame, overview: Overview) -> str:
    return _page(frame, OVERVIEW, overview=overview)


def job_page(frame: Frame, detail: JobDetail | None, job_key: str) -> str:
    return _page(frame, JOB, detail=detail, job_key=job_key)


def _page(frame: Frame, fragment: str, **context: object) -> str:
    return _ENV.get_template("page.html").render(
        fragment=fragment,
        title=frame.title,
        src=frame.src,
        version=frame.version,
        refresh_ms=frame.refresh_ms,
        broker=frame.broker,
        topics=list(frame.topics),
        replayed=frame.replayed,
        now=frame.now,
        home=frame.home,
        static=frame.static,
        **context,
    )
