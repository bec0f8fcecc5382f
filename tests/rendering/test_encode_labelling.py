"""MP4 encoding, reels and the C2PA AI-content label."""

from pathlib import Path

import numpy as np

from rendering import encode, labelling


def _frames(n, w=96, h=64, base=0):
    return [np.full((h, w, 3), (base + 7 * i) % 255, np.uint8) for i in range(n)]


def test_mp4_decodes_to_expected_frames_duration_and_metadata(tmp_path):
    count, poster = encode.write_mp4(iter(_frames(24)), path=tmp_path / "a.mp4", fps=16, poster_index=8)
    info = encode.probe(tmp_path / "a.mp4")
    assert count == 24 and info["frames"] == 24
    assert info["fps"] == 16 and abs(info["duration_s"] - 1.5) < 1e-6
    assert (info["codec"], info["pix_fmt"], info["width"], info["height"]) == ("h264", "yuv420p", 96, 64)
    assert info["metadata"]["comment"] == "AI-generated"
    assert poster.mean() == (7 * 8) % 255


def test_signed_clip_carries_c2pa_created_by_trained_model(tmp_path):
    encode.write_mp4(iter(_frames(8)), path=tmp_path / "a.mp4", fps=16)
    labels = labelling.sign_mp4(tmp_path / "a.mp4", tmp_path / "signed.mp4", title="a test clip")
    assert labels["c2pa"] and labels["self_signed"]
    manifest = labelling.read_manifest(tmp_path / "signed.mp4")
    assert manifest["validation_state"] == "Valid"
    failures = {f["code"] for f in manifest["validation_results"]["activeManifest"]["failure"]}
    assert failures == {"signingCredential.untrusted"}  # self-signed: valid signature, untrusted root
    assert manifest["actions"][0]["action"] == "c2pa.created"
    assert manifest["actions"][0]["digitalSourceType"] == labelling.TRAINED_ALGORITHMIC_MEDIA
    # still a playable MP4 with the same frames after embedding the manifest
    assert encode.probe(tmp_path / "signed.mp4")["frames"] == 8


def test_self_signed_chain_is_created_once_and_reused(tmp_path, settings):
    first = labelling.ensure_self_signed_chain()
    assert (Path(settings.VAR_DIR) / "c2pa" / "chain.pem").exists()
    assert labelling.ensure_self_signed_chain() == first


def test_configured_certificate_is_used_and_not_marked_self_signed(tmp_path, settings):
    chain, key = labelling.ensure_self_signed_chain(tmp_path / "org")
    (tmp_path / "c.pem").write_bytes(chain)
    (tmp_path / "k.pem").write_bytes(key)
    settings.C2PA_SIGNING_CERT, settings.C2PA_SIGNING_KEY = str(tmp_path / "c.pem"), str(tmp_path / "k.pem")
    encode.write_mp4(iter(_frames(4)), path=tmp_path / "a.mp4", fps=16)
    labels = labelling.sign_mp4(tmp_path / "a.mp4", tmp_path / "s.mp4")
    assert labels["self_signed"] is False
    assert not (Path(settings.VAR_DIR) / "c2pa").exists()
    assert labelling.read_manifest(tmp_path / "s.mp4")["validation_state"] == "Valid"


def test_reel_concatenates_in_order(tmp_path):
    encode.write_mp4(iter(_frames(8, base=0)), path=tmp_path / "a.mp4", fps=16)
    encode.write_mp4(iter(_frames(8, w=64, h=48, base=120)), path=tmp_path / "b.mp4", fps=16)
    count, _ = encode.concat_mp4([tmp_path / "b.mp4", tmp_path / "a.mp4"], path=tmp_path / "reel.mp4")
    frames = list(encode.decode_frames(tmp_path / "reel.mp4"))
    assert count == 16 and len(frames) == 16
    assert frames[0].shape == (48, 64, 3)  # the first clip sets the size
    assert abs(frames[0].mean() - 120) < 4 and abs(frames[8].mean() - 0) < 4  # b first, then a
