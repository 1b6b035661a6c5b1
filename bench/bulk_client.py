"""What the bulk benchmarks (export_bench.py, import_bench.py) share: a free port, an HTTP request that
returns error answers too, fhir-server started in development mode on loopback and waited for, and the
asynchronous pattern of a bulk operation (kick-off, then poll until the result)."""
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, method="GET", headers=None, body=None):
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(req, timeout=3600) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def start_server(binary, db, *options):
    """fhir-server serve on `db` in development mode; returns the process and its FHIR base URL once ready."""
    port = free_port()
    process = subprocess.Popen([binary, "serve", "--db", db, "--auth", "dev", "--host", "127.0.0.1", "--port", str(port),
                                "--log-level", "warning", *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            if request(f"http://127.0.0.1:{port}/ready")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.1)
    return process, f"http://127.0.0.1:{port}/fhir"


def run_async(url, method="GET", headers=None, body=None, what="bulk job"):
    """Kicks off (Prefer: respond-async) and polls the Content-Location until 200; returns (location, body)."""
    status, answer_headers, answer = request(url, method, {"Prefer": "respond-async", **(headers or {})}, body)
    if status != 202:
        sys.exit(f"{what} kick-off failed: {status} {answer[:300]!r}")
    location = answer_headers["Content-Location"]
    while True:
        status, _, answer = request(location)
        if status == 200:
            return location, answer
        if status != 202:
            sys.exit(f"{what} failed: {status} {answer[:300]!r}")
        time.sleep(0.1)
