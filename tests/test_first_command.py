"""README's first command, the one a new user runs in a fresh clone: what it writes there is ignored by git, and
what it installs is told before it, with the CPU-only alternative right after."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _first_command() -> tuple[str, str, str]:
    """(README before the first command, the command, README after it up to the next command)."""
    readme = (ROOT / "README.md").read_text()
    before, command, after = re.split(r"```bash\n(.*?)```", readme, maxsplit=1, flags=re.DOTALL)
    return before, command, after.split("```", 1)[0]


def test_what_the_first_command_writes_into_the_clone_is_ignored_by_git(skip_unless_ci):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        skip_unless_ci("not a git clone: git cannot say what it ignores")
    _, command, _ = _first_command()
    written = [re.search(pattern, command).group(1)
               for pattern in (r"fetch sample-photos (\S+)", r"--annotate (\S+)", r"--output (\S+)")]
    photos, annotated, records = written
    # Paths inside the folders: git matches folder patterns on what the folders hold.
    for path in (f"{photos}/single_face.jpg", f"{annotated}/single_face.jpg", records,
                 f"{annotated}/single_face.partial.mp4", records.replace(".", ".partial.", 1)):
        checked = subprocess.run(["git", "check-ignore", "--no-index", "--quiet", path], cwd=ROOT)
        assert checked.returncode == 0, f"{path} is not ignored by .gitignore"


def test_the_download_size_comes_before_the_first_command_and_the_cpu_only_build_right_after():
    before, command, after = _first_command()
    assert "torch==" in command
    introduction = before.strip().rsplit("\n\n", 1)[-1]
    assert re.search(r"\d+(\.\d+)? GB", introduction), introduction
    pinned = re.search(r"torch==\S+ torchvision==\S+", command).group(0)
    assert f"python3 -m pip install {pinned} --index-url https://download.pytorch.org/whl/cpu" in after
