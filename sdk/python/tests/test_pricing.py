"""The SDK prices calls with the collector's own table and name rules."""

from __future__ import annotations

import json

import pytest

from agentpulse import pricing

from conftest import PRICES_JSON, expected_cost, price_entry

MODELS = json.loads(PRICES_JSON.read_text())["models"]


def rates(entry: dict) -> tuple[float, float, float, float]:
    return (entry["input"], entry["output"], entry.get("cached_input", 0), entry.get("cache_write", 0))


def as_tuple(p: pricing.Price) -> tuple[float, float, float, float]:
    return (p.input, p.output, p.cached_input, p.cache_write)


def test_table_is_the_collectors_file() -> None:
    names = {m["model"].lower() for m in MODELS} | {a.lower() for m in MODELS for a in m.get("aliases") or []}
    assert set(pricing.default_table().names()) == names
    assert len(pricing.default_table()) == len(names)


@pytest.mark.parametrize("entry", MODELS, ids=[m["model"] for m in MODELS])
def test_every_name_and_alias_resolves_to_its_entry(entry: dict) -> None:
    for name in [entry["model"], *(entry.get("aliases") or [])]:
        price = pricing.lookup(name)
        assert price is not None, name
        assert as_tuple(price) == rates(entry)
        assert price.provider == entry.get("provider")


def _variants(name: str) -> list[str]:
    # Decorations the collector strips: case, provider prefixes, dates, versions.
    return [
        name.upper(),
        f"  {name} ",
        f"{name}-20250514",
        f"{name}-2025-08-07",
        f"{name}-latest",
        f"openrouter/{name}",
        f"{name}@20240620",
        f"us.anthropic.{name}-20250219-v1:0",
        f"{name}:free",
    ]


NAMES = {n.lower(): m for m in MODELS for n in [m["model"], *(m.get("aliases") or [])]}


@pytest.mark.parametrize("entry", MODELS, ids=[m["model"] for m in MODELS])
def test_decorated_names_resolve_like_the_collector(entry: dict) -> None:
    for variant in _variants(entry["model"]):
        price = pricing.lookup(variant)
        assert price is not None, variant
        # A decorated name that is itself in the table is that entry (gpt-5-chat-latest).
        want = NAMES.get(variant.strip().lower(), entry)
        assert as_tuple(price) == rates(want), variant


@pytest.mark.parametrize(
    ("name", "entry"),
    [
        # The collector's own test cases (internal/pricing/pricing_test.go).
        ("gpt-4o", "gpt-4o"),
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("GPT-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("anthropic/claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet"),
        ("claude-3-5-sonnet@20240620", "claude-3-5-sonnet"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
        ("gemini-3-pro-preview", "gemini-3-pro-preview"),
        ("o4-mini-2025-04-16", "o4-mini"),
    ],
)
def test_collector_cases(name: str, entry: str) -> None:
    price = pricing.lookup(name)
    assert price is not None
    assert as_tuple(price) == rates(price_entry(entry))


@pytest.mark.parametrize("name", ["", "gpt-4o-mega", "llama-3-70b", "claude", "my-finetune", None])
def test_never_guesses(name: str | None) -> None:
    assert pricing.lookup(name) is None
    assert pricing.cost(name, 1000, 1000) is None


def test_mini_is_not_priced_as_its_big_sibling() -> None:
    mini = pricing.lookup("gpt-4o-mini")
    assert mini is not None
    assert mini.input == price_entry("gpt-4o-mini")["input"]
    assert mini.input != price_entry("gpt-4o")["input"]


def test_cost_formula() -> None:
    # Anthropic-style rates: cache reads and writes have their own.
    got = pricing.cost("claude-sonnet-4-5", 10_000, 500, 6_000, 1_000)
    assert got == pytest.approx(expected_cost("claude-sonnet-4-5", 10_000, 500, 6_000, 1_000), rel=1e-12)
    # No cache rates: billed as input.
    p = pricing.Price(input=2.0, output=8.0)
    assert p.cost(1_000, 200, 400) == pytest.approx((1_000 * 2.0 + 200 * 8.0) / 1e6, rel=1e-12)
    # More cached than input is clamped, never negative.
    p = pricing.Price(input=3.0, output=15.0, cached_input=0.3)
    assert p.cost(10, 0, 50) == pytest.approx(50 * 0.3 / 1e6, rel=1e-12)


def test_parse_rejects_bad_tables() -> None:
    with pytest.raises(ValueError, match="model 'x': input must be a finite number >= 0"):
        pricing.PriceTable.parse('{"models":[{"model":"x","input":-1,"output":1}]}')
    with pytest.raises(ValueError, match="models"):
        pricing.PriceTable.parse('{"nothing": 1}')
