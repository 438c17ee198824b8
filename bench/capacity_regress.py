"""The naive capacity bench's regression of one series, as an operator would write it next to
a playbook: read a range query's usage and requests results (JSON on stdin), take usage /
requests x 100 per timestamp, the peak of each hour, and fit a least-squares line, x in days.
Prints the slope per day."""

import json
import sys

doc = json.load(sys.stdin)
usage = {float(ts): float(v) for ts, v in doc["usage"][0]["values"]} if doc["usage"] else {}
requests = {float(ts): float(v) for ts, v in doc["requests"][0]["values"]} if doc["requests"] else {}
peaks = {}
for ts, used in usage.items():
    asked = requests.get(ts, 0)
    if asked > 0:
        pct = used / asked * 100
        hour = int(ts // 3600) * 3600
        if hour not in peaks or pct > peaks[hour]:
            peaks[hour] = pct
points = sorted(peaks.items())
x0 = points[0][0]
xs = [(ts - x0) / 86400.0 for ts, _ in points]
ys = [v for _, v in points]
mx = sum(xs) / len(xs)
my = sum(ys) / len(ys)
slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
print(json.dumps({"slope_per_day": slope, "points": len(points)}))
