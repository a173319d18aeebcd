from services.notify.email import EMAIL_RULES, TEMPLATES


def test_a_meeting_announcement_renders_the_chinese_meeting_template() -> None:
    data = {"community": "光明社区", "title": "2011年度测评会", "body": "10月12日上午9:30"}

    subject, body = TEMPLATES["meeting_announced"].render(data)

    assert subject == "【群评】光明社区 测评会通知：2011年度测评会"
    assert "光明社区 将召开测评会" in body
    assert "10月12日上午9:30" in body


def test_every_template_renders_with_the_fields_it_names() -> None:
    fields = {
        "community": "光明社区",
        "title": "t",
        "body": "b",
        "item_title": "修缮路灯",
        "unit": "第一中学",
        "due_date": "2011-12-31",
        "headline": "满意率低于阈值",
        "details": "满意率 60%",
        "meeting_id": "3f2a9c4100000000",
        "policy_hash": "ab" * 32,
        "log": "ballot",
        "position": 55,
        "problem": "altered",
        "detail": "content no longer matches the event's hash",
        "detected_by": "tally",
    }

    rendered = {name: template.render(fields) for name, template in TEMPLATES.items()}

    assert all("{" not in subject + body for subject, body in rendered.values())


def test_rules_pick_the_template_by_event_and_payload() -> None:
    results = {"kind": "results", "community": "c1"}
    meeting = {"kind": "meeting", "community": "c1"}

    def chosen(routing_key: str, data: dict[str, str]) -> list[str]:
        return [rule.template for rule in EMAIL_RULES if rule.applies_to(routing_key, data)]

    # Results are mailed from the tally's own publication only, never from an announcement.
    assert chosen("notify.AnnouncementPublished", results) == []
    assert chosen("notify.AnnouncementPublished", meeting) == ["meeting_announced"]
    assert chosen("notify.AnnouncementPublished", {"kind": "notice"}) == []
    assert chosen("tally.ResultsPublished", {"community": "c1"}) == ["meeting_results"]
    assert chosen("tally.AlertRaised", {"community": "c1"}) == ["district_alert"]
    assert chosen("tally.TamperDetected", {"log": "ballot"}) == ["tamper_detected"]
    assert chosen("notify.TamperDetected", {"log": "ballot"}) == ["tamper_detected"]
    assert chosen("ballot.AnnouncementPublished", results) == []
    assert all(rule.template in TEMPLATES for rule in EMAIL_RULES)
