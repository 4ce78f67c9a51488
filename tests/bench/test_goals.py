from bench.goals import GoalResult


def test_a_throughput_goal_is_met_at_or_above_its_limit() -> None:
    assert GoalResult.judge("bus throughput", "1 msgs/s", 0.8, 0.8).met
    assert not GoalResult.judge("bus throughput", "1 msgs/s", 0.79, 0.8).met


def test_a_latency_goal_is_met_at_or_below_its_limit() -> None:
    assert GoalResult.judge("one-hop p50", "60 us", 1.3, 1.3, at_least=False).met
    below = GoalResult.judge("one-hop p50", "90 us", 1.8, 1.3, at_least=False, detail="bare 50 us")
    assert not below.met
    assert below.line() == "one-hop p50: 1.80x (<= 1.30x) NOT met [90 us; bare 50 us]"
