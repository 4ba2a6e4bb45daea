"""The store's part of issue 18 on SQLite and a real PostgreSQL: a job's source, characters, and older stores."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from kadr.pipelines.base import FEATURES
from kadr.request import VideoRequest
from kadr.service.features import FEATURE_PARAMS, UnsupportedFeature, require_features
from kadr.engine import Engine
from kadr.service.jobs import JobSource, NewJob, video_object
from kadr.service.jobspec import JobSpec
from kadr.service.plans import Plan, TierLimits
from kadr.service.store import CharacterRecord, CharacterStore, Database, JobStore, UserStore, new_character_id, new_job_id

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc).timestamp()
PLAN = Plan(name="test", monthly_credits=None, concurrency=1, max_active=100,
            tiers={"fast": TierLimits(videos=None, cost=1), "high": TierLimits(videos=None, cost=5)})
NEW_COLUMNS = ("source_kind", "source_video_id", "source_seconds")


def new_job(user_id: int, source: JobSource | None = None, duration: float = 4.0) -> NewJob:
    """A job as the API stores it; ``duration``: the whole video's, as the engine plans it (an extension's too)."""
    request = VideoRequest(prompt="a beach", duration=duration, aspect="1:1", resolution="64x64", fps=8,
                           model="kadr-tiny", seed=7)
    return NewJob(new_job_id(), user_id, JobSpec.of(request, Engine().plan(request)), None, 1, source=source)


@pytest.fixture
def db(store_url: str):
    database = Database(store_url)
    database.create_schema()
    yield database
    database.close()


def test_a_job_keeps_its_source_and_the_object_shows_it(db: Database) -> None:
    jobs = JobStore(db)
    ann = UserStore(db).add("ann", "test", NOW).user
    plain = jobs.submit(new_job(ann.id), PLAN, NOW)
    remix = jobs.submit(new_job(ann.id, JobSource("remix", plain.id, 4.0)), PLAN, NOW)
    upload = jobs.submit(new_job(ann.id, JobSource("edit", None, 2.5), duration=2.5), PLAN, NOW)
    extension = jobs.submit(new_job(ann.id, JobSource("extend", remix.id, 4.0), duration=12.0), PLAN, NOW)
    objects = {r.id: video_object(jobs.get(r.id, ann.id)) for r in (plain, remix, upload, extension)}
    assert objects[plain.id]["source"] is None and objects[plain.id]["remixed_from_video_id"] is None
    assert objects[remix.id]["remixed_from_video_id"] == plain.id
    assert objects[remix.id]["source"] == {"kind": "remix", "video_id": plain.id, "seconds": "4"}
    assert objects[upload.id]["remixed_from_video_id"] is None and objects[upload.id]["source"]["kind"] == "edit"
    # An extension is the whole video: OpenAI's "seconds" is the stitched total (the plan's).
    assert objects[extension.id]["seconds"] == "12" and objects[extension.id]["remixed_from_video_id"] is None
    listed, _ = jobs.list(ann.id)
    assert {r.id: r.source for r in listed}[extension.id] == JobSource("extend", remix.id, 4.0)


def test_characters_are_per_user_and_go_with_their_user(db: Database) -> None:
    users, characters = UserStore(db), CharacterStore(db)
    ann, bob = users.add("ann", "test", NOW).user, users.add("bob", "test", NOW).user
    made = [characters.add(CharacterRecord(new_character_id(), ann.id, name, f"/x/{name}.png", 64, 48, "image", None,
                                           NOW + i)) for i, name in enumerate(("Аня", "Bob's dog"))]
    assert characters.get(made[0].id, ann.id) == made[0]
    assert characters.get(made[0].id, bob.id) is None  # another user's character is none of theirs
    assert [c.name for c in characters.list(ann.id)] == ["Bob's dog", "Аня"]  # newest first
    assert characters.delete(made[1].id, bob.id) is None and characters.delete(made[1].id, ann.id) == made[1]
    users.remove("ann")
    assert characters.get(made[0].id, ann.id) is None


def test_a_store_made_before_issue_18_gains_the_columns_and_keeps_its_jobs(store_url: str) -> None:
    old = Database(store_url)
    old.create_schema()
    ann = UserStore(old).add("ann", "test", NOW).user
    kept = JobStore(old).submit(new_job(ann.id), PLAN, NOW)
    with old.engine.begin() as conn:  # as an older kadr made it: no source columns, no characters table
        for column in NEW_COLUMNS:
            conn.execute(text(f"ALTER TABLE jobs DROP COLUMN {column}"))
        conn.execute(text("DROP TABLE characters"))
    old.close()

    db = Database(store_url)
    db.create_schema()
    try:
        record = JobStore(db).get(kept.id, ann.id)
        assert record is not None and record.source is None and video_object(record)["seconds"] == "4"
        remix = JobStore(db).submit(new_job(ann.id, JobSource("remix", kept.id, 4.0)), PLAN, NOW)
        assert JobStore(db).get(remix.id).source == JobSource("remix", kept.id, 4.0)
        character = CharacterRecord(new_character_id(), ann.id, "Ann", "/x/a.png", 8, 8, "image", None, NOW)
        assert CharacterStore(db).add(character) == CharacterStore(db).get(character.id, ann.id)
    finally:
        db.close()


def test_what_a_model_cannot_do_is_refused_naming_the_field_that_asked(tmp_path) -> None:
    from dataclasses import replace

    from kadr.pipelines import registry

    plain = replace(registry.get_spec("kadr-tiny"), features=())
    source = tmp_path / "source.mp4"
    source.write_bytes(b"not read before the check")
    from PIL import Image

    image = Image.new("RGB", (16, 16))
    asks = {
        "extend": VideoRequest(prompt="more", source_video=source, mode="extend"),
        "remix": VideoRequest(prompt="night", source_video=source, mode="remix"),
        "first-last-frame": VideoRequest(prompt="dawn", image=image, last_image=image),
        "shots": VideoRequest(shots=({"prompt": "a beach"}, {"prompt": "a forest"})),
        "reference": VideoRequest(prompt="a walk", reference_image=image),
    }
    assert set(asks) == set(FEATURES)
    for feature, request in asks.items():
        with pytest.raises(UnsupportedFeature) as refused:
            require_features(request, plain)
        assert refused.value.field == FEATURE_PARAMS[feature]
        assert str(refused.value).startswith(f"{FEATURE_PARAMS[feature]}: kadr-tiny cannot {FEATURES[feature]}")
        require_features(request, replace(plain, features=(feature,)))  # the model that can: no error
