"""UCI configuration files: read and write a config directory the way ``uci -c DIR`` does.

OpenWrt keeps its configuration in ``/etc/config/<package>`` files of ``config``,
``option`` and ``list`` statements. icwmp's operators (and scripts such as the DHCP
option 43 hook) edit those files with the ``uci`` tool, so the agent must read every
form that tool reads and write files that tool reads back.

Changes are staged in memory, as ``uci set`` stages them in ``/tmp/.uci``: a data model
transaction stages many sets and then commits once (one atomic file replacement) or
reverts. Staged changes are kept as a list of operations; if the file changed on disk
meanwhile, commit replays them onto the new content instead of overwriting it.

Files are read as libuci reads them (see :class:`_Parser`; tests/test_uci.py has each
case): ``package``, ``config TYPE [NAME]``, ``option NAME [VALUE]``, ``list NAME [VALUE]``
(and the one-letter forms), quoted and escaped words, ``#`` comments and ``;``. As in uci,
an option is never empty: ``option x ''`` is no option and setting ``''`` deletes one, so
the writer never writes one. A commit keeps the file's permission bits, as ``uci commit``.
"""

import os
import re
import stat
import threading
import zlib

from icwmpy.store import write_atomic

_NAME = re.compile(r"[A-Za-z0-9_]+\Z")
_PACKAGE = re.compile(r"[A-Za-z0-9_-]+\Z")
_TYPE = re.compile(r"[!-~]+\Z")  # printable ASCII, no space: what uci accepts as a type
_PLAIN_TYPE = re.compile(r"[A-Za-z0-9_-]+\Z")
_REF = re.compile(r"@(.+)\[(-?\d+)\]\Z")
_CSPACE = " \t\n\r\v\f"  # C's isspace(): what ends a word and is skipped between words
_SPACES = re.compile(r"[ \t\n\r\v\f]*")
_PLAIN = re.compile(r"[^ \t\n\r\v\f;#'\"\\]+")
_DOUBLE_PLAIN = re.compile(r'[^"\\]*')
_LINE = re.compile(r"[^\n]*\n|[^\n]+")
_COMMAND = re.compile(r"[ \t]*([^ \t]*)[ \t]?")  # a command word, as strtok(" \t") cuts it


class UciError(Exception):
    """A UCI file that does not parse, or an operation on something that is not there.

    ``path`` and ``line`` say where a parse error is; the message includes them.
    """

    def __init__(self, message, path=None, line=None):
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if line is not None else (f"{path}: " if path else "")
        super().__init__(where + message)


class _Section:
    __slots__ = ("type", "anonymous", "options")

    def __init__(self, type, anonymous):
        self.type = type
        self.anonymous = anonymous
        self.options = {}

    def copy(self):
        s = _Section(self.type, self.anonymous)
        s.options = {k: _copy_value(v) for k, v in self.options.items()}
        return s


def _copy_value(value):
    return list(value) if isinstance(value, list) else value


def _copy_sections(sections):
    return {name: s.copy() for name, s in sections.items()}


def _anonymous_name(position, seed):
    """uci's style of name for an anonymous section: ``cfg`` + 6 hex digits."""
    return f"cfg{position & 0xFF:02x}{zlib.crc32(seed.encode('utf-8', 'surrogateescape')) & 0xFFFF:04x}"


# ---------------------------------------------------------------------------- parsing

class _Parser:
    """Turns the text of one package file into an ordered ``{name: _Section}``, reading it
    as libuci does when ``uci`` loads a package by name, in its default strict mode.

    libuci reads the file a line at a time and cuts each line up in place; what it then
    accepts, and what this parser accepts, follows from that:

    - a line is a series of commands; a command word runs to the next space or tab, so
      ``config`` at the end of a line, ``'config'`` or a lone ``;`` are invalid commands;
    - an argument is a word of unquoted, ``'single'`` and ``"double"`` quoted pieces and
      backslash escapes (not inside single quotes); quoted pieces may span lines;
    - a backslash at the end of a line continues the word on the next line, so
      indentation there ends the word (an empty one, if nothing came before);
    - ``;`` where an argument starts is an empty argument: that is what ends a command
      and lets another follow on the line. A word ended by ``;`` keeps it, except a word
      with no quote or escape in it: there libuci's end-of-string overwrites the ``;``
      and the rest of the line is lost;
    - ``#`` where a word starts, or inside an unquoted one, ends the line;
    - an ``option`` with an empty value is no option (an earlier value stays); a
      ``list`` with an empty value gets an empty item;
    - the ``package`` line is checked and then ignored: the file's name is the package;
    - a named section given again is the same section, if it has the same type.

    An error names the line being read when it was found (for an unterminated quote,
    the line where the quote opened).
    """

    def __init__(self, text, path):
        self.lines = iter(_LINE.findall(text))
        self.path = path
        self.buf, self.pos, self.line = "", 0, 0
        self.entries = []  # [name or None, _Section] in file order
        self.named = {}
        self.current = None

    def error(self, message, line=None):
        raise UciError(message, self.path, self.line if line is None else line)

    def parse(self):
        while self._read():
            self._commands()
        return self._finish()

    def _read(self):
        """Go on with the next line (all of the current one is read); False at the end."""
        line = next(self.lines, None)
        self.buf, self.pos = line or "", 0
        if line is None:
            return False
        self.line += 1
        return True

    def _char(self):
        return self.buf[self.pos:self.pos + 1]

    def _skip_space(self):
        self.pos = _SPACES.match(self.buf, self.pos).end()

    def _commands(self):
        self._skip_space()
        while True:
            m = _COMMAND.match(self.buf, self.pos)
            word = m.group(1)
            if not word or word[0] == "#":
                return
            command = _COMMANDS.get(word)
            if command is None:
                self.error(f"invalid command {word!r}")
            self.pos = m.end()
            command(self)

    def _arg(self, required=False):
        """The next argument ('' if none is left before the end of the line)."""
        self._skip_space()
        if self._char() == ";":
            self.pos += 1
            word = ""
        else:
            word = self._word()
        if required and not word:
            self.error("insufficient arguments")
        return word

    def _name_arg(self, pattern=_NAME):
        name = self._arg(required=True)
        if not pattern.match(name):
            self.error(f"invalid character in name field: {name!r}")
        return name

    def _end(self):
        if self._arg():
            self.error("too many arguments")

    def _word(self):
        out, plain = [], True  # plain: no quote or escape so far
        while True:
            c = self._char()
            if c in ("'", '"'):
                out.append(self._single_quoted() if c == "'" else self._double_quoted())
                plain = False
            elif c in ("", "#", ";"):
                if c == "#" or (c == ";" and plain):
                    self.buf = self.buf[:self.pos]  # overwritten: the line ends here
                return "".join(out)
            elif c == "\\":
                plain = False
                self.pos += 1
                if not self._continued():
                    out.append(self._char())
                    self.pos += 1
            else:
                m = _PLAIN.match(self.buf, self.pos)
                out.append(m.group())
                self.pos = m.end()
            c = self._char()
            if not c or c in _CSPACE:
                self.pos += len(c)
                return "".join(out)

    def _continued(self):
        """After a backslash: if the line ends there, read the next one in its place."""
        if self.buf[self.pos:] in ("", "\n", "\r\n"):
            self._read()
            return True
        return False

    def _single_quoted(self):
        line, out = self.line, []
        self.pos += 1
        while True:
            end = self.buf.find("'", self.pos)
            if end >= 0:
                out.append(self.buf[self.pos:end])
                self.pos = end + 1
                return "".join(out)
            out.append(self.buf[self.pos:])
            if not self._read():
                self.error("unterminated '", line)

    def _double_quoted(self):
        line, out = self.line, []
        self.pos += 1
        while True:
            m = _DOUBLE_PLAIN.match(self.buf, self.pos)
            out.append(m.group())
            self.pos = m.end()
            c = self._char()
            if c == '"':
                self.pos += 1
                return "".join(out)
            if c == "\\":
                self.pos += 1
                if not self._continued():
                    out.append(self._char())
                    self.pos += 1
            elif not self._read():
                self.error('unterminated "', line)

    def _package(self):
        self._name_arg(_PACKAGE)
        self._end()

    def _config(self):
        type = self._arg(required=True)
        if not _TYPE.match(type):
            self.error(f"invalid character in type field: {type!r}")
        name = self._arg()
        if name and not _NAME.match(name):
            self.error(f"invalid character in name field: {name!r}")
        self._end()
        if not name:
            self.current = _Section(type, True)
            self.entries.append([None, self.current])
            return
        existing = self.named.get(name)
        if existing is not None:
            if existing.type != type:
                self.error(f"section '{name}' of type '{type}' overwrites a prior section "
                           f"of type '{existing.type}'")
            self.current = existing
            return
        self.current = self.named[name] = _Section(type, False)
        self.entries.append([name, self.current])

    def _option_args(self):
        if self.current is None:
            self.error("option or list before the first config section")
        name = self._name_arg()
        value = self._arg()
        self._end()
        return self.current.options, name, value

    def _option(self):
        """Set an option as libuci does: a new or changed one goes after the others."""
        options, name, value = self._option_args()
        if value and options.get(name) != value:
            options.pop(name, None)
            options[name] = value

    def _list(self):
        """Add a list item; an option turned into a list goes after the others."""
        options, name, value = self._option_args()
        old = options.get(name)
        if isinstance(old, list):
            old.append(value)
        else:
            options.pop(name, None)
            options[name] = [value] if old is None else [old, value]

    def _finish(self):
        sections = {}
        taken = set(self.named)
        for position, (name, section) in enumerate(self.entries, 1):
            if name is None:
                seed = section.type + repr(sorted(section.options.items()))
                name = _anonymous_name(position, seed)
                while name in taken:
                    seed += "+"
                    name = _anonymous_name(position, seed)
                taken.add(name)
            sections[name] = section
        return sections


_COMMANDS = {word: method for method in (_Parser._package, _Parser._config, _Parser._option,
                                         _Parser._list)
             for word in (method.__name__[1:], method.__name__[1])}


def parse(text, path="<string>"):
    """Parse the text of a package file into ``{section name: _Section}`` (file order)."""
    return _Parser(text, path).parse()


# ---------------------------------------------------------------------------- writing

def quote(value):
    """Single-quote ``value`` for a UCI file: ``'`` becomes ``'\\''`` as uci writes it."""
    return "'" + value.replace("'", "'\\''") + "'"


def dump(sections):
    """The text of a package file, in the layout ``uci commit`` writes."""
    out = []
    for name, s in sections.items():
        head = "config " + (s.type if _PLAIN_TYPE.match(s.type) else quote(s.type))
        out.append(head + ("" if s.anonymous else " " + quote(name)) + "\n")
        for option, value in s.options.items():
            if isinstance(value, list):
                out.extend(f"\tlist {option} {quote(v)}\n" for v in value)
            else:
                out.append(f"\toption {option} {quote(value)}\n")
        out.append("\n")
    return "".join(out)


# ---------------------------------------------------------------------------- operations

def _apply(sections, op):
    """Apply one staged operation; raise UciError if it no longer makes sense."""
    kind = op[0]
    if kind == "set":
        _, name, option, value = op
        section = _need(sections, name)
        if value is None:
            section.options.pop(option, None)
        else:
            section.options[option] = _copy_value(value)
    elif kind == "section":
        _, name, type = op
        if name in sections:
            sections[name].type = type
        else:
            sections[name] = _Section(type, False)
    elif kind == "add":
        _, name, type = op
        if name in sections:
            raise UciError(f"section '{name}' already exists")
        sections[name] = _Section(type, True)
    elif kind == "delete":
        _, name, option = op
        _need(sections, name)
        if option is None:
            del sections[name]
        else:
            sections[name].options.pop(option, None)
    elif kind == "rename":
        _, old, new = op
        _need(sections, old)
        if new in sections:
            raise UciError(f"section '{new}' already exists")
        renamed = {}
        for name, section in sections.items():
            if name == old:
                section.anonymous = False
                name = new
            renamed[name] = section
        sections.clear()
        sections.update(renamed)


def _need(sections, name):
    section = sections.get(name)
    if section is None:
        raise UciError(f"no section '{name}'")
    return section


def _check_value(value):
    if isinstance(value, str):
        values = [value]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        values = value
    else:
        raise TypeError(f"a UCI value is a str or a list of str, not {value!r}")
    if any("\0" in v for v in values):
        raise UciError("a UCI value cannot contain a NUL character")
    # None deletes: an empty option is no option to uci (`uci set p.s.o=''` deletes it)
    return (value or None) if isinstance(value, str) else (list(value) or None)


def _check_name(name, what="name"):
    if not isinstance(name, str) or not _NAME.match(name):
        raise UciError(f"invalid {what} {name!r}: letters, digits and '_' only")


def _check_type(type):
    if not isinstance(type, str) or not _TYPE.match(type):
        raise UciError(f"invalid section type {type!r}")


class _Loaded:
    __slots__ = ("sections", "signature")

    def __init__(self, sections, signature):
        self.sections = sections
        self.signature = signature


class _Staged:
    __slots__ = ("sections", "ops", "base")

    def __init__(self, sections, ops, base):
        self.sections = sections
        self.ops = ops
        self.base = base  # signature of the file the changes were staged against


def _signature(st):
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _mode(path):
    """The permission bits a commit gives the file: those it has, as uci keeps them; None
    for a new file (0600, uci's UCI_FILEMODE)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


class Uci:
    """The packages of one config directory, with staged changes and atomic commits.

    Sections are addressed by name or as ``@type[N]`` (N counts from 0, negative from the
    end). Anonymous sections get uci-like names (``cfg`` + 6 hex digits) derived from their
    position and content, so a name stays the same as long as the file does.
    Thread-safe: one lock serialises every call.
    """

    def __init__(self, confdir):
        self.confdir = confdir
        self._lock = threading.RLock()
        self._loaded = {}
        self._staged = {}
        self._added = 0

    def path(self, pkg):
        return os.path.join(self.confdir, pkg)

    # ------------------------------------------------------------------ reading

    def packages(self):
        """Names of the packages present on disk or staged, sorted."""
        with self._lock:
            try:
                names = {n for n in os.listdir(self.confdir)
                         if _PACKAGE.match(n) and os.path.isfile(self.path(n))}
            except FileNotFoundError:
                names = set()
            return sorted(names | set(self._staged))

    def get(self, pkg, section, option, default=None):
        """The value (str, or list of str for a ``list``) or ``default`` if absent."""
        with self._lock:
            s = self._section(pkg, section)
            if s is None or option not in s.options:
                return default
            return _copy_value(s.options[option])

    def section_type(self, pkg, section):
        """The type of a section, or None if there is no such section."""
        with self._lock:
            s = self._section(pkg, section)
            return None if s is None else s.type

    def sections(self, pkg, type=None):
        """``[(name, type)]`` in file order, only those of ``type`` if given."""
        with self._lock:
            view = self._view(pkg) or {}
            return [(name, s.type) for name, s in view.items() if type is None or s.type == type]

    def options(self, pkg, section):
        """All options of a section as a new dict, or None if there is no such section."""
        with self._lock:
            s = self._section(pkg, section)
            return None if s is None else {k: _copy_value(v) for k, v in s.options.items()}

    def export(self, packages=None):
        """What ``uci export`` prints: every package (or those named), each introduced by
        its ``package`` line. The vendor configuration file an Upload sends."""
        with self._lock:
            return "".join(f"package {pkg}\n\n{dump(self._view(pkg) or {})}"
                           for pkg in (packages or self.packages()))

    def anonymous(self, pkg, section):
        """True if the section exists and has no name of its own in the file."""
        with self._lock:
            s = self._section(pkg, section)
            return s is not None and s.anonymous

    def resolve(self, pkg, section):
        """The name of a section given by name or ``@type[N]``, or None."""
        with self._lock:
            return self._resolve(self._view(pkg) or {}, section)

    # ------------------------------------------------------------------ changing

    def set(self, pkg, section, option, value):
        """Stage ``pkg.section.option = value`` (str, or list of str; '' or [] deletes it)."""
        _check_name(option, "option name")
        value = _check_value(value)
        with self._lock:
            self._stage(pkg, ("set", self._existing(pkg, section), option, value))

    def set_section(self, pkg, name, type):
        """Stage a named section of ``type`` (created, or its type changed)."""
        _check_name(name, "section name")
        _check_type(type)
        self._check_package(pkg)
        with self._lock:
            self._stage(pkg, ("section", name, type))

    def add(self, pkg, type, name=None):
        """Stage a new empty section (anonymous unless ``name``) and return its name."""
        _check_type(type)
        self._check_package(pkg)
        with self._lock:
            view = self._view(pkg) or {}
            if name is not None:
                _check_name(name, "section name")
                if name in view:
                    raise UciError(f"{pkg}.{name} already exists")
                self._stage(pkg, ("section", name, type))
                return name
            while True:
                self._added += 1
                name = _anonymous_name(len(view) + 1, f"{type}/{self._added}/{id(self)}")
                if name not in view:
                    break
            self._stage(pkg, ("add", name, type))
            return name

    def delete(self, pkg, section, option=None):
        """Stage the removal of a section, or of one of its options."""
        with self._lock:
            self._stage(pkg, ("delete", self._existing(pkg, section), option))

    def rename(self, pkg, section, new_name):
        """Stage a new name for a section (an anonymous one becomes named)."""
        _check_name(new_name, "section name")
        with self._lock:
            self._stage(pkg, ("rename", self._existing(pkg, section), new_name))

    def changed(self):
        """The packages that have staged changes."""
        with self._lock:
            return set(self._staged)

    def revert(self, pkg):
        """Drop the staged changes of ``pkg``."""
        with self._lock:
            self._staged.pop(pkg, None)

    def commit(self, pkg):
        """Write the staged changes of ``pkg`` to its file, atomically."""
        with self._lock:
            staged = self._staged.get(pkg)
            if staged is None:
                return
            loaded = self._fresh(pkg)
            current = loaded.signature if loaded else None
            sections = staged.sections
            if current != staged.base:  # changed on disk since staging: replay onto it
                sections = _copy_sections(loaded.sections if loaded else {})
                for op in staged.ops:
                    try:
                        _apply(sections, op)
                    except UciError:
                        pass  # as uci: a change whose target vanished is dropped
            path = self.path(pkg)
            write_atomic(path, dump(sections).encode("utf-8", "surrogateescape"), _mode(path))
            self._loaded[pkg] = _Loaded(sections, _signature(os.stat(path)))
            del self._staged[pkg]

    # ------------------------------------------------------------------ internals

    def _check_package(self, pkg):
        if not isinstance(pkg, str) or not _PACKAGE.match(pkg):
            raise UciError(f"invalid package name {pkg!r}")

    def _fresh(self, pkg):
        """The committed content of ``pkg``, re-read if the file changed; None if absent."""
        self._check_package(pkg)
        path = self.path(pkg)
        try:
            signature = _signature(os.stat(path))
        except FileNotFoundError:
            self._loaded.pop(pkg, None)
            return None
        loaded = self._loaded.get(pkg)
        if loaded is None or loaded.signature != signature:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "surrogateescape")
            loaded = self._loaded[pkg] = _Loaded(parse(text, path), signature)
        return loaded

    def _view(self, pkg):
        staged = self._staged.get(pkg)
        if staged is not None:
            return staged.sections
        loaded = self._fresh(pkg)
        return loaded.sections if loaded else None

    @staticmethod
    def _resolve(sections, ref):
        if not isinstance(ref, str):
            return None
        m = _REF.match(ref)
        if m is None:
            return ref if ref in sections else None
        names = [name for name, s in sections.items() if s.type == m.group(1)]
        index = int(m.group(2))
        return names[index] if -len(names) <= index < len(names) else None

    def _section(self, pkg, ref):
        view = self._view(pkg) or {}
        name = self._resolve(view, ref)
        return None if name is None else view[name]

    def _existing(self, pkg, ref):
        name = self._resolve(self._view(pkg) or {}, ref)
        if name is None:
            raise UciError(f"{pkg}.{ref}: no such section")
        return name

    def _stage(self, pkg, op):
        staged = self._staged.get(pkg)
        if staged is not None:
            _apply(staged.sections, op)
            staged.ops.append(op)
            return
        loaded = self._fresh(pkg)
        sections = _copy_sections(loaded.sections) if loaded else {}
        _apply(sections, op)  # raises before anything is staged
        self._staged[pkg] = _Staged(sections, [op], loaded.signature if loaded else None)
