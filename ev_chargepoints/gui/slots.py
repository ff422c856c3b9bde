"""The one guard for Qt slots: an exception escaping a slot would abort QGIS.

Decorate a method that a Qt signal (or a task's callback) calls with
:func:`guarded_slot`. An exception is logged with its traceback on the logger of
the method's module, and the object the method belongs to tells the user through
its ``slot_failed(text)`` method, if it has one (text: ``"<Type>: <message>"``).
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Callable

from qgis.PyQt import sip


def describe(exc: BaseException) -> str:
    """How a slot's unexpected exception is shown to the user."""
    return f"{type(exc).__name__}: {exc}"


def guarded_slot(log_line: str, *, expected: tuple = ()) -> Callable:
    """Decorator: the method never lets an exception reach Qt.

    ``log_line`` is logged with the traceback (``{slot}`` is replaced by the method's
    name). Exceptions of the ``expected`` types are what the user can put right: they
    are not logged and the user sees only their message. Signal arguments the method
    does not take are dropped, and the method of an object whose C++ side is already
    deleted does nothing.
    """
    def decorate(method: Callable) -> Callable:
        params = list(inspect.signature(method).parameters.values())[1:]
        takes_all = any(p.kind == p.VAR_POSITIONAL for p in params)
        count = len(params)
        logger = logging.getLogger(method.__module__)

        @functools.wraps(method)
        def wrapper(owner, *args, **kwargs):
            try:
                if _deleted(owner):
                    return None
                return method(owner, *(args if takes_all else args[:count]), **kwargs)
            except expected as exc:
                _tell(owner, str(exc), logger)
            except Exception as exc:  # noqa: BLE001 - never let it reach Qt
                logger.exception(log_line.format(slot=method.__name__))
                _tell(owner, describe(exc), logger)
            return None
        return wrapper
    return decorate


def _deleted(owner) -> bool:
    return isinstance(owner, sip.simplewrapper) and sip.isdeleted(owner)


def _tell(owner, text: str, logger: logging.Logger) -> None:
    tell = getattr(owner, "slot_failed", None)
    if tell is None or _deleted(owner):
        return
    try:
        tell(text)
    except Exception:  # noqa: BLE001 - the message itself failed: the log has the cause
        logger.debug("could not show %r", text, exc_info=True)


def disconnect_quietly(*pairs) -> None:
    """Disconnect each (signal, slot) pair; a pair not connected, or whose sender is
    already gone with its layer or project, is passed over."""
    for signal, slot in pairs:
        try:
            signal.disconnect(slot)
        except (TypeError, RuntimeError):
            pass
