"""Network helpers shared by tests: ports the OS assigns and the test holds, and a TCP proxy to cut.

A port handed out by binding to 0 and closing the socket can be taken by anyone (other tests run at the
same time) before the server binds it. :class:`HeldPort` keeps its socket bound, with ``SO_REUSEADDR``
and not listening, until released: the kernel hands that port to no other ``bind(0)`` or outgoing
connection, while a server that also sets ``SO_REUSEADDR`` (uvicorn, tornado, ``ensure_port_free``)
can still bind and listen on it. Nothing listening on a held port, a connection to it is refused.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


class HeldPort:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, 0))
        self.port: int = self.socket.getsockname()[1]

    def release(self) -> None:
        self.socket.close()

    def __enter__(self) -> HeldPort:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class TcpProxy:
    """A port forwarder that can be cut and restored, like a database server going away and coming back.

    Its listening socket is bound once (port chosen by the OS) and kept for its whole life: while cut,
    it accepts and drops every new connection and has closed the open ones, so the port never changes
    hands and clients see a server that is gone.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port: int = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.connected = threading.Event()  # open: forwarding; cleared: cut
        self.connected.set()
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.connected.is_set():
                with contextlib.suppress(OSError):
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()  # reset: nobody is there
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """The server goes away: open connections die, new ones are dropped."""
        self.connected.clear()
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        self.connected.set()

    def close(self) -> None:
        self.cut()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        self.listener.close()
