"""Logging as icwmp does it: ``DD-MM-YYYY, HH:MM:SS [SEVERITY] message`` lines to the
console, a size-rotated file and/or syslog, per the ``cwmp.cpe.log_*`` options.

SOAP messages are logged at DEBUG through :func:`redact`, so passwords, keys and the
credentials of URLs never reach a log (ParameterKey and CommandKey do: they are no secret).
"""

import logging
import logging.handlers
import os
import re
import sys

SEVERITIES = {"EMERG": logging.CRITICAL, "ALERT": logging.CRITICAL, "CRITIC": logging.CRITICAL,
              "ERROR": logging.ERROR, "WARNING": logging.WARNING, "NOTICE": logging.INFO,
              "INFO": logging.INFO, "DEBUG": logging.DEBUG}
NAMES = {logging.CRITICAL: "CRITIC", logging.ERROR: "ERROR", logging.WARNING: "WARNING",
         logging.INFO: "INFO", logging.DEBUG: "DEBUG"}

# How the names of TR-181's secured (write-only) parameters end: ...Password, KeyPassphrase,
# SAEPassphrase, ...Secret, PreSharedKey, WEPKey, PIN and the other keys. Not ParameterKey
# or CommandKey: those are the ACS's labels, and what a log is read for.
_SECRET_NAME = (r"[^<]*(?i:Password|Passphrase|Secret)"
                r"|[^<]*\.(?:\w*(?:PreSharedKey|WEPKey|PrivateKey|EncryptionKey|AuthenticationKey)"
                r"|KeyValue|PIN|AuthenticationCode)")
_SECRET_VALUE = re.compile(
    rf"(<(?:\w+:)?Name>\s*(?:{_SECRET_NAME})\s*</(?:\w+:)?Name>\s*"
    r"<(?:\w+:)?Value\b[^>]*>)(.*?)(</(?:\w+:)?Value>)", re.S)
_SECRET_ELEMENT = re.compile(r"(<(?:\w+:)?Password>)(.*?)(</(?:\w+:)?Password>)", re.S)
# userinfo of a URL: scheme://user:password@host
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@<>:]*:)[^\s/?#@<>]*(@)")


def redact(text):
    """A SOAP message with every secret (a secured parameter's value, a Password element,
    the password of a URL) replaced by ***."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = _SECRET_VALUE.sub(r"\1***\3", text)
    text = _SECRET_ELEMENT.sub(r"\1***\3", text)
    return _URL_PASSWORD.sub(r"\1***\2", text)


class IcwmpFormatter(logging.Formatter):
    def __init__(self):
        super().__init__(datefmt="%d-%m-%Y, %H:%M:%S")

    def format(self, record):
        record.severity = NAMES.get(record.levelno, record.levelname)
        return f"{self.formatTime(record, self.datefmt)} [{record.severity}] {record.getMessage()}" + (
            "\n" + self.formatException(record.exc_info) if record.exc_info else "")


def setup(cpe, foreground=False):
    """Configure the ``icwmpy`` loggers from the ``cwmp.cpe`` settings."""
    root = logging.getLogger("icwmpy")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(SEVERITIES.get(cpe.log_severity, logging.INFO))
    root.propagate = False
    formatter = IcwmpFormatter()
    handlers = []
    if cpe.log_to_console or foreground:
        handlers.append(logging.StreamHandler(sys.stderr))
    if cpe.log_to_file and cpe.log_file_name:
        try:
            os.makedirs(os.path.dirname(cpe.log_file_name) or ".", exist_ok=True)
            handlers.append(logging.handlers.RotatingFileHandler(
                cpe.log_file_name, maxBytes=max(1024, cpe.log_max_size), backupCount=1))
        except OSError as e:
            print(f"icwmpd: log file {cpe.log_file_name}: {e}", file=sys.stderr)
    if cpe.log_to_syslog and os.path.exists("/dev/log"):
        syslog = logging.handlers.SysLogHandler("/dev/log", facility="daemon")
        syslog.setFormatter(logging.Formatter("icwmpd: [%(levelname)s] %(message)s"))
        root.addHandler(syslog)
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
