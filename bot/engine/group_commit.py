"""Group commit: deliveries that arrive together are answered in one transaction, one commit.

A burst (200 WeChat callbacks at once, Telegram's 40 webhook connections) queues faster than
one transaction a delivery can be committed. The committer threads take what is queued, up to a
group's size, answer each delivery in turn inside one transaction and commit once; only then
does any of them get its answer, so a channel acknowledges nothing that is not committed. A
process killed mid-group loses the group's transaction and none of its answers went out: the
platforms deliver those messages again. With nothing else queued a group is one delivery, as
before. A delivery that must undo its own writes spoils the group, which is answered again one
delivery to a transaction.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass

from bot.core.inbound import Inbound
from bot.core.ports import Answer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to answer, with the keys that record it (see `Core.answer`)."""

    inbound: Inbound
    once: tuple[str, ...] = ()
    numbered: bool = False


Queued = tuple[Delivery, "Future[Answer]"]


class GroupCommit:
    """Answers queued deliveries on its own threads, a group to a transaction."""

    def __init__(
        self,
        answer_group: Callable[[Sequence[Delivery]], list[Answer]],
        *,
        threads: int,
        most: int,
        name: str = "core",
    ) -> None:
        self._answer_group = answer_group
        self._threads = threads
        self._most = most
        self._name = name
        self._queue: queue.SimpleQueue[Queued | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, delivery: Delivery) -> Future[Answer]:
        """Queues a delivery; its future holds the answer once its group has committed."""
        future: Future[Answer] = Future()
        if self._closed:
            future.set_exception(RuntimeError("the committer has stopped"))
            return future
        self._queue.put((delivery, future))
        if len(self._workers) < self._threads:
            self._start()
        return future

    def stop(self, timeout: float = 10.0) -> None:
        """Ends the threads once the deliveries queued so far are answered, waiting up to `timeout`."""
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, []
            for _ in workers:
                self._queue.put(None)
        deadline = time.monotonic() + timeout
        for worker in workers:
            if worker is not threading.current_thread():
                worker.join(max(0.0, deadline - time.monotonic()))
        if any(worker.is_alive() for worker in workers):
            log.warning("a group was still being answered when the committer stopped")

    def _start(self) -> None:
        """Starts the committer threads (on first use)."""
        with self._lock:
            if self._closed:
                return
            # A thread that died is replaced, so the queue is never left without a committer.
            self._workers = [worker for worker in self._workers if worker.is_alive()]
            while len(self._workers) < self._threads:
                worker = threading.Thread(
                    target=self._run, name=f"{self._name}-{len(self._workers)}", daemon=True
                )
                worker.start()
                self._workers.append(worker)

    def _run(self) -> None:
        """Takes what is queued, a group at a time, until told to stop."""
        while (first := self._queue.get()) is not None:
            group = [first]
            while len(group) < self._most:
                try:
                    queued = self._queue.get_nowait()
                except queue.Empty:
                    break
                if queued is None:
                    # A stop: passed on, after this group.
                    self._queue.put(None)
                    break
                group.append(queued)
            self._answer(group)

    def _answer(self, group: list[Queued]) -> None:
        """Answers one group and hands each delivery its answer (after the commit)."""
        try:
            answers = self._answer_group([delivery for delivery, _ in group])
        except BaseException as error:
            # The core answers failures with an apology; this is a bug, not bad input.
            log.exception("a group of %d deliveries failed", len(group))
            for _, future in group:
                _settle(future, error=error)
            return
        for (_, future), answer in zip(group, answers, strict=True):
            _settle(future, answer=answer)


def _settle(
    future: Future[Answer], *, answer: Answer | None = None, error: BaseException | None = None
) -> None:
    """Hands a delivery its answer, unless whoever waited for it has given up (cancelled)."""
    # The work is committed either way; a platform that retries gets the stored answer.
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(answer)  # type: ignore[arg-type]
    except InvalidStateError:
        log.debug("an answer was ready after its waiter had gone")
