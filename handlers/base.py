"""The conversation engine's vocabulary: commands, steps, the context a handler sees."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bot.core.domain import RoleKind
from bot.core.i18n import N_, Translator
from bot.core.inbound import Inbound
from bot.core.records import MemberView
from bot.core.reply import Button, Reply, button_rows
from bot.services.conversations import State

if TYPE_CHECKING:
    from bot.services.use_cases import Services

Replies = list[Reply]
CommandHandler = Callable[["Context", str], Replies]
StepHandler = Callable[["Context", str], Replies]

UNKNOWN_FLOW = N_("conversation")

BACK = "back"
CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class Command:
    """A command: `/name` or a Chinese keyword, with who may use it and where."""

    name: str
    keywords: tuple[str, ...]
    description: str
    handler: CommandHandler
    needs_member: bool = True
    leads_only: bool = False
    menu: bool = True
    # Who may use it when not everyone may (help lists it only for them); empty: everyone.
    roles: frozenset[RoleKind] = frozenset()

    def usable_by(self, member: MemberView) -> bool:
        """Tells whether a member's roles let them use this command."""
        if self.leads_only:
            return member.leads
        return not self.roles or bool(self.roles & member.roles)


@dataclass(slots=True)
class Context:
    """What a handler gets: the message, the member, services, translator, clock and state."""

    inbound: Inbound
    t: Translator
    services: Services
    now: datetime
    member: MemberView | None
    state: State | None = None
    ended: bool = False
    commands: Sequence[Command] = ()
    flow_titles: Mapping[str, str] = field(default_factory=dict)

    def flow_name(self, flow: str) -> str:
        """Names a flow in the member's language, by the title its router declares."""
        return self.t(self.flow_titles.get(flow, UNKNOWN_FLOW))

    @property
    def today(self) -> date:
        """Returns the local date of the request."""
        return self.now.date()

    @property
    def data(self) -> dict[str, Any]:
        """Returns the current flow's draft (empty outside a flow)."""
        return self.state.data if self.state else {}

    def begin(self, flow: str, step: str, **data: Any) -> None:
        """Starts a flow at `step`, replacing any other flow."""
        self.state = State(flow=flow, step=step, data=dict(data))
        self.ended = False

    def goto(self, step: str, **data: Any) -> None:
        """Moves the current flow to `step`, remembering where it came from for `back`."""
        assert self.state is not None, "goto outside a flow"
        history = list(self.state.data.get("_history", []))
        if step != self.state.step:
            history.append(self.state.step)
        self.state.data.update(data)
        self.state.data["_history"] = history
        self.state.step = step

    def back(self) -> str | None:
        """Returns to the previous step; None when already at the first one."""
        assert self.state is not None, "back outside a flow"
        history = list(self.state.data.get("_history", []))
        if not history:
            return None
        self.state.step = history.pop()
        self.state.data["_history"] = history
        return self.state.step

    def end(self) -> None:
        """Ends the current flow."""
        self.state = None
        self.ended = True

    def reply(self, text: str, buttons: list[Button] | None = None, *, per_row: int = 2) -> Reply:
        """Builds a reply, with buttons laid out in rows; private in group chats when asked."""
        rows = button_rows(buttons or [], per_row)
        return Reply(text=text, buttons=rows)

    def nav_buttons(self, *, back: bool = True) -> list[Button]:
        """Returns the back and cancel buttons every step offers."""
        buttons = [Button(self.t("Back"), BACK)] if back else []
        buttons.append(Button(self.t("Cancel"), CANCEL))
        return buttons


class Router:
    """One flow's commands and steps; the assistant includes every router from one list."""

    def __init__(self, flow: str, *, title: str) -> None:
        self.flow = flow
        self.title = title
        self.commands: list[Command] = []
        self.steps: dict[str, StepHandler] = {}
        self.private_steps: set[str] = set()
        self.on_back: Callable[[Context], Replies] | None = None

    def command(
        self,
        name: str,
        *,
        keywords: tuple[str, ...] = (),
        description: str,
        needs_member: bool = True,
        leads_only: bool = False,
        menu: bool = True,
        roles: frozenset[RoleKind] = frozenset(),
    ) -> Callable[[CommandHandler], CommandHandler]:
        """Registers a command handler under `/name` and its keywords."""

        def register(handler: CommandHandler) -> CommandHandler:
            self.commands.append(
                Command(name, keywords, description, handler, needs_member, leads_only, menu, roles)
            )
            return handler

        return register

    def step(self, name: str, *, private: bool = False) -> Callable[[StepHandler], StepHandler]:
        """Registers the handler of one step of this flow; private steps leave group chats."""

        def register(handler: StepHandler) -> StepHandler:
            self.steps[name] = handler
            if private:
                self.private_steps.add(name)
            return handler

        return register

    def back_handler(self, handler: Callable[[Context], Replies]) -> Callable[[Context], Replies]:
        """Registers what to show after `back` moved the flow to its previous step."""
        self.on_back = handler
        return handler
