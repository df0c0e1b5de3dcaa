"""Scheduling of live drag updates: the newest waiting position wins, and each is acknowledged."""

import asyncio

import numpy as np

from xanesviz.app import Dashboard
from xanesviz.app.dashboard import REST_DELAY_S
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


def test_mid_drag_only_the_spectrum_follows_and_the_rest_once_the_atom_rests():
    board = Dashboard()
    calls = []
    compute = board.predictor.sensitivity
    board.predictor.sensitivity = lambda *args, **kwargs: (calls.append(1), compute(*args, **kwargs))[1]
    board.select_atom(1)
    start = board.atoms.positions[1].copy()
    details = lambda: (board.trust.value, board.panel.peak_table.value, board.atom_info.value,  # noqa: E731
                       board.atom_xyz[0].value, list(board.importance.figure.data[1].y))
    before = details()

    async def drag_then_rest():
        spectrum = board.panel.trace_values("predicted").copy()
        for step in range(1, 6):
            board._dragged(drag_event(board, step, start + [0.06 * step, 0, 0]))
            await asyncio.sleep(0.01)  # the next position comes sooner than REST_DELAY_S
        assert calls == []
        assert not np.allclose(board.panel.trace_values("predicted"), spectrum)  # the spectrum follows
        assert details() == before  # badge, peak table, editor, histogram wait
        await asyncio.sleep(REST_DELAY_S + 0.3)
        assert len(calls) == 1  # the atom rested: colours for where it is now
        np.testing.assert_allclose(board.sensitivity_values, compute(board.atoms, window=board.window_range))
        after = details()
        assert after[2] != before[2] and after[3] == round(board.atoms.positions[1][0], 4)
        assert after[0] != before[0]  # the trust badge's distance follows the geometry

    asyncio.run(drag_then_rest())


def figure_messages(figure) -> tuple[list, list]:
    """What the figure sends the page from now on: (custom messages: traces-only redraws, full updates)."""
    sent, updates = [], []
    figure.send = lambda content, buffers=None: sent.append(content)
    figure.observe(lambda change: updates.append(change["new"]) if change["new"] else None, names="_py2js_update")
    return sent, updates


def test_mid_drag_the_spectrum_is_one_traces_only_message_and_the_release_a_full_redraw():
    board = Dashboard()
    sent, updates = figure_messages(board.panel.figure)
    start = board.atoms.positions[1].copy()

    async def drag():
        board._dragged(drag_event(board, 1, start * 1.03))
        await asyncio.sleep(0)
        assert len(sent) == 1 and updates == []  # one message, no full update of the figure
        message = sent[0]
        assert message["xanesviz"] == "animate" and message["options"]["frame"]["redraw"] is False
        assert message["layout"]["datarevision"] == 1  # the page can tell which position it shows
        drawn = dict(zip(message["traces"], message["data"]))
        np.testing.assert_allclose(drawn[1]["y"], board.panel.trace_values("predicted"))
        board._dragged(drag_event(board, 2, start * 1.05, final=True))
        await asyncio.sleep(0)
        assert len(updates) >= 1 and len(sent) == 1  # the release redraws everything (axes too)

    asyncio.run(drag())


def test_mid_drag_an_axis_widens_only_when_the_data_would_leave_it_and_autorange_returns_on_release():
    board = Dashboard()
    board._pin()
    board.difference.value = True  # current − pinned: zero now, and it grows as the atom moves away
    sent, updates = figure_messages(board.panel.figure)
    start = board.atoms.positions[1].copy()

    async def drag():
        for seq, scale in enumerate((1.002, 1.10, 1.101), start=1):
            board._dragged(drag_event(board, seq, start * scale))
            await asyncio.sleep(0)
        layouts = [message["layout"] for message in sent]
        assert len(layouts) == 3
        widened = layouts[1].get("yaxis2", {}).get("range") or layouts[1].get("yaxis2.range")
        assert widened is not None, layouts[1]  # the difference left the range it had
        difference = board.panel.trace_values("current − pinned")
        assert widened[0] <= difference.min() and difference.max() <= widened[1]
        assert "yaxis2" not in layouts[2] and "yaxis2.range" not in layouts[2]  # still inside: not sent again
        board._dragged(drag_event(board, 4, start * 1.101, final=True))
        await asyncio.sleep(0)
        assert any(update["layout_data"].get("yaxis2.autorange") is True or
                   (update["layout_data"].get("yaxis2") or {}).get("autorange") is True for update in updates)

    asyncio.run(drag())
