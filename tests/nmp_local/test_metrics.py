"""nmp-local's ``/metrics``: requests by route template (never by raw path), injected faults
counted under the route they hit, jobs by status as the API reports them."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
from prefstream_nmp_local.metrics import JOB_STATUSES
from prefstream_nmp_local.testing import NmpLocalProcess
from prometheus_client.parser import text_string_to_metric_families


def samples(base_url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"{base_url}/metrics").text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def requests(found: dict[Any, float], route: str, status: str, method: str = "GET") -> float:
    labels = frozenset({"method": method, "route": route, "status": status}.items())
    return found.get(("prefstream_nmp_local_http_requests_total", labels), 0.0)


def test_requests_are_counted_by_route_template(nmp: NmpLocalProcess) -> None:
    route = "/v1/customization/jobs/{job_id}"
    before = requests(samples(nmp.base_url), route, "404")
    for job in ("cust-missing-1", "cust-missing-2", "cust-missing-3"):
        assert httpx.get(f"{nmp.base_url}/v1/customization/jobs/{job}").status_code == 404
    after = samples(nmp.base_url)
    assert requests(after, route, "404") == before + 3
    routes = {dict(labels).get("route") for name, labels in after if "http_" in name}
    assert not [r for r in routes if r and "cust-missing" in r], routes
    duration = frozenset({"method": "GET", "route": route}.items())
    assert after[("prefstream_nmp_local_http_request_duration_seconds_count", duration)] >= 3


def test_injected_faults_count_under_their_route(nmp: NmpLocalProcess, faults: Any) -> None:
    route = "/v1/namespaces/{ns}"
    before = samples(nmp.base_url)
    injected = ("prefstream_nmp_local_faults_injected_total", frozenset({("kind", "error")}))
    faults(error_rate={"GET /v1/namespaces/*": 1.0}, error_status=503)
    assert httpx.get(f"{nmp.base_url}/v1/namespaces/somewhere").status_code == 503
    after = samples(nmp.base_url)  # /metrics itself is never faulted
    assert after[injected] == before.get(injected, 0.0) + 1
    assert requests(after, route, "503") == requests(before, route, "503") + 1


def test_jobs_by_status_match_the_api(nmp: NmpLocalProcess) -> None:
    listed = httpx.get(f"{nmp.base_url}/v1/customization/jobs?page_size=100").json()["data"]
    expected = Counter(job["status"] for job in listed)
    found = samples(nmp.base_url)
    for status in JOB_STATUSES:
        key = ("prefstream_nmp_local_jobs", frozenset({("status", status)}))
        assert found[key] == expected.get(status, 0), status
