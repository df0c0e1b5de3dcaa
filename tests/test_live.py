"""Scheduling of live drag updates: the newest waiting position wins, and each is acknowledged."""

import asyncio

import numpy as np

from xanesviz.app import Dashboard
from xanesviz.app.dashboard import SENSITIVITY_IDLE_S
from xanesviz.app.live import Coalescer, one_blas_thread


def test_without_an_event_loop_each_event_is_applied_at_once():
    applied = []
    queue = Coalescer(applied.append)
    queue.submit({"seq": 1})
    queue.submit({"seq": 2})
    assert applied == [{"seq": 1}, {"seq": 2}] and queue.superseded == 0


def test_in_a_running_loop_only_the_newest_waiting_event_runs_but_a_release_is_kept():
    applied = []
    queue = Coalescer(applied.append)

    async def burst():
        for event in ({"seq": 1}, {"seq": 2}, {"seq": 3, "final": True}, {"seq": 4}, {"seq": 5}):
            queue.submit(event)  # all arrive while the kernel is busy
        assert applied == []
        await asyncio.sleep(0)

    asyncio.run(burst())
    assert [e["seq"] for e in applied] == [3, 5]
    assert queue.superseded == 3


def test_one_blas_thread_limits_blas_inside_only():
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    with one_blas_thread():
        assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == [i["num_threads"] for i in blas]


def drag_event(board, seq, position, final=False, index=1):
    return {"new": {"index": index, "position": list(map(float, position)), "final": final, "seq": seq}}


def test_dashboard_draws_only_the_newest_of_queued_drag_positions_and_acknowledges_it():
    board = Dashboard()
    start = board.atoms.positions[1].copy()
    predictions = []
    predict = board.predictor.predict
    board.predictor.predict = lambda *a, **k: (predictions.append(1), predict(*a, **k))[1]

    async def burst():
        for seq in (1, 2, 3):
            board._dragged(drag_event(board, seq, start * (1 + 0.02 * seq)))
        await asyncio.sleep(0)

    asyncio.run(burst())
    assert len(predictions) == 1  # positions 1 and 2 were superseded before they were computed
    np.testing.assert_allclose(board.atoms.positions[1], start * 1.06)
    assert board.viewer.drag_ack == 3
    assert board.panel.figure.layout.datarevision == 3  # the redraw says which position it shows


def test_a_refused_drag_position_is_acknowledged_too():
    board = Dashboard()
    before = board.panel.trace_values("predicted").copy()
    board._dragged(drag_event(board, 7, [0.05, 0.0, 0.0], final=True))  # onto the absorber
    assert "error" in board.message.value
    assert board.viewer.drag_ack == 7  # the page may send the next position
    np.testing.assert_allclose(board.panel.trace_values("predicted"), before)


def test_mid_drag_the_sensitivity_runs_once_the_atom_rests_not_on_every_position():
    board = Dashboard()
    calls = []
    compute = board.predictor.sensitivity
    board.predictor.sensitivity = lambda *args, **kwargs: (calls.append(1), compute(*args, **kwargs))[1]
    start = board.atoms.positions[1].copy()

    async def drag_then_rest():
        for step in range(1, 6):
            board._dragged(drag_event(board, step, start + [0.02 * step, 0, 0]))
            await asyncio.sleep(0.01)  # the next position comes sooner than SENSITIVITY_IDLE_S
        assert calls == []
        await asyncio.sleep(SENSITIVITY_IDLE_S + 0.3)
        assert len(calls) == 1  # the atom rested: colours for where it is now
        np.testing.assert_allclose(board.sensitivity_values, compute(board.atoms, window=board.window_range))

    asyncio.run(drag_then_rest())
