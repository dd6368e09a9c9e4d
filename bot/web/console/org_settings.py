"""What the 提醒 page shows of an organization's settings: org-life, liaisons, reminder times."""

from __future__ import annotations

from bot.core.i18n import Translator
from bot.core.records import OrgView
from bot.services.console_access import Principal
from bot.services.use_cases import Services
from bot.texts.console import REMINDER_SETTINGS, SETTING_SOURCES
from handlers.branch_settings import POLICIES, SETTING_NAMES


def settings_view(
    services: Services, principal: Principal, t: Translator, org: OrgView
) -> dict[str, object]:
    """Returns the template values of an organization's settings, and whether they may change."""
    return {
        "settings_org": org,
        "settings_orgs": services.orgs.among(principal.org_ids),
        "branch": services.org_branch_settings(org.id),
        "branch_names": {key: t(name) for key, name in SETTING_NAMES.items()},
        "policies": [(value, t(name)) for value, name in POLICIES.items()],
        "reminder_settings": services.org_reminder_settings(org.id),
        "setting_names": {key: t(name) for key, name in REMINDER_SETTINGS.items()},
        "source_names": {key: t(name) for key, name in SETTING_SOURCES.items()},
        "may_change": principal.manages,
    }
