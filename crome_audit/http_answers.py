"""Read one HTTP answer's body within a deadline and a size cap (served RMs, judges, generators).

    deadline = time.monotonic() + timeout
    body = read_answer(resp, deadline, MAX_ANSWER_BYTES)   # TimeoutError past the deadline, AnswerTooLarge

Why: a socket timeout bounds each read, not the answer, so a server that drips a byte a second holds a
run forever; and a reply read whole can be any size (2 MB judge replies made a 54 MB cache). Before each
read the socket's timeout is set to the time left, and reads take what has arrived (``read1``), so the
whole body arrives by the deadline or the request fails (and is retried like any timeout).
"""

from __future__ import annotations

import http.client
import time

MAX_ANSWER_BYTES = 4 * 2**20  # a reward list or a judge verdict is a few KB; a chat reply of 4 MB is no answer


class AnswerTooLarge(Exception):
    """The server's answer is over the size cap."""


def _socket_of(resp):
    try:  # http.client.HTTPResponse -> BufferedReader -> SocketIO -> socket (private, so guarded)
        return resp.fp.raw._sock
    except AttributeError:
        return None


def read_answer(resp, deadline: float, max_bytes: int = MAX_ANSWER_BYTES) -> bytes:
    """The body of ``resp`` (an http.client.HTTPResponse), read by ``deadline`` (time.monotonic())."""
    sock = _socket_of(resp)
    kept = sock.gettimeout() if sock is not None else None
    try:
        return _read(resp, sock, deadline, max_bytes)
    finally:
        if sock is not None and sock.fileno() != -1:
            sock.settimeout(kept)  # a kept-alive connection's next request gets the timeout it had


def _read(resp, sock, deadline: float, max_bytes: int) -> bytes:
    chunks, size = [], 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete answer by the deadline")
        if sock is not None:
            sock.settimeout(left)
        if resp.length == 0:  # all promised bytes are in: read() closes the response (read1 never does)
            chunks.append(resp.read())
            return b"".join(chunks)
        chunk = resp.read1(65536)
        if not chunk:
            if resp.length:  # the connection ended (or was cut) before the promised length
                raise http.client.IncompleteRead(b"".join(chunks), resp.length)
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise AnswerTooLarge(f"answer larger than {max_bytes >> 20} MB")
        chunks.append(chunk)
