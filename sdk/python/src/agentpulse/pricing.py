"""Model prices and the cost of an LLM call.

The table is the collector's own ``prices.json`` (US dollars per million
tokens), shipped inside the wheel, so the SDK and the collector price a call
the same way. Model names are normalized exactly as the collector does it:
lowercased, provider prefixes (``openai/``, ``us.anthropic.``) and version
tags (``-v1:0``, ``@2024...``) removed, then date, ``latest`` and ``preview``
suffixes stripped one at a time until a name matches. A model that matches no
entry has no price: it is never guessed.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["Price", "PriceTable", "candidates", "cost", "default_table", "lookup"]

_BEDROCK_REGION = re.compile(r"^(us|eu|apac|au|jp|global)\.", re.ASCII)
_BEDROCK_VENDOR = re.compile(r"^(anthropic|openai|google|meta|amazon|mistral|cohere)\.", re.ASCII)
_VERSION_SUFFIX = re.compile(r"(-v\d+(:\d+)?|@[\w.-]+|:[\w.-]+)\Z", re.ASCII)
_DATE_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|\d{2}-\d{2}|\d{4}|latest|preview|exp)\Z", re.ASCII)
_MAX_SUFFIX_STEPS = 3


@dataclass(frozen=True, slots=True)
class Price:
    """A model's list price in US dollars per million tokens.

    A zero ``cached_input`` or ``cache_write`` means those tokens are billed at
    the ``input`` rate.
    """

    input: float
    output: float
    cached_input: float = 0.0
    cache_write: float = 0.0
    provider: str | None = None

    def cost(
        self,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_input_tokens: int = 0,
        cache_creation_input_tokens: int = 0,
    ) -> float:
        """Return the cost in US dollars of a call with these token counts.

        ``input_tokens`` counts every input token, cached and cache-creation
        ones included; ``output_tokens`` counts every output token, reasoning
        ones included.
        """
        cached_rate = self.cached_input or self.input
        write_rate = self.cache_write or self.input
        # More cached than total input is clamped rather than charged negatively.
        uncached = max(input_tokens - cached_input_tokens - cache_creation_input_tokens, 0)
        micro = (
            float(uncached) * self.input
            + float(cached_input_tokens) * cached_rate
            + float(cache_creation_input_tokens) * write_rate
            + float(output_tokens) * self.output
        )
        return micro / 1e6


def candidates(model: str) -> list[str]:
    """Return the names a model is looked up under, most specific first."""
    m = model.strip().lower()
    if "/" in m:
        m = m[m.rindex("/") + 1 :]
    m = _BEDROCK_REGION.sub("", m, count=1)
    m = _BEDROCK_VENDOR.sub("", m, count=1)
    out = [m]
    s = _VERSION_SUFFIX.sub("", m, count=1)
    if s not in (m, ""):
        m = s
        out.append(m)
    for _ in range(_MAX_SUFFIX_STEPS):
        s = _DATE_SUFFIX.sub("", m, count=1)
        if s in (m, ""):
            break
        m = s
        out.append(m)
    return out


class PriceTable:
    """Prices by normalized model name."""

    def __init__(self, prices: dict[str, Price] | None = None) -> None:
        self._prices: dict[str, Price] = {}
        for name, price in (prices or {}).items():
            self.set(name, price)

    @classmethod
    def parse(cls, data: bytes | str) -> PriceTable:
        """Read a table in the format of the collector's ``prices.json``.

        Raises ``ValueError`` naming every model whose rates are invalid.
        """
        doc = json.loads(data)
        if not isinstance(doc, dict) or not isinstance(doc.get("models"), list):
            raise ValueError('price table must be an object with a "models" array')
        table = cls()
        problems: list[str] = []
        for entry in doc["models"]:
            name = entry.get("model") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not name:
                problems.append(f"entry {entry!r} has no model name")
                continue
            rates: dict[str, float] = {}
            for key in ("input", "output", "cached_input", "cache_write"):
                value = entry.get(key, 0)
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or value < 0
                    or not math.isfinite(value)
                ):
                    problems.append(f"model {name!r}: {key} must be a finite number >= 0, got {value!r}")
                    break
                rates[key] = float(value)
            else:
                provider = entry.get("provider") if isinstance(entry.get("provider"), str) else None
                price = Price(provider=provider, **rates)
                table.set(name, price)
                for alias in entry.get("aliases") or []:
                    table.set(alias, price)
        if problems:
            raise ValueError("; ".join(problems))
        return table

    def set(self, model: str, price: Price) -> None:
        """Add or replace the price of a model."""
        self._prices[model.strip().lower()] = price

    def __len__(self) -> int:
        return len(self._prices)

    def names(self) -> list[str]:
        """Return every name in the table, aliases included."""
        return sorted(self._prices)

    def lookup(self, model: str | None) -> Price | None:
        """Return the price of a model after normalizing its name, or None."""
        if not model:
            return None
        for name in candidates(model):
            price = self._prices.get(name)
            if price is not None:
                return price
        return None


_default: PriceTable | None = None
_default_lock = threading.Lock()


def _read_default() -> bytes:
    packaged = resources.files("agentpulse").joinpath("prices.json")
    if packaged.is_file():
        return packaged.read_bytes()
    # A source checkout: the collector's table, the single source of truth.
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "internal" / "pricing" / "prices.json"
        if candidate.is_file():
            return candidate.read_bytes()
    raise FileNotFoundError("prices.json is neither in the agentpulse package nor in a source checkout")


def default_table() -> PriceTable:
    """Return the price table shipped with AgentPulse (loaded once)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PriceTable.parse(_read_default())
        return _default


def lookup(model: str | None) -> Price | None:
    """Return the shipped table's price of a model, or None when it has none."""
    return default_table().lookup(model)


def cost(
    model: str | None,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cached_input_tokens: int = 0,
    cache_creation_input_tokens: int = 0,
) -> float | None:
    """Return the cost in US dollars of a call, or None when the model has no price."""
    price = lookup(model)
    if price is None:
        return None
    return price.cost(input_tokens, output_tokens, cached_input_tokens, cache_creation_input_tokens)
