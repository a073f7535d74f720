"""The read model's arithmetic without a store: a change moves nested counters exactly as a recount
would have them, and the open deadlines of many rows are counted before a day as if summed."""

from datetime import date, timedelta

from liaison_cases.domain.statistics import OpenDeadlines, add_into, figures, move, nest


def test_a_move_keeps_what_a_recount_would_make() -> None:
    tree = nest({"all.collected": 2, "all.open_due.2026-05-04": 1, "department.unassigned.collected": 1})
    move(tree, {"all.open_due.2026-05-04": -1, "all.open_due.2026-06-01": 1, "department.unassigned.collected": -1})
    assert tree == {"all": {"collected": 2, "open_due": {"2026-06-01": 1}}}
    move(tree, {"department.dept-roads.collected": 1})
    assert tree == nest({"all.collected": 2, "all.open_due.2026-06-01": 1, "department.dept-roads.collected": 1})


def test_open_deadlines_of_many_rows_count_as_their_sum() -> None:
    day = date(2026, 5, 4).toordinal()
    rows = [
        ([day, day + 3], [2, 3]),  # two deadlines on the 4th, one on the 7th (running counts)
        ([day + 1], [4]),
    ]
    total: dict[str, object] = {}
    for days, running in rows:
        add_into(total, {"collected": running[-1], "open_due": OpenDeadlines((days, running))})
    assert total["collected"] == 7
    overdue = {offset: figures(total, date.fromordinal(day) + timedelta(days=offset))["overdue"] for offset in range(5)}
    assert overdue == {0: 0, 1: 2, 2: 6, 3: 6, 4: 7}  # a deadline is overdue the day after it
