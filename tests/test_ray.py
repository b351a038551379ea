"""The Ray Data stage on a real local Ray runtime against the emulator.

One runtime per module (starting Ray takes seconds); each test builds its own
dataset and budget. Workers reach the emulator over 127.0.0.1.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("RAY_DISABLE_IMPORT_WARNING", "1")

import ray

from _scripts import run_script
from dashscope_embeddings import create_client
from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.ray import DashScopeEmbedder

pytestmark = pytest.mark.ray

IMAGES = ["red_apple.png", "blue_sea.jpg", "green_leaf.png", "yellow_sun.png"]


@pytest.fixture(scope="module")
def ray_runtime() -> Iterator[None]:
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        logging_level="ERROR",
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def service() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def emu(service: Emulator, ray_runtime: None) -> Iterator[Emulator]:
    service.reset()
    yield service
    service.reset()


def stage(emu: Emulator, **kwargs: Any) -> dict[str, Any]:
    """``map_batches`` arguments for the stage against ``emu``, with a budget of its own.

    ``compute=ActorPoolStrategy(...)`` (current Ray's form) or ``concurrency=N``
    (older Ray's, still accepted): both must work.
    """
    pool = {"compute": kwargs.pop("compute")} if "compute" in kwargs else {}
    concurrency = kwargs.pop("concurrency", 2)
    batch_format = kwargs.pop("batch_format", "default")
    batch_size = kwargs.pop("batch_size", 200)
    options = {"base_url": emu.base_url, "api_key": "test-key", "budget_name": uuid.uuid4().hex}
    return {
        "fn_constructor_kwargs": {**options, **kwargs},
        **(pool or {"concurrency": concurrency}),
        "num_cpus": 0.25,
        "batch_format": batch_format,
        "batch_size": batch_size,
    }


def single_process(emu: Emulator, model: str, **options: Any) -> Any:
    return create_client(model, base_url=emu.base_url, api_key="test-key", **options)


def as_f32(vector: Any) -> Any:
    return np.asarray(vector, dtype=np.float32)


def test_texts_in_every_batch_format_equal_the_single_process_vectors(emu: Emulator) -> None:
    texts = [
        f"passage {i}: the {['red', 'blue', 'green'][i % 3]} thing no. {i}" for i in range(2000)
    ]
    ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
    for fmt in ("numpy", "pandas", "pyarrow"):
        ds = ds.map_batches(
            DashScopeEmbedder,
            **stage(
                emu,
                model="text-embedding-v4",
                output_column=f"vec_{fmt}",
                batch_format=fmt,
                concurrency=1,
                batch_size=500,
                output_type="dense&sparse" if fmt == "pyarrow" else "dense",
            ),
        )
    rows = sorted(ds.take_all(), key=lambda row: row["id"])

    reference = single_process(emu, "text-embedding-v4", output_type="dense&sparse").embed_texts(
        texts
    )
    assert [row["id"] for row in rows] == list(range(len(texts)))
    assert [row["text"] for row in rows] == texts
    for row, vector, sparse in zip(
        rows, reference.embeddings, reference.sparse_embeddings or [], strict=True
    ):
        for fmt in ("numpy", "pandas", "pyarrow"):
            assert np.array_equal(as_f32(row[f"vec_{fmt}"]), as_f32(vector))
        assert list(row["vec_pyarrow_sparse"]["indices"]) == list(sparse)
        assert np.array_equal(
            as_f32(row["vec_pyarrow_sparse"]["values"]), as_f32(list(sparse.values()))
        )
    assert "vec_numpy_sparse" not in rows[0]


def test_images_and_fused_columns_equal_the_single_process_vectors(
    emu: Emulator, data_dir: Path
) -> None:
    # Image columns as users have them: paths readable on the worker, data URIs
    # and URLs (a string column), or the files' bytes (a binary column).
    forms: list[str] = []
    raw: list[bytes] = []
    for name in IMAGES:
        content = (data_dir / name).read_bytes()
        kind = "png" if name.endswith("png") else "jpeg"
        forms += [
            str(data_dir / name),
            f"data:image/{kind};base64," + base64.b64encode(content).decode(),
            f"https://example.com/images/{name}",
        ]
        raw += [content] * 3
    captions = [f"caption {i}" for i in range(len(forms))]
    rows_in = [
        {"id": i, "caption": c, "image": f, "image_bytes": b}
        for i, (c, f, b) in enumerate(zip(captions, forms, raw, strict=True))
    ]
    ds = ray.data.from_items(rows_in).map_batches(
        DashScopeEmbedder,
        **stage(
            emu,
            model="qwen3-vl-embedding",
            input_kind="image",
            column="image",
            batch_size=5,
            concurrency=1,
        ),
    )
    ds = ds.map_batches(
        DashScopeEmbedder,
        **stage(
            emu,
            model="qwen3-vl-embedding",
            input_kind="fused",
            column={"text": "caption", "image": "image_bytes"},
            output_column="fused",
            batch_format="pandas",
            batch_size=5,
            concurrency=1,
        ),
    )
    rows = sorted(ds.take_all(), key=lambda row: row["id"])

    client = single_process(emu, "qwen3-vl-embedding")
    images = client.embed_images(forms).embeddings
    fused = client.embed_fused(
        [{"text": c, "image": b} for c, b in zip(captions, raw, strict=True)]
    )
    assert len(rows) == len(forms)
    for row, image, both in zip(rows, images, fused.embeddings, strict=True):
        assert np.array_equal(as_f32(row["embedding"]), as_f32(image))
        assert np.array_equal(as_f32(row["fused"]), as_f32(both))
    assert not np.array_equal(as_f32(rows[0]["embedding"]), as_f32(rows[0]["fused"]))


def test_refused_rows_get_the_error_column_and_the_rest_their_vectors(emu: Emulator) -> None:
    texts = [f"text {i}" for i in range(100)]
    texts[13] = "word " * 20_000  # over the model's 8192 tokens: the service answers 400
    texts[57] = ""  # refused before any request
    ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
    ds = ds.map_batches(
        DashScopeEmbedder,
        **stage(
            emu,
            model="text-embedding-v4",
            on_error="record",
            batch_size=50,
            compute=ray.data.ActorPoolStrategy(size=1),
        ),
    )
    rows = sorted(ds.take_all(), key=lambda row: row["id"])

    errors = {row["id"]: row["embedding_error"] for row in rows if row["embedding_error"]}
    assert set(errors) == {13, 57}
    assert errors[13].startswith("InvalidParameter: ")
    assert "8192" in errors[13]
    assert errors[57].startswith("InputError: ")
    assert rows[13]["embedding"] is None
    assert rows[57]["embedding"] is None
    good = [i for i in range(len(texts)) if i not in errors]
    reference = single_process(emu, "text-embedding-v4").embed_texts([texts[i] for i in good])
    for i, vector in zip(good, reference.embeddings, strict=True):
        assert np.array_equal(as_f32(rows[i]["embedding"]), as_f32(vector))
    # Isolating the refused row costs a bounded number of extra requests.
    assert emu.stats.statuses.get(400, 0) >= 1


def test_four_workers_share_one_quota_and_use_most_of_it(emu: Emulator) -> None:
    # The emulator allows 1200 requests per minute, counted over 5 s windows
    # (100 per window); the stage is told a little less, as users should.
    rpm, window = 1200, 5.0
    emu.config.rpm = rpm
    emu.config.rpm_window = window
    emu.config.latency = 0.05
    texts = [f"text {i}" for i in range(2400)]  # 240 requests of 10: about 13 s of quota
    ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
    ds = ds.map_batches(
        DashScopeEmbedder,
        **stage(
            emu,
            model="text-embedding-v4",
            concurrency=4,
            requests_per_minute=int(rpm * 0.95),
        ),
    )
    rows = ds.take_all()

    assert len(rows) == len(texts)
    assert all(row["embedding"] is not None for row in rows)
    records = [r for r in emu.requests if r.outcome == "answered"]
    throttled = [r for r in records if r.status == 429]
    accepted = sorted(r.arrived for r in records if r.status == 200)
    assert len(accepted) >= len(texts) / 10  # every request answered, none surfaced an error
    # Shared, not per worker: four workers pacing on their own would send 4x.
    assert len(throttled) <= 2, f"{len(throttled)} requests throttled"
    arrivals = sorted(r.arrived for r in records)
    busiest = max(
        sum(1 for t in arrivals[i:] if t < start + window) for i, start in enumerate(arrivals)
    )
    assert busiest <= rpm * window / 60
    # And most of the quota is used: the four leave no gaps between them.
    rate_per_minute = (len(accepted) - 1) / (accepted[-1] - accepted[0]) * 60
    assert rate_per_minute >= 0.85 * rpm, f"{rate_per_minute:.0f} requests per minute"


def test_the_package_and_adapters_import_without_ray() -> None:
    code = (
        "import sys\n"
        "sys.modules['ray'] = None  # as if Ray were not installed\n"
        "import dashscope_embeddings, dashscope_embeddings.langchain\n"
        "import dashscope_embeddings.llama_index\n"
        "try:\n"
        "    import dashscope_embeddings.ray\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    done = run_script("-c", code, timeout=60)
    assert done.returncode == 0, done.stderr
    assert 'pip install "dashscope-embeddings[ray]"' in done.stdout
