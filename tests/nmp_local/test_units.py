"""Unit tests of the pure parts (rows, loss curve, job clock, pagination, settings, faults)
and in-process ASGI checks of response shapes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prefstream_nmp_local.app import create_app
from prefstream_nmp_local.blobs import git_blob_oid
from prefstream_nmp_local.dpo_rows import DpoRow, check_row, dataset_stats, parse_jsonl
from prefstream_nmp_local.errors import ApiError
from prefstream_nmp_local.faults import value_for
from prefstream_nmp_local.ids import base58, new_id
from prefstream_nmp_local.jobs_clock import JobPlan, progress
from prefstream_nmp_local.loss_curve import LN2, LossCurve
from prefstream_nmp_local.pagination import envelope, parse_list_query, select
from prefstream_nmp_local.settings import NmpLocalSettings
from starlette.datastructures import QueryParams

from .conftest import dpo_rows, jsonl


def _row(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"prompt": "p", "chosen_response": "a", "rejected_response": "b"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (_row(), None),
        (_row(prompt=[{"role": "user", "content": "p"}], extra=1), None),
        ([1, 2], "expected a JSON object, got array"),
        (_row(prompt=...), "prompt: field required"),
        (_row(prompt=3), "prompt: expected a string or a list of messages, got int"),
        (_row(prompt=[]), "prompt: message list is empty"),
        (_row(prompt=[{"role": "user"}]), "prompt[0].content: field required"),
        (
            _row(prompt=[{"role": "user", "content": None}]),
            "prompt[0].content: expected a string, got null",
        ),
        (_row(chosen_response=...), "chosen_response: field required"),
        (_row(rejected_response=1.5), "rejected_response: expected a string, got float"),
    ],
)
def test_check_row(row: object, problem: str | None) -> None:
    assert check_row(row) == problem


def test_parse_jsonl_reports_file_and_line() -> None:
    good = '{"prompt": "p", "chosen_response": "a", "rejected_response": "b"}'
    data = f'{good}\n\n{{"prompt": "p"}}\n{{oops\n{good}\n'.encode()
    rows, errors = parse_jsonl("validation/validation_file.jsonl", data)
    assert len(rows) == 2
    assert [str(e) for e in errors] == [
        "validation/validation_file.jsonl line 3: chosen_response: field required",
        "validation/validation_file.jsonl line 4: invalid JSON: Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1)",
    ]
    assert [str(e) for e in parse_jsonl("t.jsonl", b"\n\n")[1]] == [
        "t.jsonl: file contains no rows"
    ]
    assert "not valid UTF-8" in str(parse_jsonl("t.jsonl", b"\xff\xfe")[1][0])


def _stats(margin: bool, n: int = 40) -> tuple[LossCurve, float]:
    rows, _ = parse_jsonl("t", jsonl(dpo_rows(n, margin=margin)))
    stats = dataset_stats(rows, rows[:5], [f"file:{margin}:{n}"])
    return LossCurve(stats, total_steps=30, steps_per_epoch=10), stats.margin


def test_loss_curve_depends_on_the_data() -> None:
    clear, m_clear = _stats(margin=True)
    murky, m_murky = _stats(margin=False)
    assert m_clear > m_murky
    for curve in (clear, murky):
        assert abs(curve.train_loss(0) - LN2) < 0.03  # starts at ln 2 (policy = reference)
        assert curve.train_loss(30) < curve.train_loss(1)
    # Larger margins fall faster and further.
    assert clear.train_loss(10) < murky.train_loss(10)
    assert clear.train_loss(30) < murky.train_loss(30)
    # Deterministic: the same data gives the same curve.
    assert [clear.train_loss(s) for s in range(31)] == [
        _stats(True)[0].train_loss(s) for s in range(31)
    ]
    # More data → smaller generalisation gap.
    small, _ = _stats(True, n=10)
    big, _ = _stats(True, n=1000)
    gap_small = small.val_loss(1) - small.train_loss(10) * 1.0
    gap_big = big.val_loss(1) - big.train_loss(10) * 1.0
    assert gap_small > gap_big


def _plan(**kw: Any) -> JobPlan:
    """Created at t=100; pending at 101; running at 103; 3 epochs x 10 s; 5 steps/epoch."""
    base: dict[str, Any] = {
        "created_at": 100.0,
        "created_seconds": 1.0,
        "pending_seconds": 2.0,
        "seconds_per_epoch": 10.0,
        "epochs": 3,
        "steps_per_epoch": 5,
        "total_steps": 15,
    }
    return JobPlan(**{**base, **kw})


def test_job_clock_walks_the_phases() -> None:
    plan = _plan()
    assert progress(plan, 100.5).status == "created"
    assert progress(plan, 102.0).status == "pending"
    running = progress(plan, 103.0 + 15.0)
    assert (running.status, running.epochs_completed, running.steps_completed) == ("running", 1, 7)
    assert running.percentage_done == pytest.approx(100 * 7 / 15, abs=1e-3)
    done = progress(plan, 1000.0)
    assert (done.status, done.percentage_done, done.epochs_completed) == ("completed", 100.0, 3)
    assert done.at == 133.0


def test_job_clock_failures_and_cancel() -> None:
    failed = progress(_plan(validation_error="x line 1: bad"), 1000.0)
    assert (failed.status, failed.at, failed.percentage_done) == ("failed", 101.0, 0.0)
    injected = progress(_plan(fail_at_percent=40.0), 1000.0)
    assert (injected.status, injected.steps_completed, injected.percentage_done) == (
        "failed",
        6,
        40.0,
    )
    cancelled = progress(_plan(cancelled_at=113.0), 1000.0)
    assert (cancelled.status, cancelled.steps_completed, cancelled.at) == ("cancelled", 5, 113.0)
    # A cancel after the job ended changes nothing.
    assert progress(_plan(cancelled_at=500.0), 1000.0).status == "completed"


@given(st.floats(min_value=90, max_value=200), st.floats(min_value=0, max_value=50))
def test_job_progress_is_monotonic(t: float, dt: float) -> None:
    plan = _plan()
    a, b = progress(plan, t), progress(plan, t + dt)
    assert a.percentage_done <= b.percentage_done
    assert a.steps_completed <= b.steps_completed


def test_pagination_and_filters() -> None:
    q = parse_list_query(
        QueryParams("page=2&page_size=2&sort=name&filter[namespace]=a&filter[target][base]=m"),
        ("name", "-name", "created_at", "-created_at"),
    )
    assert (q.page, q.page_size, q.sort) == (2, 2, "name")
    assert q.filters == {"namespace": "a", "target.base": "m"}
    items = [
        {"name": n, "namespace": ns, "target": {"base": "m"}}
        for n, ns in [("c", "a"), ("a", "a"), ("b", "a"), ("z", "b")]
    ]
    picked = select(items, q)
    assert [i["name"] for i in picked] == ["a", "b", "c"]
    page = envelope(picked, q)
    assert [i["name"] for i in page["data"]] == ["c"]
    assert page["pagination"] == {
        "page": 2, "page_size": 2, "current_page_size": 1, "total_pages": 2, "total_results": 3,
    }  # fmt: skip
    past_end = parse_list_query(QueryParams("page=9"), ("-created_at",))
    assert envelope(picked, past_end)["data"] == []
    with pytest.raises(ApiError):
        parse_list_query(QueryParams("page=0"), ("-created_at",))
    with pytest.raises(ApiError):
        parse_list_query(QueryParams("sort=bogus"), ("-created_at",))


def test_settings_from_env() -> None:
    env = {
        "NMP_LOCAL_PORT": "9001",
        "NMP_LOCAL_DATA_DIR": "/tmp/x",
        "NMP_LOCAL_ERROR_RATE": '{"POST /v1/customization/jobs": 0.5}',
        "NMP_LOCAL_LATENCY_MS": "25",
        "NMP_LOCAL_FAIL_JOBS_AT_PERCENT": "null",
        "NMP_LOCAL_JOB_SECONDS_PER_EPOCH": "0.5",
        "UNRELATED": "1",
    }
    s = NmpLocalSettings.from_env(env, host="0.0.0.0")
    assert (s.host, s.port, s.data_dir) == ("0.0.0.0", 9001, Path("/tmp/x"))
    assert s.error_rate == {"POST /v1/customization/jobs": 0.5}
    assert s.latency_ms == 25.0
    assert s.fail_jobs_at_percent is None
    assert NmpLocalSettings.from_env(s.to_env()) == s
    with pytest.raises(ValueError, match="rates"):
        NmpLocalSettings(error_rate=1.5)


def test_fault_route_patterns() -> None:
    rates = {"POST /v1/customization/jobs": 0.9, "/v1/hf/*": 0.2, "*": 0.01}
    assert value_for(rates, "POST", "/v1/customization/jobs") == 0.9
    assert value_for(rates, "GET", "/v1/customization/jobs") == 0.01
    assert value_for(rates, "PUT", "/v1/hf/_lfs/abc") == 0.2
    assert value_for(0.3, "GET", "/anything") == 0.3
    assert value_for({"GET /x": 1.0}, "GET", "/y") == 0.0


def test_ids_and_git_oids() -> None:
    assert base58(b"\x00\x01") == "12"
    job_id = new_id("cust")
    assert job_id.startswith("cust-")
    assert set(job_id[5:]) <= set("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
    assert git_blob_oid(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object


async def test_hf_shapes_in_process(tmp_path: Path) -> None:
    app = create_app(NmpLocalSettings(data_dir=tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://nmp.test") as c:
        body = {"name": "r", "organization": "o", "type": "dataset"}
        first = await c.post("/v1/hf/api/repos/create", json=body)
        assert first.json()["url"] == "http://nmp.test/v1/hf/datasets/o/r"
        dup = await c.post("/v1/hf/api/repos/create", json=body)
        assert dup.status_code == 409
        assert dup.json()["url"] == "http://nmp.test/v1/hf/datasets/o/r"
        info = (await c.get("/v1/hf/api/datasets/o/r")).json()
        assert info["lastModified"].endswith("Z")
        assert info["createdAt"].endswith("Z")
        missing = await c.head("/v1/hf/datasets/o/r/resolve/main/nope.txt")
        assert (missing.status_code, missing.headers["X-Error-Code"]) == (404, "EntryNotFound")
        bad_rev = await c.get("/v1/hf/api/datasets/o/r/revision/nope")
        assert bad_rev.headers["X-Error-Code"] == "RevisionNotFound"
        xet = await c.get("/v1/hf/api/datasets/o/r/xet-write-token/main")
        assert xet.status_code == 404
        unknown = await c.get("/v1/nothing-here")
        assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not Found"})
        pre = await c.post(
            "/v1/hf/api/datasets/o/r/preupload/main",
            json={"files": [{"path": "a.bin", "sample": "AAE=", "size": 2}]},
        )
        assert pre.json()["files"][0]["uploadMode"] == "lfs"  # NUL byte → binary → LFS
        escape = await c.post(
            "/v1/hf/api/datasets/o/r/commit/main",
            content=b'{"key":"header","value":{"summary":"x"}}\n'
            b'{"key":"file","value":{"path":"../x","content":"","encoding":"base64"}}\n',
        )
        assert escape.status_code == 400


def test_dataset_stats_margin_bounds() -> None:
    same = [DpoRow("p", "a b c", "a b c")]
    diff = [DpoRow("p", "a b c", "x y z")]
    assert dataset_stats(same, [], ["f"]).margin == 0.0
    assert dataset_stats(diff, [], ["f"]).margin == 1.0
    assert math.isclose(dataset_stats(same + diff, [], ["f"]).margin, 0.5)
