"""The offline dataset mirror, made from the public sources: `dl-course data download DIR`.

The loaders of `course.helpers` read a mirror when `$COURSE_DATA_DIR` names one (the test suite and machines
without internet do), checking every file against its md5. This module makes such a mirror anywhere there is
internet, from the data sets' public sources, each download checked against its own md5 first:

| mirror file | made from | checked against |
| --- | --- | --- |
| `mnist/mnist-sample.npz` | the official MNIST test set (`t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`), shuffled with `numpy.random.default_rng(0)`, split 8,000 / 2,000, `np.savez_compressed` | the course's md5 (`helpers.DATASETS`): the same bytes |
| `mnist/t10k-*.gz` | the official files themselves | their md5s |
| `tinyshakespeare/input.txt` | `helpers.SHAKESPEARE_URL` | the course's md5 |
| `surnames/surnames_with_splits.csv` | `helpers.SURNAMES_URL` | the course's md5 |
| `cifar10/cifar10-sample.npz` | the official CIFAR-10 python release: the first 1,000 training and 200 test images of each class in the release's order, each split shuffled with `default_rng(0)` | the release's md5; the sample's own md5 is written to `MANIFEST.json` |

The course's own mirror decoded its CIFAR-10 sample from a JPEG export of the data set, whose bytes no public
source reproduces; a mirror made here holds the same images from the official release instead (without the JPEG
artefacts), recorded in the mirror's `MANIFEST.json`, which the loaders accept for that file
(`helpers.MIRROR_MANIFEST`). Everything else is byte for byte the course's.
"""

from __future__ import annotations

import gzip
import json
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course.helpers import DATASETS, MIRROR_MANIFEST, SHAKESPEARE_URL, SURNAMES_URL, md5sum

# The public sources: where each file can be downloaded (tried in turn) and its md5.
SOURCES = {
    "mnist-images": (["https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz",
                      "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz"],
                     "9fb629c4189551a2d022fa330f9573f3"),
    "mnist-labels": (["https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz",
                      "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz"],
                     "ec29112dd5afa0611ce80d1b7f02629c"),
    "cifar10-release": (["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"], "c58f30108f718f92721af3b95e74349a"),
    "tinyshakespeare": ([SHAKESPEARE_URL], DATASETS["tinyshakespeare"][1]),
    "surnames": ([SURNAMES_URL], DATASETS["surnames"][1]),
}
MNIST_TRAIN = 8000              # of the 10,000 official test images; the rest are the sample's test split
CIFAR_PER_CLASS = (1000, 200)   # training and test images of each class in the sample


class MirrorError(RuntimeError):
    """A data set of the mirror could not be made, and why (the source, the md5 that failed)."""


@dataclass
class Made:
    name: str
    path: Path
    md5: str
    note: str = ""


def download(key, folder, sources=None):
    """A public file, downloaded into `folder` and checked against its md5; MirrorError naming every URL tried."""
    urls, md5 = (sources or SOURCES)[key]
    problems = []
    for url in urls:
        target = Path(folder, url.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or key)
        try:
            with urllib.request.urlopen(url, timeout=120) as response, open(target, "wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as error:
            problems.append(f"{url}: {error}")
            continue
        got = md5sum(target)
        if got == md5:
            return target
        problems.append(f"{url}: md5 {got}, expected {md5}")
    raise MirrorError(f"{key}: no source gave the file with md5 {md5} ({'; '.join(problems)})")


def make_mnist(out, work, sources=None):
    images, labels = download("mnist-images", work, sources), download("mnist-labels", work, sources)
    with gzip.open(images) as handle:
        x = np.frombuffer(handle.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(labels) as handle:
        y = np.frombuffer(handle.read(), np.uint8, offset=8)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    folder = Path(out, "mnist")
    folder.mkdir(parents=True, exist_ok=True)
    for source in (images, labels):
        shutil.copy(source, folder / source.name)
    target = Path(out, DATASETS["mnist"][0])
    np.savez_compressed(target, x_train=x[:MNIST_TRAIN], y_train=y[:MNIST_TRAIN], x_test=x[MNIST_TRAIN:],
                        y_test=y[MNIST_TRAIN:])
    return _checked("mnist", target)


def _per_class(x, y, count):
    picked = np.concatenate([np.flatnonzero(y == label)[:count] for label in range(10)])
    if any(np.count_nonzero(y[picked] == label) < count for label in range(10)):
        raise MirrorError(f"cifar10: the release has fewer than {count} images of a class")
    return x[np.sort(picked)], y[np.sort(picked)]


def make_cifar10(out, work, sources=None, per_class=CIFAR_PER_CLASS):
    archive = download("cifar10-release", work, sources)
    batches = {}
    with tarfile.open(archive) as tar:   # its md5 is the official release's: its pickles are the release's own
        for member in tar.getmembers():
            name = Path(member.name).name
            if name.startswith(("data_batch_", "test_batch")):
                batches[name] = pickle.load(tar.extractfile(member), encoding="bytes")

    def split(names):
        data = [batches[n] for n in sorted(names)]
        x = np.concatenate([d[b"data"] for d in data]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return x.astype(np.uint8), np.concatenate([np.asarray(d[b"labels"], np.uint8) for d in data])

    rng = np.random.default_rng(0)
    arrays = {}
    for part, names, count in (("train", [n for n in batches if n.startswith("data_batch_")], per_class[0]),
                               ("test", ["test_batch"], per_class[1])):
        x, y = _per_class(*split(names), count)
        order = rng.permutation(len(x))
        arrays[f"x_{part}"], arrays[f"y_{part}"] = x[order], y[order].reshape(-1, 1)
    target = Path(out, DATASETS["cifar10"][0])
    target.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(target, **arrays)
    made = Made("cifar10", target, md5sum(target), "from the official release (the course's mirror: a JPEG export)")
    _record(out, DATASETS["cifar10"][0], made.md5, (sources or SOURCES)["cifar10-release"][1])
    return made


def make_file(name, out, work, sources=None):
    """A data set that is one public file (Shakespeare, the surnames): downloaded, checked, put in place."""
    source = download(name, work, sources)
    target = Path(out, DATASETS[name][0])
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return _checked(name, target)


def _checked(name, target):
    got, expected = md5sum(target), DATASETS[name][1]
    if got != expected:
        raise MirrorError(f"{name}: {target} has md5 {got}, expected {expected}")
    return Made(name, target, got)


def _record(out, relative, md5, source_md5):
    path = Path(out, MIRROR_MANIFEST)
    manifest = json.loads(path.read_text()) if path.is_file() else {}
    manifest[relative] = {"md5": md5, "made from": f"cifar-10-python.tar.gz, md5 {source_md5}"}
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


MAKERS = {
    "mnist": make_mnist,
    "cifar10": make_cifar10,
    "tinyshakespeare": lambda out, work, sources=None: make_file("tinyshakespeare", out, work, sources),
    "surnames": lambda out, work, sources=None: make_file("surnames", out, work, sources),
}


def make_mirror(out, names=None, sources=None, log=print):
    """Make the mirror in `out` (the data sets named, default all); returns ({name: Made}, {name: why})."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    made, failed = {}, {}
    with tempfile.TemporaryDirectory(prefix="dl-course-data-") as work:
        for name in names or MAKERS:
            if name not in MAKERS:
                failed[name] = f"unknown data set; expected one of {', '.join(MAKERS)}"
                continue
            try:
                made[name] = MAKERS[name](out, work, sources)
            except (MirrorError, OSError, ValueError, KeyError, tarfile.TarError, pickle.UnpicklingError) as error:
                failed[name] = str(error)
                log(f"  {name}: not made: {error}")
                continue
            log(f"  {name}: {made[name].path} (md5 {made[name].md5}{', ' + made[name].note if made[name].note else ''})")
    return made, failed
