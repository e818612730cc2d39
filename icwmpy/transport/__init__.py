"""Client side of the wire: pycurl transfers driven by the asyncio loop.

``CurlLoop`` runs any number of transfers on one ``CurlMulti``; ``AcsClient`` is the HTTP
client of one CWMP session (keep-alive, cookies, Digest/Basic, redirects, TLS, compression).
"""

from .acsclient import AcsClient, BodyTooLarge, HttpResponse
from .curlloop import CurlLoop, TransportError

__all__ = ["AcsClient", "BodyTooLarge", "CurlLoop", "HttpResponse", "TransportError"]
