"""Installs the `safe_clip` library and its runtime dependencies.

Only `safe_clip` is installed: the CoOp-style `trainers/` and `datasets/` folders stay at the repository root, as in
CoOp, and are imported from there by `train.py` (a top-level `datasets` package would shadow Hugging Face's).
"""
from setuptools import find_packages, setup

setup(
    name="safe-clip",
    version="0.1.0",
    description="SAFE / SAFE-A few-shot CLIP adaptation as Dassl trainers in a CoOp-style suite",
    python_requires=">=3.9",
    packages=find_packages(include=["safe_clip", "safe_clip.*"]),
    install_requires=[
        "torch>=2.0",
        "torchvision",
        # clip-anytorch imports pkg_resources, which setuptools 81 removed.
        "setuptools<81",
        "clip-anytorch>=2.5",
        "yacs",
        "PyYAML",
        "tabulate",
        "gdown",
        "tqdm",
        "scikit-learn",
        "numpy",
        "Pillow",
    ],
    extras_require={
        "test": ["pytest"],
        "plots": ["matplotlib"],
        "tensorboard": ["tensorboard"],
    },
)
