#!/usr/bin/env python3
"""sklearn side of bench/forest: writes the shared data sets and sklearn's figures.

Usage: python3 bench/forest/sklearn_peer.py [OUT_DIR]   (default bench/forest/data)

Writes, for each data set NAME, raw little-endian float64 files
NAME.Xtr.f64, NAME.ytr.f64, NAME.Xte.f64, NAME.yte.f64 (row-major) plus
manifest.json (shapes) and sklearn.json (fit seconds, accuracy / RMSE / R2).
run.ts reads exactly these arrays, so both sides train and test on the same
rows. Needs Debian's python3-sklearn (1.2): run with /usr/bin/python3.
"""
import json
import os
import sys
import time

import numpy as np
from sklearn.datasets import load_digits, make_classification, make_friedman1
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
os.makedirs(OUT, exist_ok=True)

SCALING_ROWS = [2500, 5000, 10000, 20000]
SCALING_TREES = 25
SCALING_REPEATS = 3


def write(name, X, y, **split):
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, **split)
    for part, arr in (("Xtr", Xtr), ("ytr", ytr), ("Xte", Xte), ("yte", yte)):
        np.ascontiguousarray(arr, dtype="<f8").tofile(os.path.join(OUT, f"{name}.{part}.f64"))
    return Xtr, Xte, ytr, yte


def timed(make, Xtr, ytr):
    """Fit once; returns (model, wall seconds, CPU seconds of this process)."""
    model = make()
    c = time.process_time()
    t = time.perf_counter()
    model.fit(Xtr, ytr)
    return model, time.perf_counter() - t, time.process_time() - c


def classify(make, data, seeds):
    Xtr, Xte, ytr, yte = data
    times, cpus, accs = [], [], []
    for s in seeds:
        m, dt, cpu = timed(lambda: make(s), Xtr, ytr)
        times.append(dt)
        cpus.append(cpu)
        accs.append(float((m.predict(Xte) == yte).mean()))
    return {"seeds": list(seeds), "fitSeconds": times, "cpuSeconds": cpus, "accuracy": accs}


def regress(make, data, seeds):
    Xtr, Xte, ytr, yte = data
    times, cpus, rmses, r2s = [], [], [], []
    for s in seeds:
        m, dt, cpu = timed(lambda: make(s), Xtr, ytr)
        p = m.predict(Xte)
        times.append(dt)
        cpus.append(cpu)
        rmses.append(float(np.sqrt(mean_squared_error(yte, p))))
        r2s.append(float(r2_score(yte, p)))
    return {"seeds": list(seeds), "fitSeconds": times, "cpuSeconds": cpus, "rmse": rmses, "r2": r2s}


def main():
    manifest = {}
    results = {"sklearn": __import__("sklearn").__version__}

    X, y = load_digits(return_X_y=True)
    digits = write("digits", X.astype(float), y.astype(float), stratify=y)
    manifest["digits"] = {"features": 64, "classes": 10, "train": len(digits[0]), "test": len(digits[1])}

    X, y = make_classification(n_samples=20000, n_features=20, n_informative=10, n_redundant=5,
                               n_classes=2, flip_y=0.02, random_state=0)
    synth = write("synth", X, y.astype(float), stratify=y)
    np.ascontiguousarray(X, dtype="<f8").tofile(os.path.join(OUT, "synth.Xall.f64"))
    np.ascontiguousarray(y, dtype="<f8").tofile(os.path.join(OUT, "synth.yall.f64"))
    manifest["synth"] = {"features": 20, "classes": 2, "train": len(synth[0]), "test": len(synth[1]), "all": len(X)}

    X, y = make_friedman1(n_samples=10000, n_features=10, noise=1.0, random_state=0)
    fried = write("friedman", X, y)
    manifest["friedman"] = {"features": 10, "train": len(fried[0]), "test": len(fried[1])}

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)

    rfc = lambda s: RandomForestClassifier(n_estimators=100, n_jobs=1, random_state=s)
    dtc = lambda s: DecisionTreeClassifier(random_state=s)
    results["rf_digits"] = classify(rfc, digits, range(3))
    results["dt_digits"] = classify(dtc, digits, range(10))
    results["rf_synth"] = classify(rfc, synth, range(1))
    results["dt_synth"] = classify(dtc, synth, range(5))
    results["dt_friedman"] = regress(lambda s: DecisionTreeRegressor(random_state=s), fried, range(5))
    results["rf_friedman"] = regress(
        lambda s: RandomForestRegressor(n_estimators=100, n_jobs=1, random_state=s), fried, range(1))

    Xall, yall = np.fromfile(os.path.join(OUT, "synth.Xall.f64")).reshape(-1, 20), np.fromfile(
        os.path.join(OUT, "synth.yall.f64"))
    scaling = []
    for n in SCALING_ROWS:
        # Best of SCALING_REPEATS: the box is shared, the minimum is the least disturbed run.
        runs = [timed(lambda: RandomForestClassifier(n_estimators=SCALING_TREES, n_jobs=1, random_state=0),
                      Xall[:n], yall[:n])[1:] for _ in range(SCALING_REPEATS)]
        scaling.append({"rows": n, "fitSeconds": min(r[0] for r in runs), "cpuSeconds": min(r[1] for r in runs)})
    results["scaling"] = {"trees": SCALING_TREES, "features": 20, "repeats": SCALING_REPEATS, "runs": scaling}

    with open(os.path.join(OUT, "sklearn.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"sklearn {results['sklearn']}: wrote {OUT}/manifest.json, sklearn.json and the data files")


if __name__ == "__main__":
    main()
