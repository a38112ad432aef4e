"""`dl-course data download DIR` makes the offline dataset mirror from the public sources (course/mirror.py),
checked file by file. The sources are served on loopback from this machine's mirror (MNIST's official test set,
Shakespeare, the surnames) and a small CIFAR-10 release made here in the official format; the URLs are the
module's own otherwise. MNIST's sample comes out byte for byte the course's; a source with the wrong md5 is
refused, naming it; CIFAR-10's sample is accepted by the loaders through the mirror's manifest."""

import functools
import hashlib
import http.server
import io
import pickle
import shutil
import tarfile
import threading

import numpy as np
import pytest

from course import helpers, mirror


@pytest.fixture
def served(tmp_path, data_dir):
    """The public files, served on 127.0.0.1, and the SOURCES table that points at them."""
    folder = tmp_path / "public"
    folder.mkdir()
    for relative in ("mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz",
                     helpers.DATASETS["tinyshakespeare"][0], helpers.DATASETS["surnames"][0]):
        shutil.copy(data_dir / relative, folder)
    (folder / "cifar-10-python.tar.gz").write_bytes(small_cifar_release())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    sources = {key: ([url + urls[0].rsplit("/", 1)[-1]], md5) for key, (urls, md5) in mirror.SOURCES.items()}
    sources["tinyshakespeare"] = ([url + "input.txt"], sources["tinyshakespeare"][1])
    sources["surnames"] = ([url + "surnames_with_splits.csv"], sources["surnames"][1])
    sources["cifar10-release"] = ([url + "cifar-10-python.tar.gz"],
                                  hashlib.md5((folder / "cifar-10-python.tar.gz").read_bytes()).hexdigest())
    yield folder, sources
    server.shutdown()


def small_cifar_release(per_batch=6, test=4):
    """A CIFAR-10 python release in the official layout and pickle format, with few images of each class."""
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, count in [*((f"data_batch_{i}", per_batch) for i in range(1, 6)), ("test_batch", test)]:
            labels = [label for label in range(10) for _ in range(count)]
            batch = {b"data": rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8), b"labels": labels}
            data = pickle.dumps(batch)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_mirror_made_from_the_public_sources_is_the_courses_and_its_loaders_accept_it(served, tmp_path, monkeypatch):
    _, sources = served
    out = tmp_path / "mirror"
    monkeypatch.setitem(mirror.MAKERS, "cifar10",
                        lambda o, w, s=None: mirror.make_cifar10(o, w, s, per_class=(20, 4)))
    made, failed = mirror.make_mirror(out, sources=sources, log=lambda line: None)
    assert failed == {} and set(made) == {"mnist", "cifar10", "tinyshakespeare", "surnames"}
    for name in ("mnist", "tinyshakespeare", "surnames"):   # byte for byte the course's own mirror
        assert helpers.md5sum(out / helpers.DATASETS[name][0]) == helpers.DATASETS[name][1], name
    monkeypatch.setenv(helpers.DATA_ENV, str(out))
    assert helpers.mirror_file("cifar10") == out / helpers.DATASETS["cifar10"][0]   # through MANIFEST.json
    with np.load(out / helpers.DATASETS["cifar10"][0]) as sample:
        assert sample["x_train"].shape == (200, 32, 32, 3) and sample["y_test"].shape == (40, 1)
        assert np.bincount(sample["y_train"].ravel()).tolist() == [20] * 10
    (out / helpers.DATASETS["cifar10"][0]).write_bytes(b"damaged")
    with pytest.raises(helpers.DatasetError, match="corrupt: md5 .* as the mirror's MANIFEST.json records"):
        helpers.mirror_file("cifar10")


def test_a_source_whose_md5_is_wrong_is_refused_naming_the_url_and_both_md5s(served, tmp_path):
    folder, sources = served
    (folder / "input.txt").write_text("To be, or not to be: that is the answer.")
    made, failed = mirror.make_mirror(tmp_path / "mirror", names=["tinyshakespeare", "nothing"], sources=sources,
                                      log=lambda line: None)
    assert made == {}
    assert "input.txt: md5" in failed["tinyshakespeare"] and helpers.DATASETS["tinyshakespeare"][1] in failed["tinyshakespeare"]
    assert "unknown data set" in failed["nothing"]
    assert not (tmp_path / "mirror" / helpers.DATASETS["tinyshakespeare"][0]).exists()


def test_a_missing_mirror_says_how_to_make_one_and_never_repeats_the_failing_value_as_the_example(tmp_path, monkeypatch):
    monkeypatch.setenv(helpers.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(helpers.DatasetError) as error:
        helpers.data_dir()
    assert "dl-course data download DIR" in str(error.value) and "../shared/datasets" not in str(error.value)
