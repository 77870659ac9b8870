"""`vesta bench` against a real `vesta serve` (started by conftest.py): short
runs in each mode, checked through the JSON report. Tests on the shared
server take the `client` fixture, which deletes their collections after."""

import json
import os
import subprocess
import urllib.request

import pytest
from conftest import API_KEY, ROOT


def vesta_binary():
    return os.environ.get("VESTA_BINARY", os.path.join(ROOT, "build", "app", "vesta"))


def bench(url, tmp_path, *args):
    report = tmp_path / "report.json"
    run = subprocess.run([vesta_binary(), "bench", "--url", url, *args, "--report", str(report)],
                         capture_output=True, text=True, timeout=120)
    return run, (json.loads(report.read_text()) if report.exists() else None)


@pytest.mark.parametrize("mode,batch", [("binary", 1), ("json", 1), ("json", 3), ("binary", 4)])
def test_bench_runs_and_reports(client, vesta_url, tmp_path, mode, batch):
    run, report = bench(vesta_url, tmp_path, "--collection", f"bench_{mode}_{batch}", "--create",
                        "--dim", "24", "--points", "600", "--distance", "Dot",
                        "--concurrency", "4", "--duration", "1s", "--mode", mode,
                        "--batch", str(batch), "--k", "10", "--recall")
    assert run.returncode == 0, run.stderr
    assert report["format"] == "vesta-bench/1"
    assert (report["mode"], report["batch"], report["k"]) == (mode, batch, 10)
    assert report["concurrency"] == 4 and report["created"] and report["points"] == 600
    assert report["requests"] > 0
    assert report["errors"] == 0 and report["first_error"] is None
    assert report["status_counts"] == {"200": report["requests"]}
    assert 0.9 < report["elapsed_s"] < 5
    assert report["qps"] > 0
    assert report["queries_per_s"] == pytest.approx(report["qps"] * batch)
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    # Exact search on a small collection: every sampled answer is the exact one.
    assert report["recall"] == 1.0
    assert report["recall_queries"] >= 100
    assert "requests/s" in run.stdout and "p99" in run.stdout and "recall@10:  1.0000" in run.stdout


def test_bench_uploads_through_bulk_import_jobs(client, vesta_url, tmp_path):
    # --upload import: float16 rows in binary import jobs; the recall check
    # against the rows the bench generated shows the server holds them exactly.
    run, report = bench(vesta_url, tmp_path, "--collection", "bench_import", "--create",
                        "--dim", "32", "--points", "3000", "--distance", "Dot", "--upload",
                        "import", "--concurrency", "2", "--requests", "50", "--recall")
    assert run.returncode == 0, run.stderr
    assert report["created"] and report["points"] == 3000
    assert report["recall"] == 1.0
    assert client.count("bench_import").count == 3000


def test_bench_with_a_request_count_on_an_existing_collection(client, vesta_url, tmp_path):
    run, _ = bench(vesta_url, tmp_path, "--collection", "existing", "--create", "--dim", "8",
                   "--points", "50", "--requests", "1")
    assert run.returncode == 0, run.stderr
    run, report = bench(vesta_url, tmp_path, "--collection", "existing", "--concurrency", "3",
                        "--requests", "40", "--mode", "binary")
    assert run.returncode == 0, run.stderr
    assert report["requests"] == 40 and report["errors"] == 0
    assert report["dim"] == 8 and report["distance"] == "Cosine" and not report["created"]
    assert report["recall"] is None


def test_bench_counts_failed_requests_and_exits_1(client, vesta_url, tmp_path):
    run, _ = bench(vesta_url, tmp_path, "--collection", "small", "--create", "--dim", "4",
                   "--points", "10", "--requests", "1")
    assert run.returncode == 0, run.stderr
    # More searches per request than the server's --max-search-batch (1024): each is a 400.
    run, report = bench(vesta_url, tmp_path, "--collection", "small", "--requests", "3",
                        "--concurrency", "2", "--batch", "1100")
    assert run.returncode == 1
    assert report["requests"] == 3 and report["errors"] == 3
    assert report["status_counts"] == {"400": 3}
    assert "--max-search-batch" in report["first_error"]
    assert "3 errors" in run.stdout


def test_bench_setup_failure_exits_1(vesta_keyed_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "VESTA_API_KEY"}
    report_path = tmp_path / "report.json"
    run = subprocess.run([vesta_binary(), "bench", "--url", vesta_keyed_url, "--collection",
                          "keyed", "--requests", "5", "--report", str(report_path)],
                         capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 1 and "HTTP 401" in run.stderr
    assert not report_path.exists()
    # With the key, the setup and the run work.
    run, report = bench(vesta_keyed_url, tmp_path, "--collection", "keyed", "--create", "--dim",
                        "4", "--points", "10", "--requests", "5", "--api-key", API_KEY)
    assert run.returncode == 0, run.stderr
    assert report["errors"] == 0
    request = urllib.request.Request(f"{vesta_keyed_url}/collections/keyed", method="DELETE",
                                     headers={"api-key": API_KEY})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def test_bench_usage_errors_exit_2():
    run = subprocess.run([vesta_binary(), "bench", "--collection", "c", "--recall"],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "--recall needs --create" in run.stderr
    run = subprocess.run([vesta_binary(), "bench", "--help"], capture_output=True, text=True,
                         timeout=30)
    assert run.returncode == 0 and "--concurrency" in run.stdout
