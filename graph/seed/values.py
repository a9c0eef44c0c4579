"""Generic sample values chosen by a field's name and type; nothing here knows a Grace table.

The rules key on common field-name patterns (`*_path`, `*_url`, `owner`, `*_ms`, `*_score`,
`tags`...) so that any schema gets plausible values. Each `*_maker` function is called once per
column and returns a small closure; the closures run once per row, so they stay cheap.

Time: every timestamp is relative to an anchor `now` passed in by the caller (see
`graph.seed.load`, which uses today's UTC midnight) and is whole seconds, so a seed gives the same
rows all day long.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from graph.spec.model import FieldSpec, FieldType

PEOPLE = (
    "Priya Raman",
    "Marcus Chen",
    "Elena Petrova",
    "Tomás Alvarez",
    "Aisha Okafor",
    "Jonas Weber",
    "Mei Tanaka",
    "Samuel Osei",
)
TEAMS = ("platform", "payments", "data-engineering", "grace-core", "security", "growth", "support")
WORDS = ("alpha", "beacon", "cobalt", "delta", "ember", "falcon", "granite", "harbor", "indigo")
TOPICS = (
    "ecommerce",
    "pricing",
    "checkout",
    "payments",
    "security",
    "database",
    "support",
    "analytics",
    "compliance",
    "onboarding",
)
MODELS = ("gpt-4o", "claude-3-5-sonnet", "llama-3-70b-instruct", "mistral-large")
MIME_TYPES = ("application/pdf", "text/markdown", "image/png", "video/mp4", "audio/mpeg")
LANGUAGES = ("en", "en", "en", "de", "fr", "es")
SENTENCES = (
    "Reviewed by the platform team during the weekly sync.",
    "Created automatically by the ingestion pipeline.",
    "Covers the production setup; staging differs only in sizing.",
    "Needs a follow-up once the next release has shipped.",
    "Owned jointly with the payments team.",
    "Kept for audit purposes; do not delete.",
    "Updated after the last incident review.",
)
ERRORS = (
    "ConnectionError: could not connect to the database (timeout after 30 s)",
    "TimeoutError: upstream did not answer within 10000 ms",
    "PermissionError: access denied for service account",
    "ValueError: unexpected null in required column",
)
PERSON_FIELDS = frozenset(
    {"owner", "reporter", "assigned_to", "author", "auditor", "decision_maker", "assignee"}
)
# Share of timestamps that fall in the last week: "this week" queries must find plenty.
RECENT_SHARE = 0.4
RECENT_DAYS = 60

ValueFn = Callable[[random.Random, int], Any]


# -- time ---------------------------------------------------------------------------------------


def recent(rng: random.Random, now: dt.datetime, days: float = RECENT_DAYS) -> dt.datetime:
    """A past moment: RECENT_SHARE of them in the last 7 days, the rest over the last `days`."""
    span = 7.0 if rng.random() < RECENT_SHARE else days
    return now - dt.timedelta(seconds=int(rng.random() * span * 86400))


def ahead(rng: random.Random, now: dt.datetime, days: float = 30) -> dt.datetime:
    """A future moment within `days`."""
    return now + dt.timedelta(seconds=int(3600 + rng.random() * days * 86400))


def _is_future(name: str) -> bool:
    return name.startswith("next_") or any(w in name for w in ("expir", "due", "deadline"))


def datetime_maker(field: FieldSpec, now: dt.datetime) -> ValueFn:
    if _is_future(field.name):
        return lambda rng, i: ahead(rng, now)
    return lambda rng, i: recent(rng, now)


def date_maker(field: FieldSpec, now: dt.datetime) -> ValueFn:
    today = now.date()
    if _is_future(field.name):
        return lambda rng, i: today + dt.timedelta(days=rng.randint(1, 365))
    return lambda rng, i: today - dt.timedelta(days=rng.randint(0, 365))


# -- numbers ------------------------------------------------------------------------------------

# (name fragment, low, high, log scale): the first fragment found in the field name wins.
NUMBER_HINTS: tuple[tuple[str, float, float, bool], ...] = (
    ("_ms", 5, 120_000, True),
    ("bytes", 1_000, 5e9, True),
    ("row_count", 100, 5e7, True),
    ("percent", 0, 100, False),
    ("pct", 0, 100, False),
    ("score", 0, 1, False),
    ("rate", 0, 1, False),
    ("confidence", 0, 1, False),
    ("satisfaction", 0, 1, False),
    ("hours", 0.1, 96, True),
    ("seconds", 1, 7200, True),
    ("days", 1, 365, False),
    ("tokens", 50, 8000, True),
    ("_px", 240, 3840, False),
    ("exit_code", 0, 2, False),
    ("concurrent", 1, 8, False),
    ("lines", 1, 800, True),
    ("count", 1, 5000, True),
)


def number_range(field: FieldSpec) -> tuple[float, float, bool]:
    """Low, high and scale of a numeric column: its min/max narrow the name's usual range."""
    low, high, log = 0.0, 1000.0, False
    for fragment, lo, hi, is_log in NUMBER_HINTS:
        if fragment in field.name:
            low, high, log = lo, hi, is_log
            break
    if field.min is not None:
        low = max(low, field.min)
        high = max(high, low)
    if field.max is not None:
        high = min(high, field.max)
        low = min(low, high)
    return low, high, log and low >= 0


def number_maker(field: FieldSpec) -> ValueFn:
    low, high, log = number_range(field)
    base = max(low, 1.0)
    span = math.log(max(high, base) / base)

    def draw(rng: random.Random) -> float:
        # Log scale for sizes and durations: many small values, a few large ones.
        if log:
            return base * math.exp(rng.random() * span)
        return low + rng.random() * (high - low)

    if field.type is FieldType.FLOAT:
        digits = 3 if high <= 1 else 2
        return lambda rng, i: min(high, max(low, round(draw(rng), digits)))
    lo_int, hi_int = math.ceil(low), math.floor(high)
    return lambda rng, i: min(hi_int, max(lo_int, int(draw(rng))))


# -- strings ------------------------------------------------------------------------------------


def stem_of(name: str) -> str:
    """`assigned_agent_id` -> `assigned_agent`: the thing a column names."""
    for suffix in ("_id", "_name", "_path", "_url", "_ref"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def abbreviation(name: str) -> str:
    """A short id prefix: initials of a compound name (work_order_id -> wo), a short word as it
    is (agent_id -> agent), the first letters of a long one (execution_id -> exec)."""
    words = stem_of(name).split("_")
    if len(words) > 1:
        return "".join(w[0] for w in words)
    return words[0] if len(words[0]) <= 6 else words[0][:4]


def hex_digits(rng: random.Random, count: int) -> str:
    return f"{rng.getrandbits(count * 4):0{count}x}"


def _email(person: str) -> str:
    first, _, last = person.lower().partition(" ")
    return f"{first}.{last or 'team'}@grace.example".replace("á", "a").replace("é", "e")


def string_maker(field: FieldSpec, table_slug: str) -> ValueFn:
    """A plausible string built from the field name alone."""
    name, stem = field.name, stem_of(field.name).replace("_", "-")
    if name.endswith("_path") or name == "path":
        return lambda rng, i: f"s3://grace-{table_slug}/{stem}/{i + 1:06d}.json"
    if name.endswith("_url") or name == "url":
        return lambda rng, i: f"https://{table_slug}.grace.internal/{stem}/{i + 1}"
    if "email" in name:
        return lambda rng, i: _email(rng.choice(PEOPLE))
    if name in PERSON_FIELDS or name.endswith("_by"):
        return lambda rng, i: rng.choice(PEOPLE) if rng.random() < 0.7 else rng.choice(TEAMS)
    if any(h in name for h in ("hash", "stamp", "digest", "checksum")):
        return lambda rng, i: hex_digits(rng, 64)
    if "sha" in name:
        return lambda rng, i: hex_digits(rng, 40)
    if "version" in name:
        return lambda rng, i: f"{rng.randint(1, 3)}.{rng.randint(0, 9)}.{rng.randint(0, 12)}"
    if "language" in name or name == "locale":
        return lambda rng, i: rng.choice(LANGUAGES)
    if "model" in name:
        return lambda rng, i: rng.choice(MODELS)
    if "mime" in name:
        return lambda rng, i: rng.choice(MIME_TYPES)
    if name.endswith("_id"):
        prefix = abbreviation(name)
        return lambda rng, i: f"{prefix}-{rng.randint(1, 999_999):06d}"
    return lambda rng, i: f"{stem}-{rng.choice(WORDS)}-{rng.randint(1, 99)}"


def text_maker(field: FieldSpec) -> ValueFn:
    pool = ERRORS if any(w in field.name for w in ("error", "trace", "failure")) else SENTENCES
    return lambda rng, i: rng.choice(pool)


def unique_maker(field: FieldSpec) -> ValueFn:
    """Values that never repeat within the table, for `unique` columns that are not the key."""
    if field.type in (FieldType.INT, FieldType.BIGINT):
        start = int(field.min or 0) + 1
        return lambda rng, i: start + i
    if any(h in field.name for h in ("hash", "stamp", "digest", "checksum", "sha")):
        # 256 random bits: a collision is out of the question, and the draw is deterministic.
        return lambda rng, i: hex_digits(rng, 64)
    stem = stem_of(field.name).replace("_", "-")
    return lambda rng, i: f"{stem}-{i + 1:06d}"


# -- JSON ---------------------------------------------------------------------------------------


def _steps(actions: Sequence[str]) -> Callable[[random.Random], Any]:
    def make(rng: random.Random) -> Any:
        count = rng.randint(1, min(3, len(actions)))
        picked = rng.sample(actions, count)
        return [{"step": n, "action": a} for n, a in enumerate(picked, 1)]

    return make


# Field-name fragment -> builder of a small, realistic document.
NAMED_JSON: tuple[tuple[str, Callable[[random.Random], Any]], ...] = (
    (
        "conditions",
        lambda rng: {
            "error_type": rng.choice(("ConnectionError", "TimeoutError", "DiskFull", "OOMKilled")),
            "min_occurrences": rng.randint(1, 5),
        },
    ),
    ("actions", _steps(("restart_service", "clear_cache", "notify_oncall", "scale_out"))),
    ("steps", _steps(("prepare", "apply", "verify", "report"))),
    (
        "usage",
        lambda rng: {
            "cpu_pct": round(rng.random() * 100, 1),
            "mem_mb": rng.randint(64, 4096),
        },
    ),
    ("metrics", lambda rng: {"accuracy": round(0.6 + rng.random() * 0.4, 3)}),
    ("settings", lambda rng: {"temperature": rng.choice((0.0, 0.2, 0.7)), "max_tokens": 1024}),
    ("config", lambda rng: {"enabled": True, "batch_size": rng.choice((10, 50, 100))}),
)


def jitter(value: Any, rng: random.Random) -> Any:
    """An example document with its float measurements varied, so rows do not all look alike."""
    if isinstance(value, dict):
        return {k: jitter(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [jitter(v, rng) for v in value]
    if isinstance(value, float) and not isinstance(value, bool):
        varied = value * (0.6 + rng.random() * 0.8)
        return round(min(varied, 1.0) if 0 < value <= 1 else varied, 3)
    return value


def example_maker(examples: Sequence[Any], slot: list[int]) -> ValueFn:
    """The example in the row's slot when there is one, so that a row's columns tell one story
    (the n-th title goes with the n-th description); a random example otherwise."""

    def make(rng: random.Random, i: int) -> Any:
        k = slot[0]
        return examples[k] if k < len(examples) else rng.choice(examples)

    return make


def json_maker(field: FieldSpec, examples: Sequence[Any], slot: list[int]) -> ValueFn:
    if examples:
        pick = example_maker(examples, slot)
        return lambda rng, i: jitter(pick(rng, i), rng)
    for fragment, build in NAMED_JSON:
        if fragment in field.name:
            return lambda rng, i: build(rng)
    return lambda rng, i: {
        "source": "seed",
        "label": rng.choice(WORDS),
        "value": rng.randint(1, 99),
    }


# -- lists --------------------------------------------------------------------------------------


def sample(rng: random.Random, pool: Sequence[Any], most: int = 3) -> list[Any]:
    """1..`most` distinct items of `pool`, in pool order."""
    count = rng.randint(1, min(most, len(pool)))
    return [pool[k] for k in sorted(rng.sample(range(len(pool)), count))]


def list_vocabulary(field: FieldSpec) -> tuple[Any, ...]:
    """Items for a list column without examples, chosen by its name and element type."""
    name = field.name
    if field.of in (FieldType.INT, FieldType.BIGINT):
        return tuple(range(1, 11))
    if field.of is FieldType.FLOAT:
        return (0.25, 0.5, 0.75, 1.0)
    if field.of is FieldType.BOOL:
        return (True, False)
    if any(w in name for w in ("tag", "topic", "label", "keyword")):
        return TOPICS
    if any(w in name for w in ("viewer", "approver", "member", "people", "reviewer")):
        return PEOPLE
    stem = stem_of(name).rstrip("s")
    return tuple(f"{stem}_{w}" for w in WORDS[:6])


def list_maker(field: FieldSpec, examples: Sequence[Any], slot: list[int]) -> ValueFn:
    """Mostly a whole example (items that belong together), sometimes a mix of their items."""
    if not examples:
        vocabulary = list_vocabulary(field)
        return lambda rng, i: sample(rng, vocabulary)
    items = tuple(dict.fromkeys(x for example in examples for x in example))
    pick = example_maker(examples, slot)

    def make(rng: random.Random, i: int) -> Any:
        if rng.random() < 0.6:
            return list(pick(rng, i))
        return sample(rng, items, 4)

    return make
