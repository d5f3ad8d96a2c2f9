"""The view: the topics folded into one state with a version, and what the page makes of
it (job rows with ETA and epochs, curve charts with stable attributes, jobs compared, win
rates over time, datasets with their job, dead letters by reason)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from prefstream_events import DeploymentState, JobStatus, metric_chunks
from prefstream_events.boards import BoardEvent
from prefstream_ui_service import pages, views
from prefstream_ui_service.view_state import ViewState
from pydantic import TypeAdapter

from tests.ui_service.events import T0, Logged, curve, dataset, evaluation, job, letter

NOW = T0 + timedelta(seconds=90)


def folded(*events: BoardEvent) -> ViewState:
    state = ViewState()
    for event in events:
        state.apply(event)
    return state


def frame(state: ViewState) -> pages.Frame:
    return pages.Frame(
        title="jobs",
        src="/view",
        version=state.version,
        refresh_ms=2000,
        broker="127.0.0.1:9092",
        topics=["jobs", "job-metrics"],
        replayed=True,
        now=NOW,
    )


def polyline(html: str, job_key: str, chart: str, series: str) -> str:
    """The ``points`` of one series in one job's chart."""
    svg = re.search(rf'<svg[^>]*data-chart="{chart}" data-job="{job_key}".*?</svg>', html, re.S)
    assert svg, f"no {chart} chart for {job_key}"
    line = re.search(rf'<polyline points="([^"]*)" data-series="{series}"', svg.group(0))
    assert line, f"no {series} in the {chart} chart of {job_key}"
    return line.group(1)


def test_the_version_moves_only_when_something_changed() -> None:
    state = ViewState()
    assert state.apply(job("a", seq=1))
    assert not state.apply(job("a", seq=1))
    assert state.apply(letter("not_json", 1))
    assert state.version == 2
    state.reset()
    assert state.version == 3
    assert not state.boards.jobs.jobs


def test_first_running_progress_is_remembered_for_the_eta() -> None:
    state = folded(
        job("a", seq=1, status=JobStatus.PENDING),
        job("a", seq=2, percentage_done=10.0, updated_at=T0 + timedelta(seconds=10)),
        job("a", seq=3, percentage_done=60.0, updated_at=T0 + timedelta(seconds=60)),
    )
    first = state.first_progress["ds-a"]
    assert (first.at, first.percentage) == (T0 + timedelta(seconds=10), 10.0)
    (row,) = views.overview(state, T0 + timedelta(seconds=60)).jobs
    assert row.eta_seconds == 40.0  # 50 % in 50 s, 40 % to go
    assert row.eta == "~40s"


def test_job_rows_newest_first_with_epochs_progress_and_deployment() -> None:
    deployed = DeploymentState(name="a-dpo", namespace="ns", status="ready")
    state = folded(
        job(
            "a",
            seq=9,
            status=JobStatus.COMPLETED,
            epochs_completed=2,
            hyperparameters={"epochs": 2, "training_type": "dpo"},
            output_model="ns/a-dpo",
            deployment=deployed,
            train_loss=0.31,
        ),
        job("b", seq=1, percentage_done=40.0, epochs_completed=0, hyperparameters={"epochs": 3}),
    )
    b, a = views.overview(state, NOW).jobs
    assert (b.dataset_name, b.epochs, b.percentage) == ("b", "0 of 3 epochs", 40.0)
    assert (a.epochs, a.percentage, a.output_model) == ("2 of 2 epochs", 100.0, "ns/a-dpo")
    assert (a.deployment, a.deployment_status) == ("a-dpo", "ready")
    assert a.eta == ""
    html = pages.overview_page(frame(state), views.overview(state, NOW))
    assert html.index('data-job="ds-b"') < html.index('data-job="ds-a"')
    assert "2 of 2 epochs" in html
    assert "ns/a-dpo" in html
    assert 'class="pill d-ready"' in html


def test_a_job_card_charts_every_train_loss_point() -> None:
    state = folded(job("a", seq=1, percentage_done=50.0, steps_completed=120), *curve("a", 120))
    overview = views.overview(state, NOW)
    (card,) = overview.cards
    assert [c.metric for c in card.charts] == ["loss"]
    html = pages.overview_page(frame(state), overview)
    assert len(polyline(html, "ds-a", "loss", "train_loss").split()) == 120
    assert len(polyline(html, "ds-a", "loss", "val_loss").split()) == 12
    assert 'data-points="120"' in html


def test_cards_for_the_newest_jobs_only_every_job_in_the_table() -> None:
    state = folded(*(job(f"j{i}", seq=1) for i in range(5)))
    overview = views.overview(state, NOW, cards=2)
    assert [c.row.dataset_name for c in overview.cards] == ["j4", "j3"]
    assert len(overview.jobs) == 5


def test_jobs_compared_newest_with_curves_by_default_or_as_asked() -> None:
    state = folded(
        job("a", seq=1), *curve("a", 20), job("b", seq=1), job("c", seq=1), *curve("c", 30)
    )
    compared, chart = views.overlay_chart(state, [])
    assert compared == ("ds-a", "ds-c")
    assert [(line.label, line.total) for line in chart.lines] == [("a", 20), ("c", 30)]
    compared, chart = views.overlay_chart(state, ["ds-c", "nope", "ds-c"])
    assert compared == ("ds-c",)
    html = pages.overview_page(frame(state), views.overview(state, NOW, compare=["ds-c"]))
    assert re.search(
        r'<polyline [^>]*data-series="train_loss" data-job="ds-c" data-points="30"', html
    )
    assert re.search(r'value="ds-c" checked', html)


def test_win_rate_per_model_over_time_with_the_gate_s_verdict() -> None:
    state = folded(
        evaluation("ns/base", True, minutes=0),
        evaluation("ns/b", False, minutes=10, baseline_model="ns/a", reason="worse"),
        evaluation("ns/a", True, minutes=5, baseline_model="ns/base"),
    )
    chart = views.win_rate_chart(state.boards.evaluations)
    random, minimax = chart.lines
    assert (random.name, random.total, minimax.name) == ("random", 3, "minimax")
    assert [m.key for m in random.markers] == ["ns/base", "ns/a", "ns/b"]  # by time
    assert [m.kind for m in random.markers] == ["promoted", "promoted", "rejected"]
    assert "410/50/40 of 500" in random.markers[0].note
    overview = views.overview(state, NOW)
    assert overview.promoted_model == "ns/a"
    assert [e.model for e in overview.evaluations] == ["ns/b", "ns/a", "ns/base"]
    assert [e.current for e in overview.evaluations] == [False, True, False]
    html = pages.overview_page(frame(state), overview)
    assert 'data-chart="win-rate"' in html
    assert 'data-key="ns/b"' in html
    assert "0.820" in html  # 410 of 500 against random


def test_datasets_show_counts_policy_models_and_their_job() -> None:
    state = folded(
        dataset("a", 1),
        dataset("b", 2, policy_models={"ns/x": 1, "ns/y": 9}),
        job("a", seq=3, status=JobStatus.COMPLETED, output_model="ns/a-dpo"),
    )
    b, a = views.overview(state, NOW).datasets
    assert (b.name, b.policy_models, b.job_status) == ("b", (("ns/y", 9), ("ns/x", 1)), None)
    assert (a.training_rows, a.validation_rows, a.num_pairs) == (80, 20, 100)
    assert (a.job_status, a.output_model) == ("completed", "ns/a-dpo")


def test_dead_letters_by_reason() -> None:
    state = folded(letter("not_json", 1), letter("not_json", 2), letter("too_large", 3))
    html = pages.overview_page(frame(state), views.overview(state, NOW))
    assert re.search(r'data-reason="not_json">.*?data-count="2"', html)
    assert re.search(r'data-reason="too_large">.*?data-count="1"', html)


def test_names_from_the_topics_are_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    state = folded(job("a", seq=1, error=hostile), letter(hostile[:60], 1))
    html = pages.overview_page(frame(state), views.overview(state, NOW))
    assert hostile not in html
    assert "&lt;script&gt;" in html


def test_an_empty_view_says_what_will_fill_it() -> None:
    html = pages.overview_page(frame(ViewState()), views.overview(ViewState(), NOW))
    assert "No job yet" in html
    assert "No dataset yet" in html
    assert 'src="/static/ui.js"' in html
    assert "http" not in re.sub(r"https?://127\.0\.0\.1[^\"]*", "", html.split("<body>")[0])


def test_a_job_page_charts_every_metric() -> None:
    # One chunk holds every series of its steps: a later chunk with the same key replaces it.
    series = {
        "train_loss": [Logged(s, 0.7 - s / 100) for s in range(1, 11)],
        "train_accuracy": [Logged(s, 0.5) for s in range(1, 11)],
        "val_rewards_margins": [Logged(10, 0.2)],
    }
    state = folded(job("a", seq=1), *metric_chunks("ds-a", "cust-a", series))
    detail = views.job_detail(state, "ds-a", NOW)
    assert detail is not None
    assert [c.metric for c in detail.charts] == ["loss", "accuracy", "rewards_margins"]
    (card,) = views.overview(state, NOW).cards
    assert [c.metric for c in card.charts] == ["loss", "accuracy"]
    html = pages.job_page(frame(state), detail, "ds-a")
    assert 'data-chart="rewards_margins" data-job="ds-a"' in html
    assert views.job_detail(state, "nope", NOW) is None
    assert "No job nope" in pages.job_page(frame(state), None, "nope")


def test_the_api_documents_are_plain_json() -> None:
    state = folded(job("a", seq=1, percentage_done=5.0), *curve("a", 12), dataset("a", 1))
    document = json.loads(
        TypeAdapter(views.StateDocument).dump_json(views.state_document(state, NOW))
    )
    assert document["version"] == state.version
    (row,) = document["jobs"]
    assert row["job_id"] == "cust-a"
    assert row["curve_points"] == {"train_loss": 12, "val_loss": 1}
    assert document["datasets"][0]["policy_models"] == [["ns/policy-a", 70], ["ns/policy-b", 30]]
    curves = views.curves_document(state, "ds-a")
    assert curves is not None
    assert [p.step for p in curves.series["train_loss"]] == list(range(1, 13))
    assert views.curves_document(state, "nope") is None
