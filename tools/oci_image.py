#!/usr/bin/env python3
"""Write each .wasm build as an OCI image layout that Istio and Envoy Gateway can pull.

    python3 tools/oci_image.py --tag TAG --out DIR BUILD.wasm [BUILD.wasm ...]

For each BUILD.wasm (say dist/jwt_authn.simd128.wasm) this writes DIR/<stem>/ (here
DIR/jwt_authn.simd128/), an OCI image layout (oci-layout, index.json, blobs/sha256/) holding one
image tagged TAG, and DIR/DIGESTS lists each image's manifest digest. Push one with
`skopeo copy oci:DIR/<stem>:TAG docker://REGISTRY/NAME:TAG` (docs/deploy.md).

The image is the "compat" variant of the Wasm image spec, the form both Istio's WasmPlugin and
Envoy Gateway's EnvoyExtensionPolicy fetchers take first (pkg/wasm/imagefetcher.go in istio,
internal/wasm/imagefetcher.go in envoyproxy/gateway): a single image manifest (not an index)
whose last layer has the media type application/vnd.oci.image.layer.v1.tar+gzip and is a
gzipped tar holding plugin.wasm. Both fetchers also take the two-layer artifact form
(application/vnd.module.wasm.content.layer.v1+wasm), but only after the compat form failed, and
registries and tools that know nothing of Wasm (umoci, skopeo, crane, every registry) handle a
plain tar+gzip layer as they handle any image. The image config says architecture "wasm", os
"wasip1" (as the CNCF Wasm OCI artifact layout does): no container runtime should try to run it.

Reproducible: the same .wasm and TAG give byte-identical layouts and so the same digests. The tar
has one entry, plugin.wasm, with mtime 0, uid/gid 0, no user or group names, mode 0644, in ustar
format; the gzip stream has mtime 0 and no file name; every JSON document has sorted keys and no
spaces; nothing records the time or the machine. The compressed bytes are zlib's at level 9, so
the layer digest is fixed for one zlib (Debian's, in CI); the uncompressed tar, and with it the
config's diff_id, is the same everywhere.

Refuses, writing nothing for that build, when a file is not a wasm module, the tag is not a valid
OCI tag, or DIR/<stem> exists and is not an OCI layout (it is replaced only when it is one).
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tarfile

WASM_MAGIC = b"\0asm"
PLUGIN_NAME = "plugin.wasm"
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


def canonical_json(value):
    """Sorted keys, no insignificant spaces: the same document always has the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(wasm):
    """A ustar archive with the single regular file plugin.wasm, stripped of time and owner."""
    info = tarfile.TarInfo(PLUGIN_NAME)
    info.size = len(wasm)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(wasm))
    return buf.getvalue()


def gzip_bytes(data):
    """gzip with mtime 0 and no file name in the header (filename="" leaves FNAME unset)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buf, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def descriptor(media_type, data):
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data)}


def image_blobs(wasm, title, tag):
    """(manifest bytes, {digest: bytes}) of the compat image of one module."""
    tar = layer_tar(wasm)
    layer = gzip_bytes(tar)
    config = canonical_json(
        {
            "architecture": "wasm",
            "os": "wasip1",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
        }
    )
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": descriptor(CONFIG_TYPE, config),
            "layers": [descriptor(LAYER_TYPE, layer)],
            "annotations": {
                "org.opencontainers.image.title": title,
                "org.opencontainers.image.version": tag,
                "org.opencontainers.image.licenses": "Apache-2.0",
            },
        }
    )
    blobs = {sha256(b): b for b in (layer, config, manifest)}
    return manifest, blobs


def write_layout(path, manifest, blobs, tag):
    """Replace `path` with an OCI image layout whose index.json tags `manifest` as `tag`."""
    if os.path.lexists(path):
        if not os.path.isfile(os.path.join(path, "oci-layout")):
            raise ValueError(f"{path} exists and is not an OCI image layout; not replacing it")
        shutil.rmtree(path)
    os.makedirs(os.path.join(path, "blobs", "sha256"))
    for digest, data in sorted(blobs.items()):
        with open(os.path.join(path, "blobs", "sha256", digest.removeprefix("sha256:")), "wb") as f:
            f.write(data)
    entry = descriptor(MANIFEST_TYPE, manifest)
    entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
    index = {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [entry]}
    with open(os.path.join(path, "index.json"), "wb") as f:
        f.write(canonical_json(index))
    with open(os.path.join(path, "oci-layout"), "wb") as f:
        f.write(canonical_json({"imageLayoutVersion": "1.0.0"}))


def build_name(wasm_path):
    name = os.path.basename(wasm_path)
    return name.removesuffix(".wasm")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", required=True, help="the image tag (the crate version)")
    parser.add_argument("--out", required=True, help="directory for one layout per build")
    parser.add_argument("wasm", nargs="+", help=".wasm builds")
    args = parser.parse_args(argv)
    if not TAG_RE.match(args.tag):
        print(f"oci_image: {args.tag!r} is not a valid OCI tag", file=sys.stderr)
        return 2
    names = [build_name(w) for w in args.wasm]
    if len(set(names)) != len(names):
        print(f"oci_image: two builds would share a layout name: {names}", file=sys.stderr)
        return 2

    lines = []
    for wasm_path, name in zip(args.wasm, names):
        with open(wasm_path, "rb") as f:
            wasm = f.read()
        if not wasm.startswith(WASM_MAGIC):
            print(f"oci_image: {wasm_path} is not a wasm module", file=sys.stderr)
            return 1
        manifest, blobs = image_blobs(wasm, name, args.tag)
        layout = os.path.join(args.out, name)
        try:
            write_layout(layout, manifest, blobs, args.tag)
        except ValueError as e:
            print(f"oci_image: {e}", file=sys.stderr)
            return 1
        lines.append(f"{sha256(manifest)}  {name}:{args.tag}\n")
        print(f"{layout}:{args.tag} {sha256(manifest)} ({len(wasm)} bytes of wasm)")

    with open(os.path.join(args.out, "DIGESTS"), "w", encoding="ascii") as f:
        f.writelines(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
