"""Connection requests: how the ACS asks the CPE to open a session now (TR-069 3.2.2).

``http.CrServer`` is the HTTP listener; each CPE registers a ``Route`` on it. Nothing is
imported here: the data model reaches :mod:`.firewall` on every ``icwmpd -c`` run, which
must not load the listeners (asyncio).
"""
