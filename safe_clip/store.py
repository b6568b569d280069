"""The feature store: outputs of the frozen image encoder, computed once per (encoder weights, image, transform
view) and reused across epochs, seeds, shot counts and trainers.

SAFE stores the trunk's dense maps (what the tuned pooling layer reads); the baselines store pooled features f0.
Both are "stages" of the same frozen encoder, so one mechanism serves both. An entry's key covers everything that
shapes it: the stage's weights (hashed), the stage name and dtype, the image file (real path, size, mtime), the
transform (its repr: sizes, scales, interpolation, normalisation), the view index and the stored precision.

Training images get several augmented views; view v of an image is drawn with an RNG seeded from (image,
transform, v), so it is the same view in every run that asks for it, whatever the run's seed or worker count.

On disk each entry is one file written atomically; in memory (`directory=None`) entries live for the run only.
"""
from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
from PIL import Image, UnidentifiedImageError
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from safe_clip.errors import UserError
from safe_clip.io import atomic_torch_save

STORE_DIR_VARIABLE = "SAFE_CLIP_CACHE"

Transform = Callable[[Image.Image], torch.Tensor]


def default_store_dir() -> Path:
    return Path(os.environ.get(STORE_DIR_VARIABLE, "~/.cache/safe_clip/store")).expanduser()


def resolve_store_dir(setting: str) -> Optional[Path]:
    """STORE.DIR: "" = the default folder, "none" = memory only, anything else = that folder."""
    if setting.strip().lower() == "none":
        return None
    return Path(setting).expanduser() if setting else default_store_dir()


def _sha256(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def module_fingerprint(module: nn.Module) -> str:
    """Hash of a module's parameters and buffers (names, dtypes, shapes, values): equal iff the weights are."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def image_fingerprint(path: str) -> str:
    try:
        stat = os.stat(path)
    except FileNotFoundError as error:
        raise UserError(f"image not found: {path}; check the dataset folder and its split file") from error
    return f"{os.path.realpath(path)}|{stat.st_size}|{stat.st_mtime_ns}"


def read_rgb_image(path: str) -> Image.Image:
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError) as error:
        raise UserError(f"cannot read image {path} ({error}); replace or remove the file") from error


@dataclass(frozen=True)
class ViewRequest:
    """One store entry to have: an image under a transform, as view number `view` (0 for a deterministic one)."""

    impath: str
    key: str
    view: int
    seed: int


class TensorStore:
    """Key -> tensor entries under `directory/namespace`, or in memory when `directory` is None."""

    def __init__(self, directory: Optional[Path], namespace: str, dtype: torch.dtype = torch.float16):
        self.directory = directory / namespace[:32] if directory is not None else None
        self.namespace = namespace
        self.dtype = dtype
        self._memory: dict[str, torch.Tensor] = {}

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}.pt"

    def contains(self, key: str) -> bool:
        if key in self._memory:
            return True
        return self.directory is not None and self._path(key).is_file()

    def get(self, key: str) -> torch.Tensor:
        if key in self._memory:
            return self._memory[key]
        return torch.load(self._path(key), map_location="cpu", weights_only=True)

    def put(self, key: str, tensor: torch.Tensor) -> None:
        tensor = tensor.detach().to("cpu", self.dtype).contiguous().clone()
        if self.directory is None:
            self._memory[key] = tensor
        else:
            atomic_torch_save(tensor, self._path(key))

    def entry_key(self, image_key: str, transform_key: str, view: int) -> str:
        return _sha256(self.namespace, image_key, transform_key, str(view), str(self.dtype))


def view_requests(
    store: TensorStore, impaths: Sequence[str], transform: Transform, views: int
) -> list[list[ViewRequest]]:
    """Per image, the requests for views 0..views-1 of `transform` (views=1 for a deterministic test transform)."""
    transform_key = repr(transform)
    requests = []
    for impath in impaths:
        image_key = image_fingerprint(impath)
        per_image = []
        for view in range(views):
            key = store.entry_key(image_key, transform_key, view)
            per_image.append(ViewRequest(impath=impath, key=key, view=view, seed=int(key[:15], 16)))
        requests.append(per_image)
    return requests


class _ViewImages(Dataset):
    """The transformed images of `requests`; each one is drawn under its own seed, so workers don't matter."""

    def __init__(self, requests: Sequence[ViewRequest], transform: Transform):
        self.requests = list(requests)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.requests)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor]:
        request = self.requests[index]
        image = read_rgb_image(request.impath)
        return index, draw_view(self.transform, image, request.seed)


def draw_view(transform: Transform, image: Image.Image, seed: int) -> torch.Tensor:
    """`transform(image)` with torch's and Python's RNGs seeded by `seed`, leaving the callers' RNGs untouched."""
    python_state = random.getstate()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            random.seed(seed)
            return transform(image)
    finally:
        random.setstate(python_state)


@torch.no_grad()
def fill_store(
    store: TensorStore,
    requests: Sequence[ViewRequest],
    transform: Transform,
    encoder: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device,
    batch_size: int,
    num_workers: int = 0,
    description: str = "Filling the feature store",
) -> int:
    """Computes and stores every request not already stored; returns how many images went through `encoder`."""
    missing = [request for request in requests if not store.contains(request.key)]
    if not missing:
        return 0
    # A private generator: creating a loader iterator draws a seed, and a cold store must leave the global RNG
    # exactly as a warm one does, or seeded runs would differ depending on what was cached.
    loader = DataLoader(
        _ViewImages(missing, transform), batch_size=batch_size, shuffle=False, num_workers=num_workers,
        generator=torch.Generator(),
    )
    for indices, images in tqdm(loader, desc=description, unit="batch"):
        outputs = encoder(images.to(device))
        for index, output in zip(indices.tolist(), outputs):
            store.put(missing[index].key, output)
    return len(missing)


class StoredViews(Dataset):
    """Dassl-style batch items over stored entries: `img` is one stored view of item `index` (a random view per
    access when there are several, drawn from torch's global RNG so seeded runs repeat), `label` its label."""

    def __init__(
        self,
        store: TensorStore,
        requests: Sequence[Sequence[ViewRequest]],
        labels: Sequence[int],
        impaths: Sequence[str],
        preload: bool,
    ):
        self.store = store
        self.keys = [[request.key for request in per_item] for per_item in requests]
        self.labels = list(labels)
        self.impaths = list(impaths)
        self.preloaded: Optional[torch.Tensor] = None
        if preload:
            self.preloaded = torch.stack([torch.stack([store.get(key) for key in keys]) for keys in self.keys])

    def __len__(self) -> int:
        return len(self.keys)

    def view_count(self) -> int:
        return len(self.keys[0]) if self.keys else 0

    def load(self, index: int, view: int) -> torch.Tensor:
        if self.preloaded is not None:
            return self.preloaded[index, view]
        return self.store.get(self.keys[index][view])

    def __getitem__(self, index: int) -> dict:
        views = len(self.keys[index])
        view = int(torch.randint(views, ()).item()) if views > 1 else 0
        return {
            "img": self.load(index, view).float(),
            "label": self.labels[index],
            "impath": self.impaths[index],
            "index": index,
        }

    def all_views(self, index: int) -> torch.Tensor:
        """[views, ...] fp32 entries of item `index`."""
        return torch.stack([self.load(index, view) for view in range(len(self.keys[index]))]).float()

    def tensors(self, device: Optional[torch.device] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Every entry at once: ([items, views, ...] fp32, [items] labels), on `device`."""
        if self.preloaded is not None:
            entries = self.preloaded.float()
        else:
            entries = torch.stack([self.all_views(index) for index in range(len(self))])
        return entries.to(device), torch.tensor(self.labels, dtype=torch.long, device=device)


def entry_bytes(store: TensorStore, request: ViewRequest) -> int:
    tensor = store.get(request.key)
    return tensor.numel() * tensor.element_size()


def check_views(views: int, key: str, minimum: int = 0, reason: str = "") -> None:
    """A UserError unless `views` (the config value `key`) is at least `minimum`; 0 means "no store"."""
    if views >= minimum:
        return
    if minimum <= 0:
        raise UserError(f"{key} is {views}; use 0 (no store) or a positive number of views")
    raise UserError(f"{reason or 'this trainer needs stored views'}: set {key} to {minimum} or more")
