"""``docs/benchmarks.png``: time versus size (rows delivered) per stage, log-log, drawn with
Pillow (the ``bench`` extra)."""

from __future__ import annotations

import math

from orchestration import settings

CHART = settings.PROJECT_ROOT / "docs" / "benchmarks.png"


def chart_series(results: dict) -> list[dict]:
    """One point per (scale, stage) measured: rows, seconds, stage, scale."""
    series = []
    rows = {s: r["rows"] for s, r in results.get("ingest", {}).items()}
    for scale, n in rows.items():
        pts = {
            "ingest (custodia)": results["ingest"][scale]["custodia"]["median_s"],
            "ingest (bare DuckDB)": results["ingest"][scale]["bare_duckdb"]["median_s"],
        }
        if scale in results.get("build", {}):
            pts["full build"] = results["build"][scale]["median_s"]
            pts["dbt build"] = results["build"][scale]["dbt_s"]
        if scale in results.get("incremental", {}):
            pts["incremental build"] = results["incremental"][scale]["incremental"]["median_s"]
        for name, secs in pts.items():
            series.append({"rows": n, "seconds": secs, "stage": name, "scale": scale})
    return series


def write_chart(results: dict) -> None:
    """The chart of ``results`` as a PNG; nothing when no ingest figures were measured."""
    series = chart_series(results)
    if series:
        draw(series).save(CHART)


def draw(series: list[dict]):
    from PIL import Image, ImageDraw, ImageFont

    w, h, pad = 760, 440, 70
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    d.font = ImageFont.load_default(size=13)
    xs = [math.log10(p["rows"]) for p in series]
    ys = [math.log10(max(p["seconds"], 0.01)) for p in series]
    x0, x1 = min(xs) - 0.1, max(xs) + 0.1
    y0, y1 = math.floor(min(ys)), math.ceil(max(ys))

    def px(x: float, y: float) -> tuple[float, float]:
        return (
            pad + (x - x0) / (x1 - x0 or 1) * (w - 2 * pad - 150),
            h - pad - (y - y0) / (y1 - y0 or 1) * (h - 2 * pad),
        )

    d.line([px(x0, y0), px(x1, y0)], fill="black")
    d.line([px(x0, y0), px(x0, y1)], fill="black")
    for e in range(int(y0), int(y1) + 1):
        x, y = px(x0, e)
        d.text((8, y - 6), f"{10**e:g} s", fill="black")
        d.line([(x, y), (px(x1, e)[0], y)], fill=(225, 225, 225))
    for p in {(p["scale"], p["rows"]) for p in series}:
        x, y = px(math.log10(p[1]), y0)
        d.text((x - 30, y + 8), f"{p[0]} ({p[1] / 1e6:.1f}M)", fill="black")
    d.text((w // 2 - 150, 10), "Custodia: time versus size (log-log)", fill="black")
    colors = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]
    stages = sorted({p["stage"] for p in series})
    for i, stage in enumerate(stages):
        pts = sorted((p for p in series if p["stage"] == stage), key=lambda p: p["rows"])
        c = colors[i % len(colors)]
        xy = [px(math.log10(p["rows"]), math.log10(max(p["seconds"], 0.01))) for p in pts]
        if len(xy) > 1:
            d.line(xy, fill=c, width=2)
        for x, y in xy:
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=c)
        d.text((w - pad - 140, pad + 16 * i), f"- {stage}", fill=c)
    return img
