"""Transport through QGIS's own network stack.

``QgsBlockingNetworkRequest`` goes through ``QgsNetworkAccessManager``, so the
user's proxy, SSL exceptions and ``authcfg`` credentials apply (``requests``
ignores all three). Call it from a ``QgsTask`` or a Processing algorithm, never
from a button handler on the main thread.
"""

from __future__ import annotations

from typing import Optional

from qgis.core import QgsBlockingNetworkRequest, QgsFeedback
from qgis.PyQt.QtCore import QByteArray, QCoreApplication, QObject, Qt, QThread, QUrl, pyqtSlot
from qgis.PyQt.QtNetwork import QNetworkReply, QNetworkRequest

from ..core.errors import (
    ConnectionFailed,
    HttpError,
    RequestCancelled,
    RequestTimeout,
    ResponseTooLarge,
    redact_url,
)
from ..core.sources.transport import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_S, Response, Transport


class QgsTransport(Transport):
    """``Transport`` on ``QgsBlockingNetworkRequest``.

    ``authcfg`` is the id of a QGIS authentication configuration (an API key
    header, basic auth ...); the secret itself never passes through Python.
    ``feedback`` lets a task's cancel reach the request in flight.
    """

    def __init__(self, authcfg: str = "", feedback: Optional[QgsFeedback] = None):
        self.authcfg = authcfg or ""
        self.feedback = feedback

    def get(self, url, *, headers=None, timeout=DEFAULT_TIMEOUT_S,
            max_bytes=DEFAULT_MAX_BYTES, is_cancelled=None) -> Response:
        shown = redact_url(url)
        if (is_cancelled and is_cancelled()) or (self.feedback and self.feedback.isCanceled()):
            raise RequestCancelled(f"Request to {shown} was cancelled.", url)
        request = QNetworkRequest(QUrl(url))
        # QgsNetworkAccessManager replaces User-Agent with the one configured in QGIS
        # ("Mozilla/5.0 QGIS/32216" by default), which council proxies may whitelist.
        for name, value in (headers or {}).items():
            request.setRawHeader(name.encode("latin-1"), str(value).encode("latin-1"))
        request.setTransferTimeout(int(timeout * 1000))
        request.setAttribute(QNetworkRequest.Attribute.RedirectPolicyAttribute,
                             QNetworkRequest.RedirectPolicy.NoLessSafeRedirectPolicy)

        blocking = QgsBlockingNetworkRequest()
        if self.authcfg:
            blocking.setAuthCfg(self.authcfg)
        too_large = []

        def watch_size(received, _total):
            if received > max_bytes and not too_large:
                too_large.append(received)
                blocking.abort()

        blocking.downloadProgress.connect(watch_size)
        feedback, relay = self._request_feedback()
        try:
            if feedback.isCanceled():
                raise RequestCancelled(f"Request to {shown} was cancelled.", url)
            code = blocking.get(request, True, feedback)
        finally:
            # queued progress signals must not reach the closure once `blocking` is gone
            blocking.downloadProgress.disconnect(watch_size)
            if relay is not None:
                self.feedback.canceled.disconnect(relay.relay)
        reply = blocking.reply()
        status = reply.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute)
        status = int(status) if status is not None else _HTTP_STATUS_OF_ERROR.get(reply.error(), 0)
        body = bytes(reply.content() or QByteArray())
        header_map = {bytes(k).decode("latin-1"): bytes(reply.rawHeader(k)).decode("latin-1")
                      for k in reply.rawHeaderList()}

        if too_large or len(body) > max_bytes:
            raise ResponseTooLarge(
                f"The answer from {shown} is larger than the limit of {max_bytes:,} bytes.", url)
        if feedback.isCanceled() or (is_cancelled and is_cancelled()):
            raise RequestCancelled(f"Request to {shown} was cancelled.", url)
        if status >= 400:
            raise HttpError(status, url, "", header_map, body[:300].decode("utf-8", "replace"))
        if code == QgsBlockingNetworkRequest.ErrorCode.TimeoutError or \
                reply.error() == QNetworkReply.NetworkError.OperationCanceledError:
            raise RequestTimeout(f"{shown} did not answer within {timeout:g} s.", url)
        if code != QgsBlockingNetworkRequest.ErrorCode.NoError or status == 0:
            detail = blocking.errorMessage() or reply.errorString() or "network error"
            raise ConnectionFailed(f"Could not fetch {shown}: {_without_secrets(detail, url)}.",
                                   url)
        return Response(url, status, header_map, body)

    def _request_feedback(self):
        """The feedback handed to QgsBlockingNetworkRequest, and the relay feeding it.

        On QGIS 3.22, a cancel arriving from another thread after the request
        connected the feedback to its own ``abort`` but before it connected it to
        the reply deletes the reply without ever ending the request's event loop,
        so the task hangs for good. In a worker thread the cancel is therefore
        relayed through a queued call into this thread: it is handled inside the
        request's event loop, when both connections exist.
        """
        if self.feedback is None:
            return QgsFeedback(), None
        if QThread.currentThread() == QCoreApplication.instance().thread():
            return self.feedback, None
        inner = QgsFeedback()
        relay = _CancelRelay(inner)
        self.feedback.canceled.connect(relay.relay, Qt.ConnectionType.QueuedConnection)
        if self.feedback.isCanceled():
            inner.cancel()
        return inner, relay


class _CancelRelay(QObject):
    """Lives in the requesting thread; cancels ``inner`` there."""

    def __init__(self, inner: QgsFeedback):
        super().__init__()
        self.inner = inner

    @pyqtSlot()
    def relay(self) -> None:
        self.inner.cancel()


# Qt's error for an HTTP error answer, for the rare replies that come back from
# QgsBlockingNetworkRequest without their status attribute (seen under load on 3.22).
_E = QNetworkReply.NetworkError
_HTTP_STATUS_OF_ERROR = {
    _E.ProtocolInvalidOperationError: 400, _E.AuthenticationRequiredError: 401,
    _E.ContentAccessDenied: 403, _E.ContentNotFoundError: 404,
    _E.ContentOperationNotPermittedError: 405, _E.ContentConflictError: 409,
    _E.ContentGoneError: 410, _E.InternalServerError: 500,
    _E.OperationNotImplementedError: 501, _E.ServiceUnavailableError: 503,
}


def _without_secrets(message: str, url: str) -> str:
    return message.replace(url, redact_url(url))
