"""The seeds' Flask front: POST /predict/async enqueues, GET /task/<id> reads the state."""
from celery.result import AsyncResult
from flask import Flask, jsonify, request

from tasks import app as celery_app
from tasks import predict_task

api = Flask(__name__)


@api.get("/healthz")
def healthz():
    return "ok"


@api.post("/predict/async")
def predict_async():
    payload = request.get_json(force=True, silent=True) or {}
    result = predict_task.delay(payload)
    return jsonify(task_id=result.id), 202


@api.get("/task/<task_id>")
def task_status(task_id):
    # PENDING until the worker stores a result: Celery cannot tell queued from unknown.
    return jsonify(task_id=task_id, state=AsyncResult(task_id, app=celery_app).state)
