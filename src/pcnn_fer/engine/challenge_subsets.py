"""The challenge subsets by name, as `pcnn-fer eval --subset NAME=LIST[,LABELS]` names them.

Nothing heavy is imported here, so that the command line can list the names in its help; the list readers
(pcnn_fer.data.subsets, which need NumPy) are imported when a subset is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pcnn_fer.data.subsets import ChallengeSubset

# name -> (reader in pcnn_fer.data.subsets, how many list files, extra arguments)
SUBSETS = {
    "occlusion-rafdb": ("occlusion_rafdb", 1, ()),
    "pose30-rafdb": ("pose_rafdb", 2, ("30",)),
    "pose45-rafdb": ("pose_rafdb", 2, ("45",)),
    "occlusion-ferplus": ("occlusion_ferplus", 1, ()),
    "pose30-ferplus": ("pose_ferplus", 1, ("30",)),
    "pose45-ferplus": ("pose_ferplus", 1, ("45",)),
    "occlusion-affectnet": ("affectnet_list", 1, ("occlusion", "occlusion")),
    "pose30-affectnet": ("affectnet_list", 1, ("pose", "30")),
    "pose45-affectnet": ("affectnet_list", 1, ("pose", "45")),
}


def read_subset(spec: str) -> tuple[str, ChallengeSubset]:
    """The subset a `NAME=LIST[,LABELS]` spec names, with its list file(s) read and checked."""
    from pcnn_fer.data import subsets

    name, sep, files = spec.partition("=")
    if not sep or name not in SUBSETS:
        raise ValueError(f"--subset expects NAME=LIST[,LABELS] with NAME one of {', '.join(SUBSETS)}; got {spec!r}")
    reader, count, extra = SUBSETS[name]
    paths = [Path(p) for p in files.split(",")]
    if len(paths) != count:
        raise ValueError(f"--subset {name} takes {count} file(s) separated by a comma, got {len(paths)}")
    return name, getattr(subsets, reader)(*paths, *extra)
