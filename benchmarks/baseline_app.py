"""A trivial Flask JSON endpoint: the baseline the load benchmark compares FieldLog with."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/ping")
def ping():
    return jsonify({"status": "ok"})
