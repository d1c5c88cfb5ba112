"""The seeds' Celery app: Redis broker (db 0) and Redis result backend (db 1)."""
import os

from celery import Celery

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")

app = Celery("tasks", broker=f"{REDIS_URL}/0", backend=f"{REDIS_URL}/1")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=3600,
)

WEIGHTS = [0.5, -1.25, 2.0, 0.75]


@app.task(name="predict")
def predict_task(payload):
    # A tiny "prediction": a dot product, so the queueing is what gets measured.
    xs = payload.get("features") if isinstance(payload, dict) else None
    if not isinstance(xs, list):
        xs = [1.0, 2.0, 3.0, 4.0]
    return {"prediction": sum(w * float(x) for w, x in zip(WEIGHTS, xs))}
