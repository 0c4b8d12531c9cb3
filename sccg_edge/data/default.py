"""Where the default paired data comes from: the real shared pairs when present, else the embedded phantom.

The real co-registered pairs live outside the repository (``../shared/data/brain-ct-mr-pairs``, or the folder
named by ``$SCCG_SHARED_DATA``). On a machine without them, a SYNTHETIC phantom data set is generated once into a
cache folder (``$SCCG_CACHE_DIR`` or ``~/.cache/sccg-edge``) and reused.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sccg_edge.data.phantom import write_phantom_dataset
from sccg_edge.errors import InputError
from sccg_edge.utils.fs import CACHE_ENV, cache_dir  # noqa: F401 - CACHE_ENV re-exported (tests, callers)

SHARED_PAIRS_ENV = "SCCG_SHARED_DATA"
PAIRS_SUBDIR = "brain-ct-mr-pairs"
PHANTOM_VERSION = "v1"

log = logging.getLogger(__name__)


def _is_pairs_folder(path: Path) -> bool:
    return (path / "ct").is_dir() and (path / "mr").is_dir()


def find_shared_pairs() -> Path | None:
    """The folder of real CT/MR pairs, if this machine has one.

    Looks at ``$SCCG_SHARED_DATA/brain-ct-mr-pairs`` alone when that variable is set (so pointing it at a folder
    without pairs means "no real data here"), else at ``../shared/data/brain-ct-mr-pairs`` relative to the
    current working directory and to the repository holding this package. A candidate counts only when it has
    both ``ct/`` and ``mr/`` sub-folders.

    Returns:
        The resolved folder, or None when none exists.
    """
    candidates = []
    env = os.environ.get(SHARED_PAIRS_ENV)
    if env:
        candidates.append(Path(env).expanduser() / PAIRS_SUBDIR)
    else:
        repo = Path(__file__).resolve().parents[2]
        for root in (Path.cwd(), repo):
            candidates.append(root.parent / "shared" / "data" / PAIRS_SUBDIR)
    for candidate in candidates:
        if _is_pairs_folder(candidate):
            return candidate.resolve()
    return None


def display_path(path: Path | str) -> str:
    """``path`` as reports and cards name it: relative to the repository (``../shared/data/...``, ``runs/x``) when it
    lies in or beside it, ``~/...`` under the home folder, else as given; never another machine's absolute path
    when a relative one exists."""
    path = Path(path).expanduser()
    full = path.resolve() if path.exists() else path.absolute()
    repo = Path(__file__).resolve().parents[2]
    for base, prefix in ((repo, ""), (repo.parent, "../")):
        if full.is_relative_to(base):
            return prefix + str(full.relative_to(base)) if full != base else "."
    home = Path.home().resolve()
    if full.is_relative_to(home):
        return "~/" + str(full.relative_to(home))
    return str(path)


def phantom_cache_path(size: int = 256, patients: int = 4, seed: int = 0) -> Path:
    """The cache folder of the phantom data set with these parameters (it may not exist yet)."""
    return cache_dir() / f"phantom-{PHANTOM_VERSION}-{size}-{patients}-{seed}"


def ensure_phantom(size: int = 256, patients: int = 4, seed: int = 0, slices: int = 24) -> Path:
    """Generate the phantom data set into the cache unless it is already there; return its folder.

    Generation is atomic (a complete folder appears at once), so a folder with a README.txt is complete; if
    another process finishes first, its folder is used.
    """
    path = phantom_cache_path(size, patients, seed)
    if slices != 24:
        path = path.with_name(f"{path.name}-{slices}")
    if (path / "README.txt").is_file():
        return path
    log.info("generating the SYNTHETIC phantom data set into %s", path)
    try:
        write_phantom_dataset(path, patients=patients, size=size, seed=seed, slices=slices)
    except InputError:
        if not (path / "README.txt").is_file():  # not a concurrent generator's complete result
            raise
    return path


def default_pairs_root(prefer_shared: bool = True, *, size: int = 256, patients: int = 4,
                       seed: int = 0) -> tuple[Path, str]:
    """The default paired data set: real shared pairs if present (and preferred), else the cached phantom.

    Args:
        prefer_shared: use the real pairs when found; False always gives the phantom.
        size: phantom image size.
        patients: phantom patients.
        seed: phantom seed.

    Returns:
        (folder, description). The real pairs are ``ct/NNNSS.png`` + ``mr/NNNSS.png``; the phantom is DICOM,
        ``<patient>/ct/NNN.dcm`` + ``<patient>/mr/NNN.dcm``. The description says which, and says SYNTHETIC for
        the phantom.
    """
    if prefer_shared:
        shared = find_shared_pairs()
        if shared is not None:
            return shared, f"real brain CT/MR pairs (PNG) at {display_path(shared)}"
    path = ensure_phantom(size=size, patients=patients, seed=seed)
    log.warning("using the SYNTHETIC phantom data set at %s (not real patients)", path)
    return path, (f"SYNTHETIC digital brain phantom (DICOM, {patients} patients, {size}x{size}, seed {seed}) "
                  f"at {display_path(path)}")


def describe_folder(root: Path) -> str:
    """What a user-given data folder holds, named by a relative path: the SYNTHETIC phantom (its README says so)
    or paired data."""
    readme = Path(root) / "README.txt"
    if readme.is_file() and "SYNTHETIC" in readme.read_text(errors="replace"):
        return f"SYNTHETIC digital brain phantom at {display_path(root)}"
    return f"paired data at {display_path(root)}"
