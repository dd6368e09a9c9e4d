"""The console channel: a real channel over standard input and output, for people and scripts."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from bot.channels.console.photos import PhotoLineError, photo_paths, read_photos
from bot.channels.console.render import render_all
from bot.channels.console.sender import ConsoleSender
from bot.core.inbound import Capabilities, Channel, ChatKind, Inbound, InboundImage
from bot.core.ports import Core
from bot.core.reply import Document, Reply

# Marks the lines a pipe sent, echoed in the transcript (unlike the prompt, it follows no typing).
ECHO = "» "
PROMPT = "> "


# Typed numbers choose among the options offered last, which the core remembers (so they
# survive from one `gongjian chat` run to the next, like the conversation does).
CAPABILITIES = Capabilities(files=True, numbered_options=True)


def terminal_lines(prompt: str = PROMPT) -> Iterator[str]:
    """Yields lines typed at a terminal after a prompt, with line editing, until end of input."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401, PLC0415 (arrow keys and history in input(), where available)
    while True:
        try:
            yield input(prompt)
        except EOFError:
            return


def save_document(document: Document, folder: Path) -> Path:
    """Writes a file under `folder` by its bare name, never replacing an existing file."""
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(document.filename).name or "file"
    stem, suffix = Path(name).stem, Path(name).suffix
    path = folder / name
    counter = 1
    while True:
        try:
            with path.open("xb") as handle:
                handle.write(document.content)
        except FileExistsError:
            counter += 1
            path = folder / f"{stem} ({counter}){suffix}"
            continue
        return path.resolve()


class ConsoleChannel:
    """Turns lines into inbound messages and replies into printed text; numbers pick buttons."""

    name = "console"
    channel = Channel.CONSOLE
    capabilities = CAPABILITIES
    routes: tuple[()] = ()

    def __init__(
        self,
        core: Core,
        *,
        user_id: str,
        display_name: str = "",
        files_dir: Path | None = None,
        sender: ConsoleSender | None = None,
    ) -> None:
        self.core = core
        self.sender = sender or ConsoleSender()
        self.user_id = user_id
        self.display_name = display_name or user_id
        self.files_dir = files_dir

    async def start(self, *, receive: bool = True) -> None:
        """Needs nothing: `run` reads the lines."""

    async def stop(self) -> None:
        """Needs nothing."""

    def send(self, text: str) -> list[Reply]:
        """Hands one line to the core as the console user and returns the replies.

        `照片 PATH …` (or `/photo PATH …`) sends the pictures in those files, as a chat app would.
        """
        images: tuple[InboundImage, ...] = ()
        paths = photo_paths(text)
        if paths is not None:
            try:
                images = read_photos(paths)
            except PhotoLineError as error:
                t = self.core.translator_for(channel=Channel.CONSOLE, user_id=self.user_id)
                return [Reply(error.explain(t))]
        inbound = Inbound(
            channel=Channel.CONSOLE,
            chat_id=self.user_id,
            user_id=self.user_id,
            text="" if images else text.strip(),
            chat_kind=ChatKind.PRIVATE,
            display_name=self.display_name,
            images=images,
            capabilities=CAPABILITIES,
            private_chat_id=self.user_id,
        )
        answer = self.core.answer(inbound, numbered=CAPABILITIES.numbered_options)
        return [self._save_document(reply) for reply in answer.replies]

    def _save_document(self, reply: Reply) -> Reply:
        """Writes a reply's file into the files directory and adds its path to the text."""
        if reply.document is None:
            return reply
        path = save_document(reply.document, self.files_dir or Path.cwd())
        return replace(reply, text=f"{reply.text}\n📎 {path}".strip())

    def run(
        self,
        lines: Iterable[str],
        write: Callable[[str], None],
        *,
        prompt: bool,
        echo: bool = False,
    ) -> None:
        """Reads lines until they run out, printing each reply; empty lines are skipped.

        With `echo` each line read is printed before its replies (a pipe shows no typing), so a
        transcript reads as the conversation it was.
        """
        if prompt:
            write(PROMPT)
        for line in lines:
            # An empty line is no message; one of blanks (a full-width space) is, and is answered.
            if line.strip("\r\n"):
                if echo:
                    write(f"{ECHO}{line.strip()}\n")
                for text in render_all(self.send(line)):
                    write(text + "\n")
            if prompt:
                write(PROMPT)
