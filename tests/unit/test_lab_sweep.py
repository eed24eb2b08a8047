"""The lab's sweep grid (ranges over a strategy's declared params, checked) and the ranking of its points."""

from __future__ import annotations

import pytest

from backend.lab.sweep import MAX_POINTS, PointResult, SweepError, check_target, finite_json, grid, grid_option, rank

DECLARED = {"product": "rb", "fast": 5, "slow": 20, "ratio": 0.5, "volume": 1, "on": True}


def test_a_grid_is_the_product_in_the_order_given() -> None:
    points = grid({"slow": [30, 20], "fast": {"start": 5, "stop": 15, "step": 5}}, DECLARED)
    assert points == [{"slow": 30, "fast": 5}, {"slow": 30, "fast": 10}, {"slow": 30, "fast": 15},
                      {"slow": 20, "fast": 5}, {"slow": 20, "fast": 10}, {"slow": 20, "fast": 15}]  # fmt: skip


def test_a_range_includes_its_stop_and_counts_decimals_exactly() -> None:
    assert grid({"ratio": {"start": 0.1, "stop": 0.3, "step": 0.1}}, DECLARED) == [
        {"ratio": 0.1}, {"ratio": 0.2}, {"ratio": 0.3}]  # fmt: skip
    assert grid({"fast": {"start": 5, "stop": 19, "step": 5}}, DECLARED) == [{"fast": 5}, {"fast": 10}, {"fast": 15}]
    assert grid({"ratio": {"start": 1, "stop": 2, "step": 1}}, DECLARED) == [{"ratio": 1}, {"ratio": 2}]


@pytest.mark.parametrize(("ranges", "message"), [
    ({}, "grid: an object of at least one parameter"),
    ([1], "grid: an object of at least one parameter"),
    ({"fastt": [1, 2]}, r"grid.fastt: not a parameter of this strategy \(declared: fast, on, product"),
    ({"fast": [5, 7.5]}, "grid.fast: expected integer like the default 5, got 7.5"),
    ({"fast": [True]}, "grid.fast: expected integer"),
    ({"ratio": ["x"]}, "grid.ratio: expected number"),
    ({"on": [1]}, "grid.on: expected boolean"),
    ({"fast": {"start": 1, "stop": 5.5, "step": 0.5}}, "grid.fast: expected integer like the default 5, got 1.0"),
    ({"fast": []}, "grid.fast: no values"),
    ({"fast": [5, 5]}, "grid.fast: 5 listed twice"),
    ({"fast": 5}, r"grid.fast: a list of values or \{start, stop, step\}"),
    ({"fast": {"start": 1, "stop": 5}}, "grid.fast: a range needs exactly start, stop and step"),
    ({"fast": {"start": 1, "stop": 5, "step": 0}}, "grid.fast: step must be greater than 0"),
    ({"fast": {"start": 1, "stop": 5, "step": -1}}, "grid.fast: step must be greater than 0"),
    ({"fast": {"start": 5, "stop": 1, "step": 1}}, "grid.fast: stop must not be less than start"),
    ({"fast": {"start": "1", "stop": 5, "step": 1}}, "grid.fast: start, stop and step must be finite numbers"),
    ({"fast": {"start": 1, "stop": float("inf"), "step": 1}}, "must be finite numbers"),
    ({"fast": {"start": 1, "stop": 10**9, "step": 1}}, f"grid.fast: 1000000000 values, at most {MAX_POINTS}"),
    ({"fast": list(range(200)), "slow": list(range(100))}, f"grid: 20000 points, at most {MAX_POINTS}"),
])  # fmt: skip
def test_a_bad_grid_is_refused_naming_the_parameter(ranges: object, message: str) -> None:
    with pytest.raises(SweepError, match=message):
        grid(ranges, DECLARED)  # type: ignore[arg-type]


def test_a_strategy_without_declared_params_takes_no_grid() -> None:
    with pytest.raises(SweepError, match="declares no literal"):
        grid({"fast": [1]}, None)


def test_the_target_is_one_of_the_api_statistics() -> None:
    assert check_target("sharpe_ratio") == "sharpe_ratio"
    with pytest.raises(SweepError, match="target: one of total_return, annual_return, sharpe_ratio"):
        check_target("sharpe")


def _point(index: int, **stats: float) -> PointResult:
    return PointResult(index, {"fast": index}, stats=dict(stats))


def test_higher_is_better_and_ties_keep_the_grid_order() -> None:
    points = [_point(0, sharpe_ratio=1.0), _point(1, sharpe_ratio=2.0), _point(2, sharpe_ratio=1.0),
              _point(3, sharpe_ratio=-3.0)]  # fmt: skip
    assert [p.index for p in rank(points, "sharpe_ratio")] == [1, 0, 2, 3]
    assert [p.index for p in rank(reversed(points), "sharpe_ratio")] == [1, 0, 2, 3]  # finish order is irrelevant


@pytest.mark.parametrize("target", ["max_drawdown", "max_drawdown_days"])
def test_for_drawdowns_the_smaller_magnitude_is_better(target: str) -> None:
    points = [_point(0, **{target: -0.2}), _point(1, **{target: -0.05}), _point(2, **{target: 0.1}),
              _point(3, **{target: 0.0})]  # fmt: skip
    assert [p.index for p in rank(points, target)] == [3, 1, 2, 0]


def test_points_without_a_value_come_next_and_failed_points_last() -> None:
    points = [PointResult(0, {"fast": 0}, error="on_bar raised"), _point(1, net_pnl=float("nan")), _point(2),
              _point(3, net_pnl=-5.0), PointResult(4, {"fast": 4}, stats={"net_pnl": None})]  # fmt: skip
    assert [p.index for p in rank(points, "net_pnl")] == [3, 1, 2, 4, 0]


@pytest.mark.parametrize(("text", "entry"), [
    ("fast=5:20:5", ("fast", {"start": 5, "stop": 20, "step": 5})),
    ("slow=20,30,40", ("slow", [20, 30, 40])),
    ("ratio=0.1:0.3:0.1", ("ratio", {"start": 0.1, "stop": 0.3, "step": 0.1})),
    ("product=rb,hc", ("product", ["rb", "hc"])),
    ("on=true,false", ("on", [True, False])),
    ("fast=7", ("fast", [7])),
])  # fmt: skip
def test_the_command_line_grid_form(text: str, entry: tuple) -> None:
    assert grid_option(text) == entry


@pytest.mark.parametrize("text", ["fast", "=1,2", "fast="])
def test_a_bad_command_line_grid_entry_is_refused(text: str) -> None:
    with pytest.raises(SweepError, match="name=start:stop:step or name=v1,v2"):
        grid_option(text)


def test_statistics_json_cannot_carry_are_null() -> None:
    assert finite_json({"a": [1.5, float("nan")], "b": float("-inf"), "c": "x", "d": 2}) == {
        "a": [1.5, None], "b": None, "c": "x", "d": 2}


def test_a_runs_data_file_is_one_the_next_start_clears_after_a_crash(tmp_path):
    """Backtests and sweeps alike name their scratch files so that clear_scratch finds them (a sweep's were
    `.bars`, which a start after a crash left behind for good)."""
    from backend.lab.data import make_bars
    from backend.lab.plans import clear_scratch, data_file

    bars = make_bars("rb2605.SHFE", "1m", [(1_700_000_000_000, 1, 2, 1, 1, 1)])
    with data_file(bars, tmp_path) as path:
        assert path.suffix == ".bar" and path.is_file()
        assert clear_scratch(tmp_path) == 1  # what a start finds of a run that never ended
    assert not path.exists()
