"""``Device.XMPP.Connection.{i}.`` and ``...Server.{i}.``: rows of the ``xmpp`` UCI package
(``config xmpp_connection`` and ``config xmpp_server``, the latter naming its connection's
section in ``option connection``, since UCI cannot nest). The connection request service
that uses them is :mod:`icwmpy.cr.xmpp`; the tables live here so that reading the data
model does not load it (asyncio, ssl).
"""

from icwmpy.backends.uci import UciTable

XMPP_CLIENT_PORT = 5222


class _UciRows:
    """Rows of one section type of a UCI package, served parameter by parameter (the table
    handler protocol of :mod:`icwmpy.backends.python`). ``FIELDS`` maps each parameter to
    its UCI option and the value an absent option reads as (the TR-181 default)."""

    TYPE = ""
    FIELDS = {}

    def __init__(self, ctx, package="xmpp"):
        self.ctx = ctx
        self.uci = ctx.uci
        self.package = package
        self.sections = UciTable({"uci": package, "type": self.TYPE})

    def instances(self, keys):
        return self.sections.instances(self.ctx, None, keys)

    def get(self, keys, relname):
        option, default = self.FIELDS[relname]
        return self.uci.get(self.package, keys[-1], option, default)

    def set(self, keys, relname, value):
        self.uci.set(self.package, keys[-1], self.FIELDS[relname][0], value)

    def add(self, keys):
        return self.sections.add(self.ctx, None, keys, None)

    def delete(self, keys, key):
        self.uci.delete(self.package, key)


class Servers(_UciRows):
    """``Device.XMPP.Connection.{i}.Server.{i}.``: ``xmpp_server`` sections whose
    ``connection`` option names the section of their connection."""

    TYPE = "xmpp_server"
    FIELDS = {"Enable": ("enable", "0"), "Priority": ("priority", "0"),
              "Weight": ("weight", "-1"), "ServerAddress": ("server_address", ""),
              "Port": ("port", str(XMPP_CLIENT_PORT))}

    def instances(self, keys):
        return [name for name in super().instances(keys)
                if self.uci.get(self.package, name, "connection") == keys[-1]]

    def add(self, keys):
        name = super().add(keys)
        self.uci.set(self.package, name, "connection", keys[-1])
        return name


class Connections(_UciRows):
    """``Device.XMPP.Connection.{i}.``: ``xmpp_connection`` sections. Deleting one deletes
    its servers too, so that a later connection given the same section name does not
    inherit them."""

    TYPE = "xmpp_connection"
    FIELDS = {"Enable": ("enable", "0"), "Username": ("username", ""),
              "Password": ("password", ""), "Domain": ("domain", ""),
              "Resource": ("resource", ""),
              "ServerConnectAlgorithm": ("server_connect_algorithm", "DNS-SRV"),
              "KeepAliveInterval": ("keepalive_interval", "-1"),
              "ServerConnectAttempts": ("server_connect_attempts", "16"),
              "ServerRetryInitialInterval": ("server_retry_initial_interval", "60"),
              "ServerRetryIntervalMultiplier": ("server_retry_interval_multiplier", "2000"),
              "ServerRetryMaxInterval": ("server_retry_max_interval", "30720"),
              "UseTLS": ("use_tls", "0")}

    def delete(self, keys, key):
        for name, _ in self.uci.sections(self.package, Servers.TYPE):
            if self.uci.get(self.package, name, "connection") == key:
                self.uci.delete(self.package, name)
        super().delete(keys, key)
