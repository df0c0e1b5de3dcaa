"""Several users on one voila server: concurrent drags, memory per kernel, closed tabs, culling.

    python benchmarks/shared_server.py [--users 4] [--seconds 10] [--rate 30] [--cull-after 20] [--voila-arg=--X.y=z]

Starts ``voila app.ipynb`` from the repository root (its ``voila.json`` in effect, so one kernel
is pre-heated) with a short idle-culling time for the measurement
(``--MappingKernelManager.cull_idle_timeout=--cull-after``, checked every
``--cull-interval`` s; the repository's own setting is in voila.json), then
1. opens ``--users`` headless Chromium pages at once, each in a browser of its own (as
   separate people are), and waits until every one is interactive;
2. once every kernel is idle (the pool refilled: the steady state), has every page hold an atom
   and drag it at the same time, a mouse move every 1/``--rate`` s
   for ``--seconds``. As in ``dashboard_latency.py``, every position a viewer sends to its kernel
   counts, from the pointer event that put the atom there to the first spectrum redraw showing
   it or a later position (read from the page's own clock); per page it prints positions sent,
   redrawn, superseded, never drawn, spectrum redraws and page errors, and p50/p95 over all pages,
   also split into the wait before a position is sent and its round trip to the redraw;
3. prints each kernel's memory (RSS, and USS: the memory only that process holds);
4. closes half of the pages as a tab is closed (the page unloads: voila's page then asks the
   server to shut its kernel down) and records how soon their kernels end; then drops the
   rest without unloading (as a killed browser or a lost network does) and waits for the
   idle culler: which kernels remain (voila never culls its pre-heated pool).
The voila log's tracebacks (other than a closed client's socket) and the machine's load are
printed at the end.
"""

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from playwright.async_api import async_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))
from test_browser import CHROMIUM, CHROMIUM_FLAGS, PLOT, server_errors  # noqa: E402
from _machine import machine_line  # noqa: E402
from _voila import (RECORDERS, RESET_RECORDERS, cpu_by_role, drag_latencies, free_port,  # noqa: E402
                    kernel_processes, wait_listening)

FOREGROUND_FLAGS = ["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                    "--disable-backgrounding-occluded-windows"]
FIND_ATOM = """() => {
    const canvas = document.querySelector('canvas[data-xanesviz-drag=ready]');
    const view = canvas._xvView; const box = canvas.getBoundingClientRect();
    for (let gy = 0.2; gy <= 0.8; gy += 0.02) {
      for (let gx = 0.2; gx <= 0.8; gx += 0.02) {
        const x = gx * box.width, y = gy * box.height;
        const pp = view._xvPickAt(x, box.height - y);
        if (pp && pp.atom.index !== 0) { return {x: box.left + x, y: box.top + y, index: pp.atom.index}; }
      }
    }
    return null;
}"""
INTERACTIVE = (f"document.querySelector('canvas[data-xanesviz-drag=ready]') && document.querySelector('{PLOT}') "
               f"&& document.querySelector('{PLOT}').data && document.querySelector('{PLOT}').data[1].y "
               f"&& document.querySelector('{PLOT}').data[1].y.length > 100")


async def open_page(playwright, url: str, timeout_s: float) -> dict:
    # a browser of its own per user, as separate people have (pages of one shared headless browser
    # opened at once did not redraw their spectra during a drag in this benchmark)
    browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS + FOREGROUND_FLAGS)
    context = await browser.new_context(viewport={"width": 1500, "height": 1100})
    page = await context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    start = time.time()
    await page.goto(url, timeout=timeout_s * 1000)
    await page.wait_for_function(INTERACTIVE, timeout=timeout_s * 1000, polling=100)
    return {"browser": browser, "context": context, "page": page, "errors": errors, "open_s": time.time() - start}


async def drag(user: dict, seconds: float, interval: float) -> None:
    """Hold an atom and move the mouse every ``interval`` s on an absolute schedule."""
    page = user["page"]
    await asyncio.sleep(1.0)  # the first sensitivity colouring and side figure settle
    atom = await page.evaluate(FIND_ATOM)
    if atom is None:
        user["errors"].append("no atom found under the pointer grid")
        return
    user["atom"] = atom
    user["y_before"] = await page.evaluate(f"Array.from(document.querySelector('{PLOT}').data[1].y)")
    await page.evaluate(RECORDERS)
    await page.evaluate(RESET_RECORDERS)
    x, y = atom["x"], atom["y"]
    await page.mouse.move(x, y)
    await page.mouse.down()
    start = time.perf_counter()
    for step in range(max(1, round(seconds / interval))):
        x += 3 if (step // 20) % 2 == 0 else -3
        await page.mouse.move(x, y)
        wait = start + (step + 1) * interval - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
    await page.mouse.up()
    user["held_s"] = time.perf_counter() - start
    await asyncio.sleep(2.0)  # the last positions are drawn
    user["record"] = await page.evaluate("window._xvRec")
    user["spectrum_changed"] = not np.allclose(
        await page.evaluate(f"Array.from(document.querySelector('{PLOT}').data[1].y)"), user["y_before"])
    user["message"] = (await page.inner_text(".xanesviz-message")).strip()
    user["acked"] = await page.evaluate("document.querySelector('canvas[data-xanesviz-drag=ready]')._xvView"
                                        ".model.get('drag_ack')")


def memory_line(process) -> str:
    try:
        info = process.memory_full_info()
        return f"RSS {info.rss / 2**20:.0f} MB, USS {info.uss / 2**20:.0f} MB"
    except Exception as exc:  # the process ended meanwhile, or /proc/PID/smaps unreadable
        return f"memory unreadable ({type(exc).__name__})"


async def wait_kernels_idle(server, timeout: float = 90) -> str:
    """Wait until every kernel is idle (less than 0.05 CPU-s in 1 s): the pages' first
    explanations are done and voila has refilled its pool (running the notebook takes seconds
    of CPU), so that the drags measure the steady state, as in ``dashboard_latency.py``."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        kernels = list(kernel_processes(server).values())
        try:
            before = [sum(k.cpu_times()[:2]) for k in kernels]
            await asyncio.sleep(1.0)
            busy = [sum(k.cpu_times()[:2]) - b > 0.05 for k, b in zip(kernels, before)]
        except Exception:  # a kernel ended meanwhile
            continue
        if not any(busy):
            return f"{len(kernels)} kernels idle {time.time() - t0:.0f} s after the last page was interactive"
    return f"the kernels were not idle within {timeout:.0f} s; dragging anyway"


async def wait_gone(server, kernel_ids: set[str], timeout: float) -> dict[str, float | None]:
    """Seconds until each kernel's process ended (None: still running after ``timeout``)."""
    start, gone = time.time(), {}
    while time.time() - start < timeout and len(gone) < len(kernel_ids):
        running = kernel_processes(server)
        for kernel_id in kernel_ids - set(gone) - set(running):
            gone[kernel_id] = time.time() - start
        await asyncio.sleep(0.25)
    return {kernel_id: gone.get(kernel_id) for kernel_id in kernel_ids}


def cpu_per_position_line(used: dict[str, float], n_sent: int, users: int, cpus: int) -> str:
    """CPU per position sent, over the drags and their settling, split into the server's side
    (kernels, voila), the browsers' (every Chromium process) and the driver's; and what the
    server's side alone would load the machine with if each page sent a position at the viewer's
    fastest (one per 100 ms), its browser running on the user's own machine."""
    if not n_sent:
        return "CPU per position: no position sent"
    server_ms = 1000 * sum(v for k, v in used.items() if k in ("kernels", "voila server")) / n_sent
    browser_ms = 1000 * sum(v for k, v in used.items() if k.startswith("chromium")) / n_sent
    driver_ms = 1000 * used.get("playwright driver", 0.0) / n_sent
    share = browser_ms / max(server_ms + browser_ms + driver_ms, 1e-9)
    return (f"CPU per position sent ({n_sent} positions, the settling included): server side (kernels + voila) "
            f"{server_ms:.0f} ms, browsers {browser_ms:.0f} ms ({share:.0%} of it), driver {driver_ms:.0f} ms; "
            f"the server's side alone, {users} page(s) each sending every 100 ms (the viewer's fastest): "
            f"{users * server_ms / 100:.2f} of {cpus} CPUs")


async def main_async(args, server, url: str, log_path: Path) -> None:
    async with async_playwright() as p:
        before = set(kernel_processes(server))
        print(f"kernels before any visitor: {len(before)} (the pre-heated pool)")
        t = time.time()
        opened = await asyncio.gather(*(open_page(p, url, args.timeout) for _ in range(args.users)),
                                      return_exceptions=True)
        users = [u for u in opened if isinstance(u, dict)]
        for failure in [u for u in opened if not isinstance(u, dict)]:
            print(f"a page never became interactive: {type(failure).__name__}: {str(failure)[:200]}")
        print(f"{args.users} pages opened at once: interactive after "
              + ", ".join(f"{u['open_s']:.1f}" for u in users) + f" s (all within {time.time() - t:.1f} s)")
        print(machine_line())
        # which kernel serves which page: voila logs each kernel it hands out or starts, in order
        running = kernel_processes(server)
        print(f"kernels now: {len(running)} ({args.users} visitors + the pool)")
        print(await wait_kernels_idle(server) + "; the drags start now")
        cpu_before, t_cpu = cpu_by_role(server), time.perf_counter()
        await asyncio.gather(*(drag(u, args.seconds, 1.0 / args.rate) for u in users))
        cpu_after, t_cpu = cpu_by_role(server), time.perf_counter() - t_cpu
        used = {role: cpu_after[role] - cpu_before.get(role, 0.0) for role in cpu_after}
        print(f"CPU seconds per second of the drags ({t_cpu:.1f} s, the settling after them included; "
              f"{os.cpu_count()} CPUs): " + ", ".join(f"{role} {seconds / t_cpu:.2f}" for role, seconds in
                                                   sorted(used.items(), key=lambda kv: -kv[1]) if seconds > 0.01))
        print(machine_line())
        pooled, waits, trips, n_sent = [], [], [], 0
        for k, user in enumerate(users, 1):
            rec = user.get("record")
            if rec is None:
                print(f"page {k}: no drag recorded; errors: {user['errors'][:3]}")
                continue
            sends = np.array(rec["sends"], float).reshape(-1, 4)
            redraws = np.array(rec["redraws"], float).reshape(-1, 2)
            lat, redrawn, superseded, missing = drag_latencies(sends, redraws)
            n_sent += len(sends)
            pooled.append(lat)
            # the two parts of a latency: waiting to be sent (the viewer has one position in flight
            # at a time) and the round trip from its sending to the spectrum's redraw
            for seq, origin, sent, _final in sends:
                later = np.nonzero(redraws[:, 1] >= seq)[0]
                if len(later):
                    waits.append(sent - origin)
                    trips.append(redraws[later[0], 0] - sent)
            pct = (lambda q: np.percentile(lat, q)) if len(lat) else (lambda q: np.nan)  # noqa: E731
            print(f"page {k}: {len(rec['moves'])} pointer moves in {user['held_s']:.1f} s, {len(sends)} positions sent, "
                  f"{redrawn} redrawn, {superseded} superseded, {missing} never drawn; {len(redraws)} spectrum "
                  f"redraws of {rec.get('figures')} spectrum figure(s) (last position answered by the kernel: {user.get('acked')}); drag -> redraw p50 {pct(50):.0f} ms, "
                  f"p95 {pct(95):.0f} ms; page errors "
                  f"{len(user['errors'])}; spectrum {'changed' if user['spectrum_changed'] else 'UNCHANGED'} by the drag; "
                  f"message: {user['message'] or '(none)'}" + "".join(f"\n    {e}" for e in user["errors"][:3]))
        lat = np.concatenate(pooled) if pooled else np.array([])
        if len(lat):
            print(f"all {len(pooled)} pages, every sent position: drag -> redraw p50 {np.percentile(lat, 50):.0f} ms, "
                  f"p95 {np.percentile(lat, 95):.0f} ms, max {lat.max():.0f} ms ({len(lat)} positions; "
                  f"mouse moves every {1000 / args.rate:.0f} ms on {args.users} pages at once)")
            print(f"  of which waiting to be sent (one position in flight per page): p50 {np.percentile(waits, 50):.0f} ms, "
                  f"p95 {np.percentile(waits, 95):.0f} ms; sent -> redrawn: p50 {np.percentile(trips, 50):.0f} ms, "
                  f"p95 {np.percentile(trips, 95):.0f} ms")
            print(cpu_per_position_line(used, n_sent, args.users, os.cpu_count() or 1))
        running = kernel_processes(server)
        print(f"memory per kernel ({len(running)} kernels):")
        for kernel_id, process in running.items():
            print(f"  kernel {kernel_id[:8]} (pid {process.pid}): {memory_line(process)}")
        try:
            voila_rss = __import__("psutil").Process(server.pid).memory_info().rss / 2**20
            print(f"  the voila server itself: RSS {voila_rss:.0f} MB")
        except Exception:
            pass

        # closed tabs: the kernels that served them
        log = log_path.read_text()
        served = (re.findall(r"Using pre-heated kernel: (\S+)", log) + re.findall(r"Kernel started: (\S+)", log))
        page_kernels = [kernel_id for kernel_id in dict.fromkeys(served) if kernel_id in running][:args.users]
        half = max(1, args.users // 2)
        closing = users[:half]
        before_close = set(kernel_processes(server))
        for user in closing:  # as a tab closes: the page unloads (voila's page then asks for its kernel's shutdown)
            await user["page"].close(run_before_unload=True)
        gone = await wait_gone(server, before_close, timeout=min(15.0, args.cull_after * 0.75))
        freed = {k: s for k, s in gone.items() if s is not None}
        print(f"closed {half} of {args.users} tabs: {len(freed)} kernel(s) ended within "
              f"{min(15.0, args.cull_after * 0.75):.0f} s of the close (before any culling could)"
              + (": after " + ", ".join(f"{s:.1f}" for s in freed.values()) + " s" if freed else ""))
        for user in users:  # the rest go without unloading (a browser killed, a network lost)
            await user["context"].close()
        t_closed = time.time()
        remaining = set(kernel_processes(server))
        wait = args.cull_after + 2 * args.cull_interval + 10
        gone = await wait_gone(server, remaining, timeout=wait)
        left = kernel_processes(server)
        culled = len(re.findall(r"Culling '\w+' kernel", log_path.read_text()))
        print(f"the other {args.users - half} pages gone without unloading: {len(remaining)} kernels were running; "
              f"{sum(s is not None for s in gone.values())} ended within {time.time() - t_closed:.0f} s "
              f"(cull after {args.cull_after} s idle, checked every {args.cull_interval} s); "
              f"{culled} culled by the server (its log); {len(left)} left running"
              + (" (the pre-heated pool, never culled)" if len(left) <= 1 else ""))
        if page_kernels:
            still = [k[:8] for k in page_kernels if k in left]
            print(f"kernels that served the {args.users} pages still running: {len(still)} {still}")
        for user in users:
            await user["browser"].close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4, help="concurrent pages (default 4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the drags (default 10 s)")
    parser.add_argument("--rate", type=float, default=30.0, help="mouse moves per second per page (default 30)")
    parser.add_argument("--cull-after", type=int, default=120,
                        help="idle seconds before a kernel is culled (default 120; shorter than the pages take to "
                             "connect, a kernel handed out is culled before its page connects)")
    parser.add_argument("--cull-interval", type=int, default=10, help="seconds between the culler's checks (default 10)")
    parser.add_argument("--voila-arg", action="append", default=[], metavar="ARG",
                        help="one more voila command-line argument, e.g. --voila-arg=--VoilaConfiguration.default_pool_size=2")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds a page may take to open (default 180)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped (SIGTERM)"))  # so the server is stopped too
    print("command: " + " ".join([Path(sys.executable).name] + sys.argv))
    print(machine_line())
    port = free_port()
    log_path = Path(tempfile.mkdtemp(prefix="xanesviz-shared-")) / "voila.log"
    command = [sys.executable, "-m", "voila", "app.ipynb", "--no-browser", f"--port={port}",
               f"--MappingKernelManager.cull_idle_timeout={args.cull_after}",
               f"--MappingKernelManager.cull_interval={args.cull_interval}", *args.voila_arg]
    print("$ " + " ".join(["voila"] + command[3:]) + f"   (cwd {REPO}; voila.json "
          f"{'present' if (REPO / 'voila.json').exists() else 'absent'})")
    url = f"http://localhost:{port}/"
    server = subprocess.Popen(command, cwd=REPO, stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        wait_listening(url, server)
        deadline = time.time() + args.timeout  # the pool's kernel has run the notebook
        while time.time() < deadline and "Kernel pool of" not in log_path.read_text():
            time.sleep(0.5)
        time.sleep(5)
        asyncio.run(main_async(args, server, url, log_path))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    log = log_path.read_text()
    errors = server_errors(log)
    lost = len(set(re.findall(r"Kernel does not exist: (\S+)", log)))
    if lost:
        print(f"{lost} kernel(s) culled before their page connected (a page asked for a kernel that was gone)")
    print(f"voila log: {len(errors)} tracebacks" + "".join(f"\n  {e}" for e in errors[:5]) + f" ({log_path})")
    print(machine_line())


if __name__ == "__main__":
    main()
