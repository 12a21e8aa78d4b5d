"""Who answers for an asset: one team per asset group, set here and nowhere else.

``definitions.py`` gives every asset its group's team; an asset in a group without a team
fails the code location's load, so a new group cannot ship without an owner.
"""

from __future__ import annotations

from dagster import AssetSpec

DATA_ENGINEERING = "team:data-engineering"
ANALYTICS = "team:analytics"
TEAM_BY_GROUP = {
    "ingestion": DATA_ENGINEERING,  # raw events and table images, the quarantine
    "staging": DATA_ENGINEERING,
    "intermediate": DATA_ENGINEERING,
    "snapshots": DATA_ENGINEERING,
    "published": DATA_ENGINEERING,  # the readers' copy
    "audit": DATA_ENGINEERING,  # the audit trail of runs
    "marts": ANALYTICS,
    "retention": ANALYTICS,
    "monitoring": ANALYTICS,  # metric changes and their alerts
    "exposures": ANALYTICS,
}


def owned(spec: AssetSpec) -> AssetSpec:
    """The spec with its group's team as owner."""
    team = TEAM_BY_GROUP.get(spec.group_name or "default")
    if team is None:
        raise ValueError(f"{spec.key.to_user_string()}: asset group {spec.group_name!r} has no team in policies/owners.py")
    return spec.replace_attributes(owners=[team])
