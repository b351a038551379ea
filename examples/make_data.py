"""Writes the small demo data set in examples/data (a few KB, committed).

Run again with ``make examples-data``; the output is deterministic.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw

DATA = Path(__file__).parent / "data"

# (file name, colour, shape, caption)
IMAGES = [
    ("red_apple.png", (210, 30, 40), "circle", "a red apple on a plain background"),
    ("green_leaf.png", (40, 160, 60), "ellipse", "a green leaf"),
    ("blue_sea.jpg", (30, 80, 200), "waves", "the blue sea under a clear sky"),
    ("yellow_sun.png", (245, 210, 40), "circle", "a bright yellow sun"),
    ("purple_flower.png", (130, 50, 160), "flower", "a purple flower"),
    ("orange_fruit.jpg", (245, 140, 30), "circle", "an orange fruit"),
]

TEXTS = [
    "Apples are red or green fruits that grow on trees.",
    "The sea looks blue because water absorbs red light.",
    "Leaves are green because of chlorophyll.",
    "The sun is a yellow star at the centre of the solar system.",
    "Lavender and violets are purple flowers.",
    "Oranges are citrus fruits rich in vitamin C.",
    "DashScope serves Qwen embedding models for text, images and video.",
    "Retrieval-augmented generation finds relevant passages before answering.",
]


def draw(colour: tuple[int, int, int], shape: str) -> Image.Image:
    img = Image.new("RGB", (64, 64), (245, 245, 245))
    pen = ImageDraw.Draw(img)
    if shape == "circle":
        pen.ellipse((8, 8, 56, 56), fill=colour)
    elif shape == "ellipse":
        pen.ellipse((4, 18, 60, 46), fill=colour)
    elif shape == "waves":
        pen.rectangle((0, 20, 64, 64), fill=colour)
    else:
        for box in ((22, 4, 42, 28), (22, 36, 42, 60), (4, 22, 28, 42), (36, 22, 60, 42)):
            pen.ellipse(box, fill=colour)
    return img


def main() -> None:
    DATA.mkdir(exist_ok=True)
    for name, colour, shape, _ in IMAGES:
        img = draw(colour, shape)
        if name.endswith(".jpg"):
            img.save(DATA / name, format="JPEG", quality=85)
        else:
            img.save(DATA / name, format="PNG", optimize=True)
    captions = {name: caption for name, _, _, caption in IMAGES}
    (DATA / "captions.json").write_text(json.dumps(captions, indent=2) + "\n")
    (DATA / "texts.json").write_text(json.dumps(TEXTS, indent=2) + "\n")


if __name__ == "__main__":
    main()
