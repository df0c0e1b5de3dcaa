"""A pre-heated voila kernel learns that a visitor took it (voila's query socket), off the browser."""

import asyncio

from xanesviz.app import pool


def test_outside_a_voila_pool_there_is_nothing_to_wait_for(monkeypatch):
    for name in ("VOILA_PREHEAT", "VOILA_KERNEL_ID"):
        monkeypatch.delenv(name, raising=False)
    assert pool.query_url() is None
    assert asyncio.run(_on_hand_out_in_a_loop(lambda: None)) is None
    monkeypatch.setenv("VOILA_PREHEAT", "False")
    monkeypatch.setenv("VOILA_KERNEL_ID", "k1")
    assert pool.query_url() is None  # a kernel voila started for a page, not for its pool


async def _on_hand_out_in_a_loop(callback):
    return pool.on_hand_out(callback)


def test_the_callback_comes_when_voila_hands_the_kernel_out(monkeypatch):
    import websockets

    async def scenario():
        paths, called = [], asyncio.Event()

        async def voila_query(socket):
            paths.append(socket.request.path)
            await asyncio.sleep(0.3)  # the kernel waits in the pool, then a visitor takes it
            await socket.send('{"VOILA_REQUEST_URL": "http://127.0.0.1/"}')
            await asyncio.sleep(0.5)

        async with websockets.serve(voila_query, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            monkeypatch.setenv("VOILA_PREHEAT", "True")
            monkeypatch.setenv("VOILA_KERNEL_ID", "kernel-7")
            monkeypatch.setenv("VOILA_APP_PORT", str(port))
            monkeypatch.setenv("VOILA_SERVER_URL", "/base/")
            monkeypatch.delenv("VOILA_WS_BASE_URL", raising=False)
            assert pool.query_url() == f"ws://127.0.0.1:{port}/base/voila/query/kernel-7"
            task = pool.on_hand_out(called.set)
            assert task is not None
            await asyncio.sleep(0.1)
            assert not called.is_set()  # not before the hand-out
            await asyncio.wait_for(called.wait(), 5)
            await task
        return paths

    assert asyncio.run(scenario()) == ["/base/voila/query/kernel-7"]


def test_no_query_socket_means_no_callback(monkeypatch):
    """voila without pre-heating answers 404 there: the kernel gives up quietly."""
    import websockets

    async def scenario():
        called = []

        def not_found(connection, request):
            return connection.respond(404, "no such socket\n")

        async with websockets.serve(lambda socket: None, "127.0.0.1", 0, process_request=not_found) as server:
            monkeypatch.setenv("VOILA_PREHEAT", "True")
            monkeypatch.setenv("VOILA_KERNEL_ID", "k")
            monkeypatch.setenv("VOILA_APP_PORT", str(server.sockets[0].getsockname()[1]))
            task = pool.on_hand_out(lambda: called.append(1))
            await asyncio.wait_for(task, 5)
        return called

    assert asyncio.run(scenario()) == []
