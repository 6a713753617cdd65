from miniastrolm.text import plain_text, unwrap


def test_unwrap_joins_hard_breaks_and_spaces():
    assert unwrap("  A line\n  broken\tin   places \r\n") == "A line broken in places"
    assert unwrap("Already clean.") == "Already clean."


def test_plain_text_renders_tex_for_people():
    text = plain_text(r"About $10^{12}\,M_\odot$ at $z\sim2$, see Schr\"odinger and 50\% of \emph{all}.")
    assert "$" not in text and "\\" not in text
    assert "10^12" in text and "⊙" in text and "Schrödinger" in text and "50%" in text and "all" in text


def test_plain_text_survives_broken_tex():
    assert plain_text("unbalanced $x^{2") == "unbalanced x^2"  # the unclosed group and math mode are dropped
    assert plain_text(r"unbalanced $x^{2} and \emph{open") == "unbalanced x^2 and open"
