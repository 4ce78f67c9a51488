"""Own strategies: the example package found through its entry point (a distribution on sys.path declaring the
entry points of its own pyproject.toml), a strategy from a folder, a bad one stopping the start with its name;
and the example run through the strategy service, events in, intents out."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from polydesk.preflight import load_layer
from services.strategy import plugins
from services.strategy.config import StrategySettings
from services.strategy.engine import Engine, build_strategies
from shared.config import load_settings
from shared.errors import ConfigurationError
from shared.messages import Side
from tests.strategy.scenario import D, delta, discovered, feed, info, snapshot, views

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "polydesk-strategy-wide-spread"
M = info("ws")


def install_example(site: Path) -> Path:
    """The example as pip would leave it: its code importable and a dist-info whose entry_points.txt holds
    what its pyproject.toml declares. Returns the folder to put on sys.path."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    lines = []
    for group, entries in project["entry-points"].items():
        lines += [f"[{group}]", *(f"{name} = {target}" for name, target in entries.items()), ""]
    (dist / "entry_points.txt").write_text("\n".join(lines))
    return site


@pytest.fixture
def example_installed(tmp_path, monkeypatch) -> Path:
    site = install_example(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    yield site
    sys.modules.pop("polydesk_wide_spread", None)


def strategy_settings(**values) -> StrategySettings:
    return StrategySettings(_env_file=None, **values)


def test_the_example_is_loaded_by_name_through_its_entry_point(example_installed):
    assert "wide_spread" in plugins.installed_names()
    [strategy] = build_strategies(strategy_settings(
        strategies=("wide_spread",), strategy_params={"wide_spread": {"size_usd": "2", "min_spread_ticks": 4}}))
    assert strategy.name == "wide_spread"
    assert type(strategy).__module__ == "polydesk_wide_spread"
    assert (strategy.params.size_usd, strategy.params.min_spread_ticks) == (Decimal(2), 4)


def test_the_example_bids_inside_a_wide_spread_once_per_price(example_installed):
    [strategy] = build_strategies(strategy_settings(strategies=("wide_spread",)))
    engine = Engine([strategy])
    yes, no = M.tokens[0].token_id, M.tokens[1].token_id
    out = feed(engine, [
        discovered(M),
        snapshot(M, yes, [("0.40", "100")], [("0.45", "100")]),  # 5 ticks wide: bid 0.41
        snapshot(M, no, [("0.54", "100")], [("0.56", "100")]),  # 2 ticks: too narrow
        delta(M, yes, Side.SELL, "0.44", "10"),  # still wide, same bid price: asked for already
        delta(M, yes, Side.BUY, "0.42", "10"),  # the bid moved: a new price to join
        delta(M, yes, Side.SELL, "0.44", "0"),
    ])
    assert views(out) == [
        ("wide_spread", f"wide_spread:{yes}:0.41", M.condition_id, yes, "BUY", "0.41", "12.19", "GTC"),
        ("wide_spread", f"wide_spread:{yes}:0.43", M.condition_id, yes, "BUY", "0.43", "11.62", "GTC"),
    ]
    assert all(i.post_only for i in out)


def test_a_strategy_from_a_folder(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "always_bid.py").write_text(FOLDER_STRATEGY)
    settings = strategy_settings(strategies=("arbitrage", "always_bid"), strategy_path=(folder,),
                                 strategy_params={"always_bid": {"price": "0.3"}})
    engine = Engine(build_strategies(settings))
    yes = M.tokens[0].token_id
    out = feed(engine, [discovered(M), snapshot(M, yes, [("0.2", "10")], [("0.9", "10")])])
    assert views(out) == [("always_bid", f"always_bid:{yes}", M.condition_id, yes, "BUY", "0.3", "5", "GTC")]


def test_a_package_in_a_folder_and_folders_come_first(tmp_path, example_installed):
    package = tmp_path / "mine" / "wide_spread"  # the installed example's name: the folder's wins
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from .impl import build_strategy\n")
    (package / "impl.py").write_text(FOLDER_STRATEGY.replace('"always_bid"', '"wide_spread"'))
    found = plugins.find("wide_spread", [tmp_path / "mine"])
    assert found is not None and found.origin == f"folder {package / '__init__.py'}"
    [strategy] = build_strategies(strategy_settings(strategies=("wide_spread",), strategy_path=(tmp_path / "mine",),
                                                    strategy_params={"wide_spread": {"price": "0.3"}}))
    assert type(strategy).__name__ == "AlwaysBid"


FOLDER_STRATEGY = '''
from decimal import Decimal
from services.strategy.intents import order
from shared.messages import BookSnapshot, Side

class AlwaysBid:
    name = "always_bid"

    def __init__(self, price):
        self.price = price

    def relevant(self, event):
        return isinstance(event, BookSnapshot)

    def on_event(self, state, event, now):
        if not isinstance(event, BookSnapshot):
            return []
        return [order(event, strategy=self.name, signal_key=f"{self.name}:{event.token_id}", leg="bid",
                      market=event.market, token_id=event.token_id, side=Side.BUY, price=self.price,
                      size=Decimal(5), reason="always_bid: test")]

def build_strategy(params):
    return AlwaysBid(Decimal(params["price"]))
'''

BAD = {
    "broken_import": ("import not_a_module_anywhere\n", "failed to import: ModuleNotFoundError: No module named "
                      "'not_a_module_anywhere'"),
    "syntax_slip": ("def build_strategy(params)\n    return 1\n", "failed to import: SyntaxError"),
    "no_factory": ("X = 1\n", "failed to import: ImportError:"),
    "not_one": ("def build_strategy(params):\n    return object()\n",
                "did not return a Strategy: object has no relevant or on_event method"),
    "misnamed": ("class S:\n    name = 'other'\n    def relevant(self, e): return False\n"
                 "    def on_event(self, s, e, n): return []\n"
                 "def build_strategy(params):\n    return S()\n", "its name is 'other', not 'misnamed'"),
    "bad_params": ("def build_strategy(params):\n    raise ValueError(f'unknown parameter(s) {sorted(params)}')\n",
                   "failed to build: ValueError: unknown parameter(s) ['x']"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_strategy_fails_at_start_naming_it(name, tmp_path):
    source, expected = BAD[name]
    (tmp_path / f"{name}.py").write_text(source)
    settings = strategy_settings(strategies=(name,), strategy_path=(tmp_path,),
                                 strategy_params={name: {"x": 1}} if name == "bad_params" else {})
    with pytest.raises(ConfigurationError) as caught:
        build_strategies(settings)
    message = str(caught.value)
    assert message.startswith(f"POLYDESK_STRATEGIES: strategy {name!r} (folder {tmp_path / (name + '.py')})")
    assert expected in message and "\n" not in message
    if "failed to import" in expected:  # a half-run module is not left behind
        assert f"_polydesk_strategy_{name}" not in sys.modules


def test_an_unknown_name_or_stray_params_fail_in_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYDESK_STRATEGIES", "arbitrage,nowhere_to_be_found")
    with pytest.raises(ConfigurationError, match=r"POLYDESK_STRATEGIES: unknown strategies \['nowhere_to_be_found'\]"):
        load_settings(StrategySettings, _env_file=None)
    monkeypatch.setenv("POLYDESK_STRATEGIES", "arbitrage")
    monkeypatch.setenv("POLYDESK_STRATEGY_PARAMS", '{"arbitrage": {"x": 1}}')
    with pytest.raises(ConfigurationError, match=r"POLYDESK_STRATEGY_PARAMS: names strategies that are not enabled own ones: \['arbitrage'\]"):
        load_settings(StrategySettings, _env_file=None)


def test_up_checks_own_strategies_before_starting_anything(tmp_path):
    (tmp_path / "broken_import.py").write_text(BAD["broken_import"][0])
    env = {"POLYDESK_STRATEGIES": "broken_import", "POLYDESK_STRATEGY_PATH": str(tmp_path),
           "POLYDESK_ENV_FILE": str(tmp_path / "none.env")}
    with pytest.raises(ConfigurationError, match=r"^strategy: POLYDESK_STRATEGIES: strategy 'broken_import' "):
        load_layer("strategy", env)


@pytest.mark.processes
def test_the_service_stops_at_start_with_one_line_and_no_traceback(tmp_path):
    (tmp_path / "not_one.py").write_text(BAD["not_one"][0])
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    env.update(POLYDESK_STRATEGIES="not_one", POLYDESK_STRATEGY_PATH=str(tmp_path), POLYDESK_LOG_DIR=str(tmp_path),
               POLYDESK_REDIS_URL="redis://127.0.0.1:1", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "services.strategy"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "strategy 'not_one'" in output and "did not return a Strategy" in output
    assert "Traceback" not in output


@pytest.mark.integration
async def test_the_example_runs_in_the_strategy_service(example_installed, bus, redis_url, prefix, tmp_path):
    from shared.messages import OrderIntent, decode
    from shared.streams import INTENTS, Output, events_stream
    from tests.helpers import eventually
    from tests.strategy.test_service import _count, run_worker

    s = StrategySettings(_env_file=None, redis_url=redis_url, stream_prefix=prefix, strategies=("wide_spread",),
                         instance="t", log_dir=tmp_path, claim_min_idle_ms=60_000)
    yes = M.tokens[0].token_id
    await bus.publish_many([Output(events_stream("main"), discovered(M)),
                            Output(events_stream("main"), snapshot(M, yes, [("0.40", "100")], [("0.47", "100")]))])

    async def intents() -> list[OrderIntent]:
        return [m for _, f in await bus.redis.xrange(bus.key(INTENTS)) if isinstance(m := decode(f), OrderIntent)]

    async def one_intent() -> None:
        await eventually(lambda: _count(bus, 1))

    await run_worker(bus, s, tmp_path, one_intent)
    [intent] = await intents()
    assert (intent.strategy, intent.token_id, intent.side, intent.price, intent.post_only) == (
        "wide_spread", yes, Side.BUY, D("0.41"), True)
