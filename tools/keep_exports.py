#!/usr/bin/env python3
"""Drop the proxy-wasm callbacks a module does not answer from its exports.

    python3 tools/keep_exports.py KEEP_LIST IN.wasm OUT.wasm

The proxy-wasm Rust SDK exports every callback of the ABI (`proxy_on_response_headers`,
`proxy_on_log`, ...) whether the filter implements it or not, and the host calls each exported
one: for an HTTP request that is a call into the VM for the response headers, each response body
chunk and the access log too, to run the SDK's default (continue). A host skips a callback the
module does not export (proxy-wasm-cpp-host checks each export once, at load), so keeping only
the callbacks the filter answers saves those calls on every request.

KEEP_LIST names the function exports to keep, one per line (`#` starts a comment). Every other
function export is dropped; exports that are not functions (the memory) stay. The functions
themselves stay in the module: only their export entries go. Refuses, changing nothing, when the
module is not wasm or a listed export is missing (a renamed callback must not vanish silently).
"""

import sys

MAGIC = b"\0asm\x01\0\0\0"
EXPORT_SECTION = 7
KIND_FUNC = 0


def uleb(data, pos):
    """An unsigned LEB128 at data[pos:]: (value, position after it)."""
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 35:
            raise ValueError("truncated or oversized LEB128")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def encode_uleb(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sections(module):
    """(id, payload) of each section, in order."""
    if module[:8] != MAGIC:
        raise ValueError("not a wasm 1.0 module")
    pos, out = 8, []
    while pos < len(module):
        sid = module[pos]
        size, start = uleb(module, pos + 1)
        end = start + size
        if end > len(module):
            raise ValueError(f"section {sid} runs past the end of the module")
        out.append((sid, module[start:end]))
        pos = end
    return out


def exports(payload):
    """(name, kind, raw entry bytes) of each export in an export section."""
    count, pos = uleb(payload, 0)
    out = []
    for _ in range(count):
        start = pos
        length, pos = uleb(payload, pos)
        name = payload[pos:pos + length].decode("utf-8")
        pos += length
        if pos >= len(payload):
            raise ValueError("truncated export entry")
        kind = payload[pos]
        _, pos = uleb(payload, pos + 1)
        out.append((name, kind, payload[start:pos]))
    if pos != len(payload):
        raise ValueError("trailing bytes in the export section")
    return out


def keep_exports(module, keep):
    """The module with only the function exports named in `keep`, and the names dropped."""
    out, dropped, found = bytearray(MAGIC), [], False
    for sid, payload in sections(module):
        if sid == EXPORT_SECTION:
            found = True
            entries = exports(payload)
            missing = sorted(keep - {name for name, kind, _ in entries if kind == KIND_FUNC})
            if missing:
                raise ValueError(f"listed exports missing from the module: {', '.join(missing)}")
            kept = [raw for name, kind, raw in entries if kind != KIND_FUNC or name in keep]
            dropped = [name for name, kind, _ in entries if kind == KIND_FUNC and name not in keep]
            payload = encode_uleb(len(kept)) + b"".join(kept)
        out += bytes([sid]) + encode_uleb(len(payload)) + payload
    if not found:
        raise ValueError("the module has no export section")
    return bytes(out), dropped


def read_list(path):
    names = set()
    with open(path) as f:
        for line in f:
            name = line.split("#", 1)[0].strip()
            if name:
                names.add(name)
    return names


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    keep_path, in_path, out_path = argv[1:]
    with open(in_path, "rb") as f:
        module = f.read()
    keep = read_list(keep_path)
    try:
        trimmed, dropped = keep_exports(module, keep)
        # The result must parse again, with exactly the listed function exports.
        left = {name for sid, p in sections(trimmed) if sid == EXPORT_SECTION
                for name, kind, _ in exports(p) if kind == KIND_FUNC}
        if left != keep:
            raise ValueError("the trimmed module does not export exactly the listed functions")
    except (ValueError, UnicodeDecodeError) as e:
        print(f"keep_exports: {in_path}: {e}", file=sys.stderr)
        return 1
    with open(out_path, "wb") as f:
        f.write(trimmed)
    print(f"keep_exports: {out_path}: {len(left)} function exports kept, {len(dropped)} dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
