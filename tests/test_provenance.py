"""Provenance and policy: signed C2PA manifests on what the CLI and the service write, tampering caught,
the studio's certificate chain, `kadr verify`, and the content policy in the CLI and the API."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import c2pa
import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import kadr_env, wait_until
from kadr.provenance.keys import init_keys
from kadr.provenance.manifest import TRAINED_ALGORITHMIC_MEDIA, read_manifest
from kadr.provenance.policy import ContentPolicy, check_prompt


def run_kadr(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kadr", *args], capture_output=True, text=True, cwd=home,
                          env=kadr_env(KADR_HOME=str(home)), timeout=300)


def c2pa_state(path: Path, anchors: Path) -> tuple[str, dict]:
    """c2pa-python's own verdict on a file, trusting only ``anchors``."""
    settings = c2pa.Settings.from_dict({"verify": {"verify_trust": True}, "trust": {"trust_anchors": anchors.read_text()}})
    with c2pa.Context(settings) as context, open(path, "rb") as stream:
        with c2pa.Reader({".mp4": "video/mp4", ".png": "image/png", ".gif": "image/gif"}[path.suffix], stream,
                         context=context) as reader:
            return reader.get_validation_state(), reader.get_active_manifest()


def created_action(manifest: dict) -> dict:
    actions = [a for m in manifest["assertions"] if m["label"].startswith("c2pa.actions") for a in m["data"]["actions"]]
    return next(a for a in actions if a["action"] == "c2pa.created")


def test_keys_init_makes_a_chain_c2pa_accepts(tmp_path: Path) -> None:
    made = init_keys(tmp_path / "keys", organisation="Студия Кадр")
    certs = x509.load_pem_x509_certificates(made.chain.read_bytes())
    signer, root = certs
    assert signer.issuer == root.subject != signer.subject  # not self-signed
    assert signer.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert not signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert signer.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Студия Кадр"
    for path in (made.key, made.chain, made.trust_anchors):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert stat.S_IMODE(os.stat(tmp_path / "keys").st_mode) == 0o700
    with pytest.raises(FileExistsError):
        init_keys(tmp_path / "keys")


def test_cli_outputs_carry_a_valid_manifest_and_tampering_breaks_it(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    from PIL import Image

    Image.new("RGB", (96, 64), (40, 120, 200)).save(photo)
    proc = run_kadr(tmp_path, "generate", "Волны набегают на берег", "-i", str(photo), "--duration", "1", "--seed", "3",
                    "-o", str(tmp_path / "wave.mp4"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "made a local certificate chain" in proc.stderr  # first use says so
    anchors = tmp_path / "keys" / "root.pem"
    for name in ("wave.mp4", "wave.png"):
        state, manifest = c2pa_state(tmp_path / name, anchors)
        assert state == "Trusted", (name, state)
        action = created_action(manifest)
        assert action["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
        assert action["parameters"]["model"] == "kadr-tiny" and action["parameters"]["model_licence"] == "Apache-2.0"
        assert manifest["claim_generator_info"][0]["name"] == "kadr"
        assert [i["relationship"] for i in manifest["ingredients"]] == ["inputTo"]  # the input picture

    verified = run_kadr(tmp_path, "verify", "wave.mp4", "--json")
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["manifest"]["valid"] is True and report["manifest"]["generator"]["model"] == "kadr-tiny"
    assert "kadr studio" in report["manifest"]["signer"]
    assert set(report["watermark"]) == {"found", "payload"}

    data = bytearray((tmp_path / "wave.mp4").read_bytes())
    data[len(data) // 2] ^= 0x5A  # one byte of the picture data
    (tmp_path / "tampered.mp4").write_bytes(bytes(data))
    state, _ = c2pa_state(tmp_path / "tampered.mp4", anchors)
    assert state == "Invalid"
    assert read_manifest(tmp_path / "tampered.mp4").valid is False
    line = run_kadr(tmp_path, "verify", "tampered.mp4")
    assert line.returncode == 1 and "INVALID" in line.stdout and len(line.stdout.strip().splitlines()) == 1


def test_gif_output_is_signed_and_a_foreign_file_has_no_manifest(tmp_path: Path) -> None:
    proc = run_kadr(tmp_path, "generate", "Облака плывут над полем", "--duration", "1", "--seed", "1",
                    "-o", str(tmp_path / "clouds.gif"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    state, _ = c2pa_state(tmp_path / "clouds.gif", tmp_path / "keys" / "root.pem")
    assert state == "Trusted"
    from PIL import Image

    Image.new("RGB", (64, 64), (9, 9, 9)).save(tmp_path / "plain.png")
    proc = run_kadr(tmp_path, "verify", "plain.png", "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {"manifest": None, "watermark": {"found": False, "payload": None}}


def test_own_certificate_signs_instead_of_the_local_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from kadr.provenance.manifest import GenerationRecord
    from kadr.video.encode import VideoWriter

    own = init_keys(tmp_path / "mine", organisation="Owner Films")
    monkeypatch.setenv("KADR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KADR_SIGNING_CERT", str(own.chain))
    monkeypatch.setenv("KADR_SIGNING_KEY", str(own.key))
    record = GenerationRecord(model="wan2.1-t2v-1.3b", model_family="wan", task="text-to-video")
    with VideoWriter(tmp_path / "m.mp4", fps=8, width=32, height=32, provenance=record) as writer:
        writer.write(np.full((8, 32, 32, 3), 90, np.uint8))
    assert not (tmp_path / "home" / "keys").exists()  # no local chain made when the owner brings one
    state, manifest = c2pa_state(tmp_path / "m.mp4", own.trust_anchors)
    assert state == "Trusted" and manifest["signature_info"]["issuer"] == "Owner Films"
    assert created_action(manifest)["parameters"]["model_licence"] == "Apache-2.0"
    monkeypatch.delenv("KADR_SIGNING_KEY")
    with pytest.raises(ValueError, match="KADR_SIGNING_KEY"):
        with VideoWriter(tmp_path / "n.mp4", fps=8, width=32, height=32, provenance=record) as writer:
            writer.write(np.full((8, 32, 32, 3), 90, np.uint8))
    assert not (tmp_path / "n.mp4").exists() and not list(tmp_path.glob(".n.*"))  # nothing partial left


@pytest.mark.parametrize("prompt, term", [
    ("Фото обнажённого маленького ребёнка", "обнажённый ребёнок"),
    ("голых детей на пляже", "голый ребёнок"),
    ("видео со сценой изнасилования", "изнасилование"),
    ("детской порнографии", "детская порнография"),
    ("naked children on a beach", "naked child"),
])
def test_policy_catches_inflected_forms(prompt: str, term: str) -> None:
    decision = check_prompt(prompt, ContentPolicy())
    assert not decision.allowed and decision.matched == term
    assert decision.language == ("en" if prompt.isascii() else "ru")


@pytest.mark.parametrize("prompt", ["Ребёнок играет с собакой на пляже", "Rap battle in a night club",
                                    "Закат над морем, волны", "A naked tree in winter, a child walks by later on"])
def test_policy_lets_ordinary_prompts_through(prompt: str) -> None:
    assert check_prompt(prompt, ContentPolicy()).allowed


def test_policy_file_and_classifier_hook(tmp_path: Path) -> None:
    policy = ContentPolicy(terms=["красная машина"], classifier="json.loads")  # json.loads("...") is truthy for '"x"'
    assert not check_prompt("Две красных машины едут", policy).allowed
    assert check_prompt("Синяя машина", ContentPolicy(terms=["красная машина"])).allowed
    with pytest.raises(ValueError, match="classifier"):
        ContentPolicy(classifier="nodots")


def test_cli_refuses_in_the_prompts_language_and_writes_nothing(tmp_path: Path) -> None:
    proc = run_kadr(tmp_path, "generate", "Обнажённые дети на пляже", "-o", str(tmp_path / "x.mp4"))
    assert proc.returncode == 2
    assert "kadr: error: prompt: запрос отклонён политикой студии" in proc.stderr
    proc = run_kadr(tmp_path, "generate", "Naked children on a beach", "-o", str(tmp_path / "x.mp4"))
    assert proc.returncode == 2 and "refused by the studio's content policy" in proc.stderr
    assert not list(tmp_path.glob("*.mp4")) and not (tmp_path / "keys").exists()


@pytest.mark.slow
def test_service_output_is_signed_verify_route_and_refusal_charges_nothing(live_server, user_factory, tmp_path: Path) -> None:
    from openai import BadRequestError, OpenAI

    key, _ = user_factory()
    client = OpenAI(base_url=live_server.url + "/v1", api_key=key, max_retries=0)
    headers = {"authorization": f"Bearer {key}"}
    usage_before = httpx.get(live_server.url + "/v1/usage", headers=headers).json()

    with pytest.raises(BadRequestError) as refused:
        client.videos.create(prompt="Обнажённого ребёнка на пляже", seconds="4")
    error = refused.value.body
    assert refused.value.status_code == 400 and error["code"] == "moderation_blocked" and error["param"] == "prompt"
    assert "политикой студии" in error["message"]
    with pytest.raises(BadRequestError) as refused_en:
        client.videos.create(prompt="naked children on the beach", seconds="4")
    assert "content policy" in refused_en.value.body["message"]
    assert httpx.get(live_server.url + "/v1/usage", headers=headers).json() == usage_before
    assert client.videos.list().data == []

    video = client.videos.create(prompt="Закат над морем, волны", seconds="4", extra_body={"seed": 5})
    done = wait_until(lambda: (v := client.videos.retrieve(video.id)).status in ("completed", "failed") and v, 240,
                      "the video to finish", interval=0.3)
    assert done.status == "completed", done
    assert done.model_extra["provenance"]["c2pa"] is True
    mp4, poster = tmp_path / "v.mp4", tmp_path / "v.png"
    client.videos.download_content(video.id).write_to_file(mp4)
    client.videos.download_content(video.id, variant="thumbnail").write_to_file(poster)
    anchors = Path(kadr_env()["KADR_HOME"]) / "keys" / "root.pem"
    for path in (mp4, poster):
        state, manifest = c2pa_state(path, anchors)
        assert state == "Trusted", (path, state)
        assert created_action(manifest)["parameters"]["job"] == video.id

    with open(mp4, "rb") as f:
        reply = httpx.post(live_server.url + "/v1/verify", headers=headers, files={"file": ("v.mp4", f, "video/mp4")},
                           timeout=60)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["manifest"]["valid"] is True and body["manifest"]["generator"]["model"] == "kadr-tiny"
    assert body["verdict"].startswith("v.mp4: C2PA manifest valid")
    bad = httpx.post(live_server.url + "/v1/verify", headers=headers, files={"file": ("notes.txt", b"hi", "text/plain")})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "file"

    # A copy of a clip marked as this job's (the server's studio is this machine's name) that lost a fifth of its
    # code bits (marked inverted, in one run, which the code cannot correct): not decoded, but matched to the job
    # in the store.
    import numpy as np

    from kadr.provenance import studio_id
    from kadr.provenance.watermark import WatermarkEmbedder, WatermarkPayload
    from kadr.video.encode import VideoWriter
    from training.world import render_clip, sample_scene

    scene = sample_scene(np.random.default_rng(3), setting="beach", camera="pan_right", time_of_day="day")
    payload = WatermarkPayload.for_job(studio_id(), video.id)
    damaged = WatermarkEmbedder(payload, 256, 144, step=4.6)
    damaged._bits = damaged._bits.copy()
    damaged._bits[40:64] = 1 - damaged._bits[40:64]
    copy = tmp_path / "copy.mp4"
    with VideoWriter(copy, fps=24, width=256, height=144) as writer:
        writer.write(damaged.embed(render_clip(scene, 48, 256, 144, 24.0)))
    with open(copy, "rb") as f:
        reply = httpx.post(live_server.url + "/v1/verify", headers=headers, files={"file": ("copy.mp4", f, "video/mp4")},
                           timeout=120)
    assert reply.status_code == 200, reply.text
    assert reply.json()["watermark"] == {"found": True, "payload": payload.to_dict(), "matched": True}
    assert "watermark matched to a job of this studio" in reply.json()["verdict"]


def test_verify_reads_a_files_kind_from_its_bytes_not_its_name() -> None:
    from kadr.service.api.verify import sniff_suffix

    assert sniff_suffix(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 8) == ".mp4"
    assert sniff_suffix(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8) == ".png"
    assert sniff_suffix(b"GIF89a" + b"\x00" * 8) == ".gif"
    assert sniff_suffix(b"\xff\xd8\xff\xe0" + b"\x00" * 8) == ".jpg"
    assert sniff_suffix(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ".webp"
    assert sniff_suffix(b"\x1a\x45\xdf\xa3" + b"\x00" * 8) == ".webm"
    assert sniff_suffix(b"hello, not a picture") is None
