"""The server-drawn SVG charts: scaled to their box, labels escaped, every hour of the week."""

from __future__ import annotations

import re

from api.charts import bars, percent, week_heatmap


def test_bars_scale_to_the_largest_and_escape_labels() -> None:
    svg = str(bars("Games", [("<b>#games</b>", 4, "4"), ("#general", 2, "2")]))
    assert svg.startswith("<svg")
    assert 'width="100%"' in svg
    assert "viewBox" in svg
    assert "<b>" not in svg
    assert "&lt;b&gt;#games" in svg
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert widths[0] == 2 * widths[1]


def test_rates_use_a_fixed_scale_and_empty_charts_say_so() -> None:
    svg = str(bars("Rates", [("Fill rate", 0.5, percent(0.5))], maximum=1.0))
    assert "50%" in svg
    assert "No data yet." in str(bars("Nothing", []))
    assert percent(None) == "—"


def test_the_week_heatmap_has_a_cell_per_hour_with_a_tooltip() -> None:
    svg = str(week_heatmap("Week", [(1, 20, 3), (6, 14, 1)]))
    assert svg.count("<rect") == 7 * 24
    assert "Mon 20:00 UTC: 3 games" in svg
    assert "Sat 14:00 UTC: 1 game<" in svg
