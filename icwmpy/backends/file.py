"""``file`` backend: a value read from procfs, sysfs or any text file.

``{"file": "/proc/uptime", "field": 0, "format": "int"}`` takes the first
whitespace-separated field and drops the fraction; ``"key": "MemTotal"`` first picks
the line starting with that key (``"sep"`` defaults to ':', use '=' for os-release),
``"scale"`` multiplies a number (e.g. 1024 for kB). A missing file reads as the
default, so one definition serves Debian and OpenWrt.
"""


class FileParam:
    def __init__(self, spec, table):
        self.path = spec["file"]
        self.key = spec.get("key")
        self.sep = spec.get("sep", ":")
        self.field = spec.get("field")
        self.format = spec.get("format")
        self.scale = spec.get("scale")
        self.default = spec.get("default", "")

    def get(self, ctx, keys, name):
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            return self.default
        if self.key is not None:
            for line in text.splitlines():
                k, sep, v = line.partition(self.sep)
                if sep and k.strip() == self.key:
                    text = v
                    break
            else:
                return self.default
        text = text.strip()
        if self.field is not None:
            fields = text.split()
            if self.field >= len(fields):
                return self.default
            text = fields[self.field]
        if self.sep == "=" and len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            text = text[1:-1]
        if self.scale is not None or self.format == "int":
            try:
                number = float(text) * (self.scale or 1)
            except ValueError:
                return self.default
            text = str(int(number))
        return text

    def set(self, ctx, keys, name, value):
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(value)
