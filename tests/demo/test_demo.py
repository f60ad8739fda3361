"""The demo's quick path end to end (with a shorter char-LM budget to keep the suite fast)."""

from __future__ import annotations

from textlab.demo import STEPS, DemoSettings, run_demo


def test_quick_demo_runs_every_step(textlab_home):
    seen = []
    results = run_demo(DemoSettings(quick=True, device="cpu", charlm_minutes=0.1), on_result=seen.append)
    assert [r.name for r in results] == [name for name, _ in STEPS] == [r.name for r in seen]
    by_name = {r.name: r for r in results}
    assert "我 来到 北京 清华大学" in "\n".join(by_name["tokenize"].lines)
    assert "don't stop believing" in "\n".join(by_name["tokenize"].lines)
    assert any(line.startswith("neighbours of king") for line in by_name["word2vec"].lines)
    assert any(line.startswith("ROMEO:") for line in by_name["char LSTM"].lines)
    sentiment = by_name["sentiment"].lines
    assert sentiment[0].startswith("positive") and sentiment[1].startswith("negative")
    assert sentiment[2].startswith("positive") and sentiment[3].startswith("negative")
    assert not (textlab_home / "models").exists() or not any((textlab_home / "models").iterdir())


def test_demo_cli_help(cli):
    result = cli("demo", "--help")
    assert result.exit_code == 0 and "--quick" in result.stdout
