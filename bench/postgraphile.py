"""PostGraphile 5 as a peer of the Grace server: install, configure, start, and compare answers.

PostGraphile is installed with npm into a scratch folder outside git (`bench/.peers/postgraphile/`,
git-ignored): a package.json pinning exact versions, including the `node` package, which brings
the Node 22 binary PostGraphile 5 needs (`node_modules/.bin/node`). `npm install` runs only when
the pinned versions differ from the installed ones. The folder gets a `graphile.config.mjs`
(amber preset, pg pool max 10, smart tags for the to-one links given through `jsonPgSmartTags`,
since the project writes its own table comments) and a small `server.mjs` that builds the schema,
then listens; it runs as one Node process with NODE_ENV=production.

Our tables have no FOREIGN KEY constraints: the to-one links (`playbook`, `workOrder`) are
`@foreignKey` smart tags; the value link `relatedFeedback` and the list link `workOrders` are
computed-column SQL functions, created in the bench database only, in their own schema
(`bench_postgraphile`, CREATE OR REPLACE). They order like our server orders a relation without
`orderBy`: by `id` ascending. A computed-column connection takes no `condition`, so Q3's filter
on the tickets is a function argument (`relatedFeedbackByStatus(status: "open")`). V2's range
filter (`startedAt: {lt: $before}`) is a root query function of the same schema, which
PostgreSQL inlines into PostGraphile's statement.

The same queries (Q1, Q2, V1 and V2 of bench/run.py, and Q3, the README's traversal without its
time window) are written for PostGraphile; `check_answers` puts both servers' answers into one
canonical form (field names, connection `nodes`, lower-case enums, UTC timestamps, floats,
bigints) and fails unless they are equal, for each of V1's and V2's sets of variables.

Run: `.venv/bin/python bench/postgraphile.py` installs, creates the functions, starts our
server (1 worker) and PostGraphile, checks Q1-Q3 (or --queries) answer alike, prints start-up
time and RSS, and stops both. `--install-only` stops after the install.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

PEER_DIR = bench.BENCH_DIR / ".peers" / "postgraphile"
# Exact versions: PostGraphile 5 needs Node >= 22 (on 20 it starts, but connections fail).
PACKAGES = {"node": "22.23.3", "postgraphile": "5.1.5"}
STAMP = "node_modules/.grace-bench-packages.json"
SQL_SCHEMA = "bench_postgraphile"
POOL_MAX = 10
READY_TIMEOUT_S = 120.0

# -- the bench database: computed-column functions ----------------------------------------------

FUNCTIONS = {
    # log -> feedback tickets on the same component (our `relatedFeedback`)
    "memory_execution_logs_related_feedback": """
CREATE OR REPLACE FUNCTION {schema}.memory_execution_logs_related_feedback(
    log public.memory_execution_logs
) RETURNS SETOF public.memory_feedback_tickets
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT t.* FROM public.memory_feedback_tickets AS t
    WHERE t.affected_component = ($1).component
    ORDER BY t.id
$$""",
    # the same with an equality filter on the ticket's status (a connection field of a
    # computed column takes no `condition`)
    "memory_execution_logs_related_feedback_by_status": """
CREATE OR REPLACE FUNCTION {schema}.memory_execution_logs_related_feedback_by_status(
    log public.memory_execution_logs, status text
) RETURNS SETOF public.memory_feedback_tickets
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT t.* FROM public.memory_feedback_tickets AS t
    WHERE t.affected_component = ($1).component AND t.status = $2
    ORDER BY t.id
$$""",
    # failed runs that started before a moment, newest first (our V2's `where`: PostGraphile's
    # `condition` compares by equality only); a root query field. One SELECT, STABLE, no
    # SET: PostgreSQL inlines it into PostGraphile's statement, whose LIMIT then reaches the
    # index on (status, started_at), as it reaches ours.
    "failed_execution_logs_before": """
CREATE OR REPLACE FUNCTION {schema}.failed_execution_logs_before(before timestamptz)
RETURNS SETOF public.memory_execution_logs
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT l.* FROM public.memory_execution_logs AS l
    WHERE l.status = 'failed' AND l.started_at < $1
    ORDER BY l.started_at DESC, l.id
$$""",
    # ticket -> the work orders its list column `linked_work_orders` names (our `workOrders`)
    "memory_feedback_tickets_work_orders": """
CREATE OR REPLACE FUNCTION {schema}.memory_feedback_tickets_work_orders(
    ticket public.memory_feedback_tickets
) RETURNS SETOF public.memory_coding_work_orders
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT w.* FROM public.memory_coding_work_orders AS w
    WHERE w.work_order_id = ANY (($1).linked_work_orders)
    ORDER BY w.id
$$""",
}

# The to-one links, as PostGraphile `@foreignKey` smart tags on the referencing table; the
# referenced columns are UNIQUE, which PostGraphile requires.
SMART_TAGS: dict[str, Any] = {
    "version": 1,
    "config": {
        "class": {
            "memory_execution_logs": {
                "tags": {
                    "foreignKey": [
                        "(linked_playbook_id) references memory_self_healing_playbooks "
                        "(playbook_name)|@fieldName playbook",
                        "(linked_work_order_id) references memory_coding_work_orders "
                        "(work_order_id)|@fieldName workOrder",
                    ]
                }
            }
        }
    },
}


def create_functions(url: str) -> list[str]:
    """Create (or replace) the computed-column functions in the bench database; their names."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SQL_SCHEMA}")
        conn.execute(
            f"COMMENT ON SCHEMA {SQL_SCHEMA} IS "
            "'Computed-column functions for the PostGraphile peer of bench/peers.py.'"
        )
        for body in FUNCTIONS.values():
            conn.execute(body.format(schema=SQL_SCHEMA))
    return [f"{SQL_SCHEMA}.{name}" for name in FUNCTIONS]


# -- install and configuration ------------------------------------------------------------------

CONFIG = """\
// Written by bench/postgraphile.py; rewritten on every start.
import {{ PostGraphileAmberPreset }} from "postgraphile/presets/amber";
import {{ makePgService }} from "postgraphile/adaptors/pg";
import {{ jsonPgSmartTags }} from "postgraphile/utils";

export default {{
  extends: [PostGraphileAmberPreset],
  plugins: [jsonPgSmartTags({tags})],
  pgServices: [
    makePgService({{
      connectionString: process.env.DATABASE_URL,
      schemas: ["public", "{schema}"],
      poolConfig: {{ max: {pool_max} }},
    }}),
  ],
  grafserv: {{
    host: process.env.HOST ?? "127.0.0.1",
    port: Number(process.env.PORT ?? 5678),
    graphiql: false,
  }},
}};
"""

SERVER = """\
// Written by bench/postgraphile.py: build the schema, then listen (ready means ready).
import {{ createServer }} from "node:http";
import {{ postgraphile }} from "postgraphile";
import {{ grafserv }} from "postgraphile/grafserv/node";
import preset from "./{config}";

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
await pgl.getSchemaResult();
const server = createServer();
server.on("error", (error) => {{
  console.error(error);
  process.exit(1);
}});
await serv.addTo(server);
const {{ host, port }} = preset.grafserv;
server.listen(port, host, () => console.log(`PostGraphile listening on ${{host}}:${{port}}`));
const stop = () => {{
  server.close();
  setTimeout(() => process.exit(0), 2000).unref();
  Promise.resolve(pgl.release()).finally(() => process.exit(0));
}};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
"""

CONFIG_FILE = "graphile.config.mjs"
SERVER_FILE = "server.mjs"


def node_binary(peer_dir: Path = PEER_DIR) -> Path:
    return peer_dir / "node_modules" / ".bin" / "node"


def install(peer_dir: Path = PEER_DIR) -> Path:
    """npm install of the pinned packages into `peer_dir`, unless already there; the Node binary."""
    peer_dir.mkdir(parents=True, exist_ok=True)
    package = {
        "name": "grace-bench-postgraphile",
        "private": True,
        "type": "module",
        "description": "PostGraphile peer of the Grace benchmark; written by bench/postgraphile.py",
        "dependencies": PACKAGES,
    }
    (peer_dir / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    stamp, node = peer_dir / STAMP, node_binary(peer_dir)
    wanted = json.dumps(PACKAGES, sort_keys=True)
    if stamp.exists() and stamp.read_text() == wanted and node.exists():
        return node
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to install PostGraphile (Debian: apt-get install npm)")
    print(f"npm install {' '.join(f'{n}@{v}' for n, v in PACKAGES.items())} in {peer_dir} ...")
    started = time.perf_counter()
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel", "error"],
        cwd=peer_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not node.exists():
        raise SystemExit(f"npm install failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    if not version.stdout.startswith("v22."):
        raise SystemExit(f"{node} is {version.stdout.strip()}, not Node 22")
    stamp.write_text(wanted)
    print(f"  installed in {time.perf_counter() - started:.0f} s (Node {version.stdout.strip()})")
    return node


def write_config(peer_dir: Path = PEER_DIR) -> None:
    tags = json.dumps(SMART_TAGS, indent=2).replace("\n", "\n  ")
    config = CONFIG.format(tags=tags, schema=SQL_SCHEMA, pool_max=POOL_MAX)
    (peer_dir / CONFIG_FILE).write_text(config)
    (peer_dir / SERVER_FILE).write_text(SERVER.format(config=CONFIG_FILE))


def setup(url: str, peer_dir: Path = PEER_DIR) -> Path:
    """Install, write the configuration, create the SQL functions; the Node binary."""
    node = install(peer_dir)
    write_config(peer_dir)
    create_functions(url)
    return node


# -- processes ----------------------------------------------------------------------------------


@dataclass
class Started:
    """A server process this module started, and the seconds until it answered."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    ready_s: float
    log: Path


def wait_graphql(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Until POST /graphql answers `{__typename}` (PostGraphile has no /readyz)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    url = f"http://{bench.HOST}:{port}/graphql"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}); see {log}:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.post(url, json={"query": "{ __typename }"}, timeout=2)
            if response.status_code == 200 and "data" in response.json():
                return
        time.sleep(0.1)
    raise SystemExit(f"server on port {port} not ready after {READY_TIMEOUT_S:.0f} s; see {log}")


def _until_ready(name: str, proc: subprocess.Popen[bytes], wait: Callable[[], None]) -> None:
    """Run `wait`; if it fails (or is interrupted), stop the process before passing that on."""
    try:
        wait()
    except BaseException:
        bench.stop(bench.Servers({name: proc}))
        raise


def start_postgraphile(
    url: str, port: int, log: Path, peer_dir: Path = PEER_DIR, name: str = "postgraphile"
) -> Started:
    """One Node process, NODE_ENV=production; ready once it answers a query."""
    bench.ensure_port_free(port)
    env = {"NODE_ENV": "production", "DATABASE_URL": url, "HOST": bench.HOST, "PORT": str(port)}
    command = [str(node_binary(peer_dir)), str(peer_dir / SERVER_FILE)]
    started = time.perf_counter()
    proc = bench.start(command, log, env)
    _until_ready(name, proc, lambda: wait_graphql(proc, port, log))
    return Started(name, proc, port, time.perf_counter() - started, log)


def start_ours(url: str, port: int, workers: int, log: Path, name: str | None = None) -> Started:
    """`grace-graph serve` with the bench's admission settings (as bench/run.py)."""
    bench.ensure_port_free(port)
    command = [*bench.grace_graph(), "serve", "--database", url, "--host", bench.HOST,
               "--port", str(port), "--workers", str(workers),
               "--log-level", "warning"]  # fmt: skip
    env = {"GRAPH_ADAPTIVE_IN_FLIGHT": "0", "GRAPH_MAX_IN_FLIGHT": "64"}
    name = name or f"ours-w{workers}"
    started = time.perf_counter()
    proc = bench.start(command, log, env)
    _until_ready(name, proc, lambda: bench.wait_ready(proc, port, log))
    return Started(name, proc, port, time.perf_counter() - started, log)


def stop_all(started: Sequence[Started]) -> None:
    bench.stop(bench.Servers({s.name: s.proc for s in started}))


def rss_kib(pids: Sequence[int]) -> dict[int, int]:
    """Resident set size (VmRSS, KiB) of each live process among `pids`."""
    sizes = {}
    for pid in pids:
        with contextlib.suppress(OSError, StopIteration, ValueError):
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
            sizes[pid] = int(next(ln.split()[1] for ln in lines if ln.startswith("VmRSS:")))
    return sizes


# -- the queries, written for PostGraphile ------------------------------------------------------

# Our `id` is PostGraphile's `rowId`; our tie-break (id ascending, whatever the other keys) is
# spelled out, as is our null placement (DESC: nulls first, PostgreSQL's default).
PG_Q1 = """query Q1 {
  allMemoryExecutionLogs(
    condition: {status: "failed"}, orderBy: [STARTED_AT_DESC, ROW_ID_ASC], first: 50
  ) {
    nodes {
      executionId
      playbook { playbookName successRate trustScore }
      workOrder { workOrderId title status }
      relatedFeedback(first: 5) { nodes { ticketId title priority } }
    }
  }
}"""

PG_Q2 = """query Q2 {
  allMemoryExecutionLogs(
    condition: {status: "failed"}, orderBy: [STARTED_AT_DESC, ROW_ID_ASC], first: 100
  ) {
    nodes {
      executionId commandType component status startedAt completedAt durationMs exitCode
    }
  }
}"""

PG_Q3 = """query Q3 {
  allMemoryExecutionLogs(
    condition: {status: "failed"}, orderBy: [STARTED_AT_DESC, ROW_ID_ASC], first: 20
  ) {
    nodes {
      executionId component startedAt errorMessage
      playbook { playbookName successRate trustScore }
      workOrder { workOrderId title status }
      relatedFeedbackByStatus(status: "open", first: 5) {
        nodes {
          ticketId title priority
          workOrders { nodes { workOrderId title status } }
        }
      }
    }
  }
}"""

# V1 and V2 (bench/run.py) take other variables at each request: the run's key, the moment.
PG_V1 = """query V1($id: String!) {
  memoryExecutionLogByExecutionId(executionId: $id) {
    executionId component status startedAt durationMs
    playbook { playbookName successRate }
    relatedFeedback(first: 5) { nodes { ticketId priority } }
  }
}"""

PG_V2 = """query V2($before: Datetime!) {
  benchPostgraphileFailedExecutionLogsBefore(before: $before, first: 100) {
    nodes {
      executionId commandType component status startedAt completedAt durationMs exitCode
    }
  }
}"""

PG_QUERIES = {"q1": PG_Q1, "q2": PG_Q2, "q3": PG_Q3, "v1": PG_V1, "v2": PG_V2}
QUERY_NAMES = tuple(PG_QUERIES)
# PostGraphile's root field of each query, in canonical form (RENAMED): ours.
PG_ROOTS = {"v1": "executionLog"}


def queries(names: Sequence[str], url: str) -> dict[str, tuple[bench.Query, bench.Query]]:
    """Per query name: (ours, PostGraphile's), both bench.Query (same name, so same operation),
    V1 and V2 with the same variables in turn (bench/run.py varying_variables, read at `url`)."""
    ours = bench.make_queries(",".join(names), "joined")
    ours_by_name = {q.name: q for q in bench.varying_variables(url, ours)}
    pairs = {}
    for name in names:
        mine = ours_by_name[name]
        root = PG_ROOTS.get(name, "executionLogs")
        theirs = bench.Query(name, PG_QUERIES[name], None, mine.expected_rows, root,
                             mine.variables, mine.varying)  # fmt: skip
        pairs[name] = (mine, theirs)
    return pairs


# -- one canonical form of both answers ---------------------------------------------------------

RENAMED = {
    "allMemoryExecutionLogs": "executionLogs",
    "benchPostgraphileFailedExecutionLogsBefore": "executionLogs",
    "memoryExecutionLogByExecutionId": "executionLog",
    "relatedFeedbackByStatus": "relatedFeedback",
}
ENUMS = frozenset({"commandType", "status", "priority"})  # ours: FAILED; PostGraphile: failed
DATETIMES = frozenset({"startedAt", "completedAt"})  # ours: ...000000Z; PostGraphile: +00:00
FLOATS = frozenset({"successRate", "trustScore"})  # ours: 1.0; PostGraphile: 1
BIGINTS = frozenset({"durationMs"})  # both strings of digits; compared as numbers


def _leaf(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key in ENUMS:
        return str(value).lower()
    if key in DATETIMES:
        instant = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
        return instant.isoformat(timespec="microseconds")
    if key in FLOATS:
        return float(value)
    if key in BIGINTS:
        return int(value)
    return value


def canonical(value: Any, key: str = "") -> Any:
    """One form for either server's `data`: our field names, plain lists, typed leaves."""
    if isinstance(value, dict):
        if set(value) == {"nodes"}:  # a PostGraphile connection asked only for its nodes
            return canonical(value["nodes"], key)
        renamed = {str(k): RENAMED.get(str(k), str(k)) for k in value}
        return {renamed[str(k)]: canonical(v, renamed[str(k)]) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(item, key) for item in value]
    return _leaf(key, value)


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two canonical answers first differ, as a path with both values; None: equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'ours' if k in a else 'PostGraphile'}"
            found = first_difference(a[k], b[k], f"{path}.{k}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None if len(a) == len(b) else f"{path}: {len(a)} items vs {len(b)}"
    return None if a == b else f"{path}: ours {a!r} vs PostGraphile {b!r}"


def fetch_data(port: int, query: bench.Query) -> Any:
    """`data` of one answer; fails on HTTP or GraphQL errors or on the wrong number of rows."""
    response = bench.answer(bench.Target("peer", port), query)
    body = response.json()
    if body.get("errors"):
        raise SystemExit(f"port {port} {query.name}: errors {body['errors']}")
    return body["data"]


def check_answers(
    ours_port: int, peer_port: int, documents: dict[str, tuple[bench.Query, bench.Query]]
) -> dict[str, int]:
    """Both servers' answers to each query, in canonical form, must be equal; rows of each
    query's first answer. A query with variables in turn (V1, V2) is checked for every one."""
    rows = {}
    for name, (ours_query, peer_query) in documents.items():
        variables = ours_query.varying or (ours_query.variables,)
        for index, values in enumerate(variables):
            mine = replace(ours_query, variables=values)
            ours = canonical(fetch_data(ours_port, mine))
            peer = canonical(fetch_data(peer_port, replace(peer_query, variables=values)))
            wanted = ours_query.expected_rows
            for who, data in (("ours", ours), ("PostGraphile", peer)):
                found = len(mine.rows(data))
                if not found or (wanted is not None and found != wanted):
                    raise SystemExit(f"{who} {name}: {found} rows, want {wanted or 'some'}")
            difference = first_difference(ours, peer)
            if difference is not None:
                raise SystemExit(f"{name} {values or ''}: the answers differ at {difference}")
            if index == 0:
                rows[name] = len(mine.rows(ours))
        bodies = f" ({len(variables)} sets of variables)" if len(variables) > 1 else ""
        print(f"{name}: {rows[name]} rows; ours == PostGraphile (canonical form){bodies}")
    return rows


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--database-name", default="grace_bench")
    p.add_argument("--scale", type=float, default=1000, help="seed scale of the bench database")
    p.add_argument("--reseed", action="store_true", help="drop, recreate and seed the database")
    p.add_argument("--port", type=int, default=8790, help="ours; PostGraphile uses +1")
    p.add_argument("--queries", default="q1,q2,q3", help="subset of q1,q2,q3,v1,v2")
    p.add_argument("--install-only", action="store_true", help="npm install, then stop")
    p.add_argument("--logs", type=Path, default=bench.BENCH_DIR / "results")
    args = p.parse_args(argv)
    args.queries = [q.strip() for q in args.queries.split(",") if q.strip()]
    if unknown := set(args.queries) - set(QUERY_NAMES):
        p.error(f"unknown queries {sorted(unknown)}; use some of {', '.join(QUERY_NAMES)}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.install_only:
        print(f"Node binary: {install()}")
        return
    signal.signal(signal.SIGTERM, bench._raise_interrupt)
    db = bench.prepare_database(args)
    install()
    write_config()
    print(f"SQL functions (CREATE OR REPLACE): {', '.join(create_functions(db.url))}")
    started: list[Started] = []
    try:
        started.append(start_ours(db.url, args.port, 1, args.logs / "peer-ours.log"))
        started.append(start_postgraphile(db.url, args.port + 1, args.logs / "postgraphile.log"))
        check_answers(args.port, args.port + 1, queries(args.queries, db.url))
        for s in started:
            sizes = rss_kib(bench.process_tree(s.proc.pid))
            print(
                f"{s.name}: ready in {s.ready_s:.1f} s; RSS "
                f"{sum(sizes.values()) / 1024:.0f} MiB in {len(sizes)} processes"
            )
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    finally:
        stop_all(started)


if __name__ == "__main__":
    main()
