"""An FTP server for the tests: pyftpdlib on 127.0.0.1, serving in a thread of its own."""

import contextlib
import threading

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


@contextlib.contextmanager
def ftp_server(root, readonly=None):
    """User u, password p, who may do anything under ``root`` but write under ``readonly``
    (a directory in it); yields the server's port."""
    authorizer = DummyAuthorizer()
    authorizer.add_user("u", "p", str(root), perm="elradfmw")
    if readonly is not None:
        authorizer.override_perm("u", str(readonly), perm="elr")
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer,
                                              "auth_failed_timeout": 0.05})
    server = FTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"timeout": 0.05, "handle_exit": False}, daemon=True)
    thread.start()
    try:
        yield server.socket.getsockname()[1]
    finally:
        server.close_all()
        thread.join(5)
