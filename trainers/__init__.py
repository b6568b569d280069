"""Every trainer of the suite; importing this package registers them all in Dassl's TRAINER_REGISTRY."""
from trainers import zsclip  # noqa: F401
from trainers import safe, safe_a  # noqa: F401,E402
from trainers import clip_adapter, coop, linear_probe, tip_adapter  # noqa: F401,E402
