"""`python -m evaluation`: summary on success, one-line error and a non-zero exit on bad input."""
from evaluation.__main__ import main


def test_cli_scores_with_either_tool(tmp_path, capsys):
    (tmp_path / "r.stm").write_text("v1 1 s 0.0 1.79769e+308 A B C D\n", encoding="utf-8")
    (tmp_path / "h.ctm").write_text("v1 1 0.00 0.01 A\nv1 1 0.01 0.02 A\nv1 1 0.02 0.03 B\nv1 1 0.03 0.04 X\n",
                                    encoding="utf-8")
    files = ["--hyp", str(tmp_path / "h.ctm"), "--ref", str(tmp_path / "r.stm")]
    # python: the repeat merges away, A B X vs A B C D -> S(C->X) + D(D)
    assert main(files) == 0
    assert ("WER 50.00% (sub 25.00%, del 25.00%, ins 0.00%) over 1 sentences, 4 words [official python scorer]"
            in capsys.readouterr().out)
    # sclite: A A B X vs A B C D -> I(A) + S(C->X) + D(D)
    assert main(files + ["--tool", "sclite"]) == 0
    assert ("WER 75.00% (sub 25.00%, del 25.00%, ins 25.00%) over 1 sentences, 4 words [sclite"
            in capsys.readouterr().out)


def test_cli_reports_bad_line_and_exits_1(tmp_path, capsys):
    (tmp_path / "r.stm").write_text("v1 1 s 0.0 1.79769e+308 A\n", encoding="utf-8")
    (tmp_path / "h.ctm").write_text("v1 1 0.00 A\n", encoding="utf-8")
    code = main(["--hyp", str(tmp_path / "h.ctm"), "--ref", str(tmp_path / "r.stm")])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.startswith("error: ") and "h.ctm:1:" in err and "\n" not in err
