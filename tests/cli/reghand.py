"""Read or edit a REG_MULTI_SZ value of the Lxss key in a .reg hive file by
hand, the way an administrator with a text editor would: without the
library, so the CLI test can check what the library wrote and plant state
the API cannot make.

  reghand.py HIVE get NAME          print the strings, one per line
  reghand.py HIVE set NAME [S...]   replace (or add) the value
"""
import sys

LXSS = "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss]"


def read_lines(path):
    """The lines, and the line ending the file uses."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        text = f.read()
    newline = "\r\n" if "\r\n" in text else "\n"
    return text.replace("\r\n", "\n").split("\n"), newline


def value_span(lines, name):
    """(first, end) line indexes of the value in the Lxss key, or None;
    end is past any continuation lines (ending with a backslash)."""
    inside = False
    for i, line in enumerate(lines):
        if line.startswith("["):
            inside = line == LXSS
        elif inside and line.startswith('"%s"=' % name):
            end = i + 1
            while lines[end - 1].endswith("\\") and end < len(lines):
                end += 1
            return i, end
    return None


def decode_multi(text):
    if not text.startswith("hex(7):"):
        raise SystemExit("not a hex(7) value: " + text)
    raw = bytes(int(b, 16) for b in text[7:].replace("\\", "").split(",")
                if b.strip())
    strings = raw.decode("utf-16-le").split("\0")
    return [s for s in strings if s]


def encode_multi(strings):
    raw = "".join(s + "\0" for s in strings) + "\0"
    return "hex(7):" + ",".join("%02x" % b for b in raw.encode("utf-16-le"))


def main(argv):
    path, action, name = argv[1], argv[2], argv[3]
    lines, newline = read_lines(path)
    span = value_span(lines, name)
    if action == "get":
        if span is not None:
            first, end = span
            joined = "".join(l.rstrip("\\").strip() for l in lines[first:end])
            for s in decode_multi(joined[len('"%s"=' % name):]):
                print(s)
        return 0
    new_line = '"%s"=%s' % (name, encode_multi(argv[4:]))
    if span is not None:
        lines[span[0]:span[1]] = [new_line]
    else:
        lines.insert(lines.index(LXSS) + 1, new_line)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(newline.join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
