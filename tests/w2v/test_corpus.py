"""Corpus → id file (cached): vocabulary pruning, sentences, the format's checks, reuse and
re-encoding, memory that does not grow with the corpus."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest

from textlab.errors import DataError
from textlab.text import TokenizerOptions
from textlab.w2v import corpus as corpus_module
from textlab.w2v import idfile
from textlab.w2v.corpus import encode_corpus
from textlab.w2v.saving import default_name

NONE = TokenizerOptions(lang="none")


def quiet(line: str) -> None:
    pass


def test_encode_prunes_and_keeps_sentences(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c rare\n\nonce\nb c a a\n")
    corpus = encode_corpus(path, NONE, min_count=2, log=quiet)
    assert corpus.vocab.words == ["a", "c", "b"]  # by descending count (ties as gensim); no specials
    assert corpus.vocab.counts.tolist() == [3, 2, 2]
    assert corpus.sentences() == [[0, 2, 1], [2, 1, 0, 0]]  # "once" alone left an empty sentence: dropped
    assert corpus.num_words == 7 and corpus.raw_tokens == 9
    raw = corpus.read(0, corpus.num_positions)
    assert raw.dtype == np.uint16 and raw.tolist() == [0, 2, 1, 65535, 2, 1, 0, 0, 65535]
    limited = encode_corpus(path, NONE, min_count=1, max_vocab=2, log=quiet)
    assert limited.vocab.words == ["a", "c"]


def test_worker_threads_reading_at_once_share_one_handle(tmp_path, monkeypatch):
    """Hogwild workers make their first read together; a slow open() widens the moment at which
    two of them could each open the file (the loser's handle was then collected and closed
    under its read: EBADF, seen once in CI)."""
    import builtins
    import threading
    import time

    path = tmp_path / "c.txt"
    path.write_text("a b c a b\n" * 200)
    corpus = encode_corpus(path, NONE, min_count=1, log=quiet)
    file = idfile.open_id_file(corpus.file.path)
    opened = []

    def slow_open(*args, **kwargs):
        handle = builtins.open(*args, **kwargs)
        opened.append(handle)
        time.sleep(0.05)
        return handle

    monkeypatch.setattr(idfile, "open", slow_open, raising=False)
    start = threading.Barrier(4)
    results, errors = [], []

    def read():
        start.wait()
        try:
            results.append(file.read(0, file.positions).tolist())
        except Exception as exc:  # noqa: BLE001 (the test reports it)
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(opened) == 1
    assert all(r == results[0] for r in results) and len(results) == 4


def test_one_huge_line_is_cut_into_sentences(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_module, "MAX_SENTENCE", 100)
    path = tmp_path / "text8-like.txt"
    path.write_text(" ".join(f"w{i % 50}" for i in range(1050)))  # no newline at all
    corpus = encode_corpus(path, NONE, min_count=1, log=quiet)
    assert corpus.num_words == 1050
    assert [len(s) for s in corpus.sentences()] == [100] * 10 + [50]


def test_default_names():
    assert default_name("text8", "skipgram") == "w2v-text8-skipgram"
    assert default_name("../data/hongloumeng.txt.gz", "cbow") == "w2v-hongloumeng-cbow"


def test_vocabulary_order_is_gensims(tmp_path):
    from gensim.models import Word2Vec as GensimWord2Vec
    from gensim.models.word2vec import LineSentence

    path = tmp_path / "ties.txt"
    path.write_text("z y z y x\nb a c a b c d e e q\n")
    corpus = encode_corpus(path, NONE, min_count=1, log=quiet)
    theirs = GensimWord2Vec(min_count=1, vector_size=4)
    theirs.build_vocab(LineSentence(str(path)))
    assert corpus.vocab.words == theirs.wv.index_to_key


def test_pieces_do_not_change_the_result(tmp_path, monkeypatch):
    path = tmp_path / "c.txt"
    path.write_text("a b c rare\n\nonce\nb c a a\nc\nrare2 a b\n")
    whole = encode_corpus(path, NONE, min_count=2, cache=False, log=quiet)
    monkeypatch.setattr(corpus_module, "PIECE_TOKENS", 3)
    pieces = encode_corpus(path, NONE, min_count=2, cache=False, log=quiet)
    assert pieces.sentences() == whole.sentences() == [[0, 2, 1], [2, 1, 0, 0], [1], [0, 2]]  # a=0 c=1 b=2


def test_large_vocabularies_use_uint32(tmp_path, monkeypatch):
    assert idfile.dtype_for(65534) == "uint16" and idfile.dtype_for(65535) == "uint32"
    monkeypatch.setattr(idfile, "dtype_for", lambda size: "uint32")
    path = tmp_path / "c.txt"
    path.write_text("a b b\nc a\n")
    corpus = encode_corpus(path, NONE, min_count=1, log=quiet)
    assert corpus.read(0, corpus.num_positions).dtype == np.uint32
    assert corpus.separator == 2**32 - 1 and corpus.sentences() == [[1, 0, 0], [2, 1]]


def test_second_run_reuses_the_id_file_and_changes_re_encode(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c a b a\n" * 20)
    lines: list[str] = []
    first = encode_corpus(path, NONE, min_count=1, log=lines.append)
    assert not first.reused and first.file.path.parent == corpus_module.cache_dir()
    second = encode_corpus(path, NONE, min_count=1, log=lines.append)
    assert second.reused and second.file.path == first.file.path and "encoding skipped" in lines[-1]
    assert second.sentences() == first.sentences()
    # another tokenizer setting, another min count, or a changed corpus: a new encoding
    assert not encode_corpus(path, TokenizerOptions(lang="none", lowercase=False), min_count=1, log=quiet).reused
    assert not encode_corpus(path, NONE, min_count=2, log=quiet).reused
    path.write_text("a b c a b a\n" * 21)
    changed = encode_corpus(path, NONE, min_count=1, log=quiet)
    assert not changed.reused and changed.num_words == 6 * 21


def test_resume_reads_the_first_runs_id_file(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c a b a d\n" * 20)
    first = encode_corpus(path, NONE, min_count=2, log=quiet)
    lines: list[str] = []
    again = encode_corpus(path, NONE, min_count=2, vocab=first.vocab, log=lines.append)  # what --resume does
    assert again.reused and again.file.path == first.file.path and "encoding skipped" in lines[-1]
    other = encode_corpus(path, NONE, min_count=1, vocab=first.vocab, log=quiet)  # another min count: its own file
    assert other.file.path != first.file.path and other.sentences() == first.sentences()


@pytest.mark.parametrize("damage", ["truncate", "foreign", "header"])
def test_a_damaged_or_foreign_id_file_is_refused_and_rebuilt(tmp_path, damage):
    path = tmp_path / "c.txt"
    path.write_text("a b c a b a\n" * 20)
    first = encode_corpus(path, NONE, min_count=1, log=quiet)
    target = first.file.path
    data = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(data[:-3])
    elif damage == "foreign":
        target.write_bytes(b"PK\x03\x04 not an id file" + data[20:])
    else:  # a header that claims another length
        target.write_bytes(data[:8] + struct.pack("<Q", 10**12) + data[16:])
    with pytest.raises(DataError) as info:
        idfile.open_id_file(target)
    assert "\n" not in str(info.value)
    lines: list[str] = []
    again = encode_corpus(path, NONE, min_count=1, log=lines.append)
    assert lines[0].startswith("refusing the cached id file:") and "encoding the corpus again" in lines[0]
    assert not again.reused and again.sentences() == first.sentences()
    assert idfile.open_id_file(target).words == first.num_words


def test_no_cache_leaves_a_file_the_caller_removes(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c\n")
    corpus = encode_corpus(path, NONE, min_count=1, cache=False, log=quiet)
    assert corpus.file.path.name.startswith("uncached-") and not corpus.reused
    assert not encode_corpus(path, NONE, min_count=1, cache=False, log=quiet).reused


def _zipf_corpus(path, words: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.3, size=words), 2000)
    with open(path, "w") as out:
        for start in range(0, words, 1000):
            out.write(" ".join(f"w{r}" for r in ranks[start:start + 1000]) + "\n")


# VmHWM, not ru_maxrss: Linux carries the maxrss of the forked parent (pytest) across exec.
ENCODE_PEAK = """
import sys
from textlab.text import TokenizerOptions
from textlab.w2v.corpus import encode_corpus
corpus = encode_corpus(sys.argv[1], TokenizerOptions(lang="none"), min_count=1, cache=False, log=lambda line: None)
ids = corpus.read(0, 1 << 17)
peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(corpus.num_words, peak)
"""


def test_encoding_memory_does_not_grow_with_the_corpus(tmp_path):
    """Peak RSS of a process that encodes 1M vs 5M words of the same vocabulary: the ids go to
    disk (the old in-memory int32 array would have added 16 MB)."""
    import subprocess
    import sys

    peaks = []
    for words in (1_000_000, 5_000_000):
        path = tmp_path / f"zipf{words}.txt"
        _zipf_corpus(path, words)
        proc = subprocess.run([sys.executable, "-c", ENCODE_PEAK, str(path)], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        count, peak_kb = map(int, proc.stdout.split())
        os.unlink(next(corpus_module.cache_dir().glob("uncached-*.ids")))
        assert count == words
        peaks.append(peak_kb)
        path.unlink()
    assert peaks[1] < peaks[0] + 5 * 1024, peaks  # kB: 5x the words, at most 5 MB more
