"""The state directory shared by the daemon and the ``-c`` CLI: each process's view."""

from icwmpy.store import Store


def test_refresh_takes_in_what_another_process_wrote(tmp_path):
    daemon, cli = Store(str(tmp_path)), Store(str(tmp_path))
    daemon["values"].set("a", "1")
    assert daemon.refresh() == []                      # its own write is no news
    cli["values"].set("b", "2")                        # the CLI read the file, then wrote it
    assert daemon["values"].get("b") is None
    assert daemon.refresh() == [str(tmp_path / "values.json")]
    assert daemon["values"].items() == [("a", "1"), ("b", "2")]
    daemon["values"].set("c", "3")                     # and keeps the CLI's when it writes
    assert Store(str(tmp_path))["values"].items() == [("a", "1"), ("b", "2"), ("c", "3")]


def test_names_are_the_namespaces_on_disk_and_in_use(tmp_path):
    store = Store(str(tmp_path))
    store["events"].set("pending", [])
    store["tables"]                                    # made, never written
    (tmp_path / ".values.json.tmp").write_text("{}")   # a write cut by a crash
    assert store.names() == ["events", "tables"]
    assert Store(str(tmp_path / "none")).names() == []
