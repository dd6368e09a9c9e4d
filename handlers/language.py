"""Choosing the language of replies: 中文 or English."""

from __future__ import annotations

from bot.core.i18n import N_
from bot.core.reply import Button, Reply
from bot.texts.translation import translator
from handlers.base import Context, Replies, Router

router = Router("language", title=N_("language choice"))

CHOICES = {
    "zh": "zh_CN",
    "zh_cn": "zh_CN",
    "中文": "zh_CN",
    "en": "en",
    "english": "en",
    "英文": "en",
}


# Confirmed in the newly chosen language, so the Chinese catalog says "之后将用中文回复".
SWITCHED = N_("Replies will now be in English.")


class Step:
    """The language flow's single step."""

    CHOOSE = "choose"


@router.command("lang", keywords=("语言", "language"), description=N_("中文 / English"))
def choose_language(ctx: Context, args: str) -> Replies:
    """Switches language directly when named, else asks with two buttons."""
    if args.strip():
        return _apply(ctx, args)
    ctx.begin(router.flow, Step.CHOOSE)
    return [_question(ctx)]


def _question(ctx: Context) -> Reply:
    """Builds the language question."""
    return ctx.reply(
        ctx.t("Choose your language:"),
        [Button("中文", "zh"), Button("English", "en"), *ctx.nav_buttons(back=False)],
    )


@router.back_handler
def on_back(ctx: Context) -> Replies:
    """Asks the language question again."""
    return [_question(ctx)]


@router.step(Step.CHOOSE)
def on_choice(ctx: Context, text: str) -> Replies:
    """Stores the chosen language."""
    return _apply(ctx, text)


def _apply(ctx: Context, text: str) -> Replies:
    """Stores a language choice and confirms it in the new language."""
    locale = CHOICES.get(text.strip().lower())
    if locale is None:
        ctx.begin(router.flow, Step.CHOOSE)
        return [
            ctx.reply(
                ctx.t("Please choose 中文 or English."),
                [Button("中文", "zh"), Button("English", "en")],
            )
        ]
    assert ctx.member is not None
    ctx.services.set_locale(ctx.member, locale)
    ctx.end()
    return [ctx.reply(translator(locale)(SWITCHED))]
