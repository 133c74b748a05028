"""The one permission model (mlplat/ops/access.py): every operation x every door x allowed and
refused, through the one check; then the registry's per-alias rules see the same roles."""

from __future__ import annotations

import pytest

from mlplat.errors import PermissionDenied
from mlplat.ops import access

ACCESS = {
    "roles": {
        "viewer": ["*", "slack:*"],
        "ml-engineer": ["dana", "mlplat-ci", "uiuser", "slack:UENG", "slack-group:SENG"],
        "ml-lead": ["lena", "slack:ULEAD", "slack-group:SLEADS"],
        "oncall": ["otto", "slack:UONCALL"],
        "admin": ["slack:UADMIN"],
    },
    "operations": {
        "view": ["viewer"], "train": ["ml-engineer"], "sweep": ["ml-engineer"], "register": ["ml-engineer"],
        "promote": ["ml-engineer"], "approve": ["ml-lead"], "reject": ["ml-lead"],
        "rollback": ["ml-lead", "oncall"], "schedule": ["ml-engineer"],
    },
}
ENGINEER_OPS = ("train", "sweep", "register", "promote", "schedule")
LEAD_OPS = ("approve", "reject")

# door -> (an identity holding ml-engineer, one holding ml-lead, one holding oncall, one holding only viewer)
DOORS = {
    "cli": (access.identity("dana", "cli"), access.identity("lena", "cli"), access.identity("otto", "cli"),
            access.identity("vic", "cli")),
    "ci": (access.identity("mlplat-ci", "ci"), None, None, access.identity("other-ci", "ci")),
    "ui": (access.identity("uiuser", "ui"), access.identity("lena", "ui"), None, access.identity("guest", "ui")),
    "slack": (access.identity("UENG", "slack"), access.identity("ULEAD", "slack"),
              access.identity("UONCALL", "slack"), access.identity("UVIEW", "slack")),
    "slack-group": (access.identity("UX", "slack", ["SENG"]), access.identity("UY", "slack", ["SLEADS"]), None,
                    access.identity("UZ", "slack", ["SOTHER"])),
}
CASES = []
for door, (eng, lead, oncall, viewer) in DOORS.items():
    for op in access.OPERATIONS:
        holders = {"view": [eng, lead, oncall, viewer], "rollback": [lead, oncall]}.get(
            op, [eng] if op in ENGINEER_OPS else [lead])
        for who in (eng, lead, oncall, viewer):
            if who is not None:
                CASES.append(pytest.param(op, who, who in holders, id=f"{op}-{door}-{who.name}"))


@pytest.mark.parametrize(("operation", "who", "expected"), CASES)
def test_every_operation_at_every_door(operation, who, expected):
    assert access.allowed(operation, who, ACCESS) is expected
    if expected:
        access.check(operation, who, ACCESS)
    else:
        with pytest.raises(PermissionDenied, match=rf"{who.label()!r} may not .* roles .*operations\.{operation}"):
            access.check(operation, who, ACCESS)


def test_a_name_is_not_a_slack_id_and_star_is_not_the_workspace():
    """A Slack user called 'dana' is not the OS user dana; "*" grants named identities only."""
    assert not access.allowed("train", access.identity("dana", "slack"), ACCESS)
    wide = {**ACCESS, "roles": {**ACCESS["roles"], "ml-engineer": ["*"]}}
    assert access.allowed("train", access.identity("anyone", "cli"), wide)
    assert not access.allowed("train", access.identity("UANY", "slack"), wide)


def test_admin_may_do_everything():
    admin = access.identity("UADMIN", "slack")
    assert all(access.allowed(op, admin, ACCESS) for op in access.OPERATIONS)


def test_the_registry_sees_the_roles_of_the_one_table():
    policy = {"targets": {"production": {"requester_roles": ["ml-engineer"], "approver_roles": ["ml-lead"]}}}
    lead = access.registry_policy(policy, access.identity("ULEAD", "slack"), ACCESS, "approve")
    # only the roles operations.approve names count (viewer is held but may not approve)
    assert lead["roles"] == {"ml-lead": ["ULEAD"]}
    # an approve-permitted role only: an ml-engineer is no approver even if a target named ml-engineer
    eng = access.registry_policy(policy, access.identity("dana", "cli"), ACCESS, "approve")
    assert "ml-engineer" not in eng["roles"]
    assert access.registry_policy(policy, access.identity("dana", "cli"), ACCESS)["roles"]["ml-engineer"] == ["dana"]


def test_unknown_operations_and_roles_are_one_line_config_errors():
    from mlplat.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown operation.*deploy"):
        access.settings({"roles": {}, "operations": {"deploy": []}})
    with pytest.raises(ConfigError, match="operations.train names role.*ghost"):
        access.settings({"roles": {}, "operations": {"train": ["ghost"]}})
