"""Member points (党员积分): my total and breakdown this year, and the branch ranking."""

from __future__ import annotations

from bot.core.i18n import N_, Translator
from bot.services.points import MemberPoints, PointsTable, PointWeights
from handlers.base import Context, Replies, Router

router = Router("points", title=N_("points"))

RANK_WORDS = frozenset({"rank", "ranking", "排名", "排行", "排行榜"})
FIRST_YEAR = 2000


@router.command("points", keywords=("积分",), description=N_("My member points this year"))
def points(ctx: Context, args: str) -> Replies:
    """Shows the member's points and rank, or the branch ranking when asked (secretaries)."""
    words = args.lower().split()
    ranking = bool(words) and words[0] in RANK_WORDS
    rest = words[1:] if ranking else words
    year = _year(ctx, rest)
    if year is None:
        return [ctx.reply(_usage(ctx))]
    if ranking:
        return _ranking(ctx, year)
    return _mine(ctx, year)


@router.command(
    "pointsrank",
    keywords=("积分排名",),
    description=N_("The branch's points ranking"),
    leads_only=True,
    menu=False,
)
def points_rank(ctx: Context, args: str) -> Replies:
    """Shows the branch's points ranking."""
    year = _year(ctx, args.split())
    if year is None:
        return [ctx.reply(_usage(ctx))]
    return _ranking(ctx, year)


def _year(ctx: Context, words: list[str]) -> int | None:
    """Reads an optional year (this year when none); None when the words are not one."""
    if not words:
        return ctx.today.year
    text = words[0].removesuffix("年")
    if len(words) > 1 or not (text.isdigit() and len(text) == 4):
        return None
    year = int(text)
    return year if FIRST_YEAR <= year <= ctx.today.year else None


def _usage(ctx: Context) -> str:
    """Explains the points command's words."""
    return ctx.t(
        "Send /points for your points this year (or /points 2025 for another year);"
        " secretaries send /points ranking for the branch ranking."
    )


def _mine(ctx: Context, year: int) -> Replies:
    """Shows the member's total, what it is made of, and their rank in the branch."""
    assert ctx.member is not None
    t = ctx.t
    row, ranked = ctx.services.my_points(ctx.member, year=year)
    weights = ctx.services.point_weights
    lines = [
        t("Your points in {year}: {total}", year=year, total=row.total),
        *_breakdown(t, row, weights),
        t(
            "Rank {rank} of {count} in {org}.",
            rank=row.rank,
            count=ranked,
            org=ctx.member.org.name,
        ),
    ]
    return [ctx.reply("\n".join(lines))]


def _breakdown(t: Translator, row: MemberPoints, weights: PointWeights) -> list[str]:
    """Lists each kind of participation with its count and points."""
    return [
        "• "
        + t(
            "Sign-ins: {count} × {each} = {points}",
            count=row.checkins,
            each=weights.checkin,
            points=row.checkins * weights.checkin,
        ),
        "• "
        + t(
            "Activity reports: {count} × {each} = {points}",
            count=row.reports,
            each=weights.report,
            points=row.reports * weights.report,
        ),
        "• "
        + t(
            "Theme party days taken part in or organized: {count} × {each} = {points}",
            count=row.theme_days,
            each=weights.theme_day,
            points=row.theme_days * weights.theme_day,
        ),
    ]


def _ranking(ctx: Context, year: int) -> Replies:
    """Shows the branch's members ranked by points."""
    assert ctx.member is not None
    t = ctx.t
    table: PointsTable = ctx.services.points_ranking(ctx.member, year=year)
    lines = [t("Points of {org} in {year}:", org=table.org.name, year=year)]
    for row in table.rows:
        lines.append(
            t(
                "{rank}. {name}: {total} (sign-ins {checkins}, reports {reports},"
                " theme days {themes})",
                rank=row.rank,
                name=row.name or t("(name not given yet)"),
                total=row.total,
                checkins=row.checkins,
                reports=row.reports,
                themes=row.theme_days,
            )
        )
    if not table.rows:
        lines.append(t("No members yet."))
    return [ctx.reply("\n".join(lines))]
