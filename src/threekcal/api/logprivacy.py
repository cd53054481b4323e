"""Access log lines without secrets: the receipt of a by-receipt look-up (the secret of that look-up)
and every query value (names, search text) are masked before uvicorn writes the line."""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
MASK = "***"
_RECEIPT_PATH = re.compile(r"(/comments/by-receipt/)[^?#]*")
_QUERY_VALUE = re.compile(r"=[^&#]*")


def mask_path(path: str) -> str:
    path = _RECEIPT_PATH.sub(rf"\g<1>{MASK}", path)
    if "?" in path:
        route, query = path.split("?", 1)
        path = f"{route}?{_QUERY_VALUE.sub('=' + MASK, query)}"
    return path


class MaskPrivatePaths(logging.Filter):
    """For uvicorn's access line ('%s - "%s %s HTTP/%s" %d'): the path argument is masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], mask_path(args[2]), *args[3:])
        return True


def install() -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, MaskPrivatePaths) for existing in logger.filters):
        logger.addFilter(MaskPrivatePaths())
