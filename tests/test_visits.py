"""record_visit and friends: the one write path, without HTTP."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from fieldlog.app.extensions import db
from fieldlog.models import FollowUp, Proposal, Purpose, Visit
from fieldlog.services.errors import ClientIdReused, Forbidden, Invalid, NotFound
from fieldlog.services.follow_ups import complete_follow_up
from fieldlog.services.proposals import close_proposal
from fieldlog.services.visit_edits import update_visit
from fieldlog.services.visits import derive_kind, record_visit

from .conftest import NOW, TZ, visit_payload

TODAY = date(2026, 11, 23)


@pytest.fixture
def world(make):
    branch = make.branch("TKY", "東京支店")
    other_branch = make.branch("OSK", "大阪支店")
    rep = make.user("rep", branch)
    colleague = make.user("rep", branch)
    customer = make.customer(branch, rep, code="C-1")
    colleague_customer = make.customer(branch, colleague, code="C-2")
    foreign = make.customer(other_branch, code="C-9")
    category = make.category("OIL", "潤滑油")
    return locals()


def record(user, payload):
    return record_visit(db.session, user, payload, tz=TZ, now=NOW)


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def test_records_visit_with_proposal_and_follow_up(world):
    payload = visit_payload(
        world["customer"],
        proposal={"category": "OIL", "amount": 50000},
        next_action={"action": "見積書を持参", "due_on": "2026-11-30"},
    )
    result = record(world["rep"], payload)
    visit = result.visit
    assert result.created
    assert visit.purposeful is True and visit.hearing_done is True
    assert visit.branch_id == world["branch"].id
    proposal = visit.proposals[0]
    assert (proposal.kind, proposal.amount, proposal.proposed_on) == (
        "cross_sell",
        50000,
        TODAY,
    )
    follow_up = visit.follow_ups[0]
    assert (follow_up.action, follow_up.due_on, follow_up.rep_id) == (
        "見積書を持参",
        date(2026, 11, 30),
        world["rep"].id,
    )


def test_same_payload_replays_the_same_visit(world):
    payload = visit_payload(world["customer"], proposal={"category": "OIL"})
    first = record(world["rep"], payload)
    db.session.commit()
    # Same instant written with another offset, keys in another order, optional key as null.
    again = dict(reversed(list(payload.items())))
    again["visited_at"] = (NOW - timedelta(hours=1)).isoformat()
    again["note"] = None
    second = record(world["rep"], again)
    assert not second.created
    assert second.visit.id == first.visit.id
    assert count(Visit) == 1 and count(Proposal) == 1


BASE = {
    "proposal": {"category": "OIL", "amount": 1000},
    "next_action": {"action": "電話", "due_on": "2026-11-30"},
    "note": "在庫の相談",
}


@pytest.mark.parametrize(
    ("changes", "same"),
    [
        ({"proposal": {"category": "OIL", "amount": 1000.0, "kind": None}}, True),
        ({"proposal": {"category": " OIL ", "amount": 1000, "note": ""}}, True),
        ({"next_action": {"due_on": "2026-11-30", "action": " 電話 "}}, True),
        ({"note": " 在庫の相談 "}, True),
        ({"hearing_note": "", "purpose_note": "   ", "completes_follow_ups": []}, True),
        ({"visited_at": (NOW - timedelta(hours=1)).isoformat().replace("+00:00", "Z")}, True),
        ({"proposal": {"category": "OIL", "amount": 1001}}, False),
        ({"proposal": None}, False),
        ({"next_action": {"action": "電話", "due_on": "2026-12-01"}}, False),
        ({"note": "在庫の相談!"}, False),
        ({"visited_at": (NOW - timedelta(hours=1, seconds=1)).isoformat()}, False),
        ({"purpose": "proposal"}, False),
    ],
)
def test_same_payload_means_equal_after_parsing(world, changes, same):
    payload = visit_payload(world["customer"], **BASE)
    first = record(world["rep"], payload).visit
    db.session.commit()
    again = {k: v for k, v in payload.items() if changes.get(k, v) is not None}
    again.update({k: v for k, v in changes.items() if v is not None})
    if same:
        assert record(world["rep"], again).visit.id == first.id
    else:
        with pytest.raises(ClientIdReused):
            record(world["rep"], again)
    assert count(Visit) == 1 and count(Proposal) == 1 and count(FollowUp) == 1


def test_different_payload_with_same_client_id_is_refused(world):
    payload = visit_payload(world["customer"])
    record(world["rep"], payload)
    db.session.commit()
    with pytest.raises(ClientIdReused):
        record(world["rep"], {**payload, "hearing_done": False})
    assert count(Visit) == 1


def test_client_id_is_per_user(world):
    payload = visit_payload(world["customer"])
    mine = record(world["rep"], payload).visit
    theirs = record(world["colleague"], payload).visit
    assert mine.id != theirs.id
    assert theirs.rep_id == world["colleague"].id


def test_replay_wins_even_after_customer_moves_branch(world):
    payload = visit_payload(world["customer"])
    first = record(world["rep"], payload).visit
    world["customer"].branch = world["other_branch"]
    db.session.flush()
    assert record(world["rep"], payload).visit.id == first.id


def test_customer_of_another_branch_is_forbidden(world):
    with pytest.raises(Forbidden):
        record(world["rep"], visit_payload(world["foreign"]))


def test_covering_a_colleagues_customer_is_allowed(world):
    visit = record(world["rep"], visit_payload(world["colleague_customer"])).visit
    assert visit.rep_id == world["rep"].id


def test_owner_logs_no_visits(make, world):
    owner = make.user("owner")
    with pytest.raises(Forbidden):
        record(owner, visit_payload(world["customer"]))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"customer_code": "NOPE"}, "customer_code"),
        ({"customer_code": None}, "customer_code"),
        ({"client_id": "not-a-uuid"}, "client_id"),
        ({"client_id": None}, "client_id"),
        ({"purpose": "coffee"}, "purpose"),
        ({"purpose": None}, "purpose"),
        ({"hearing_done": "yes"}, "hearing_done"),
        ({"hearing_done": None}, "hearing_done"),
        ({"visited_at": "2026-11-23T10:00:00"}, "visited_at"),
        ({"visited_at": "yesterday"}, "visited_at"),
        ({"visited_at": (NOW + timedelta(hours=25)).isoformat()}, "visited_at"),
        ({"proposal": {"category": "NOPE"}}, "proposal.category"),
        ({"proposal": {"kind": "mega"}}, "proposal.kind"),
        ({"proposal": {"amount": -1}}, "proposal.amount"),
        ({"proposal": {"amount": "1000"}}, "proposal.amount"),
        ({"proposal": {"amount": 10.5}}, "proposal.amount"),
        ({"proposal": "yes"}, "proposal"),
        ({"next_action": {"action": "電話", "due_on": "2026-11-22"}}, "next_action.due_on"),
        ({"next_action": {"action": "", "due_on": "2026-11-30"}}, "next_action.action"),
        ({"next_action": {"action": "電話", "due_on": "30/11/2026"}}, "next_action.due_on"),
        ({"note": "あ" * 2001}, "note"),
        ({"hearing_note": 5}, "hearing_note"),
        ({"completes_follow_ups": [999]}, "completes_follow_ups"),
        ({"completes_follow_ups": "1"}, "completes_follow_ups"),
    ],
)
def test_invalid_fields_name_the_field_and_write_nothing(world, overrides, field):
    with pytest.raises(Invalid) as caught:
        record(world["rep"], visit_payload(world["customer"], **overrides))
    assert field in caught.value.errors
    assert count(Visit) == 0 and count(Proposal) == 0 and count(FollowUp) == 0


def test_visit_up_to_a_day_ahead_is_accepted(world):
    at = (NOW + timedelta(hours=23)).astimezone(TZ).isoformat()
    assert record(world["rep"], visit_payload(world["customer"], visited_at=at)).created


def test_text_of_exactly_2000_characters_is_accepted(world):
    visit = record(world["rep"], visit_payload(world["customer"], note="あ" * 2000)).visit
    assert len(visit.note) == 2000


@pytest.mark.parametrize(
    ("sold_days_before", "explicit", "expected"),
    [
        (1, None, "upsell"),  # bought yesterday
        (365, None, "upsell"),  # first day of the window
        (366, None, "cross_sell"),  # just outside the window
        (0, None, "cross_sell"),  # a sale on the day itself does not count
        (None, None, "cross_sell"),  # never bought the category
        (1, "cross_sell", "cross_sell"),  # an explicit kind is kept
        (None, "other", "other"),
    ],
)
def test_proposal_kind_derivation(world, make, sold_days_before, explicit, expected):
    if sold_days_before is not None:
        make.sale(
            world["customer"], TODAY - timedelta(days=sold_days_before), category=world["category"]
        )
    proposal = {"category": "OIL"}
    if explicit:
        proposal["kind"] = explicit
    visit = record(world["rep"], visit_payload(world["customer"], proposal=proposal)).visit
    assert visit.proposals[0].kind == expected


def test_proposal_without_category_is_other(world):
    assert derive_kind(db.session, world["customer"].id, None, TODAY) == "other"
    visit = record(world["rep"], visit_payload(world["customer"], proposal={})).visit
    assert visit.proposals[0].kind == "other"


def test_visit_date_is_local_date(world):
    # 23:30 JST on Sunday 22 November is 14:30 UTC the same day.
    visit = record(
        world["rep"],
        visit_payload(world["customer"], visited_at="2026-11-22T14:30:00+00:00", proposal={}),
    ).visit
    assert visit.proposals[0].proposed_on == date(2026, 11, 22)
    visit2 = record(
        world["rep"],
        visit_payload(world["customer"], visited_at="2026-11-22T15:30:00Z", proposal={}),
    ).visit
    assert visit2.proposals[0].proposed_on == date(2026, 11, 23)


def test_completing_follow_ups_from_a_visit(world):
    first = record(
        world["rep"],
        visit_payload(
            world["customer"],
            visited_at="2026-11-16T10:00:00+09:00",
            next_action={"action": "資料送付", "due_on": "2026-11-20"},
        ),
    ).visit
    already_done = FollowUp(
        rep=world["rep"],
        branch=world["branch"],
        customer=world["customer"],
        action="済",
        due_on=date(2026, 11, 18),
        done_on=date(2026, 11, 17),
    )
    db.session.add(already_done)
    db.session.flush()
    follow_up = first.follow_ups[0]
    second = record(
        world["rep"],
        visit_payload(world["customer"], completes_follow_ups=[follow_up.id, already_done.id]),
    ).visit
    assert follow_up.done_on == TODAY
    assert follow_up.done_visit_id == second.id
    assert already_done.done_on == date(2026, 11, 17)


def test_follow_up_of_another_customer_cannot_be_completed(world):
    other = record(
        world["rep"],
        visit_payload(
            world["colleague_customer"], next_action={"action": "電話", "due_on": "2026-11-30"}
        ),
    ).visit
    with pytest.raises(Invalid):
        record(
            world["rep"],
            visit_payload(world["customer"], completes_follow_ups=[other.follow_ups[0].id]),
        )


def test_close_proposal_last_call_wins(world):
    visit = record(world["rep"], visit_payload(world["customer"], proposal={})).visit
    proposal = visit.proposals[0]
    close_proposal(db.session, world["rep"], proposal.id, "won", "2026-11-23", today=TODAY)
    close_proposal(db.session, world["rep"], proposal.id, "lost", "2026-11-23", today=TODAY)
    assert (proposal.status, proposal.closed_on) == ("lost", TODAY)


def test_close_proposal_rules(world, make):
    visit = record(world["rep"], visit_payload(world["customer"], proposal={})).visit
    proposal = visit.proposals[0]
    with pytest.raises(Invalid) as caught:
        close_proposal(db.session, world["rep"], proposal.id, "won", "2026-11-22", today=TODAY)
    assert "closed_on" in caught.value.errors
    with pytest.raises(Invalid):
        close_proposal(db.session, world["rep"], proposal.id, "maybe", "2026-11-23", today=TODAY)
    with pytest.raises(NotFound):
        close_proposal(
            db.session, world["colleague"], proposal.id, "won", "2026-11-23", today=TODAY
        )
    with pytest.raises(NotFound):
        close_proposal(db.session, world["rep"], 99999, "won", "2026-11-23", today=TODAY)
    other_manager = make.user("manager", world["other_branch"])
    with pytest.raises(NotFound):
        close_proposal(db.session, other_manager, proposal.id, "won", "2026-11-23", today=TODAY)
    manager = make.user("manager", world["branch"])
    assert close_proposal(db.session, manager, proposal.id, "won", "2026-11-23", today=TODAY)


def test_complete_follow_up_is_repeatable(world):
    visit = record(
        world["rep"],
        visit_payload(world["customer"], next_action={"action": "電話", "due_on": "2026-11-25"}),
    ).visit
    fu = visit.follow_ups[0]
    complete_follow_up(db.session, world["rep"], fu.id, "2026-11-23", today=TODAY)
    complete_follow_up(db.session, world["rep"], fu.id, "2026-11-24", today=TODAY)
    assert fu.done_on == date(2026, 11, 24)
    with pytest.raises(NotFound):
        complete_follow_up(db.session, world["colleague"], fu.id, "2026-11-23", today=TODAY)
    with pytest.raises(Invalid):
        complete_follow_up(db.session, world["rep"], fu.id, "soon", today=TODAY)


def test_unknown_uuid_forms_are_canonical(world):
    cid = uuid.uuid4()
    first = record(world["rep"], visit_payload(world["customer"], client_id=str(cid).upper()))
    again = record(world["rep"], visit_payload(world["customer"], client_id=str(cid)))
    assert first.visit.id == again.visit.id


def test_inactive_customer_is_refused_on_customer_code(world, make):
    gone = make.customer(world["branch"], world["rep"], code="C-0", active=False)
    with pytest.raises(Invalid) as caught:
        record(world["rep"], visit_payload(gone))
    assert set(caught.value.errors) == {"customer_code"}


def test_manager_logs_a_joint_visit_under_their_own_name_and_branch(world, make):
    manager = make.user("manager", world["branch"])
    visit = record(manager, visit_payload(world["customer"], proposal={})).visit
    assert (visit.rep_id, visit.branch_id) == (manager.id, world["branch"].id)
    assert visit.proposals[0].rep_id == manager.id


def test_visit_exactly_24_hours_ahead_is_the_limit(world):
    at = NOW + timedelta(hours=24)
    assert record(world["rep"], visit_payload(world["customer"], visited_at=at.isoformat())).created
    with pytest.raises(Invalid) as caught:
        late = (at + timedelta(seconds=1)).isoformat()
        record(world["rep"], visit_payload(world["customer"], visited_at=late))
    assert "visited_at" in caught.value.errors


def test_every_free_text_is_limited_to_2000_characters_under_its_dotted_name(world):
    long = "あ" * 2001
    payload = visit_payload(
        world["customer"],
        purpose_note=long,
        hearing_note=long,
        note=long,
        proposal={"note": long},
        next_action={"action": long, "due_on": "2026-11-30"},
    )
    with pytest.raises(Invalid) as caught:
        record(world["rep"], payload)
    assert set(caught.value.errors) == {
        "purpose_note",
        "hearing_note",
        "note",
        "proposal.note",
        "next_action.action",
    }


def test_next_action_may_be_due_on_the_visits_local_date(world):
    # 00:30 JST on 23 November is still 22 November in UTC: the local date is what counts.
    at = "2026-11-22T15:30:00+00:00"
    same_day = {"action": "電話", "due_on": "2026-11-23"}
    assert record(
        world["rep"], visit_payload(world["customer"], visited_at=at, next_action=same_day)
    )
    with pytest.raises(Invalid) as caught:
        day_before = {"action": "電話", "due_on": "2026-11-22"}
        record(
            world["rep"], visit_payload(world["customer"], visited_at=at, next_action=day_before)
        )
    assert "next_action.due_on" in caught.value.errors


def test_completing_from_a_visit_uses_the_visits_local_date_not_today(world):
    first = record(
        world["rep"],
        visit_payload(world["customer"], next_action={"action": "電話", "due_on": "2026-11-30"}),
    ).visit
    follow_up = first.follow_ups[0]
    # Logged today (23 Nov), visited late on 20 Nov JST.
    record(
        world["rep"],
        visit_payload(
            world["customer"],
            visited_at="2026-11-20T23:30:00+09:00",
            completes_follow_ups=[follow_up.id],
        ),
    )
    assert follow_up.done_on == date(2026, 11, 20)


def test_a_cancelled_follow_up_cannot_be_completed(world):
    visit = record(
        world["rep"],
        visit_payload(world["customer"], next_action={"action": "電話", "due_on": "2026-11-30"}),
    ).visit
    follow_up = visit.follow_ups[0]
    follow_up.cancelled = True
    db.session.flush()
    with pytest.raises(Invalid):
        complete_follow_up(db.session, world["rep"], follow_up.id, "2026-11-23", today=TODAY)
    with pytest.raises(Invalid) as caught:
        record(world["rep"], visit_payload(world["customer"], completes_follow_ups=[follow_up.id]))
    assert "completes_follow_ups" in caught.value.errors
    assert follow_up.done_on is None


def test_an_edit_keeps_purposeful_as_recorded_unless_the_purpose_changes(world):
    visit = record(world["rep"], visit_payload(world["customer"], purpose="routine")).visit
    routine = db.session.scalars(select(Purpose).where(Purpose.code == "routine")).one()
    routine.purposeful = True  # the owner changes the list after the visit was recorded
    db.session.flush()
    update_visit(db.session, world["rep"], visit, {"note": "誤字を修正"}, now=NOW, tz=TZ)
    assert visit.purposeful is False
    update_visit(db.session, world["rep"], visit, {"purpose": "called"}, now=NOW, tz=TZ)
    assert visit.purposeful is False
    update_visit(db.session, world["rep"], visit, {"purpose": "hearing"}, now=NOW, tz=TZ)
    assert visit.purposeful is True


def _follow_up_rate_w47():
    from fieldlog.kpi import Scope, rollup
    from fieldlog.rules.periods import Period

    figure = rollup(db.session, Scope.company(), Period.parse("2026-W47"), today=TODAY, tz=TZ)[
        "follow_up_rate"
    ]
    return figure.numerator, figure.denominator


def test_moving_a_visit_moves_done_on_of_the_follow_ups_it_completed(world):
    """done_on is the completing visit's local date (docs/domain.md), after any move."""
    rep, customer = world["rep"], world["customer"]
    first = record(
        rep,
        visit_payload(
            customer,
            visited_at="2026-11-16T10:00:00+09:00",
            next_action={"action": "見積送付", "due_on": "2026-11-18"},
        ),
    ).visit
    due = first.follow_ups[0]
    earlier = FollowUp(
        rep=rep, branch=world["branch"], customer=customer, action="電話",
        due_on=date(2026, 11, 20), done_on=date(2026, 11, 17),
    )  # fmt: skip
    db.session.add(earlier)
    db.session.flush()
    completing = record(
        rep,
        visit_payload(
            customer,
            visited_at="2026-11-18T23:30:00+09:00",
            completes_follow_ups=[due.id, earlier.id],
        ),
    ).visit
    assert due.done_on == date(2026, 11, 18)
    assert _follow_up_rate_w47() == (2, 2)

    # The rep corrects the time: it was after midnight, on the 19th (a day late).
    update_visit(
        db.session, rep, completing, {"visited_at": "2026-11-19T00:30:00+09:00"}, now=NOW, tz=TZ
    )
    db.session.refresh(due)
    db.session.refresh(earlier)
    assert due.done_on == date(2026, 11, 19)
    assert earlier.done_on == date(2026, 11, 17)  # done before; this visit did not complete it
    assert _follow_up_rate_w47() == (1, 2)

    # Marked done by hand since (the last call wins): a later correction leaves that date.
    complete_follow_up(db.session, rep, due.id, "2026-11-18", today=TODAY)
    update_visit(
        db.session, rep, completing, {"visited_at": "2026-11-21T09:00:00+09:00"}, now=NOW, tz=TZ
    )
    db.session.refresh(due)
    assert due.done_on == date(2026, 11, 18)
    assert _follow_up_rate_w47() == (2, 2)


def test_a_time_change_within_the_same_local_day_keeps_done_on(world):
    rep, customer = world["rep"], world["customer"]
    first = record(
        rep,
        visit_payload(
            customer,
            visited_at="2026-11-16T10:00:00+09:00",
            next_action={"action": "電話", "due_on": "2026-11-18"},
        ),
    ).visit
    due = first.follow_ups[0]
    completing = record(
        rep,
        visit_payload(
            customer, visited_at="2026-11-18T09:00:00+09:00", completes_follow_ups=[due.id]
        ),
    ).visit
    update_visit(
        db.session, rep, completing, {"visited_at": "2026-11-18T17:00:00+09:00"}, now=NOW, tz=TZ
    )
    db.session.refresh(due)
    assert due.done_on == date(2026, 11, 18)


def test_a_rep_cannot_tick_off_a_colleagues_follow_up(world, make):
    """completes_follow_ups follows the done endpoint's scope: a rep completes only their own."""
    colleague = world["colleague"]
    theirs = record(
        colleague,
        visit_payload(world["customer"], next_action={"action": "電話", "due_on": "2026-11-30"}),
    ).visit.follow_ups[0]
    with pytest.raises(Invalid) as caught:
        record(world["rep"], visit_payload(world["customer"], completes_follow_ups=[theirs.id]))
    # The message does not say it belongs to another customer: it is this one's, not the rep's.
    assert [str(m) for m in caught.value.errors["completes_follow_ups"]] == [
        "この顧客のフォローではないか、あなたが完了できないフォローです。"
    ]
    assert theirs.done_on is None
    manager = make.user("manager", world["branch"])
    record(manager, visit_payload(world["customer"], completes_follow_ups=[theirs.id]))
    assert theirs.done_on == TODAY


def test_derive_kinds_in_one_query_agrees_with_derive_kind(make):
    """The import's batch form and the app's one-by-one form give the same kind, at the edges."""
    from fieldlog.services.visits import derive_kind, derive_kinds

    food, drink = make.category("FOOD"), make.category("DRINK")
    a, b = make.customer(), make.customer()
    make.sale(a, date(2026, 1, 10), category=food)
    make.sale(a, date(2025, 6, 1), category=drink)
    make.sale(b, date(2026, 11, 20), category=food)
    cases = [
        (customer.id, category, on)
        for customer in (a, b)
        for category in (food.id, drink.id, None)
        for on in (
            date(2026, 1, 10),  # the sale's own day: not before it
            date(2026, 1, 11),  # the day after
            date(2027, 1, 10),  # 365 days after: still in the window
            date(2027, 1, 11),  # 366 days after: out
            date(2025, 6, 2),
            date(2026, 11, 21),
        )
    ]
    expected = [derive_kind(db.session, *case) for case in cases]
    assert derive_kinds(db.session, cases) == expected
    assert {"upsell", "cross_sell", "other"} == set(expected)
    assert derive_kinds(db.session, []) == []
