"""The model the pipeline predicts with: the registry's active version, read again every cycle.

Reading it is one indexed query; the classifier is reloaded only when the active version changed, so a
promotion (or rollback) takes effect on the next worker cycle or Airflow run, without a restart.
THREEKCAL_MODEL only seeds an empty registry as its first active version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from threekcal.db import registry
from threekcal.db.models import ModelVersion
from threekcal.db.session import session_factory
from threekcal.pipeline.predict import ClassifierLike
from threekcal.settings import Settings

log = logging.getLogger(__name__)

Loader = Callable[[str], ClassifierLike]


def active_version(settings: Settings) -> registry.ActiveModel:
    """The registry's active version (on an empty registry THREEKCAL_MODEL, registered as the first one).

    Everything that predicts without an explicit model asks this: the worker each cycle, the Airflow
    predict task, and the one-off ``threekcal predict`` / ``backfill`` (local and Spark)."""
    with session_factory(settings.database_url)() as session:
        return registry.ensure_initial_version(session, settings.model)


def record_tag(settings: Settings, version_id: int, model_version: str) -> None:
    """The first time a version is loaded its tag (``name@revision``) is known: keep it for drift."""
    tag = model_version.rsplit("+", 1)[0]
    with session_factory(settings.database_url)() as session:
        version = session.get(ModelVersion, version_id)
        if version is not None and version.tag is None and tag:
            version.tag = tag
            session.commit()


class ActiveClassifier:
    """``current()`` is the classifier of the active version (loaded with ``load`` on a change)."""

    def __init__(self, settings: Settings, *, backend: str | None = None, load: Loader | None = None) -> None:
        self.settings = settings
        self.backend = backend
        self._load = load or self._load_with_backend
        self._version: registry.ActiveModel | None = None
        self._classifier: ClassifierLike | None = None

    def _load_with_backend(self, source: str) -> ClassifierLike:
        from threekcal.model import load_classifier

        return load_classifier(source, self.backend, settings=self.settings)

    def active(self) -> registry.ActiveModel:
        return active_version(self.settings)

    def current(self) -> ClassifierLike:
        active = self.active()
        if self._classifier is None or active != self._version:
            if self._classifier is not None:
                log.info(
                    "active model changed to version %d (%s): reloading", active.version_id, active.source
                )
            self._classifier = self._load(active.source)
            self._version = active
            record_tag(self.settings, active.version_id, self._classifier.model_version)
        return self._classifier
