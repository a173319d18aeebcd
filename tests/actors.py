"""The acting accounts tests send with staff commands (the gateway sends the login's)."""

from qunping.core.roles import ASSESSOR, DISTRICT_ADMIN, ORGANISER, SCRUTINEER

COMMUNITY = "光明社区"
ORGANISER_ACTOR = {"username": "organiser", "role": ORGANISER, "community": COMMUNITY}
OTHER_ORGANISER = {"username": "organiser-2", "role": ORGANISER, "community": COMMUNITY}
SCRUTINEER_ACTOR = {"username": "scrutineer", "role": SCRUTINEER, "community": None}
ADMIN_ACTOR = {"username": "admin", "role": DISTRICT_ADMIN, "community": None}
ASSESSOR_ACTOR = {"username": "assessor", "role": ASSESSOR, "community": None}


def organiser_of(community: str) -> dict[str, str | None]:
    return {"username": f"organiser-{community}", "role": ORGANISER, "community": community}
