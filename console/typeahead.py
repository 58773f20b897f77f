"""Keys typed ahead land where the person aimed them, in the order they were typed.

Textual hands each key to the focused widget's message queue at once. A key that
moves focus (tab, enter in a field, a key that opens a dialog) does so only after it
has travelled through several queues, so the keys typed right behind it, as a laggy
SSH link delivers a whole burst, still go to the widget that had focus before:
`3`, tab, `abc` used to put "3abc" in one field. Here the app hands out one key at a
time: after each key it sends a barrier message along the same path, and only when
the barrier has come back and every queue on the way is empty (the focus change
done, the dialog mounted) does the next key go out, to whatever has focus then.

An action that opens a dialog from a thread (the confirmation plans first) holds
the keys until the dialog is up: `hold_keys()`, then `release_keys()`.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from textual import events
from textual.app import App
from textual.dom import DOMNode
from textual.message import Message

ROUNDS = 6  # barrier trips before a key goes out anyway (a widget that is never quiet)
LOST = 0.3  # seconds before a barrier that never came back (its widget went away) is given up
HOLD = 5.0  # seconds a hold may last: a dialog that never opens must not eat the keys


class KeyBarrier(Message):
    """Sent after a key along the focus chain; back at the app, the key has been handled."""

    def __init__(self, serial: int, rounds: int) -> None:
        super().__init__()
        self.serial = serial
        self.rounds = rounds


class TypeAheadApp(App[int]):
    """An App that delivers keys and pastes one at a time, each to the focus of its moment."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._typed: deque[events.Key | events.Paste] = deque()
        self._barrier = 0  # serial of the barrier in flight; 0 when none
        self._serial = 0
        self._held = False
        self._hold_timer: Any = None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.Paste) and not event.is_forwarded:
            self._typed.append(event)
            if not self._barrier and not self._held:
                await self._deliver()
            return
        await super().on_event(event)

    def hold_keys(self) -> None:
        """Keep typed keys back until `release_keys` (a dialog is about to open)."""
        self._held = True
        if self._hold_timer is not None:
            self._hold_timer.stop()
        self._hold_timer = self.set_timer(HOLD, self.release_keys)

    def release_keys(self) -> None:
        """Let the held keys go, once what the hold waited for has settled."""
        if not self._held:
            return
        self._held = False
        if self._hold_timer is not None:
            self._hold_timer.stop()
            self._hold_timer = None
        if not self._barrier and self._typed:
            self._send_barrier(0)

    async def _deliver(self) -> None:
        """Hand out the next typed key, then wait for its barrier."""
        if not self._typed or self._held:
            return
        event = self._typed.popleft()
        try:
            await super().on_event(event)
        finally:
            self._send_barrier(0)

    def _send_barrier(self, rounds: int) -> None:
        self._serial += 1
        serial = self._serial
        self._barrier = serial
        target: DOMNode = self.focused or self.screen
        if not target.post_message(KeyBarrier(serial, rounds)):
            self._barrier = 0
            self.call_later(self._deliver)
            return
        self.set_timer(LOST, lambda: self._lost(serial))

    def _lost(self, serial: int) -> None:
        if self._barrier == serial:
            self._barrier = 0
            self.call_later(self._deliver)

    def _quiet(self) -> bool:
        """No message waits anywhere between the app and the focused widget."""
        nodes: list[Any] = [self, self.screen]
        if self.focused is not None:
            nodes.extend(self.focused.ancestors_with_self)
        # a pump keeps the message after the one it is handling aside (_pending_message)
        return all(
            n._message_queue.empty() and n._pending_message is None and not n._next_callbacks  # noqa: SLF001
            for n in nodes
        )

    async def on_key_barrier(self, message: KeyBarrier) -> None:
        message.stop()
        if message.serial != self._barrier:
            return  # a barrier given up on earlier, back late
        if not self._quiet() and message.rounds < ROUNDS:
            self._send_barrier(message.rounds + 1)
            return
        self._barrier = 0
        await self._deliver()
