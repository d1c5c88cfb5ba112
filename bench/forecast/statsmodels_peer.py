#!/usr/bin/env python3
"""Holt-Winters peer for bench/forecast/run.ts.

Reads the series JSON written by run.ts (the single source of the synthetic data), fits
statsmodels ExponentialSmoothing(trend='add', damped_trend=True, seasonal='mul' when the training data
is strictly positive else 'add', seasonal_periods=7/52/12) on each training part and writes forecasts
for the held-out horizon. Negative forecasts are clipped to 0 (what any user of it would do for demand).

usage: statsmodels_peer.py IN.json OUT.json
"""
import json
import sys
import time
import warnings

import numpy as np
from statsmodels.tsa.holtwinters import ExponentialSmoothing


def fit_one(train, period, horizon):
    y = np.asarray(train, dtype=float)
    seasonal = "mul" if y.min() > 0 else "add"
    attempts = [seasonal] if seasonal == "add" else [seasonal, "add"]
    last_err = None
    for s in attempts:
        try:
            model = ExponentialSmoothing(
                y, trend="add", damped_trend=True, seasonal=s, seasonal_periods=period,
                initialization_method="estimated",
            )
            res = model.fit()
            fc = np.asarray(res.forecast(horizon), dtype=float)
            if not np.all(np.isfinite(fc)):
                raise ValueError("non-finite forecast")
            return np.clip(fc, 0, None).tolist(), s, None
        except Exception as e:  # noqa: BLE001 - report and try the next variant
            last_err = repr(e)
    return [float(y[-period:].mean())] * horizon, "failed", last_err


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        series = json.load(f)
    out = {}
    t0 = time.perf_counter()
    warnings.simplefilter("ignore")
    for s in series:
        t = time.perf_counter()
        fc, variant, err = fit_one(s["train"], s["period"], len(s["test"]))
        out[s["id"]] = {"forecast": fc, "seasonal": variant, "error": err, "ms": (time.perf_counter() - t) * 1000}
    with open(dst, "w") as f:
        json.dump({"results": out, "total_s": time.perf_counter() - t0}, f)


if __name__ == "__main__":
    main()
