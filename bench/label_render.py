"""Benchmark: render N labels (the default template: QR, GS1 DataMatrix, five text lines) to a
streamed PDF and to ZPL, against N bare QR encodes of the same Digital Links by segno (the
baseline, measured in the same run), with each side's peak RSS.

    python bench/label_render.py --labels 10000

Each side runs in its own process (so peak RSS is its own). The output goes to /dev/null-like
sinks that count bytes: the figures are the renderer's, not the disk's. The last line is one
JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

GTIN = "09506000134352"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Count(io.RawIOBase):
    """A sink that keeps no bytes, only their number."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.size += len(data)
        return len(data)


class _CountText(io.TextIOBase):
    def __init__(self) -> None:
        self.size = 0

    def write(self, data: str) -> int:
        self.size += len(data)
        return len(data)


def _labels(count: int) -> Iterator[Any]:
    from unitrace.labels.render import LabelData

    for number in range(count):
        serial = f"SN{number:08d}"
        yield LabelData(
            serial=serial,
            gtin=GTIN,
            lot=f"L{number // 1000}",
            expiry=date(2028, 6, 30),
            product_code="BENCH",
            product_name="Bench widget",
            digital_link=f"https://id.example.com/01/{GTIN}/21/{serial}",
            element_string=f"01{GTIN}17280630{10}L{number // 1000}\x1d21{serial}",
        )


def side(name: str, count: int) -> dict[str, float]:
    from unitrace.labels.render import render_pdf, render_zpl
    from unitrace.labels.schemas import DEFAULT_TEMPLATE

    started = time.perf_counter()
    size = 0
    if name == "pdf":
        sink = _Count()
        assert render_pdf(DEFAULT_TEMPLATE, _labels(count), sink) == count  # type: ignore[arg-type]
        size = sink.size
    elif name == "zpl":
        text = _CountText()
        assert render_zpl(DEFAULT_TEMPLATE, _labels(count), text) == count
        size = text.size
    else:
        import segno

        for label in _labels(count):
            segno.make(label.digital_link, error="m", micro=False, boost_error=False)
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "per_second": count / elapsed,
        "bytes": size,
        "peak_rss_mb": _peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=10_000)
    parser.add_argument("--side", choices=["pdf", "zpl", "qr"])
    args = parser.parse_args()
    if args.side:
        print(json.dumps(side(args.side, args.labels)))
        return
    results = {}
    for name in ("qr", "pdf", "zpl"):
        done = subprocess.run(
            [sys.executable, __file__, "--labels", str(args.labels), "--side", name],
            check=True,
            capture_output=True,
            text=True,
        )
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(name, results[name], file=sys.stderr)
    qr = results["qr"]["per_second"]
    print(
        json.dumps(
            {
                "labels": args.labels,
                "pdf_labels_per_second": round(results["pdf"]["per_second"]),
                "zpl_labels_per_second": round(results["zpl"]["per_second"]),
                "bare_qr_per_second": round(qr),
                "pdf_vs_bare_qr": round(results["pdf"]["per_second"] / qr, 3),
                "zpl_vs_bare_qr": round(results["zpl"]["per_second"] / qr, 3),
                "pdf_peak_rss_mb": round(results["pdf"]["peak_rss_mb"], 1),
                "zpl_peak_rss_mb": round(results["zpl"]["peak_rss_mb"], 1),
                "qr_peak_rss_mb": round(results["qr"]["peak_rss_mb"], 1),
                "pdf_mb": round(results["pdf"]["bytes"] / 1e6, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
