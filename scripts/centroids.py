"""Make src/unitrace/verify/centroids.csv — where China's provinces and prefectures lie, for
the clone rule of travel (verify/clones.py) — from the adcodes of the `cpca` package (MIT
licence, © 2018 QinYuan Du; its coordinates are those of each division's seat).

    pip download cpca --no-deps -d /tmp/cpca && python scripts/centroids.py /tmp/cpca/cpca-*.whl

Region codes as the ledger writes them: CN-23 (a province: the first two digits of GB/T 2260),
CN-2301 (a prefecture: the first four). Hong Kong and Macao are also written CN-91 / CN-92 (the
old ISO 3166-2:CN numbers, as catalog/regions.py names them).
"""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src/unitrace/verify/centroids.csv"
HEADER = (
    "# region centroids (the seat of each division) from the adcodes of the cpca package, "
    "MIT licence, (c) 2018 QinYuan Du; made by scripts/centroids.py\n"
)
ALIASES = {"81": "91", "82": "92"}


def rows(adcodes: str) -> list[tuple[str, str, str, str]]:
    found = list(csv.DictReader(io.StringIO(adcodes)))
    provinces = {r["adcode"][:2]: r["name"] for r in found if r["adcode"][2:] == "0" * 10}
    out: dict[str, tuple[str, str, str, str]] = {}
    for r in found:
        code, lon, lat = r["adcode"], r["longitude"], r["latitude"]
        if not lon or not lat or code[4:] != "0" * 8:
            continue
        name = r["name"]
        if code[2:4] == "00":
            region = f"CN-{code[:2]}"
        else:
            region = f"CN-{code[:4]}"
            if name in ("市辖区", "县"):  # a municipality's districts: named by the city
                name = provinces.get(code[:2], name)
        out[region] = (region, name, f"{float(lat):.4f}", f"{float(lon):.4f}")
        alias = ALIASES.get(code[:2])
        if alias and code[2:4] == "00":
            out[f"CN-{alias}"] = (f"CN-{alias}", name, out[region][2], out[region][3])
    return sorted(out.values())


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as z:
        adcodes = z.read("cpca/resources/adcodes.csv").decode("utf-8")
    made = rows(adcodes)
    with OUT.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADER)
        w = csv.writer(f, lineterminator="\n")
        w.writerow(("region", "name", "lat", "lon"))
        w.writerows(made)
    print(f"{len(made)} regions → {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
