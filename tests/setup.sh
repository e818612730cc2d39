# Sourced by tests/run and the sandbox: Debian packages, a venv under the repo, the project
# installed editable with its test extras. Idempotent and quiet when everything is there.
need_debs=()
command -v dbus-daemon >/dev/null || need_debs+=(dbus)
command -v curl >/dev/null || need_debs+=(curl)
command -v turnserver >/dev/null || need_debs+=(coturn)       # STUN server for Annex G tests
command -v prosody >/dev/null || need_debs+=(prosody)         # XMPP server for Annex K tests
command -v uci >/dev/null 2>&1 || true   # optional: the real uci tool is used by tests when present
if [ ${#need_debs[@]} -gt 0 ]; then
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_debs[@]}" >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import icwmpy, pycurl, defusedxml, dbus_next, configobj, icmplib, dns, pytest, lxml, trustme, pyftpdlib, slixmpp' 2>/dev/null \
   || [ ! -x .venv/bin/ruff ] \
   || [ setup.cfg -nt .venv/.installed ]; then
    .venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
    touch .venv/.installed
fi
