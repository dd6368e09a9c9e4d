"""Test helpers: a console chat that pushes messages and pops replies."""

from __future__ import annotations

from bot.channels.console import ConsoleChannel, render_all
from bot.core.reply import Reply
from bot.engine.assistant import Assistant


class Chat:
    """One console user talking to the real assistant."""

    def __init__(self, assistant: Assistant, user_id: str) -> None:
        self.assistant = assistant
        self.channel = ConsoleChannel(assistant, user_id=user_id)
        self.last: list[Reply] = []

    def send(self, text: str) -> list[Reply]:
        """Sends one line and returns the replies."""
        self.last = self.channel.send(text)
        return self.last

    def say(self, text: str) -> str:
        """Sends one line and returns the replies rendered as the console shows them."""
        return "\n".join(render_all(self.send(text)))

    def press(self, label: str) -> str:
        """Chooses the offered button whose label contains `label`."""
        buttons = [b for reply in self.last for b in reply.flat_buttons]
        for index, button in enumerate(buttons, 1):
            if label in button.label:
                return self.say(str(index))
        raise AssertionError(f"no button {label!r} among {[b.label for b in buttons]}")

    def as_(self, user_id: str) -> Chat:
        """Returns a chat with another console user."""
        return Chat(self.assistant, user_id)

    def bound(self, invite: str) -> Chat:
        """Binds this user with an invite code and returns the chat."""
        reply = self.say(f"绑定 {invite}")
        assert "绑定" in reply or "bound" in reply.lower() or "欢迎" in reply, reply
        return self
