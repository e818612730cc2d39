"""UCI reader/writer: every syntax form, addressing, staging, atomic commit, round trips."""

import os
import pathlib
import re
import shutil
import subprocess
import threading

import pytest

from icwmpy.config.uci import Uci, UciError, dump, parse

SYNTAX = r"""# a comment line
package 'net'

config interface 'lan'   # comment after a statement
	option ifname eth0
	option 'proto' "static"
	list dns '8.8.8.8'
	list dns "1.1.1.1"
	option joined 'a'"b"c\ d
	option dq "say \"hi\" \\ back\slash"
	option sq 'no \escapes "here"'
	option hash 'not # a comment'
	option multi 'line one
line two'
	option cont long\
value
	option empty ''
	option novalue
	option trailing value#comment
	list items 'a'
	option items ''

config rule
	option name 'first'; option target ACCEPT
c rule
	o name second
	l port 80
	l port 443

config 'switch-type' 'sw'
"""


@pytest.fixture
def confdir(tmp_path):
    (tmp_path / "net").write_text(SYNTAX)
    return tmp_path


def write(path, text):
    path.write_text(text)
    # make the change visible even on filesystems with coarse timestamps
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_every_syntax_form(confdir):
    uci = Uci(confdir)
    assert uci.options("net", "lan") == {
        "ifname": "eth0",
        "proto": "static",
        "dns": ["8.8.8.8", "1.1.1.1"],
        "joined": "abc d",
        "dq": 'say "hi" \\ backslash',
        "sq": 'no \\escapes "here"',
        "hash": "not # a comment",
        "multi": "line one\nline two",
        "cont": "longvalue",
        "trailing": "value",
        "items": ["a"],
    }
    assert uci.sections("net")[0] == ("lan", "interface")
    assert [t for _, t in uci.sections("net")] == ["interface", "rule", "rule", "switch-type"]
    assert uci.get("net", "@rule[0]", "target") == "ACCEPT"
    assert uci.get("net", "@rule[1]", "port") == ["80", "443"]
    assert uci.section_type("net", "sw") == "switch-type"


def test_line_continuation_only_inside_a_word(tmp_path):
    """A backslash-newline goes on with the word on the next line; indentation there ends
    the word (empty here), so the quoted word after it is one argument too many."""
    (tmp_path / "p").write_text("config t 's'\n\toption name \\\n'value'\n\toption after 'x'\n")
    assert Uci(tmp_path).options("p", "s") == {"name": "value", "after": "x"}
    (tmp_path / "q").write_text("config acs acs\n\toption userid \\\n\t'cont'\n")
    with pytest.raises(UciError, match="too many arguments") as err:
        Uci(tmp_path).sections("q")
    assert (err.value.path, err.value.line) == (str(tmp_path / "q"), 3)


def test_empty_value_is_no_option(tmp_path):
    """uci drops an option whose value is empty: it neither creates the option nor
    changes an earlier value; an empty list item is kept."""
    (tmp_path / "p").write_text(
        "config acs 'acs'\n\toption userid ''\n\toption passwd 'x'\n\toption passwd ''\n"
        "\tlist l 'a'\n\toption l ''\n\toption comment # nothing\n\tlist e\n\tlist e ''\n")
    assert Uci(tmp_path).options("p", "acs") == {"passwd": "x", "l": ["a"], "e": ["", ""]}


def test_setting_an_empty_value_deletes_the_option(tmp_path):
    """As ``uci set p.s.o=''``: the option goes, and no ``option o ''`` is ever written."""
    (tmp_path / "p").write_text("config acs 'acs'\n\toption userid 'x'\n\toption url 'u'\n")
    uci = Uci(tmp_path)
    uci.set("p", "acs", "userid", "")
    uci.set("p", "acs", "passwd", "")
    assert uci.options("p", "acs") == {"url": "u"}
    uci.commit("p")
    assert (tmp_path / "p").read_text() == "config acs 'acs'\n\toption url 'u'\n\n"


def test_default_config_has_no_empty_options():
    text = (pathlib.Path(__file__).resolve().parent.parent / "etc" / "config" / "cwmp").read_text()
    assert re.findall(r"^\s*option \S+ ''", text, re.M) == []


def test_package_line_ignored_when_loaded_by_name(tmp_path):
    """uci loads /etc/config/<name> as package <name>, whatever its package line says."""
    (tmp_path / "cwmp").write_text("package other\n\nconfig acs 'acs'\n\toption a 1\n")
    uci = Uci(tmp_path)
    assert uci.get("cwmp", "acs", "a") == "1"
    assert uci.export(["cwmp"]) == "package cwmp\n\nconfig acs 'acs'\n\toption a '1'\n\n"


def test_list_without_value_is_an_empty_item(tmp_path):
    (tmp_path / "p").write_text("config acs 'acs'\n\tlist l\n")
    uci = Uci(tmp_path)
    assert uci.get("p", "acs", "l") == [""]
    uci.set("p", "acs", "x", "1")
    uci.commit("p")
    assert "\tlist l ''\n" in (tmp_path / "p").read_text()
    assert Uci(tmp_path).get("p", "acs", "l") == [""]


def test_semicolons_as_uci_reads_them(tmp_path):
    """One ``;`` ends a command (it is read as an empty last argument); a second one is a
    command of its own. A plain word directly followed by ``;`` ends the whole line:
    libuci writes the word's terminating NUL over that ``;``."""
    (tmp_path / "p").write_text("config t 's'; option a 'x' ; option b \"y\"\n"
                                "\toption c z; option d 'dropped'\n\toption e 'after'\n")
    assert Uci(tmp_path).options("p", "s") == {"a": "x", "b": "y", "c": "z", "e": "after"}


def test_options_set_again_move_to_the_end(tmp_path):
    """The order ``uci export`` shows: a changed option (or one turned into a list) is
    re-created after the others; an unchanged one or a list item stays in place."""
    (tmp_path / "p").write_text("config t 's'\n\toption a 1\n\toption b 2\n\toption c 3\n"
                                "\tlist l x\n\toption a 1\n\toption b 4\n\tlist c 5\n\tlist l y\n")
    uci = Uci(tmp_path)
    assert list(uci.options("p", "s").items()) == [
        ("a", "1"), ("l", ["x", "y"]), ("b", "4"), ("c", ["3", "5"])]


def test_commit_keeps_the_file_mode(tmp_path):
    (tmp_path / "p").write_text("config t 's'\n")
    for mode in (0o644, 0o640, 0o600):
        os.chmod(tmp_path / "p", mode)
        uci = Uci(tmp_path)
        uci.set("p", "s", "v", oct(mode))
        uci.commit("p")
        assert os.stat(tmp_path / "p").st_mode & 0o7777 == mode
    uci.set_section("new", "s", "t")
    uci.commit("new")  # a new file: uci's UCI_FILEMODE, 0600
    assert os.stat(tmp_path / "new").st_mode & 0o7777 == 0o600


def test_crlf_line_endings(tmp_path):
    (tmp_path / "p").write_bytes(b"config t 's'\r\n\toption a 'b'\r\n\toption c d\r\n")
    assert Uci(tmp_path).options("p", "s") == {"a": "b", "c": "d"}


def test_type_addressing_and_anonymous_names(confdir):
    uci = Uci(confdir)
    rules = uci.sections("net", "rule")
    assert len(rules) == 2
    for name, _ in rules:
        assert re.fullmatch(r"cfg[0-9a-f]{6}", name)
    assert uci.resolve("net", "@rule[0]") == rules[0][0]
    assert uci.resolve("net", "@rule[-1]") == rules[1][0]
    assert uci.resolve("net", "@rule[-2]") == rules[0][0]
    assert uci.resolve("net", "@rule[2]") is None
    assert uci.resolve("net", "@nothing[0]") is None
    assert uci.get("net", rules[1][0], "name") == "second"
    assert uci.get("net", "@rule[5]", "name", "dflt") == "dflt"
    # the same file gives the same names, in this process and the next
    assert Uci(confdir).sections("net", "rule") == rules


def test_missing_things_give_defaults(confdir):
    uci = Uci(confdir)
    assert uci.get("nope", "lan", "x", "d") == "d"
    assert uci.get("net", "wan", "x") is None
    assert uci.get("net", "lan", "x", []) == []
    assert uci.sections("nope") == []
    assert uci.options("net", "wan") is None
    assert uci.section_type("net", "wan") is None


def test_values_returned_are_copies(confdir):
    uci = Uci(confdir)
    uci.get("net", "lan", "dns").append("evil")
    uci.options("net", "lan")["dns"].append("evil")
    assert uci.get("net", "lan", "dns") == ["8.8.8.8", "1.1.1.1"]


def test_option_and_list_interplay(tmp_path):
    (tmp_path / "p").write_text(
        "config t 's'\n\toption a 'one'\n\tlist a 'two'\n\tlist b 'x'\n\toption b 'y'\n"
        "config t 's'\n\toption c 'merged'\n")
    uci = Uci(tmp_path)
    assert uci.options("p", "s") == {"a": ["one", "two"], "b": "y", "c": "merged"}
    assert uci.sections("p") == [("s", "t")]


def test_several_packages(tmp_path):
    (tmp_path / "one").write_text("config a 'x'\n\toption v '1'\n")
    (tmp_path / "two").write_text("config a 'x'\n\toption v '2'\n")
    (tmp_path / ".hidden").write_text("garbage '")
    uci = Uci(tmp_path)
    assert uci.packages() == ["one", "two"]
    assert uci.get("one", "x", "v") == "1"
    assert uci.get("two", "x", "v") == "2"
    uci.set("one", "x", "v", "changed")
    assert uci.changed() == {"one"}
    assert uci.get("two", "x", "v") == "2"


@pytest.mark.parametrize("text, line, message", [
    ("config t 's'\n\toption a 'unterminated\n\n", 2, "unterminated '"),
    ('config t "s"\n\n\toption a "open\n', 3, 'unterminated "'),
    ("# c\n\toption a 'b'\n", 2, "before the first config"),
    ("config t 's'\n\tfrobnicate a\n", 2, "invalid command 'frobnicate'"),
    ("config t 's'\n\toption a b c\n", 2, "too many arguments"),
    ("config t 's'\n\tlist \n", 2, "insufficient arguments"),
    ("config \n", 1, "insufficient arguments"),
    ("config\n", 1, "invalid command 'config\\n'"),
    ("'config' t\n", 1, "invalid command"),
    ("config acs 'acs';; option userid 'x'\n", 1, "invalid command ';'"),
    ("config t 's';\n", 1, "invalid command"),
    ("config t 's'\n\toption 'bad-name' x\n", 2, "invalid character in name field"),
    ("config t 'bad name'\n", 1, "invalid character in name field"),
    ("config 'bad type' s\n", 1, "invalid character in type field"),
    ("\n\npackage 'bad name'\n", 3, "invalid character in name field"),
    ("config acs 'acs'\n\toption a 1\nconfig acs2 'acs'\n", 3, "overwrites"),
])
def test_parse_errors_name_file_and_line(tmp_path, text, line, message):
    (tmp_path / "pkg").write_text(text)
    with pytest.raises(UciError) as err:
        Uci(tmp_path).sections("pkg")
    path = str(tmp_path / "pkg")
    assert err.value.path == path
    assert err.value.line == line
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert message in str(err.value)


def test_staged_until_commit(confdir):
    uci, other = Uci(confdir), Uci(confdir)
    before = (confdir / "net").read_bytes()
    uci.set("net", "lan", "ipaddr", "10.0.0.1")
    uci.set("net", "@rule[0]", "target", "DROP")
    assert uci.get("net", "lan", "ipaddr") == "10.0.0.1"
    assert uci.changed() == {"net"}
    assert (confdir / "net").read_bytes() == before
    assert other.get("net", "lan", "ipaddr") is None
    uci.commit("net")
    assert uci.changed() == set()
    assert other.get("net", "lan", "ipaddr") == "10.0.0.1"
    assert other.get("net", "@rule[0]", "target") == "DROP"
    assert other.get("net", "lan", "multi") == "line one\nline two"


def test_revert_drops_staged_changes(confdir):
    uci = Uci(confdir)
    uci.set("net", "lan", "proto", "dhcp")
    uci.delete("net", "@rule[0]")
    uci.add("net", "rule")
    uci.revert("net")
    assert uci.changed() == set()
    assert uci.get("net", "lan", "proto") == "static"
    assert len(uci.sections("net", "rule")) == 2
    uci.commit("net")  # nothing staged: nothing written
    assert (confdir / "net").read_text() == SYNTAX


def test_failed_operation_stages_nothing(confdir):
    uci = Uci(confdir)
    with pytest.raises(UciError, match="no such section"):
        uci.set("net", "wan", "proto", "dhcp")
    with pytest.raises(UciError, match="no such section"):
        uci.delete("net", "@rule[9]")
    with pytest.raises(UciError, match="invalid option name"):
        uci.set("net", "lan", "bad name", "x")
    with pytest.raises(UciError, match="NUL"):
        uci.set("net", "lan", "x", "a\0b")
    with pytest.raises(TypeError):
        uci.set("net", "lan", "x", 5)
    with pytest.raises(UciError, match="invalid section type"):
        uci.add("net", "has space")
    with pytest.raises(UciError, match="invalid package"):
        uci.add("../etc", "t")
    assert uci.changed() == set()


def test_section_operations(confdir):
    uci = Uci(confdir)
    name = uci.add("net", "rule")
    assert re.fullmatch(r"cfg[0-9a-f]{6}", name)
    assert uci.resolve("net", "@rule[-1]") == name
    uci.set("net", name, "name", "third")
    assert uci.add("net", "zone", "wan") == "wan"
    with pytest.raises(UciError, match="already exists"):
        uci.add("net", "zone", "wan")
    uci.set_section("net", "wan", "interface")
    uci.set_section("net", "guest", "interface")
    uci.set("net", "guest", "dns", ["9.9.9.9", "149.112.112.112"])
    uci.set("net", "lan", "dns", [])
    uci.delete("net", "lan", "ifname")
    uci.delete("net", "@rule[0]")
    uci.rename("net", "sw", "switch0")
    uci.commit("net")
    # names given by add() stay valid after the commit, in this process
    assert uci.get("net", name, "name") == "third"
    fresh = Uci(confdir)
    assert [t for _, t in fresh.sections("net")] == ["interface", "rule", "switch-type", "rule",
                                                     "interface", "interface"]
    assert fresh.get("net", "@rule[-1]", "name") == "third"
    assert fresh.get("net", "@rule[0]", "name") == "second"
    assert fresh.get("net", "guest", "dns") == ["9.9.9.9", "149.112.112.112"]
    assert fresh.get("net", "lan", "dns") is None
    assert fresh.get("net", "lan", "ifname") is None
    assert fresh.section_type("net", "switch0") == "switch-type"
    assert fresh.section_type("net", "wan") == "interface"


def test_new_package_created_on_commit(tmp_path):
    uci = Uci(tmp_path / "sub")
    uci.set_section("fresh", "main", "thing")
    uci.set("fresh", "main", "a", "b")
    assert uci.packages() == ["fresh"]
    uci.commit("fresh")
    assert (tmp_path / "sub" / "fresh").read_text() == "config thing 'main'\n\toption a 'b'\n\n"


def test_writer_layout(tmp_path):
    uci = Uci(tmp_path)
    uci.set_section("p", "acs", "acs")
    uci.set("p", "acs", "url", "http://acs/")
    uci.set("p", "acs", "l", ["a", "it's"])
    uci.add("p", "inform_parameter")
    uci.set("p", "@inform_parameter[0]", "enable", "1")
    uci.set_section("p", "odd", "we'ird")
    uci.commit("p")
    assert (tmp_path / "p").read_text() == (
        "config acs 'acs'\n\toption url 'http://acs/'\n\tlist l 'a'\n\tlist l 'it'\\''s'\n\n"
        "config inform_parameter\n\toption enable '1'\n\n"
        "config 'we'\\''ird' 'odd'\n\n")


def test_commit_leaves_only_the_whole_file(confdir):
    uci = Uci(confdir)
    uci.set("net", "lan", "big", "x" * 100_000)
    uci.commit("net")
    assert sorted(os.listdir(confdir)) == ["net"]
    assert Uci(confdir).get("net", "lan", "big") == "x" * 100_000


def test_readers_never_see_half_a_commit(tmp_path):
    """Concurrent readers of the file parse either the old or the new content."""
    writer = Uci(tmp_path)
    writer.set_section("p", "s", "t")
    writer.commit("p")
    seen, errors, done = set(), [], threading.Event()

    def read():
        while not done.is_set():
            try:
                value = Uci(tmp_path).get("p", "s", "v", "")
                seen.add(value[:1])
                if value and value != value[0] * 50_000:
                    errors.append("torn value")
            except Exception as e:  # pragma: no cover - reported below
                errors.append(repr(e))

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(20):
        writer.set("p", "s", "v", "ab"[i % 2] * 50_000)
        writer.commit("p")
    done.set()
    reader.join()
    assert errors == []
    assert sorted(os.listdir(tmp_path)) == ["p"]


def test_failed_commit_keeps_the_staged_changes(tmp_path):
    uci = Uci(tmp_path)
    uci.set_section("p", "s", "t")
    (tmp_path / "p").mkdir()  # something that cannot be read or replaced as a file
    (tmp_path / "p" / "inside").write_text("")
    with pytest.raises(OSError):
        uci.commit("p")
    assert uci.changed() == {"p"}
    assert uci.section_type("p", "s") == "t"


def test_reread_when_file_changes(confdir):
    uci = Uci(confdir)
    assert uci.get("net", "lan", "proto") == "static"
    write(confdir / "net", "config interface 'lan'\n\toption proto 'dhcp'\n")
    assert uci.get("net", "lan", "proto") == "dhcp"
    (confdir / "net").unlink()
    assert uci.sections("net") == []


def test_staged_changes_replayed_onto_external_edit(confdir):
    uci = Uci(confdir)
    uci.set("net", "lan", "proto", "dhcp")
    write(confdir / "net", "config interface 'lan'\n\toption mtu '1500'\nconfig interface 'wan'\n")
    # staged view wins until commit
    assert uci.get("net", "lan", "mtu") is None
    uci.delete("net", "@rule[0]")  # no rule in the new file: this change is dropped
    uci.commit("net")
    fresh = Uci(confdir)
    assert fresh.options("net", "lan") == {"mtu": "1500", "proto": "dhcp"}
    assert fresh.sections("net") == [("lan", "interface"), ("wan", "interface")]


NASTY = [
    "", "'", "''", "it's", 'a "quoted" word', "back\\slash", "trailing\\", "\\'", "\\\n",
    "multi\nline\n", "\ttab and  spaces ", " leading", "# not a comment", "semi;colon",
    "$(echo pwned) `x` $HOME", "ünïcödé ✓ 日本語 🎉", "\r\nCRLF\r\n", "x" * 5000,
]


def test_round_trip_of_nasty_values(tmp_path):
    uci = Uci(tmp_path)
    uci.set_section("p", "s", "t")
    for i, value in enumerate(NASTY):
        uci.set("p", "s", f"o{i}", value)
    uci.set("p", "s", "all", NASTY)
    uci.commit("p")
    fresh = Uci(tmp_path)
    assert [fresh.get("p", "s", f"o{i}") for i in range(len(NASTY))] == [v or None for v in NASTY]
    assert fresh.get("p", "s", "all") == NASTY
    text = (tmp_path / "p").read_text()
    assert dump(parse(text, "p")) == text


def test_undecodable_bytes_survive(tmp_path):
    (tmp_path / "p").write_bytes(b"config t 's'\n\toption raw '\xff\xfe'\n")
    uci = Uci(tmp_path)
    uci.set("p", "s", "other", "x")
    uci.commit("p")
    assert b"option raw '\xff\xfe'" in (tmp_path / "p").read_bytes()


@pytest.mark.skipif(shutil.which("uci") is None, reason="the uci tool is not installed")
def test_real_uci_reads_what_we_write(tmp_path):
    uci = Uci(tmp_path)
    uci.set_section("p", "s", "t")
    one_line = {i: v for i, v in enumerate(NASTY) if v and "\n" not in v and "\r" not in v}
    for i, value in one_line.items():
        uci.set("p", "s", f"o{i}", value)
    uci.commit("p")
    for i, value in one_line.items():
        out = subprocess.run(["uci", "-c", str(tmp_path), "get", f"p.s.o{i}"],
                             capture_output=True, check=True).stdout
        assert out.decode()[:-1] == value
