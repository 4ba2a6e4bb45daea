"""The store on SQLite and on a real PostgreSQL: charging, limits under races, transitions, recovery."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from kadr.engine import Engine
from kadr.request import VideoRequest
from kadr.service.jobs import STATUSES, TRANSITIONS, NewJob, can_move, sources_of
from kadr.service.jobspec import JobSpec
from kadr.service.plans import DEFAULT_PLANS_TOML, Plan, TierLimits, parse_plans, period_bounds, period_of
from kadr.service.store import Database, Failed, JobStore, KeyCache, QuotaExceeded, Succeeded, UserStore, new_job_id
from kadr.service.store.schema import UserRow

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc).timestamp()


def plan(videos: int | None = 5, cost: int = 10, credits: int | None = None, concurrency: int = 1,
         max_active: int = 100) -> Plan:
    return Plan(name="test", monthly_credits=credits, concurrency=concurrency, max_active=max_active,
                tiers={"fast": TierLimits(videos=videos, cost=cost), "high": TierLimits(videos=0, cost=50)})


def new_job(user_id: int, tier: str = "fast") -> NewJob:
    request = VideoRequest(prompt="a red ball", duration=1.0, aspect="1:1", resolution="64x64", fps=8, tier=tier,
                           model="kadr-tiny", seed=7)
    return NewJob(new_job_id(), user_id, JobSpec.of(request, Engine().plan(request)), None, 10)


@pytest.fixture
def stores(store_url: str):
    db = Database(store_url)
    db.create_schema()
    yield db, UserStore(db), JobStore(db)
    db.close()


def test_a_job_is_charged_once_and_a_failure_refunds_it(stores) -> None:
    db, users, jobs = stores
    ann = users.add("ann", "test", NOW).user
    record = jobs.submit(new_job(ann.id), plan(), NOW)
    assert record.status == "queued" and record.cost == 10
    assert [(e.kind, e.videos, e.credits) for e in jobs.ledger(record.id)] == [("charge", 1, 10)]
    usage = jobs.usage(ann.id, NOW)
    assert (usage.tiers["fast"].videos, usage.credits, usage.active) == (1, 10, 1)

    running = jobs.claim_next(NOW, lambda _plan: 1)
    assert running is not None and running.id == record.id and running.attempt == 1
    ended = jobs.finish(record.id, 1, Failed("generation_failed", "boom"), NOW + 5)
    assert ended is not None and ended.status == "failed" and ended.error_message == "boom"
    assert [(e.kind, e.videos, e.credits) for e in jobs.ledger(record.id)] == [("charge", 1, 10), ("refund", -1, -10)]
    assert jobs.usage(ann.id, NOW).tiers["fast"].videos == 0
    # Ending it again (a late report) changes nothing and refunds nothing more.
    assert jobs.finish(record.id, 1, Failed("generation_failed", "again"), NOW + 6) is None
    assert jobs.cancel(record.id, ann.id, NOW + 7).status == "failed"
    assert len(jobs.ledger(record.id)) == 2


def test_success_keeps_the_charge_and_cancel_refunds(stores) -> None:
    _, users, jobs = stores
    ann = users.add("ann", "test", NOW).user
    done = jobs.submit(new_job(ann.id), plan(), NOW)
    jobs.claim_next(NOW, lambda _plan: 1)
    record = jobs.finish(done.id, 1, Succeeded("/v.mp4", "/v.png", None, {"frames": 8}, NOW + 100), NOW + 1)
    assert record.status == "succeeded" and record.progress == 100 and record.metadata == {"frames": 8}
    assert record.expires_at == NOW + 100
    canceled = jobs.submit(new_job(ann.id), plan(), NOW)
    assert jobs.cancel(canceled.id, ann.id, NOW + 2).status == "canceled"
    assert [e.kind for e in jobs.ledger(canceled.id)] == ["charge", "refund"]
    assert [e.kind for e in jobs.ledger(done.id)] == ["charge"]
    usage = jobs.usage(ann.id, NOW)
    assert (usage.tiers["fast"].videos, usage.credits, usage.active) == (1, 10, 0)


def test_monthly_limit_says_which_limit_and_when_it_resets(stores) -> None:
    _, users, jobs = stores
    ann = users.add("ann", "test", NOW).user
    end_of_march = datetime(2026, 3, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp()
    for _ in range(2):
        jobs.submit(new_job(ann.id), plan(videos=2), end_of_march)
    with pytest.raises(QuotaExceeded) as refused:
        jobs.submit(new_job(ann.id), plan(videos=2), end_of_march)
    assert refused.value.limit == "monthly_videos"
    assert "2 of 2 fast videos used this month on plan 'test'" in str(refused.value)
    assert "resets at 2026-04-01T00:00:00Z" in str(refused.value)
    # One second later it is April: the count starts again.
    april = end_of_march + 1
    assert jobs.usage(ann.id, april).tiers["fast"].videos == 0
    assert jobs.submit(new_job(ann.id), plan(videos=2), april).status == "queued"
    # A plan with no high videos says so.
    with pytest.raises(QuotaExceeded, match="plan 'test' includes no high videos"):
        jobs.submit(new_job(ann.id, tier="high"), plan(), april)


def test_credit_budget_and_active_limits(stores) -> None:
    _, users, jobs = stores
    ann = users.add("ann", "test", NOW).user
    budget = plan(videos=None, cost=20, credits=50)
    jobs.submit(new_job(ann.id), budget, NOW)
    jobs.submit(new_job(ann.id), budget, NOW)
    with pytest.raises(QuotaExceeded) as refused:
        jobs.submit(new_job(ann.id), budget, NOW)
    assert refused.value.limit == "monthly_credits"
    assert "40 of 50 credits used" in str(refused.value) and "costs 20" in str(refused.value)
    bob = users.add("bob", "test", NOW).user
    jobs.submit(new_job(bob.id), plan(max_active=1), NOW)
    with pytest.raises(QuotaExceeded) as busy:
        jobs.submit(new_job(bob.id), plan(max_active=1), NOW)
    assert busy.value.limit == "max_active" and busy.value.resets_at is None
    assert "1 queued or generating" in str(busy.value)
    # The refused submissions left nothing behind.
    assert jobs.usage(bob.id, NOW).active == 1
    assert len(jobs.ledger(user_id=bob.id)) == 1


def test_concurrent_submissions_never_over_grant(stores) -> None:
    """12 threads per user race to submit against a limit of 3: exactly 3 accepted each, 9 refused."""
    db, users, jobs = stores
    people = [users.add(f"user{i}", "test", NOW).user for i in range(4)]
    accepted: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(people) * 12)

    def submit(user_id: int) -> None:
        start.wait()
        try:
            record = jobs.submit(new_job(user_id), plan(videos=3), NOW)
            with lock:
                accepted.append(record.id)
        except QuotaExceeded as exc:
            with lock:
                refused.append(exc.limit)

    threads = [threading.Thread(target=submit, args=(p.id,)) for p in people for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(accepted) == 12 and refused == ["monthly_videos"] * 36
    for person in people:
        usage = jobs.usage(person.id, NOW)
        assert usage.tiers["fast"].videos == 3 and usage.active == 3
        assert len(jobs.ledger(user_id=person.id)) == 3


def test_transitions_are_checked(stores) -> None:
    _, users, jobs = stores
    # The table itself: terminal statuses go nowhere; every status but queued is reachable.
    assert all(not TRANSITIONS[s] for s in ("succeeded", "failed", "canceled"))
    assert set(sources_of("running")) == {"queued"} and can_move("running", "queued")
    assert not can_move("succeeded", "running") and set(TRANSITIONS) == set(STATUSES)
    ann = users.add("ann", "test", NOW).user
    record = jobs.submit(new_job(ann.id), plan(), NOW)
    # Not running: progress and results for it are refused.
    assert jobs.set_progress(record.id, 0, 50, 1.0, "generate") is None
    assert jobs.finish(record.id, 0, Succeeded("/v.mp4", "/v.png", None, {}, None), NOW) is None
    claimed = jobs.claim_next(NOW, lambda _plan: 1)
    assert jobs.set_progress(record.id, claimed.attempt + 1, 50, 1.0, "generate") is None  # another attempt's report
    moved = jobs.set_progress(record.id, claimed.attempt, 150, 1.0, "generate")
    assert moved.progress == 99  # never 100 before it has succeeded
    jobs.finish(record.id, claimed.attempt, Succeeded("/v.mp4", "/v.png", None, {}, None), NOW)
    assert jobs.cancel(record.id, ann.id, NOW).status == "succeeded"  # too late to cancel
    assert jobs.get(record.id).status == "succeeded"


def test_restart_requeues_running_jobs_without_a_second_charge(stores) -> None:
    _, users, jobs = stores
    ann = users.add("ann", "test", NOW).user
    record = jobs.submit(new_job(ann.id), plan(), NOW)
    for attempt in (1, 2):
        claimed = jobs.claim_next(NOW, lambda _plan: 1)
        assert claimed.attempt == attempt
        requeued, failed = jobs.requeue_running(NOW, max_attempts=3)  # the process died; it starts again
        assert [r.id for r in requeued] == [record.id] and failed == []
        assert jobs.get(record.id).status == "queued"
    assert [e.kind for e in jobs.ledger(record.id)] == ["charge"]
    # An orderly stop gives the attempt back.
    claimed = jobs.claim_next(NOW, lambda _plan: 1)
    assert jobs.release(record.id, claimed.attempt).attempt == 2
    # The third interrupted attempt fails the job, refunded.
    jobs.claim_next(NOW, lambda _plan: 1)
    requeued, failed = jobs.requeue_running(NOW, max_attempts=3)
    assert requeued == [] and [f.error_code for f in failed] == ["too_many_attempts"]
    assert [e.kind for e in jobs.ledger(record.id)] == ["charge", "refund"]


def test_claims_follow_each_users_concurrency(stores) -> None:
    _, users, jobs = stores
    ann = users.add("ann", "one", NOW).user
    bob = users.add("bob", "two", NOW).user
    ann_jobs = [jobs.submit(new_job(ann.id), plan(), NOW).id for _ in range(3)]
    bob_jobs = [jobs.submit(new_job(bob.id), plan(), NOW).id for _ in range(3)]
    limits = {"one": 1, "two": 2}.__getitem__
    claimed = [jobs.claim_next(NOW, limits) for _ in range(4)]
    assert [c.id if c else None for c in claimed] == [ann_jobs[0], bob_jobs[0], bob_jobs[1], None]
    jobs.finish(ann_jobs[0], 1, Failed("x", "y"), NOW)
    assert jobs.claim_next(NOW, limits).id == ann_jobs[1]


def test_pages_and_owners(stores) -> None:
    _, users, jobs = stores
    ann = users.add("ann", "test", NOW).user
    bob = users.add("bob", "test", NOW).user
    ids = [jobs.submit(new_job(ann.id), plan(videos=None), NOW + i).id for i in range(5)]
    bob_job = jobs.submit(new_job(bob.id), plan(), NOW).id
    page, more = jobs.list(ann.id, limit=2, order="desc")
    assert [r.id for r in page] == ids[::-1][:2] and more
    page, more = jobs.list(ann.id, after=page[-1].id, limit=10, order="desc")
    assert [r.id for r in page] == ids[::-1][2:] and not more
    page, _ = jobs.list(ann.id, after=ids[1], limit=2, order="asc")
    assert [r.id for r in page] == ids[2:4]
    assert jobs.list(ann.id, after=bob_job) is None  # another user's id is no cursor
    assert jobs.get(bob_job, ann.id) is None and jobs.get(bob_job, bob.id) is not None
    assert jobs.cancel(bob_job, ann.id, NOW) is None and jobs.delete(bob_job, ann.id, NOW) is None
    deleted = jobs.delete(ids[0], ann.id, NOW)
    assert deleted.id == ids[0] and jobs.get(ids[0]) is None
    assert [e.kind for e in jobs.ledger(ids[0])] == ["charge", "refund"]  # deleted while queued: refunded


def test_keys_are_stored_hashed(stores) -> None:
    db, users, jobs = stores
    made = users.add("ann", "test", NOW)
    assert made.api_key.startswith("kadr-") and len(made.api_key) > 40
    with db.read() as s:
        row = s.execute(select(UserRow)).scalar_one()
        assert made.api_key not in (row.key_hash, row.key_prefix) and made.api_key.startswith(row.key_prefix)
    assert users.authenticate(made.api_key).name == "ann"
    assert users.authenticate(made.api_key + "x") is None and users.authenticate("nope") is None
    new = users.rotate_key("ann")
    assert users.authenticate(made.api_key) is None and users.authenticate(new).name == "ann"
    with pytest.raises(Exception, match="exists already"):
        users.add("ann", "test", NOW)
    job = jobs.submit(new_job(made.user.id), plan(), NOW)
    assert users.remove("ann") == [job.id]
    assert jobs.get(job.id) is None and users.count() == 0
    assert [e.kind for e in jobs.ledger(job.id)] == ["charge"]  # the ledger outlives the user


def test_ending_a_job_writes_its_webhook_in_the_same_transaction(stores) -> None:
    _, users, jobs = stores
    ann = users.add("ann", "test", NOW, webhook_url="http://127.0.0.1:9/hook").user
    assert ann.webhook_secret.startswith("whsec_")
    record = jobs.submit(new_job(ann.id), plan(), NOW)
    assert jobs.due_deliveries(NOW + 1) == []
    jobs.claim_next(NOW, lambda _plan: 1)
    jobs.finish(record.id, 1, Succeeded("/v.mp4", "/v.png", None, {}, None), NOW)
    (delivery,) = jobs.due_deliveries(NOW + 1)
    assert delivery.event_type == "video.completed" and delivery.url == "http://127.0.0.1:9/hook"
    assert f'"id":"{record.id}"' in delivery.payload and '"status":"completed"' in delivery.payload
    jobs.delivery_failed(delivery.id, "HTTP 500", NOW + 10)
    assert jobs.due_deliveries(NOW + 5) == [] and jobs.due_deliveries(NOW + 11)[0].attempts == 1
    jobs.delivery_done(delivery.id, NOW + 11)
    assert jobs.deliveries(record.id) == [("video.completed", "delivered", 2)]


def test_plans_file_and_periods() -> None:
    book = parse_plans(DEFAULT_PLANS_TOML)
    assert book.default == "pro" and book.get("pro").tier("fast") == TierLimits(videos=50, cost=20)
    assert book.get("no-such-plan").name == "pro"
    with pytest.raises(Exception, match="tiers"):
        parse_plans('default = "x"\n[plans.x.tiers.fast]\nvideos = 1\n')
    with pytest.raises(Exception, match="default"):
        parse_plans('default = "y"\n[plans.x.tiers.fast]\n[plans.x.tiers.high]\n')
    december = datetime(2026, 12, 31, 23, 0, tzinfo=timezone.utc).timestamp()
    assert period_of(december) == "2026-12"
    assert period_bounds(december)[1] == datetime(2027, 1, 1, tzinfo=timezone.utc)


def test_key_cache_remembers_known_keys_for_its_ttl_only(stores) -> None:
    _, users, _ = stores
    made = users.add("ann", "test", NOW)
    now = [100.0]
    cache = KeyCache(ttl_s=2.0, clock=lambda: now[0], max_entries=2)
    assert cache.get(made.api_key) is None
    cache.put(made.api_key, users.authenticate(made.api_key))
    cache.put("kadr-unknown", None)  # unknown keys are not remembered: a new key works at once
    assert cache.get(made.api_key).name == "ann" and cache.get("kadr-unknown") is None
    users.remove("ann")
    now[0] += 1.9
    assert cache.get(made.api_key).name == "ann"  # a removed key works until its entry is 2 s old ...
    now[0] += 0.2
    assert cache.get(made.api_key) is None  # ... then the store is asked again
    assert users.authenticate(made.api_key) is None
    for i in range(5):  # bounded: full of live entries, it starts afresh
        cache.put(f"kadr-{i}", made.user)
    assert len(cache._entries) <= 2
    off = KeyCache(ttl_s=0)  # key_cache_s = 0: every request reads the store
    off.put(made.api_key, made.user)
    assert off.get(made.api_key) is None
