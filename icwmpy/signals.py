"""Signals that reach a busy event loop.

asyncio's ``add_signal_handler`` learns of a signal from a byte in its self-pipe, the
same pipe every finished model-thread call writes to; a loop busy with thousands of CPEs
lets it fill, and the signal's byte is then dropped (CPython only logs "Exception ignored
when trying to write to the signal wakeup fd"): a SIGTERM is lost. A Python-level handler
runs in the main thread whatever the pipe holds, and hands the work to the loop.
"""

import signal


def on_signal(loop, signum, callback):
    """Call ``callback()`` on ``loop`` when ``signum`` arrives, even with a full pipe."""
    signal.signal(signum, lambda *_: loop.call_soon_threadsafe(callback))
