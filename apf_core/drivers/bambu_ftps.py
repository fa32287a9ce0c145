"""Uploads to a Bambu Lab printer over implicit FTPS (port 990), with the printers' quirks.

* The data channel must reuse the control channel's TLS session.
* Some printers (H2D) send the final ``226`` more than 30 s after the data; when it does
  not come in time the upload is checked with ``SIZE`` on a fresh session instead.
* Some (P2S) answer ``426`` to a TLS 1.3 data channel: the upload is retried once with
  TLS 1.2 at most.
* A1 printers take about 75 KB/s, so the time allowed grows with the file size
  (:func:`upload_time_limit`).
* The upload runs in a thread; :class:`Upload` stops it at the next block when cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path

from .base import AuthenticationFailed, DriverError, PrinterUnreachable

BLOCK_SIZE = 32768
#: the slowest printers (A1) store about 75 KB/s; plan for less
SLOWEST_RATE_BYTES_S = 50_000
FINAL_REPLY_TIMEOUT_S = 60.0


def upload_time_limit(size_bytes: int, connect_timeout: float) -> float:
    """How long an upload of ``size_bytes`` may take before it counts as stuck."""
    return 2 * connect_timeout + FINAL_REPLY_TIMEOUT_S + size_bytes / SLOWEST_RATE_BYTES_S


class UploadCancelled(DriverError):
    """The upload was cancelled by APF (the job was cancelled or timed out)."""


class ImplicitFTPS(ftplib.FTP_TLS):
    """FTP over implicit TLS that reuses the TLS session on the data channel."""

    def __init__(self, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(context=context, timeout=timeout)
        self._sock: socket.socket | None = None

    @property
    def sock(self) -> socket.socket | None:  # type: ignore[override]
        return self._sock

    @sock.setter
    def sock(self, value: socket.socket | None) -> None:
        if value is not None and not isinstance(value, ssl.SSLSocket):
            value = self.context.wrap_socket(value, server_hostname=self.host)
        self._sock = value

    def ntransfercmd(
        self, cmd: str, rest: int | str | None = None
    ) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)  # noqa: S321 - wrapped in TLS below
        if self._prot_p:  # type: ignore[attr-defined]
            session = self.sock.session if isinstance(self.sock, ssl.SSLSocket) else None
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


class Upload:
    """One upload of ``path`` as ``/<filename>``; call :meth:`run` in a thread."""

    def __init__(
        self,
        host: str,
        port: int,
        access_code: str,
        make_context: Callable[[bool], ssl.SSLContext],
        timeout: float,
        final_reply_timeout: float = FINAL_REPLY_TIMEOUT_S,
    ) -> None:
        self.host, self.port, self._access_code = host, port, access_code
        self._make_context = make_context  # argument: limit TLS to 1.2
        self._timeout = timeout
        self._final_reply_timeout = final_reply_timeout
        self.cancelled = threading.Event()

    async def run_in_thread(self, path: Path, filename: str) -> None:
        """:meth:`run` in a worker thread; cancelling stops the thread at its next block."""
        try:
            await asyncio.to_thread(self.run, path, filename)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise

    def run(self, path: Path, filename: str) -> None:
        try:
            self._store(path, filename, tls12=False)
        except ftplib.error_temp as err:
            if not str(err).startswith("426"):
                raise DriverError(f"upload failed: {err}") from err
            self._store(path, filename, tls12=True)  # P2S: TLS 1.3 data channels get 426

    def _session(self, tls12: bool) -> ImplicitFTPS:
        ftp = ImplicitFTPS(self._make_context(tls12), timeout=self._timeout)
        try:
            ftp.connect(self.host, self.port)
            ftp.login("bblp", self._access_code)
            ftp.prot_p()
        except ftplib.error_perm as err:
            ftp.close()
            if str(err).startswith("530"):
                raise AuthenticationFailed("printer rejected the access code (FTPS)") from err
            raise DriverError(f"upload failed: {err}") from err
        except (OSError, EOFError, ftplib.Error) as err:
            ftp.close()
            raise PrinterUnreachable(f"upload failed: {err}") from err
        return ftp

    def _store(self, path: Path, filename: str, *, tls12: bool) -> None:
        ftp = self._session(tls12)
        size = path.stat().st_size
        try:
            ftp.voidcmd("TYPE I")
            with path.open("rb") as handle, ftp.transfercmd(f"STOR /{filename}") as conn:
                while block := handle.read(BLOCK_SIZE):
                    if self.cancelled.is_set():
                        raise UploadCancelled("upload cancelled")
                    conn.sendall(block)
                if isinstance(conn, ssl.SSLSocket):
                    with contextlib.suppress(OSError, ValueError):
                        conn.unwrap()
            self._final_reply(ftp, filename, size, tls12)
        except (ftplib.error_temp, UploadCancelled, DriverError):
            raise
        except ftplib.error_perm as err:
            raise DriverError(f"upload failed: {err}") from err
        except (OSError, EOFError, ftplib.Error) as err:
            raise PrinterUnreachable(f"upload failed: {err}") from err
        finally:
            _close(ftp)

    def _final_reply(self, ftp: ImplicitFTPS, filename: str, size: int, tls12: bool) -> None:
        """Wait for the ``226``; a reply that never comes is checked with ``SIZE``."""
        if ftp.sock is not None:
            ftp.sock.settimeout(self._final_reply_timeout)
        try:
            ftp.voidresp()
            return
        except TimeoutError:
            pass
        check = self._session(tls12)
        try:
            check.voidcmd("TYPE I")
            stored = check.size(f"/{filename}")
        except (OSError, EOFError, ftplib.Error) as err:
            raise PrinterUnreachable(f"upload not confirmed: {err}") from err
        finally:
            _close(check)
        if stored != size:
            raise DriverError(f"upload incomplete: the printer holds {stored} of {size} bytes")


def _close(ftp: ImplicitFTPS) -> None:
    if ftp.sock is not None:
        ftp.sock.settimeout(2.0)
        with contextlib.suppress(OSError, EOFError, ftplib.Error):
            ftp.quit()
    ftp.close()
