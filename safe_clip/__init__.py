"""safe_clip: SAFE / SAFE-A few-shot CLIP adaptation, and the CoOp-style baselines, as Dassl trainers.

The library is plain PyTorch; `safe_clip.dassl` is the seam to Dassl (real or built-in), and `extend_cfg` adds
every config node the project's trainers and datasets read.
"""
from safe_clip.config import extend_cfg

__version__ = "0.1.0"

__all__ = ["extend_cfg", "__version__"]
