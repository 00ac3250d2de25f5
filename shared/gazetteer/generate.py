#!/usr/bin/env python3
"""Regenerate the embedded gazetteer data (data/vn-2025-provinces.tsv, data/vn-2025-wards.tsv).

Source: the PyPI package ``vietnamadminunits`` version 1.0.4 (MIT licence, see NOTICE.md), table
``admin_units`` of its ``vietnamadminunits/data/dataset.db`` (SQLite): Vietnam's administrative
division in force from 1 July 2025 — 34 provinces, 3,321 wards/communes/special zones, no
district level — with centroid coordinates.

Get the wheel (no dependencies needed, nothing is installed) and run this script:

    python3 -m pip download vietnamadminunits==1.0.4 --no-deps -d /tmp/vau
    python3 shared/gazetteer/generate.py /tmp/vau/vietnamadminunits-1.0.4-py3-none-any.whl

The argument may also be an extracted ``dataset.db``. The wheel's SHA-256 is checked against the
one this script was written for (pass ``--any-wheel`` to skip that when upgrading on purpose, then
update WHEEL_SHA256 and NOTICE.md).

Output is deterministic: UTF-8 (NFC), LF line endings, one header line, provinces sorted by code,
wards sorted by ward code, coordinates written as Python's shortest round-trip repr of the stored
REAL. Only the standard library is used. The script fails (exit 1) rather than write data that
breaks what the Rust crate assumes (counts, unique codes, name prefixes, coordinates present and
inside Vietnam's bounding box).
"""

import argparse
import hashlib
import pathlib
import sqlite3
import sys
import tempfile
import unicodedata
import zipfile

WHEEL_SHA256 = "737ee3662e877290386c1c45ed4d71f2e5fae34ab6fb9c64bfb4cb74b216ea35"
DB_IN_WHEEL = "vietnamadminunits/data/dataset.db"

EXPECTED_PROVINCES = 34
EXPECTED_WARDS = 3321
PROVINCE_TYPES = ("Thành phố", "Tỉnh")
WARD_TYPES = ("Phường", "Xã", "Đặc khu")
# Vietnam incl. Hoàng Sa and Trường Sa; the Rust tests check the same box.
LAT_RANGE = (8.0, 24.0)
LNG_RANGE = (102.0, 118.0)

HERE = pathlib.Path(__file__).resolve().parent
OUT_PROVINCES = HERE / "data" / "vn-2025-provinces.tsv"
OUT_WARDS = HERE / "data" / "vn-2025-wards.tsv"

QUERY = """
SELECT provinceCode, province, provinceShort, provinceLat, provinceLon,
       wardCode, ward, wardType, wardLat, wardLon
FROM admin_units
"""


def fail(msg):
    print(f"generate.py: {msg}", file=sys.stderr)
    sys.exit(1)


def text(value, what):
    if not isinstance(value, str) or not value.strip():
        fail(f"{what}: missing text ({value!r})")
    if any(c in value for c in "\t\r\n") or value != value.strip() or "  " in value:
        fail(f"{what}: stray whitespace in {value!r}")
    nfc = unicodedata.normalize("NFC", value)
    if nfc != value:
        print(f"warning: {what}: {value!r} was not NFC, normalised", file=sys.stderr)
    return nfc


def coord(value, bounds, what):
    if not isinstance(value, float):
        fail(f"{what}: coordinate missing or not REAL ({value!r})")
    if not bounds[0] <= value <= bounds[1]:
        fail(f"{what}: coordinate {value} outside {bounds}")
    return repr(value)


def open_db(path, any_wheel):
    path = pathlib.Path(path)
    if path.suffix == ".db":
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True), None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256 and not any_wheel:
        fail(f"{path}: sha256 {digest} is not vietnamadminunits 1.0.4's {WHEEL_SHA256}")
    tmp = tempfile.TemporaryDirectory()
    with zipfile.ZipFile(path) as wheel:
        wheel.extract(DB_IN_WHEEL, tmp.name)
    db = pathlib.Path(tmp.name) / DB_IN_WHEEL
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True), tmp


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="the vietnamadminunits-1.0.4 wheel, or its dataset.db")
    ap.add_argument("--any-wheel", action="store_true", help="skip the wheel checksum")
    args = ap.parse_args()

    con, tmp = open_db(args.source, args.any_wheel)
    rows = con.execute(QUERY).fetchall()
    con.close()
    if tmp is not None:
        tmp.cleanup()

    provinces = {}
    wards = {}
    for (p_code, p_name, p_short, p_lat, p_lng, w_code, w_name, w_type, w_lat, w_lng) in rows:
        p_code = text(p_code, "provinceCode")
        if len(p_code) != 2 or not p_code.isdigit():
            fail(f"province code {p_code!r} is not two digits")
        p_name = text(p_name, f"province {p_code}")
        p_short = text(p_short, f"provinceShort {p_code}")
        if not any(p_name == f"{t} {p_short}" for t in PROVINCE_TYPES):
            fail(f"province {p_code}: {p_name!r} is not a type word + {p_short!r}")
        province = (
            p_code,
            p_name,
            p_short,
            coord(p_lat, LAT_RANGE, f"province {p_code} lat"),
            coord(p_lng, LNG_RANGE, f"province {p_code} lng"),
        )
        if provinces.setdefault(p_code, province) != province:
            fail(f"province {p_code}: rows disagree: {provinces[p_code]} vs {province}")

        w_code = text(w_code, "wardCode")
        if len(w_code) != 5 or not w_code.isdigit():
            fail(f"ward code {w_code!r} is not five digits")
        if w_code in wards:
            fail(f"ward code {w_code} appears twice")
        w_name = text(w_name, f"ward {w_code}")
        # The name's own prefix is what the crate uses as the ward's type; the wardType column
        # disagrees with it on a handful of rows (reported, name kept as published).
        prefix = next((t for t in WARD_TYPES if w_name.startswith(t + " ")), None)
        if prefix is None:
            fail(f"ward {w_code}: {w_name!r} does not start with one of {WARD_TYPES}")
        if w_type != prefix:
            print(
                f"warning: ward {w_code} {w_name!r} ({p_short}): wardType column says "
                f"{w_type!r}; keeping the name's prefix",
                file=sys.stderr,
            )
        wards[w_code] = (
            w_code,
            w_name,
            p_code,
            coord(w_lat, LAT_RANGE, f"ward {w_code} lat"),
            coord(w_lng, LNG_RANGE, f"ward {w_code} lng"),
        )

    if len(provinces) != EXPECTED_PROVINCES:
        fail(f"{len(provinces)} provinces, expected {EXPECTED_PROVINCES}")
    if len(wards) != EXPECTED_WARDS:
        fail(f"{len(wards)} wards, expected {EXPECTED_WARDS}")
    for kind, items in (("province", provinces.values()), ("ward", wards.values())):
        seen = {}
        for item in items:
            key = (item[2] if kind == "ward" else "", item[1])
            if key in seen:
                fail(f"{kind} name {item[1]!r} used by {seen[key]} and {item[0]}")
            seen[key] = item[0]

    def write(path, header, records):
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["\t".join(header)] + ["\t".join(r) for r in records]
        path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
        print(f"wrote {path} ({len(records)} rows, {path.stat().st_size} bytes)")

    write(
        OUT_PROVINCES,
        ("code", "name", "short_name", "lat", "lng"),
        [provinces[k] for k in sorted(provinces)],
    )
    write(
        OUT_WARDS,
        ("code", "name", "province_code", "lat", "lng"),
        [wards[k] for k in sorted(wards)],
    )


if __name__ == "__main__":
    main()
