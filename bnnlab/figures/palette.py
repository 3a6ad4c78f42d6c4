"""Class colours shared by every page, so a class looks the same everywhere.

Chapter 4's live maps set the convention (`ui/live_chart.js`: `CLASS_COLORS` and the mean map's
`MEAN_STOPS`): class 0 orange, class 1 blue, P(class 1) from orange through white to blue.
"""

from __future__ import annotations

CLASS_COLOURS = ("#e8730c", "#2f6db5", "#2ca02c", "#9467bd", "#8c564b")
# P(class 1) from 0 to 1: chapter 4's MEAN_STOPS, orange → white → blue.
PROBABILITY_COLORSCALE = [[0.0, "rgb(246,160,77)"], [0.5, "rgb(247,247,247)"],
                          [1.0, "rgb(91,143,209)"]]
