"""Lines for the user print data as it is: a path or word holding rich markup (``[bold]``,
``[red]``) or an emoji code (``:smile:``) passes through messages, warnings, errors and
progress bars unchanged."""

from __future__ import annotations

from textlab.runtime.output import say
from textlab.runtime.progress import ProgressBar

MARKUP = "[bold]x[/bold] [red]:smile:"


def test_say_prints_markup_as_text(capsys):
    say(f"skipped {MARKUP}/a.csv", style="yellow")
    assert capsys.readouterr().err == f"skipped {MARKUP}/a.csv\n"


def test_messages_and_errors_name_such_a_path_unchanged(cli, tmp_path):
    folder = tmp_path / "[bold]x[/bold]"  # two directories, "[bold]x[" and "bold]"
    folder.mkdir(parents=True)
    corpus = folder / "[red]corpus.txt"
    corpus.write_text("a b a\nb a c\n", encoding="utf-8")
    out = folder / "[red]vocab.tsv"
    result = cli("vocab", "build", str(corpus), "--min-count", "1", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert f"wrote {out}: " in result.stderr
    again = cli("vocab", "build", str(corpus), "--min-count", "1", "-o", str(out))  # exists: refused by name
    assert again.exit_code != 0 and again.stderr.startswith("textlab: error: ") and str(out) in again.stderr


def test_a_progress_bar_shows_its_description_as_text(capsys, monkeypatch):
    monkeypatch.delenv("TEXTLAB_NO_PROGRESS", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    with ProgressBar(total=2, description=f"download {MARKUP}", unit="B") as bar:
        bar.update(advance=2)
    assert f"download {MARKUP}" in capsys.readouterr().err
