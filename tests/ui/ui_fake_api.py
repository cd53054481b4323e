"""An in-memory stand-in for the ThreeKcal API (docs: /work/notes/api-contract.md), served through
``httpx.MockTransport`` so the web app's real client, timeouts aside, is exercised end to end.

It keeps comments, label events and the admin token, answers the routes the web app uses, records every
request, and computes ``/stats`` with scikit-learn from its comments (or returns a payload a test set).
"""

from __future__ import annotations

import json
import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
from sklearn.metrics import (
    auc,
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_curve,
)

from threekcal.emotions import LABELS

Handler = Callable[[httpx.Request, re.Match[str]], httpx.Response]


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def stats_from_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """GET /stats computed the straightforward way with scikit-learn, for comparing with what pages show."""
    labels = list(LABELS)
    predicted = [row for row in rows if row.get("prediction_result")]
    both = [row for row in predicted if row.get("label")]
    y_true = [row["label"] for row in both]
    y_pred = [row["prediction_result"] for row in both]
    counts = {
        "total": len(rows),
        "pending": len(rows) - len(predicted),
        "predicted": len(predicted),
        "labeled": sum(1 for row in rows if row.get("label")),
        "labeled_and_predicted": len(both),
    }
    matrix = confusion_matrix(y_true, y_pred, labels=labels).tolist() if both else [[0] * 7 for _ in labels]
    if both:
        precision, recall, f1, support = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, zero_division=0
        )
        per_class = [
            {"label": label, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        ]
        averages = {}
        for average in ("macro", "weighted"):
            p, r, f, _ = precision_recall_fscore_support(
                y_true, y_pred, labels=labels, average=average, zero_division=0
            )
            averages[average] = {
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": len(both),
            }
        accuracy = float(np.mean(np.array(y_true) == np.array(y_pred)))
    else:
        per_class = [
            {"label": label, "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0} for label in labels
        ]
        empty = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
        averages = {"macro": empty, "weighted": empty}
        accuracy = None
    edges = np.linspace(0, 1, 21)
    histogram = {
        label: np.histogram(
            [row["prediction_score"] for row in predicted if row["prediction_result"] == label], bins=edges
        )[0].tolist()
        for label in labels
    }
    calibration_edges = np.linspace(0, 1, 11)
    confidences = np.array([row["prediction_score"] for row in both])
    correct = np.array(y_true) == np.array(y_pred)
    bins = np.clip(np.digitize(confidences, calibration_edges[1:-1]), 0, 9) if both else np.array([])
    calibration: dict[str, Any] = {
        "bins": calibration_edges.tolist(),
        "count": [],
        "mean_confidence": [],
        "accuracy": [],
    }
    ece = 0.0
    for index in range(10):
        members = bins == index
        count = int(members.sum())
        calibration["count"].append(count)
        calibration["mean_confidence"].append(float(confidences[members].mean()) if count else None)
        calibration["accuracy"].append(float(correct[members].mean()) if count else None)
        if count:
            ece += count / len(both) * abs(confidences[members].mean() - correct[members].mean())
    calibration["ece"] = float(ece) if both else None
    curves = {}
    for label in labels:
        truth = np.array([value == label for value in y_true])
        scores = np.array([row["prediction_scores"][label] for row in both])
        if both and 0 < truth.sum() < len(truth):
            fpr, tpr, _ = roc_curve(truth, scores)
            precision_curve, recall_curve, _ = precision_recall_curve(truth, scores)
            curves[label] = {
                "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "auc": float(auc(fpr, tpr))},
                "pr": {
                    "precision": precision_curve.tolist(),
                    "recall": recall_curve.tolist(),
                    "average_precision": float(average_precision_score(truth, scores)),
                },
            }
        else:
            curves[label] = {
                "roc": {"fpr": [], "tpr": [], "auc": None},
                "pr": {"precision": [], "recall": [], "average_precision": None},
            }
    days: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for row in rows:
        day = row["request_time"][:10]
        totals[day] += 1
        if row.get("prediction_result"):
            days[day][row["prediction_result"]] += 1
    per_user: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = per_user.setdefault(
            row["request_user"], {"request_user": row["request_user"], "total": 0, "labeled": 0, "correct": 0}
        )
        entry["total"] += 1
        if row.get("label") and row.get("prediction_result"):
            entry["labeled"] += 1
            entry["correct"] += int(row["label"] == row["prediction_result"])
    for entry in per_user.values():
        entry["accuracy"] = entry["correct"] / entry["labeled"] if entry["labeled"] else None
    return {
        "counts": counts,
        "labels": labels,
        "accuracy": accuracy,
        "confusion_matrix": matrix,
        "per_class": per_class,
        "macro_avg": averages["macro"],
        "weighted_avg": averages["weighted"],
        "score_histogram": {"bins": edges.tolist(), "counts": histogram},
        "calibration": calibration,
        "curves": curves,
        "timeline": [
            {"day": day, "total": totals[day], "by_prediction": dict(days[day])} for day in sorted(totals)
        ],
        "per_user": sorted(per_user.values(), key=lambda entry: -entry["total"])[:50],
        "generated_at": now_iso(),
    }


class FakeApi:
    def __init__(self, token: str = "fake-admin-token-0123456789") -> None:
        self.token = token
        self.comments: dict[int, dict[str, Any]] = {}
        self.receipts: dict[str, int] = {}
        self.events: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []
        self.stats_payload: dict[str, Any] | None = None
        self.pipeline_payload: dict[str, Any] = {
            "pending": 0,
            "last_predict": None,
            "last_apply": None,
            "unapplied_logs": 0,
            "quarantined_lines": 0,
        }
        self.routes: list[tuple[str, re.Pattern[str], Handler, bool]] = [
            ("GET", re.compile(r"/health"), self._health, False),
            ("GET", re.compile(r"/pipeline"), self._pipeline, False),
            ("GET", re.compile(r"/stats"), self._stats, False),
            ("POST", re.compile(r"/comments"), self._create, False),
            ("GET", re.compile(r"/comments/by-receipt/(?P<receipt>[^/]+)"), self._by_receipt, False),
            ("GET", re.compile(r"/comments"), self._list, True),
            ("GET", re.compile(r"/comments/(?P<num>\d+)"), self._get, True),
            ("PUT", re.compile(r"/comments/(?P<num>\d+)/label"), self._set_label, True),
            ("GET", re.compile(r"/comments/(?P<num>\d+)/history"), self._history, True),
            ("POST", re.compile(r"/labels/accept"), self._accept, True),
            ("POST", re.compile(r"/labels/undo"), self._undo, True),
            ("GET", re.compile(r"/users"), self._users, True),
        ]

    # ------------------------------------------------------------------ test helpers
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def add_comment(
        self,
        request_user: str,
        comments: str,
        *,
        scores: Mapping[str, float] | None = None,
        label: str | None = None,
        request_time: str | None = None,
    ) -> dict[str, Any]:
        num = len(self.comments) + 1
        receipt = secrets.token_urlsafe(12)
        row: dict[str, Any] = {
            "num": num,
            "comments": comments,
            "request_user": request_user,
            "request_time": request_time or now_iso(),
            "prediction_result": None,
            "prediction_score": None,
            "prediction_scores": None,
            "prediction_time": None,
            "model_version": None,
            "label": label,
            "remark": None,
            "labeled_by": "admin" if label else None,
            "labeled_at": now_iso() if label else None,
        }
        self.comments[num] = row
        self.receipts[receipt] = num
        if scores:
            self.predict(num, scores)
        return {**row, "receipt": receipt}

    def predict(self, num: int, scores: Mapping[str, float]) -> None:
        best = max(scores, key=scores.__getitem__)
        self.comments[num].update(
            prediction_result=best,
            prediction_score=float(scores[best]),
            prediction_scores=dict(scores),
            prediction_time=now_iso(),
            model_version="fake-model",
        )

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [request for request in self.requests if request.method == method and request.url.path == path]

    # ------------------------------------------------------------------ dispatch
    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for method, pattern, handler, admin in self.routes:
            match = pattern.fullmatch(request.url.path)
            if method != request.method or match is None:
                continue
            if admin:
                authorization = request.headers.get("Authorization", "")
                if not authorization:
                    return self._error(401, "Admin token required: send Authorization: Bearer <token>")
                if authorization != f"Bearer {self.token}":
                    return self._error(403, "Admin token is not valid")
            return handler(request, match)
        return self._error(404, "Not Found")

    @staticmethod
    def _error(status: int, detail: Any) -> httpx.Response:
        return httpx.Response(status, json={"detail": detail})

    # ------------------------------------------------------------------ routes
    def _health(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        return httpx.Response(200, json={"status": "ok", "database": "ok"})

    def _pipeline(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        pending = sum(1 for row in self.comments.values() if row["prediction_result"] is None)
        return httpx.Response(200, json={**self.pipeline_payload, "pending": pending})

    def _stats(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        if self.stats_payload is not None:
            return httpx.Response(200, json=self.stats_payload)
        user = request.url.params.get("request_user")
        rows = [row for row in self.comments.values() if user is None or row["request_user"] == user]
        return httpx.Response(200, json=stats_from_rows(rows))

    def _create(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        body = json.loads(request.content)
        user = str(body.get("request_user", "")).strip()
        text = str(body.get("comments", ""))
        if not user or len(user) > 64 or not text.strip() or len(text) > 2000:
            return self._error(422, [{"loc": ["body", "comments"], "msg": "invalid"}])
        return httpx.Response(201, json=self.add_comment(user, text))

    def _by_receipt(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        num = self.receipts.get(match["receipt"])
        if num is None or num not in self.comments:
            return self._error(404, "No comment has this receipt")
        return httpx.Response(200, json=self.comments[num])

    def _matches(self, row: Mapping[str, Any], params: httpx.QueryParams) -> bool:
        if params.get("request_user") and row["request_user"] != params["request_user"]:
            return False
        if "labeled" in params and (row["label"] is not None) != (params["labeled"] == "true"):
            return False
        if params.get("prediction_result") and row["prediction_result"] != params["prediction_result"]:
            return False
        if params.get("label") and row["label"] != params["label"]:
            return False
        score = row["prediction_score"]
        if "min_score" in params and (score is None or score < float(params["min_score"])):
            return False
        if "max_score" in params and (score is None or score > float(params["max_score"])):
            return False
        return not (params.get("q") and params["q"].lower() not in row["comments"].lower())

    def _list(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        params = request.url.params
        rows = [row for row in self.comments.values() if self._matches(row, params)]
        sort = params.get("sort", "newest")
        if sort == "least_confident":
            rows.sort(
                key=lambda row: (row["prediction_score"] is None, row["prediction_score"] or 0, row["num"])
            )
        else:
            rows.sort(key=lambda row: row["num"], reverse=sort == "newest")
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit", 50))
        page = rows[start : start + limit]
        answer: dict[str, Any] = {
            "items": page,
            "next_cursor": str(start + limit) if start + limit < len(rows) else None,
        }
        if params.get("with_total") == "true":
            answer["total"] = len(rows)
        return httpx.Response(200, json=answer)

    def _get(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        num = int(match["num"])
        if num not in self.comments:
            return self._error(404, f"Comment {num} not found")
        return httpx.Response(200, json=self.comments[num])

    def _change(self, num: int, action: str, label: str | None, remark: str | None) -> None:
        row = self.comments[num]
        self.events.append(
            {
                "id": len(self.events) + 1,
                "num": num,
                "action": action,
                "changed_by": "admin",
                "changed_at": now_iso(),
                "old_label": row["label"],
                "new_label": label,
                "old_remark": row["remark"],
                "new_remark": remark,
            }
        )
        row.update(label=label, remark=remark, labeled_by="admin", labeled_at=now_iso())

    def _set_label(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        num = int(match["num"])
        if num not in self.comments:
            return self._error(404, f"Comment {num} not found")
        body = json.loads(request.content)
        if body.get("label") not in (None, *LABELS):
            return self._error(422, [{"loc": ["body", "label"], "msg": "not one of the 7 labels"}])
        self._change(num, "set", body.get("label"), body.get("remark"))
        return httpx.Response(200, json=self.comments[num])

    def _history(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        num = int(match["num"])
        return httpx.Response(200, json=[event for event in reversed(self.events) if event["num"] == num])

    def _accept(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        nums = json.loads(request.content)["nums"]
        accepted, skipped = 0, []
        for num in nums:
            row = self.comments.get(num)
            if row is None or row["prediction_result"] is None:
                skipped.append(num)
                continue
            self._change(num, "accept", row["prediction_result"], row["remark"])
            accepted += 1
        return httpx.Response(200, json={"accepted": accepted, "skipped": skipped})

    def _undo(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        undoable = [event for event in self.events if event["action"] != "undo" and not event.get("undone")]
        if not undoable:
            return self._error(404, "Nothing to undo")
        event = undoable[-1]
        event["undone"] = True
        self._change(event["num"], "undo", event["old_label"], event["old_remark"])
        self.events[-1]["undone"] = True
        return httpx.Response(200, json=self.comments[event["num"]])

    def _users(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        counts = Counter(row["request_user"] for row in self.comments.values())
        return httpx.Response(
            200,
            json=[
                {
                    "request_user": user,
                    "comments": count,
                    "predicted": 0,
                    "labeled": 0,
                    "last_request_time": None,
                }
                for user, count in counts.most_common(int(request.url.params.get("limit", 50)))
            ],
        )
