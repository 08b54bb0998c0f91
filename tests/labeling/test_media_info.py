"""Audio and video media: facts read at import (PyAV), stored by content, served with ranges."""

from __future__ import annotations

import io
import math
import struct
import wave

import pytest
from sqlmodel import select

from labeling import imports, projects
from labeling.db import read_session
from labeling.errors import Invalid
from labeling.imports import ImportFile
from labeling.media import MediaError
from labeling.media_info import probe, sniff_av_format, store_av
from labeling.mediastore import LocalStore
from labeling.models import Media, Task
from tests.conftest import login

AUDIO = """<View><Audio name="audio" value="$audio"/>
<Labels name="label" toName="audio"><Label value="Speech"/><Label value="Noise"/></Labels></View>"""


def wav(seconds: float = 1.5, rate: int = 8000, channels: int = 1, freq: float = 440.0) -> bytes:
    """A sine tone as a 16-bit PCM WAV file, made with the standard library."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = int(seconds * rate)
        samples = (int(12000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(frames))
        w.writeframes(b"".join(struct.pack("<h", s) * channels for s in samples))
    return buf.getvalue()


def mp4(frames: int = 12, fps: int = 24, size=(64, 48)) -> bytes:
    """A short MPEG-4 video made with PyAV (the encoder its wheel ships)."""
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            img = np.full((size[1], size[0], 3), (i * 20) % 255, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def test_probe_reads_duration_channels_and_rate_of_a_wav():
    info = probe(wav(2.25, rate=16000, channels=2), name="tone.wav")
    assert info.kind == "audio" and info.ext == "wav" and info.mime == "audio/wav"
    assert info.duration == pytest.approx(2.25, abs=1e-3)
    assert (info.channels, info.sample_rate, info.fps, info.width) == (2, 16000, None, 0)


def test_probe_reads_frame_rate_and_size_of_a_video():
    info = probe(mp4(frames=12, fps=24), name="clip.mp4")
    assert info.kind == "video" and info.ext == "mp4" and info.mime == "video/mp4"
    assert (info.width, info.height) == (64, 48)
    assert info.fps == pytest.approx(24)
    assert info.duration == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("data, why", [
    (b"", "empty"),
    (b"hello, not audio at all", "not an audio or video file"),
    (b"RIFF\x10\x00\x00\x00WAVEfmt \x00\x00", "not a readable audio or video file"),
])
def test_probe_refuses_what_is_not_playable_media(data, why):
    with pytest.raises(MediaError, match=why):
        probe(data, name="x.wav")


def test_sniffing_names_the_demuxer_from_magic_numbers():
    assert sniff_av_format(wav(0.1)[:16]) == "wav"
    assert sniff_av_format(b"ID3\x04\x00" + b"\x00" * 11) == "mp3"
    assert sniff_av_format(b"OggS" + b"\x00" * 12) == "ogg"
    assert sniff_av_format(b"fLaC" + b"\x00" * 12) == "flac"
    assert sniff_av_format(mp4()[:16]) == "mov"
    assert sniff_av_format(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8) is None


def test_store_av_stores_by_content_once(tmp_path):
    store = LocalStore(tmp_path)
    data = wav(0.5)
    info, new = store_av(data, store=store, name="a.wav")
    assert new and store.local_file(f"{info.sha256[:2]}/{info.sha256[2:4]}/{info.sha256}.wav").read_bytes() == data
    again, new_again = store_av(data, store=store, name="same-bytes-other-name.wav")
    assert again == info and not new_again


def test_importing_a_wav_makes_an_audio_task_with_its_duration(lead):
    project = projects.create_project(lead.user, title="speech", label_config=AUDIO)
    data = wav(1.5)
    result = imports.import_data(lead.user, project.id, files=[ImportFile("hello.wav", data),
                                                                 ImportFile("again.wav", data)])
    assert result.task_count == 2
    with read_session() as s:
        media = s.exec(select(Media)).one()  # the same bytes stored once
        tasks = s.exec(select(Task)).all()
    assert media.duration == pytest.approx(1.5, abs=1e-3) and media.channels == 1 and media.fps is None
    assert media.ext == "wav" and media.mime == "audio/wav" and media.thumbnail_ready  # no thumbnail to make
    assert {t.data["audio"] for t in tasks} == {f"/media/{project.id}/{media.sha256}.wav"}
    assert all(t.media_id == media.id for t in tasks)


def test_an_audio_file_needs_an_audio_object_in_the_config(lead):
    image = projects.create_project(lead.user, title="images", label_config="""<View><Image name="image"
        value="$image"/><Choices name="c" toName="image"><Choice value="a"/></Choices></View>""")
    with pytest.raises(Invalid) as refused:
        imports.import_data(lead.user, image.id, files=[ImportFile("hello.wav", wav(0.2))])
    assert "the label config has no <Audio>, so audio files cannot be imported" in str(refused.value.errors)


def test_a_broken_audio_file_is_refused_with_its_name(lead):
    project = projects.create_project(lead.user, title="speech", label_config=AUDIO)
    with pytest.raises(Invalid) as refused:
        imports.import_data(lead.user, project.id, files=[ImportFile("broken.wav", wav(0.2)[:30])])
    assert "broken.wav: not a readable audio or video file" in str(refused.value.errors)
    with read_session() as s:
        assert s.exec(select(Media)).first() is None


def test_media_route_answers_range_requests(client, lead):
    project = projects.create_project(lead.user, title="speech", label_config=AUDIO)
    data = wav(3.0)
    imports.import_data(lead.user, project.id, files=[ImportFile("long.wav", data)])
    with read_session() as s:
        url = s.exec(select(Task)).one().data["audio"]
    login(client, lead.email)
    whole = client.get(url)
    assert whole.status_code == 200 and whole.data == data and whole.mimetype == "audio/wav"
    assert whole.headers["Accept-Ranges"] == "bytes"
    part = client.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.data == data[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    assert part.headers["Content-Length"] == "1000"
    tail = client.get(url, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.data == data[-100:]
    beyond = client.get(url, headers={"Range": f"bytes={len(data) + 10}-"})
    assert beyond.status_code == 416


def test_the_labeling_page_gets_the_facts_read_at_import(lead, annotator, make_user):
    from labeling import router

    project = projects.create_project(lead.user, title="speech", label_config=AUDIO)
    imports.import_data(lead.user, project.id, files=[ImportFile("a.wav", wav(2.5, channels=2)),
                                                        ImportFile("b.wav", wav(1.0))])
    page = router.serve_next(project.id, annotator.user, for_page=True)
    assert page["media"] == {"duration": pytest.approx(2.5, abs=1e-3), "fps": None, "width": 0, "height": 0,
                             "channels": 2, "mime": "audio/wav"}
    api = router.serve_next(project.id, make_user("script@example.com").user)
    assert api is not None and "media" not in api  # Label Studio's API: its own shape


def test_a_zip_of_recordings_makes_one_task_each(lead):
    import zipfile

    project = projects.create_project(lead.user, title="speech", label_config=AUDIO)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("calls/monday.wav", wav(0.5, freq=300))
        zf.writestr("calls/tuesday.wav", wav(0.75, freq=500))
        zf.writestr("calls/notes.txt", "not a recording\n")
    result = imports.import_data(lead.user, project.id, files=[ImportFile("calls.zip", buf.getvalue())],
                                 skip_invalid=True, background=False)
    with read_session() as s:
        durations = sorted(m.duration for m in s.exec(select(Media)))
        tasks = s.exec(select(Task).where(Task.project_id == project.id)).all()
    assert durations == [pytest.approx(0.5, abs=1e-3), pytest.approx(0.75, abs=1e-3)]
    assert sorted(t.file_name for t in tasks if t.media_id) == ["calls/monday.wav", "calls/tuesday.wav"]
    assert result.task_count == len(tasks)
