"""Bad input gets a clear InputError naming the input and the limit, before any request."""

from __future__ import annotations

import base64
import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image as PILImage

from dashscope_embeddings import InputError, create_client
from dashscope_embeddings._catalog import MB
from dashscope_embeddings._wire import detect_image_format
from dashscope_embeddings.emulator import Emulator


def _png(colour: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def client_for(emulator_options: dict[str, Any]) -> Any:
    def make(model: str = "qwen3-vl-embedding", **options: Any) -> Any:
        return create_client(model, **emulator_options, **options)

    return make


def _refused(emu: Emulator, call: Any, *patterns: str) -> InputError:
    with pytest.raises(InputError) as info:
        call()
    for pattern in patterns:
        assert pattern in str(info.value), (pattern, str(info.value))
    assert emu.stats.requests == 0, "an InputError must be raised before any request"
    return info.value


def test_wrong_dimension_lists_allowed_values(emu: Emulator, client_for: Any) -> None:
    error = _refused(emu, lambda: client_for(dimension=1000), "dimension=1000", "2560, 2048")
    assert isinstance(error, ValueError)


def test_fixed_dimension_model_names_the_dated_snapshot(emu: Emulator, client_for: Any) -> None:
    _refused(
        emu,
        lambda: client_for("tongyi-embedding-vision-plus", dimension=512),
        "fixed at 1152",
        "tongyi-embedding-vision-plus-2026-03-06",
    )


def test_too_many_images_in_one_fused_item(emu: Emulator, client_for: Any) -> None:
    client = client_for()
    item = {"text": "shoe", "images": ["https://example.com/a.png"] * 6}
    error = _refused(
        emu,
        lambda: client.embed_fused([{"text": "ok"}, item]).embeddings,
        "input 1",
        "6 images",
        "allows 5",
    )
    assert error.input_indices == (1,)


def test_image_file_over_the_size_limit(emu: Emulator, client_for: Any, tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(_png() + b"\0" * (5 * MB))
    client = client_for()
    _refused(
        emu,
        lambda: client.embed_images([_png(), big]).embeddings,
        "input 1",
        "5 MB image limit of qwen3-vl-embedding",
    )


def test_unreadable_and_non_image_files(emu: Emulator, client_for: Any, tmp_path: Path) -> None:
    client = client_for()
    notes = tmp_path / "notes.png"
    notes.write_text("just text, whatever the name says")
    _refused(emu, lambda: client.embed_images([notes]).embeddings, "not an image")
    _refused(
        emu,
        lambda: client.embed_images([tmp_path / "missing.png"]).embeddings,
        "input 0",
        "cannot read image file",
    )


@pytest.mark.parametrize("value", [42, 3.5, {"image": "x"}, None])
def test_unsupported_image_types(emu: Emulator, client_for: Any, value: object) -> None:
    client = client_for()
    _refused(emu, lambda: client.embed_images([value]).embeddings, "unsupported")


def test_local_video_is_refused_with_the_reason(
    emu: Emulator, client_for: Any, tmp_path: Path
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\0\0\0\x18ftypmp42")
    client = client_for()
    _refused(
        emu,
        lambda: client.embed_videos([str(video)]).embeddings,
        "input 0",
        "URL",
    )


def test_empty_text(emu: Emulator, client_for: Any) -> None:
    client = client_for("text-embedding-v4")
    _refused(emu, lambda: client.embed_texts(["fine", ""]).embeddings, "input 1", "empty")


def test_instruct_on_a_model_that_does_not_take_it(emu: Emulator, client_for: Any) -> None:
    _refused(
        emu,
        lambda: client_for("multimodal-embedding-v1", query_instruct="Find images"),
        "multimodal-embedding-v1 does not take `instruct`",
    )


def test_res_level_on_qwen3(emu: Emulator, client_for: Any) -> None:
    _refused(emu, lambda: client_for(res_level=2), "qwen3-vl-embedding does not take `res_level`")


def test_out_of_range_option(emu: Emulator, client_for: Any) -> None:
    _refused(
        emu,
        lambda: client_for("tongyi-embedding-vision-plus-2026-03-06", max_video_frames=65),
        "max_video_frames=65",
    )


def test_fusion_on_a_model_without_fusion(emu: Emulator, client_for: Any) -> None:
    client = client_for("multimodal-embedding-v1")
    _refused(
        emu,
        lambda: client.embed_fused([{"text": "a", "image": "https://e.com/a.png"}]).embeddings,
        "cannot fuse",
    )


def test_gif_refused_where_the_model_does_not_take_it(emu: Emulator, client_for: Any) -> None:
    gif = io.BytesIO()
    PILImage.new("RGB", (4, 4)).save(gif, format="GIF")
    client = client_for()
    _refused(emu, lambda: client.embed_images([gif.getvalue()]).embeddings, "GIF")


def test_sgi_is_accepted_by_qwen3_and_the_emulator(emu: Emulator, client_for: Any) -> None:
    sgi = io.BytesIO()
    PILImage.new("RGB", (8, 8), (0, 0, 200)).save(sgi, format="SGI")
    client = client_for()
    (vector,) = client.embed_images([sgi.getvalue()]).embeddings
    assert len(vector) == 2560
    assert emu.requests[0].body["input"]["contents"][0]["image"].startswith("data:image/sgi;")


def test_invalid_data_uri(emu: Emulator, client_for: Any) -> None:
    client = client_for()
    _refused(
        emu,
        lambda: client.embed_images(["data:image/png;base64,@@@"]).embeddings,
        "base64",
    )


def test_plain_http_to_a_remote_host_refused_with_a_key() -> None:
    with pytest.raises(InputError, match="plain http"):
        create_client(api_key="k", base_url="http://dashscope.example.com/api/v1")


def test_every_local_image_form_becomes_a_data_uri(
    tmp_path: Path, client_for: Any, emu: Emulator
) -> None:
    png = _png()
    path = tmp_path / "photo.jpg"  # misleading name: the bytes decide the format
    path.write_bytes(png)
    client = client_for(batch_size=1)
    url = "https://example.com/cat.jpg"
    forms: list[object] = [
        path,
        str(path),
        png,
        bytearray(png),
        io.BytesIO(png),
        PILImage.open(io.BytesIO(png)),
        "data:image/png;base64," + base64.b64encode(png).decode(),
        url,
    ]
    client.embed_images(forms)
    sent = [request.body["input"]["contents"][0]["image"] for request in emu.requests]
    assert len(sent) == len(forms)
    assert sent.count(url) == 1
    assert all(value.startswith("data:image/png;base64,") for value in sent if value != url)


def test_an_image_file_is_read_when_sent_and_refused_if_it_changed_since_the_check(
    tmp_path: Path, client_for: Any, emu: Emulator
) -> None:
    paths = [tmp_path / f"{i}.png" for i in range(4)]
    for i, path in enumerate(paths):
        path.write_bytes(_png((i * 60, 10, 10)))
    emu.config.latency = 0.3
    client = client_for(batch_size=1, max_concurrency=1)
    spoiled = threading.Event()

    def spoil_once_the_first_request_is_in() -> None:
        while emu.stats.requests < 1:
            time.sleep(0.005)
        paths[2].write_bytes(b"no longer an image")
        spoiled.set()

    threading.Thread(target=spoil_once_the_first_request_is_in, daemon=True).start()
    with pytest.raises(InputError) as info:
        client.embed_images(paths)
    assert spoiled.is_set()
    # Input 2 is named; 3 was never sent: both are the positions left to resume.
    assert "input 2: image file" in str(info.value)
    assert "changed after it was checked" in str(info.value)
    assert info.value.input_indices == (2, 3)
    assert info.value.embeddings is not None
    assert [v is not None for v in info.value.embeddings] == [True, True, False, False]
    # What was sent is the file as it was checked: inputs 0 and 1, then nothing.
    sent = [request.body["input"]["contents"][0]["image"] for request in emu.requests]
    assert sent == [
        "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode() for p in paths[:2]
    ]


def test_a_text_that_names_a_file_is_sent_as_text(
    emu: Emulator, client_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hello.txt").write_text("secret file content")
    monkeypatch.chdir(tmp_path)
    client = client_for()
    client.embed_texts(["hello.txt"])
    (request,) = emu.requests
    assert request.body["input"]["contents"] == [{"text": "hello.txt"}]


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"\x89PNG\r\n\x1a\n....", "png"),
        (b"\xff\xd8\xff\xe0....", "jpeg"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "webp"),
        (b"GIF89a....", "gif"),
        (b"BM......", "bmp"),
        (b"II*\x00....", "tiff"),
        (b"MM\x00*....", "tiff"),
        (b"icns\0\0\0\x08", "icns"),
        (b"\x01\xda\x00\x01", "sgi"),
        (b"%PDF-1.7", None),
        (b"", None),
    ],
)
def test_format_detection_from_bytes(data: bytes, fmt: str | None) -> None:
    assert detect_image_format(data) == fmt
