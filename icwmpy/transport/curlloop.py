"""One ``pycurl.CurlMulti`` driven by the asyncio event loop.

libcurl's multi *socket* interface tells us which file descriptors it wants to watch
(``M_SOCKETFUNCTION``) and when it next needs a timeout call (``M_TIMERFUNCTION``); we map
those onto ``loop.add_reader``/``add_writer`` and ``loop.call_later`` and feed readiness back
with ``socket_action``. So any number of transfers (ACS session, downloads, uploads, for any
number of Agents) share the loop with no thread per request and no polling.

The callbacks libcurl invokes only record what to watch or schedule; every call back into the
multi handle happens from a loop callback, never from inside a libcurl callback (the multi
handle is not re-entrant).
"""

import asyncio

import pycurl


class TransportError(Exception):
    """A transfer failed below HTTP: ``code`` is the libcurl ``CURLE_*`` number."""

    def __init__(self, code, message):
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self):
        return f"curl error {self.code}: {self.message}"


class CurlLoop:
    """Runs transfers of ``pycurl.Curl`` handles on one multi handle and one asyncio loop.

    The multi handle keeps the connection cache, so successive transfers to the same server
    (the POSTs of a CWMP session) reuse the TCP/TLS connection.
    """

    def __init__(self, loop=None):
        self._loop = loop
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._pending = {}          # easy -> future of its transfer
        self._watched = {}          # fd -> (reading, writing)
        self._timer = None
        self._closed = False

    @property
    def active(self):
        """Number of transfers in progress."""
        return len(self._pending)

    async def perform(self, easy, progress=None):
        """Run ``easy`` to completion; raise ``TransportError`` if libcurl reports a failure.

        The caller sets every option (URL, WRITEFUNCTION or WRITEDATA to stream into a
        file, ...). ``progress(dltotal, dlnow, ultotal, ulnow)`` is called as the transfer
        advances (it stays set on the handle); a true return value aborts it. Cancelling
        the awaiting task removes the handle from the multi (the transfer and its
        connection are dropped) and leaves ``easy`` reusable.
        """
        if self._closed:
            raise RuntimeError("CurlLoop is closed")
        if easy in self._pending:
            raise RuntimeError("this handle is already being performed")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("CurlLoop used from a different event loop")
        if progress is not None:
            easy.setopt(pycurl.NOPROGRESS, False)
            easy.setopt(pycurl.XFERINFOFUNCTION, progress)
        easy.setopt(pycurl.NOSIGNAL, True)
        future = loop.create_future()
        self._pending[easy] = future
        self._multi.add_handle(easy)
        try:
            await future
        finally:
            if self._pending.pop(easy, None) is not None:  # cancelled mid-transfer
                self._multi.remove_handle(easy)

    def abort(self, easy, reason="transfer aborted"):
        """Stop ``easy``'s transfer now if it runs: its ``perform`` raises TransportError
        (E_ABORTED_BY_CALLBACK). Safe to call from any loop callback, before ``easy.close()``."""
        future = self._pending.pop(easy, None)
        if future is None:
            return
        self._multi.remove_handle(easy)
        if not future.done():
            future.set_exception(TransportError(pycurl.E_ABORTED_BY_CALLBACK, reason))

    def close(self):
        """Abort every transfer (their ``perform`` raises) and release the multi handle."""
        if self._closed:
            return
        self._closed = True
        for easy in list(self._pending):
            self.abort(easy, "curl loop closed")
        for fd in list(self._watched):
            self._watch(fd, False, False)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._multi.close()

    # -- libcurl callbacks: record, never call back into the multi handle --

    def _on_socket(self, what, fd, multi, socketp):
        if what == pycurl.POLL_REMOVE:
            self._watch(fd, False, False)
        else:
            self._watch(fd, what in (pycurl.POLL_IN, pycurl.POLL_INOUT),
                        what in (pycurl.POLL_OUT, pycurl.POLL_INOUT))

    def _on_timer(self, timeout_ms):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if timeout_ms >= 0 and self._loop is not None:
            self._timer = self._loop.call_later(timeout_ms / 1000, self._on_timeout)

    def _watch(self, fd, reading, writing):
        was_reading, was_writing = self._watched.pop(fd, (False, False))
        if was_reading and not reading:
            self._loop.remove_reader(fd)
        if was_writing and not writing:
            self._loop.remove_writer(fd)
        if reading and not was_reading:
            self._loop.add_reader(fd, self._act, fd, pycurl.CSELECT_IN)
        if writing and not was_writing:
            self._loop.add_writer(fd, self._act, fd, pycurl.CSELECT_OUT)
        if reading or writing:
            self._watched[fd] = (reading, writing)

    # -- loop callbacks: drive the multi handle --

    def _on_timeout(self):
        self._timer = None
        self._act(pycurl.SOCKET_TIMEOUT, 0)

    def _act(self, fd, events):
        if self._closed:
            return
        try:
            self._multi.socket_action(fd, events)
        except pycurl.error:  # e.g. CURLM_BAD_SOCKET for a socket libcurl just dropped
            pass
        self._collect()

    def _collect(self):
        """Resolve the futures of finished transfers (info_read may need several calls)."""
        while True:
            queued, succeeded, failed = self._multi.info_read()
            for easy in succeeded:
                self._finish(easy, None)
            for easy, code, message in failed:
                self._finish(easy, TransportError(code, message))
            if not queued:
                return

    def _finish(self, easy, error):
        future = self._pending.pop(easy, None)
        self._multi.remove_handle(easy)
        if future is None or future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
