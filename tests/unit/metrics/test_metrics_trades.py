"""Trade figures: win rate, profit factor, expectancy, trade returns, holding time, fees."""

from __future__ import annotations

import pytest

FLAT = [100.0] * 5

# five closed trades, quote currency
NET_PNL = [50.0, -20.0, 30.0, -10.0, 0.0]
RETURN = [0.05, -0.02, 0.03, -0.01, 0.0]
BARS_HELD = [3, 1, 4, 2, 5]
ENTRY_FEE = [1.0, 1.0, 1.0, 1.0, 1.0]
EXIT_FEE = [1.5, 0.5, 1.0, 0.5, 0.5]


@pytest.fixture
def five_trades(make_trades):
    return make_trades(
        net_pnl=NET_PNL,
        **{"return": RETURN},
        bars_held=BARS_HELD,
        entry_fee=ENTRY_FEE,
        exit_fee=EXIT_FEE,
    )


def test_win_rate_counts_only_positive_net_pnl(run_stats, five_trades) -> None:
    s = run_stats(FLAT, trades=five_trades)
    # winners 50 and 30; the 0.0 trade is not a win but is a trade: 2 / 5
    assert s["n_trades"] == 5
    assert s["win_rate"] == pytest.approx(0.4)


def test_profit_factor_is_gains_over_losses(run_stats, five_trades) -> None:
    s = run_stats(FLAT, trades=five_trades)
    # (50 + 30) / |-20 - 10| = 80 / 30
    assert s["profit_factor"] == pytest.approx(80 / 30)


def test_expectancy_is_mean_net_pnl_in_quote_currency(run_stats, five_trades) -> None:
    s = run_stats(FLAT, trades=five_trades)
    # (50 - 20 + 30 - 10 + 0) / 5 = 10
    assert s["expectancy"] == pytest.approx(10.0)


def test_trade_returns_and_holding_time(run_stats, five_trades) -> None:
    s = run_stats(FLAT, trades=five_trades)
    # (0.05 - 0.02 + 0.03 - 0.01 + 0) / 5 = 0.01
    assert s["avg_trade_return"] == pytest.approx(0.01)
    assert s["best_trade_return"] == pytest.approx(0.05)
    assert s["worst_trade_return"] == pytest.approx(-0.02)
    # (3 + 1 + 4 + 2 + 5) / 5 = 3
    assert s["avg_bars_held"] == pytest.approx(3.0)


def test_fees_include_both_sides_of_closed_trades(run_stats, five_trades) -> None:
    s = run_stats(FLAT, trades=five_trades)
    # entry 5 x 1.0 = 5; exit 1.5 + 0.5 + 1.0 + 0.5 + 0.5 = 4
    assert s["fees_paid"] == pytest.approx(9.0)
    assert s["n_open_positions"] == 0


def test_fees_include_the_entry_fee_of_an_open_position(
    run_stats, five_trades, make_open_position
) -> None:
    s = run_stats(FLAT, trades=five_trades, open_position=make_open_position(2.0))
    # 9 from the closed trades + 2 paid to open the position still held
    assert s["fees_paid"] == pytest.approx(11.0)
    assert s["n_open_positions"] == 1
    # an open position is not a closed trade
    assert s["n_trades"] == 5


def test_an_open_position_alone_still_counts_its_fee(run_stats, make_open_position) -> None:
    s = run_stats(FLAT, open_position=make_open_position(3.5))
    assert s["n_trades"] == 0
    assert s["fees_paid"] == pytest.approx(3.5)
    assert s["win_rate"] is None


def test_empty_open_position_array_means_none_open(run_stats, make_open_position) -> None:
    s = run_stats(FLAT, open_position=make_open_position(1.0)[:0])
    assert s["n_open_positions"] == 0
    assert s["fees_paid"] == 0.0


def test_no_trades_leaves_per_trade_figures_undefined(run_stats) -> None:
    s = run_stats(FLAT)
    assert s["n_trades"] == 0
    for key in (
        "win_rate",
        "profit_factor",
        "expectancy",
        "avg_trade_return",
        "best_trade_return",
        "worst_trade_return",
        "avg_bars_held",
    ):
        assert s[key] is None, key
    assert s["fees_paid"] == 0.0


def test_profit_factor_without_a_losing_trade_is_none(run_stats, make_trades) -> None:
    s = run_stats(FLAT, trades=make_trades(net_pnl=[10.0, 0.0, 5.0]))
    assert s["profit_factor"] is None
    assert s["win_rate"] == pytest.approx(2 / 3)


def test_profit_factor_without_a_winning_trade_is_zero(run_stats, make_trades) -> None:
    s = run_stats(FLAT, trades=make_trades(net_pnl=[-10.0, -5.0]))
    # 0 / |-15|
    assert s["profit_factor"] == 0.0
    assert s["win_rate"] == 0.0
    assert s["expectancy"] == pytest.approx(-7.5)
