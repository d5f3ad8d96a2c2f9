"""Boards: the five topics folded the way their compaction and ids say, so a replay (or a
duplicate) never changes what ``watch`` and the web view show."""

from __future__ import annotations

from prefstream_events import JobStatus
from prefstream_events.boards import BoardEvent, Boards

from tests.ui_service.events import curve, dataset, evaluation, job, letter


def test_each_event_lands_on_its_board_and_a_replay_changes_nothing() -> None:
    events: list[BoardEvent] = [
        job("a", seq=1),
        job("a", seq=2, status=JobStatus.COMPLETED),
        *curve("a", 30),
        evaluation("ns/a-dpo", True, minutes=1),
        dataset("a", 1),
        letter("not_json", 1),
        letter("missing_field", 2),
        letter("not_json", 3),
    ]
    boards = Boards()
    assert all(boards.apply(e) for e in events)
    assert not any(boards.apply(e) for e in events)  # the same records again: a replay
    assert boards.jobs.jobs["ds-a"].status is JobStatus.COMPLETED
    assert boards.curves.points("ds-a", "train_loss") == 30
    assert list(boards.evaluations.evaluations) == ["ns/a-dpo"]
    assert [d.name for d in boards.datasets.newest_first()] == ["a"]
    assert boards.deadletters.total == 3


def test_a_lower_seq_never_replaces_a_job() -> None:
    boards = Boards()
    boards.apply(job("a", seq=5, status=JobStatus.COMPLETED))
    assert not boards.apply(job("a", seq=4))
    assert boards.jobs.jobs["ds-a"].status is JobStatus.COMPLETED


def test_datasets_newest_first() -> None:
    boards = Boards()
    for i, name in enumerate(["a", "b", "c"], start=1):
        boards.apply(dataset(name, i))
    assert [d.name for d in boards.datasets.newest_first()] == ["c", "b", "a"]


def test_dead_letters_counted_by_reason_most_first_with_their_services() -> None:
    boards = Boards()
    for i, (reason, service) in enumerate(
        [("not_json", "pairing"), ("too_large", "pairing"), ("not_json", "batcher")]
    ):
        boards.apply(letter(reason, i, service))
    counts = boards.deadletters.counts()
    assert [(c.reason, c.count, c.services) for c in counts] == [
        ("not_json", 2, ("batcher", "pairing")),
        ("too_large", 1, ("pairing",)),
    ]
    assert counts[0].last_at == letter("not_json", 2).failed_at
